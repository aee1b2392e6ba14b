"""The close's rules on plain data (jxc.domain.closing): checklist verdicts, 结转损益 lines, the
year-end transfer, number gaps and the seal. No database."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jxc.domain.closing import (
    GENESIS_SEAL,
    MAX_LISTED,
    CarryLine,
    CheckStatus,
    PlBalance,
    Sealer,
    carry_lines,
    number_gaps,
    verdict,
    year_end_lines,
)

D = Decimal
PROFIT, RETAINED = 900, 901  # ids standing for 3103 本年利润 and 310404 未分配利润
REVENUE, OTHER_INCOME, COST, EXPENSE = 1, 2, 3, 4


def rev(account: int, debit: str, credit: str, partner: int | None = None) -> PlBalance:
    return PlBalance(account, partner, "credit", D(debit), D(credit))


def exp(account: int, debit: str, credit: str, partner: int | None = None) -> PlBalance:
    return PlBalance(account, partner, "debit", D(debit), D(credit))


def sides(lines: list[CarryLine]) -> tuple[Decimal, Decimal]:
    """(Σ debit amounts, Σ credit amounts), red amounts included as negatives."""
    return (sum((ln.amount for ln in lines if ln.side == 1), D(0)),
            sum((ln.amount for ln in lines if ln.side == -1), D(0)))


# --- carry_lines (结转损益) ---------------------------------------------------------------------

def test_carry_revenue_and_expenses():
    # Revenue 1190.00 (5001) and 24.00 (5301); cost 652.40 − 50.00 = 602.40 (5401); expenses 80.00.
    # Each account emptied on the side opposite its own; 3103 credited 1214.00, debited 682.40.
    lines = carry_lines([exp(EXPENSE, "80.00", "0"), rev(REVENUE, "0", "1190.00"), exp(COST, "652.40", "50.00"),
                         rev(OTHER_INCOME, "0", "24.00")], PROFIT)
    assert lines == [
        CarryLine(REVENUE, None, 1, D("1190.00")),
        CarryLine(OTHER_INCOME, None, 1, D("24.00")),
        CarryLine(COST, None, -1, D("602.40")),
        CarryLine(EXPENSE, None, -1, D("80.00")),
        CarryLine(PROFIT, None, -1, D("1214.00")),
        CarryLine(PROFIT, None, 1, D("682.40")),
    ]
    assert sides(lines) == (D("1896.40"), D("1896.40"))  # 1190.00 + 24.00 + 682.40 = 1214.00 + 602.40 + 80.00


def test_carry_red_when_a_month_went_the_other_way():
    # More returns than sales: revenue moved 100.00 to the debit side; a refund credited an expense 30.00.
    # Both are emptied in red on their usual sides, and 3103 in red too.
    lines = carry_lines([rev(REVENUE, "250.00", "150.00"), exp(EXPENSE, "10.00", "40.00")], PROFIT)
    assert lines == [
        CarryLine(REVENUE, None, 1, D("-100.00")),
        CarryLine(EXPENSE, None, -1, D("-30.00")),
        CarryLine(PROFIT, None, -1, D("-100.00")),
        CarryLine(PROFIT, None, 1, D("-30.00")),
    ]
    assert sides(lines) == (D("-130.00"), D("-130.00"))


def test_carry_skips_accounts_that_net_to_zero_and_empty_months():
    assert carry_lines([], PROFIT) == []
    assert carry_lines([rev(REVENUE, "100.00", "100.00"), exp(EXPENSE, "0", "0")], PROFIT) == []
    # Only expenses: no revenue line on 3103.
    assert carry_lines([exp(EXPENSE, "5.00", "0")], PROFIT) == [CarryLine(EXPENSE, None, -1, D("5.00")),
                                                                CarryLine(PROFIT, None, 1, D("5.00"))]
    # Only revenue: no expense line on 3103.
    assert carry_lines([rev(REVENUE, "0", "7.00")], PROFIT) == [CarryLine(REVENUE, None, 1, D("7.00")),
                                                               CarryLine(PROFIT, None, -1, D("7.00"))]


def test_carry_keeps_partners_apart_and_orders_lines():
    lines = carry_lines([rev(REVENUE, "0", "5.00", partner=8), rev(REVENUE, "0", "3.00", partner=2),
                         exp(COST, "1.00", "0")], PROFIT)
    assert [(ln.account_id, ln.partner_id) for ln in lines] == [(REVENUE, 2), (REVENUE, 8), (COST, None),
                                                                (PROFIT, None), (PROFIT, None)]
    assert lines[3] == CarryLine(PROFIT, None, -1, D("8.00"))


amounts = st.decimals(min_value=D("-100000"), max_value=D("100000"), places=2, allow_nan=False,
                      allow_infinity=False)
balances = st.lists(st.builds(PlBalance, st.integers(1, 30), st.none() | st.integers(1, 3),
                              st.sampled_from(["debit", "credit"]), amounts, amounts), max_size=12,
                    unique_by=lambda b: (b.account_id, b.partner_id))


@given(balances)
def test_carry_always_balances_and_empties_every_account(bals):
    lines = carry_lines(bals, PROFIT)
    debit, credit = sides(lines)
    assert debit == credit
    net: dict[tuple[int, int | None], Decimal] = defaultdict(Decimal)
    for b in bals:
        net[(b.account_id, b.partner_id)] += b.debit - b.credit
    for ln in lines:
        if ln.account_id != PROFIT:
            net[(ln.account_id, ln.partner_id)] += ln.amount * ln.side
    assert all(v == 0 for v in net.values())
    # 3103's movement (credit positive) is the profit: revenue less expenses.
    profit = sum((ln.amount * -ln.side for ln in lines if ln.account_id == PROFIT), D(0))
    assert profit == sum((b.credit - b.debit for b in bals), D(0))


# --- year_end_lines ---------------------------------------------------------------------------

def test_year_end_profit_moves_to_retained_earnings():
    assert year_end_lines(D("650.00"), PROFIT, RETAINED) == [CarryLine(PROFIT, None, 1, D("650.00")),
                                                             CarryLine(RETAINED, None, -1, D("650.00"))]


def test_year_end_loss_the_other_way_round():
    assert year_end_lines(D("-80.00"), PROFIT, RETAINED) == [CarryLine(RETAINED, None, 1, D("80.00")),
                                                             CarryLine(PROFIT, None, -1, D("80.00"))]


def test_year_end_nothing_to_move():
    assert year_end_lines(D("0.00"), PROFIT, RETAINED) == []


# --- number_gaps --------------------------------------------------------------------------------

@pytest.mark.parametrize(("numbers", "gaps"), [
    ([], []),
    ([1, 2, 3], []),
    ([3, 1, 2], []),
    ([2], [1]),
    ([1, 4, 6], [2, 3, 5]),
    ([5, 5, 1], [2, 3, 4]),
    (iter([1, 3]), [2]),
])
def test_number_gaps(numbers, gaps):
    assert number_gaps(numbers) == gaps


# --- verdict ------------------------------------------------------------------------------------

def test_verdict_pass_fail_warn():
    ok = verdict("unaudited_documents", [], period="2026-01")
    assert (ok.status, ok.count, ok.items, ok.params) == (CheckStatus.PASS, 0, (), {"period": "2026-01"})
    bad = verdict("unaudited_documents", ["QTRK-202601-0001", "CGFP-202601-0002"])
    assert (bad.status, bad.count, bad.items) == (CheckStatus.FAIL, 2, ("QTRK-202601-0001", "CGFP-202601-0002"))
    warn = verdict("voucher_gaps", ["记-0003"], severity=CheckStatus.WARN)
    assert (warn.status, warn.count) == (CheckStatus.WARN, 1)


def test_verdict_lists_at_most_max_listed_but_counts_all():
    names = [f"XSCK-202601-{n:04d}" for n in range(1, 121)]
    v = verdict("uninvoiced_deliveries", names, severity=CheckStatus.WARN)
    assert (v.count, len(v.items), v.items[-1]) == (120, MAX_LISTED, f"XSCK-202601-{MAX_LISTED:04d}")
    assert verdict("estimated_payables", ["CGRK-1"], severity=CheckStatus.WARN, count=7).count == 7
    assert verdict("estimated_payables", [], severity=CheckStatus.WARN, count=0).status is CheckStatus.PASS


def test_verdict_params_are_not_shared():
    a = verdict("x", [], value="1")
    b = verdict("x", [])
    assert a.params == {"value": "1"} and b.params == {}


# --- Sealer -------------------------------------------------------------------------------------

ROWS = [("记", 1, date(2026, 1, 31), "posted", D("1190.00"), None),
        ("记", 2, date(2026, 1, 31), "posted", D("52.40"), "cost_run")]


def seal(previous: str = GENESIS_SEAL, label: str = "2026-01", **kinds: list[tuple[object, ...]]) -> str:
    s = Sealer(previous, label)
    for kind, rows in (kinds or {"V": ROWS}).items():
        s.add(kind, rows)
    return s.hexdigest()


def test_seal_is_deterministic():
    assert seal() == seal()
    assert len(seal()) == 64 and int(seal(), 16) >= 0
    s = Sealer(GENESIS_SEAL, "2026-01")
    assert s.add("V", iter(ROWS)) == 2 and s.add("L", []) == 0
    assert s.hexdigest() == seal()


def test_seal_hashes_values_as_stored():
    # The service hands the sealer the driver's own values (a column always comes back in the
    # same form on one database), so the sealer takes them as they are: a different scale is a
    # different row.
    scaled = [(*r[:4], r[4].quantize(D("0.0001")), r[5]) for r in ROWS]
    assert seal(V=scaled) != seal()
    assert seal(V=list(ROWS)) == seal()


def test_seal_chains_to_the_previous_period_and_names_its_own():
    assert seal(previous="1" * 64) != seal()
    assert seal(label="2026-02") != seal()
    assert seal(L=ROWS) != seal()  # the same rows under another kind
    assert seal(V=[(True,)]) != seal(V=[(False,)])
    assert seal(V=[(None,)]) != seal(V=[("x",)])
