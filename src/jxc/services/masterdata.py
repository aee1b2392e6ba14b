"""Master data needed by the books: partners (往来单位), warehouses, products.

Codes are unique and never reused; records in use are disabled, not deleted.
The inventory issue extends products and warehouses with their stock rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from jxc.db.models import Partner, Product, Warehouse
from jxc.domain import permissions as perm
from jxc.domain.errors import DuplicateCode, InvalidInput
from jxc.domain.numbers import MAX_MONEY, MAX_QTY, MAX_RATE, MONEY_PLACES, QTY_PLACES, RATE_PLACES, fits
from jxc.domain.permissions import Actor, require
from jxc.services.common import append_audit

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
    row = Product(code=code, name=name, unit=data.unit.strip(), category=data.category,
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
