"""Report pages (报表): a toolbar of parameters, the report as a table, drill-down from every
total to the entries and documents behind it, breadcrumbs back, and the same table as an Excel
workbook (`?format=xlsx`).

Each page builds one `Report` (columns, rows of cells with their links, totals) from a service
result; the template renders it and jxc.web.xlsx writes it, so the page and the workbook
always show the same figures. No figure is computed here: totals come from the services.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from jxc.domain.errors import JxcError, NotFound, PermissionDenied
from jxc.i18n import describe
from jxc.i18n import t as translate
from jxc.services import accounts, drilldown, masterdata, reports, statements, stockreports, tradereports
from jxc.services.common import PeriodRef
from jxc.web.deps import DbDep, Viewer, ViewerDep
from jxc.web.errors import field_errors
from jxc.web.templating import doc_url, entity_url, render
from jxc.web.xlsx import Column, workbook, xlsx_response

router = APIRouter(prefix="/reports", include_in_schema=False)

PAGE_ROWS = 200  # detail ledger rows on a page (the workbook takes up to EXPORT_ROWS)
EXPORT_ROWS = 10_000
HTML_ROWS = 500  # longer reports are shown a page at a time (the workbook has every row)


# --- the page model ------------------------------------------------------------------------------

@dataclass
class Field:
    name: str
    label: str
    kind: str = "text"  # text | date | select | checkbox | hidden
    value: Any = ""
    options: Sequence[tuple[str, str]] = ()
    error: str | None = None
    placeholder: str = ""
    datalist: str = ""  # the id of a <datalist> of suggestions
    required: bool = False


@dataclass
class Col:
    title: str
    kind: str = "text"  # text | money | qty | pct | date | int
    blank_zero: bool = False


@dataclass
class Cell:
    value: Any = None
    href: str | None = None
    doc: bool = False  # a link to a document or voucher (shown as a plain link, not a drill)
    extra: list[tuple[str, str]] = field(default_factory=list)  # small secondary links (label, href)


@dataclass
class Row:
    cells: list[Cell]
    cls: str = ""  # total | subtotal | muted
    indent: int = 0


@dataclass
class Report:
    key: str
    title: str
    fields: list[Field]
    cols: list[Col] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    totals: Row | None = None
    crumbs: list[tuple[str, str | None]] = field(default_factory=list)
    export_name: str = ""
    params_text: list[str] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (alert kind, text)
    next_url: str | None = None
    first_url: str | None = None
    summary: list[tuple[str, str]] = field(default_factory=list)  # (label, value) above the table
    datalists: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    ready: bool = True  # False: parameters missing or wrong, nothing to show
    empty_text: str = ""


class Ctx:
    """One request: the language, the query parameters read so far and their problems."""

    def __init__(self, request: Request, viewer: Viewer, db: Session) -> None:
        self.request, self.viewer, self.db = request, viewer, db
        self.lang = viewer.lang
        self.errors: dict[str, str] = {}
        self._periods: drilldown.ReportPeriods | None = None

    def t(self, code: str, **params: Any) -> str:
        return translate(code, self.lang, **params)

    def q(self, name: str) -> str:
        return (self.request.query_params.get(name) or "").strip()

    def day(self, name: str, default: date) -> date:
        raw = self.q(name)
        if not raw:
            return default
        try:
            return date.fromisoformat(raw)
        except ValueError:
            self.errors[name] = self.t("input.date_format", value=raw)
            return default

    @property
    def periods(self) -> drilldown.ReportPeriods:
        if self._periods is None:
            self._periods = drilldown.report_periods(self.db, date.today(), actor=self.viewer.actor)
        return self._periods

    def period(self, name: str = "period") -> PeriodRef | None:
        raw = self.q(name)
        if raw:
            found = next((p for p in self.periods.periods if p.label == raw), None)
            if found is None:
                self.errors[name] = self.t("web.rep.unknown_period", value=raw)
            return found or self.periods.current
        return self.periods.current

    def default_range(self) -> tuple[date, date]:
        cur = self.periods.current
        if cur is None:
            today = date.today()
            return today.replace(day=1), today
        return cur.start_date, cur.end_date

    def period_options(self) -> list[tuple[str, str]]:
        return [(p.label, p.label + ("" if p.status == "open" else f" · {self.t('period.status.' + p.status)}"))
                for p in reversed(self.periods.periods)]

    def period_of(self, day: date) -> PeriodRef | None:
        return next((p for p in self.periods.periods if p.start_date <= day <= p.end_date), None)

    def fail(self, exc: JxcError, report: Report, fields: Sequence[str] = ()) -> None:
        """A service refused the parameters: the message next to its field, else above the table.
        A refusal of permission is not about the parameters: it goes to the error page (403)."""
        if isinstance(exc, PermissionDenied):
            raise exc
        placed = False
        for e in field_errors(exc, self.lang):
            target = e["field"] or _FIELD_OF_CODE.get(e["code"], "")
            if not target and isinstance(exc, NotFound):
                target = str(exc.params.get("entity", ""))
            for f in report.fields:
                if f.name == target and f.name in fields and f.kind != "hidden":
                    f.error = e["message"]
                    placed = True
        if not placed:
            report.notes.append(("error", describe(exc, self.lang)))
        report.ready = False


_FIELD_OF_CODE = {"partner.unknown": "partner", "account.unknown": "account"}


def url(path: str, **params: Any) -> str:
    clean = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in params.items() if v not in (None, "")}
    return f"{path}?{urlencode(clean)}" if clean else path


def _finish(ctx: Ctx, report: Report) -> Response:
    for f in report.fields:
        if f.name in ctx.errors:
            f.error = ctx.errors[f.name]
            report.ready = False
    if ctx.q("format") == "xlsx" and report.ready:
        cols = [Column(c.title, c.kind) for c in report.cols]
        rows = [[c.value for c in r.cells] for r in report.rows]
        totals = [c.value for c in report.totals.cells] if report.totals else None
        data = workbook(report.title, cols, rows, params=report.params_text, totals=totals)
        return xlsx_response(data, report.export_name or report.title)
    if len(report.rows) > HTML_ROWS and report.next_url is None and report.first_url is None:
        _paginate(ctx, report)
    query = {k: v for k, v in ctx.request.query_params.items() if k not in ("format", "cursor", "page")}
    export_url = url(ctx.request.url.path, **query, format="xlsx")
    return render(ctx.request, "reports/report.html", ctx.viewer, report=report, export_url=export_url,
                  groups=_groups(ctx))


def _paginate(ctx: Ctx, report: Report) -> None:
    """A long report shows HTML_ROWS rows a page (the workbook has them all; totals stay whole)."""
    total = len(report.rows)
    pages = (total + HTML_ROWS - 1) // HTML_ROWS
    raw = ctx.q("page")
    page = min(max(int(raw), 1), pages) if raw.isdigit() else 1
    first = (page - 1) * HTML_ROWS
    report.rows = report.rows[first:first + HTML_ROWS]
    query = {k: v for k, v in ctx.request.query_params.items() if k not in ("format", "page")}
    path = ctx.request.url.path
    report.next_url = url(path, **query, page=page + 1) if page < pages else None
    report.first_url = url(path, **query, page=page - 1) if page > 1 else None
    report.notes.append(("info", ctx.t("web.rep.paged", first=first + 1, last=first + len(report.rows),
                                       total=total)))


def _groups(ctx: Ctx) -> list[tuple[str, str, bool]]:
    """The sibling reports shown as tabs: (label, href, is this page)."""
    path = ctx.request.url.path
    pages = [(code, href, p) for code, href, p in _PAGES if ctx.viewer.can(p)]
    group = next((g for g in _TAB_GROUPS if any(href == path for _, href in g)), None)
    if group is None:
        return []
    allowed = {href for _, href, _ in pages}
    return [(ctx.t(code), href, href == path) for code, href in group if href in allowed]


_PAGES = [
    ("web.rep.trial_balance", "/reports/trial-balance", "ledger.read"),
    ("web.rep.general_ledger", "/reports/general-ledger", "ledger.read"),
    ("web.rep.detail_ledger", "/reports/detail-ledger", "ledger.read"),
    ("web.rep.partner_ledger", "/reports/partner-ledger", "ledger.read"),
    ("web.rep.stock_summary", "/reports/stock-summary", "stock.read"),
    ("web.rep.stock_ledger", "/reports/stock-ledger", "stock.read"),
    ("web.rep.ar_aging", "/reports/ar-aging", "trade.read"),
    ("web.rep.ap_aging", "/reports/ap-aging", "trade.read"),
    ("web.rep.statement", "/reports/statement", "trade.read"),
    ("web.rep.gross_profit", "/reports/gross-profit", "trade.read"),
    ("web.rep.balance_sheet", "/reports/balance-sheet", "ledger.read"),
    ("web.rep.income_statement", "/reports/income-statement", "ledger.read"),
]
_TAB_GROUPS = [
    [(c, h) for c, h, _ in _PAGES[0:4]],
    [(c, h) for c, h, _ in _PAGES[4:6]],
    [(c, h) for c, h, _ in _PAGES[6:10]],
    [(c, h) for c, h, _ in _PAGES[10:12]],
]


def _dir(ctx: Ctx, direction: str) -> str:
    return ctx.t("dir." + direction)


def _account_names(ctx: Ctx) -> dict[str, accounts.AccountInfo]:
    return {a.code: a for a in accounts.list_accounts(ctx.db, actor=ctx.viewer.actor)}


def _account_list(infos: dict[str, accounts.AccountInfo]) -> list[tuple[str, str]]:
    return [(a.code, a.name) for a in infos.values() if a.active]


def _warehouses(ctx: Ctx) -> list[tuple[str, str]]:
    try:
        return [(w.code, f"{w.code} {w.name}") for w in masterdata.list_master(ctx.db, "warehouse",
                                                                              actor=ctx.viewer.actor)]
    except JxcError:
        return []


def _master_list(ctx: Ctx, entity: str) -> list[tuple[str, str]]:
    try:
        return [(r.code, r.name) for r in masterdata.list_master(ctx.db, entity, limit=2000,
                                                                  actor=ctx.viewer.actor)]
    except JxcError:
        return []


def _crumb_root(ctx: Ctx) -> list[tuple[str, str | None]]:
    return [(ctx.t("web.rep.reports"), None)]


# --- ledger: trial balance, general ledger, detail ledger, partner sub-ledger --------------------------

@router.get("/trial-balance")
def trial_balance(request: Request, viewer: ViewerDep, db: DbDep) -> Response:
    ctx = Ctx(request, viewer, db)
    period = ctx.period()
    zero = ctx.q("zero") == "1"
    rep = Report("trial_balance", ctx.t("web.rep.trial_balance"), [
        Field("period", ctx.t("web.rep.f.period"), "select", period.label if period else "", ctx.period_options()),
        Field("zero", ctx.t("web.rep.f.include_zero"), "checkbox", zero),
    ], crumbs=_crumb_root(ctx))
    rep.cols = [Col(ctx.t("web.rep.c.account")), Col(ctx.t("web.rep.c.account_name")),
                *(Col(ctx.t(c), "money", blank_zero=True) for c in (
                    "web.rep.c.opening_debit", "web.rep.c.opening_credit", "web.rep.c.debit", "web.rep.c.credit",
                    "web.rep.c.closing_debit", "web.rep.c.closing_credit"))]
    if period is None:
        rep.ready = False
        return _finish(ctx, rep)
    try:
        tb = reports.trial_balance(db, period.label, actor=viewer.actor, include_zero=zero)
    except JxcError as exc:
        ctx.fail(exc, rep, ("period",))
        return _finish(ctx, rep)
    infos = _account_names(ctx)
    rep.title = ctx.t("web.rep.trial_balance")
    rep.export_name = f"{ctx.t('web.rep.trial_balance')}-{period.label}.xlsx"
    rep.params_text = [ctx.t("web.rep.p.period", period=period.label)]
    for r in tb.rows:
        ledger = url("/reports/detail-ledger", account=r.account, date_from=period.start_date,
                     date_to=period.end_date, via="tb")
        extra = []
        info = infos.get(r.account)
        if info is not None and info.partner_aux:
            extra.append((ctx.t("web.rep.by_partner"), url("/reports/partner-ledger", account=r.account,
                                                           period=period.label)))
        rep.rows.append(Row([Cell(r.account, ledger, doc=True, extra=extra), Cell(r.name),
                             *(Cell(getattr(r, k), ledger) for k in (
                                 "opening_debit", "opening_credit", "debit", "credit", "closing_debit",
                                 "closing_credit"))],
                            indent=min(r.level - 1, 3)))
    rep.totals = Row([Cell(ctx.t("web.rep.total")), Cell(""), *(Cell(tb.totals[k]) for k in (
        "opening_debit", "opening_credit", "debit", "credit", "closing_debit", "closing_credit"))], "total")
    rep.notes.append(("ok", ctx.t("web.rep.tb_balanced")) if tb.balanced
                     else ("error", ctx.t("web.rep.tb_unbalanced")))
    return _finish(ctx, rep)


def _ledger_crumbs(ctx: Ctx, via: str, account: str, date_from: date, partner: str | None) -> list[
        tuple[str, str | None]]:
    crumbs = _crumb_root(ctx)
    period = ctx.period_of(date_from)
    label = period.label if period else ""
    if via == "tb" and period:
        crumbs.append((f"{ctx.t('web.rep.trial_balance')} {label}", url("/reports/trial-balance", period=label)))
    elif via == "gl":
        crumbs.append((f"{ctx.t('web.rep.general_ledger')} {account}",
                       url("/reports/general-ledger", account=account, year=date_from.year)))
    elif via == "pl" and period:
        crumbs.append((f"{ctx.t('web.rep.trial_balance')} {label}", url("/reports/trial-balance", period=label)))
        crumbs.append((f"{ctx.t('web.rep.partner_ledger')} {account}",
                       url("/reports/partner-ledger", account=account, period=label)))
    elif via.startswith(("bs:", "is:")) and period:
        kind, _, line = via.partition(":")
        page = "/reports/balance-sheet" if kind == "bs" else "/reports/income-statement"
        title = ctx.t("web.rep.balance_sheet" if kind == "bs" else "web.rep.income_statement")
        crumbs.append((f"{title} {label}", url(page, period=label)))
        crumbs.append((ctx.t("web.rep.line_no", line=line), url(
            "/reports/statement-line", statement="balance_sheet" if kind == "bs" else "income_statement",
            line=line, period=label)))
    return crumbs


@router.get("/detail-ledger")
def detail_ledger(request: Request, viewer: ViewerDep, db: DbDep) -> Response:
    ctx = Ctx(request, viewer, db)
    d_from, d_to = ctx.default_range()
    account, partner = ctx.q("account"), ctx.q("partner")
    date_from, date_to = ctx.day("date_from", d_from), ctx.day("date_to", d_to)
    via, cursor = ctx.q("via"), ctx.q("cursor") or None
    infos = _account_names(ctx)
    rep = Report("detail_ledger", ctx.t("web.rep.detail_ledger"), [
        Field("account", ctx.t("web.rep.f.account"), "text", account, datalist="dl-accounts", required=True,
              placeholder="1122"),
        Field("partner", ctx.t("web.rep.f.partner"), "text", partner, datalist="dl-partners"),
        Field("date_from", ctx.t("web.rep.f.date_from"), "date", date_from),
        Field("date_to", ctx.t("web.rep.f.date_to"), "date", date_to),
        Field("via", "", "hidden", via),
    ], crumbs=_ledger_crumbs(ctx, via, account, date_from, partner or None))
    rep.datalists = {"dl-accounts": _account_list(infos), "dl-partners": _master_list(ctx, "partner")}
    rep.cols = [Col(ctx.t("web.rep.c.date"), "date"), Col(ctx.t("web.rep.c.voucher")),
                Col(ctx.t("web.rep.c.memo")), Col(ctx.t("web.rep.c.document")), Col(ctx.t("web.rep.c.account")),
                Col(ctx.t("web.rep.c.partner")), Col(ctx.t("web.rep.c.debit"), "money", True),
                Col(ctx.t("web.rep.c.credit"), "money", True), Col(ctx.t("web.rep.c.direction")),
                Col(ctx.t("web.rep.c.balance"), "money")]
    if not account:
        rep.ready = False
        rep.empty_text = ctx.t("web.rep.pick_account")
        return _finish(ctx, rep)
    export = ctx.q("format") == "xlsx"
    try:
        led = reports.detail_ledger(db, account, date_from=date_from, date_to=date_to, partner=partner or None,
                                    limit=EXPORT_ROWS if export else PAGE_ROWS, cursor=None if export else cursor,
                                    actor=viewer.actor)
        sources = drilldown.voucher_sources(db, [r.voucher_id for r in led.rows], actor=viewer.actor)
    except JxcError as exc:
        ctx.fail(exc, rep, ("account", "partner", "date_from", "date_to"))
        return _finish(ctx, rep)
    who = f" · {partner}" if partner else ""
    rep.title = f"{ctx.t('web.rep.detail_ledger')} · {led.account} {led.name}{who}"
    rep.export_name = f"{ctx.t('web.rep.detail_ledger')}-{led.account}{'-' + partner if partner else ''}-" \
                      f"{date_from.isoformat()}_{date_to.isoformat()}.xlsx"
    rep.params_text = [ctx.t("web.rep.p.account", account=f"{led.account} {led.name}"),
                       ctx.t("web.rep.p.range", date_from=date_from, date_to=date_to)]
    if partner:
        rep.params_text.append(ctx.t("web.rep.p.partner", partner=partner))
    rep.crumbs.append((rep.title, None))
    if cursor is None or export:
        rep.rows.append(Row([Cell(date_from), Cell(""), Cell(ctx.t("web.rep.opening")), Cell(""), Cell(""), Cell(""),
                             Cell(None), Cell(None), Cell(_dir(ctx, led.opening_direction)),
                             Cell(led.opening_balance)], "subtotal"))
    for r in led.rows:
        src = sources.get(r.voucher_id)
        rep.rows.append(Row([
            Cell(r.voucher_date), Cell(f"{r.period} {r.voucher}", doc_url("voucher", r.voucher_id), doc=True),
            Cell(r.memo), Cell(src.number if src else "", entity_url(src.entity, src.id) if src else None, doc=True),
            Cell(r.account), Cell(r.partner or ""), Cell(r.debit), Cell(r.credit), Cell(_dir(ctx, r.direction)),
            Cell(r.balance)]))
    if led.next_cursor and not export:
        query = {k: v for k, v in request.query_params.items() if k != "cursor"}
        rep.next_url = url(request.url.path, **query, cursor=led.next_cursor)
        rep.first_url = url(request.url.path, **query) if cursor else None
    elif cursor:
        query = {k: v for k, v in request.query_params.items() if k != "cursor"}
        rep.first_url = url(request.url.path, **query)
    info = infos.get(led.account)
    if info is not None and info.partner_aux and not partner:
        per = ctx.period_of(date_from)
        if per is not None:
            rep.summary.append((ctx.t("web.rep.by_partner"), url("/reports/partner-ledger", account=led.account,
                                                                 period=per.label)))
    rep.empty_text = ctx.t("web.rep.no_entries")
    return _finish(ctx, rep)


@router.get("/general-ledger")
def general_ledger(request: Request, viewer: ViewerDep, db: DbDep) -> Response:
    ctx = Ctx(request, viewer, db)
    account = ctx.q("account")
    cur = ctx.periods.current
    year_raw = ctx.q("year")
    year = int(year_raw) if year_raw.isdigit() else (cur.start_date.year if cur else date.today().year)
    years = sorted({p.start_date.year for p in ctx.periods.periods}, reverse=True)
    infos = _account_names(ctx)
    rep = Report("general_ledger", ctx.t("web.rep.general_ledger"), [
        Field("account", ctx.t("web.rep.f.account"), "text", account, datalist="dl-accounts", required=True,
              placeholder="1122"),
        Field("year", ctx.t("web.rep.f.year"), "select", str(year), [(str(y), str(y)) for y in years]),
    ], crumbs=_crumb_root(ctx))
    rep.datalists = {"dl-accounts": _account_list(infos)}
    rep.cols = [Col(ctx.t("web.rep.c.period")), Col(ctx.t("web.rep.c.direction")),
                Col(ctx.t("web.rep.c.opening"), "money"), Col(ctx.t("web.rep.c.debit"), "money"),
                Col(ctx.t("web.rep.c.credit"), "money"), Col(ctx.t("web.rep.c.ytd_debit"), "money"),
                Col(ctx.t("web.rep.c.ytd_credit"), "money"), Col(ctx.t("web.rep.c.direction")),
                Col(ctx.t("web.rep.c.closing"), "money")]
    if not account:
        rep.ready = False
        rep.empty_text = ctx.t("web.rep.pick_account")
        return _finish(ctx, rep)
    try:
        gl = reports.general_ledger(db, account, year=year, actor=viewer.actor)
    except JxcError as exc:
        ctx.fail(exc, rep, ("account", "year"))
        return _finish(ctx, rep)
    rep.title = f"{ctx.t('web.rep.general_ledger')} · {gl.account} {gl.name}"
    rep.export_name = f"{ctx.t('web.rep.general_ledger')}-{gl.account}-{year}.xlsx"
    rep.params_text = [ctx.t("web.rep.p.account", account=f"{gl.account} {gl.name}"),
                       ctx.t("web.rep.p.year", year=year)]
    rep.crumbs.append((rep.title, None))
    by_label = {p.label: p for p in ctx.periods.periods}
    for r in gl.rows:
        p = by_label.get(r.period)
        href = url("/reports/detail-ledger", account=gl.account, date_from=p.start_date, date_to=p.end_date,
                   via="gl") if p else None
        rep.rows.append(Row([Cell(r.period), Cell(_dir(ctx, r.opening_direction)), Cell(r.opening_balance),
                             Cell(r.debit, href), Cell(r.credit, href), Cell(r.ytd_debit), Cell(r.ytd_credit),
                             Cell(_dir(ctx, r.closing_direction)), Cell(r.closing_balance, href)]))
    return _finish(ctx, rep)


@router.get("/partner-ledger")
def partner_ledger(request: Request, viewer: ViewerDep, db: DbDep) -> Response:
    ctx = Ctx(request, viewer, db)
    period = ctx.period()
    account = ctx.q("account") or "1122"
    infos = _account_names(ctx)
    aux = [(a.code, f"{a.code} {a.name}") for a in infos.values() if a.partner_aux]
    rep = Report("partner_ledger", ctx.t("web.rep.partner_ledger"), [
        Field("account", ctx.t("web.rep.f.account"), "select", account, aux),
        Field("period", ctx.t("web.rep.f.period"), "select", period.label if period else "", ctx.period_options()),
    ], crumbs=_crumb_root(ctx))
    rep.cols = [Col(ctx.t("web.rep.c.partner")), Col(ctx.t("web.rep.c.partner_name")),
                Col(ctx.t("web.rep.c.opening"), "money", True), Col(ctx.t("web.rep.c.debit"), "money", True),
                Col(ctx.t("web.rep.c.credit"), "money", True), Col(ctx.t("web.rep.c.closing"), "money", True)]
    if period is None:
        rep.ready = False
        return _finish(ctx, rep)
    try:
        pl = drilldown.partner_subledger(db, account, period.label, actor=viewer.actor)
    except JxcError as exc:
        ctx.fail(exc, rep, ("account", "period"))
        return _finish(ctx, rep)
    rep.crumbs.append((f"{ctx.t('web.rep.trial_balance')} {period.label}",
                       url("/reports/trial-balance", period=period.label)))
    rep.title = f"{ctx.t('web.rep.partner_ledger')} · {pl.account} {pl.name}"
    rep.crumbs.append((rep.title, None))
    rep.export_name = f"{ctx.t('web.rep.partner_ledger')}-{pl.account}-{period.label}.xlsx"
    rep.params_text = [ctx.t("web.rep.p.account", account=f"{pl.account} {pl.name}"),
                       ctx.t("web.rep.p.period", period=period.label), ctx.t("web.rep.signed_note")]
    rep.notes.append(("info", ctx.t("web.rep.signed_note")))
    for r in pl.rows:
        href = url("/reports/detail-ledger", account=pl.account, partner=r.partner, date_from=pl.date_from,
                   date_to=pl.date_to, via="pl")
        rep.rows.append(Row([Cell(r.partner, href, doc=True), Cell(r.name), Cell(r.opening, href),
                             Cell(r.debit, href), Cell(r.credit, href), Cell(r.closing, href)]))
    tot = pl.totals
    rep.totals = Row([Cell(ctx.t("web.rep.total")), Cell(""), Cell(tot.opening), Cell(tot.debit), Cell(tot.credit),
                      Cell(tot.closing)], "total")
    return _finish(ctx, rep)


# --- stock --------------------------------------------------------------------------------------

@router.get("/stock-summary")
def stock_summary(request: Request, viewer: ViewerDep, db: DbDep) -> Response:
    ctx = Ctx(request, viewer, db)
    d_from, d_to = ctx.default_range()
    date_from, date_to = ctx.day("date_from", d_from), ctx.day("date_to", d_to)
    warehouse = ctx.q("warehouse")
    rep = Report("stock_summary", ctx.t("web.rep.stock_summary"), [
        Field("date_from", ctx.t("web.rep.f.date_from"), "date", date_from),
        Field("date_to", ctx.t("web.rep.f.date_to"), "date", date_to),
        Field("warehouse", ctx.t("web.rep.f.warehouse"), "select", warehouse,
              [("", ctx.t("web.rep.all_warehouses")), *_warehouses(ctx)]),
    ], crumbs=_crumb_root(ctx))
    rep.cols = [Col(ctx.t("web.rep.c.product")), Col(ctx.t("web.rep.c.product_name")), Col(ctx.t("web.rep.c.spec")),
                Col(ctx.t("web.rep.c.unit")), Col(ctx.t("web.rep.c.warehouse")),
                *(Col(ctx.t(c), k, True) for c, k in (
                    ("web.rep.c.opening_qty", "qty"), ("web.rep.c.opening_value", "money"),
                    ("web.rep.c.in_qty", "qty"), ("web.rep.c.in_value", "money"),
                    ("web.rep.c.out_qty", "qty"), ("web.rep.c.out_value", "money"),
                    ("web.rep.c.closing_qty", "qty"), ("web.rep.c.closing_value", "money")))]
    if ctx.errors:
        return _finish(ctx, rep)
    try:
        ss = stockreports.stock_summary(db, date_from, date_to, warehouse=warehouse or None, actor=viewer.actor)
    except JxcError as exc:
        ctx.fail(exc, rep, ("date_from", "date_to", "warehouse"))
        return _finish(ctx, rep)
    rep.export_name = f"{ctx.t('web.rep.stock_summary')}-{date_from.isoformat()}_{date_to.isoformat()}.xlsx"
    rep.params_text = [ctx.t("web.rep.p.range", date_from=date_from, date_to=date_to)]
    if warehouse:
        rep.params_text.append(ctx.t("web.rep.p.warehouse", warehouse=warehouse))
    fields = ("opening_qty", "opening_value", "in_qty", "in_value", "out_qty", "out_value", "closing_qty",
              "closing_value")
    for r in ss.rows:
        href = url("/reports/stock-ledger", product=r.product, warehouse=r.warehouse, date_from=date_from,
                   date_to=date_to)
        rep.rows.append(Row([Cell(r.product, href, doc=True), Cell(r.name), Cell(r.spec), Cell(r.unit),
                             Cell(r.warehouse), *(Cell(getattr(r, f), href) for f in fields)]))
    rep.totals = Row([Cell(ctx.t("web.rep.total")), Cell(""), Cell(""), Cell(""), Cell(""),
                      *(Cell(getattr(ss.totals, f)) for f in fields)], "total")
    return _finish(ctx, rep)


@router.get("/stock-ledger")
def stock_ledger(request: Request, viewer: ViewerDep, db: DbDep) -> Response:
    ctx = Ctx(request, viewer, db)
    d_from, d_to = ctx.default_range()
    date_from, date_to = ctx.day("date_from", d_from), ctx.day("date_to", d_to)
    product, warehouse = ctx.q("product"), ctx.q("warehouse")
    rep = Report("stock_ledger", ctx.t("web.rep.stock_ledger"), [
        Field("product", ctx.t("web.rep.f.product"), "text", product, datalist="dl-products", required=True),
        Field("warehouse", ctx.t("web.rep.f.warehouse"), "select", warehouse,
              [("", ctx.t("web.rep.all_warehouses")), *_warehouses(ctx)]),
        Field("date_from", ctx.t("web.rep.f.date_from"), "date", date_from),
        Field("date_to", ctx.t("web.rep.f.date_to"), "date", date_to),
    ], crumbs=_crumb_root(ctx))
    rep.datalists = {"dl-products": _master_list(ctx, "product")}
    rep.cols = [Col(ctx.t("web.rep.c.date"), "date"), Col(ctx.t("web.rep.c.document")),
                Col(ctx.t("web.rep.c.doc_type")), Col(ctx.t("web.rep.c.warehouse")), Col(ctx.t("web.rep.c.batch")),
                *(Col(ctx.t(c), k, True) for c, k in (
                    ("web.rep.c.in_qty", "qty"), ("web.rep.c.in_value", "money"), ("web.rep.c.out_qty", "qty"),
                    ("web.rep.c.out_value", "money"))),
                Col(ctx.t("web.rep.c.balance_qty"), "qty"), Col(ctx.t("web.rep.c.balance_value"), "money"),
                Col(ctx.t("web.rep.c.unit_cost"), "money")]
    rep.crumbs.append((ctx.t("web.rep.stock_summary"), url("/reports/stock-summary", date_from=date_from,
                                                          date_to=date_to, warehouse=warehouse)))
    if not product:
        rep.ready = False
        rep.empty_text = ctx.t("web.rep.pick_product")
        return _finish(ctx, rep)
    if ctx.errors:
        return _finish(ctx, rep)
    try:
        sl = stockreports.stock_ledger(db, product, date_from, date_to, warehouse=warehouse or None,
                                       actor=viewer.actor)
        ids = drilldown.stock_doc_ids(db, [(r.doc_type, r.document) for r in sl.rows if r.document],
                                      actor=viewer.actor)
    except JxcError as exc:
        ctx.fail(exc, rep, ("product", "warehouse", "date_from", "date_to"))
        return _finish(ctx, rep)
    rep.title = f"{ctx.t('web.rep.stock_ledger')} · {sl.product} {sl.name}"
    rep.crumbs.append((rep.title, None))
    rep.export_name = f"{ctx.t('web.rep.stock_ledger')}-{sl.product}-{date_from.isoformat()}_" \
                      f"{date_to.isoformat()}.xlsx"
    rep.params_text = [ctx.t("web.rep.p.product", product=f"{sl.product} {sl.name}"),
                       ctx.t("web.rep.p.range", date_from=date_from, date_to=date_to)]
    for r in sl.rows:
        if r.date is None:
            rep.rows.append(Row([Cell(date_from), Cell(ctx.t("web.rep.opening")), Cell(""), Cell(r.warehouse),
                                 Cell(r.batch), Cell(None), Cell(None), Cell(None), Cell(None),
                                 Cell(r.balance_qty), Cell(r.balance_value), Cell(r.unit_cost)], "subtotal"))
            continue
        doc_id = ids.get((r.doc_type, r.document))
        rep.rows.append(Row([Cell(r.date), Cell(r.document, entity_url("stock_doc", doc_id) if doc_id else None,
                                                 doc=True),
                             Cell(ctx.t("doctype." + r.doc_type)), Cell(r.warehouse), Cell(r.batch),
                             Cell(r.in_qty), Cell(r.in_value), Cell(r.out_qty), Cell(r.out_value),
                             Cell(r.balance_qty), Cell(r.balance_value), Cell(r.unit_cost)]))
    if sl.truncated:
        rep.notes.append(("warn", ctx.t("web.rep.truncated")))
    return _finish(ctx, rep)


# --- trade: aging, statements, open items, gross profit -------------------------------------------

_BUCKET_DAYS = {"d0_30": (0, 30), "d31_60": (31, 60), "d61_90": (61, 90), "d91_180": (91, 180),
                "d180_plus": (181, 3650)}


def _aging(request: Request, viewer: Viewer, db: Session, side: str) -> Response:
    ctx = Ctx(request, viewer, db)
    cur = ctx.periods.current
    default = min(date.today(), cur.end_date) if cur else date.today()
    as_of = ctx.day("as_of", default)
    partner = ctx.q("partner")
    key = "ar_aging" if side == "sales" else "ap_aging"
    rep = Report(key, ctx.t("web.rep." + key), [
        Field("as_of", ctx.t("web.rep.f.as_of"), "date", as_of),
        Field("partner", ctx.t("web.rep.f.partner"), "text", partner, datalist="dl-partners"),
    ], crumbs=_crumb_root(ctx))
    rep.datalists = {"dl-partners": _master_list(ctx, "partner")}
    buckets = ("d0_30", "d31_60", "d61_90", "d91_180", "d180_plus")
    rep.cols = [Col(ctx.t("web.rep.c.partner")), Col(ctx.t("web.rep.c.partner_name")),
                Col(ctx.t("web.rep.c.total"), "money", True),
                *(Col(ctx.t("web.rep.bucket." + b), "money", True) for b in buckets),
                Col(ctx.t("web.rep.c.advance_" + side), "money", True)]
    if ctx.errors:
        return _finish(ctx, rep)
    run: Callable[..., tradereports.Aging] = tradereports.ar_aging if side == "sales" else tradereports.ap_aging
    try:
        ag = run(db, actor=viewer.actor, as_of=as_of, partner=partner or None)
    except JxcError as exc:
        ctx.fail(exc, rep, ("as_of", "partner"))
        return _finish(ctx, rep)
    rep.export_name = f"{ctx.t('web.rep.' + key)}-{as_of.isoformat()}.xlsx"
    rep.params_text = [ctx.t("web.rep.p.as_of", as_of=as_of)]
    for r in ag.rows:
        items = url("/reports/open-items", side=side, partner=r.partner, as_of=as_of)
        cells = [Cell(r.partner, url("/reports/statement", partner=r.partner, date_from=as_of - timedelta(days=365),
                                     date_to=as_of), doc=True), Cell(r.name), Cell(r.total, items)]
        for b in buckets:
            lo, hi = _BUCKET_DAYS[b]
            cells.append(Cell(getattr(r, b), url("/reports/statement", partner=r.partner,
                                                 date_from=as_of - timedelta(days=hi),
                                                 date_to=as_of - timedelta(days=lo), via=f"{side}:{as_of}")))
        cells.append(Cell(r.advance, url("/reports/statement", partner=r.partner,
                                         date_from=as_of - timedelta(days=365), date_to=as_of)))
        rep.rows.append(Row(cells))
    tot = ag.totals
    rep.totals = Row([Cell(ctx.t("web.rep.total")), Cell(""), Cell(tot.total),
                      *(Cell(getattr(tot, b)) for b in buckets), Cell(tot.advance)], "total")
    return _finish(ctx, rep)


@router.get("/ar-aging")
def ar_aging(request: Request, viewer: ViewerDep, db: DbDep) -> Response:
    return _aging(request, viewer, db, "sales")


@router.get("/ap-aging")
def ap_aging(request: Request, viewer: ViewerDep, db: DbDep) -> Response:
    return _aging(request, viewer, db, "purchase")


def _aging_crumb(ctx: Ctx, side: str, as_of: date) -> tuple[str, str]:
    key = "ar_aging" if side == "sales" else "ap_aging"
    page = "/reports/ar-aging" if side == "sales" else "/reports/ap-aging"
    return f"{ctx.t('web.rep.' + key)} {as_of.isoformat()}", url(page, as_of=as_of)


@router.get("/statement")
def partner_statement(request: Request, viewer: ViewerDep, db: DbDep) -> Response:
    ctx = Ctx(request, viewer, db)
    d_from, d_to = ctx.default_range()
    date_from, date_to = ctx.day("date_from", d_from), ctx.day("date_to", d_to)
    partner, via = ctx.q("partner"), ctx.q("via")
    rep = Report("statement", ctx.t("web.rep.statement"), [
        Field("partner", ctx.t("web.rep.f.partner"), "text", partner, datalist="dl-partners", required=True),
        Field("date_from", ctx.t("web.rep.f.date_from"), "date", date_from),
        Field("date_to", ctx.t("web.rep.f.date_to"), "date", date_to),
        Field("via", "", "hidden", via),
    ], crumbs=_crumb_root(ctx))
    side, _, when = via.partition(":")
    if side in ("sales", "purchase"):
        with contextlib.suppress(ValueError):
            rep.crumbs.append(_aging_crumb(ctx, side, date.fromisoformat(when)))
    rep.datalists = {"dl-partners": _master_list(ctx, "partner")}
    rep.cols = [Col(ctx.t("web.rep.c.date"), "date"), Col(ctx.t("web.rep.c.account")),
                Col(ctx.t("web.rep.c.document")), Col(ctx.t("web.rep.c.memo")),
                Col(ctx.t("web.rep.c.debit"), "money", True), Col(ctx.t("web.rep.c.credit"), "money", True),
                Col(ctx.t("web.rep.c.balance"), "money")]
    if not partner:
        rep.ready = False
        rep.empty_text = ctx.t("web.rep.pick_partner")
        return _finish(ctx, rep)
    if ctx.errors:
        return _finish(ctx, rep)
    try:
        st = tradereports.statement(db, actor=viewer.actor, partner=partner, date_from=date_from, date_to=date_to)
        docs = drilldown.statement_documents(db, partner, date_from, date_to, actor=viewer.actor)
    except JxcError as exc:
        ctx.fail(exc, rep, ("partner", "date_from", "date_to"))
        return _finish(ctx, rep)
    rep.title = f"{ctx.t('web.rep.statement')} · {st.partner} {st.name}"
    rep.crumbs.append((rep.title, None))
    rep.export_name = f"{ctx.t('web.rep.statement')}-{st.partner}-{date_from.isoformat()}_" \
                      f"{date_to.isoformat()}.xlsx"
    rep.params_text = [ctx.t("web.rep.p.partner", partner=f"{st.partner} {st.name}"),
                       ctx.t("web.rep.p.range", date_from=date_from, date_to=date_to)]
    rep.rows.append(Row([Cell(date_from), Cell(""), Cell(""), Cell(ctx.t("web.rep.opening")), Cell(None),
                         Cell(None), Cell(st.opening)], "subtotal"))
    for r, doc in zip(st.rows, docs + [None] * (len(st.rows) - len(docs)), strict=False):
        label = r.document or ctx.t("web.rep.source." + r.source_type)
        rep.rows.append(Row([Cell(r.date), Cell(r.account),
                             Cell(label, entity_url(doc.entity, doc.id) if doc else None, doc=True),
                             Cell(r.memo), Cell(r.debit), Cell(r.credit), Cell(r.balance)]))
    rep.totals = Row([Cell(ctx.t("web.rep.closing")), Cell(""), Cell(""), Cell(""), Cell(st.debit), Cell(st.credit),
                      Cell(st.closing)], "total")
    rep.notes.append(("info", ctx.t("web.rep.statement_note")))
    return _finish(ctx, rep)


@router.get("/open-items")
def open_items(request: Request, viewer: ViewerDep, db: DbDep) -> Response:
    ctx = Ctx(request, viewer, db)
    side = ctx.q("side") if ctx.q("side") in ("sales", "purchase") else "sales"
    as_of = ctx.day("as_of", date.today())
    partner = ctx.q("partner")
    rep = Report("open_items", ctx.t("web.rep.open_items"), [
        Field("side", ctx.t("web.rep.f.side"), "select", side,
              [("sales", ctx.t("web.rep.side.sales")), ("purchase", ctx.t("web.rep.side.purchase"))]),
        Field("partner", ctx.t("web.rep.f.partner"), "text", partner, datalist="dl-partners", required=True),
        Field("as_of", ctx.t("web.rep.f.as_of"), "date", as_of),
    ], crumbs=[*_crumb_root(ctx), _aging_crumb(ctx, side, as_of)])
    rep.datalists = {"dl-partners": _master_list(ctx, "partner")}
    rep.cols = [Col(ctx.t("web.rep.c.date"), "date"), Col(ctx.t("web.rep.c.account")),
                Col(ctx.t("web.rep.c.document")), Col(ctx.t("web.rep.c.memo")),
                Col(ctx.t("web.rep.c.amount"), "money"), Col(ctx.t("web.rep.c.open"), "money")]
    if not partner:
        rep.ready = False
        rep.empty_text = ctx.t("web.rep.pick_partner")
        return _finish(ctx, rep)
    if ctx.errors:
        return _finish(ctx, rep)
    try:
        oi = drilldown.open_items(db, partner, side=side, as_of=as_of, actor=viewer.actor)
    except JxcError as exc:
        ctx.fail(exc, rep, ("partner", "as_of", "side"))
        return _finish(ctx, rep)
    rep.title = f"{ctx.t('web.rep.open_items')} · {oi.partner} {oi.name}"
    rep.crumbs.append((rep.title, None))
    rep.export_name = f"{ctx.t('web.rep.open_items')}-{oi.partner}-{as_of.isoformat()}.xlsx"
    rep.params_text = [ctx.t("web.rep.p.partner", partner=f"{oi.partner} {oi.name}"),
                       ctx.t("web.rep.p.as_of", as_of=as_of)]
    for r in oi.rows:
        doc = r.document
        rep.rows.append(Row([Cell(r.item_date), Cell(r.account),
                             Cell(doc.number if doc else ctx.t("web.rep.source." + r.source_type),
                                  entity_url(doc.entity, doc.id) if doc else None, doc=True),
                             Cell(r.memo), Cell(r.amount), Cell(r.open)]))
    rep.totals = Row([Cell(ctx.t("web.rep.total")), Cell(""), Cell(""), Cell(""), Cell(None), Cell(oi.total)],
                     "total")
    rep.notes.append(("info", ctx.t("web.rep.open_items_note")))
    return _finish(ctx, rep)


@router.get("/gross-profit")
def gross_profit(request: Request, viewer: ViewerDep, db: DbDep) -> Response:
    ctx = Ctx(request, viewer, db)
    d_from, d_to = ctx.default_range()
    date_from, date_to = ctx.day("date_from", d_from), ctx.day("date_to", d_to)
    by = ctx.q("by") if ctx.q("by") in ("product", "customer", "salesperson") else "product"
    rep = Report("gross_profit", ctx.t("web.rep.gross_profit"), [
        Field("date_from", ctx.t("web.rep.f.date_from"), "date", date_from),
        Field("date_to", ctx.t("web.rep.f.date_to"), "date", date_to),
        Field("by", ctx.t("web.rep.f.by"), "select", by,
              [(b, ctx.t("web.rep.by." + b)) for b in ("product", "customer", "salesperson")]),
    ], crumbs=_crumb_root(ctx))
    rep.cols = [Col(ctx.t("web.rep.by." + by)), Col(ctx.t("web.rep.c.name")), Col(ctx.t("web.rep.c.qty"), "qty"),
                Col(ctx.t("web.rep.c.revenue"), "money"), Col(ctx.t("web.rep.c.cost"), "money"),
                Col(ctx.t("web.rep.c.profit"), "money"), Col(ctx.t("web.rep.c.margin"), "pct")]
    if ctx.errors:
        return _finish(ctx, rep)
    try:
        gp = tradereports.gross_profit(db, actor=viewer.actor, date_from=date_from, date_to=date_to, by=by)
    except JxcError as exc:
        ctx.fail(exc, rep, ("date_from", "date_to", "by"))
        return _finish(ctx, rep)
    rep.export_name = f"{ctx.t('web.rep.gross_profit')}-{ctx.t('web.rep.by.' + by)}-{date_from.isoformat()}_" \
                      f"{date_to.isoformat()}.xlsx"
    rep.params_text = [ctx.t("web.rep.p.range", date_from=date_from, date_to=date_to),
                       ctx.t("web.rep.p.by", by=ctx.t("web.rep.by." + by))]
    for r in gp.rows:
        href = url("/reports/gross-profit/documents", by=by, key=r.key, date_from=date_from, date_to=date_to)
        rep.rows.append(Row([Cell(r.key or "—", href, doc=True), Cell(r.name if by != "salesperson" else ""),
                             Cell(r.qty, href), Cell(r.revenue, href), Cell(r.cost, href), Cell(r.profit, href),
                             Cell(r.margin)]))
    tot = gp.totals
    rep.totals = Row([Cell(ctx.t("web.rep.total")), Cell(""), Cell(tot.qty), Cell(tot.revenue), Cell(tot.cost),
                      Cell(tot.profit), Cell(tot.margin)], "total")
    return _finish(ctx, rep)


@router.get("/gross-profit/documents")
def gross_profit_documents(request: Request, viewer: ViewerDep, db: DbDep) -> Response:
    ctx = Ctx(request, viewer, db)
    d_from, d_to = ctx.default_range()
    date_from, date_to = ctx.day("date_from", d_from), ctx.day("date_to", d_to)
    by = ctx.q("by") if ctx.q("by") in ("product", "customer", "salesperson") else "product"
    key = ctx.q("key")
    rep = Report("gross_profit_documents", ctx.t("web.rep.gross_profit_documents"), [
        Field("by", ctx.t("web.rep.f.by"), "select", by,
              [(b, ctx.t("web.rep.by." + b)) for b in ("product", "customer", "salesperson")]),
        Field("key", ctx.t("web.rep.f.key"), "text", key, required=True),
        Field("date_from", ctx.t("web.rep.f.date_from"), "date", date_from),
        Field("date_to", ctx.t("web.rep.f.date_to"), "date", date_to),
    ], crumbs=[*_crumb_root(ctx), (ctx.t("web.rep.gross_profit"), url(
        "/reports/gross-profit", by=by, date_from=date_from, date_to=date_to))])
    rep.cols = [Col(ctx.t("web.rep.c.date"), "date"), Col(ctx.t("web.rep.c.document")),
                Col(ctx.t("web.rep.c.doc_type")), Col(ctx.t("web.rep.c.partner")),
                Col(ctx.t("web.rep.c.partner_name")), Col(ctx.t("web.rep.c.salesperson")),
                Col(ctx.t("web.rep.c.qty"), "qty"), Col(ctx.t("web.rep.c.amount_ex_tax"), "money")]
    if not key or ctx.errors:
        rep.ready = False
        return _finish(ctx, rep)
    try:
        docs = drilldown.gross_profit_documents(db, by=by, key=key, date_from=date_from, date_to=date_to,
                                                actor=viewer.actor)
    except JxcError as exc:
        ctx.fail(exc, rep, ("by", "key", "date_from", "date_to"))
        return _finish(ctx, rep)
    rep.title = f"{ctx.t('web.rep.gross_profit_documents')} · {ctx.t('web.rep.by.' + by)} {key}"
    rep.crumbs.append((rep.title, None))
    rep.export_name = f"{ctx.t('web.rep.gross_profit_documents')}-{key}-{date_from.isoformat()}_" \
                      f"{date_to.isoformat()}.xlsx"
    rep.params_text = [ctx.t("web.rep.p.range", date_from=date_from, date_to=date_to),
                       f"{ctx.t('web.rep.by.' + by)}: {key}"]
    for d in docs:
        kind = ctx.t("doctype." + d.doc_type) + (f" ({ctx.t('web.rep.red')})" if d.red else "")
        rep.rows.append(Row([Cell(d.doc_date), Cell(d.document.number, entity_url(d.document.entity, d.document.id),
                                                    doc=True),
                             Cell(kind), Cell(d.partner), Cell(d.partner_name), Cell(d.salesperson), Cell(d.qty),
                             Cell(d.amount)]))
    if len(docs) >= drilldown.MAX_ROWS:
        rep.notes.append(("warn", ctx.t("web.rep.truncated")))
    rep.notes.append(("info", ctx.t("web.rep.gp_docs_note")))
    return _finish(ctx, rep)


# --- financial statements -----------------------------------------------------------------------

def _statement(request: Request, viewer: Viewer, db: Session, which: str) -> Response:
    ctx = Ctx(request, viewer, db)
    period = ctx.period()
    key = which
    rep = Report(key, ctx.t("web.rep." + key), [
        Field("period", ctx.t("web.rep.f.period"), "select", period.label if period else "", ctx.period_options()),
    ], crumbs=_crumb_root(ctx))
    first, second = ("closing", "year_start") if which == "balance_sheet" else ("ytd", "month")
    rep.cols = [Col(ctx.t("web.rep.c.item")), Col(ctx.t("web.rep.c.line_no"), "int"),
                Col(ctx.t("web.rep.col." + first), "money", True), Col(ctx.t("web.rep.col." + second), "money", True)]
    if period is None:
        rep.ready = False
        return _finish(ctx, rep)
    run = statements.balance_sheet if which == "balance_sheet" else statements.income_statement
    try:
        st = run(db, period.label, actor=viewer.actor)
        formulas = {ln.line_no: ln.formula for ln in statements.list_statement_lines(
            db, which, actor=viewer.actor).lines}
    except JxcError as exc:
        ctx.fail(exc, rep, ("period",))
        return _finish(ctx, rep)
    rep.export_name = f"{ctx.t('web.rep.' + key)}-{period.label}.xlsx"
    rep.params_text = [ctx.t("web.rep.p.period", period=period.label)]
    side = ""
    for r in st.rows:
        if which == "balance_sheet" and r.side != side:
            side = r.side
            rep.rows.append(Row([Cell(ctx.t("web.rep.side_" + side)), Cell(None), Cell(None), Cell(None)], "subtotal"))
        formula = formulas.get(r.line_no, "")
        is_total = bool(formula) and all(p.lstrip("+-").startswith("L(") for p in formula.split())
        href = url("/reports/statement-line", statement=which, line=r.line_no, period=period.label) \
            if formula else None
        label = r.label if ctx.lang == "zh_CN" else (r.label_en or r.label)
        sub_item = (r.label_en or "").lower().startswith(("incl", "less:", "add:"))
        rep.rows.append(Row([Cell(label), Cell(r.line_no), Cell(r.amounts[0], href), Cell(r.amounts[1], href)],
                            "subtotal" if is_total else "", indent=1 if sub_item else 0))
    if st.balanced is not None:
        rep.notes.append(("ok", ctx.t("web.rep.bs_balanced")) if st.balanced
                         else ("error", ctx.t("web.rep.bs_unbalanced")))
    if st.uncovered:
        rep.notes.append(("warn", ctx.t("web.rep.uncovered", accounts=", ".join(st.uncovered))))
    return _finish(ctx, rep)


@router.get("/balance-sheet")
def balance_sheet(request: Request, viewer: ViewerDep, db: DbDep) -> Response:
    return _statement(request, viewer, db, "balance_sheet")


@router.get("/income-statement")
def income_statement(request: Request, viewer: ViewerDep, db: DbDep) -> Response:
    return _statement(request, viewer, db, "income_statement")


@router.get("/statement-line")
def statement_line(request: Request, viewer: ViewerDep, db: DbDep) -> Response:
    ctx = Ctx(request, viewer, db)
    which = ctx.q("statement") if ctx.q("statement") in ("balance_sheet", "income_statement") else "balance_sheet"
    period = ctx.period()
    line_raw = ctx.q("line")
    line = int(line_raw) if line_raw.isdigit() else 0
    page = "/reports/balance-sheet" if which == "balance_sheet" else "/reports/income-statement"
    rep = Report("statement_line", ctx.t("web.rep.statement_line"), [
        Field("statement", "", "hidden", which), Field("line", "", "hidden", line or ""),
        Field("period", ctx.t("web.rep.f.period"), "select", period.label if period else "", ctx.period_options()),
    ], crumbs=[*_crumb_root(ctx), (f"{ctx.t('web.rep.' + which)} {period.label if period else ''}",
                                   url(page, period=period.label if period else None))])
    rep.cols = [Col(ctx.t("web.rep.c.sign")), Col(ctx.t("web.rep.c.term")), Col(ctx.t("web.rep.c.account")),
                Col(ctx.t("web.rep.c.name")), Col(ctx.t("web.rep.c.ledger"))]
    if period is None or not line:
        rep.ready = False
        return _finish(ctx, rep)
    try:
        lt = drilldown.statement_line_terms(db, which, line, actor=viewer.actor)
        fy = [p for p in ctx.periods.periods if p.start_date.year == period.start_date.year]
    except JxcError as exc:
        ctx.fail(exc, rep, ())
        return _finish(ctx, rep)
    label = lt.label if ctx.lang == "zh_CN" else (lt.label_en or lt.label)
    rep.title = f"{ctx.t('web.rep.' + which)} · {ctx.t('web.rep.line_no', line=line)} {label}"
    rep.crumbs.append((rep.title, None))
    rep.export_name = f"{ctx.t('web.rep.' + which)}-{line}-{period.label}.xlsx"
    rep.params_text = [ctx.t("web.rep.p.period", period=period.label), f"{ctx.t('web.rep.c.formula')}: {lt.formula}"]
    rep.summary.append((ctx.t("web.rep.c.formula"), lt.formula or "—"))
    via = ("bs:" if which == "balance_sheet" else "is:") + str(line)
    year_start = fy[0].start_date if fy else period.start_date
    for term in lt.terms:
        sign = "+" if term.sign > 0 else "−"
        kind = ctx.t("web.rep.term." + term.kind)
        if term.kind == "L":
            href = url("/reports/statement-line", statement=which, line=term.arg, period=period.label)
            rep.rows.append(Row([Cell(sign), Cell(kind), Cell(ctx.t("web.rep.line_no", line=term.arg), href, doc=True),
                                 Cell(term.name), Cell("")]))
            continue
        if not term.arg:
            rep.rows.append(Row([Cell(sign), Cell(kind), Cell(""), Cell(term.name), Cell("")]))
            continue
        month = url("/reports/detail-ledger", account=term.arg, date_from=period.start_date, date_to=period.end_date,
                    via=via)
        ytd = url("/reports/detail-ledger", account=term.arg, date_from=year_start, date_to=period.end_date, via=via)
        rep.rows.append(Row([Cell(sign), Cell(kind), Cell(term.arg, month, doc=True), Cell(term.name),
                             Cell(ctx.t("web.rep.ledger_month"), month,
                                  extra=[(ctx.t("web.rep.ledger_ytd"), ytd)])]))
    rep.notes.append(("info", ctx.t("web.rep.terms_note")))
    return _finish(ctx, rep)


@router.get("")
def reports_index(request: Request, viewer: ViewerDep, db: DbDep) -> Response:
    """/reports: the first report this user may read."""
    for _, href, p in _PAGES:
        if viewer.can(p):
            return Response(status_code=303, headers={"Location": href})
    return Response(status_code=303, headers={"Location": "/"})
