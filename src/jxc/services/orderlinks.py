"""What stock documents do to orders and to credit, called from the stock audit.

A receipt or delivery made from an order names the order's lines. Auditing it adds
its quantities to the lines' received/delivered quantity (a return, to their returned
quantity; a red-letter copy takes them off again) and refuses to go beyond the
ordered quantity plus the book's tolerance. Un-auditing takes them off, and is
refused while any of its lines is invoiced.

Credit control: a customer's exposure is open receivables (应收 less 预收) plus
deliveries not yet invoiced (at their tax-inclusive price) plus the new document.
Over the partner's credit limit, the book's setting warns or blocks.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, func, select

from jxc.db.base import table_of
from jxc.db.models import (
    Invoice,
    InvoiceLine,
    InvoiceLink,
    Partner,
    StockDoc,
    StockDocLine,
    TradeOrder,
    TradeOrderLine,
)
from jxc.domain.errors import InvalidInput
from jxc.domain.numbers import ZERO, money
from jxc.domain.stockdocs import DependentDocuments, DocType
from jxc.domain.trade import (
    ADVANCE_RECEIVED,
    AR_ACCOUNT,
    CreditControl,
    CreditLimitExceeded,
    OrderStatus,
    Side,
    TradeWarning,
    over_limit,
)
from jxc.services import arap
from jxc.services.common import DB, BookRules, conn_of, update_many

ORDER = table_of(TradeOrder)
OLINE = table_of(TradeOrderLine)
DOC = table_of(StockDoc)
LINE = table_of(StockDocLine)
PARTNER = table_of(Partner)
INVOICE = table_of(Invoice)
ILINE = table_of(InvoiceLine)
LINK = table_of(InvoiceLink)

# The order side and the effect a document's lines have on its order lines.
ORDER_SIDE = {DocType.PURCHASE_RECEIPT: Side.PURCHASE, DocType.PURCHASE_RETURN: Side.PURCHASE,
              DocType.SALES_DELIVERY: Side.SALES, DocType.SALES_RETURN: Side.SALES}
_RETURNS = {DocType.PURCHASE_RETURN, DocType.SALES_RETURN}


_ORDER_BY_NO = select(ORDER.c.id, ORDER.c.status, ORDER.c.partner_id).where(
    ORDER.c.side == bindparam("s"), ORDER.c.no == bindparam("no"))
_ORDER_LINES = select(OLINE.c.id, OLINE.c.product_id, OLINE.c.qty, OLINE.c.done_qty, OLINE.c.returned_qty).where(
    OLINE.c.order_id == bindparam("o")).order_by(OLINE.c.line_no)
_LOCK_ORDER_LINES = (select(OLINE.c.id, OLINE.c.line_no, OLINE.c.qty, OLINE.c.done_qty, OLINE.c.returned_qty,
                            ORDER.c.no, ORDER.c.status).join(ORDER, ORDER.c.id == OLINE.c.order_id)
                     .where(OLINE.c.id.in_(bindparam("ids", expanding=True))).order_by(OLINE.c.id)
                     .with_for_update(of=OLINE))


def resolve_order(db: DB, order_no: str, doc_type: str, partner_id: int | None,
                  lines: list[tuple[int, Decimal]]) -> tuple[int, list[int]]:
    """The order a receipt/delivery names, and for each of its (product, qty) lines the order
    line it fills: the first line of that product with quantity still open, else the last
    line of that product. Raises InvalidInput naming `order` or the line."""
    side = ORDER_SIDE.get(DocType(doc_type)) if doc_type in set(DocType) else None
    if side is None or DocType(doc_type) in _RETURNS:
        raise InvalidInput(field="order", reason="input.not_allowed")
    conn = conn_of(db)
    order = conn.execute(_ORDER_BY_NO, {"s": side.value, "no": order_no}).one_or_none()
    if order is None:
        raise InvalidInput(field="order", reason="trade.unknown_order", value=order_no)
    if order.status != OrderStatus.AUDITED:
        raise InvalidInput(field="order", reason="trade.order_not_open", value=order_no,
                           status=order.status)
    if partner_id is not None and order.partner_id != partner_id:
        raise InvalidInput(field="order", reason="trade.order_other_partner", value=order_no)
    olines = list(conn.execute(_ORDER_LINES, {"o": order.id}))
    open_qty = {r.id: r.qty - (r.done_qty - r.returned_qty) for r in olines}
    picked: list[int] = []
    for i, (product_id, qty) in enumerate(lines, start=1):
        same = [r.id for r in olines if r.product_id == product_id]
        if not same:
            raise InvalidInput(field=f"lines[{i}].product", reason="trade.not_on_order", value=order_no)
        chosen = next((x for x in same if open_qty[x] > 0), same[-1])
        open_qty[chosen] -= qty
        picked.append(chosen)
    return order.id, picked


def source_order_lines(db: DB, source_line_ids: list[int | None]) -> dict[int, int | None]:
    """The order line of each source line (a return or red copy fills the same order line)."""
    ids = sorted({x for x in source_line_ids if x})
    if not ids:
        return {}
    return {r.id: r.order_line_id for r in conn_of(db).execute(
        select(LINE.c.id, LINE.c.order_line_id).where(LINE.c.id.in_(ids)))}


_DOC_LINES = select(LINE.c.id, LINE.c.line_no, LINE.c.qty, LINE.c.order_line_id, LINE.c.inv_qty).where(
    LINE.c.doc_id == bindparam("d")).order_by(LINE.c.line_no)


def apply_stock(db: DB, doc: Any, sign: int, rules: BookRules) -> None:
    """Add (sign 1, audit) or take off (sign -1, un-audit) a document's quantities on its
    order lines. On audit, refuses a receipt/delivery beyond ordered × (1 + tolerance)."""
    doc_type = DocType(doc.doc_type)
    if doc_type not in ORDER_SIDE or (doc.order_id is None and doc.source_id is None):
        return  # made from no order, and not a return or red copy of a document that was
    conn = conn_of(db)
    lines = [r for r in conn.execute(_DOC_LINES, {"d": doc.id}) if r.order_line_id is not None]
    if not lines:
        return
    column = "returned_qty" if doc_type in _RETURNS else "done_qty"
    direction = -sign if doc.red else sign
    change: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for ln in lines:
        change[ln.order_line_id] += direction * ln.qty
    olines = {r.id: r for r in conn.execute(_LOCK_ORDER_LINES, {"ids": sorted(change)})}
    if sign > 0 and column == "done_qty" and direction > 0:
        for ln in lines:
            o = olines[ln.order_line_id]
            if o.status != OrderStatus.AUDITED:
                raise InvalidInput(field="order", reason="trade.order_not_open", value=o.no, status=o.status)
            if over_limit(o.qty, o.done_qty + change[o.id] - o.returned_qty, rules.order_tolerance):
                raise InvalidInput(field=f"lines[{ln.line_no}].qty", reason="trade.over_order", value=_plain(ln.qty),
                                   order=o.no, ordered=_plain(o.qty), done=_plain(o.done_qty - o.returned_qty))
    update_many(conn, OLINE, (column,), "id", [(a, i) for i, a in sorted(change.items()) if a], add=True)


def _plain(x: Decimal) -> str:
    return format(x.normalize(), "f")


def refuse_if_invoiced(db: DB, doc: Any) -> None:
    """Un-auditing a receipt/delivery or return that an invoice bills would orphan the invoice."""
    if DocType(doc.doc_type) not in ORDER_SIDE:
        return
    conn = conn_of(db)
    billed = list(conn.execute(
        select(INVOICE.c.no).distinct().select_from(
            LINK.join(ILINE, ILINE.c.id == LINK.c.invoice_line_id).join(INVOICE, INVOICE.c.id == ILINE.c.invoice_id))
        .join(LINE, LINE.c.id == LINK.c.stock_line_id).where(LINE.c.doc_id == doc.id)).scalars())
    if billed:
        raise DependentDocuments(document=doc.no, dependents=", ".join(sorted(billed)))


# --- credit control -----------------------------------------------------------------------

_SRC = LINE.alias("src")
_SRC2 = LINE.alias("src2")
# Built once: a statement built per call costs more in SQLAlchemy than SQLite takes to run it.
# A line's price: its own, else its source's (a return), else its source's source (the red copy
# of a return without prices).
_UNINVOICED = (
    select(DOC.c.doc_type, DOC.c.red, LINE.c.qty, LINE.c.inv_qty,
           func.coalesce(LINE.c.price, _SRC.c.price, _SRC2.c.price),
           func.coalesce(LINE.c.tax_rate, _SRC.c.tax_rate, _SRC2.c.tax_rate))
    .select_from(DOC.join(LINE, LINE.c.doc_id == DOC.c.id).outerjoin(_SRC, _SRC.c.id == LINE.c.source_line_id)
                 .outerjoin(_SRC2, _SRC2.c.id == _SRC.c.source_line_id))
    .where(DOC.c.partner_id == bindparam("p"), DOC.c.status == "audited",
           ((DOC.c.doc_type == DocType.SALES_DELIVERY.value) & (LINE.c.qty != LINE.c.inv_qty))
           | (DOC.c.doc_type == DocType.SALES_RETURN.value)))


def uninvoiced_deliveries(db: DB, partner_id: int) -> Decimal:
    """The tax-inclusive value of goods a customer holds that no invoice bills yet:
    Σ (delivered − net invoiced) over delivery lines (net invoiced: blue invoices less the red
    invoices of their returns), less everything returned, each at its delivery's price incl.
    tax. Red-letter copies count against what they reverse. Negative when the customer was
    billed for goods that came back and the red invoice is still due."""
    rows = conn_of(db).execute(_UNINVOICED, {"p": partner_id})
    total = ZERO
    for doc_type, red, q, inv, price, rate in rows:
        if price is None:
            continue
        gross = 1 + (rate or ZERO)
        if doc_type == DocType.SALES_DELIVERY:
            total += money((q - inv) * price * gross) * (-1 if red else 1)
        else:  # a return: the goods are back, billed or not (its red invoice lowered the delivery's net)
            total -= money(q * price * gross) * (-1 if red else 1)
    return total


def exposure(db: DB, partner_id: int) -> Decimal:
    """Open receivables less advances (应收 + 预收 items) plus deliveries not yet invoiced."""
    return arap.open_balance_of(db, (AR_ACCOUNT, ADVANCE_RECEIVED), partner_id) + uninvoiced_deliveries(db, partner_id)


_CREDIT_LIMIT = select(PARTNER.c.code, PARTNER.c.credit_limit).where(PARTNER.c.id == bindparam("p"))


def credit_check(db: DB, partner_id: int | None, amount: Decimal, rules: BookRules,
                 document: str) -> tuple[TradeWarning, ...]:
    """Check a customer's credit before auditing a sales order or delivery worth `amount`
    (tax included). Returns warnings (setting 'warn'); raises CreditLimitExceeded ('block')."""
    if partner_id is None or rules.credit_control == CreditControl.OFF or amount <= 0:
        return ()
    row = conn_of(db).execute(_CREDIT_LIMIT, {"p": partner_id}).one()
    if row.credit_limit is None:
        return ()
    total = exposure(db, partner_id) + amount
    if total <= row.credit_limit:
        return ()
    if rules.credit_control == CreditControl.BLOCK:
        raise CreditLimitExceeded(partner=row.code, limit=str(row.credit_limit), exposure=str(total),
                                  document=document)
    return (TradeWarning("trade.credit_warning", {"partner": row.code, "limit": str(row.credit_limit),
                                                  "exposure": str(total), "document": document}),)


_DELIVERY_VALUE = select(LINE.c.qty, LINE.c.price, LINE.c.tax_rate).where(LINE.c.doc_id == bindparam("d"))


def delivery_value(db: DB, doc_id: int) -> Decimal:
    """A delivery's tax-inclusive value at its prices (lines without a price count nothing)."""
    total = ZERO
    for q, price, rate in conn_of(db).execute(_DELIVERY_VALUE, {"d": doc_id}):
        if price is not None:
            total += money(q * price * (1 + (rate or ZERO)))
    return total
