"""Purchase and sales orders (采购订单 / 销售订单).

An order posts nothing. Audited, it is what receipts and deliveries are made from;
its lines count what was received/delivered, returned and invoiced against them
(services/orderlinks.py and invoices.py keep the counts), and its execution status
(未执行/部分执行/已完成/已关闭) follows from those counts. A sales order's audit
checks the customer's credit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from jxc.db.base import table_of
from jxc.db.models import TradeOrder, TradeOrderLine
from jxc.domain import permissions as perm
from jxc.domain.errors import (
    BatchInvalid,
    DuplicateCode,
    InvalidInput,
    InvalidTransition,
    JxcError,
    NotFound,
    SameUserAudit,
)
from jxc.domain.permissions import Actor
from jxc.domain.stockdocs import DependentDocuments, DocType
from jxc.domain.trade import Execution, OrderStatus, Side, TradeWarning, execution
from jxc.services import orderlinks, stock, tradecommon
from jxc.services.common import (
    DB,
    append_audit,
    book_rules,
    conn_of,
    deferred_audit,
    insert_unique,
    open_period_and_rules,
    reading,
    retrying,
    utcnow,
)
from jxc.services.tradecommon import PARTNER, PRODUCT, parse_side

ORDER = table_of(TradeOrder)
OLINE = table_of(TradeOrderLine)
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class OrderLineIn:
    product: str
    qty: Decimal | None
    price: Decimal | None = None  # excluding tax
    price_incl_tax: Decimal | None = None
    tax_rate: Decimal | None = None
    delivery_date: date | None = None


@dataclass(frozen=True, slots=True)
class OrderIn:
    side: str
    partner: str
    order_date: date
    lines: tuple[OrderLineIn, ...]
    delivery_date: date | None = None
    no: str | None = None
    memo: str = ""
    salesperson: str = ""


@dataclass(frozen=True, slots=True)
class OrderRef:
    id: int
    side: str
    no: str
    status: str
    total: Decimal
    warnings: tuple[TradeWarning, ...] = ()


def enter_order(db: DB, data: OrderIn, actor: Actor) -> OrderRef:
    side = parse_side(data.side)
    errors: list[JxcError] = []
    partner = tradecommon.partner_row(db, data.partner, side, errors)
    if not data.lines:
        errors.append(InvalidInput(field="lines", reason="stock.no_lines"))
    for name, text, limit in (("memo", data.memo, 200), ("salesperson", data.salesperson, 60)):
        if len(text) > limit:
            errors.append(InvalidInput(field=name, reason="input.too_long", max=limit))
    prods = tradecommon.products(db, {ln.product for ln in data.lines})
    rates = tradecommon.allowed_rates(db, data.order_date)
    priced = [tradecommon.priced_line(i, ln.product, ln.qty, ln.price, ln.price_incl_tax, ln.tax_rate, prods, rates,
                                      errors) for i, ln in enumerate(data.lines, start=1)]
    if data.delivery_date is not None and data.delivery_date < data.order_date:
        errors.append(InvalidInput(field="delivery_date", reason="input.date_order",
                                   value=data.delivery_date.isoformat()))
    if errors:
        raise BatchInvalid(errors)
    assert partner is not None
    period, _ = open_period_and_rules(db, data.order_date)
    no = tradecommon.number_for(db, "order", side, period, data.no)
    lines = [p for p in priced if p is not None]
    amount = sum((p.amounts.amount for p in lines), ZERO)
    tax = sum((p.amounts.tax for p in lines), ZERO)
    conn = conn_of(db)
    order_id = insert_unique(conn, ORDER, ("side", "no"), {
        "side": side.value, "no": no, "order_date": data.order_date, "partner_id": partner.id,
        "status": OrderStatus.DRAFT.value, "delivery_date": data.delivery_date, "salesperson": data.salesperson,
        "memo": data.memo, "amount": amount, "tax": tax, "created_by": actor.id, "created_at": utcnow(),
        "audited_by": None})
    if order_id is None:
        raise DuplicateCode(entity=f"order_{side.value}", code=no)
    conn.execute(insert(OLINE), [
        {"order_id": order_id, "line_no": i, "product_id": p.product_id, "qty": p.qty, "price": p.amounts.price,
         "price_incl_tax": p.price_incl_tax, "tax_rate": p.rate, "amount": p.amounts.amount, "tax": p.amounts.tax,
         "delivery_date": ln.delivery_date or data.delivery_date, "done_qty": ZERO, "returned_qty": ZERO,
         "invoiced_qty": ZERO}
        for i, (p, ln) in enumerate(zip(lines, data.lines, strict=True), start=1)])
    return OrderRef(order_id, side.value, no, OrderStatus.DRAFT.value, amount + tax)


_LOCK = select(ORDER).where(ORDER.c.id == bindparam("o")).with_for_update()
_TOUCHED = select(func.count()).select_from(OLINE).where(
    OLINE.c.order_id == bindparam("o"),
    (OLINE.c.done_qty != 0) | (OLINE.c.returned_qty != 0) | (OLINE.c.invoiced_qty != 0))

# action -> (statuses it starts from, status it leads to)
_ACTIONS = {
    "audit": ((OrderStatus.DRAFT,), OrderStatus.AUDITED),
    "unaudit": ((OrderStatus.AUDITED,), OrderStatus.DRAFT),
    "close": ((OrderStatus.AUDITED,), OrderStatus.CLOSED),
    "reopen": ((OrderStatus.CLOSED,), OrderStatus.AUDITED),
    "cancel": ((OrderStatus.DRAFT, OrderStatus.AUDITED), OrderStatus.CANCELLED),
}


def _step(db: DB, order_id: int, action: str, actor: Actor) -> OrderRef:
    conn = conn_of(db)
    order = conn.execute(_LOCK, {"o": order_id}).one_or_none()
    if order is None:
        raise NotFound(entity="order", key=order_id)
    sources, target = _ACTIONS[action]
    if order.status not in sources:
        raise InvalidTransition(document=order.no, current=order.status, target=target.value)
    warnings: tuple[TradeWarning, ...] = ()
    if action in ("unaudit", "cancel") and conn.execute(_TOUCHED, {"o": order.id}).scalar_one():
        raise InvalidInput(field="order", reason="trade.order_in_use", value=order.no)
    if action == "audit":
        # An order posts nothing, so a closed period does not stop its audit, as it does not
        # stop its other steps (a draft order may be left over a close).
        rules = book_rules(db)
        if rules.require_distinct_auditor and order.created_by == actor.id:
            raise SameUserAudit(voucher=order.no, user=actor.username)
        if order.side == Side.SALES:
            warnings = orderlinks.credit_check(db, order.partner_id, order.amount + order.tax, rules, order.no)
    conn.execute(update(ORDER).where(ORDER.c.id == order.id).values(
        status=target.value, audited_by=actor.id if action == "audit" else (
            None if target is OrderStatus.DRAFT else order.audited_by)))
    return OrderRef(order.id, order.side, order.no, target.value, order.amount + order.tax, warnings)


def create_order(db: Session, data: OrderIn, *, actor: Actor, audit: bool = False) -> OrderRef:
    """Enter an order as a draft, or draft and audit it in one transaction. Raises BatchInvalid
    naming every bad field and line (a tax rate not in the settings' list among them),
    DuplicateCode, CreditLimitExceeded (sales, when the book blocks)."""
    perm.require(actor, perm.ORDER_CREATE)
    if audit:
        perm.require(actor, perm.ORDER_AUDIT)

    def work() -> OrderRef:
        with db.begin():
            conn = db.connection()
            with deferred_audit(conn, actor):  # both entries at the end, in one append
                ref = enter_order(conn, data, actor)
                append_audit(conn, actor, "order.create", "order", ref.id, {"no": ref.no, "side": ref.side})
                if audit:
                    ref = _step(conn, ref.id, "audit", actor)
                    _log(conn, actor, ref, "audit")
            return ref
    return retrying(work)


def _log(conn: DB, actor: Actor, ref: OrderRef, action: str) -> None:
    params: dict[str, Any] = {"no": ref.no, "side": ref.side}
    if ref.warnings:
        params["warnings"] = [[w.code, w.params] for w in ref.warnings]
    append_audit(conn, actor, f"order.{action}", "order", ref.id, params)


def order_action(db: Session, order_id: int, action: str, *, actor: Actor) -> OrderRef:
    """audit, unaudit (nothing done against it yet), close (no more receipts/deliveries),
    reopen (a closed one), cancel (a draft, or an audited order nothing was done against)."""
    if action not in _ACTIONS:
        raise InvalidInput(field="action", reason="input.choice", value=action, choices=", ".join(_ACTIONS))
    perm.require(actor, perm.ORDER_AUDIT)

    def work() -> OrderRef:
        with db.begin():
            conn = db.connection()
            ref = _step(conn, order_id, action, actor)
            _log(conn, actor, ref, action)
            return ref
    return retrying(work)


def delete_order(db: Session, order_id: int, *, actor: Actor) -> None:
    perm.require(actor, perm.ORDER_CREATE)
    with db.begin():
        conn = db.connection()
        order = conn.execute(_LOCK, {"o": order_id}).one_or_none()
        if order is None:
            raise NotFound(entity="order", key=order_id)
        if order.status != OrderStatus.DRAFT:
            raise InvalidTransition(document=order.no, current=order.status, target="deleted")
        named_by = list(conn.execute(select(stock.DOC.c.no).where(stock.DOC.c.order_id == order_id)).scalars())
        if named_by:  # receipts/deliveries made from it: delete those first
            raise DependentDocuments(document=order.no, dependents=", ".join(sorted(named_by)))
        conn.execute(delete(ORDER).where(ORDER.c.id == order_id))
        append_audit(conn, actor, "order.delete", "order", order_id, {"no": order.no})


def find_order_id(db: Session, side: str, no: str) -> int:
    found = db.execute(select(ORDER.c.id).where(ORDER.c.side == side, ORDER.c.no == no)).scalar()
    if found is None:
        raise NotFound(entity="order", key=no)
    return int(found)


@dataclass(frozen=True, slots=True)
class OrderLineView:
    line_no: int
    product: str
    qty: Decimal
    price: Decimal
    tax_rate: Decimal
    amount: Decimal
    tax: Decimal
    delivery_date: date | None
    done: Decimal  # received / delivered
    returned: Decimal
    invoiced: Decimal

    @property
    def open(self) -> Decimal:
        return max(self.qty - (self.done - self.returned), ZERO)


@dataclass(frozen=True, slots=True)
class OrderView:
    id: int
    side: str
    no: str
    order_date: date
    partner: str
    status: str
    execution: Execution
    delivery_date: date | None
    amount: Decimal
    tax: Decimal
    salesperson: str
    memo: str
    lines: tuple[OrderLineView, ...]


def get_order(db: Session, order_id: int, *, actor: Actor) -> OrderView:
    perm.require(actor, perm.TRADE_READ)
    with reading(db):
        return _view(db.connection(), order_id)


_VIEW_ORDER = (select(ORDER, PARTNER.c.code.label("partner")).join(PARTNER, PARTNER.c.id == ORDER.c.partner_id)
               .where(ORDER.c.id == bindparam("o")))
_VIEW_LINES = (select(OLINE, PRODUCT.c.code).join(PRODUCT, PRODUCT.c.id == OLINE.c.product_id)
               .where(OLINE.c.order_id == bindparam("o")).order_by(OLINE.c.line_no))
_ORDER_ID = select(ORDER.c.id).where(ORDER.c.side == bindparam("s"), ORDER.c.no == bindparam("no"))


def _view(conn: Any, order_id: int) -> OrderView:
    o = conn.execute(_VIEW_ORDER, {"o": order_id}).one_or_none()
    if o is None:
        raise NotFound(entity="order", key=order_id)
    lines = tuple(OrderLineView(r.line_no, r.code, r.qty, r.price, r.tax_rate, r.amount, r.tax, r.delivery_date,
                                r.done_qty, r.returned_qty, r.invoiced_qty)
                  for r in conn.execute(_VIEW_LINES, {"o": order_id}))
    state = execution(o.status, [(ln.qty, ln.done, ln.returned) for ln in lines]) \
        if o.status != OrderStatus.DRAFT else Execution.NOT_STARTED
    return OrderView(o.id, o.side, o.no, o.order_date, o.partner, o.status, state, o.delivery_date, o.amount, o.tax,
                     o.salesperson, o.memo, lines)


def stock_doc_from_order(db: Session, side: str, no: str, doc_date: date, warehouse: str, *,
                         actor: Actor) -> stock.StockDocIn:
    """A receipt (purchase) or delivery (sales) for what is still open on an order, at its
    prices: the form the warehouse clerk starts from (由订单生成入库/出库单)."""
    perm.require(actor, perm.TRADE_READ)
    s = parse_side(side)
    with reading(db):
        found = db.execute(_ORDER_ID, {"s": s.value, "no": no}).scalar()
        if found is None:
            raise InvalidInput(field="order", reason="trade.unknown_order", value=no)
        view = _view(db.connection(), int(found))
    if view.status != OrderStatus.AUDITED:
        raise InvalidInput(field="order", reason="trade.order_not_open", value=no, status=view.status)
    lines = tuple(stock.StockLineIn(ln.product, ln.open, ln.price, tax_rate=ln.tax_rate)
                  for ln in view.lines if ln.open > 0)
    if not lines:
        raise InvalidInput(field="order", reason="trade.order_nothing_open", value=no)
    doc_type = DocType.PURCHASE_RECEIPT if s is Side.PURCHASE else DocType.SALES_DELIVERY
    return stock.StockDocIn(doc_type.value, doc_date, lines, warehouse=warehouse, partner=view.partner, order=no,
                            salesperson=view.salesperson)


@dataclass(frozen=True, slots=True)
class OrderSummary:
    id: int
    no: str
    order_date: date
    partner: str
    status: str
    total: Decimal


def list_orders(db: Session, *, actor: Actor, side: str, date_from: date, date_to: date,
                partner: str | None = None, status: str | None = None, after: int | None = None,
                limit: int = 100) -> list[OrderSummary]:
    perm.require(actor, perm.TRADE_READ)
    s = parse_side(side)
    with reading(db):
        q = (select(ORDER.c.id, ORDER.c.no, ORDER.c.order_date, PARTNER.c.code, ORDER.c.status,
                    ORDER.c.amount, ORDER.c.tax)
             .join(PARTNER, PARTNER.c.id == ORDER.c.partner_id)
             .where(ORDER.c.side == s.value, ORDER.c.order_date >= date_from, ORDER.c.order_date <= date_to))
        if partner:
            q = q.where(PARTNER.c.code == partner)
        if status:
            q = q.where(ORDER.c.status == status)
        if after is not None:
            q = q.where(ORDER.c.id > after)
        rows = db.execute(q.order_by(ORDER.c.id).limit(limit)).all()
    return [OrderSummary(r[0], r[1], r[2], r[3], r[4], r[5] + r[6]) for r in rows]
