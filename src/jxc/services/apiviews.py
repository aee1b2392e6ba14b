"""Reads and small compositions the JSON API (and the pages) need that no other service has:
master data a page at a time with a search, one master record, the product lookup of the
entry grids (code, barcode or name as typed or scanned), the roles with their permissions,
documents prefilled from an order or from receipts/deliveries as INTERCHANGE records (ready
to be sent back to create one), red-letter reversal by document kind, and FEFO batch picks.

Each function checks its permission and runs in one transaction, like every service.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from jxc.db.models import Partner, Product, ProductCategory, Warehouse
from jxc.domain import permissions as perm
from jxc.domain.errors import InvalidInput, NotFound
from jxc.domain.permissions import Actor, require
from jxc.services import documents, importer, invoices, orders, stock, stockreports, vouchers
from jxc.services.common import reading
from jxc.services.documents import CreateResult

MASTER_ENTITIES: dict[str, Any] = {"product": Product, "partner": Partner, "warehouse": Warehouse,
                                   "category": ProductCategory}
MAX_MASTER_PAGE = 500


# --- master data --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class MasterRecord:
    code: str
    name: str
    active: bool
    detail: dict[str, Any]  # products: unit, tax_rate, barcode, ...; partners: kind, credit_limit


@dataclass(frozen=True, slots=True)
class MasterPage:
    rows: list[MasterRecord]
    next_after: str | None  # pass back as `after` for the next page


def _master_row(row: Any) -> MasterRecord:
    detail: dict[str, Any] = {}
    if isinstance(row, Product):
        detail = {k: getattr(row, k) for k in (
            "spec", "unit", "category", "costing_method", "tax_rate", "barcode", "batch_tracked",
            "shelf_life_days", "min_qty", "max_qty")}
    elif isinstance(row, Partner):
        detail = {"kind": row.kind, "credit_limit": row.credit_limit}
    return MasterRecord(row.code, row.name, row.active, detail)


def _model(entity: str) -> Any:
    model = MASTER_ENTITIES.get(entity)
    if model is None:
        raise InvalidInput(field="entity", reason="input.choice", value=entity, choices=", ".join(MASTER_ENTITIES))
    return model


def master_page(db: Session, entity: str, *, actor: Actor, q: str | None = None, after: str | None = None,
                limit: int = 50, include_inactive: bool = False) -> MasterPage:
    """Products, partners, warehouses or categories in code order, a page at a time (keyset on
    the code); `q` matches the start of the code (or a product's barcode) or part of the name."""
    require(actor, perm.MASTERDATA_READ)
    model = _model(entity)
    if not 1 <= limit <= MAX_MASTER_PAGE:
        raise InvalidInput(field="limit", reason="input.range", value=limit, min=1, max=MAX_MASTER_PAGE)
    stmt = select(model).order_by(model.code).limit(limit + 1)
    if not include_inactive:
        stmt = stmt.where(model.active)
    if after:
        stmt = stmt.where(model.code > after)
    text = (q or "").strip()
    if text:
        found = [model.code.startswith(text, autoescape=True), model.name.contains(text, autoescape=True)]
        if model is Product:
            found.append(Product.barcode.startswith(text, autoescape=True))
        stmt = stmt.where(or_(*found))
    with reading(db):
        rows = [_master_row(r) for r in db.execute(stmt).scalars()]
    more = len(rows) > limit
    rows = rows[:limit]
    return MasterPage(rows, rows[-1].code if more and rows else None)


def master_record(db: Session, entity: str, code: str, *, actor: Actor) -> MasterRecord:
    """One product, partner, warehouse or category by its code. Raises NotFound."""
    require(actor, perm.MASTERDATA_READ)
    model = _model(entity)
    with reading(db):
        row = db.execute(select(model).where(model.code == code)).scalar_one_or_none()
        if row is None:
            raise NotFound(entity=entity, key=code)
        return _master_row(row)


# --- documents prefilled from others ---------------------------------------------------------

def _dec(value: Decimal | None) -> str | None:
    """A decimal as INTERCHANGE text, without the storage scale's trailing zeros ("880", "0.13")."""
    if value is None:
        return None
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _compact(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if v not in (None, "", [])}


def stock_record(data: stock.StockDocIn) -> dict[str, Any]:
    """A stock document input as its INTERCHANGE record, without `type`."""
    lines = [_compact({"product": ln.product, "qty": _dec(ln.qty), "price": _dec(ln.price),
                       "price_incl_tax": _dec(ln.price_incl_tax), "tax_rate": _dec(ln.tax_rate),
                       "batch": ln.batch, "expiry": ln.expiry.isoformat() if ln.expiry else None})
             for ln in data.lines]
    head = _compact({"no": data.no, "date": data.doc_date.isoformat(), "partner": data.partner,
                     "warehouse": data.warehouse, "order": data.order, "source": data.source,
                     "salesperson": data.salesperson, "memo": data.memo})
    return {**head, "lines": lines}


def invoice_record(data: invoices.InvoiceIn) -> dict[str, Any]:
    """An invoice input as its INTERCHANGE record, without `type`."""
    lines = [_compact({"product": ln.product, "qty": _dec(ln.qty), "price": _dec(ln.price),
                       "price_incl_tax": _dec(ln.price_incl_tax), "tax_rate": _dec(ln.tax_rate)})
             for ln in data.lines]
    head = _compact({"no": data.no, "date": data.invoice_date.isoformat(), "partner": data.partner,
                     "invoice_kind": data.invoice_kind, "source": list(data.sources),
                     "salesperson": data.salesperson, "memo": data.memo})
    if data.red:
        head["red"] = True
    return {**head, "lines": lines}


@dataclass(frozen=True, slots=True)
class Prefilled:
    kind: str  # the document type the record is for
    record: dict[str, Any]  # the INTERCHANGE record without `type`
    created: CreateResult | None  # when asked to create it


def _create(db: Session, kind: str, record: dict[str, Any], actor: Actor, create: bool, audit: bool,
            idempotency_key: str | None) -> CreateResult | None:
    if not create:
        return None
    return documents.create_document(db, kind, record, actor=actor, audit=audit, idempotency_key=idempotency_key)


def from_order(db: Session, side: str, no: str, day: date, warehouse: str, *, actor: Actor, create: bool = False,
               audit: bool = False, idempotency_key: str | None = None) -> Prefilled:
    """The receipt (purchase) or delivery (sales) for what is still open on an order
    (orders.stock_doc_from_order); with `create`, entered as a draft (audited with `audit`)."""
    data = orders.stock_doc_from_order(db, side, no, day, warehouse, actor=actor)
    record = stock_record(data)
    return Prefilled(data.doc_type, record, _create(db, data.doc_type, record, actor, create, audit, idempotency_key))


def from_stock(db: Session, side: str, sources: list[str], day: date, *, actor: Actor, red: bool = False,
               invoice_kind: str = "special", create: bool = False, audit: bool = False,
               idempotency_key: str | None = None) -> Prefilled:
    """The invoice billing what is left of these receipts/deliveries (invoices.invoice_from_stock);
    with `create`, entered as a draft (audited with `audit`)."""
    if not sources:
        raise InvalidInput(field="sources", reason="input.required")
    data = invoices.invoice_from_stock(db, side, sources, day, actor=actor, red=red, invoice_kind=invoice_kind)
    kind = "purchase_invoice" if data.side == "purchase" else "sales_invoice"
    record = invoice_record(data)
    return Prefilled(kind, record, _create(db, kind, record, actor, create, audit, idempotency_key))


@dataclass(frozen=True, slots=True)
class Reversed:
    kind: str
    id: int
    no: str
    status: str


def reverse_document(db: Session, kind: str, doc_id: int, day: date, *, actor: Actor,
                     audit: bool = False) -> Reversed:
    """红字冲销 of a stock document (stock.reverse_stock_doc) or a posted manual voucher
    (vouchers.reverse_voucher, always a draft), dated `day`. Other kinds are corrected by
    their own red documents. Raises InvalidInput (kind), NotFound and the services' refusals."""
    entity = documents.entity_of(kind)
    if entity not in ("stock_doc", "voucher"):
        raise InvalidInput(field="kind", reason="input.choice", value=kind,
                           choices=", ".join((*importer.STOCK_DOCS, "voucher")))
    require(actor, perm.VOUCHER_CREATE if entity == "voucher" else perm.STOCK_CREATE)
    documents._check_kind(db, kind, doc_id)
    if entity == "voucher":
        v = vouchers.reverse_voucher(db, doc_id, day, actor=actor)
        return Reversed(kind, v.id, f"{v.period} {v.label}", v.status)
    ref = stock.reverse_stock_doc(db, doc_id, day, actor=actor, audit=audit)
    return Reversed(ref.doc_type, ref.id, ref.no, ref.status)


# --- FEFO --------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class BatchPick:
    batch: str
    qty: Decimal
    expiry: date | None


@dataclass(frozen=True, slots=True)
class BatchSuggestion:
    product: str
    warehouse: str
    qty: Decimal
    available: Decimal  # what the picks add up to: less than qty when stock is short
    batches: list[BatchPick]


def suggest_batches(db: Session, product: str, warehouse: str, qty: Decimal, *, actor: Actor) -> BatchSuggestion:
    """先到期先出 picks for a delivery (stockreports.suggest_batches) with their total."""
    picks = [BatchPick(b, q, e) for b, q, e in stockreports.suggest_batches(db, product, warehouse, qty, actor=actor)]
    return BatchSuggestion(product, warehouse, qty, sum((p.qty for p in picks), Decimal(0)), picks)
