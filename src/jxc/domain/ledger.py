"""Pure ledger arithmetic: roll leaf balances up the account tree, split a net
balance into its debit or credit column, total a trial balance."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from jxc.domain.accounts import ancestors_of
from jxc.domain.numbers import MONEY_ZERO, Money, money


@dataclass(frozen=True, slots=True)
class Movement:
    """Debit and credit totals of one account over some span."""

    debit: Money = MONEY_ZERO
    credit: Money = MONEY_ZERO

    def __add__(self, other: Movement) -> Movement:
        return Movement(self.debit + other.debit, self.credit + other.credit)

    @property
    def net(self) -> Money:
        return self.debit - self.credit


def split_net(net: Money) -> tuple[Money, Money]:
    """A balance shown the way 科目余额表 shows it: a debit balance in the debit
    column, a credit balance (negative net) in the credit column."""
    return (money(net), MONEY_ZERO) if net >= 0 else (MONEY_ZERO, money(-net))


def roll_up(leaf: Mapping[str, Movement]) -> dict[str, Movement]:
    """Add each account's movement to every ancestor, so parents show the sum of their children."""
    out: dict[str, Movement] = defaultdict(Movement)
    for code, mv in leaf.items():
        out[code] = out[code] + mv
        for parent in ancestors_of(code):
            out[parent] = out[parent] + mv
    return dict(out)


@dataclass(frozen=True, slots=True)
class TrialBalanceRow:
    account: str
    name: str
    level: int
    opening_debit: Money
    opening_credit: Money
    debit: Money
    credit: Money
    closing_debit: Money
    closing_credit: Money


def trial_balance_rows(
    accounts: Iterable[tuple[str, str, int]],
    opening: Mapping[str, Movement],
    activity: Mapping[str, Movement],
    *,
    include_zero: bool = False,
) -> list[TrialBalanceRow]:
    """Rows of 科目余额表 for every account (code, name, level), leaf movements rolled up.

    `opening` and `activity` hold leaf-level movements; opening is carried as a
    net balance, so an account with 借 100 and 贷 30 opens at 借 70.
    """
    up_open, up_act = roll_up(opening), roll_up(activity)
    rows = []
    for code, name, level in accounts:
        o = up_open.get(code, Movement())
        a = up_act.get(code, Movement())
        if not include_zero and o.net == 0 and a.debit == 0 and a.credit == 0:
            continue
        od, oc = split_net(o.net)
        cd, cc = split_net(o.net + a.net)
        rows.append(TrialBalanceRow(code, name, level, od, oc, money(a.debit), money(a.credit), cd, cc))
    return rows


def trial_balance_totals(rows: Iterable[TrialBalanceRow]) -> dict[str, Money]:
    """Totals over top-level rows only, since children are already in their parents."""
    keys = ("opening_debit", "opening_credit", "debit", "credit", "closing_debit", "closing_credit")
    totals = dict.fromkeys(keys, MONEY_ZERO)
    for row in rows:
        if row.level == 1:
            for k in keys:
                totals[k] += getattr(row, k)
    return totals


def is_balanced(totals: Mapping[str, Money]) -> bool:
    """Trial balance rule: every debit column equals its credit column."""
    return (
        totals["opening_debit"] == totals["opening_credit"]
        and totals["debit"] == totals["credit"]
        and totals["closing_debit"] == totals["closing_credit"]
    )
