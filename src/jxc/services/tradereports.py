"""Trade reports: 应收/应付账龄, 对账单, 未执行订单, 已入库/已出库未开票, 销售毛利, 采购汇总.

All read-only, each in one `reading` transaction. The SQL is plain (no dialect
features) and every sum of an amount or quantity is coerced back through the
column type, so the figures are exact Decimals on SQLite (scaled integers) and
PostgreSQL (NUMERIC) alike. Expressions that carry bind parameters (an aging
bucket, a document-type test) are grouped on through a subquery column, never
repeated in GROUP BY: PostgreSQL binds parameters on the server and would not
see `$1` and `$5` as the same expression.

Sign conventions of the data read here:
- An open item's amount and open are debit-positive; a settlement pair takes its
  amount off a debit item's open and adds it to a credit item's open (toward zero).
- A red-letter (红字) stock document copies its original's lines with the same
  (positive) quantities and the amounts negated, and moves stock the other way; its
  stock entries carry signed values like any other entry.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import and_, case, func, select, type_coerce, union_all
from sqlalchemy.orm import Session

from jxc.db.base import table_of
from jxc.db.models import (
    Account,
    ArapItem,
    CashDoc,
    Invoice,
    InvoiceLine,
    InvoiceLink,
    Partner,
    Period,
    Product,
    Settlement,
    SettlementPair,
    StockDoc,
    StockDocLine,
    StockEntry,
    TradeOrder,
    TradeOrderLine,
    Voucher,
)
from jxc.db.types import Money, Quantity
from jxc.domain import permissions as perm
from jxc.domain.errors import InvalidInput, PartnerUnknown
from jxc.domain.numbers import MONEY_ZERO, ZERO, money, qty
from jxc.domain.permissions import Actor, require
from jxc.domain.stockdocs import DocType
from jxc.domain.trade import (
    ADVANCE_PAID,
    ADVANCE_RECEIVED,
    AP_ACCOUNT,
    AR_ACCOUNT,
    BUCKETS,
    ITEM_ACCOUNTS,
    OrderStatus,
    Side,
    age,
)
from jxc.domain.voucher import voucher_label
from jxc.services.common import reading

ITEM = table_of(ArapItem)
PAIR = table_of(SettlementPair)
SETTLE = table_of(Settlement)
ACCOUNT = table_of(Account)
PARTNER = table_of(Partner)
PRODUCT = table_of(Product)
DOC = table_of(StockDoc)
LINE = table_of(StockDocLine)
ENTRY = table_of(StockEntry)
ORDER = table_of(TradeOrder)
OLINE = table_of(TradeOrderLine)
INVOICE = table_of(Invoice)
ILINE = table_of(InvoiceLine)
LINK = table_of(InvoiceLink)
CASH = table_of(CashDoc)
VOUCHER = table_of(Voucher)
PERIOD = table_of(Period)

QTY_ZERO = qty(0)
MARGIN_STEP = Decimal("0.0001")
AUDITED = "audited"
_AGE_BOUNDS = (30, 60, 90, 180)  # the upper day of each bucket but the last (domain.trade.bucket_of)

# The document types of each side: the one that moves goods (receipt/delivery) and its return.
_BASE = {Side.PURCHASE: DocType.PURCHASE_RECEIPT.value, Side.SALES: DocType.SALES_DELIVERY.value}
_RETURN = {Side.PURCHASE: DocType.PURCHASE_RETURN.value, Side.SALES: DocType.SALES_RETURN.value}


# --- small helpers ---------------------------------------------------------------------

def _m(expr: Any) -> Any:
    return func.coalesce(func.sum(type_coerce(expr, Money())), 0)


def _q(expr: Any) -> Any:
    return func.coalesce(func.sum(type_coerce(expr, Quantity())), 0)


def _dec(v: Any) -> Decimal:
    return v if isinstance(v, Decimal) else Decimal(v or 0)


def _side(value: str) -> Side:
    try:
        return Side(value)
    except ValueError:
        raise InvalidInput(field="side", reason="input.choice", value=value,
                           choices=", ".join(s.value for s in Side)) from None


def _choice(field: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise InvalidInput(field=field, reason="input.choice", value=value, choices=", ".join(choices))
    return value


def _check_range(date_from: date, date_to: date) -> None:
    if date_from > date_to:
        raise InvalidInput(field="date_from", reason="input.date_order", value=date_from.isoformat())


def _partner_id(db: Session, code: str | None) -> int | None:
    if code is None:
        return None
    found = db.execute(select(PARTNER.c.id).where(PARTNER.c.code == code)).scalar()
    if found is None:
        raise PartnerUnknown(partner=code)
    return int(found)


def _account_ids(db: Session) -> dict[str, int]:
    return {r.code: r.id for r in db.execute(select(ACCOUNT.c.code, ACCOUNT.c.id)
                                             .where(ACCOUNT.c.code.in_(ITEM_ACCOUNTS)))}


def _names(db: Session, table: Any, ids: Iterable[Any]) -> dict[Any, tuple[str, str]]:
    """id -> (code, name) of partners or products."""
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    return {r.id: (r.code, r.name) for r in db.execute(
        select(table.c.id, table.c.code, table.c.name).where(table.c.id.in_(wanted)))}


def _sum(rows: Iterable[Any], field: str, zero: Decimal = MONEY_ZERO) -> Decimal:
    return sum((getattr(r, field) for r in rows), zero)


def _margin(profit: Decimal, revenue: Decimal) -> Decimal | None:
    if revenue == 0:
        return None
    return (profit / revenue).quantize(MARGIN_STEP, rounding=ROUND_HALF_UP)


# --- 1. 账龄分析 ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class AgingRow:
    """One partner's open receivable (or payable) at a date, owed amounts positive, spread
    over the buckets by item date; `advance` is the partner's open 预收 (AR) or 预付 (AP)
    held as of the same date, positive when money is held."""

    partner: str
    name: str
    total: Decimal
    d0_30: Decimal
    d31_60: Decimal
    d61_90: Decimal
    d91_180: Decimal
    d180_plus: Decimal
    advance: Decimal


@dataclass(frozen=True, slots=True)
class Aging:
    side: str  # sales: 应收 (AR) | purchase: 应付 (AP)
    as_of: date
    rows: list[AgingRow]
    totals: AgingRow


def _bucket(date_col: Any, as_of: date) -> Any:
    """The bucket index of an item date, as bucket_of() computes it: days since ≤ 30 is the
    item date on or after as_of − 30, and so on."""
    limits = [as_of - timedelta(days=b) for b in _AGE_BOUNDS]
    return case(*[(date_col >= d, i) for i, d in enumerate(limits)], else_=len(limits))


def _open_as_of(db: Session, account_ids: list[int], as_of: date,
                partner_id: int | None) -> dict[tuple[int, int, int], list[Decimal]]:
    """(account id, partner id, bucket) -> [Σ open of debit items, Σ open of credit items]
    as of the end of `as_of`, over items dated on or before it.

    Open as of the date = amount − the pairs of settlements dated on or before it, that is
    the current open plus what settlements dated later took. So two reads: the items still
    open now (from the covering index ix_arap_item_open), and the pairs of settlements dated
    after the date, summed per item (+ on a debit item, − on a credit item) and joined to
    their items by key; an item that only a later settlement closed comes back that way.
    Neither reads the settled history item by item. (The second scans settlement_pair: an
    index on settlement.settle_date would let it read only the later settlements.)"""
    where = [ITEM.c.account_id.in_(account_ids), ITEM.c.item_date <= as_of]
    if partner_id is not None:
        where.append(ITEM.c.partner_id == partner_id)
    out: dict[tuple[int, int, int], list[Decimal]] = defaultdict(lambda: [MONEY_ZERO, MONEY_ZERO])

    items = (select(ITEM.c.account_id, ITEM.c.partner_id, _bucket(ITEM.c.item_date, as_of).label("bucket"),
                    ITEM.c.open)
             .where(*where, ITEM.c.open != 0).subquery())
    for r in db.execute(select(items.c.account_id, items.c.partner_id, items.c.bucket,
                               _m(case((items.c.open > 0, items.c.open), else_=0)).label("dr"),
                               _m(case((items.c.open < 0, items.c.open), else_=0)).label("cr"))
                        .group_by(items.c.account_id, items.c.partner_id, items.c.bucket)):
        acc = out[(r.account_id, r.partner_id, r.bucket)]
        acc[0] += _dec(r.dr)
        acc[1] += _dec(r.cr)

    # Later settlements: their pairs per item (+ on a debit item, − on a credit item), read
    # from the settlements dated after the date, then the items they name by key.
    later = SETTLE.c.settle_date > as_of
    moved = union_all(
        select(PAIR.c.debit_item_id.label("item_id"), PAIR.c.amount.label("v"))
        .join(SETTLE, SETTLE.c.id == PAIR.c.settlement_id).where(later),
        select(PAIR.c.credit_item_id.label("item_id"), (-PAIR.c.amount).label("v"))
        .join(SETTLE, SETTLE.c.id == PAIR.c.settlement_id).where(later)).subquery()
    per_item = select(moved.c.item_id, _m(moved.c.v).label("v")).group_by(moved.c.item_id).subquery()
    back = (select(ITEM.c.account_id, ITEM.c.partner_id, _bucket(ITEM.c.item_date, as_of).label("bucket"),
                   per_item.c.v)
            .select_from(per_item.join(ITEM, ITEM.c.id == per_item.c.item_id)).where(*where).subquery())
    for r in db.execute(select(back.c.account_id, back.c.partner_id, back.c.bucket,
                               _m(case((back.c.v > 0, back.c.v), else_=0)).label("dr"),
                               _m(case((back.c.v < 0, back.c.v), else_=0)).label("cr"))
                        .group_by(back.c.account_id, back.c.partner_id, back.c.bucket)):
        acc = out[(r.account_id, r.partner_id, r.bucket)]
        acc[0] += _dec(r.dr)
        acc[1] += _dec(r.cr)
    return out


def _aging(db: Session, side: Side, as_of: date, partner: str | None) -> Aging:
    ids = _account_ids(db)
    main_code, advance_code = (AR_ACCOUNT, ADVANCE_RECEIVED) if side is Side.SALES else (AP_ACCOUNT, ADVANCE_PAID)
    main, advance = ids.get(main_code), ids.get(advance_code)
    pid = _partner_id(db, partner)
    # AR: debit items are owed to us, credit items (unapplied receipts, red invoices) reduce
    # them; 预收 (a credit account) holds money when its balance is a credit. AP: the mirror.
    owe = 1 if side is Side.SALES else -1
    held = -1 if side is Side.SALES else 1
    debits: dict[int, list[Decimal]] = defaultdict(lambda: [MONEY_ZERO] * len(BUCKETS))
    credits: dict[int, Decimal] = defaultdict(lambda: MONEY_ZERO)
    advances: dict[int, Decimal] = defaultdict(lambda: MONEY_ZERO)
    present = [i for i in (main, advance) if i is not None]
    found = _open_as_of(db, present, as_of, pid) if present else {}
    for (account_id, partner_id, bucket), (dr, cr) in found.items():
        if account_id == main:
            owed, reducing = (dr, -cr) if owe > 0 else (-cr, dr)
            debits[partner_id][bucket] += owed
            credits[partner_id] += reducing
        else:
            advances[partner_id] += held * (dr + cr)
    names = _names(db, PARTNER, set(debits) | set(credits) | set(advances))
    rows = []
    for partner_id, (code, name) in sorted(names.items(), key=lambda kv: kv[1][0]):
        spread = age(debits[partner_id], credits[partner_id])
        total = sum(spread, MONEY_ZERO)
        adv = advances.get(partner_id, MONEY_ZERO)
        if total == 0 and adv == 0:
            continue
        d0, d31, d61, d91, d181 = spread
        rows.append(AgingRow(code, name, total, d0, d31, d61, d91, d181, adv))
    totals = AgingRow("", "", _sum(rows, "total"), _sum(rows, "d0_30"), _sum(rows, "d31_60"),
                      _sum(rows, "d61_90"), _sum(rows, "d91_180"), _sum(rows, "d180_plus"), _sum(rows, "advance"))
    return Aging(side.value, as_of, rows, totals)


def ar_aging(db: Session, *, actor: Actor, as_of: date, partner: str | None = None) -> Aging:
    """应收账款账龄分析 at the end of `as_of`: per customer, the open 应收 (1122) items dated on
    or before it, as they stood then (settlements dated later do not count), owed amounts in
    buckets 0–30, 31–60, 61–90, 91–180 and over 180 days by item date; open credits (unapplied
    receipts, red invoices) reduce the oldest buckets first. With the open 预收 (2203) beside
    it. Partners with nothing open and no advance are left out. Raises PartnerUnknown."""
    require(actor, perm.TRADE_READ)
    with reading(db):
        return _aging(db, Side.SALES, as_of, partner)


def ap_aging(db: Session, *, actor: Actor, as_of: date, partner: str | None = None) -> Aging:
    """应付账款账龄分析: as ar_aging, for suppliers on 应付 (220201), what we owe shown positive,
    with the open 预付 (1123) we have paid ahead beside it."""
    require(actor, perm.TRADE_READ)
    with reading(db):
        return _aging(db, Side.PURCHASE, as_of, partner)


# --- 2. 对账单 --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class StatementRow:
    date: date
    account: str
    document: str
    source_type: str
    memo: str
    debit: Decimal
    credit: Decimal
    balance: Decimal  # debit-positive: what the partner owes us, net


@dataclass(frozen=True, slots=True)
class Statement:
    partner: str
    name: str
    date_from: date
    date_to: date
    opening: Decimal
    rows: list[StatementRow]
    debit: Decimal
    credit: Decimal
    closing: Decimal


_DOC_TABLES = {"invoice": INVOICE, "cash": CASH, "settlement": SETTLE, "stock_doc": DOC}


def _documents(db: Session, items: list[Any]) -> dict[int, str]:
    """item id -> a readable document: the number of the invoice, receipt/payment, settlement
    or stock document that made it, 期初 for an opening balance, else its voucher's label."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for r in items:
        if r.source_type in _DOC_TABLES and r.source_id is not None:
            wanted[r.source_type].add(r.source_id)
    numbers: dict[tuple[str, int], str] = {}
    for kind, ids in wanted.items():
        table = _DOC_TABLES[kind]
        for i, no in db.execute(select(table.c.id, table.c.no).where(table.c.id.in_(sorted(ids)))):
            numbers[(kind, i)] = no
    vids = sorted({r.voucher_id for r in items if r.voucher_id is not None})
    labels: dict[int, str] = {}
    if vids:
        for v in db.execute(select(VOUCHER.c.id, VOUCHER.c.word, VOUCHER.c.number, PERIOD.c.year, PERIOD.c.month)
                            .join(PERIOD, PERIOD.c.id == VOUCHER.c.period_id).where(VOUCHER.c.id.in_(vids))):
            labels[v.id] = f"{v.year:04d}-{v.month:02d} {voucher_label(v.word, v.number)}"
    out = {}
    for r in items:
        found = numbers.get((r.source_type, r.source_id))
        if found is None:
            # An opening item has no document; the report's reader names it from source_type.
            found = labels.get(r.voucher_id, "") if r.voucher_id is not None else ""
        out[r.id] = found
    return out


def statement(db: Session, *, actor: Actor, partner: str, date_from: date, date_to: date) -> Statement:
    """对账单 of one partner over a date range, across 应收, 预收, 应付 and 预付: the balance
    before date_from (debit-positive, so positive is owed to us), one row per open item dated
    in the range in (date, id) order with its document and the running balance, and the
    closing balance. Raises PartnerUnknown, InvalidInput (date order)."""
    require(actor, perm.TRADE_READ)
    _check_range(date_from, date_to)
    with reading(db):
        pid = _partner_id(db, partner)
        assert pid is not None
        codes = {i: c for c, i in _account_ids(db).items()}
        where = [ITEM.c.partner_id == pid, ITEM.c.account_id.in_(sorted(codes))]
        opening = _dec(db.execute(select(_m(ITEM.c.amount)).where(*where, ITEM.c.item_date < date_from)).scalar())
        items = list(db.execute(
            select(ITEM.c.id, ITEM.c.account_id, ITEM.c.item_date, ITEM.c.amount, ITEM.c.source_type,
                   ITEM.c.source_id, ITEM.c.voucher_id, ITEM.c.memo)
            .where(*where, ITEM.c.item_date >= date_from, ITEM.c.item_date <= date_to)
            # A voucher's lines in its own order: the items of one voucher are not always
            # inserted in line order (PostgreSQL gave a settlement's 1122 line before its 2203).
            .order_by(ITEM.c.item_date, func.coalesce(ITEM.c.voucher_id, 0), func.coalesce(ITEM.c.line_no, 0),
                      ITEM.c.id)))
        docs = _documents(db, items)
        name = db.execute(select(PARTNER.c.name).where(PARTNER.c.id == pid)).scalar_one()
        balance, dr_total, cr_total = opening, MONEY_ZERO, MONEY_ZERO
        rows = []
        for r in items:
            dr = r.amount if r.amount > 0 else MONEY_ZERO
            cr = -r.amount if r.amount < 0 else MONEY_ZERO
            balance += r.amount
            dr_total += dr
            cr_total += cr
            rows.append(StatementRow(r.item_date, codes[r.account_id], docs[r.id], r.source_type, r.memo, dr, cr,
                                     balance))
        return Statement(partner, name, date_from, date_to, opening, rows, dr_total, cr_total, balance)


# --- 3. 未执行订单 ----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class OpenOrderRow:
    order: str
    order_date: date
    partner: str
    partner_name: str
    line_no: int
    product: str
    product_name: str
    ordered: Decimal
    done: Decimal  # received / delivered
    returned: Decimal
    open_qty: Decimal  # ordered − (done − returned)
    invoiced: Decimal
    price: Decimal  # excluding tax
    open_amount: Decimal  # open_qty × price, excluding tax
    delivery_date: date | None  # the line's, else the order's


@dataclass(frozen=True, slots=True)
class OpenOrders:
    side: str
    rows: list[OpenOrderRow]
    open_amount: Decimal


def open_orders(db: Session, *, actor: Actor, side: str, partner: str | None = None) -> OpenOrders:
    """未执行订单: the lines of audited purchase or sales orders that still have quantity to
    receive or deliver (ordered − (done − returned) > 0; goods returned are owed again), in
    (order date, order no, line) order. Closed and cancelled orders are not open.
    Raises InvalidInput (side), PartnerUnknown."""
    require(actor, perm.TRADE_READ)
    s = _side(side)
    with reading(db):
        pid = _partner_id(db, partner)
        open_qty = type_coerce(OLINE.c.qty - OLINE.c.done_qty + OLINE.c.returned_qty, Quantity())
        stmt = (select(ORDER.c.no, ORDER.c.order_date, ORDER.c.partner_id, ORDER.c.delivery_date.label("o_delivery"),
                       OLINE.c.line_no, OLINE.c.product_id, OLINE.c.qty, OLINE.c.done_qty, OLINE.c.returned_qty,
                       OLINE.c.invoiced_qty, OLINE.c.price, OLINE.c.delivery_date)
                .join(OLINE, OLINE.c.order_id == ORDER.c.id)
                .where(ORDER.c.side == s.value, ORDER.c.status == OrderStatus.AUDITED.value, open_qty > 0)
                .order_by(ORDER.c.order_date, ORDER.c.no, OLINE.c.line_no))
        if pid is not None:
            stmt = stmt.where(ORDER.c.partner_id == pid)
        found = list(db.execute(stmt))
        partners = _names(db, PARTNER, (r.partner_id for r in found))
        products = _names(db, PRODUCT, (r.product_id for r in found))
        rows = []
        for r in found:
            left = r.qty - (r.done_qty - r.returned_qty)
            rows.append(OpenOrderRow(r.no, r.order_date, *partners[r.partner_id], r.line_no, *products[r.product_id],
                                     r.qty, r.done_qty, r.returned_qty, left, r.invoiced_qty, r.price,
                                     money(left * r.price), r.delivery_date or r.o_delivery))
        return OpenOrders(s.value, rows, sum((r.open_amount for r in rows), MONEY_ZERO))


# --- 4. 已入库/已出库未开票 --------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class UninvoicedRow:
    document: str
    doc_date: date
    partner: str
    partner_name: str
    line_no: int
    product: str
    product_name: str
    qty: Decimal
    returned: Decimal  # by audited returns (less their red copies) and red-letter reversals
    invoiced: Decimal  # net of red invoices
    uninvoiced: Decimal
    price: Decimal | None  # excluding tax; a delivery may have none
    value: Decimal  # uninvoiced × price, excluding tax (0 without a price)


@dataclass(frozen=True, slots=True)
class UninvoicedTotals:
    qty: Decimal
    returned: Decimal
    invoiced: Decimal
    uninvoiced: Decimal
    value: Decimal


@dataclass(frozen=True, slots=True)
class Uninvoiced:
    side: str
    as_of: date | None
    rows: list[UninvoicedRow]
    totals: UninvoicedTotals


def _taken_back(side: Side, as_of: date | None) -> Any:
    """base line id -> quantity taken back: audited returns of it, less red copies of those
    returns, plus red-letter copies of its own document (a reversal takes all of it back)."""
    ret, red_ret, red_base = LINE.alias("ret"), LINE.alias("red_ret"), LINE.alias("red_base")
    rdoc, rrdoc, rbdoc = DOC.alias("rdoc"), DOC.alias("rrdoc"), DOC.alias("rbdoc")

    def dated(d: Any) -> list[Any]:
        return [d.c.status == AUDITED] + ([d.c.doc_date <= as_of] if as_of is not None else [])

    returns = (select(ret.c.source_line_id.label("base_id"), ret.c.qty.label("q"))
               .join(rdoc, rdoc.c.id == ret.c.doc_id)
               .where(rdoc.c.doc_type == _RETURN[side], rdoc.c.red.is_(False), *dated(rdoc),
                      ret.c.source_line_id.is_not(None)))
    unreturned = (select(ret.c.source_line_id.label("base_id"), (-red_ret.c.qty).label("q"))
                  .select_from(red_ret.join(rrdoc, rrdoc.c.id == red_ret.c.doc_id)
                               .join(ret, ret.c.id == red_ret.c.source_line_id))
                  .where(rrdoc.c.doc_type == _RETURN[side], rrdoc.c.red.is_(True), *dated(rrdoc),
                         ret.c.source_line_id.is_not(None)))
    reversed_ = (select(red_base.c.source_line_id.label("base_id"), red_base.c.qty.label("q"))
                 .join(rbdoc, rbdoc.c.id == red_base.c.doc_id)
                 .where(rbdoc.c.doc_type == _BASE[side], rbdoc.c.red.is_(True), *dated(rbdoc),
                        red_base.c.source_line_id.is_not(None)))
    moved = returns.union_all(unreturned, reversed_).subquery()
    return (select(moved.c.base_id, _q(moved.c.q).label("q")).group_by(moved.c.base_id)).subquery("taken")


def _invoiced_after(side: Side, as_of: date) -> Any:
    """base line id -> quantity invoiced by audited invoices dated after `as_of`: blue invoice
    links on the line, less red ones on it or on its returns (what the line's inv_qty counts).
    Link quantities are read as magnitudes, the invoice's red flag giving the sign. The line's
    invoiced quantity as of a date is its inv_qty less this: the invoices after a date are
    few, where those before it are the whole history (and SQLite would scan their grouped
    sums once per line)."""
    inv_doc = DOC.alias("inv_doc")
    size = type_coerce(func.abs(LINK.c.qty), Quantity())
    signed = case((INVOICE.c.red.is_(True), -size), else_=size)
    base_id = case((inv_doc.c.doc_type == _RETURN[side], LINE.c.source_line_id), else_=LINE.c.id)
    links = (select(base_id.label("base_id"), signed.label("q"))
             .select_from(LINK.join(ILINE, ILINE.c.id == LINK.c.invoice_line_id)
                          .join(INVOICE, INVOICE.c.id == ILINE.c.invoice_id)
                          .join(LINE, LINE.c.id == LINK.c.stock_line_id)
                          .join(inv_doc, inv_doc.c.id == LINE.c.doc_id))
             .where(INVOICE.c.side == side.value, INVOICE.c.status == AUDITED, INVOICE.c.invoice_date > as_of)
             .subquery())
    return (select(links.c.base_id, _q(links.c.q).label("q")).where(links.c.base_id.is_not(None))
            .group_by(links.c.base_id)).subquery("invoiced")


def uninvoiced(db: Session, *, actor: Actor, side: str, partner: str | None = None,
               as_of: date | None = None) -> Uninvoiced:
    """已入库未开票 (side purchase: receipt lines) / 已出库未开票 (side sales: delivery lines):
    audited, non-red lines with quantity left to invoice, qty − returned − invoiced > 0, valued
    at the line's price excluding tax, in (date, document, line) order.

    Without `as_of` this is the present state (invoiced = the line's inv_qty). With it,
    only documents, returns and invoices dated on or before it count, the invoiced quantity
    being rebuilt from the invoice links. Raises InvalidInput (side), PartnerUnknown."""
    require(actor, perm.TRADE_READ)
    s = _side(side)
    with reading(db):
        return uninvoiced_data(db, s, _partner_id(db, partner), as_of)


def uninvoiced_data(db: Session, s: Side, pid: int | None, as_of: date | None) -> Uninvoiced:
    """uninvoiced() in the caller's transaction (the close checklist reads it)."""
    taken = _taken_back(s, as_of)
    if as_of is None:
        inv_col: Any = LINE.c.inv_qty
        base_from: Any = LINE.join(DOC, DOC.c.id == LINE.c.doc_id).outerjoin(taken, taken.c.base_id == LINE.c.id)
    else:
        later = _invoiced_after(s, as_of)
        inv_col = LINE.c.inv_qty - func.coalesce(later.c.q, 0)
        base_from = (LINE.join(DOC, DOC.c.id == LINE.c.doc_id).outerjoin(taken, taken.c.base_id == LINE.c.id)
                     .outerjoin(later, later.c.base_id == LINE.c.id))
    back = func.coalesce(taken.c.q, 0)
    left = type_coerce(LINE.c.qty - back - inv_col, Quantity())
    stmt = (select(DOC.c.no, DOC.c.doc_date, DOC.c.partner_id, LINE.c.line_no, LINE.c.product_id, LINE.c.qty,
                   LINE.c.price, type_coerce(back, Quantity()).label("back"),
                   type_coerce(inv_col, Quantity()).label("inv"))
            .select_from(base_from)
            .where(DOC.c.doc_type == _BASE[s], DOC.c.status == AUDITED, DOC.c.red.is_(False), left > 0)
            .order_by(DOC.c.doc_date, DOC.c.no, LINE.c.line_no))
    if as_of is not None:
        stmt = stmt.where(DOC.c.doc_date <= as_of)
    if pid is not None:
        stmt = stmt.where(DOC.c.partner_id == pid)
    found = list(db.execute(stmt))
    partners = _names(db, PARTNER, (r.partner_id for r in found))
    products = _names(db, PRODUCT, (r.product_id for r in found))
    rows = []
    for r in found:
        back_q, inv_q = _dec(r.back), _dec(r.inv)
        open_q = r.qty - back_q - inv_q
        value = money(open_q * r.price) if r.price is not None else MONEY_ZERO
        rows.append(UninvoicedRow(r.no, r.doc_date, *partners.get(r.partner_id, ("", "")), r.line_no,
                                  *products[r.product_id], r.qty, back_q, inv_q, open_q, r.price, value))
    totals = UninvoicedTotals(_sum(rows, "qty", QTY_ZERO), _sum(rows, "returned", QTY_ZERO),
                              _sum(rows, "invoiced", QTY_ZERO), _sum(rows, "uninvoiced", QTY_ZERO),
                              _sum(rows, "value"))
    return Uninvoiced(s.value, as_of, rows, totals)


# --- 5. 销售毛利 / 6. 采购汇总: document lines of a side, signed -----------------------------

def _direction(base: str, ret: str) -> Any:
    """+1 for what adds to the side's movement (a receipt/delivery, a red return), −1 for what
    takes from it (a return, a red receipt/delivery)."""
    return case((and_(DOC.c.doc_type == base, DOC.c.red.is_(False)), 1),
                (and_(DOC.c.doc_type == ret, DOC.c.red.is_(True)), 1), else_=-1)


def _orig(col: Any) -> Any:
    """A line amount with the sign its original had: a red copy stores its amounts negated."""
    return case((DOC.c.red.is_(True), -col), else_=col)


@dataclass(frozen=True, slots=True)
class _Priced:
    """What a line without its own amount is worth: qty × the nearest price on its source chain."""

    key: Any
    direction: int
    qty: Decimal
    price: Decimal | None
    rate: Decimal | None


def _unpriced_lines(db: Session, key_col: Any, where: list[Any], direction: Any) -> list[_Priced]:
    """Lines with no amount (a return entered without a price, or a red copy of one): the price
    and rate come from the line, else its source line, else that line's source (a red copy of
    a return → the return → the receipt or delivery)."""
    src, src2 = LINE.alias("src"), LINE.alias("src2")
    rows = db.execute(
        select(key_col.label("key"), direction.label("dir"), LINE.c.qty,
               func.coalesce(LINE.c.price, src.c.price, src2.c.price).label("price"),
               func.coalesce(LINE.c.tax_rate, src.c.tax_rate, src2.c.tax_rate).label("rate"))
        .select_from(LINE.join(DOC, DOC.c.id == LINE.c.doc_id)
                     .outerjoin(src, src.c.id == LINE.c.source_line_id)
                     .outerjoin(src2, src2.c.id == src.c.source_line_id))
        .where(*where, LINE.c.amount.is_(None)))
    return [_Priced(r.key, int(r.dir), r.qty, r.price, r.rate) for r in rows]


def _doc_where(side: Side, date_from: date, date_to: date) -> list[Any]:
    return [DOC.c.doc_type.in_([_BASE[side], _RETURN[side]]), DOC.c.status == AUDITED,
            DOC.c.doc_date >= date_from, DOC.c.doc_date <= date_to]


@dataclass(frozen=True, slots=True)
class ProfitRow:
    key: str  # product code, customer code or salesperson
    name: str
    qty: Decimal
    revenue: Decimal  # excluding tax
    cost: Decimal
    profit: Decimal
    margin: Decimal | None  # profit / revenue to 4 places; None without revenue


@dataclass(frozen=True, slots=True)
class GrossProfit:
    by: str
    date_from: date
    date_to: date
    rows: list[ProfitRow]
    totals: ProfitRow


_PROFIT_BY = ("product", "customer", "salesperson")


def gross_profit(db: Session, *, actor: Actor, date_from: date, date_to: date, by: str) -> GrossProfit:
    """销售毛利 of audited sales deliveries and returns dated in the range, per product,
    customer or salesperson. Revenue is the lines' amount excluding tax (a return without a
    price at its source delivery's price); cost is what the stock ledger took out (the entries'
    value, with any negative-stock settlement they carried). Returns take off revenue, quantity
    and cost; red-letter copies count against what they reverse. Raises InvalidInput."""
    require(actor, perm.TRADE_READ)
    _choice("by", by, _PROFIT_BY)
    _check_range(date_from, date_to)
    with reading(db):
        base, ret = _BASE[Side.SALES], _RETURN[Side.SALES]
        where = _doc_where(Side.SALES, date_from, date_to)
        direction = _direction(base, ret)
        line_key = {"product": LINE.c.product_id, "customer": DOC.c.partner_id, "salesperson": DOC.c.salesperson}[by]
        entry_key = {"product": ENTRY.c.product_id, "customer": DOC.c.partner_id,
                     "salesperson": DOC.c.salesperson}[by]
        qtys: dict[Any, Decimal] = defaultdict(lambda: ZERO)
        revenue: dict[Any, Decimal] = defaultdict(lambda: ZERO)
        cost: dict[Any, Decimal] = defaultdict(lambda: ZERO)
        # Sums over the signed lines: the direction is inside the aggregate, grouped on a column.
        for r in db.execute(select(line_key.label("key"), _q(direction * LINE.c.qty).label("q"),
                                   _m(case((LINE.c.amount.is_(None), 0), else_=direction * _orig(LINE.c.amount)))
                                   .label("a"))
                            .select_from(LINE.join(DOC, DOC.c.id == LINE.c.doc_id)).where(*where)
                            .group_by(line_key)):
            qtys[r.key] += _dec(r.q)
            revenue[r.key] += _dec(r.a)
        for p in _unpriced_lines(db, line_key, where, direction):
            if p.price is not None:
                revenue[p.key] += p.direction * money(p.qty * p.price)
        for r in db.execute(select(entry_key.label("key"), _m(ENTRY.c.value - ENTRY.c.adjust).label("v"))
                            .select_from(ENTRY.join(DOC, DOC.c.id == ENTRY.c.doc_id))
                            .where(*where, ENTRY.c.leg == 0).group_by(entry_key)):
            cost[r.key] -= _dec(r.v)
        keys = set(qtys) | set(revenue) | set(cost)
        if by == "salesperson":
            labels = {k: (k, k) for k in keys}
        else:
            labels = _names(db, PRODUCT if by == "product" else PARTNER, keys)
            labels.update({k: ("", "") for k in keys if k not in labels})
        rows = []
        for k in sorted(keys, key=lambda x: labels[x][0]):
            rev, cst = money(revenue[k]), money(cost[k])
            rows.append(ProfitRow(*labels[k], qty(qtys[k]), rev, cst, rev - cst, _margin(rev - cst, rev)))
        t_rev, t_cost = _sum(rows, "revenue"), _sum(rows, "cost")
        totals = ProfitRow("", "", _sum(rows, "qty", QTY_ZERO), t_rev, t_cost, t_rev - t_cost,
                           _margin(t_rev - t_cost, t_rev))
        return GrossProfit(by, date_from, date_to, rows, totals)


@dataclass(frozen=True, slots=True)
class PurchaseRow:
    key: str  # supplier or product code
    name: str
    qty: Decimal  # received less returned
    amount: Decimal  # excluding tax
    tax: Decimal
    total: Decimal  # amount + tax
    invoiced: Decimal  # Σ amount (excluding tax) of audited purchase invoices dated in the range


@dataclass(frozen=True, slots=True)
class PurchaseSummary:
    by: str
    date_from: date
    date_to: date
    rows: list[PurchaseRow]
    totals: PurchaseRow


def purchase_summary(db: Session, *, actor: Actor, date_from: date, date_to: date, by: str) -> PurchaseSummary:
    """采购汇总表 per supplier or product: audited purchase receipts less purchase returns dated
    in the range (red-letter copies against what they reverse), quantity, amount and tax
    (a return without its own amount at its source receipt's price and rate), beside the
    amount of audited purchase invoices dated in the range (red invoices negative).
    Raises InvalidInput."""
    require(actor, perm.TRADE_READ)
    _choice("by", by, ("supplier", "product"))
    _check_range(date_from, date_to)
    with reading(db):
        base, ret = _BASE[Side.PURCHASE], _RETURN[Side.PURCHASE]
        where = _doc_where(Side.PURCHASE, date_from, date_to)
        direction = _direction(base, ret)
        line_key = LINE.c.product_id if by == "product" else DOC.c.partner_id
        sums: dict[Any, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO, ZERO, ZERO])  # qty, amount, tax, invoiced
        for r in db.execute(select(line_key.label("key"), _q(direction * LINE.c.qty).label("q"),
                                   _m(case((LINE.c.amount.is_(None), 0), else_=direction * _orig(LINE.c.amount)))
                                   .label("a"),
                                   _m(case((LINE.c.amount.is_(None), 0),
                                           else_=direction * _orig(func.coalesce(LINE.c.tax, 0)))).label("tax"))
                            .select_from(LINE.join(DOC, DOC.c.id == LINE.c.doc_id)).where(*where)
                            .group_by(line_key)):
            acc = sums[r.key]
            acc[0] += _dec(r.q)
            acc[1] += _dec(r.a)
            acc[2] += _dec(r.tax)
        for p in _unpriced_lines(db, line_key, where, direction):
            if p.price is not None:
                amount = money(p.qty * p.price)
                sums[p.key][1] += p.direction * amount
                sums[p.key][2] += p.direction * money(amount * (p.rate or ZERO))
        inv_key = ILINE.c.product_id if by == "product" else INVOICE.c.partner_id
        signed = case((INVOICE.c.red.is_(True), -type_coerce(func.abs(ILINE.c.amount), Money())),
                      else_=ILINE.c.amount)
        for r in db.execute(select(inv_key.label("key"), _m(signed).label("a"))
                            .select_from(ILINE.join(INVOICE, INVOICE.c.id == ILINE.c.invoice_id))
                            .where(INVOICE.c.side == Side.PURCHASE.value, INVOICE.c.status == AUDITED,
                                   INVOICE.c.invoice_date >= date_from, INVOICE.c.invoice_date <= date_to)
                            .group_by(inv_key)):
            sums[r.key][3] += _dec(r.a)
        labels = _names(db, PRODUCT if by == "product" else PARTNER, sums)
        labels.update({k: ("", "") for k in sums if k not in labels})
        rows = []
        for k in sorted(sums, key=lambda x: labels[x][0]):
            q, a, t, inv = sums[k]
            a, t = money(a), money(t)
            rows.append(PurchaseRow(*labels[k], qty(q), a, t, a + t, money(inv)))
        totals = PurchaseRow("", "", _sum(rows, "qty", QTY_ZERO), _sum(rows, "amount"), _sum(rows, "tax"),
                             _sum(rows, "total"), _sum(rows, "invoiced"))
        return PurchaseSummary(by, date_from, date_to, rows, totals)

