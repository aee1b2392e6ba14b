"""The rules a voucher must satisfy (jxc.domain.voucher.check_voucher): no database."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jxc.domain.errors import (
    AccountInactive,
    AccountNotLeaf,
    AccountUnknown,
    BatchInvalid,
    InvalidInput,
    MalformedVoucher,
    PartnerNotAllowed,
    PartnerRequired,
    PartnerUnknown,
    UnbalancedVoucher,
    VoucherLineInvalid,
)
from jxc.domain.voucher import AccountFacts, VoucherLine, check_voucher, voucher_label

D = Decimal
ZERO = D("0")

ACCOUNTS = {
    "1002": AccountFacts("1002", is_leaf=True, active=True, partner_aux=False),
    "5001": AccountFacts("5001", is_leaf=True, active=True, partner_aux=False),
    "1122": AccountFacts("1122", is_leaf=True, active=True, partner_aux=True),
    "2221": AccountFacts("2221", is_leaf=False, active=True, partner_aux=False),
    "1001": AccountFacts("1001", is_leaf=True, active=False, partner_aux=False),
}
PARTNERS = {"C001": 1}


def dr(account: str, amount: str, partner: str | None = None) -> VoucherLine:
    return VoucherLine(account, D(amount), ZERO, partner)


def cr(account: str, amount: str, partner: str | None = None) -> VoucherLine:
    return VoucherLine(account, ZERO, D(amount), partner)


def problems(*lines: VoucherLine) -> list:
    with pytest.raises(BatchInvalid) as err:
        check_voucher(tuple(lines), ACCOUNTS, PARTNERS)
    assert err.value.params["count"] == len(err.value.errors)
    return err.value.errors


def kinds(errors: list) -> list[type]:
    return [type(e) for e in errors]


@pytest.mark.parametrize(
    "lines",
    [
        (dr("1002", "100.00"), cr("5001", "100.00")),
        (dr("1002", "100"), cr("5001", "60.5"), cr("5001", "39.50")),
        (dr("1122", "113.00", "C001"), cr("5001", "113.00")),
        (dr("1002", "-50.00"), cr("5001", "-50.00")),  # red ink (红字) is allowed when balanced
        (dr("1002", "9999999999999999.99"), cr("5001", "9999999999999999.99")),
    ],
)
def test_valid_vouchers_pass(lines):
    assert check_voucher(lines, ACCOUNTS, PARTNERS) is None


@pytest.mark.parametrize("count", [0, 1])
def test_fewer_than_two_lines(count):
    lines = (dr("1002", "1.00"),)[:count]
    errors = problems(*lines)
    assert kinds(errors) == [MalformedVoucher]
    assert errors[0].params == {"line_count": count}


@pytest.mark.parametrize(
    "line",
    [
        VoucherLine("1002", D("1.00"), D("1.00")),  # both sides
        VoucherLine("1002", ZERO, ZERO),  # neither side
    ],
)
def test_a_line_needs_exactly_one_side(line):
    errors = problems(line, cr("5001", "1.00"))
    assert VoucherLineInvalid in kinds(errors)
    assert next(e for e in errors if isinstance(e, VoucherLineInvalid)).params == {"line": 1}


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        (D("1.005"), "input.too_many_places"),
        (D("10000000000000000.00"), "input.too_large"),
        (D("NaN"), "input.not_decimal"),
        (D("Infinity"), "input.not_decimal"),
    ],
)
def test_amount_shape_problems_name_the_field(amount, reason):
    errors = problems(cr("5001", "1.00"), VoucherLine("1002", amount, ZERO))
    bad = [e for e in errors if isinstance(e, InvalidInput)]
    assert [(e.params["field"], e.params["reason"]) for e in bad] == [("lines[2].debit", reason)]
    # The sums are not compared while a line is malformed: the difference would be noise.
    assert UnbalancedVoucher not in kinds(errors)


def test_float_amount_is_refused_as_not_decimal():
    line = VoucherLine("1002", 1.5, ZERO)  # type: ignore[arg-type]
    errors = problems(line, cr("5001", "1.50"))
    assert errors[0].params["reason"] == "input.not_decimal"


def test_missing_account_code():
    errors = problems(dr("", "1.00"), cr("5001", "1.00"))
    assert [(type(e), e.params.get("field")) for e in errors] == [(InvalidInput, "lines[1].account")]


@pytest.mark.parametrize(
    ("line", "kind", "params"),
    [
        (dr("9999", "1.00"), AccountUnknown, {"account": "9999", "line": 1}),
        (dr("2221", "1.00"), AccountNotLeaf, {"account": "2221", "line": 1}),
        (dr("1001", "1.00"), AccountInactive, {"account": "1001", "line": 1}),
        (dr("1122", "1.00"), PartnerRequired, {"account": "1122", "line": 1}),
        (dr("1122", "1.00", "C999"), PartnerUnknown, {"partner": "C999", "line": 1}),
        (dr("1002", "1.00", "C001"), PartnerNotAllowed, {"account": "1002", "partner": "C001", "line": 1}),
    ],
)
def test_each_account_rule(line, kind, params):
    errors = problems(line, cr("5001", "1.00"))
    assert kinds(errors) == [kind]
    assert errors[0].params == params


def test_unbalanced_reports_both_sums_and_difference():
    errors = problems(dr("1002", "100.00"), cr("5001", "99.99"))
    assert kinds(errors) == [UnbalancedVoucher]
    assert errors[0].params == {"debit": D("100.00"), "credit": D("99.99"), "difference": D("0.01")}


def test_every_problem_is_reported_at_once_with_line_numbers():
    errors = problems(
        dr("2221", "10.00"),  # 1: not a leaf
        dr("9999", "1.00"),  # 2: unknown
        dr("1001", "1.00"),  # 3: disabled
        dr("1122", "1.00"),  # 4: partner missing
        dr("1002", "1.00", "C001"),  # 5: partner not allowed
        cr("5001", "10.00"),  # 6: fine, but the voucher is 4.00 out of balance
    )
    assert kinds(errors) == [AccountNotLeaf, AccountUnknown, AccountInactive, PartnerRequired, PartnerNotAllowed,
                             UnbalancedVoucher]
    assert [e.params.get("line") for e in errors[:5]] == [1, 2, 3, 4, 5]
    assert errors[-1].params["difference"] == D("4.00")


def test_shape_and_account_problems_together():
    errors = problems(VoucherLine("9999", D("1.001"), ZERO), VoucherLine("1002", D("1.00"), D("2.00")))
    assert kinds(errors) == [InvalidInput, AccountUnknown, VoucherLineInvalid]
    assert errors[0].params["field"] == "lines[1].debit"
    assert errors[1].params["line"] == 1
    assert errors[2].params["line"] == 2


cents = st.integers(min_value=1, max_value=10**12).map(lambda n: D(n).scaleb(-2))


@given(st.lists(cents, min_size=1, max_size=8))
def test_any_split_of_a_debit_into_credits_balances(amounts):
    total = sum(amounts, ZERO)
    lines = (VoucherLine("1002", total, ZERO), *(VoucherLine("5001", ZERO, a) for a in amounts))
    check_voucher(lines, ACCOUNTS, PARTNERS)


@given(st.lists(cents, min_size=1, max_size=8), cents)
def test_any_extra_cent_amount_unbalances(amounts, extra):
    total = sum(amounts, ZERO)
    lines = (VoucherLine("1002", total + extra, ZERO), *(VoucherLine("5001", ZERO, a) for a in amounts))
    with pytest.raises(BatchInvalid) as err:
        check_voucher(lines, ACCOUNTS, PARTNERS)
    assert [e.params["difference"] for e in err.value.errors] == [extra]


@pytest.mark.parametrize(("word", "number", "label"), [("记", 1, "记-0001"), ("记", 123, "记-0123"),
                                                       ("收", 10000, "收-10000")])
def test_voucher_label(word, number, label):
    assert voucher_label(word, number) == label
