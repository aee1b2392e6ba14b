"""Month-end close (结账) rules on plain data: the checklist's verdicts, 结转损益 lines,
the year-end transfer, and the seal (a hash chained from period to period)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

ZERO = Decimal(0)

CURRENT_YEAR_PROFIT = "3103"  # 本年利润
RETAINED_EARNINGS = "310404"  # 利润分配—未分配利润

# The vouchers a close generates (voucher.source_type, source_id = the period's id).
PL_CARRY = "period_close"  # 结转损益: every P&L account to 本年利润
YEAR_END = "year_end"  # 本年利润 to 利润分配—未分配利润, in the fiscal year's last period
CLOSE_SOURCES = (PL_CARRY, YEAR_END)

MAX_LISTED = 50  # offending items a checklist item names; `count` says how many there are


class CheckStatus(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class CheckItem:
    """One line of the close checklist. `code` names the check (and its message);
    `items` are the offending documents or keys, at most MAX_LISTED of `count`."""

    code: str
    status: CheckStatus
    count: int = 0
    items: tuple[str, ...] = ()
    params: dict[str, object] = field(default_factory=dict)


def verdict(code: str, offenders: Sequence[str], *, severity: CheckStatus = CheckStatus.FAIL,
            count: int | None = None, **params: object) -> CheckItem:
    """Pass when there is nothing to name, else `severity` with the first MAX_LISTED named."""
    n = len(offenders) if count is None else count
    if n == 0:
        return CheckItem(code, CheckStatus.PASS, 0, (), dict(params))
    return CheckItem(code, severity, n, tuple(offenders[:MAX_LISTED]), dict(params))


def number_gaps(numbers: Iterable[int]) -> list[int]:
    """The numbers missing from 1..max(numbers)."""
    seen = set(numbers)
    return [n for n in range(1, max(seen, default=0) + 1) if n not in seen]


@dataclass(frozen=True, slots=True)
class PlBalance:
    """The period's posted movement on one P&L account (and partner)."""

    account_id: int
    partner_id: int | None
    direction: str  # the account's normal side: "debit" (expense) or "credit" (revenue)
    debit: Decimal
    credit: Decimal


@dataclass(frozen=True, slots=True)
class CarryLine:
    account_id: int
    partner_id: int | None
    side: int  # 1 debit, -1 credit
    amount: Decimal  # may be red (negative)


def carry_lines(balances: Iterable[PlBalance], profit_account_id: int) -> list[CarryLine]:
    """结转损益: each P&L account emptied on the side opposite its normal one, so a revenue
    account is debited and an expense account credited, red when the period went the other
    way (a month of returns); then 本年利润 credited with the revenue and debited with the
    expenses. Balanced by construction; empty when nothing moved."""
    lines: list[CarryLine] = []
    income = expense = ZERO
    for b in sorted(balances, key=lambda b: (b.account_id, b.partner_id or 0)):
        if b.direction == "credit":
            amount = b.credit - b.debit
            if amount:
                lines.append(CarryLine(b.account_id, b.partner_id, 1, amount))
                income += amount
        else:
            amount = b.debit - b.credit
            if amount:
                lines.append(CarryLine(b.account_id, b.partner_id, -1, amount))
                expense += amount
    if income:
        lines.append(CarryLine(profit_account_id, None, -1, income))
    if expense:
        lines.append(CarryLine(profit_account_id, None, 1, expense))
    return lines


def year_end_lines(profit_balance: Decimal, profit_account_id: int, retained_account_id: int) -> list[CarryLine]:
    """本年利润 (credit balance `profit_balance`: a profit; negative: a loss) to 利润分配—
    未分配利润: Dr 3103 / Cr 310404 for a profit, the other way round for a loss."""
    if not profit_balance:
        return []
    if profit_balance > 0:
        return [CarryLine(profit_account_id, None, 1, profit_balance),
                CarryLine(retained_account_id, None, -1, profit_balance)]
    return [CarryLine(retained_account_id, None, 1, -profit_balance),
            CarryLine(profit_account_id, None, -1, -profit_balance)]


GENESIS_SEAL = "0" * 64


class Sealer:
    """A period's seal: sha256 over the previous period's seal and the period's rows, each
    row a tuple of plain values (as the database stores them) in a fixed order."""

    def __init__(self, previous: str, label: str) -> None:
        self._h = hashlib.sha256()
        self._h.update(f"{previous}\n{label}\n".encode())

    def add(self, kind: str, rows: Iterable[Sequence[object]]) -> int:
        update = self._h.update
        n = 0
        for row in rows:
            # repr of a tuple of ints, strings, Decimals, dates and None is exact and stable,
            # and made in C: a month holds millions of values.
            update(f"{kind}{tuple(row)!r}\n".encode())
            n += 1
        return n

    def hexdigest(self) -> str:
        return self._h.hexdigest()
