"""Master data for the web pages: search a page at a time, read one record, change a partner,
and clear a product's optional fields (masterdata.update_product leaves a None as it is)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from jxc.db.models import Partner, Product, TaxRate
from jxc.domain import permissions as perm
from jxc.domain.errors import InvalidInput, NotFound
from jxc.domain.numbers import MAX_MONEY, MONEY_PLACES, fits
from jxc.domain.permissions import Actor, require
from jxc.services.common import append_audit, reading
from jxc.services.masterdata import ENTITIES, PARTNER_KINDS, MasterRow

PAGE_ENTITIES = ("product", "partner", "warehouse")
CLEARABLE = ("barcode", "spec", "min_qty", "max_qty", "shelf_life_days")


@dataclass(frozen=True, slots=True)
class MasterPage:
    rows: list[MasterRow]
    next_after: str | None  # pass back as `after` for the next page (codes in order)


def _model(entity: str) -> Any:
    if entity not in PAGE_ENTITIES:
        raise InvalidInput(field="entity", reason="input.choice", value=entity, choices=", ".join(PAGE_ENTITIES))
    return ENTITIES[entity]


def _row(row: Any) -> MasterRow:
    detail: dict[str, str] = {}
    if isinstance(row, Product):
        detail = {k: "" if getattr(row, k) is None else str(getattr(row, k)) for k in (
            "spec", "unit", "category", "costing_method", "tax_rate", "barcode", "batch_tracked",
            "shelf_life_days", "min_qty", "max_qty")}
    elif isinstance(row, Partner):
        detail = {"kind": row.kind, "credit_limit": "" if row.credit_limit is None else str(row.credit_limit)}
    return MasterRow(row.code, row.name, row.active, detail)


def search_master(db: Session, entity: str, *, actor: Actor, q: str | None = None, after: str | None = None,
                  include_inactive: bool = True, limit: int = 50) -> MasterPage:
    """Products, partners or warehouses in code order whose code or name (a product's barcode
    too) contains `q`, a page at a time (keyset on the code)."""
    require(actor, perm.MASTERDATA_READ)
    model = _model(entity)
    if not 1 <= limit <= 500:
        raise InvalidInput(field="limit", reason="input.range", value=limit, min=1, max=500)
    with reading(db):
        stmt = select(model).order_by(model.code).limit(limit + 1)
        if not include_inactive:
            stmt = stmt.where(model.active)
        if after:
            stmt = stmt.where(model.code > after)
        text = (q or "").strip()
        if text:
            like = f"%{text}%"
            cond = [model.code.ilike(like), model.name.ilike(like)]
            if model is Product:
                cond.append(Product.barcode == text)
            stmt = stmt.where(or_(*cond))
        found = [_row(r) for r in db.execute(stmt).scalars()]
    more = len(found) > limit
    rows = found[:limit]
    return MasterPage(rows, rows[-1].code if more and rows else None)


def get_master(db: Session, entity: str, code: str, *, actor: Actor) -> MasterRow:
    """One product, partner or warehouse by code. Raises NotFound."""
    require(actor, perm.MASTERDATA_READ)
    model = _model(entity)
    with reading(db):
        row = db.execute(select(model).where(model.code == code)).scalar_one_or_none()
        if row is None:
            raise NotFound(entity=entity, key=code)
        return _row(row)


def update_partner(db: Session, code: str, *, name: str, kind: str, credit_limit: Decimal | None,
                   actor: Actor) -> None:
    """Change a partner's name, kind and credit limit (None: no limit).
    Raises NotFound, InvalidInput, PermissionDenied."""
    require(actor, perm.MASTERDATA_EDIT)
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise InvalidInput(field="name", reason="input.required")
    if kind not in PARTNER_KINDS:
        raise InvalidInput(field="kind", reason="input.choice", value=kind, choices=", ".join(PARTNER_KINDS))
    if credit_limit is not None:
        problem = fits(credit_limit, MONEY_PLACES, MAX_MONEY)
        if problem:
            raise InvalidInput(field="credit_limit", reason=problem, value=str(credit_limit), places=MONEY_PLACES)
        if credit_limit < 0:
            raise InvalidInput(field="credit_limit", reason="input.negative", value=str(credit_limit))
    with db.begin():
        row = db.execute(select(Partner).where(Partner.code == code).with_for_update()).scalar_one_or_none()
        if row is None:
            raise NotFound(entity="partner", key=code)
        changed: dict[str, list[str]] = {}
        for field, value in (("name", name), ("kind", kind), ("credit_limit", credit_limit)):
            if value != getattr(row, field):
                changed[field] = [str(getattr(row, field)), str(value)]
                setattr(row, field, value)
        db.flush()
        if changed:
            append_audit(db, actor, "partner.update", "partner", code, changed)


def clear_product_fields(db: Session, code: str, fields: list[str], *, actor: Actor) -> None:
    """Empty a product's optional fields (barcode, spec, min/max quantity, shelf life).
    Raises NotFound, InvalidInput, PermissionDenied."""
    require(actor, perm.MASTERDATA_EDIT)
    for field in fields:
        if field not in CLEARABLE:
            raise InvalidInput(field=field, reason="input.choice", value=field, choices=", ".join(CLEARABLE))
    with db.begin():
        row = db.execute(select(Product).where(Product.code == code).with_for_update()).scalar_one_or_none()
        if row is None:
            raise NotFound(entity="product", key=code)
        changed = {f: [str(getattr(row, f)), "None"] for f in fields if getattr(row, f) is not None}
        for field in changed:
            setattr(row, field, None)
        db.flush()
        if changed:
            append_audit(db, actor, "product.update", "product", code, changed)


def tax_rates(db: Session, *, actor: Actor) -> list[Decimal]:
    """The VAT rates the book knows (增值税税率), highest first, for a product's rate."""
    require(actor, perm.MASTERDATA_READ)
    with reading(db):
        found = set(db.execute(select(TaxRate.rate).where(TaxRate.valid_to.is_(None))).scalars())
    return sorted(found, reverse=True)
