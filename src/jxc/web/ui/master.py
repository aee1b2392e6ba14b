"""Master data pages: products, partners and warehouses — search, keyset pages, create and edit
forms with errors next to their fields, enable/disable. masterdata.read to look,
masterdata.edit to change (the services check both)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from jxc.domain import permissions as perm
from jxc.domain.errors import DuplicateCode, InvalidInput, JxcError, NotFound, PermissionDenied
from jxc.domain.numbers import parse_decimal
from jxc.i18n import describe, t
from jxc.services import masterdata, masteredit
from jxc.web import errors
from jxc.web.deps import DbDep, Viewer, ViewerDep
from jxc.web.templating import Flash, fmt_money, fmt_qty, render

router = APIRouter(include_in_schema=False)
ENTITIES = masteredit.PAGE_ENTITIES
PAGE_SIZE = 50
PRODUCT_OPTIONAL = ("barcode", "spec", "min_qty", "max_qty", "shelf_life_days")


def _entity(entity: str) -> str:
    if entity not in ENTITIES:
        raise NotFound(entity="page", key=entity)
    return entity


def _can_edit(viewer: Viewer) -> None:
    if not viewer.can(perm.MASTERDATA_EDIT):
        raise PermissionDenied(user=viewer.actor.username, permission=perm.MASTERDATA_EDIT)


class FormProblem(Exception):
    """Input the page could not even parse: the field and its message code."""

    def __init__(self, field: str, code: str, **params: Any) -> None:
        super().__init__(field)
        self.field, self.code, self.params = field, code, params


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _decimal(form: FormData, name: str) -> Decimal | None:
    raw = _text(form, name)
    if not raw:
        return None
    value = parse_decimal(raw)
    if value is None:
        raise FormProblem(name, "input.not_decimal", value=raw)
    return value


def _int(form: FormData, name: str) -> int | None:
    raw = _text(form, name)
    if not raw:
        return None
    if not raw.isdigit():
        raise FormProblem(name, "input.expect_int")
    return int(raw)


def _errors(exc: Exception, lang: str) -> dict[str, str]:
    if isinstance(exc, FormProblem):
        return {exc.field: t(exc.code, lang, **exc.params)}
    if isinstance(exc, InvalidInput):
        return {str(exc.params.get("field", "")): t(str(exc.params.get("reason", "input.invalid")), lang,
                                                    **exc.params)}
    if isinstance(exc, DuplicateCode):
        return {"code": describe(exc, lang)}
    assert isinstance(exc, JxcError)
    return {"": describe(exc, lang)}


# --- list ---------------------------------------------------------------------------------

@router.get("/master/{entity}")
def master_list(entity: str, request: Request, db: DbDep, viewer: ViewerDep, q: str = "",
                after: str = "") -> Response:
    entity = _entity(entity)
    page = masteredit.search_master(db, entity, actor=viewer.actor, q=q or None, after=after or None,
                                    limit=PAGE_SIZE)
    next_url = f"/master/{entity}?" + urlencode({"q": q, "after": page.next_after}) if page.next_after else None
    first_url = f"/master/{entity}?" + urlencode({"q": q}) if after else None
    return render(request, "master/list.html", viewer, entity=entity, rows=[_shown(r) for r in page.rows], q=q,
                  next_url=next_url,
                  first_url=first_url)


def _shown(row: masterdata.MasterRow) -> dict[str, Any]:
    """A list row with its numbers formatted for reading."""
    d = row.detail
    out: dict[str, Any] = {"code": row.code, "name": row.name, "active": row.active, **d}
    if d.get("tax_rate"):
        out["tax_rate"] = f"{(Decimal(d['tax_rate']) * 100).normalize():f}%"
    for key in ("min_qty", "max_qty"):
        out[key] = fmt_qty(Decimal(d[key])) if d.get(key) else ""
    out["credit_limit"] = fmt_money(Decimal(d["credit_limit"])) if d.get("credit_limit") else ""
    return out


# --- forms --------------------------------------------------------------------------------

def _form_page(request: Request, db: Session, viewer: Viewer, entity: str, values: dict[str, Any], *,
               code: str | None, status_code: int = 200, **ctx: Any) -> Response:
    ctx.setdefault("errors", {})
    rates = [(f"{r.normalize():f}", f"{(r * 100).normalize():f}%")
             for r in (masteredit.tax_rates(db, actor=viewer.actor) if entity == "product" else [])]
    return render(request, "master/form.html", viewer, status_code=status_code, entity=entity, v=values,
                  code=code, rates=rates, kinds=masterdata.PARTNER_KINDS, methods=masterdata.COSTING_METHODS,
                  **ctx)


def _values(row: masterdata.MasterRow | None) -> dict[str, Any]:
    if row is None:
        return {"code": "", "name": "", "unit": "", "tax_rate": "0.13", "kind": "customer",
                "costing_method": "moving_average", "active": True}
    values: dict[str, Any] = {"code": row.code, "name": row.name, "active": row.active, **row.detail}
    if values.get("tax_rate"):
        values["tax_rate"] = f"{Decimal(values['tax_rate']).normalize():f}"
    for key in ("min_qty", "max_qty", "credit_limit"):
        if values.get(key):
            values[key] = f"{Decimal(values[key]).normalize():f}"
    return values


@router.get("/master/{entity}/new")
def master_new(entity: str, request: Request, db: DbDep, viewer: ViewerDep) -> Response:
    entity = _entity(entity)
    _can_edit(viewer)
    return _form_page(request, db, viewer, entity, _values(None), code=None)


@router.post("/master/{entity}/new")
async def master_create(entity: str, request: Request, db: DbDep, viewer: ViewerDep) -> Response:
    entity = _entity(entity)
    form = await request.form()
    values = {k: v for k, v in form.items() if k != "csrf_token"}
    try:
        code, name = _text(form, "code"), _text(form, "name")
        if entity == "product":
            rate = _decimal(form, "tax_rate")
            masterdata.add_product(db, masterdata.ProductIn(
                code=code, name=name, unit=_text(form, "unit"), tax_rate=rate if rate is not None else Decimal(0),
                category=_text(form, "category") or None, costing_method=_text(form, "costing_method") or
                "moving_average", barcode=_text(form, "barcode") or None,
                batch_tracked=bool(form.get("batch_tracked")), shelf_life_days=_int(form, "shelf_life_days"),
                min_qty=_decimal(form, "min_qty"), max_qty=_decimal(form, "max_qty"),
                spec=_text(form, "spec") or None), actor=viewer.actor)
        elif entity == "partner":
            masterdata.add_partner(db, masterdata.PartnerIn(code, name, _text(form, "kind"),
                                                            _decimal(form, "credit_limit")), actor=viewer.actor)
        else:
            masterdata.add_warehouse(db, masterdata.WarehouseIn(code, name), actor=viewer.actor)
    except (FormProblem, JxcError) as exc:
        if isinstance(exc, PermissionDenied):
            raise
        status = 422 if isinstance(exc, FormProblem) else errors.status_of(exc)
        return _form_page(request, db, viewer, entity, values, code=None, status_code=status,
                          errors=_errors(exc, viewer.lang))
    return RedirectResponse(f"/master/{entity}/{code}?saved=created", status_code=303)


@router.get("/master/{entity}/{code}")
def master_edit(entity: str, code: str, request: Request, db: DbDep, viewer: ViewerDep,
                saved: str = "") -> Response:
    entity = _entity(entity)
    row = masteredit.get_master(db, entity, code, actor=viewer.actor)
    flashes = [Flash("ok", t(f"web.master.{saved}", viewer.lang, code=code))] if saved in (
        "created", "saved", "enabled", "disabled") else []
    return _form_page(request, db, viewer, entity, _values(row), code=code, flashes=flashes)


@router.post("/master/{entity}/{code}")
async def master_update(entity: str, code: str, request: Request, db: DbDep, viewer: ViewerDep) -> Response:
    entity = _entity(entity)
    row = masteredit.get_master(db, entity, code, actor=viewer.actor)
    form = await request.form()
    values = {**_values(row), **{k: v for k, v in form.items() if k != "csrf_token"}}
    try:
        name = _text(form, "name")
        if entity == "product":
            masterdata.update_product(db, code, masterdata.ProductChange(
                name=name, unit=_text(form, "unit") or None, tax_rate=_decimal(form, "tax_rate"),
                barcode=_text(form, "barcode") or None, spec=_text(form, "spec") or None,
                category=_text(form, "category") or None, min_qty=_decimal(form, "min_qty"),
                max_qty=_decimal(form, "max_qty"), shelf_life_days=_int(form, "shelf_life_days")),
                actor=viewer.actor)
            cleared = [f for f in PRODUCT_OPTIONAL if not _text(form, f) and row.detail.get(f)]
            if cleared:
                masteredit.clear_product_fields(db, code, cleared, actor=viewer.actor)
        elif entity == "partner":
            masteredit.update_partner(db, code, name=name, kind=_text(form, "kind"),
                                      credit_limit=_decimal(form, "credit_limit"), actor=viewer.actor)
        elif name != row.name:
            masterdata.rename(db, "warehouse", code, name, actor=viewer.actor)
    except (FormProblem, JxcError) as exc:
        if isinstance(exc, PermissionDenied):
            raise
        status = 422 if isinstance(exc, FormProblem) else errors.status_of(exc)
        return _form_page(request, db, viewer, entity, values, code=code, status_code=status,
                          errors=_errors(exc, viewer.lang))
    return RedirectResponse(f"/master/{entity}/{code}?saved=saved", status_code=303)


@router.post("/master/{entity}/{code}/active")
async def master_active(entity: str, code: str, request: Request, db: DbDep, viewer: ViewerDep) -> Response:
    entity = _entity(entity)
    form = await request.form()
    enable = _text(form, "active") in ("1", "true", "on")
    try:
        masterdata.set_active(db, entity, code, enable, actor=viewer.actor)
    except InvalidInput as exc:
        row = masteredit.get_master(db, entity, code, actor=viewer.actor)
        return _form_page(request, db, viewer, entity, _values(row), code=code, status_code=422,
                          flashes=[Flash("error", describe(exc, viewer.lang))])
    return RedirectResponse(f"/master/{entity}/{code}?saved={'enabled' if enable else 'disabled'}",
                            status_code=303)
