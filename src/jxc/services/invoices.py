"""Purchase and sales invoices (采购发票 / 销售发票), blue and red (红字).

An invoice made from receipts or deliveries bills their lines: each invoice line is
spread over the source lines of its product that still have quantity to invoice
(InvoiceLink). A red invoice bills returns the same way. A standalone invoice bills
nothing in stock.

Auditing a purchase invoice posts, in one transaction (DOMAIN.md §2.1):

    Dr 应付账款—暂估 220202   the receipt's booked value for the quantity billed
                               (+ the part of the price difference kept in stock)
    Dr 主营业务成本 5401      the part of the price difference for goods already gone
    Dr 在途物资 1402          standalone lines: goods not received through a receipt
    Dr 进项税额 22210102      the tax, on a special invoice (专票) only
        Cr 应付账款 220201    the total, an open item of the supplier

The price difference is the invoice's cost (金额 on a special invoice, 价税合计 on an
ordinary one, whose tax is part of cost) less the receipt's booked value. The part
for goods still in stock goes to inventory through a cost adjustment (成本调整) of the
receipt's product/warehouse/batch (its FIFO layer, under FIFO), posted Dr 1405 / Cr
220202; the rest goes to cost of sales. Still in stock = min(billed quantity, stock on
hand at the invoice date); under FIFO what is left of the receipt's own layer; under
monthly average also the quantity issued earlier in the invoice's period, because the
period's costing run prices those issues from the pool the difference goes into.

Auditing a sales invoice posts Dr 应收 1122 (the total, an open item) / Cr 主营业务收入
5001 / Cr 销项税额 22210101 (§2.3). A red invoice posts the same lines in red.

Three-way match (三单匹配): a purchase invoice's price against its receipt's and its
order's, within the book's tolerance. A mismatch refuses the audit unless a user with
the override right accepts it; the accepted problems are kept on the invoice and in
the audit log.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, type_coerce, update
from sqlalchemy.orm import Session

from jxc.db.base import table_of
from jxc.db.models import (
    CashDoc,
    CashSettle,
    FifoLayer,
    Invoice,
    InvoiceLine,
    InvoiceLink,
    Product,
    StockDoc,
    StockDocLine,
    StockEntry,
    TradeOrderLine,
)
from jxc.db.types import Quantity
from jxc.domain import permissions as perm
from jxc.domain.costing import portion
from jxc.domain.errors import (
    BatchInvalid,
    DuplicateCode,
    InvalidInput,
    InvalidTransition,
    JxcError,
    NotFound,
    SameUserAudit,
)
from jxc.domain.numbers import ZERO
from jxc.domain.permissions import Actor
from jxc.domain.stockdocs import DependentDocuments, DocStatus, DocType, doc_number
from jxc.domain.trade import (
    AP_ACCOUNT,
    AR_ACCOUNT,
    COST_OF_SALES,
    ESTIMATED_AP,
    GOODS_IN_TRANSIT,
    INPUT_VAT,
    OUTPUT_VAT,
    REVENUE,
    InvoiceKind,
    MatchMismatch,
    Side,
    price_mismatch,
    split_difference,
)
from jxc.services import stock, tradecommon
from jxc.services.arap import ITEM, VOUCHER
from jxc.services.common import (
    DB,
    PeriodRef,
    append_audit,
    conn_of,
    deferred_audit,
    insert_unique,
    open_period_and_rules,
    reading,
    retrying,
    update_many,
    utcnow,
)
from jxc.services.tradecommon import parse_side
from jxc.services.vouchers import GenLine, insert_generated_voucher, void_generated_voucher

INVOICE = table_of(Invoice)
CASH = table_of(CashDoc)
CSETTLE = table_of(CashSettle)
ILINE = table_of(InvoiceLine)
LINK = table_of(InvoiceLink)
DOC = table_of(StockDoc)
SLINE = table_of(StockDocLine)
ENTRY = table_of(StockEntry)
OLINE = table_of(TradeOrderLine)
LAYER = table_of(FifoLayer)
PRODUCT = table_of(Product)

# What an invoice bills: blue ones receipts/deliveries, red ones returns.
_BILLS = {(Side.PURCHASE, False): DocType.PURCHASE_RECEIPT, (Side.PURCHASE, True): DocType.PURCHASE_RETURN,
          (Side.SALES, False): DocType.SALES_DELIVERY, (Side.SALES, True): DocType.SALES_RETURN}


@dataclass(frozen=True, slots=True)
class InvoiceLineIn:
    product: str
    qty: Decimal | None
    price: Decimal | None = None  # excluding tax
    price_incl_tax: Decimal | None = None
    tax_rate: Decimal | None = None  # the product's rate when not given


@dataclass(frozen=True, slots=True)
class InvoiceIn:
    side: str  # purchase | sales
    partner: str
    invoice_date: date
    lines: tuple[InvoiceLineIn, ...]
    invoice_kind: str = InvoiceKind.SPECIAL.value
    sources: tuple[str, ...] = ()  # receipt/delivery numbers it bills (red: return numbers)
    red: bool = False
    no: str | None = None
    memo: str = ""
    salesperson: str = ""


@dataclass(frozen=True, slots=True)
class InvoiceRef:
    id: int
    side: str
    no: str
    status: str
    total: Decimal
    red: bool = False
    match_override: str = ""  # the three-way match problems accepted at audit


# --- how much of a receipt/delivery line is left to bill --------------------------------

@dataclass(slots=True)
class _Pool:
    """A receipt/delivery line with its returns: what is left to invoice of it."""

    line_id: int
    doc_type: str
    product_id: int
    warehouse_id: int
    batch: str
    price: Decimal | None
    order_line_id: int | None
    qty: Decimal
    value: Decimal  # the booked (暂估) value of the line, as its entry carries it
    returned_qty: Decimal = ZERO
    returned_value: Decimal = ZERO
    inv_qty: Decimal = ZERO
    inv_value: Decimal = ZERO

    @property
    def left_qty(self) -> Decimal:  # negative: billed more than was kept (a return awaits a red invoice)
        return self.qty - self.returned_qty - self.inv_qty

    @property
    def left_value(self) -> Decimal:
        return self.value - self.returned_value - self.inv_value


_POOL_LINES = (
    select(SLINE.c.id, SLINE.c.qty, SLINE.c.price, SLINE.c.batch, SLINE.c.product_id, SLINE.c.order_line_id,
           SLINE.c.inv_qty, SLINE.c.inv_value, DOC.c.doc_type, DOC.c.warehouse_id, ENTRY.c.value)
    .select_from(SLINE.join(DOC, DOC.c.id == SLINE.c.doc_id)
                 .outerjoin(ENTRY, (ENTRY.c.doc_line_id == SLINE.c.id) & (ENTRY.c.leg == 0)))
    .where(SLINE.c.id.in_(bindparam("ids", expanding=True))))
# Lines that take quantity back from a line: its returns and its red-letter copy; and red copies
# of those returns, which give it back.
_TAKERS = (
    select(SLINE.c.id, SLINE.c.source_line_id, SLINE.c.qty, DOC.c.doc_type, DOC.c.red, ENTRY.c.value)
    .select_from(SLINE.join(DOC, DOC.c.id == SLINE.c.doc_id)
                 .outerjoin(ENTRY, (ENTRY.c.doc_line_id == SLINE.c.id) & (ENTRY.c.leg == 0)))
    .where(SLINE.c.source_line_id.in_(bindparam("ids", expanding=True)), DOC.c.status == DocStatus.AUDITED.value))


_LOCK_LINES = select(SLINE.c.id).where(SLINE.c.id.in_(bindparam("ids", expanding=True))).order_by(
    SLINE.c.id).with_for_update()


def _pools(db: DB, line_ids: Sequence[int], *, lock: bool = False) -> dict[int, _Pool]:
    ids = sorted(set(line_ids))
    if not ids:
        return {}
    conn = conn_of(db)
    if lock:  # concurrent invoices of one receipt line queue here
        conn.execute(_LOCK_LINES, {"ids": ids})
    pools = {r.id: _Pool(r.id, r.doc_type, r.product_id, r.warehouse_id, r.batch, r.price, r.order_line_id, r.qty,
                         abs(r.value or ZERO), inv_qty=r.inv_qty, inv_value=r.inv_value)
             for r in conn.execute(_POOL_LINES, {"ids": ids})}
    returns: dict[int, int] = {}
    for r in conn.execute(_TAKERS, {"ids": ids}):
        pool = pools[r.source_line_id]
        is_return = r.doc_type in (DocType.PURCHASE_RETURN, DocType.SALES_RETURN) and not r.red
        is_red_copy = r.doc_type == pool.doc_type and r.red
        if is_return or is_red_copy:
            pool.returned_qty += r.qty
            pool.returned_value += abs(r.value or ZERO)
            if is_return:
                returns[r.id] = r.source_line_id
    if returns:
        for r in conn.execute(_TAKERS, {"ids": sorted(returns)}):
            if r.red:
                pool = pools[returns[r.source_line_id]]
                pool.returned_qty -= r.qty
                pool.returned_value -= abs(r.value or ZERO)
    return pools


_RETURN_LINES = select(SLINE.c.id, SLINE.c.source_line_id, SLINE.c.qty, SLINE.c.inv_qty).where(
    SLINE.c.id.in_(bindparam("ids", expanding=True)))


@dataclass(frozen=True, slots=True)
class _Billable:
    """A stock line an invoice may bill, and how much of it: for a blue invoice a receipt/
    delivery line (its pool); for a red one a return line, billed against its source's pool."""

    line_id: int
    pool: _Pool
    available: Decimal


def _billables(db: DB, line_ids: Sequence[int], red: bool, *, lock: bool = False) -> dict[int, _Billable]:
    if not red:
        return {i: _Billable(i, p, max(p.left_qty, ZERO)) for i, p in _pools(db, line_ids, lock=lock).items()}
    rets = {r.id: r for r in conn_of(db).execute(_RETURN_LINES, {"ids": sorted(set(line_ids))})}
    pools = _pools(db, [r.source_line_id for r in rets.values() if r.source_line_id], lock=lock)
    # A return reversed in red (it did not happen) has that much less to bill.
    undone: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for t in conn_of(db).execute(_TAKERS, {"ids": sorted(rets)}):
        if t.red:
            undone[t.source_line_id] += t.qty
    out = {}
    for i, r in rets.items():
        pool = pools.get(r.source_line_id)
        if pool is not None:
            out[i] = _Billable(i, pool, max(min(r.qty - undone[i] - r.inv_qty, -pool.left_qty), ZERO))
    return out


# --- drafts -------------------------------------------------------------------------------

_SOURCE_DOC = select(DOC.c.id, DOC.c.no, DOC.c.status, DOC.c.partner_id, DOC.c.doc_date, DOC.c.red).where(
    DOC.c.doc_type == bindparam("t"), DOC.c.no == bindparam("no"))
_SOURCE_DOC_LINES = select(SLINE.c.id, SLINE.c.product_id).where(SLINE.c.doc_id == bindparam("d")).order_by(
    SLINE.c.line_no)


def enter_invoice(db: DB, data: InvoiceIn, actor: Actor) -> InvoiceRef:
    """Insert a draft invoice (no transaction of its own). Every problem at once (BatchInvalid),
    each naming its field or line."""
    side = parse_side(data.side)
    errors: list[JxcError] = []
    try:
        kind = InvoiceKind(data.invoice_kind)
    except ValueError:
        errors.append(InvalidInput(field="invoice_kind", reason="input.choice", value=data.invoice_kind,
                                   choices=", ".join(k.value for k in InvoiceKind)))
        kind = InvoiceKind.SPECIAL
    partner = tradecommon.partner_row(db, data.partner, side, errors)
    if not data.lines:
        errors.append(InvalidInput(field="lines", reason="stock.no_lines"))
    for name, text, limit in (("memo", data.memo, 200), ("salesperson", data.salesperson, 60)):
        if len(text) > limit:
            errors.append(InvalidInput(field=name, reason="input.too_long", max=limit))
    prods = tradecommon.products(db, {ln.product for ln in data.lines})
    rates = tradecommon.allowed_rates(db, data.invoice_date)
    priced = [tradecommon.priced_line(i, ln.product, ln.qty, ln.price, ln.price_incl_tax, ln.tax_rate, prods, rates,
                                      errors) for i, ln in enumerate(data.lines, start=1)]
    # The stock lines it may bill, in the order the sources are given.
    candidates: list[tuple[int, int]] = []  # (stock line id, product id)
    conn = conn_of(db)
    bills = _BILLS[(side, data.red)]
    for n, no in enumerate(data.sources, start=1):
        src = conn.execute(_SOURCE_DOC, {"t": bills.value, "no": no}).one_or_none()
        name = f"sources[{n}]"
        if src is None:
            errors.append(InvalidInput(field=name, reason="stock.unknown_source", value=no))
        elif src.status != DocStatus.AUDITED or src.red:
            errors.append(InvalidInput(field=name, reason="stock.source_not_audited", value=no))
        elif partner is not None and src.partner_id != partner.id:
            errors.append(InvalidInput(field=name, reason="stock.source_other_partner", value=no))
        elif src.doc_date > data.invoice_date:
            errors.append(InvalidInput(field=name, reason="trade.invoice_before_source", value=no,
                                       date=src.doc_date.isoformat()))
        else:
            candidates += [(r.id, r.product_id) for r in conn.execute(_SOURCE_DOC_LINES, {"d": src.id})]
    links: list[list[tuple[int, Decimal]]] = [[] for _ in data.lines]
    if data.sources and not errors:
        billable = _billables(db, [c[0] for c in candidates], data.red)
        left = {i: b.available for i, b in billable.items()}
        for i, p in enumerate(priced):
            if p is None:
                continue
            want = p.qty
            for line_id, product_id in candidates:
                if want == 0:
                    break
                if product_id != p.product_id or left.get(line_id, ZERO) <= 0:
                    continue
                take = min(want, left[line_id])
                left[line_id] -= take
                want -= take
                links[i].append((line_id, take))
            if want > 0:
                errors.append(InvalidInput(field=f"lines[{i + 1}].qty", reason="trade.invoice_exceeds",
                                           value=_plain(p.qty), available=_plain(p.qty - want)))
    if errors:
        raise BatchInvalid(errors)
    assert partner is not None
    period, _ = open_period_and_rules(db, data.invoice_date)
    no = tradecommon.number_for(db, "invoice", side, period, data.no)
    lines = [p for p in priced if p is not None]
    amount = sum((p.amounts.amount for p in lines), ZERO)
    tax = sum((p.amounts.tax for p in lines), ZERO)
    invoice_id = insert_unique(conn, INVOICE, ("side", "no"), {
        "side": side.value, "no": no, "invoice_date": data.invoice_date, "period_id": period.id,
        "partner_id": partner.id, "invoice_kind": kind.value, "red": data.red, "status": DocStatus.DRAFT.value,
        "amount": amount, "tax": tax, "total": amount + tax, "salesperson": data.salesperson, "memo": data.memo,
        "voucher_id": None, "match_override": "", "created_by": actor.id, "created_at": utcnow(), "audited_by": None})
    if invoice_id is None:
        raise DuplicateCode(entity=f"invoice_{side.value}", code=no)
    line_ids = [int(x) for x in conn.execute(insert(ILINE).returning(ILINE.c.id), [
        {"invoice_id": invoice_id, "line_no": i, "product_id": p.product_id, "qty": p.qty, "price": p.amounts.price,
         "price_incl_tax": p.price_incl_tax, "tax_rate": p.rate, "amount": p.amounts.amount, "tax": p.amounts.tax,
         "total": p.amounts.total} for i, p in enumerate(lines, start=1)]).scalars()]
    link_rows = [{"invoice_line_id": line_id, "stock_line_id": s, "qty": q, "booked": ZERO, "to_stock": ZERO,
                  "to_cost": ZERO, "adjust_doc_id": None}
                 for line_id, allocation in zip(line_ids, links, strict=True) for s, q in allocation]
    if link_rows:
        conn.execute(insert(LINK), link_rows)
    return InvoiceRef(invoice_id, side.value, no, DocStatus.DRAFT.value, amount + tax, data.red)


# --- audit --------------------------------------------------------------------------------

_LOCK = select(INVOICE).where(INVOICE.c.id == bindparam("i")).with_for_update()
_LINES = select(ILINE).where(ILINE.c.invoice_id == bindparam("i")).order_by(ILINE.c.line_no)
_LINKS = (select(LINK, ILINE.c.line_no).join(ILINE, ILINE.c.id == LINK.c.invoice_line_id)
          .where(ILINE.c.invoice_id == bindparam("i")).order_by(ILINE.c.line_no, LINK.c.id))
_KEY_BALANCE = (select(ENTRY.c.bal_qty).where(
    ENTRY.c.product_id == bindparam("p"), ENTRY.c.warehouse_id == bindparam("w"), ENTRY.c.batch == bindparam("b"),
    ENTRY.c.entry_date <= bindparam("d")).order_by(ENTRY.c.entry_date.desc(), ENTRY.c.id.desc()).limit(1))


_PERIOD_ISSUES = select(func.coalesce(func.sum(type_coerce(-ENTRY.c.qty, Quantity())), 0)).where(
    ENTRY.c.product_id == bindparam("p"), ENTRY.c.warehouse_id == bindparam("w"), ENTRY.c.batch == bindparam("b"),
    ENTRY.c.entry_date >= bindparam("start"), ENTRY.c.entry_date <= bindparam("d"), ENTRY.c.qty < 0)


def _on_hand(db: DB, pool: _Pool, method: str, day: date, period_start: date) -> Decimal:
    """Stock of the receipt's goods the price difference still concerns at `day`: under FIFO
    what is left of the receipt's own layer; under moving average the balance at that date;
    under monthly average also what was issued earlier in the period, since the period's
    costing run prices those issues from the same pool."""
    conn = conn_of(db)
    if method == "fifo":
        left = conn.execute(select(LAYER.c.qty).where(LAYER.c.ident == stock.ident(pool.line_id, 0))).scalar()
        return left or ZERO
    key = {"p": pool.product_id, "w": pool.warehouse_id, "b": pool.batch, "d": day}
    found = conn.execute(_KEY_BALANCE, key).scalar() or ZERO
    if method == "monthly_average":
        found += Decimal(conn.execute(_PERIOD_ISSUES, {**key, "start": period_start}).scalar_one())
    return found


@dataclass(slots=True)
class _Booked:
    link_id: int
    line_no: int
    billable: _Billable
    qty: Decimal
    cost: Decimal = ZERO  # the invoice's cost for these units (blue terms)
    booked: Decimal = ZERO  # the 暂估 it clears (blue terms)
    to_stock: Decimal = ZERO
    to_cost: Decimal = ZERO


@dataclass(slots=True)
class _Posting:
    lines: list[GenLine] = field(default_factory=list)

    def add(self, side: int, account: int, partner: int | None, amount: Decimal) -> None:
        if amount:
            self.lines.append(GenLine(account, partner, side, amount))


def _plain(x: Decimal) -> str:
    return format(x.normalize(), "f")


def _match_problems(db: DB, lines: dict[int, Any], booked: list[_Booked], tolerance: Decimal) -> list[str]:
    """三单匹配 problems of a purchase invoice: line, against what, expected and actual price."""
    problems: list[str] = []
    order_ids = sorted({b.billable.pool.order_line_id for b in booked if b.billable.pool.order_line_id})
    order_price = {r.id: r.price for r in conn_of(db).execute(
        select(OLINE.c.id, OLINE.c.price).where(OLINE.c.id.in_(order_ids)))} if order_ids else {}
    for b in booked:
        price = lines[b.line_no].price
        receipt_price = b.billable.pool.price
        if receipt_price is not None and price_mismatch(receipt_price, price, tolerance):
            problems.append(f"{b.line_no}:receipt:{_plain(receipt_price)}:{_plain(price)}")
        ordered = order_price.get(b.billable.pool.order_line_id or 0)
        if ordered is not None and price_mismatch(ordered, price, tolerance):
            problems.append(f"{b.line_no}:order:{_plain(ordered)}:{_plain(price)}")
    return sorted(set(problems), key=problems.index)


_SET_AUDITED = update(INVOICE).where(INVOICE.c.id == bindparam("i")).values(
    status=bindparam("s"), voucher_id=bindparam("v"), audited_by=bindparam("a"), match_override=bindparam("m"))


def _audit(db: DB, invoice_id: int, actor: Actor, override: bool) -> InvoiceRef:
    conn = conn_of(db)
    inv = conn.execute(_LOCK, {"i": invoice_id}).one_or_none()
    if inv is None:
        raise NotFound(entity="invoice", key=invoice_id)
    if inv.status != DocStatus.DRAFT:
        raise InvalidTransition(document=inv.no, current=inv.status, target=DocStatus.AUDITED.value)
    period, rules = open_period_and_rules(db, inv.invoice_date)
    if rules.require_distinct_auditor and inv.created_by == actor.id:
        raise SameUserAudit(voucher=inv.no, user=actor.username)
    side, sign = Side(inv.side), (-1 if inv.red else 1)
    lines = {r.line_no: r for r in conn.execute(_LINES, {"i": inv.id})}
    links = list(conn.execute(_LINKS, {"i": inv.id}))
    billable = _billables(db, [x.stock_line_id for x in links], inv.red, lock=True)
    # Quantities may have moved since the draft: bill no more than is left now.
    wanted: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for x in links:
        wanted[x.stock_line_id] += x.qty
    for x in links:
        b = billable.get(x.stock_line_id)
        if b is None or wanted[x.stock_line_id] > b.available:
            raise InvalidInput(field=f"lines[{x.line_no}].qty", reason="trade.invoice_exceeds", value=_plain(x.qty),
                               available=_plain(b.available if b else ZERO))
    booked = [_Booked(x.id, x.line_no, billable[x.stock_line_id], x.qty) for x in links]
    problems: list[str] = []
    if side is Side.PURCHASE and not inv.red:
        problems = _match_problems(db, lines, booked, rules.match_tolerance)
        if problems and not override:
            first = problems[0].split(":")
            raise MatchMismatch(invoice=inv.no, line_no=first[0], against=first[1], expected=first[2],
                                actual=first[3], count=len(problems))
        if problems:
            perm.require(actor, perm.INVOICE_OVERRIDE)
    accounts = _account_ids(db)
    post = _Posting()
    if side is Side.SALES:
        post.add(1, accounts[AR_ACCOUNT], inv.partner_id, sign * inv.total)
        post.add(-1, accounts[REVENUE], None, sign * inv.amount)
        post.add(-1, accounts[OUTPUT_VAT], None, sign * inv.tax)
    else:
        _cost_purchase(db, inv, lines, booked, period.start_date)
        special = inv.invoice_kind == InvoiceKind.SPECIAL
        linked_lines = {b.line_no for b in booked}
        standalone = sum(((ln.amount if special else ln.total) for n, ln in lines.items() if n not in linked_lines),
                         ZERO)
        post.add(1, accounts[ESTIMATED_AP], inv.partner_id, sign * sum((b.booked + b.to_stock for b in booked), ZERO))
        post.add(1, accounts[COST_OF_SALES], None, sign * sum((b.to_cost for b in booked), ZERO))
        post.add(1, accounts[GOODS_IN_TRANSIT], None, sign * standalone)
        if special:
            post.add(1, accounts[INPUT_VAT], None, sign * inv.tax)
        post.add(-1, accounts[AP_ACCOUNT], inv.partner_id, sign * inv.total)
    voucher_id = None
    if post.lines:
        voucher_id = insert_generated_voucher(db, period, rules, inv.invoice_date, inv.no, post.lines, "invoice",
                                              inv.id, actor)
    adjust_docs = _adjust_stock(db, inv, booked, period, actor) if side is Side.PURCHASE else {}
    _record(db, inv, booked, adjust_docs, 1)
    accepted = "; ".join(problems)[:400]
    conn.execute(_SET_AUDITED, {"i": inv.id, "s": DocStatus.AUDITED.value, "v": voucher_id, "a": actor.id,
                                "m": accepted})
    return InvoiceRef(inv.id, inv.side, inv.no, DocStatus.AUDITED.value, inv.total, inv.red, accepted)


_CODES = (AR_ACCOUNT, AP_ACCOUNT, ESTIMATED_AP, INPUT_VAT, OUTPUT_VAT, REVENUE, COST_OF_SALES, GOODS_IN_TRANSIT)
_ACCOUNT_IDS = select(tradecommon.ACCOUNT.c.code, tradecommon.ACCOUNT.c.id).where(
    tradecommon.ACCOUNT.c.code.in_(_CODES))


def _account_ids(db: DB) -> dict[str, int]:
    codes = _CODES
    found = {r.code: r.id for r in conn_of(db).execute(_ACCOUNT_IDS)}
    missing = [c for c in codes if c not in found]
    if missing:
        raise InvalidInput(field="account", reason="account.unknown", account=", ".join(missing))
    return found


def _cost_purchase(db: DB, inv: Any, lines: dict[int, Any], booked: list[_Booked], period_start: date) -> None:
    """Fill each link's cost, booked 暂估 and the split of its price difference (blue terms)."""
    special = inv.invoice_kind == InvoiceKind.SPECIAL
    by_line: dict[int, list[_Booked]] = defaultdict(list)
    for b in booked:
        by_line[b.line_no].append(b)
    methods = {r.id: r.costing_method for r in conn_of(db).execute(select(PRODUCT.c.id, PRODUCT.c.costing_method).where(
        PRODUCT.c.id.in_(sorted({b.billable.pool.product_id for b in booked}))))} if booked else {}
    # Several links may draw on one pool: each takes its share of what is left, the last the rest.
    left: dict[int, tuple[Decimal, Decimal]] = {}
    for n, group in sorted(by_line.items()):
        line = lines[n]
        cost_left, qty_left = (line.amount if special else line.total), line.qty
        for b in group:
            b.cost = portion(b.qty, qty_left, cost_left)
            cost_left -= b.cost
            qty_left -= b.qty
            pool = b.billable.pool
            pq, pv = left.get(pool.line_id, (pool.left_qty, pool.left_value))
            if not inv.red:
                b.booked = portion(b.qty, pq, pv) if pq > 0 else ZERO
                left[pool.line_id] = (pq - b.qty, pv - b.booked)
            else:  # the return took more off the 暂估 than was left: the red invoice gives it back
                b.booked = portion(b.qty, -pq, -pv) if pq < 0 else ZERO
                left[pool.line_id] = (pq + b.qty, pv + b.booked)
            on_hand = _on_hand(db, pool, methods[pool.product_id], inv.invoice_date, period_start)
            b.to_stock, b.to_cost = split_difference(b.cost - b.booked, b.qty, on_hand)


def _adjust_stock(db: DB, inv: Any, booked: list[_Booked], period: PeriodRef, actor: Actor) -> dict[int, int]:
    """Carry the in-stock part of the price differences into the stock ledger: one audited
    cost adjustment per warehouse, Dr inventory / Cr 暂估 (220202) of the supplier. Returns
    link id -> adjustment document id."""
    sign = -1 if inv.red else 1
    by_wh: dict[int, list[_Booked]] = defaultdict(list)
    for b in booked:
        if b.to_stock:
            by_wh[b.billable.pool.warehouse_id].append(b)
    if not by_wh:
        return {}
    conn = conn_of(db)
    estimated = tradecommon.account_id(db, ESTIMATED_AP)
    year, month = int(period.label[:4]), int(period.label[5:])
    out: dict[int, int] = {}
    for wh, group in sorted(by_wh.items()):
        no = doc_number(DocType.COST_ADJUSTMENT, year, month,
                              stock._next_doc_number(db, DocType.COST_ADJUSTMENT.value, period.id))
        doc_id = int(conn.execute(stock._DOC_INSERT, {
            "doc_type": DocType.COST_ADJUSTMENT.value, "no": no, "doc_date": inv.invoice_date, "period_id": period.id,
            "status": DocStatus.DRAFT.value, "red": False, "partner_id": inv.partner_id, "warehouse_id": wh,
            "to_warehouse_id": None, "source_id": None, "counter_account_id": estimated,
            "reason": f"invoice:{inv.no}", "memo": inv.no, "created_by": inv.created_by, "created_at": utcnow(),
            "audited_by": None, "voucher_id": None, "order_id": None, "salesperson": ""}).scalar_one())
        conn.execute(insert(SLINE), [
            {"doc_id": doc_id, "line_no": i, "product_id": b.billable.pool.product_id, "qty": ZERO, "price": None,
             "tax_rate": None, "amount": sign * b.to_stock, "tax": None, "batch": b.billable.pool.batch,
             "expiry": None, "book_qty": None, "source_line_id": b.billable.pool.line_id, "order_line_id": None}
            for i, b in enumerate(group, start=1)])
        stock.audit_doc(db, doc_id, actor)
        out.update({b.link_id: doc_id for b in group})
    return out


def _record(db: DB, inv: Any, booked: list[_Booked], adjust_docs: dict[int, int], direction: int) -> None:
    """Write (direction 1) or take back (-1) what an audit did to its links, the billed
    stock lines and their order lines."""
    conn = conn_of(db)
    sign = -1 if inv.red else 1
    if direction > 0:
        update_many(conn, LINK, ("booked", "to_stock", "to_cost", "adjust_doc_id"), "id",
                    [(b.booked, b.to_stock, b.to_cost, adjust_docs.get(b.link_id), b.link_id) for b in booked])
    pools: dict[int, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    own: dict[int, Decimal] = defaultdict(lambda: ZERO)
    orders: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for b in booked:
        pool = b.billable.pool
        pools[pool.line_id][0] += direction * sign * b.qty
        pools[pool.line_id][1] += direction * sign * b.booked
        if inv.red:
            own[b.billable.line_id] += direction * b.qty
        if pool.order_line_id:
            orders[pool.order_line_id] += direction * sign * b.qty
    update_many(conn, SLINE, ("inv_qty", "inv_value"), "id", [(q, v, i) for i, (q, v) in sorted(pools.items())],
                add=True)
    update_many(conn, SLINE, ("inv_qty",), "id", [(q, i) for i, q in sorted(own.items())], add=True)
    update_many(conn, OLINE, ("invoiced_qty",), "id", [(q, i) for i, q in sorted(orders.items())], add=True)


def _unaudit(db: DB, invoice_id: int, actor: Actor) -> InvoiceRef:
    conn = conn_of(db)
    inv = conn.execute(_LOCK, {"i": invoice_id}).one_or_none()
    if inv is None:
        raise NotFound(entity="invoice", key=invoice_id)
    if inv.status != DocStatus.AUDITED:
        raise InvalidTransition(document=inv.no, current=inv.status, target=DocStatus.DRAFT.value)
    open_period_and_rules(db, inv.invoice_date)
    if inv.voucher_id is not None:
        void_generated_voucher(db, inv.voucher_id, inv.no)  # refused while its open item is settled
    links = list(conn.execute(_LINKS, {"i": inv.id}))
    billable = _billables(db, [x.stock_line_id for x in links], inv.red, lock=True)
    booked = [_Booked(x.id, x.line_no, billable[x.stock_line_id], x.qty, booked=x.booked) for x in links]
    for doc_id in sorted({x.adjust_doc_id for x in links if x.adjust_doc_id}):
        stock._unaudit(db, doc_id, actor, for_invoice=True)
        conn.execute(update(LINK).where(LINK.c.adjust_doc_id == doc_id).values(adjust_doc_id=None))
        conn.execute(delete(SLINE).where(SLINE.c.doc_id == doc_id))
        conn.execute(delete(DOC).where(DOC.c.id == doc_id))
    _record(db, inv, booked, {}, -1)
    conn.execute(update(LINK).where(LINK.c.id.in_([x.id for x in links])).values(
        booked=ZERO, to_stock=ZERO, to_cost=ZERO))
    conn.execute(update(INVOICE).where(INVOICE.c.id == inv.id).values(
        status=DocStatus.DRAFT.value, voucher_id=None, audited_by=None, match_override=""))
    return InvoiceRef(inv.id, inv.side, inv.no, DocStatus.DRAFT.value, inv.total, inv.red)


# --- public services --------------------------------------------------------------------------

def create_invoice(db: Session, data: InvoiceIn, *, actor: Actor, audit: bool = False,
                   override_match: bool = False) -> InvoiceRef:
    """Enter an invoice as a draft, or draft and audit it in one transaction. Raises BatchInvalid
    naming every bad field and line, PeriodClosed/PeriodMissing, DuplicateCode, MatchMismatch."""
    perm.require(actor, perm.INVOICE_CREATE)
    if audit:
        perm.require(actor, perm.INVOICE_AUDIT)

    def work() -> InvoiceRef:
        with db.begin():
            conn = db.connection()
            with deferred_audit(conn, actor):  # both entries at the end, in one append
                ref = enter_invoice(conn, data, actor)
                append_audit(conn, actor, "invoice.create", "invoice", ref.id, {"no": ref.no, "side": ref.side})
                if audit:
                    ref = _audit(conn, ref.id, actor, override_match)
                    _audit_entry(conn, actor, ref, "invoice.audit")
            return ref
    return retrying(work)


def _audit_entry(conn: DB, actor: Actor, ref: InvoiceRef, action: str) -> None:
    params: dict[str, Any] = {"no": ref.no, "side": ref.side, "total": str(ref.total)}
    if ref.match_override:
        params["match_override"] = ref.match_override
    append_audit(conn, actor, action, "invoice", ref.id, params)


def audit_invoice(db: Session, invoice_id: int, *, actor: Actor, override_match: bool = False) -> InvoiceRef:
    """审核: post the invoice's voucher and open item, clear the 暂估, carry price differences.
    override_match accepts three-way match problems (needs invoice.override_match)."""
    perm.require(actor, perm.INVOICE_AUDIT)

    def work() -> InvoiceRef:
        with db.begin():
            conn = db.connection()
            ref = _audit(conn, invoice_id, actor, override_match)
            _audit_entry(conn, actor, ref, "invoice.audit")
            return ref
    return retrying(work)


def unaudit_invoice(db: Session, invoice_id: int, *, actor: Actor) -> InvoiceRef:
    """反审核 while its period is open and nothing has settled it."""
    perm.require(actor, perm.INVOICE_AUDIT)

    def work() -> InvoiceRef:
        with db.begin():
            conn = db.connection()
            ref = _unaudit(conn, invoice_id, actor)
            append_audit(conn, actor, "invoice.unaudit", "invoice", ref.id, {"no": ref.no, "side": ref.side})
            return ref
    return retrying(work)


def delete_invoice(db: Session, invoice_id: int, *, actor: Actor) -> None:
    perm.require(actor, perm.INVOICE_CREATE)
    with db.begin():
        conn = db.connection()
        inv = conn.execute(_LOCK, {"i": invoice_id}).one_or_none()
        if inv is None:
            raise NotFound(entity="invoice", key=invoice_id)
        if inv.status != DocStatus.DRAFT:
            raise InvalidTransition(document=inv.no, current=inv.status, target="deleted")
        named_by = list(conn.execute(select(CASH.c.no).distinct().join(CSETTLE, CSETTLE.c.cash_doc_id == CASH.c.id)
                                     .where(CSETTLE.c.invoice_id == invoice_id)).scalars())
        if named_by:  # receipts/payments that would settle it: change or delete those first
            raise DependentDocuments(document=inv.no, dependents=", ".join(sorted(named_by)))
        conn.execute(delete(INVOICE).where(INVOICE.c.id == invoice_id))
        append_audit(conn, actor, "invoice.delete", "invoice", invoice_id, {"no": inv.no})


def find_invoice_id(db: Session, side: str, no: str) -> int:
    found = db.execute(select(INVOICE.c.id).where(INVOICE.c.side == side, INVOICE.c.no == no)).scalar()
    if found is None:
        raise NotFound(entity="invoice", key=no)
    return int(found)


_FORM_DOC = select(DOC.c.id, DOC.c.partner_id, DOC.c.status).where(DOC.c.doc_type == bindparam("t"),
                                                                   DOC.c.no == bindparam("no"))
_FORM_LINES = (select(SLINE.c.id, SLINE.c.price, SLINE.c.tax_rate, SLINE.c.source_line_id, PRODUCT.c.code,
                      PRODUCT.c.tax_rate.label("product_rate"))
               .join(PRODUCT, PRODUCT.c.id == SLINE.c.product_id).where(SLINE.c.doc_id == bindparam("d"))
               .order_by(SLINE.c.line_no))
_PARTNER_CODE = select(tradecommon.PARTNER.c.code).where(tradecommon.PARTNER.c.id == bindparam("p"))


def invoice_from_stock(db: Session, side: str, sources: Sequence[str], invoice_date: date, *, actor: Actor,
                       red: bool = False, invoice_kind: str = InvoiceKind.SPECIAL.value) -> InvoiceIn:
    """An invoice that bills what is left of these receipts/deliveries (red: returns), at
    their prices and tax rates: the form a clerk starts from (从入库单生成发票)."""
    perm.require(actor, perm.TRADE_READ)
    s = parse_side(side)
    bills = _BILLS[(s, red)]
    with reading(db):
        conn = db.connection()
        lines: list[InvoiceLineIn] = []
        partner = None
        for n, no in enumerate(sources, start=1):
            src = conn.execute(_FORM_DOC, {"t": bills.value, "no": no}).one_or_none()
            if src is None or src.status != DocStatus.AUDITED:
                raise InvalidInput(field=f"sources[{n}]", reason="stock.unknown_source", value=no)
            partner = src.partner_id
            rows = list(conn.execute(_FORM_LINES, {"d": src.id}))
            billable = _billables(conn, [r.id for r in rows], red)
            billed = _billed_prices(conn, [b.pool.line_id for b in billable.values()]) if red else {}
            for r in rows:
                b = billable.get(r.id)
                if b is None or b.available <= 0:
                    continue
                # A red invoice gives back what the blue one charged; otherwise the document's price.
                price, rate = billed.get(b.pool.line_id, (r.price if r.price is not None else b.pool.price,
                                                          r.tax_rate))
                lines.append(InvoiceLineIn(r.code, b.available, price if price is not None else ZERO,
                                           tax_rate=rate if rate is not None else r.product_rate))
        code = conn.execute(_PARTNER_CODE, {"p": partner}).scalar()
    return InvoiceIn(s.value, code or "", invoice_date, tuple(lines), invoice_kind, tuple(sources), red)


def _billed_prices(conn: Any, line_ids: list[int]) -> dict[int, tuple[Decimal, Decimal]]:
    """The price and rate the latest audited blue invoice charged for each receipt/delivery line."""
    if not line_ids:
        return {}
    rows = conn.execute(select(LINK.c.stock_line_id, ILINE.c.price, ILINE.c.tax_rate)
                        .join(ILINE, ILINE.c.id == LINK.c.invoice_line_id)
                        .join(INVOICE, INVOICE.c.id == ILINE.c.invoice_id)
                        .where(LINK.c.stock_line_id.in_(sorted(set(line_ids))), INVOICE.c.status == "audited",
                               INVOICE.c.red.is_(False)).order_by(INVOICE.c.invoice_date, INVOICE.c.id))
    return {r.stock_line_id: (r.price, r.tax_rate) for r in rows}


@dataclass(frozen=True, slots=True)
class InvoiceLineView:
    line_no: int
    product: str
    qty: Decimal
    price: Decimal
    tax_rate: Decimal
    amount: Decimal
    tax: Decimal
    total: Decimal
    billed: tuple[tuple[str, Decimal], ...]  # (stock document number, qty)


@dataclass(frozen=True, slots=True)
class InvoiceView:
    id: int
    side: str
    no: str
    invoice_date: date
    partner: str
    invoice_kind: str
    red: bool
    status: str
    amount: Decimal
    tax: Decimal
    total: Decimal
    open: Decimal | None  # what is left to settle (audited)
    voucher: str | None
    match_override: str
    lines: tuple[InvoiceLineView, ...]


def get_invoice(db: Session, invoice_id: int, *, actor: Actor) -> InvoiceView:
    perm.require(actor, perm.TRADE_READ)
    with reading(db):
        conn = db.connection()
        inv = conn.execute(select(INVOICE).where(INVOICE.c.id == invoice_id)).one_or_none()
        if inv is None:
            raise NotFound(entity="invoice", key=invoice_id)
        partner = conn.execute(select(tradecommon.PARTNER.c.code).where(
            tradecommon.PARTNER.c.id == inv.partner_id)).scalar_one()
        billed: dict[int, list[tuple[str, Decimal]]] = defaultdict(list)
        for r in conn.execute(select(LINK.c.invoice_line_id, DOC.c.no, LINK.c.qty)
                              .join(SLINE, SLINE.c.id == LINK.c.stock_line_id).join(DOC, DOC.c.id == SLINE.c.doc_id)
                              .join(ILINE, ILINE.c.id == LINK.c.invoice_line_id)
                              .where(ILINE.c.invoice_id == invoice_id).order_by(LINK.c.id)):
            billed[r.invoice_line_id].append((r.no, r.qty))
        lines = tuple(InvoiceLineView(r.line_no, r.code, r.qty, r.price, r.tax_rate, r.amount, r.tax, r.total,
                                      tuple(billed[r.id]))
                      for r in conn.execute(select(ILINE, PRODUCT.c.code)
                                            .join(PRODUCT, PRODUCT.c.id == ILINE.c.product_id)
                                            .where(ILINE.c.invoice_id == invoice_id).order_by(ILINE.c.line_no)))
        open_amount = None
        label = None
        if inv.voucher_id is not None:
            opened = conn.execute(select(func.sum(ITEM.c.open)).where(ITEM.c.voucher_id == inv.voucher_id)).scalar()
            open_amount = abs(Decimal(opened or 0))
            v = conn.execute(select(VOUCHER.c.word, VOUCHER.c.number).where(VOUCHER.c.id == inv.voucher_id)).one()
            label = f"{v.word}-{v.number}"
    return InvoiceView(inv.id, inv.side, inv.no, inv.invoice_date, partner, inv.invoice_kind, inv.red, inv.status,
                       inv.amount, inv.tax, inv.total, open_amount, label, inv.match_override, lines)


@dataclass(frozen=True, slots=True)
class InvoiceSummary:
    id: int
    no: str
    invoice_date: date
    partner: str
    invoice_kind: str
    red: bool
    status: str
    total: Decimal


def list_invoices(db: Session, *, actor: Actor, side: str, date_from: date, date_to: date,
                  partner: str | None = None, after: int | None = None, limit: int = 100) -> list[InvoiceSummary]:
    """Invoices of a side in a date range in entry order, a page of `limit` after id `after`."""
    perm.require(actor, perm.TRADE_READ)
    s = parse_side(side)
    with reading(db):
        q = (select(INVOICE.c.id, INVOICE.c.no, INVOICE.c.invoice_date, tradecommon.PARTNER.c.code,
                    INVOICE.c.invoice_kind, INVOICE.c.red, INVOICE.c.status, INVOICE.c.total)
             .join(tradecommon.PARTNER, tradecommon.PARTNER.c.id == INVOICE.c.partner_id)
             .where(INVOICE.c.side == s.value, INVOICE.c.invoice_date >= date_from, INVOICE.c.invoice_date <= date_to))
        if partner:
            q = q.where(tradecommon.PARTNER.c.code == partner)
        if after is not None:
            q = q.where(INVOICE.c.id > after)
        rows = db.execute(q.order_by(INVOICE.c.id).limit(limit)).all()
    return [InvoiceSummary(*r) for r in rows]

