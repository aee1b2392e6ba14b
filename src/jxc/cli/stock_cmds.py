"""The inventory commands of `jxc`: stock documents, the costing run, stock reports, master
data and posting rules. Registered on the app of jxc.cli.main when that module loads; the
same conventions hold: one service call per command, errors through _errors(), every text
from the catalogs."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from jxc.cli.main import Format, FormatOpt, H, _errors, app, ctx, report_app
from jxc.cli.output import amount, err, out, print_json, table
from jxc.domain.costing import Method
from jxc.domain.errors import BatchInvalid, InvalidInput, JxcError
from jxc.domain.numbers import parse_decimal
from jxc.domain.stockdocs import DocStatus, DocType
from jxc.i18n import t
from jxc.services import masterdata, stock, stockreports

stock_app = typer.Typer(no_args_is_help=True, help=H("help.stock_app"))
cost_app = typer.Typer(no_args_is_help=True, help=H("help.cost_app"))
product_app = typer.Typer(no_args_is_help=True, help=H("help.product_app"))
warehouse_app = typer.Typer(no_args_is_help=True, help=H("help.warehouse_app"))
partner_app = typer.Typer(no_args_is_help=True, help=H("help.partner_app"))
category_app = typer.Typer(no_args_is_help=True, help=H("help.category_app"))
posting_rule_app = typer.Typer(no_args_is_help=True, help=H("help.posting_rule_app"))


# --- parsing input ------------------------------------------------------------------

def _day(field: str, text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(field=field, reason="input.date_format", value=text) from None


def _dec(field: str, text: str) -> Decimal:
    value = parse_decimal(text)
    if value is None:
        raise InvalidInput(field=field, reason="input.not_decimal", value=text)
    return value


def _opt_dec(field: str, text: str | None) -> Decimal | None:
    return None if text is None else _dec(field, text)


def _doc_type(text: str, allowed: list[str]) -> str:
    value = text.strip()
    if value not in allowed:
        raise InvalidInput(field="doc_type", reason="input.choice", value=text, choices=", ".join(allowed))
    return value


ALL_TYPES = [d.value for d in DocType]
ENTERED_TYPES = [d.value for d in DocType if d is not DocType.OPENING_STOCK]  # opening stock: `jxc stock opening`


def _parse_stock_line(spec: str, doc_type: str, index: int, incl_tax: bool, errors: list[JxcError],
                      ) -> stock.StockLineIn | None:
    """PRODUCT,QTY[,PRICE[,BATCH[,EXPIRY]]]; a cost adjustment's second field is its amount.
    Problems go to `errors`, each naming its line and field."""
    parts = [p.strip() for p in spec.split(",")]
    f = f"lines[{index}]"
    if len(parts) < 2 or len(parts) > 5 or not parts[0] or not parts[1]:
        errors.append(InvalidInput(field=f, reason="cli.stock_line_format", value=spec))
        return None
    parts += [""] * (5 - len(parts))
    product, second, price_text, batch, expiry_text = parts
    before = len(errors)
    adjustment = doc_type == DocType.COST_ADJUSTMENT.value
    second_field = "amount" if adjustment else "counted_qty" if doc_type == DocType.STOCKTAKE.value else "qty"
    number = parse_decimal(second)
    if number is None:
        errors.append(InvalidInput(field=f"{f}.{second_field}", reason="input.not_decimal", value=second))
    price = None
    if price_text:
        price = parse_decimal(price_text)
        if price is None:
            errors.append(InvalidInput(field=f"{f}.{'price_incl_tax' if incl_tax else 'price'}",
                                       reason="input.not_decimal", value=price_text))
    expiry = None
    if expiry_text:
        try:
            expiry = date.fromisoformat(expiry_text)
        except ValueError:
            errors.append(InvalidInput(field=f"{f}.expiry", reason="input.date_format", value=expiry_text))
    if len(errors) > before:
        return None
    return stock.StockLineIn(product, qty=None if adjustment else number,
                             price=None if incl_tax else price, price_incl_tax=price if incl_tax else None,
                             batch=batch or None, expiry=expiry, amount=number if adjustment else None)


def _doc_id(db: Session, no: str) -> int:
    found = stock.find_doc_by_no(db, no.strip())
    db.rollback()  # end the read so the service can begin its own transaction
    return found


# --- showing values -------------------------------------------------------------------

def _num(value: Decimal | None) -> str:
    """A quantity, price or unit cost without the trailing zeros of its stored scale."""
    if value is None:
        return ""
    return f"{value.normalize():,f}"


def _doc_saved(ref: stock.DocRef, lang: str) -> None:
    out.print(t("cli.stock_saved", lang, no=ref.no, type=t(f"doctype.{ref.doc_type}", lang),
                status=t(f"status.{ref.status}", lang)))
    for w in ref.warnings:  # e.g. over the customer's credit limit when the book only warns
        err.print(t("cli.warning", lang, text=t(w.code, lang, **w.params)))


def _status_word(status: str, red: bool, lang: str) -> str:
    word = t(f"status.{status}", lang)
    return f"{word} {t('word.red', lang)}" if red else word


# --- stock documents -----------------------------------------------------------------

DocNoArg = Annotated[str, typer.Argument(help=H("help.arg_doc_no"))]


@stock_app.command("add", help=H("help.stock_add"))
def stock_add(
    doc_type: Annotated[str, typer.Argument(metavar="TYPE", help=H("help.arg_doc_type"))],
    doc_date: Annotated[str, typer.Option("--date", help=H("help.opt_date"))],
    line: Annotated[list[str] | None, typer.Option("--line", "-l", help=H("help.opt_stock_line"))] = None,
    warehouse: Annotated[str | None, typer.Option(help=H("help.opt_warehouse"))] = None,
    to_warehouse: Annotated[str | None, typer.Option(help=H("help.opt_to_warehouse"))] = None,
    partner: Annotated[str | None, typer.Option(help=H("help.opt_partner"))] = None,
    source: Annotated[str | None, typer.Option(help=H("help.opt_source"))] = None,
    account: Annotated[str | None, typer.Option(help=H("help.opt_counter_doc_account"))] = None,
    reason: Annotated[str, typer.Option(help=H("help.opt_reason"))] = "",
    memo: Annotated[str, typer.Option(help=H("help.opt_memo"))] = "",
    no: Annotated[str | None, typer.Option("--no", help=H("help.opt_doc_no"))] = None,
    incl_tax: Annotated[bool, typer.Option("--incl-tax", help=H("help.opt_incl_tax"))] = False,
    audit: Annotated[bool, typer.Option("--audit", help=H("help.opt_audit_doc"))] = False,
) -> None:
    """Enter a stock document, e.g. purchase_receipt --warehouse WH01 --partner S001 --line P001,10,5."""
    c = ctx()
    with _errors():
        kind = _doc_type(doc_type, ENTERED_TYPES)
        day = _day("date", doc_date)
        errors: list[JxcError] = []
        parsed = [_parse_stock_line(spec, kind, i, incl_tax, errors) for i, spec in enumerate(line or [], start=1)]
        if errors:
            raise BatchInvalid(errors)
        lines = tuple(x for x in parsed if x is not None)
        data = stock.StockDocIn(kind, day, lines, warehouse=warehouse, partner=partner, to_warehouse=to_warehouse,
                                source=source, account=account, no=no, reason=reason, memo=memo)
        db = c.session()
        ref = stock.create_stock_doc(db, data, actor=c.actor(db), audit=audit)
        _doc_saved(ref, c.lang)


@stock_app.command("audit", help=H("help.stock_audit"))
def stock_audit(no: DocNoArg) -> None:
    """Audit a draft document: stock entries and its posted voucher."""
    c = ctx()
    with _errors():
        db = c.session()
        doc_id = _doc_id(db, no)
        _doc_saved(stock.audit_stock_doc(db, doc_id, actor=c.actor(db)), c.lang)


@stock_app.command("unaudit", help=H("help.stock_unaudit"))
def stock_unaudit(no: DocNoArg) -> None:
    """Return an audited document to draft."""
    c = ctx()
    with _errors():
        db = c.session()
        doc_id = _doc_id(db, no)
        _doc_saved(stock.unaudit_stock_doc(db, doc_id, actor=c.actor(db)), c.lang)


@stock_app.command("delete", help=H("help.stock_delete"))
def stock_delete(no: DocNoArg) -> None:
    """Delete a draft document."""
    c = ctx()
    with _errors():
        db = c.session()
        doc_id = _doc_id(db, no)
        stock.delete_stock_doc(db, doc_id, actor=c.actor(db))
        out.print(t("cli.stock_deleted", c.lang, no=no))


@stock_app.command("reverse", help=H("help.stock_reverse"))
def stock_reverse(no: DocNoArg,
                  doc_date: Annotated[str, typer.Option("--date", help=H("help.opt_date"))],
                  audit: Annotated[bool, typer.Option("--audit", help=H("help.opt_audit_doc"))] = False) -> None:
    """Red-letter copy of an audited document."""
    c = ctx()
    with _errors():
        day = _day("date", doc_date)
        db = c.session()
        doc_id = _doc_id(db, no)
        _doc_saved(stock.reverse_stock_doc(db, doc_id, day, actor=c.actor(db), audit=audit), c.lang)


@stock_app.command("show", help=H("help.stock_show"))
def stock_show(no: DocNoArg, fmt: FormatOpt = Format.table) -> None:
    """One document with its lines, their cost and its voucher."""
    c = ctx()
    with _errors():
        db = c.session()
        doc_id = _doc_id(db, no)
        d = stock.get_stock_doc(db, doc_id, actor=c.actor(db))
        if fmt is Format.json:
            print_json(d)
            return
        lang = c.lang
        for code, value in (("col.warehouse", d.warehouse), ("col.to_warehouse", d.to_warehouse),
                            ("col.partner", d.partner), ("col.source", d.source), ("col.voucher", d.voucher),
                            ("col.reason", d.reason), ("col.memo", d.memo)):
            if value:
                out.print(f"{t(code, lang)}: {value}")
        stocktake = d.doc_type == DocType.STOCKTAKE.value
        cols = [("col.product", False), ("col.product_name", False), ("col.batch", False), ("col.expiry", False),
                ("col.book_qty" if stocktake else "col.qty", True)]
        cols += [("col.counted_qty", True)] if stocktake else []
        cols += [("col.price", True), ("col.amount", True), ("col.tax", True), ("col.cost", True)]
        rows = []
        for ln in d.lines:
            qtys = [_num(ln.book_qty), _num(ln.qty)] if stocktake else [_num(ln.qty)]
            rows.append([ln.product, ln.name, ln.batch, ln.expiry.isoformat() if ln.expiry else "", *qtys,
                         _num(ln.price), amount(ln.amount), amount(ln.tax), amount(ln.cost, blank_zero=False)
                         if ln.cost is not None else ""])
        table(t("title.stock_doc", lang, type=t(f"doctype.{d.doc_type}", lang), no=d.no, date=d.doc_date,
                status=_status_word(d.status, d.red, lang)), cols, rows, lang)


@stock_app.command("list", help=H("help.stock_list"))
def stock_list(
    date_from: Annotated[str, typer.Option("--from", help=H("help.opt_date_from"))],
    date_to: Annotated[str, typer.Option("--to", help=H("help.opt_date_to"))],
    doc_type: Annotated[str | None, typer.Option("--type", help=H("help.arg_doc_type"))] = None,
    status: Annotated[DocStatus | None, typer.Option(help=H("help.opt_doc_status"))] = None,
    limit: Annotated[int, typer.Option(help=H("help.opt_limit"))] = 100,
    after: Annotated[int | None, typer.Option(help=H("help.opt_after_doc"))] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """单据序时簿: documents of a date range in date order, a page at a time."""
    c = ctx()
    with _errors():
        days = _day("date_from", date_from), _day("date_to", date_to)
        kind = _doc_type(doc_type, ALL_TYPES) if doc_type is not None else None
        db = c.session()
        docs = stock.list_stock_docs(db, date_from=days[0], date_to=days[1], doc_type=kind,
                                     status=status.value if status else None, after_id=after, limit=limit,
                                     actor=c.actor(db))
        more = docs[-1].id if len(docs) == limit else None
        if fmt is Format.json:
            print_json({"docs": docs, "next_after": more})
            return
        rows = [[d.doc_date.isoformat(), d.no, t(f"doctype.{d.doc_type}", c.lang),
                 _status_word(d.status, d.red, c.lang), d.partner or "", d.warehouse, str(d.id)] for d in docs]
        table(t("title.stock_list", c.lang, date_from=days[0], date_to=days[1]),
              [("col.date", False), ("col.document", False), ("col.doc_type", False), ("col.status", False),
               ("col.partner", False), ("col.warehouse", False), ("col.id", True)], rows, c.lang)
        if more is not None:
            out.print(t("cli.more_docs", c.lang, after=more))


@stock_app.command("opening", help=H("help.stock_opening"))
def stock_opening(
    product: Annotated[str, typer.Argument(help=H("help.opt_product"))],
    warehouse: Annotated[str, typer.Argument(help=H("help.opt_warehouse"))],
    qty: Annotated[str, typer.Argument(help=H("help.arg_qty"))],
    value: Annotated[str, typer.Argument(help=H("help.arg_value"))],
    batch: Annotated[str | None, typer.Option(help=H("help.opt_batch"))] = None,
    expiry: Annotated[str | None, typer.Option(help=H("help.opt_expiry"))] = None,
) -> None:
    """期初库存 of one product in one warehouse (before the first posting)."""
    c = ctx()
    with _errors():
        item = stock.OpeningStockIn(product, warehouse, _dec("qty", qty), _dec("value", value), batch=batch,
                                    expiry=_day("expiry", expiry) if expiry else None)
        db = c.session()
        ref = stock.set_opening_stock(db, [item], actor=c.actor(db))
        out.print(t("cli.opening_stock_saved", c.lang, no=ref.no))


@stock_app.command("fefo", help=H("help.stock_fefo"))
def stock_fefo(
    product: Annotated[str, typer.Option(help=H("help.opt_product"))],
    warehouse: Annotated[str, typer.Option(help=H("help.opt_warehouse"))],
    qty: Annotated[str, typer.Option(help=H("help.arg_qty"))],
    fmt: FormatOpt = Format.table,
) -> None:
    """先到期先出: which batches a delivery should take."""
    c = ctx()
    with _errors():
        wanted = _dec("qty", qty)
        db = c.session()
        picks = stockreports.suggest_batches(db, product, warehouse, wanted, actor=c.actor(db))
        taken = sum((q for _, q, _ in picks), Decimal(0))
        if fmt is Format.json:
            print_json({"product": product, "warehouse": warehouse, "qty": wanted, "available": taken,
                        "batches": [{"batch": b, "qty": q, "expiry": e} for b, q, e in picks]})
            return
        rows = [[b, e.isoformat() if e else "", _num(q)] for b, q, e in picks]
        table(t("title.fefo", c.lang, product=product, warehouse=warehouse, qty=_num(wanted)),
              [("col.batch", False), ("col.expiry", False), ("col.qty", True)], rows, c.lang)
        if taken < wanted:
            out.print(t("cli.fefo_short", c.lang, wanted=_num(wanted), available=_num(taken)))


# --- costing run ------------------------------------------------------------------------

@cost_app.command("run", help=H("help.cost_run"))
def cost_run(period: Annotated[str, typer.Option(help=H("help.opt_period"))]) -> None:
    """月末一次加权平均: cost the period's issues of monthly-average products."""
    c = ctx()
    with _errors():
        db = c.session()
        result = stock.cost_run(db, period, actor=c.actor(db))
        out.print(t("cli.cost_run_done", c.lang, period=result.period, keys=result.keys, entries=result.entries,
                    cost=amount(result.cost_of_sales, blank_zero=False)))


# --- stock reports ------------------------------------------------------------------------

SUMMARY_NUMBERS = ("opening_qty", "opening_value", "in_qty", "in_value", "out_qty", "out_value", "closing_qty",
                   "closing_value")


def _summary_cells(row: stockreports.SummaryRow) -> list[str]:
    return [(_num if name.endswith("_qty") else amount)(getattr(row, name)) for name in SUMMARY_NUMBERS]


@report_app.command("stock-summary", help=H("help.report_stock_summary"))
def report_stock_summary(
    date_from: Annotated[str, typer.Option("--from", help=H("help.opt_date_from"))],
    date_to: Annotated[str, typer.Option("--to", help=H("help.opt_date_to"))],
    warehouse: Annotated[str | None, typer.Option(help=H("help.opt_warehouse"))] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """收发存汇总表."""
    c = ctx()
    with _errors():
        days = _day("date_from", date_from), _day("date_to", date_to)
        db = c.session()
        s = stockreports.stock_summary(db, days[0], days[1], warehouse=warehouse, actor=c.actor(db))
        if fmt is Format.json:
            print_json({"date_from": s.date_from, "date_to": s.date_to, "warehouse": s.warehouse, "rows": s.rows,
                        "totals": {k: getattr(s.totals, k) for k in SUMMARY_NUMBERS}})
            return
        cols = [("col.product", False), ("col.product_name", False), ("col.unit", False), ("col.warehouse", False),
                *((f"col.{k}", True) for k in SUMMARY_NUMBERS)]
        rows = [[r.product, f"{r.name} {r.spec}".strip(), r.unit, r.warehouse, *_summary_cells(r)] for r in s.rows]
        footer = [t("col.total", c.lang), "", "", "", *_summary_cells(s.totals)]
        table(t("title.stock_summary", c.lang, date_from=s.date_from, date_to=s.date_to), cols, rows, c.lang,
              footer)


@report_app.command("stock-ledger", help=H("help.report_stock_ledger"))
def report_stock_ledger(
    product: Annotated[str, typer.Option(help=H("help.opt_product"))],
    date_from: Annotated[str, typer.Option("--from", help=H("help.opt_date_from"))],
    date_to: Annotated[str, typer.Option("--to", help=H("help.opt_date_to"))],
    warehouse: Annotated[str | None, typer.Option(help=H("help.opt_warehouse"))] = None,
    batch: Annotated[str | None, typer.Option(help=H("help.opt_batch"))] = None,
    limit: Annotated[int, typer.Option(help=H("help.opt_ledger_limit"))] = 10_000,
    fmt: FormatOpt = Format.table,
) -> None:
    """存货明细账 of one product with its running balance."""
    c = ctx()
    with _errors():
        days = _day("date_from", date_from), _day("date_to", date_to)
        db = c.session()
        led = stockreports.stock_ledger(db, product, days[0], days[1], warehouse=warehouse, batch=batch,
                                        limit=limit, actor=c.actor(db))
        if fmt is Format.json:
            print_json(led)
            return
        lang = c.lang
        cols = [("col.date", False), ("col.document", False), ("col.doc_type", False), ("col.warehouse", False),
                ("col.batch", False), ("col.in_qty", True), ("col.in_value", True), ("col.out_qty", True),
                ("col.out_value", True), ("col.balance_qty", True), ("col.balance_value", True),
                ("col.unit_cost", True)]
        rows = []
        for r in led.rows:
            opening = r.date is None
            rows.append([r.date.isoformat() if r.date else "", r.document,
                         t("col.opening_row" if opening else f"doctype.{r.doc_type}", lang), r.warehouse, r.batch,
                         _num(r.in_qty) if r.in_qty else "", amount(r.in_value), _num(r.out_qty) if r.out_qty else "",
                         amount(r.out_value), _num(r.balance_qty), amount(r.balance_value, blank_zero=False),
                         _num(r.unit_cost)])
        table(t("title.stock_ledger", lang, product=led.product, name=led.name, date_from=led.date_from,
                date_to=led.date_to), cols, rows, lang)
        if led.truncated:
            out.print(t("cli.ledger_truncated", lang, limit=limit))


@report_app.command("stock-balance", help=H("help.report_stock_balance"))
def report_stock_balance(
    as_of: Annotated[str, typer.Option("--date", help=H("help.opt_as_of"))],
    warehouse: Annotated[str | None, typer.Option(help=H("help.opt_warehouse"))] = None,
    product: Annotated[str | None, typer.Option(help=H("help.opt_product"))] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Stock on hand at the end of a day, per product, warehouse and batch."""
    c = ctx()
    with _errors():
        day = _day("date", as_of)
        db = c.session()
        found = stockreports.stock_balance(db, day, warehouse=warehouse, product=product, actor=c.actor(db))
        total = sum((r.value for r in found), Decimal(0))
        if fmt is Format.json:
            print_json({"date": day, "warehouse": warehouse, "product": product, "rows": found,
                        "total_value": total})
            return
        rows = [[r.product, r.name, r.warehouse, r.batch, r.expiry.isoformat() if r.expiry else "", _num(r.qty),
                 _num(r.unit_cost), amount(r.value, blank_zero=False)] for r in found]
        table(t("title.stock_balance", c.lang, date=day),
              [("col.product", False), ("col.product_name", False), ("col.warehouse", False), ("col.batch", False),
               ("col.expiry", False), ("col.qty", True), ("col.unit_cost", True), ("col.amount", True)], rows, c.lang,
              footer=[t("col.total", c.lang), "", "", "", "", "", "", amount(total, blank_zero=False)])


@report_app.command("stock-alerts", help=H("help.report_stock_alerts"))
def report_stock_alerts(
    as_of: Annotated[str | None, typer.Option("--date", help=H("help.opt_alert_date"))] = None,
    days: Annotated[int, typer.Option(help=H("help.opt_alert_days"))] = 30,
    fmt: FormatOpt = Format.table,
) -> None:
    """库存预警: below minimum, above maximum, expiring and expired batches."""
    c = ctx()
    with _errors():
        day = _day("date", as_of) if as_of is not None else date.today()
        db = c.session()
        alerts = stockreports.stock_alerts(db, day, days=days, actor=c.actor(db))
        if fmt is Format.json:
            print_json({"date": day, "days": days, "alerts": alerts})
            return
        rows = [[t(f"alert.{a.kind}", c.lang), a.product, a.name, a.warehouse, a.batch, _num(a.qty),
                 _num(a.limit), a.expiry.isoformat() if a.expiry else ""] for a in alerts]
        table(t("title.stock_alerts", c.lang, date=day),
              [("col.alert", False), ("col.product", False), ("col.product_name", False), ("col.warehouse", False),
               ("col.batch", False), ("col.qty", True), ("col.limit", True), ("col.expiry", False)], rows, c.lang)


# --- master data ----------------------------------------------------------------------

CodeArg = Annotated[str, typer.Argument(help=H("help.arg_code"))]
NameArg = Annotated[str, typer.Argument(help=H("help.arg_name"))]


def _master_list(entity: str, include_inactive: bool, after: str | None, limit: int, fmt: Format) -> None:
    c = ctx()
    with _errors():
        db = c.session()
        found = masterdata.list_master(db, entity, include_inactive=include_inactive, after=after, limit=limit,
                                       actor=c.actor(db))
        more = found[-1].code if len(found) == limit else None
        if fmt is Format.json:
            print_json({"rows": [{"code": r.code, "name": r.name, "active": r.active, **r.detail} for r in found],
                        "next_after": more})
            return
        lang = c.lang
        yes_no = {True: t("word.yes", lang), False: t("word.no", lang)}
        if entity == "product":
            cols = [("col.code", False), ("col.master_name", False), ("col.spec", False), ("col.unit", False),
                    ("col.category", False), ("col.method", False), ("col.tax_rate", True),
                    ("col.batch_tracked", False), ("col.min_qty", True), ("col.max_qty", True), ("col.active", False)]
            rows = [[r.code, r.name, r.detail["spec"], r.detail["unit"], r.detail["category"],
                     t(f"method.{r.detail['costing_method']}", lang), _num(parse_decimal(r.detail["tax_rate"])),
                     yes_no[r.detail["batch_tracked"] == "True"], _num(parse_decimal(r.detail["min_qty"])),
                     _num(parse_decimal(r.detail["max_qty"])), yes_no[r.active]] for r in found]
        elif entity == "partner":
            cols = [("col.code", False), ("col.master_name", False), ("col.kind", False),
                    ("col.credit_limit", True), ("col.active", False)]
            rows = [[r.code, r.name, t(f"partnerkind.{r.detail['kind']}", lang),
                     amount(parse_decimal(r.detail["credit_limit"])), yes_no[r.active]] for r in found]
        else:
            cols = [("col.code", False), ("col.master_name", False), ("col.active", False)]
            rows = [[r.code, r.name, yes_no[r.active]] for r in found]
        table(t(f"title.{entity}_list", lang), cols, rows, lang)
        if more is not None:
            out.print(t("cli.more_master", lang, after=more))


def _set_active(entity: str, code: str, active: bool) -> None:
    c = ctx()
    with _errors():
        db = c.session()
        masterdata.set_active(db, entity, code, active, actor=c.actor(db))
        out.print(t("cli.master_enabled" if active else "cli.master_disabled", c.lang,
                    entity=t(f"entity.{entity}", c.lang), code=code))


def _rename(entity: str, code: str, name: str) -> None:
    c = ctx()
    with _errors():
        db = c.session()
        masterdata.rename(db, entity, code, name, actor=c.actor(db))
        out.print(t("cli.master_saved", c.lang, entity=t(f"entity.{entity}", c.lang), code=code))


def _master_commands(sub: typer.Typer, entity: str, *, rename: bool = True) -> None:
    """list, disable, enable (and rename) for one kind of master record."""

    @sub.command("list", help=H(f"help.{entity}_list"))
    def list_cmd(include_inactive: Annotated[bool, typer.Option("--all", help=H("help.opt_all_master"))] = False,
                 after: Annotated[str | None, typer.Option(help=H("help.opt_after_code"))] = None,
                 limit: Annotated[int, typer.Option(help=H("help.opt_limit"))] = 200,
                 fmt: FormatOpt = Format.table) -> None:
        _master_list(entity, include_inactive, after, limit, fmt)

    @sub.command("disable", help=H(f"help.{entity}_disable"))
    def disable_cmd(code: CodeArg) -> None:
        _set_active(entity, code, False)

    @sub.command("enable", help=H(f"help.{entity}_enable"))
    def enable_cmd(code: CodeArg) -> None:
        _set_active(entity, code, True)

    if rename:
        @sub.command("rename", help=H(f"help.{entity}_rename"))
        def rename_cmd(code: CodeArg, name: NameArg) -> None:
            _rename(entity, code, name)


@product_app.command("add", help=H("help.product_add"))
def product_add(
    code: CodeArg,
    name: NameArg,
    unit: Annotated[str, typer.Option(help=H("help.opt_unit"))],
    tax_rate: Annotated[str, typer.Option(help=H("help.opt_tax_rate"))],
    spec: Annotated[str | None, typer.Option(help=H("help.opt_spec"))] = None,
    category: Annotated[str | None, typer.Option(help=H("help.opt_category"))] = None,
    method: Annotated[Method, typer.Option(help=H("help.opt_method"))] = Method.MOVING_AVERAGE,
    barcode: Annotated[str | None, typer.Option(help=H("help.opt_barcode"))] = None,
    batch_tracked: Annotated[bool, typer.Option("--batch-tracked", help=H("help.opt_batch_tracked"))] = False,
    shelf_life: Annotated[int | None, typer.Option(help=H("help.opt_shelf_life"))] = None,
    min_qty: Annotated[str | None, typer.Option("--min", help=H("help.opt_min_qty"))] = None,
    max_qty: Annotated[str | None, typer.Option("--max", help=H("help.opt_max_qty"))] = None,
) -> None:
    """Add a product."""
    c = ctx()
    with _errors():
        data = masterdata.ProductIn(code, name, unit, _dec("tax_rate", tax_rate), category=category,
                                    costing_method=method.value, barcode=barcode, batch_tracked=batch_tracked,
                                    shelf_life_days=shelf_life, min_qty=_opt_dec("min_qty", min_qty),
                                    max_qty=_opt_dec("max_qty", max_qty), spec=spec)
        db = c.session()
        masterdata.add_product(db, data, actor=c.actor(db))
        out.print(t("cli.master_saved", c.lang, entity=t("entity.product", c.lang), code=code))


@product_app.command("set", help=H("help.product_set"))
def product_set(
    code: CodeArg,
    name: Annotated[str | None, typer.Option(help=H("help.opt_name"))] = None,
    unit: Annotated[str | None, typer.Option(help=H("help.opt_unit"))] = None,
    tax_rate: Annotated[str | None, typer.Option(help=H("help.opt_tax_rate"))] = None,
    spec: Annotated[str | None, typer.Option(help=H("help.opt_spec"))] = None,
    category: Annotated[str | None, typer.Option(help=H("help.opt_category"))] = None,
    method: Annotated[Method | None, typer.Option(help=H("help.opt_method"))] = None,
    barcode: Annotated[str | None, typer.Option(help=H("help.opt_barcode"))] = None,
    batch_tracked: Annotated[bool | None, typer.Option("--batch-tracked/--no-batch-tracked",
                                                       help=H("help.opt_batch_tracked"))] = None,
    shelf_life: Annotated[int | None, typer.Option(help=H("help.opt_shelf_life"))] = None,
    min_qty: Annotated[str | None, typer.Option("--min", help=H("help.opt_min_qty"))] = None,
    max_qty: Annotated[str | None, typer.Option("--max", help=H("help.opt_max_qty"))] = None,
) -> None:
    """Change a product; options not given stay as they are."""
    c = ctx()
    with _errors():
        change = masterdata.ProductChange(
            name=name, spec=spec, unit=unit, category=category, barcode=barcode,
            tax_rate=_opt_dec("tax_rate", tax_rate), min_qty=_opt_dec("min_qty", min_qty),
            max_qty=_opt_dec("max_qty", max_qty), shelf_life_days=shelf_life,
            costing_method=method.value if method else None, batch_tracked=batch_tracked)
        db = c.session()
        masterdata.update_product(db, code, change, actor=c.actor(db))
        out.print(t("cli.master_saved", c.lang, entity=t("entity.product", c.lang), code=code))


_master_commands(product_app, "product", rename=False)  # `product set --name` renames a product


@warehouse_app.command("add", help=H("help.warehouse_add"))
def warehouse_add(code: CodeArg, name: NameArg) -> None:
    """Add a warehouse."""
    c = ctx()
    with _errors():
        db = c.session()
        masterdata.add_warehouse(db, masterdata.WarehouseIn(code, name), actor=c.actor(db))
        out.print(t("cli.master_saved", c.lang, entity=t("entity.warehouse", c.lang), code=code))


_master_commands(warehouse_app, "warehouse")


@partner_app.command("add", help=H("help.partner_add"))
def partner_add(
    code: CodeArg,
    name: NameArg,
    kind: Annotated[str, typer.Option(help=H("help.opt_partner_kind"))],
    credit_limit: Annotated[str | None, typer.Option(help=H("help.opt_credit_limit"))] = None,
) -> None:
    """Add a partner (supplier, customer or both)."""
    c = ctx()
    with _errors():
        data = masterdata.PartnerIn(code, name, kind.strip(), _opt_dec("credit_limit", credit_limit))
        db = c.session()
        masterdata.add_partner(db, data, actor=c.actor(db))
        out.print(t("cli.master_saved", c.lang, entity=t("entity.partner", c.lang), code=code))


_master_commands(partner_app, "partner")


@category_app.command("add", help=H("help.category_add"))
def category_add(code: CodeArg, name: NameArg) -> None:
    """Add a product category."""
    c = ctx()
    with _errors():
        db = c.session()
        masterdata.add_category(db, code, name, actor=c.actor(db))
        out.print(t("cli.master_saved", c.lang, entity=t("entity.category", c.lang), code=code))


_master_commands(category_app, "category")


# --- posting rules ------------------------------------------------------------------------

@posting_rule_app.command("list", help=H("help.posting_rule_list"))
def posting_rule_list(fmt: FormatOpt = Format.table) -> None:
    """The accounts each document type posts to."""
    c = ctx()
    with _errors():
        db = c.session()
        rules = stock.list_posting_rules(db, actor=c.actor(db))
        if fmt is Format.json:
            print_json(rules)
            return
        rows = [[r.doc_type, t(f"doctype.{r.doc_type}", c.lang), r.category or t("word.all", c.lang),
                 r.inventory_account, r.counter_account] for r in rules]
        table(t("title.posting_rules", c.lang),
              [("col.doc_type", False), ("col.doc_type_name", False), ("col.category", False),
               ("col.inventory_account", False), ("col.counter_account", False)], rows, c.lang)


@posting_rule_app.command("set", help=H("help.posting_rule_set"))
def posting_rule_set(
    doc_type: Annotated[str, typer.Argument(metavar="TYPE", help=H("help.arg_rule_doc_type"))],
    inventory: Annotated[str, typer.Option(help=H("help.opt_inventory_account"))],
    counter: Annotated[str, typer.Option(help=H("help.opt_counter_account"))],
    category: Annotated[str, typer.Option(help=H("help.opt_rule_category"))] = "",
) -> None:
    """Set the inventory and counter accounts of a document type (optionally one category)."""
    c = ctx()
    with _errors():
        db = c.session()
        stock.set_posting_rule(db, doc_type.strip(), inventory.strip(), counter.strip(), category=category.strip(),
                               actor=c.actor(db))
        out.print(t("cli.posting_rule_saved", c.lang, type=t(f"doctype.{doc_type.strip()}", c.lang),
                    category=category.strip() or t("word.all", c.lang), inventory=inventory, counter=counter))


app.add_typer(stock_app, name="stock")
app.add_typer(cost_app, name="cost")
app.add_typer(product_app, name="product")
app.add_typer(warehouse_app, name="warehouse")
app.add_typer(partner_app, name="partner")
app.add_typer(category_app, name="category")
app.add_typer(posting_rule_app, name="posting-rule")
