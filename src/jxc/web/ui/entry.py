"""Document entry: the keyboard- and scanner-first forms for every document type
(/docs/{kind}/new), their live amounts (/docs/{kind}/preview), the look-ups they use
(/ui/lookup/..., /ui/fefo) and the forms that start a document from an order or from
receipts/deliveries.

The page only gathers what was typed into the INTERCHANGE record shape and hands it to
services.documents.create_document; amounts, batches and open invoices come from
services.quotes. Which fields a form shows is layout, kept here; every rule is in a service.
"""

from __future__ import annotations

import re
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from jxc.domain.errors import CsrfRefused, JxcError, NotFound, NotSignedIn
from jxc.domain.stockdocs import KINDS as STOCK_KINDS
from jxc.domain.stockdocs import DocType
from jxc.i18n import describe, t
from jxc.services import documents, invoices, orders, quotes
from jxc.services.importer import CASH_DOCS, INVOICES, ORDERS
from jxc.web.deps import DbDep, Viewer, ViewerDep
from jxc.web.errors import field_errors
from jxc.web.templating import fmt_money, fmt_qty, render

router = APIRouter(include_in_schema=False)


# --- layouts ----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Col:
    """A grid column: `name` is the line field it edits (or shows), `kind` how it behaves."""

    name: str
    label: str  # message code
    kind: str  # product name unit qty price rate batch expiry calc text account partner money invoice ro


@dataclass(frozen=True, slots=True)
class Head:
    """A header field: date partner warehouse text number date_opt invoice_kind check account hidden."""

    name: str
    label: str
    kind: str
    required: bool = False
    span: int = 1


@dataclass(frozen=True, slots=True)
class Layout:
    kind: str
    family: str  # stock_doc order invoice cash_doc voucher
    head: tuple[Head, ...]
    cols: tuple[Col, ...]
    prefix: str = "lines"  # settle for receipts/payments
    price_mode: bool = False  # the "prices include VAT" switch
    fefo: bool = False  # offer FEFO batches after the quantity
    partner_kind: str | None = None  # supplier / customer / None (any) for the partner look-up
    side: str = ""
    totals: str = "trade"  # trade qty amount voucher cash

    def col(self, name: str) -> Col | None:
        return next((c for c in self.cols if c.name == name), None)

    @property
    def significant(self) -> tuple[str, ...]:
        """The line fields that make a line count: a line without any of them is blank."""
        kinds = {"product", "qty", "price", "batch", "invoice", "account", "money", "text"}
        return tuple(c.name for c in self.cols if c.kind in kinds and c.name not in ("writeoff",))


def _c(name: str, kind: str, label: str | None = None) -> Col:
    return Col(name, label or f"web.entry.col.{name}", kind)


PRODUCT_COLS = (_c("product", "product"), _c("name", "name"), _c("unit", "unit"))
PRICED = (_c("price", "price"), _c("tax_rate", "rate"), _c("amount", "calc"), _c("tax", "calc"),
          _c("total", "calc"))
BATCH = _c("batch", "batch")
EXPIRY = _c("expiry", "expiry")
QTY = _c("qty", "qty")


def _stock_layout(kind: str) -> Layout:
    partner = STOCK_KINDS[DocType(kind)].partner
    date_h, memo = Head("date", "web.entry.f.date", "date", True), Head("memo", "web.entry.f.memo", "text", span=2)
    wh = Head("warehouse", "web.entry.f.warehouse", "warehouse", True)
    head: list[Head] = [date_h]
    if partner:
        head.append(Head("partner", f"web.entry.f.{partner}", "partner", True))
    cols: tuple[Col, ...]
    fefo = kind in ("sales_delivery", "other_out", "transfer")
    totals = "trade"
    if kind == "purchase_receipt":
        head += [wh, Head("order", "web.entry.f.order", "hidden"), memo]
        cols = (*PRODUCT_COLS, BATCH, EXPIRY, QTY, *PRICED)
    elif kind == "purchase_return":
        head += [wh, Head("source", "web.entry.f.source_receipt", "text"), memo]
        cols = (*PRODUCT_COLS, BATCH, QTY, *PRICED)
    elif kind == "sales_delivery":
        head += [wh, Head("salesperson", "web.entry.f.salesperson", "text"), Head("order", "web.entry.f.order",
                                                                                  "hidden"), memo]
        cols = (*PRODUCT_COLS, QTY, BATCH, *PRICED)
    elif kind == "sales_return":
        head += [wh, Head("source", "web.entry.f.source_delivery", "text"),
                 Head("salesperson", "web.entry.f.salesperson", "text"), memo]
        cols = (*PRODUCT_COLS, BATCH, EXPIRY, QTY, *PRICED)
    elif kind == "transfer":
        head += [Head("warehouse", "web.entry.f.from_warehouse", "warehouse", True),
                 Head("to_warehouse", "web.entry.f.to_warehouse", "warehouse", True), memo]
        cols, totals = (*PRODUCT_COLS, QTY, BATCH), "qty"
    elif kind == "other_in":
        head += [wh, Head("account", "web.entry.f.counter_account", "account"),
                 Head("partner", "web.entry.f.partner", "partner"), Head("reason", "web.entry.f.reason", "text"),
                 memo]
        cols, totals = (*PRODUCT_COLS, BATCH, EXPIRY, QTY, _c("price", "price", "web.entry.col.cost"),
                        _c("amount", "calc")), "amount"
    elif kind == "other_out":
        head += [wh, Head("account", "web.entry.f.counter_account", "account"),
                 Head("partner", "web.entry.f.partner", "partner"), Head("reason", "web.entry.f.reason", "text"),
                 memo]
        cols, totals = (*PRODUCT_COLS, QTY, BATCH), "qty"
    else:  # stocktake
        head += [wh, memo]
        cols, totals = (*PRODUCT_COLS, BATCH, EXPIRY, _c("qty", "qty", "web.entry.col.counted_qty")), "qty"
    return Layout(kind, "stock_doc", tuple(head), cols, fefo=fefo, partner_kind=partner,
                  price_mode=kind in ("purchase_receipt", "purchase_return", "sales_delivery", "sales_return"),
                  totals=totals, side="purchase" if partner == "supplier" else "sales")


def layout_of(kind: str) -> Layout:
    """The form of a document type; NotFound for a type without an entry form."""
    if kind in ("purchase_receipt", "purchase_return", "sales_delivery", "sales_return", "transfer", "other_in",
                "other_out", "stocktake"):
        return _stock_layout(kind)
    side = documents.side_of(kind)
    partner = "supplier" if side == "purchase" else "customer"
    date_h = Head("date", "web.entry.f.date", "date", True)
    memo = Head("memo", "web.entry.f.memo", "text", span=2)
    sales = [Head("salesperson", "web.entry.f.salesperson", "text")] if side == "sales" else []
    trade_cols = (*PRODUCT_COLS, QTY, *PRICED)
    if kind in ORDERS:
        head = (date_h, Head("partner", f"web.entry.f.{partner}", "partner", True),
                Head("delivery_date", "web.entry.f.delivery_date", "date_opt"), *sales, memo)
        return Layout(kind, "order", head, trade_cols, price_mode=True, partner_kind=partner, side=side)
    if kind in INVOICES:
        head = (date_h, Head("partner", f"web.entry.f.{partner}", "partner", True),
                Head("invoice_kind", "web.entry.f.invoice_kind", "invoice_kind", True),
                Head("source", "web.entry.f.sources", "text"), *sales, Head("red", "web.entry.f.red", "check"), memo)
        return Layout(kind, "invoice", head, trade_cols, price_mode=True, partner_kind=partner, side=side)
    if kind in CASH_DOCS:
        head = (date_h, Head("partner", f"web.entry.f.{partner}", "partner", True),
                Head("account", "web.entry.f.cash_account", "account", True),
                Head("amount", f"web.entry.f.amount_{kind}", "number", True), memo)
        cols = (_c("invoice", "invoice"), _c("inv_date", "ro"), _c("inv_total", "ro"), _c("open", "ro"),
                _c("amount", "money", "web.entry.col.settle_amount"), _c("writeoff", "money"))
        return Layout(kind, "cash_doc", head, cols, prefix="settle", partner_kind=partner, side=side, totals="cash")
    if kind == "voucher":
        head = (date_h, Head("memo", "web.entry.f.voucher_memo", "text", span=3))
        cols = (_c("memo", "text", "web.entry.col.summary"), _c("account", "account"), _c("account_name", "ro"),
                _c("partner", "partner"), _c("debit", "money"), _c("credit", "money"))
        return Layout(kind, "voucher", head, cols, totals="voucher")
    raise NotFound(entity="doc_kind", key=kind)


# --- reading the form ---------------------------------------------------------------

SEPARATORS = re.compile(r"[\s,;\uff0c\uff1b]+")  # numbers typed in one field: spaces, commas (also full-width)
HEAD_COLUMNS = 4  # the header grid's columns on a wide screen
LINE_KEY = re.compile(r"^(lines|settle)\[(\d+)\]\.([a-z_]+)$")


@dataclass(slots=True)
class Typed:
    """What the form held: header values and every grid row, as text."""

    head: dict[str, str]
    rows: list[dict[str, str]]
    key: str
    price_incl_tax: bool
    action: str


async def _read(request: Request) -> Typed:
    form = await request.form()
    head: dict[str, str] = {}
    grouped: dict[int, dict[str, str]] = defaultdict(dict)
    for name, value in form.multi_items():
        if not isinstance(value, str):
            continue
        m = LINE_KEY.match(name)
        if m:
            grouped[int(m.group(2))][m.group(3)] = _iso_day(value.strip()) if m.group(3) == "expiry" else value.strip()
        elif name not in ("csrf_token",):
            head[name] = value.strip() if name != "source" else value
    rows = [grouped[i] for i in sorted(grouped)]
    return Typed(head, rows, head.pop("idempotency_key", "") or _new_key(), head.pop("price_incl_tax", "") == "1",
                 head.pop("action", "save"))


DAY_TYPED = re.compile(r"^(\d{4})[-/.\u5e74]?(\d{1,2})[-/.\u6708]?(\d{1,2})\u65e5?$")  # also 2027 year 10 month 31 day


def _iso_day(text: str) -> str:
    """A date as typed in a grid cell (20271031, 2027/10/31, 2027.10.31) in ISO form; other
    text passes unchanged for the record's own check to report."""
    m = DAY_TYPED.match(text)
    if not m:
        return text
    return f"{m.group(1)}-{int(m.group(2)):02d}-{int(m.group(3)):02d}"


def _new_key() -> str:
    return "web-" + secrets.token_urlsafe(18)


def _blank(lay: Layout, row: dict[str, str]) -> bool:
    return not any(row.get(name) for name in lay.significant)


def _put(target: dict[str, Any], key: str, value: str | None) -> None:
    if value:
        target[key] = value


def build_record(lay: Layout, typed: Typed, rows: list[dict[str, str]]) -> dict[str, Any]:
    """The INTERCHANGE record (without `type`) for what was typed; blank rows already left out.
    Empty fields are left out so the record says only what the user said."""
    h = typed.head
    rec: dict[str, Any] = {}
    _put(rec, "date", h.get("date"))
    if lay.family == "voucher":
        _put(rec, "memo", h.get("memo"))
        rec["lines"] = []
        for r in rows:
            line: dict[str, Any] = {"account": r.get("account", "")}
            _put(line, "partner", r.get("partner"))
            _put(line, "debit", r.get("debit"))
            _put(line, "credit", r.get("credit"))
            _put(line, "memo", r.get("memo"))
            rec["lines"].append(line)
        return rec
    for name in ("partner", "memo"):
        _put(rec, name, h.get(name))
    if lay.family == "cash_doc":
        _put(rec, "account", h.get("account"))
        _put(rec, "amount", h.get("amount"))
        rec["settle"] = []
        for r in rows:
            line = {"invoice": r.get("invoice", ""), "amount": r.get("amount", "")}
            _put(line, "writeoff", r.get("writeoff"))
            rec["settle"].append(line)
        return rec
    for name in ("warehouse", "to_warehouse", "order", "salesperson", "reason", "account", "delivery_date",
                 "invoice_kind"):
        if any(x.name == name for x in lay.head):
            _put(rec, name, h.get(name))
    if lay.family == "invoice":
        sources = [s for s in SEPARATORS.split(h.get("source", "")) if s]
        if sources:
            rec["source"] = sources
        if h.get("red"):
            rec["red"] = True
    elif any(x.name == "source" for x in lay.head):
        _put(rec, "source", h.get("source"))
    price_key = "price_incl_tax" if typed.price_incl_tax and lay.price_mode else "price"
    qty_key = "counted_qty" if lay.kind == "stocktake" else "qty"
    rec["lines"] = []
    for r in rows:
        line = {"product": r.get("product", "")}
        if lay.family in ("order", "invoice"):
            line["qty"] = r.get("qty", "")
        else:
            _put(line, qty_key, r.get("qty"))
        if lay.col("price") is not None and r.get("price"):
            line[price_key] = r["price"]
            if lay.col("tax_rate") is not None:
                _put(line, "tax_rate", r.get("tax_rate"))
        if lay.col("batch") is not None:
            _put(line, "batch", r.get("batch"))
        if lay.col("expiry") is not None:
            _put(line, "expiry", r.get("expiry"))
        rec["lines"].append(line)
    return rec


# --- showing the form ---------------------------------------------------------------

@dataclass(slots=True)
class RowView:
    values: dict[str, str]
    info: dict[str, Any] = field(default_factory=dict)  # name, unit, spec, batch_tracked, names of codes
    calc: dict[str, str] = field(default_factory=dict)  # amount, tax, total as shown
    errors: dict[str, str] = field(default_factory=dict)  # column -> message


@dataclass(slots=True)
class Problems:
    head: dict[str, str] = field(default_factory=dict)
    cells: dict[tuple[int, str], str] = field(default_factory=dict)  # (row 1-based, column)
    general: list[str] = field(default_factory=list)
    count: int = 0


CELL_ALIASES = {"price_incl_tax": "price", "counted_qty": "qty"}


def _problems(lay: Layout, exc: JxcError, lang: str) -> Problems:
    """Each service error next to its field: a header field, a grid cell, or the top alert."""
    out = Problems()
    head_names = {h.name for h in lay.head if h.kind != "hidden"}
    for item in field_errors(exc, lang):
        path, message = str(item["field"]), str(item["message"])
        out.count += 1
        m = re.match(r"^(lines|settle)\[(\d+)\](?:\.([a-z_]+))?$", path)
        if m and m.group(1) == lay.prefix:
            name = CELL_ALIASES.get(m.group(3) or "", m.group(3) or lay.cols[0].name)
            if lay.col(name) is None:
                name = lay.cols[0].name
            out.cells.setdefault((int(m.group(2)), name), message)
        elif path in head_names:
            out.head.setdefault(path, message)
        elif path.startswith("source") and "source" in head_names:
            out.head.setdefault("source", message)
        else:
            out.general.append(message)
    return out


def _rate_text(rate: Decimal | None) -> str:
    return "" if rate is None else format(rate.normalize(), "f")


def _rows_view(db: Session, viewer: Viewer, lay: Layout, rows: list[dict[str, str]], price_incl_tax: bool,
               problems: Problems | None, head: dict[str, str]) -> tuple[list[RowView], dict[str, str]]:
    """The rows as the grid shows them (with names and amounts) and the totals."""
    actor = viewer.actor
    views = [RowView(dict(r)) for r in rows]
    totals: dict[str, str] = {}
    if lay.family in ("stock_doc", "order", "invoice"):
        hits = quotes.products_by_code(db, [r.get("product", "") for r in rows], actor=actor)
        for v in views:
            hit = hits.get(v.values.get("product", ""))
            if hit is not None:
                v.info = {"name": hit.name, "spec": hit.spec, "unit": hit.unit, "batch": hit.batch_tracked}
                if lay.col("tax_rate") is not None and not v.values.get("tax_rate"):
                    v.values["tax_rate"] = _rate_text(hit.tax_rate)
        quote = quotes.quote_lines(db, [quotes.LineDraft(r.get("product", ""), r.get("qty", ""), r.get("price", ""),
                                                         v.values.get("tax_rate", "") if lay.col("tax_rate") else "")
                                        for r, v in zip(rows, views, strict=True)],
                                   price_incl_tax=price_incl_tax and lay.price_mode, actor=actor)
        for v, q in zip(views, quote.lines, strict=True):
            v.calc = {"amount": fmt_money(q.amount), "tax": fmt_money(q.tax), "total": fmt_money(q.total)}
        totals = _trade_totals(quote)
    elif lay.family == "voucher":
        accounts = quotes.names_of(db, "account", [r.get("account", "") for r in rows], actor=actor)
        for v in views:
            v.info = {"account_name": accounts.get(v.values.get("account", ""), "")}
        totals = _voucher_totals(quotes.voucher_balance([(r.get("debit", ""), r.get("credit", "")) for r in rows]))
    else:
        open_items = {o.no: o for o in quotes.open_invoices(db, lay.side, head.get("partner", ""), actor=actor,
                                                            limit=200)} if head.get("partner") else {}
        for v in views:
            o = open_items.get(v.values.get("invoice", ""))
            if o is not None:
                v.calc = {"inv_date": o.date.isoformat(), "inv_total": fmt_money(o.total), "open": fmt_money(o.open)}
        totals = _cash_totals(quotes.cash_split(head.get("amount", ""),
                                                [(r.get("amount", ""), r.get("writeoff", "")) for r in rows]))
    if problems is not None:
        for (row, name), message in problems.cells.items():
            if 1 <= row <= len(views):
                views[row - 1].errors[name] = message
    return views, totals


def _trade_totals(q: quotes.Quote) -> dict[str, str]:
    return {"qty": fmt_qty(q.qty), "amount": fmt_money(q.amount), "tax": fmt_money(q.tax), "total": fmt_money(q.total)}


def _voucher_totals(b: quotes.Balance) -> dict[str, str]:
    return {"debit": fmt_money(b.debit), "credit": fmt_money(b.credit), "difference": fmt_money(b.difference),
            "balanced": "1" if b.balanced else "", "fill_debit": format(max(-b.difference, Decimal(0)), "f"),
            "fill_credit": format(max(b.difference, Decimal(0)), "f")}


def _cash_totals(c: quotes.CashQuote) -> dict[str, str]:
    return {"amount": fmt_money(c.amount), "settled": fmt_money(c.settled), "writeoff": fmt_money(c.writeoff),
            "advance": fmt_money(c.advance), "over": "1" if c.advance < 0 else ""}


def _can_audit(viewer: Viewer, kind: str) -> bool:
    return all(viewer.can(p) for p in quotes.entry_permissions(kind, True))


def _form(request: Request, db: Session, viewer: Viewer, lay: Layout, typed: Typed,
          problems: Problems | None = None, status_code: int = 200, origin: str = "") -> Response:
    head = typed.head
    if not head.get("date"):
        head["date"] = quotes.default_entry_date(db, date.today(), actor=viewer.actor).isoformat()
    if lay.family == "invoice" and not head.get("invoice_kind"):
        head["invoice_kind"] = "special"
    try:
        day = date.fromisoformat(head["date"])
    except ValueError:
        day = date.today()
    choices = quotes.entry_choices(db, day, actor=viewer.actor)
    if "warehouse" not in head and choices.warehouses and any(h.name == "warehouse" for h in lay.head):
        head["warehouse"] = choices.warehouses[0].code  # a fresh form starts in the first warehouse
    shown = [h for h in lay.head if h.kind != "hidden" or head.get(h.name)]
    filled = sum(h.span for h in shown if h.name != "memo") % HEAD_COLUMNS
    memo_span = HEAD_COLUMNS - filled if filled else HEAD_COLUMNS
    rows = [r for r in typed.rows if not _blank(lay, r)]
    rows.append({})  # the empty line the cursor goes to next
    views, totals = _rows_view(db, viewer, lay, rows, typed.price_incl_tax, problems, head)
    partner_name = quotes.names_of(db, "partner", [head.get("partner", "")], actor=viewer.actor).get(
        head.get("partner", ""), "")
    account_name = quotes.names_of(db, "account", [head.get("account", "")], actor=viewer.actor).get(
        head.get("account", ""), "")
    rates = [(_rate_text(r), f"{(r * 100).normalize():f}%") for r, _ in choices.rates]
    return render(request, "entry/form.html", viewer, status_code=status_code, lay=lay, head=head, rows=views,
                  totals=totals, problems=problems or Problems(), key=typed.key,
                  price_incl_tax=typed.price_incl_tax, rates=rates, empty_row=RowView({}),
                  warehouse_options=[(w.code, f"{w.code} {w.name}") for w in choices.warehouses],
                  partner_name=partner_name, account_name=account_name, can_audit=_can_audit(viewer, lay.kind),
                  origin=origin, memo_span=memo_span, entry_title=t(f"web.entry.title.{lay.kind}", viewer.lang),
                  list_url=f"/docs/{lay.kind}" if lay.kind != "voucher" else "/vouchers")


def _empty_typed(lay: Layout) -> Typed:
    return Typed({}, [], _new_key(), False, "save")


# --- routes: new document ---------------------------------------------------------

@router.get("/docs/{kind}/new")
def new_document(kind: str, request: Request, db: DbDep, viewer: ViewerDep) -> Response:
    lay = layout_of(kind)
    quotes.require_entry(viewer.actor, kind)
    typed = _empty_typed(lay)
    for name in ("partner", "warehouse", "order", "source"):  # a link may preset the header
        value = request.query_params.get(name)
        if value and any(h.name == name for h in lay.head):
            typed.head[name] = value
    return _form(request, db, viewer, lay, typed)


def _save(request: Request, db: Session, viewer: Viewer, lay: Layout, typed: Typed, origin: str = "") -> Response:
    rows = [r for r in typed.rows if not _blank(lay, r)]
    audit = typed.action == "audit"
    try:
        record = build_record(lay, typed, rows)
        result = documents.create_document(db, lay.kind, record, actor=viewer.actor, audit=audit,
                                           idempotency_key=typed.key)
    except JxcError as exc:
        if isinstance(exc, NotSignedIn | CsrfRefused):
            raise
        db.rollback()
        typed.rows = rows
        return _form(request, db, viewer, lay, typed, _problems(lay, exc, viewer.lang), status_code=422,
                     origin=origin)
    return RedirectResponse(f"/docs/{lay.kind}/{result.created.id}", status_code=303)


@router.post("/docs/{kind}/new")
async def save_document(kind: str, request: Request, db: DbDep, viewer: ViewerDep) -> Response:
    lay = layout_of(kind)
    quotes.require_entry(viewer.actor, kind)
    typed = await _read(request)
    return _save(request, db, viewer, lay, typed, origin=typed.head.pop("origin", ""))


@router.post("/docs/{kind}/preview")
async def preview(kind: str, request: Request, db: DbDep, viewer: ViewerDep) -> JSONResponse:
    """The grid's amounts and totals for the form as it stands (every row, in order)."""
    lay = layout_of(kind)
    typed = await _read(request)
    views, totals = _rows_view(db, viewer, lay, typed.rows, typed.price_incl_tax, None, typed.head)
    return JSONResponse({"lines": [{**v.calc, **{k: str(x) for k, x in v.info.items()},
                                    "tax_rate": v.values.get("tax_rate", "")} for v in views],
                         "totals": totals})


# --- routes: look-ups ---------------------------------------------------------------

@router.get("/ui/lookup/products")
def lookup_products(db: DbDep, viewer: ViewerDep, q: str = "") -> JSONResponse:
    hits = quotes.lookup_products(db, q, actor=viewer.actor)
    return JSONResponse({"items": [{"code": h.code, "name": h.name, "unit": h.unit, "spec": h.spec,
                                    "barcode": h.barcode, "tax_rate": _rate_text(h.tax_rate),
                                    "batch": h.batch_tracked, "exact": h.exact} for h in hits]})


@router.get("/ui/lookup/partners")
def lookup_partners(db: DbDep, viewer: ViewerDep, q: str = "", kind: str = "") -> JSONResponse:
    hits = quotes.lookup_partners(db, q, actor=viewer.actor, kind=kind or None)
    return JSONResponse({"items": [{"code": h.code, "name": h.name, "meta": t(f"partnerkind.{h.meta}", viewer.lang),
                                    "exact": h.exact} for h in hits]})


@router.get("/ui/lookup/accounts")
def lookup_accounts(db: DbDep, viewer: ViewerDep, q: str = "", cash: str = "") -> JSONResponse:
    hits = quotes.lookup_accounts(db, q, actor=viewer.actor, cash_only=bool(cash))
    return JSONResponse({"items": [{"code": h.code, "name": h.name, "exact": h.exact,
                                    "meta": t("web.entry.partner_detail", viewer.lang) if h.meta else ""}
                                   for h in hits]})


@router.get("/ui/lookup/invoices")
def lookup_invoices(db: DbDep, viewer: ViewerDep, side: str = "sales", partner: str = "",
                    q: str = "") -> JSONResponse:
    items = quotes.open_invoices(db, side, partner, actor=viewer.actor, q=q) if partner else []
    return JSONResponse({"items": [{"code": o.no, "name": fmt_money(o.open), "meta": o.date.isoformat(),
                                    "inv_date": o.date.isoformat(), "inv_total": fmt_money(o.total),
                                    "open": fmt_money(o.open), "amount": format(o.open, "f"),
                                    "exact": o.no == q.strip()} for o in items]})


@router.get("/ui/fefo")
def fefo(db: DbDep, viewer: ViewerDep, product: str = "", warehouse: str = "", qty: str = "") -> JSONResponse:
    """FEFO batches for a delivery line: which batches to take, earliest expiry first."""
    s = quotes.fefo_suggestion(db, product, warehouse, qty, actor=viewer.actor)
    return JSONResponse({"picks": [{"batch": p.batch, "qty": f"{p.qty.normalize():f}",
                                    "expiry": p.expiry.isoformat() if p.expiry else ""} for p in s.picks],
                         "short": f"{s.shortfall.normalize():f}" if s.shortfall > 0 else ""})


# --- routes: from an order, from receipts/deliveries ---------------------------------

ORDER_OF = {"purchase_receipt": "purchase_order", "sales_delivery": "sales_order"}
STOCK_OF = {"purchase_invoice": "purchase", "sales_invoice": "sales"}


def _plain_decimal(value: Decimal | None) -> str:
    return "" if value is None else format(value.normalize(), "f")


def _order_form(request: Request, db: Session, viewer: Viewer, kind: str, order_id: int,
                values: dict[str, str], error: str = "", status_code: int = 200) -> Response:
    order_kind = ORDER_OF.get(kind)
    if order_kind is None:
        raise NotFound(entity="doc_kind", key=kind)
    view = documents.get_document(db, order_kind, order_id, actor=viewer.actor)
    if not values.get("date"):
        values["date"] = quotes.default_entry_date(db, date.today(), actor=viewer.actor).isoformat()
    choices = quotes.entry_choices(db, date.today(), actor=viewer.actor)
    if not values.get("warehouse") and choices.warehouses:
        values["warehouse"] = choices.warehouses[0].code
    names = quotes.products_by_code(db, [ln.product for ln in view.lines], actor=viewer.actor)
    partner_name = quotes.names_of(db, "partner", [view.partner], actor=viewer.actor).get(view.partner, "")
    return render(request, "entry/from_order.html", viewer, status_code=status_code, kind=kind, order=view,
                  order_kind=order_kind, values=values, error=error,
                  warehouse_options=[(w.code, f"{w.code} {w.name}") for w in choices.warehouses],
                  products=names, partner_name=partner_name, key=values.get("idempotency_key") or _new_key())


@router.get("/docs/{kind}/from-order/{order_id}")
def from_order_page(kind: str, order_id: int, request: Request, db: DbDep, viewer: ViewerDep) -> Response:
    quotes.require_entry(viewer.actor, kind)
    return _order_form(request, db, viewer, kind, order_id, {})


@router.post("/docs/{kind}/from-order/{order_id}")
async def from_order(kind: str, order_id: int, request: Request, db: DbDep, viewer: ViewerDep) -> Response:
    """Make the receipt/delivery for what is open on the order; when it cannot be saved as it
    stands (a batch to fill in, not enough stock), the entry form opens with its lines."""
    quotes.require_entry(viewer.actor, kind)
    typed = await _read(request)
    order_kind = ORDER_OF.get(kind)
    if order_kind is None:
        raise NotFound(entity="doc_kind", key=kind)
    view = documents.get_document(db, order_kind, order_id, actor=viewer.actor)
    db.rollback()
    values = {"date": typed.head.get("date", ""), "warehouse": typed.head.get("warehouse", ""),
              "idempotency_key": typed.key}
    try:
        data = orders.stock_doc_from_order(db, documents.side_of(order_kind), view.no,
                                           date.fromisoformat(values["date"]), values["warehouse"],
                                           actor=viewer.actor)
    except ValueError:
        return _order_form(request, db, viewer, kind, order_id, values,
                           t("web.entry.bad_date", viewer.lang), 422)
    except JxcError as exc:
        if isinstance(exc, NotSignedIn | CsrfRefused):
            raise
        db.rollback()
        return _order_form(request, db, viewer, kind, order_id, values, describe(exc, viewer.lang), 422)
    lay = layout_of(kind)
    head = {"date": data.doc_date.isoformat(), "partner": data.partner or "", "warehouse": data.warehouse or "",
            "order": data.order or "", "salesperson": data.salesperson}
    rows = [{"product": ln.product, "qty": _plain_decimal(ln.qty), "price": _plain_decimal(ln.price),
             "tax_rate": _rate_text(ln.tax_rate), "batch": ln.batch or ""} for ln in data.lines]
    return _save(request, db, viewer, lay, Typed(head, rows, typed.key, False, "save"),
                 origin=t("web.entry.from_order_origin", viewer.lang, no=view.no))


def _sources(request: Request, typed: Typed | None = None) -> list[str]:
    found = request.query_params.getlist("source")
    if typed is not None:
        found += SEPARATORS.split(typed.head.get("source", ""))
    return [s.strip() for s in dict.fromkeys(found) if s.strip()]


def _stock_form(request: Request, db: Session, viewer: Viewer, kind: str, values: dict[str, str],
                sources: list[str], error: str = "", status_code: int = 200) -> Response:
    if kind not in STOCK_OF:
        raise NotFound(entity="doc_kind", key=kind)
    if not values.get("date"):
        values["date"] = quotes.default_entry_date(db, date.today(), actor=viewer.actor).isoformat()
    values.setdefault("invoice_kind", "special")
    return render(request, "entry/from_stock.html", viewer, status_code=status_code, kind=kind, values=values,
                  sources=sources, error=error, key=values.get("idempotency_key") or _new_key())


@router.get("/docs/{kind}/from-stock")
def from_stock_page(kind: str, request: Request, db: DbDep, viewer: ViewerDep) -> Response:
    quotes.require_entry(viewer.actor, kind)
    return _stock_form(request, db, viewer, kind, {}, _sources(request))


@router.post("/docs/{kind}/from-stock")
async def from_stock(kind: str, request: Request, db: DbDep, viewer: ViewerDep) -> Response:
    """Make the invoice for what is left to bill on these receipts/deliveries."""
    quotes.require_entry(viewer.actor, kind)
    typed = await _read(request)
    side = STOCK_OF.get(kind)
    if side is None:
        raise NotFound(entity="doc_kind", key=kind)
    sources = _sources(request, typed)
    values = {"date": typed.head.get("date", ""), "invoice_kind": typed.head.get("invoice_kind", "special"),
              "red": typed.head.get("red", ""), "idempotency_key": typed.key}
    try:
        data = invoices.invoice_from_stock(db, side, sources, date.fromisoformat(values["date"]), actor=viewer.actor,
                                           red=bool(values["red"]), invoice_kind=values["invoice_kind"])
    except ValueError:
        return _stock_form(request, db, viewer, kind, values, sources, t("web.entry.bad_date", viewer.lang), 422)
    except JxcError as exc:
        if isinstance(exc, NotSignedIn | CsrfRefused):
            raise
        db.rollback()
        return _stock_form(request, db, viewer, kind, values, sources, describe(exc, viewer.lang), 422)
    if not data.lines:
        return _stock_form(request, db, viewer, kind, values, sources, t("web.entry.nothing_to_bill", viewer.lang),
                           422)
    lay = layout_of(kind)
    head = {"date": data.invoice_date.isoformat(), "partner": data.partner, "invoice_kind": data.invoice_kind,
            "source": " ".join(data.sources), "red": "1" if data.red else "", "salesperson": data.salesperson}
    rows = [{"product": ln.product, "qty": _plain_decimal(ln.qty), "price": _plain_decimal(ln.price),
             "tax_rate": _rate_text(ln.tax_rate)} for ln in data.lines]
    return _save(request, db, viewer, lay, Typed(head, rows, typed.key, False, "save"),
                 origin=t("web.entry.from_stock_origin", viewer.lang, sources=", ".join(sources)))
