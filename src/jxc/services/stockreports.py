"""Stock reports: 收发存汇总表, 存货明细账, stock as of a date, alerts and expiry, FEFO.

Balances at a date come from the current balance rows minus what was entered
after the date, so a report for a recent month reads only that month's entries
and the balance rows, never the whole history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from jxc.db.models import Product, StockBalance, StockDoc, StockEntry, Warehouse
from jxc.db.types import Money, Quantity
from jxc.domain import permissions as perm
from jxc.domain.errors import InvalidInput, NotFound
from jxc.domain.numbers import MONEY_ZERO, ZERO, money, qty, unit_cost
from jxc.domain.permissions import Actor, require
from jxc.domain.stockdocs import BatchStock, fefo
from jxc.services.common import reading

E = StockEntry
QTY_ZERO = qty(0)
NET = type_coerce(E.value - E.adjust, Money())  # what an entry did to the stock value


def _q(expr: Any) -> Any:
    return func.coalesce(func.sum(type_coerce(expr, Quantity())), 0)


def _m(expr: Any) -> Any:
    return func.coalesce(func.sum(type_coerce(expr, Money())), 0)


def _dec(v: Any) -> Decimal:
    return v if isinstance(v, Decimal) else Decimal(v or 0)


def _check_range(date_from: date, date_to: date) -> None:
    if date_from > date_to:
        raise InvalidInput(field="date_from", reason="input.date_order", value=date_from.isoformat())


def _warehouse_id(db: Session, code: str | None) -> int | None:
    if code is None:
        return None
    found = db.execute(select(Warehouse.id).where(Warehouse.code == code)).scalar()
    if found is None:
        raise NotFound(entity="warehouse", key=code)
    return int(found)


def _product_id(db: Session, code: str) -> int:
    found = db.execute(select(Product.id).where(Product.code == code)).scalar()
    if found is None:
        raise NotFound(entity="product", key=code)
    return int(found)


@dataclass(frozen=True, slots=True)
class SummaryRow:
    product: str
    name: str
    spec: str
    unit: str
    warehouse: str
    opening_qty: Decimal
    opening_value: Decimal
    in_qty: Decimal
    in_value: Decimal
    out_qty: Decimal
    out_value: Decimal
    closing_qty: Decimal
    closing_value: Decimal


@dataclass(frozen=True, slots=True)
class StockSummary:
    date_from: date
    date_to: date
    warehouse: str | None
    rows: list[SummaryRow]
    totals: SummaryRow


def stock_summary(db: Session, date_from: date, date_to: date, *, warehouse: str | None = None,
                  actor: Actor) -> StockSummary:
    """收发存汇总表 per product and warehouse: opening + in - out = closing, in quantity and value.
    Receipts and returns of any kind are "in" by the document's direction (a red-letter one
    shows as a negative in); issues are "out"; a negative-stock settlement counts as out."""
    require(actor, perm.STOCK_READ)
    _check_range(date_from, date_to)
    with reading(db):
        wh = _warehouse_id(db, warehouse)
        after_to = E.entry_date > date_to
        inside = E.entry_date <= date_to
        stmt = (select(E.product_id, E.warehouse_id,
                       _q(E.qty).label("q_from"), _m(NET).label("v_from"),
                       _q(case((after_to, E.qty), else_=0)).label("q_to"),
                       _m(case((after_to, NET), else_=0)).label("v_to"),
                       _q(case((and_(inside, E.dir == 1), E.qty), else_=0)).label("in_q"),
                       _m(case((and_(inside, E.dir == 1), E.value), else_=0)).label("in_v"),
                       _q(case((and_(inside, E.dir == -1), -E.qty), else_=0)).label("out_q"),
                       _m(case((and_(inside, E.dir == -1), -E.value), (inside, E.adjust), else_=0)).label("out_v"))
                .where(E.entry_date >= date_from).group_by(E.product_id, E.warehouse_id))
        bstmt = (select(StockBalance.product_id, StockBalance.warehouse_id, func.sum(StockBalance.qty),
                        func.sum(StockBalance.value))
                 .group_by(StockBalance.product_id, StockBalance.warehouse_id))
        if wh is not None:
            stmt = stmt.where(E.warehouse_id == wh)
            bstmt = bstmt.where(StockBalance.warehouse_id == wh)
        moves = {(r.product_id, r.warehouse_id): r for r in db.execute(stmt)}
        current = {(p, w): (_dec(q), _dec(v)) for p, w, q, v in db.execute(bstmt)}
        products = {r.id: r for r in db.execute(select(Product.id, Product.code, Product.name, Product.spec,
                                                        Product.unit))}
        warehouses = dict(db.execute(select(Warehouse.id, Warehouse.code)).all())
        rows = []
        zero = (ZERO, ZERO)
        for key in sorted(set(moves) | set(current), key=lambda k: (products[k[0]].code, warehouses[k[1]])):
            cq, cv = current.get(key, zero)
            m = moves.get(key)
            if m is None:
                oq, ov, iq, iv, xq, xv, zq, zv = cq, cv, ZERO, ZERO, ZERO, ZERO, cq, cv
            else:
                oq, ov = cq - _dec(m.q_from), cv - _dec(m.v_from)
                zq, zv = cq - _dec(m.q_to), cv - _dec(m.v_to)
                iq, iv, xq, xv = _dec(m.in_q), _dec(m.in_v), _dec(m.out_q), _dec(m.out_v)
            if not any((oq, ov, iq, iv, xq, xv, zq, zv)):
                continue
            p = products[key[0]]
            rows.append(SummaryRow(p.code, p.name, p.spec or "", p.unit, warehouses[key[1]], oq, ov, iq, iv, xq, xv,
                                   zq, zv))
        totals = SummaryRow("", "", "", "", "", *(sum((getattr(r, f) for r in rows), ZERO) for f in (
            "opening_qty", "opening_value", "in_qty", "in_value", "out_qty", "out_value", "closing_qty",
            "closing_value")))
        return StockSummary(date_from, date_to, warehouse, rows, totals)


@dataclass(frozen=True, slots=True)
class LedgerRow:
    date: date | None  # None on the opening row
    document: str
    doc_type: str
    warehouse: str
    batch: str
    in_qty: Decimal
    in_value: Decimal
    out_qty: Decimal
    out_value: Decimal
    balance_qty: Decimal
    balance_value: Decimal
    unit_cost: Decimal


@dataclass(frozen=True, slots=True)
class StockLedger:
    product: str
    name: str
    warehouse: str | None
    date_from: date
    date_to: date
    rows: list[LedgerRow]
    truncated: bool


def stock_ledger(db: Session, product: str, date_from: date, date_to: date, *, warehouse: str | None = None,
                 batch: str | None = None, limit: int = 10_000, actor: Actor) -> StockLedger:
    """存货明细账 of one product (optionally one warehouse and batch): an opening row, then one
    row per entry in ledger order with the running balance over the selection."""
    require(actor, perm.STOCK_READ)
    _check_range(date_from, date_to)
    if not 1 <= limit <= 100_000:
        raise InvalidInput(field="limit", reason="input.range", value=limit, min=1, max=100_000)
    with reading(db):
        pid = _product_id(db, product)
        wh = _warehouse_id(db, warehouse)
        where = [E.product_id == pid]
        if wh is not None:
            where.append(E.warehouse_id == wh)
        if batch is not None:
            where.append(E.batch == batch)
        oq, ov = db.execute(select(_q(E.qty), _m(NET)).where(*where, E.entry_date < date_from)).one()
        bal_q, bal_v = qty(_dec(oq)), money(_dec(ov))
        warehouses = dict(db.execute(select(Warehouse.id, Warehouse.code)).all())
        rows = [LedgerRow(None, "", "opening", warehouse or "", batch or "", QTY_ZERO, MONEY_ZERO, QTY_ZERO, MONEY_ZERO,
                          bal_q, bal_v,
                          unit_cost(bal_v / bal_q) if bal_q > 0 else ZERO)]
        found = db.execute(
            select(E.entry_date, E.warehouse_id, E.batch, E.dir, E.qty, E.value, E.adjust, StockDoc.no,
                   StockDoc.doc_type)
            .join(StockDoc, StockDoc.id == E.doc_id)
            .where(*where, E.entry_date >= date_from, E.entry_date <= date_to)
            .order_by(E.entry_date, E.id).limit(limit + 1)).all()
        for r in found[:limit]:
            bal_q += r.qty
            bal_v += r.value - r.adjust
            inward = r.dir == 1
            rows.append(LedgerRow(
                r.entry_date, r.no, r.doc_type, warehouses[r.warehouse_id], r.batch,
                r.qty if inward else QTY_ZERO, r.value if inward else MONEY_ZERO,
                -r.qty if not inward else QTY_ZERO, (-r.value if not inward else MONEY_ZERO) + r.adjust,
                bal_q, bal_v, unit_cost(bal_v / bal_q) if bal_q > 0 else ZERO))
        name = db.execute(select(Product.name).where(Product.id == pid)).scalar_one()
        return StockLedger(product, name, warehouse, date_from, date_to, rows, len(found) > limit)


@dataclass(frozen=True, slots=True)
class BalanceRow:
    product: str
    name: str
    warehouse: str
    batch: str
    expiry: date | None
    qty: Decimal
    value: Decimal
    unit_cost: Decimal


def stock_balance(db: Session, as_of: date, *, warehouse: str | None = None, product: str | None = None,
                  actor: Actor) -> list[BalanceRow]:
    """Stock on hand at the end of `as_of`, per product, warehouse and batch."""
    require(actor, perm.STOCK_READ)
    with reading(db):
        wh = _warehouse_id(db, warehouse)
        pid = _product_id(db, product) if product else None
        bwhere, ewhere = [], [E.entry_date > as_of]
        if wh is not None:
            bwhere.append(StockBalance.warehouse_id == wh)
            ewhere.append(E.warehouse_id == wh)
        if pid is not None:
            bwhere.append(StockBalance.product_id == pid)
            ewhere.append(E.product_id == pid)
        later = {(p, w, b): (_dec(q), _dec(v)) for p, w, b, q, v in db.execute(
            select(E.product_id, E.warehouse_id, E.batch, _q(E.qty), _m(NET)).where(*ewhere)
            .group_by(E.product_id, E.warehouse_id, E.batch))}
        products = {r.id: r for r in db.execute(select(Product.id, Product.code, Product.name))}
        warehouses = dict(db.execute(select(Warehouse.id, Warehouse.code)).all())
        rows = []
        for b in db.execute(select(StockBalance).where(*bwhere)).scalars():
            lq, lv = later.get((b.product_id, b.warehouse_id, b.batch), (ZERO, ZERO))
            q, v = b.qty - lq, b.value - lv
            if q == 0 and v == 0:
                continue
            p = products[b.product_id]
            rows.append(BalanceRow(p.code, p.name, warehouses[b.warehouse_id], b.batch, b.expiry, q, v,
                                   unit_cost(v / q) if q > 0 else ZERO))
        return sorted(rows, key=lambda r: (r.product, r.warehouse, r.batch))


@dataclass(frozen=True, slots=True)
class Alert:
    kind: str  # below_min | above_max | expiring | expired
    product: str
    name: str
    warehouse: str  # "" for the whole-company quantity alerts
    batch: str
    qty: Decimal
    limit: Decimal | None
    expiry: date | None


def stock_alerts(db: Session, today: date, *, days: int = 30, actor: Actor) -> list[Alert]:
    """库存预警: products below their minimum or above their maximum (all warehouses together),
    and batches with stock that expire within `days` days of `today` or have expired."""
    require(actor, perm.STOCK_READ)
    if not 0 <= days <= 3650:
        raise InvalidInput(field="days", reason="input.range", value=days, min=0, max=3650)
    with reading(db):
        products = {r.id: r for r in db.execute(select(Product.id, Product.code, Product.name, Product.min_qty,
                                                        Product.max_qty).where(Product.active))}
        totals: dict[int, Any] = dict(db.execute(select(StockBalance.product_id, _q(StockBalance.qty))
                                                 .group_by(StockBalance.product_id)).all())
        alerts = []
        for pid, p in sorted(products.items(), key=lambda kv: kv[1].code):
            q = _dec(totals.get(pid, 0))
            if p.min_qty is not None and q < p.min_qty:
                alerts.append(Alert("below_min", p.code, p.name, "", "", q, p.min_qty, None))
            if p.max_qty is not None and q > p.max_qty:
                alerts.append(Alert("above_max", p.code, p.name, "", "", q, p.max_qty, None))
        warehouses = dict(db.execute(select(Warehouse.id, Warehouse.code)).all())
        horizon = today + timedelta(days=days)
        for b in db.execute(select(StockBalance).where(StockBalance.qty > 0, StockBalance.expiry.is_not(None),
                                                       StockBalance.expiry <= horizon)
                            .order_by(StockBalance.expiry)).scalars():
            found = products.get(b.product_id)
            if found is None or b.expiry is None:
                continue
            p = found
            kind = "expired" if b.expiry < today else "expiring"
            alerts.append(Alert(kind, p.code, p.name, warehouses[b.warehouse_id], b.batch, b.qty, None, b.expiry))
        return alerts


def suggest_batches(db: Session, product: str, warehouse: str, qty: Decimal, *,
                    actor: Actor) -> list[tuple[str, Decimal, date | None]]:
    """FEFO (先到期先出): which batches a delivery of `qty` should take, earliest expiry first,
    as (batch, qty, expiry). Takes less than asked for when there is not enough stock."""
    require(actor, perm.STOCK_READ)
    with reading(db):
        pid, wh = _product_id(db, product), _warehouse_id(db, warehouse)
        stocks = [BatchStock(b.batch, b.expiry, b.qty) for b in db.execute(
            select(StockBalance).where(StockBalance.product_id == pid, StockBalance.warehouse_id == wh,
                                       or_(StockBalance.batch != "", StockBalance.qty > 0))).scalars()]
        expiry = {s.batch: s.expiry for s in stocks}
        return [(b, q, expiry[b]) for b, q in fefo(stocks, qty)]
