"""Master data needed by the books: partners (往来单位), warehouses, products.

Codes are unique and never reused; records in use are disabled, not deleted.
The inventory issue extends products and warehouses with their stock rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from jxc.db.models import Partner, Product, ProductCategory, StockBalance, StockEntry, Warehouse
from jxc.domain import permissions as perm
from jxc.domain.errors import DuplicateCode, InvalidInput, NotFound
from jxc.domain.numbers import MAX_MONEY, MAX_QTY, MAX_RATE, MONEY_PLACES, QTY_PLACES, RATE_PLACES, fits
from jxc.domain.permissions import Actor, require
from jxc.services.common import append_audit, reading

PARTNER_KINDS = ("supplier", "customer", "both")
COSTING_METHODS = ("moving_average", "fifo", "monthly_average")


@dataclass(frozen=True, slots=True)
class PartnerIn:
    code: str
    name: str
    kind: str
    credit_limit: Decimal | None = None


@dataclass(frozen=True, slots=True)
class WarehouseIn:
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class ProductIn:
    code: str
    name: str
    unit: str
    tax_rate: Decimal
    category: str | None = None
    costing_method: str = "moving_average"
    barcode: str | None = None
    batch_tracked: bool = False
    shelf_life_days: int | None = None
    min_qty: Decimal | None = None
    max_qty: Decimal | None = None
    spec: str | None = None


def _ensure_fits(field: str, value: Decimal | None, places_allowed: int, max_abs: Decimal) -> None:
    if value is None:
        return
    problem = fits(value, places_allowed, max_abs)
    if problem:
        raise InvalidInput(field=field, reason=problem, value=str(value), places=places_allowed)
    if value < 0:
        raise InvalidInput(field=field, reason="input.negative", value=str(value))


def _code_and_name(code: str, name: str) -> tuple[str, str]:
    code, name = code.strip(), name.strip()
    if not code or len(code) > 40:
        raise InvalidInput(field="code", reason="input.required")
    if not name or len(name) > 200:
        raise InvalidInput(field="name", reason="input.required")
    return code, name


def add_partner_row(db: Session, data: PartnerIn, actor: Actor) -> Partner:
    code, name = _code_and_name(data.code, data.name)
    if data.kind not in PARTNER_KINDS:
        raise InvalidInput(field="kind", reason="input.choice", value=data.kind, choices=", ".join(PARTNER_KINDS))
    _ensure_fits("credit_limit", data.credit_limit, MONEY_PLACES, MAX_MONEY)
    if db.execute(select(Partner.id).where(Partner.code == code)).first():
        raise DuplicateCode(entity="partner", code=code)
    row = Partner(code=code, name=name, kind=data.kind, credit_limit=data.credit_limit, active=True)
    db.add(row)
    db.flush()
    append_audit(db, actor, "partner.add", "partner", code, {"name": name, "kind": data.kind})
    return row


def add_warehouse_row(db: Session, data: WarehouseIn, actor: Actor) -> Warehouse:
    code, name = _code_and_name(data.code, data.name)
    if db.execute(select(Warehouse.id).where(Warehouse.code == code)).first():
        raise DuplicateCode(entity="warehouse", code=code)
    row = Warehouse(code=code, name=name, active=True)
    db.add(row)
    db.flush()
    append_audit(db, actor, "warehouse.add", "warehouse", code, {"name": name})
    return row


def add_product_row(db: Session, data: ProductIn, actor: Actor) -> Product:
    code, name = _code_and_name(data.code, data.name)
    if not data.unit.strip():
        raise InvalidInput(field="unit", reason="input.required")
    if data.costing_method not in COSTING_METHODS:
        raise InvalidInput(field="costing_method", reason="input.choice", value=data.costing_method,
                           choices=", ".join(COSTING_METHODS))
    _ensure_fits("tax_rate", data.tax_rate, RATE_PLACES, MAX_RATE)
    if not (Decimal(0) <= data.tax_rate < Decimal(1)):
        raise InvalidInput(field="tax_rate", reason="input.rate_range", value=str(data.tax_rate))
    for field in ("min_qty", "max_qty"):
        _ensure_fits(field, getattr(data, field), QTY_PLACES, MAX_QTY)
    if data.min_qty is not None and data.max_qty is not None and data.min_qty > data.max_qty:
        raise InvalidInput(field="max_qty", reason="input.min_above_max", value=str(data.max_qty))
    if db.execute(select(Product.id).where(Product.code == code)).first():
        raise DuplicateCode(entity="product", code=code)
    category = _ensure_category(db, data.category, actor)
    if data.spec is not None and len(data.spec) > 200:
        raise InvalidInput(field="spec", reason="input.too_long", max=200)
    if data.shelf_life_days is not None and not 0 < data.shelf_life_days <= 36500:
        raise InvalidInput(field="shelf_life_days", reason="input.range", value=data.shelf_life_days, min=1,
                           max=36500)
    row = Product(code=code, name=name, unit=data.unit.strip(), category=category, spec=data.spec,
                  costing_method=data.costing_method, tax_rate=data.tax_rate, barcode=data.barcode,
                  batch_tracked=data.batch_tracked, shelf_life_days=data.shelf_life_days,
                  min_qty=data.min_qty, max_qty=data.max_qty, active=True)
    db.add(row)
    db.flush()
    append_audit(db, actor, "product.add", "product", code, {"name": name})
    return row


def add_partner(db: Session, data: PartnerIn, *, actor: Actor) -> None:
    """Create a partner. Raises DuplicateCode, InvalidInput, PermissionDenied."""
    require(actor, perm.MASTERDATA_EDIT)
    with db.begin():
        add_partner_row(db, data, actor)


def add_warehouse(db: Session, data: WarehouseIn, *, actor: Actor) -> None:
    """Create a warehouse. Raises DuplicateCode, InvalidInput, PermissionDenied."""
    require(actor, perm.MASTERDATA_EDIT)
    with db.begin():
        add_warehouse_row(db, data, actor)


def add_product(db: Session, data: ProductIn, *, actor: Actor) -> None:
    """Create a product. Raises DuplicateCode, InvalidInput, PermissionDenied."""
    require(actor, perm.MASTERDATA_EDIT)
    with db.begin():
        add_product_row(db, data, actor)


# --- categories ------------------------------------------------------------------------

def _ensure_category(db: Session, category: str | None, actor: Actor) -> str | None:
    """A product's category by code; a name not yet known becomes a category of that code, so
    files from other systems import without a separate category list."""
    if category is None or not category.strip():
        return None
    code = category.strip()
    if len(code) > 40:
        raise InvalidInput(field="category", reason="input.too_long", max=40)
    found = db.execute(select(ProductCategory.active).where(ProductCategory.code == code)).first()
    if found is None:
        db.add(ProductCategory(code=code, name=code, active=True))
        db.flush()
        append_audit(db, actor, "category.add", "category", code, {"name": code})
    elif not found[0]:
        raise InvalidInput(field="category", reason="masterdata.inactive", value=code)
    return code


def add_category(db: Session, code: str, name: str, *, actor: Actor) -> None:
    """存货分类. Raises DuplicateCode, InvalidInput."""
    require(actor, perm.MASTERDATA_EDIT)
    code, name = _code_and_name(code, name)
    with db.begin():
        if db.execute(select(ProductCategory.id).where(ProductCategory.code == code)).first():
            raise DuplicateCode(entity="category", code=code)
        db.add(ProductCategory(code=code, name=name, active=True))
        db.flush()
        append_audit(db, actor, "category.add", "category", code, {"name": name})


# --- changing and disabling ------------------------------------------------------------

ENTITIES: dict[str, Any] = {"product": Product, "warehouse": Warehouse, "partner": Partner, "category": ProductCategory}


def set_active(db: Session, entity: str, code: str, active: bool, *, actor: Actor) -> None:
    """Disable (停用) or enable a master record. Records are never deleted: documents keep
    pointing at them. A product or warehouse with stock on hand cannot be disabled.
    Raises NotFound, InvalidInput (masterdata.has_stock)."""
    require(actor, perm.MASTERDATA_EDIT)
    model = ENTITIES.get(entity)
    if model is None:
        raise InvalidInput(field="entity", reason="input.choice", value=entity, choices=", ".join(ENTITIES))
    with db.begin():
        row = db.execute(select(model).where(model.code == code).with_for_update()).scalar_one_or_none()
        if row is None:
            raise NotFound(entity=entity, key=code)
        if not active and model in (Product, Warehouse):
            col = StockBalance.product_id if model is Product else StockBalance.warehouse_id
            held = db.execute(select(func.count()).where(col == row.id, StockBalance.qty != 0)).scalar_one()
            if held:
                raise InvalidInput(field="code", reason="masterdata.has_stock", value=code)
        if row.active != active:
            row.active = active
            db.flush()
            append_audit(db, actor, f"{entity}.{'enable' if active else 'disable'}", entity, code, {})


@dataclass(frozen=True, slots=True)
class ProductChange:
    """Fields to change on a product; None leaves a field as it is."""

    name: str | None = None
    spec: str | None = None
    unit: str | None = None
    category: str | None = None
    barcode: str | None = None
    tax_rate: Decimal | None = None
    min_qty: Decimal | None = None
    max_qty: Decimal | None = None
    shelf_life_days: int | None = None
    costing_method: str | None = None
    batch_tracked: bool | None = None


def update_product(db: Session, code: str, change: ProductChange, *, actor: Actor) -> None:
    """Change a product. Its costing method and batch tracking are fixed once it has stock
    entries (the ledger was costed and keyed by them). Raises NotFound, InvalidInput."""
    require(actor, perm.MASTERDATA_EDIT)
    with db.begin():
        row = db.execute(select(Product).where(Product.code == code).with_for_update()).scalar_one_or_none()
        if row is None:
            raise NotFound(entity="product", key=code)
        changed: dict[str, list[str]] = {}
        fixed = ("costing_method", "batch_tracked")
        if any(getattr(change, f) is not None and getattr(change, f) != getattr(row, f) for f in fixed) and \
                db.execute(select(StockEntry.id).where(StockEntry.product_id == row.id).limit(1)).first():
            raise InvalidInput(field="costing_method" if change.costing_method is not None else "batch_tracked",
                               reason="masterdata.in_use", value=code)
        if change.costing_method is not None and change.costing_method not in COSTING_METHODS:
            raise InvalidInput(field="costing_method", reason="input.choice", value=change.costing_method,
                               choices=", ".join(COSTING_METHODS))
        if change.tax_rate is not None:
            _ensure_fits("tax_rate", change.tax_rate, RATE_PLACES, MAX_RATE)
            if not (Decimal(0) <= change.tax_rate < Decimal(1)):
                raise InvalidInput(field="tax_rate", reason="input.rate_range", value=str(change.tax_rate))
        for field in ("min_qty", "max_qty"):
            _ensure_fits(field, getattr(change, field), QTY_PLACES, MAX_QTY)
        if change.name is not None:
            _code_and_name(code, change.name)
        category = _ensure_category(db, change.category, actor) if change.category is not None else None
        for field in ("name", "spec", "unit", "barcode", "tax_rate", "min_qty", "max_qty", "shelf_life_days",
                      "costing_method", "batch_tracked"):
            value = getattr(change, field)
            if value is not None and value != getattr(row, field):
                changed[field] = [str(getattr(row, field)), str(value)]
                setattr(row, field, value.strip() if isinstance(value, str) else value)
        if category is not None and category != row.category:
            changed["category"] = [str(row.category), category]
            row.category = category
        low, high = row.min_qty, row.max_qty
        if low is not None and high is not None and low > high:
            raise InvalidInput(field="max_qty", reason="input.min_above_max", value=str(high))
        db.flush()
        if changed:
            append_audit(db, actor, "product.update", "product", code, changed)


def rename(db: Session, entity: str, code: str, name: str, *, actor: Actor) -> None:
    """Rename a warehouse, partner or category (documents show the current name)."""
    require(actor, perm.MASTERDATA_EDIT)
    model = ENTITIES.get(entity)
    if model is None:
        raise InvalidInput(field="entity", reason="input.choice", value=entity, choices=", ".join(ENTITIES))
    _, name = _code_and_name(code, name)
    with db.begin():
        row = db.execute(select(model).where(model.code == code).with_for_update()).scalar_one_or_none()
        if row is None:
            raise NotFound(entity=entity, key=code)
        old = row.name
        db.execute(update(model).where(model.code == code).values(name=name))
        append_audit(db, actor, f"{entity}.rename", entity, code, {"name": [old, name]})


@dataclass(frozen=True, slots=True)
class MasterRow:
    code: str
    name: str
    active: bool
    detail: dict[str, str]


def list_master(db: Session, entity: str, *, include_inactive: bool = False, after: str | None = None,
                limit: int = 200, actor: Actor) -> list[MasterRow]:
    """Products, warehouses, partners or categories in code order, a page at a time (keyset)."""
    require(actor, perm.MASTERDATA_READ)
    model = ENTITIES.get(entity)
    if model is None:
        raise InvalidInput(field="entity", reason="input.choice", value=entity, choices=", ".join(ENTITIES))
    if not 1 <= limit <= 10_000:
        raise InvalidInput(field="limit", reason="input.range", value=limit, min=1, max=10_000)
    with reading(db):
        stmt = select(model).order_by(model.code).limit(limit)
        if not include_inactive:
            stmt = stmt.where(model.active)
        if after is not None:
            stmt = stmt.where(model.code > after)
        out = []
        for row in db.execute(stmt).scalars():
            detail: dict[str, str] = {}
            if isinstance(row, Product):
                detail = {k: "" if getattr(row, k) is None else str(getattr(row, k)) for k in (
                    "spec", "unit", "category", "costing_method", "tax_rate", "barcode", "batch_tracked",
                    "shelf_life_days", "min_qty", "max_qty")}
            elif isinstance(row, Partner):
                detail = {"kind": row.kind, "credit_limit": "" if row.credit_limit is None else str(row.credit_limit)}
            out.append(MasterRow(row.code, row.name, row.active, detail))
        return out
