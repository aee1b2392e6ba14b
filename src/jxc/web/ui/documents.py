"""Document lists (search, filters, keyset pages) and document pages (lines, stock entries,
voucher, linked documents, and the actions the status and the user allow).

Everything here reads or calls services: `documents` for lists, reads and actions,
`doclinks` for what surrounds a document, `stock`/`vouchers` for red-letter reversals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from jxc.domain import permissions as perm
from jxc.domain.errors import InvalidInput, JxcError, NotFound
from jxc.i18n import describe, t
from jxc.services import doclinks, documents, stock, vouchers
from jxc.services.documents import KINDS, entity_of
from jxc.web import errors
from jxc.web.deps import DbDep, Viewer, ViewerDep
from jxc.web.templating import Flash, doc_url, render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
# Stock document types with a page but no list or actions (written by the system).
READ_ONLY_STOCK = ("opening_stock",)
# ?done=<action> after a redirect names what just happened.
DONE = ("audit", "audit_override", "unaudit", "delete", "close", "reopen", "cancel", "post", "unpost", "void",
        "reverse")
FILTERS = ("q", "status", "partner", "date_from", "date_to", "limit")


def _known(kind: str) -> str:
    if kind not in KINDS:
        raise HTTPException(status_code=404)
    return entity_of(kind)


def _date(text: str, name: str, problems: list[str], lang: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        problems.append(describe(InvalidInput(field=name, reason="input.invalid_value", value=text[:40]), lang))
        return None


@router.get("/vouchers")
def vouchers_page(viewer: ViewerDep) -> Response:
    return RedirectResponse("/docs/voucher", status_code=303)


@router.get("/docs/by-entity/{entity}/{doc_id:int}")
def by_entity(entity: str, doc_id: int, viewer: ViewerDep, db: DbDep) -> Response:
    """Reports know a document by its table and id; this finds its page."""
    kind = doclinks.kind_of(db, entity, doc_id, actor=viewer.actor)
    return RedirectResponse(doc_url(kind, doc_id), status_code=303)


# --- lists ----------------------------------------------------------------------------

@router.get("/docs/{kind}")
def doc_list(request: Request, kind: str, viewer: ViewerDep, db: DbDep, q: str = "", status: str = "",
             partner: str = "", date_from: str = "", date_to: str = "", cursor: str = "", limit: str = "",
             done: str = "") -> Response:
    entity = _known(kind)
    lang = viewer.lang
    problems: list[str] = []
    statuses = doclinks.statuses_of(kind)
    if status and status not in statuses:
        status = ""
    size = PAGE_SIZE
    if limit:
        try:
            size = int(limit)
        except ValueError:
            size = 0
        if not 1 <= size <= documents.MAX_PAGE:
            problems.append(describe(InvalidInput(field="limit", reason="input.range", value=limit[:12], min=1,
                                                  max=documents.MAX_PAGE), lang))
            size, limit = PAGE_SIZE, ""
    day_from = _date(date_from, "date_from", problems, lang)
    day_to = _date(date_to, "date_to", problems, lang)
    args: dict[str, Any] = {"q": q.strip() or None, "status": status or None, "partner": partner.strip() or None,
            "date_from": day_from, "date_to": day_to}
    try:
        page = documents.list_documents(db, kind, actor=viewer.actor, cursor=cursor or None, limit=size, **args)
    except InvalidInput as exc:  # a cursor edited by hand: start again from the top
        problems.append(describe(exc, lang))
        cursor = ""
        page = documents.list_documents(db, kind, actor=viewer.actor, limit=size, **args)
    kept = {k: v for k, v in (("q", q), ("status", status), ("partner", partner), ("date_from", date_from),
                              ("date_to", date_to), ("limit", limit)) if v}
    base = f"/docs/{kind}"
    next_url = f"{base}?{urlencode({**kept, 'cursor': page.next_cursor})}" if page.next_cursor else None
    first_url = (f"{base}?{urlencode(kept)}" if kept else base) if cursor else None
    flashes = [Flash("ok", t("web.docs.done.delete", lang))] if done == "delete" else []
    ctx: dict[str, Any] = dict(
        kind=kind, entity=entity, rows=page.rows, next_url=next_url, first_url=first_url, problems=problems,
        q=q, status=status, partner=partner, date_from=date_from, date_to=date_to, limit=limit,
        status_options=[(s, t(f"status.{s}", lang)) for s in statuses], filtered=bool(kept),
        may_create=doclinks.can_create(kind, viewer.actor), flashes=flashes)
    partial = (request.headers.get("hx-request") == "true" and request.headers.get("hx-target") == "doc-table"
               and not request.headers.get("hx-history-restore-request"))
    response = render(request, "documents/_table.html" if partial else "documents/list.html", viewer, **ctx)
    response.headers["Vary"] = "HX-Request"
    return response


# --- one document ---------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Totals:
    qty: Decimal | None = None
    amount: Decimal | None = None
    tax: Decimal | None = None
    total: Decimal | None = None
    cost: Decimal | None = None


def _sum(values: list[Decimal | None]) -> Decimal | None:
    present = [v for v in values if v is not None]
    return sum(present, Decimal(0)) if present else None


def _totals(entity: str, view: Any) -> Totals:
    """Column totals for the lines table (display only: the stored totals are the services')."""
    if entity == "stock_doc":
        amount = _sum([ln.amount for ln in view.lines])
        tax = _sum([ln.tax for ln in view.lines])
        total = None if amount is None and tax is None else (amount or Decimal(0)) + (tax or Decimal(0))
        return Totals(_sum([ln.qty for ln in view.lines]), amount, tax, total, _sum([ln.cost for ln in view.lines]))
    if entity == "order":
        return Totals(_sum([ln.qty for ln in view.lines]), view.amount, view.tax, view.amount + view.tax)
    if entity == "invoice":
        return Totals(_sum([ln.qty for ln in view.lines]), view.amount, view.tax, view.total)
    return Totals()


def _page(request: Request, db: Session, viewer: Viewer, kind: str, doc_id: int, *, error: str | None = None,
          status_code: int = 200, flashes: list[Flash] | None = None) -> Response:
    actor = viewer.actor
    if kind in READ_ONLY_STOCK:
        entity = "stock_doc"
        if doclinks.kind_of(db, entity, doc_id, actor=actor) != kind:
            raise NotFound(entity=entity, key=doc_id)
        view: Any = stock.get_stock_doc(db, doc_id, actor=actor)
        actions: list[str] = []
    else:
        entity = _known(kind)
        view = documents.get_document(db, kind, doc_id, actor=actor)
        actions = doclinks.allowed_actions(db, kind, doc_id, actor=actor)
    links = doclinks.document_links(db, entity, doc_id, actor=actor)
    entries = doclinks.stock_entries(db, doc_id, actor=actor) if entity == "stock_doc" else None
    own_voucher = next((ln for ln in links if ln.relation == "voucher"), None)
    voucher = vouchers.get_voucher(db, own_voucher.id, actor=actor) if own_voucher else None
    shown = [v for v in (voucher, view) if isinstance(v, vouchers.VoucherView)]
    codes = [getattr(view, "partner", None), *(ln.partner for v in shown for ln in v.lines)]
    names = doclinks.partner_names(db, codes, actor=actor) if viewer.can(perm.MASTERDATA_READ) else {}
    return render(request, "documents/page.html", viewer, status_code=status_code, kind=kind, entity=entity,
                  doc_id=doc_id, view=view, actions=actions, links=[ln for ln in links if ln.relation != "voucher"],
                  entries=entries, voucher=voucher, voucher_id=own_voucher.id if own_voucher else None,
                  totals=_totals(entity, view), error=error, today=date.today().isoformat(),
                  invoice_kind=doclinks.INVOICE_FOR.get(kind), stock_kind=doclinks.STOCK_FOR.get(kind),
                  can_ledger=viewer.can(perm.LEDGER_READ), partner_names=names, flashes=flashes or [])


@router.get("/docs/{kind}/{doc_id:int}")
def doc_page(request: Request, kind: str, doc_id: int, viewer: ViewerDep, db: DbDep, done: str = "") -> Response:
    flashes = [Flash("ok", t(f"web.docs.done.{done}", viewer.lang))] if done in DONE else []
    return _page(request, db, viewer, kind, doc_id, flashes=flashes)


@router.post("/docs/{kind}/{doc_id:int}/{action}")
def doc_action(request: Request, kind: str, doc_id: int, action: str, viewer: ViewerDep, db: DbDep,
               day: Annotated[str, Form()] = "") -> Response:
    """One button of the document page: the service decides; a refusal is shown on the page."""
    entity = _known(kind)
    actor = viewer.actor
    target = doc_url(kind, doc_id)
    try:
        if action == "reverse":
            if entity not in ("stock_doc", "voucher"):
                raise InvalidInput(field="action", reason="input.choice", value=action,
                                   choices=", ".join(documents.ACTIONS[entity]))
            try:
                when = date.fromisoformat(day)
            except ValueError:
                raise InvalidInput(field="day", reason="input.invalid_value", value=day[:40]) from None
            documents._check_kind(db, kind, doc_id)
            if entity == "stock_doc":
                target = doc_url(kind, stock.reverse_stock_doc(db, doc_id, when, actor=actor).id)
            else:
                target = doc_url(kind, vouchers.reverse_voucher(db, doc_id, when, actor=actor).id)
        elif action == "audit_override":
            documents.document_action(db, kind, doc_id, "audit", actor=actor, override_match=True)
        elif documents.document_action(db, kind, doc_id, action, actor=actor) is None:
            return RedirectResponse(f"/docs/{kind}?done=delete", status_code=303)
    except NotFound:
        raise
    except JxcError as exc:
        return _page(request, db, viewer, kind, doc_id, error=describe(exc, viewer.lang),
                     status_code=errors.status_of(exc))
    return RedirectResponse(f"{target}?done={action}", status_code=303)
