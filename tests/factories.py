"""Small builders for valid data; each test makes its own."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from jxc.domain.voucher import VoucherLine
from jxc.services.vouchers import VoucherIn

D = Decimal
ZERO = Decimal("0")


def dr(account: str, amount: str, partner: str | None = None, memo: str = "") -> VoucherLine:
    return VoucherLine(account, D(amount), ZERO, partner, memo)


def cr(account: str, amount: str, partner: str | None = None, memo: str = "") -> VoucherLine:
    return VoucherLine(account, ZERO, D(amount), partner, memo)


def voucher(day: date | str, *lines: VoucherLine, memo: str = "") -> VoucherIn:
    if isinstance(day, str):
        day = date.fromisoformat(day)
    return VoucherIn(day, tuple(lines), memo)


def cash_sale(day: str = "2026-01-10", amount: str = "100.00") -> VoucherIn:
    """借 银行存款 / 贷 主营业务收入: the simplest balanced voucher."""
    return voucher(day, dr("1002", amount), cr("5001", amount), memo="cash sale")
