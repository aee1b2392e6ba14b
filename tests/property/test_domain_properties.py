"""Properties of the pure domain rules: voucher balance, trial-balance roll-up, money rounding,
the audit hash chain. No database; hundreds of generated cases in well under a second each."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jxc.domain.accounts import ancestors_of, level_of
from jxc.domain.auditchain import GENESIS, AuditEntry, entry_hash, first_break
from jxc.domain.errors import BatchInvalid, UnbalancedVoucher
from jxc.domain.ledger import (
    Movement,
    is_balanced,
    roll_up,
    trial_balance_rows,
    trial_balance_totals,
)
from jxc.domain.numbers import ZERO, money
from jxc.domain.voucher import AccountFacts, VoucherLine, check_voucher

SETTINGS = settings(max_examples=200, deadline=None)

PLAIN_LEAVES = ("1001", "1002", "1405", "5001", "5401", "5602", "22210101", "22210102")
PARTNER_LEAF = "1122"
PARTNERS = {"C001": 1, "C002": 2}
FACTS = {code: AccountFacts(code, True, True, False) for code in PLAIN_LEAVES}
FACTS[PARTNER_LEAF] = AccountFacts(PARTNER_LEAF, True, True, True)


# --- strategies ---------------------------------------------------------------------

def cents(lo: int = -10**6, hi: int = 10**9) -> st.SearchStrategy[Decimal]:
    """A non-zero amount with exactly two places, red ink (negative) included."""
    return st.integers(lo, hi).filter(bool).map(lambda n: Decimal(n).scaleb(-2))


@st.composite
def account_and_partner(draw: st.DrawFn) -> tuple[str, str | None]:
    code = draw(st.sampled_from((*PLAIN_LEAVES, PARTNER_LEAF)))
    return code, (draw(st.sampled_from(sorted(PARTNERS))) if code == PARTNER_LEAF else None)


@st.composite
def one_line(draw: st.DrawFn) -> VoucherLine:
    code, partner = draw(account_and_partner())
    amount = draw(cents())
    if draw(st.booleans()):
        return VoucherLine(code, amount, ZERO, partner)
    return VoucherLine(code, ZERO, amount, partner)


@st.composite
def balanced_lines(draw: st.DrawFn, max_lines: int = 6) -> tuple[VoucherLine, ...]:
    """2..max_lines lines on valid accounts whose debits equal their credits."""
    lines = draw(st.lists(one_line(), min_size=1, max_size=max_lines - 1))
    net = sum((ln.net for ln in lines), ZERO)
    if net != ZERO:  # (one non-zero line never nets to zero, so a lone line always gets a partner)
        code, partner = draw(account_and_partner())
        last = (VoucherLine(code, ZERO, net, partner) if draw(st.booleans())
                else VoucherLine(code, -net, ZERO, partner))
        lines.insert(draw(st.integers(0, len(lines))), last)
    return tuple(lines)


# --- check_voucher --------------------------------------------------------------------

@SETTINGS
@given(balanced_lines())
def test_any_balanced_voucher_on_valid_accounts_passes(lines):
    assert sum(ln.debit for ln in lines) == sum(ln.credit for ln in lines)
    check_voucher(lines, FACTS, PARTNERS)


@SETTINGS
@given(balanced_lines(), st.data())
def test_any_unbalanced_voucher_is_refused_with_its_difference(lines, data):
    i = data.draw(st.integers(0, len(lines) - 1), label="line")
    delta = data.draw(cents(-10**5, 10**5), label="delta")
    ln = lines[i]
    side = "debit" if ln.debit != ZERO else "credit"
    changed = getattr(ln, side) + delta
    if changed == ZERO:  # keep the line one-sided so only the balance is wrong
        delta *= 2
        changed = getattr(ln, side) + delta
    bad = (*lines[:i], dataclasses.replace(ln, **{side: changed}), *lines[i + 1:])
    with pytest.raises(BatchInvalid) as err:
        check_voucher(bad, FACTS, PARTNERS)
    assert [type(e) for e in err.value.errors] == [UnbalancedVoucher]
    expected = delta if side == "debit" else -delta
    assert err.value.errors[0].params["difference"] == expected


# --- roll_up / trial_balance_rows -------------------------------------------------------

TOPS = ("1001", "1002", "1122", "1405", "2221", "4001", "5001", "5602")


@st.composite
def account_codes(draw: st.DrawFn) -> str:
    code = draw(st.sampled_from(TOPS))
    for _ in range(draw(st.integers(0, 3))):
        code += draw(st.sampled_from(("01", "02", "03")))
    return code


@st.composite
def balanced_movements(draw: st.DrawFn) -> dict[str, Movement]:
    """Leaf movements with Σdebit == Σcredit (red ink allowed)."""
    moves: dict[str, Movement] = {}
    for code in draw(st.lists(account_codes(), min_size=1, max_size=8)):
        mv = Movement(draw(st.integers(-10**5, 10**7).map(lambda n: Decimal(n).scaleb(-2))),
                      draw(st.integers(-10**5, 10**7).map(lambda n: Decimal(n).scaleb(-2))))
        moves[code] = moves.get(code, Movement()) + mv
    net = sum((mv.net for mv in moves.values()), ZERO)
    fixer = draw(account_codes())
    moves[fixer] = moves.get(fixer, Movement()) + Movement(ZERO, net)
    return moves


def _chart(*movements: dict[str, Movement]) -> list[tuple[str, str, int]]:
    codes = {c for mv in movements for code in mv for c in (code, *ancestors_of(code))}
    codes |= set(TOPS)
    return [(c, f"account {c}", level_of(c)) for c in sorted(codes)]


@SETTINGS
@given(balanced_movements(), balanced_movements(), st.booleans())
def test_trial_balance_totals_balance_whenever_leaf_movements_balance(opening, activity, include_zero):
    rows = trial_balance_rows(_chart(opening, activity), opening, activity, include_zero=include_zero)
    totals = trial_balance_totals(rows)
    assert is_balanced(totals), totals
    assert totals["debit"] == sum(mv.debit for mv in activity.values())
    assert totals["credit"] == sum(mv.credit for mv in activity.values())


@SETTINGS
@given(balanced_movements())
def test_roll_up_gives_every_parent_the_sum_of_everything_below_it(leaf):
    up = roll_up(leaf)
    for code, mv in up.items():
        below = [m for c, m in leaf.items() if c == code or code in ancestors_of(c)]
        assert mv == sum(below, Movement())


# --- money --------------------------------------------------------------------------------

def test_money_rounds_half_up_not_half_even():
    assert money(Decimal("2.665")) == Decimal("2.67")
    assert money(Decimal("2.675")) == Decimal("2.68")
    assert money(Decimal("-2.665")) == Decimal("-2.67")
    assert money("0.005") == Decimal("0.01")
    assert money(Decimal("2.6649999")) == Decimal("2.66")


@SETTINGS
@given(st.decimals(min_value=-10**12, max_value=10**12, allow_nan=False, allow_infinity=False, places=6))
def test_money_is_idempotent_symmetric_and_within_half_a_cent(x):
    m = money(x)
    assert money(m) == m
    assert m.as_tuple().exponent == -2
    assert abs(m - x) <= Decimal("0.005")
    assert money(-x) == -m


@SETTINGS
@given(st.integers(0, 10**9))
def test_money_rounds_every_exact_half_cent_away_from_zero(n):
    x = Decimal(n).scaleb(-2) + Decimal("0.005")
    assert money(x) == x + Decimal("0.005")
    assert money(-x) == -(x + Decimal("0.005"))


# --- audit chain -----------------------------------------------------------------------------

TEXT = st.text(max_size=12)
FIELDS = ("seq", "at", "username", "action", "entity", "entity_id", "detail", "prev_hash", "hash")


@st.composite
def chains(draw: st.DrawFn) -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    prev = GENESIS
    for seq in range(1, draw(st.integers(1, 8)) + 1):
        at, user, action, entity, entity_id, detail = (draw(TEXT) for _ in range(6))
        digest = entry_hash(prev, seq, at, user, action, entity, entity_id, detail)
        entries.append(AuditEntry(seq, at, user, action, entity, entity_id, detail, prev, digest))
        prev = digest
    return entries


@SETTINGS
@given(chains(), st.data())
def test_altering_any_field_of_any_entry_breaks_the_chain_at_that_entry(chain, data):
    assert first_break(chain) is None
    i = data.draw(st.integers(0, len(chain) - 1), label="entry")
    field = data.draw(st.sampled_from(FIELDS), label="field")
    old = getattr(chain[i], field)
    if field == "seq":
        new = data.draw(st.integers(-5, 20).filter(lambda v: v != old), label="new")
    else:
        new = data.draw(TEXT.filter(lambda v: v != old), label="new")
    altered = dataclasses.replace(chain[i], **{field: new})
    broken = [*chain[:i], altered, *chain[i + 1:]]
    assert first_break(broken) == altered.seq


@SETTINGS
@given(chains(), st.data())
def test_deleting_an_entry_breaks_the_chain_at_the_next_one(chain, data):
    if len(chain) < 2:
        return
    i = data.draw(st.integers(0, len(chain) - 2), label="entry")
    assert first_break([*chain[:i], *chain[i + 1:]]) == chain[i + 1].seq
