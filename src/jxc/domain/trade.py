"""Orders, invoices, money in and out, and the receivable/payable open items.

Pure rules: VAT per line (价税分离, DOMAIN.md §6.2), order status from its
quantities, the three-way match tolerance, aging buckets, and how a purchase
invoice's price difference is split between stock on hand and cost of sales.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from jxc.domain.errors import DomainError
from jxc.domain.numbers import ZERO, Money, Qty, money


class Side(StrEnum):
    """Which book a document belongs to: purchasing (payables) or sales (receivables)."""

    PURCHASE = "purchase"
    SALES = "sales"


class InvoiceKind(StrEnum):
    SPECIAL = "special"  # 增值税专用发票: the buyer deducts the tax
    ORDINARY = "ordinary"  # 普通发票: the tax is part of the buyer's cost


class OrderStatus(StrEnum):
    DRAFT = "draft"
    AUDITED = "audited"
    CLOSED = "closed"  # 已关闭 by hand: no more receipts or deliveries against it
    CANCELLED = "cancelled"  # 作废: closed before anything happened


class Execution(StrEnum):
    """What has happened against an audited order (执行状态), from its line quantities."""

    NOT_STARTED = "not_started"  # 未执行
    PARTIAL = "partial"  # 部分执行
    DONE = "done"  # 已完成
    CLOSED = "closed"  # 已关闭


class CreditControl(StrEnum):
    OFF = "off"
    WARN = "warn"
    BLOCK = "block"


# Open-item accounts: every posted line on one of these, for a partner, is an open item
# that receipts, payments and settlements clear. 220202 (暂估) is cleared by invoices
# against receipt quantities instead, so it is not one of them.
AR_ACCOUNT = "1122"  # 应收账款
ADVANCE_RECEIVED = "2203"  # 预收账款
AP_ACCOUNT = "220201"  # 应付账款—一般应付款
ADVANCE_PAID = "1123"  # 预付账款
ESTIMATED_AP = "220202"  # 应付账款—暂估应付款
INPUT_VAT = "22210102"  # 进项税额
OUTPUT_VAT = "22210101"  # 销项税额
REVENUE = "5001"  # 主营业务收入
COST_OF_SALES = "5401"  # 主营业务成本
GOODS_IN_TRANSIT = "1402"  # 在途物资: a purchase invoice for goods not received
ITEM_ACCOUNTS = (AR_ACCOUNT, ADVANCE_RECEIVED, AP_ACCOUNT, ADVANCE_PAID)

PREFIXES = {
    ("order", Side.PURCHASE): "CGDD",
    ("order", Side.SALES): "XSDD",
    ("invoice", Side.PURCHASE): "CGFP",
    ("invoice", Side.SALES): "XSFP",
    ("cash", Side.PURCHASE): "FKD",  # 付款单
    ("cash", Side.SALES): "SKD",  # 收款单
    ("settle", Side.PURCHASE): "HXD",  # 核销单
    ("settle", Side.SALES): "HXD",
}


@dataclass(frozen=True, slots=True)
class LineAmounts:
    """A line's 金额 (excluding tax), 税额 and 价税合计; amount + tax == total, always."""

    price: Decimal  # excluding tax, as given or derived (informational beyond 4 places)
    amount: Money
    tax: Money
    total: Money


def line_amounts(qty: Qty, rate: Decimal, *, price: Decimal | None = None,
                 price_incl_tax: Decimal | None = None) -> LineAmounts:
    """价税分离 per line (DOMAIN.md §6.2). From the price excluding tax: amount =
    round(qty × price), tax = round(amount × rate). From the price including tax: total =
    round(qty × price), amount = round(total ÷ (1 + rate)), tax = total − amount, so the
    line still adds up to the total the customer sees."""
    if (price is None) == (price_incl_tax is None):
        raise ValueError("give exactly one of price and price_incl_tax")
    if price is not None:
        amount = money(qty * price)
        tax = money(amount * rate)
        return LineAmounts(price, amount, tax, amount + tax)
    assert price_incl_tax is not None
    total = money(qty * price_incl_tax)
    amount = money(total / (1 + rate))
    ex = (price_incl_tax / (1 + rate)).quantize(Decimal("0.000001")) if qty else price_incl_tax
    return LineAmounts(ex, amount, total - amount, total)


def execution(status: str, lines: list[tuple[Qty, Qty, Qty]]) -> Execution:
    """执行状态 of an order from (ordered, done, returned) per line. Goods returned are owed
    again, so a line is done when what was received/delivered less what came back reaches
    what was ordered."""
    if status in (OrderStatus.CLOSED, OrderStatus.CANCELLED):
        return Execution.CLOSED
    net = [(q, d - r) for q, d, r in lines]
    if all(n >= q for q, n in net):
        return Execution.DONE
    if all(d == 0 for _, d, _ in lines):
        return Execution.NOT_STARTED
    return Execution.PARTIAL


def over_limit(ordered: Qty, done_net: Qty, tolerance: Decimal) -> bool:
    """Receiving or delivering beyond ordered × (1 + tolerance) is refused."""
    return done_net > ordered * (1 + tolerance)


def price_mismatch(expected: Decimal, actual: Decimal, tolerance: Decimal) -> bool:
    """三单匹配: a price differs when it is off by more than tolerance × the expected price."""
    if expected == 0:
        return actual != 0
    return abs(actual - expected) > abs(expected) * tolerance


def split_difference(diff: Money, invoiced_qty: Qty, on_hand: Qty) -> tuple[Money, Money]:
    """A purchase invoice's price difference (invoice cost − the receipt's booked value): the
    part for goods still in stock goes to inventory, the rest, for goods already gone, to
    cost of sales. In stock = min(invoiced, on hand), so (to inventory, to cost of sales)."""
    if invoiced_qty == 0 or diff == 0:
        return ZERO, diff
    in_stock = min(abs(invoiced_qty), max(on_hand, ZERO))
    to_stock = diff if in_stock == abs(invoiced_qty) else money(diff * in_stock / abs(invoiced_qty))
    return to_stock, diff - to_stock


BUCKETS = ("d0_30", "d31_60", "d61_90", "d91_180", "d180_plus")
_BOUNDS = (30, 60, 90, 180)


def bucket_of(item_date: date, as_of: date) -> int:
    """The aging bucket of an item dated item_date, by days since (0–30, 31–60, 61–90,
    91–180, over 180). Items dated after as_of are not aged; callers exclude them."""
    days = (as_of - item_date).days
    for i, bound in enumerate(_BOUNDS):
        if days <= bound:
            return i
    return len(_BOUNDS)


def age(debits: list[Money], credit: Money) -> list[Money]:
    """Spread a partner's open amounts over the buckets: `debits` per bucket (newest first),
    less the open credits (unapplied receipts, red invoices) applied to the oldest first."""
    out = list(debits)
    left = credit
    for i in range(len(out) - 1, -1, -1):
        if left <= 0:
            break
        take = min(out[i], left)
        if take > 0:
            out[i] -= take
            left -= take
    if left > 0:
        out[0] -= left  # more credit than debt: the partner is owed, shown in the newest bucket
    return out


@dataclass(frozen=True, slots=True)
class TradeWarning:
    """Something the user should know that did not stop the step: a message code and its params."""

    code: str
    params: dict[str, str]


class CreditLimitExceeded(DomainError, code="trade.credit_limit"):
    """params: partner, limit, exposure (open AR + uninvoiced deliveries + this document)."""


class MatchMismatch(DomainError, code="trade.match_mismatch"):
    """三单匹配 failed; auditing needs the override right. params: invoice, problems (text list)."""


class SettleRefused(DomainError, code="trade.settle_refused"):
    """params: document, reason (a message code) and its params."""
