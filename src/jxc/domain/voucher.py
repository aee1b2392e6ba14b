"""Vouchers (凭证) as plain values and the rules a voucher must satisfy to be stored.

Red ink (红字) is allowed: a line may carry a negative amount on its one side,
as Chinese practice writes a reversal. What is never allowed is a line with
both sides or neither, an amount finer than a cent, or debits != credits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from jxc.domain.errors import (
    AccountInactive,
    AccountNotLeaf,
    AccountUnknown,
    BatchInvalid,
    InvalidInput,
    JxcError,
    MalformedVoucher,
    PartnerNotAllowed,
    PartnerRequired,
    PartnerUnknown,
    UnbalancedVoucher,
    VoucherLineInvalid,
)
from jxc.domain.numbers import MAX_MONEY, MONEY_PLACES, ZERO, Money, fits, money


@dataclass(frozen=True, slots=True)
class VoucherLine:
    account_code: str
    debit: Money = ZERO
    credit: Money = ZERO
    partner_code: str | None = None
    memo: str = ""

    @property
    def net(self) -> Money:
        return self.debit - self.credit


@dataclass(frozen=True, slots=True)
class AccountFacts:
    """What the voucher rules need to know of an account."""

    code: str
    is_leaf: bool
    active: bool
    partner_aux: bool  # 辅助核算: lines must name a partner


def line_problems(index: int, line: VoucherLine) -> list[JxcError]:
    """The shape problems of one line (1-based `index`), without looking at accounts."""
    problems: list[JxcError] = []
    for field, amount in (("debit", line.debit), ("credit", line.credit)):
        if not isinstance(amount, Decimal) or not amount.is_finite():
            problems.append(InvalidInput(field=f"lines[{index}].{field}", reason="input.not_decimal",
                                         value=str(amount)))
        elif problem := fits(amount, MONEY_PLACES, MAX_MONEY):
            problems.append(InvalidInput(field=f"lines[{index}].{field}", reason=problem, value=str(amount),
                                         places=MONEY_PLACES))
    if problems:
        return problems
    if (line.debit != ZERO) == (line.credit != ZERO):
        problems.append(VoucherLineInvalid(line=index))
    if not line.account_code:
        problems.append(InvalidInput(field=f"lines[{index}].account", reason="input.required"))
    return problems


def check_voucher(
    lines: tuple[VoucherLine, ...],
    accounts: Mapping[str, AccountFacts],
    partners: Mapping[str, object],
) -> None:
    """Raise one BatchInvalid listing every problem of the voucher, or return if it may be stored.

    Checks: two or more lines; each line one non-zero side, at most 2 decimal
    places; accounts known, leaf and active; partner given exactly where the
    account keeps partner sub-ledgers; Σdebit == Σcredit to the cent.
    """
    problems: list[JxcError] = []
    if len(lines) < 2:
        problems.append(MalformedVoucher(line_count=len(lines)))
    shape_ok = True
    for i, line in enumerate(lines, start=1):
        found = line_problems(i, line)
        shape_ok = shape_ok and not found
        problems.extend(found)
        facts = accounts.get(line.account_code)
        if line.account_code and facts is None:
            problems.append(AccountUnknown(account=line.account_code, line=i))
            continue
        if facts is None:
            continue
        if not facts.is_leaf:
            problems.append(AccountNotLeaf(account=line.account_code, line=i))
        if not facts.active:
            problems.append(AccountInactive(account=line.account_code, line=i))
        if line.partner_code:
            if line.partner_code not in partners:
                problems.append(PartnerUnknown(partner=line.partner_code, line=i))
            elif not facts.partner_aux:
                problems.append(PartnerNotAllowed(account=line.account_code, partner=line.partner_code,
                                                  line=i))
        elif facts.partner_aux:
            problems.append(PartnerRequired(account=line.account_code, line=i))
    if shape_ok and len(lines) >= 2:
        debit = sum((ln.debit for ln in lines), ZERO)
        credit = sum((ln.credit for ln in lines), ZERO)
        if abs(debit) > MAX_MONEY or abs(credit) > MAX_MONEY:
            problems.append(InvalidInput(field="total", reason="input.too_large", value=str(max(debit, credit))))
        elif debit != credit:
            problems.append(UnbalancedVoucher(debit=money(debit), credit=money(credit),
                                              difference=money(debit - credit)))
    if problems:
        raise BatchInvalid(problems)


def voucher_label(word: str, number: int) -> str:
    """记-0001: the voucher word and its gap-free number within the period."""
    return f"{word}-{number:04d}"
