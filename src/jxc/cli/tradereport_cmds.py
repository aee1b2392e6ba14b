"""`jxc report` for receivables, payables, orders and sales: aging, statements, open orders,
uninvoiced documents, gross profit, purchase summary. Tables on a terminal, the
INTERCHANGE.md shapes with --format json."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from jxc.cli.main import Format, FormatOpt, H, _errors, ctx, report_app
from jxc.cli.output import amount, print_json, table
from jxc.cli.stock_cmds import _day, _num
from jxc.domain.trade import BUCKETS
from jxc.i18n import t
from jxc.services import tradereports

PartnerOpt = Annotated[str | None, typer.Option("--partner", help=H("help.opt_partner"))]
SideOpt = Annotated[str, typer.Option("--side", help=H("help.opt_side"))]


def _aging(kind: str, as_of: str | None, partner: str | None, fmt: Format) -> None:
    c = ctx()
    with _errors():
        day = _day("date", as_of) if as_of else date.today()
        db = c.session()
        run = tradereports.ar_aging if kind == "ar" else tradereports.ap_aging
        report = run(db, actor=c.actor(db), as_of=day, partner=partner)
        if fmt is Format.json:
            print_json({"date": report.as_of, "rows": report.rows, "totals": report.totals})
            return
        cols = [("col.partner", False), ("col.partner_name", False), ("col.total", True),
                *((f"col.{b}", True) for b in BUCKETS), ("col.advance", True)]

        def cells(r: tradereports.AgingRow) -> list[str]:
            return [amount(r.total, blank_zero=False), *(amount(getattr(r, b)) for b in BUCKETS), amount(r.advance)]
        rows = [[r.partner, r.name, *cells(r)] for r in report.rows]
        table(t(f"title.{kind}_aging", c.lang, date=day.isoformat()), cols, rows, c.lang,
              [t("col.total", c.lang), "", *cells(report.totals)])


@report_app.command("ar-aging", help=H("help.report_ar_aging"))
def report_ar_aging(as_of: Annotated[str | None, typer.Option("--date", help=H("help.opt_as_of"))] = None,
                    partner: PartnerOpt = None, fmt: FormatOpt = Format.table) -> None:
    """应收账龄分析."""
    _aging("ar", as_of, partner, fmt)


@report_app.command("ap-aging", help=H("help.report_ap_aging"))
def report_ap_aging(as_of: Annotated[str | None, typer.Option("--date", help=H("help.opt_as_of"))] = None,
                    partner: PartnerOpt = None, fmt: FormatOpt = Format.table) -> None:
    """应付账龄分析."""
    _aging("ap", as_of, partner, fmt)


@report_app.command("statement", help=H("help.report_statement"))
def report_statement(
    partner: Annotated[str, typer.Option("--partner", help=H("help.opt_partner"))],
    date_from: Annotated[str, typer.Option("--from", help=H("help.opt_date_from"))],
    date_to: Annotated[str, typer.Option("--to", help=H("help.opt_date_to"))],
    fmt: FormatOpt = Format.table,
) -> None:
    """对账单."""
    c = ctx()
    with _errors():
        days = _day("date_from", date_from), _day("date_to", date_to)
        db = c.session()
        s = tradereports.statement(db, actor=c.actor(db), partner=partner, date_from=days[0], date_to=days[1])
        if fmt is Format.json:
            print_json(s)
            return
        cols = [("col.date", False), ("col.account", False), ("col.document", False), ("col.memo", False),
                ("col.debit", True), ("col.credit", True), ("col.balance", True)]
        rows = [["", "", "", t("word.opening", c.lang), "", "", amount(s.opening, blank_zero=False)]]
        rows += [[r.date.isoformat(), r.account, r.document or (t("word.opening", c.lang) if r.source_type == "opening"
                                                                else ""), r.memo, amount(r.debit), amount(r.credit),
                  amount(r.balance, blank_zero=False)] for r in s.rows]
        table(t("title.statement", c.lang, partner=f"{s.partner} {s.name}", date_from=s.date_from.isoformat(),
                date_to=s.date_to.isoformat()), cols, rows, c.lang,
              [t("word.closing", c.lang), "", "", "", amount(s.debit), amount(s.credit),
               amount(s.closing, blank_zero=False)])


@report_app.command("open-orders", help=H("help.report_open_orders"))
def report_open_orders(side: SideOpt, partner: PartnerOpt = None, fmt: FormatOpt = Format.table) -> None:
    """未完成订单."""
    c = ctx()
    with _errors():
        db = c.session()
        r = tradereports.open_orders(db, actor=c.actor(db), side=side, partner=partner)
        if fmt is Format.json:
            print_json(r)
            return
        cols = [("col.order", False), ("col.date", False), ("col.partner", False), ("col.product", False),
                ("col.ordered", True), ("col.done", True), ("col.returned", True), ("col.open_qty", True),
                ("col.invoiced", True), ("col.delivery_date", False)]
        rows = [[x.order, x.order_date.isoformat(), x.partner, f"{x.product} {x.product_name}", _num(x.ordered),
                 _num(x.done), _num(x.returned), _num(x.open_qty), _num(x.invoiced),
                 x.delivery_date.isoformat() if x.delivery_date else ""] for x in r.rows]
        table(t(f"title.open_orders_{r.side}", c.lang), cols, rows, c.lang)


@report_app.command("uninvoiced", help=H("help.report_uninvoiced"))
def report_uninvoiced(side: SideOpt, partner: PartnerOpt = None,
                      as_of: Annotated[str | None, typer.Option("--date", help=H("help.opt_as_of"))] = None,
                      fmt: FormatOpt = Format.table) -> None:
    """已入库未开票 / 已出库未开票."""
    c = ctx()
    with _errors():
        day = _day("date", as_of) if as_of else None
        db = c.session()
        r = tradereports.uninvoiced(db, actor=c.actor(db), side=side, partner=partner, as_of=day)
        if fmt is Format.json:
            print_json(r)
            return
        cols = [("col.document", False), ("col.date", False), ("col.partner", False), ("col.product", False),
                ("col.qty", True), ("col.returned", True), ("col.invoiced", True), ("col.uninvoiced", True),
                ("col.price", True), ("col.amount", True)]
        rows = [[x.document, x.doc_date.isoformat(), x.partner, f"{x.product} {x.product_name}", _num(x.qty),
                 _num(x.returned), _num(x.invoiced), _num(x.uninvoiced), _num(x.price), amount(x.value)]
                for x in r.rows]
        table(t(f"title.uninvoiced_{r.side}", c.lang), cols, rows, c.lang,
              [t("col.total", c.lang), "", "", "", _num(r.totals.qty), _num(r.totals.returned),
               _num(r.totals.invoiced), _num(r.totals.uninvoiced), "", amount(r.totals.value)])


def _name_col(by: str) -> str:
    return {"product": "col.product_name", "customer": "col.partner_name", "supplier": "col.partner_name"}.get(
        by, "col.salesperson_name")


@report_app.command("gross-profit", help=H("help.report_gross_profit"))
def report_gross_profit(
    date_from: Annotated[str, typer.Option("--from", help=H("help.opt_date_from"))],
    date_to: Annotated[str, typer.Option("--to", help=H("help.opt_date_to"))],
    by: Annotated[str, typer.Option("--by", help=H("help.opt_profit_by"))] = "product",
    fmt: FormatOpt = Format.table,
) -> None:
    """销售毛利."""
    c = ctx()
    with _errors():
        days = _day("date_from", date_from), _day("date_to", date_to)
        db = c.session()
        r = tradereports.gross_profit(db, actor=c.actor(db), date_from=days[0], date_to=days[1], by=by)
        if fmt is Format.json:
            print_json(r)
            return
        cols = [(f"col.by_{r.by}", False), (_name_col(r.by), False), ("col.qty", True), ("col.revenue", True),
                ("col.cost", True), ("col.profit", True), ("col.margin", True)]

        def cells(x: tradereports.ProfitRow) -> list[str]:
            margin = "" if x.margin is None else f"{x.margin * 100:.2f}%"
            return [_num(x.qty), amount(x.revenue, blank_zero=False), amount(x.cost, blank_zero=False),
                    amount(x.profit, blank_zero=False), margin]
        rows = [[x.key, x.name, *cells(x)] for x in r.rows]
        table(t("title.gross_profit", c.lang, date_from=days[0].isoformat(), date_to=days[1].isoformat()), cols,
              rows, c.lang, [t("col.total", c.lang), "", *cells(r.totals)])


@report_app.command("purchase-summary", help=H("help.report_purchase_summary"))
def report_purchase_summary(
    date_from: Annotated[str, typer.Option("--from", help=H("help.opt_date_from"))],
    date_to: Annotated[str, typer.Option("--to", help=H("help.opt_date_to"))],
    by: Annotated[str, typer.Option("--by", help=H("help.opt_purchase_by"))] = "supplier",
    fmt: FormatOpt = Format.table,
) -> None:
    """采购汇总."""
    c = ctx()
    with _errors():
        days = _day("date_from", date_from), _day("date_to", date_to)
        db = c.session()
        r = tradereports.purchase_summary(db, actor=c.actor(db), date_from=days[0], date_to=days[1], by=by)
        if fmt is Format.json:
            print_json(r)
            return
        cols = [(f"col.by_{r.by}", False), (_name_col(r.by), False), ("col.qty", True), ("col.amount", True),
                ("col.tax", True), ("col.total_incl_tax", True), ("col.invoiced", True)]

        def cells(x: tradereports.PurchaseRow) -> list[str]:
            return [_num(x.qty), amount(x.amount, blank_zero=False), amount(x.tax), amount(x.total, blank_zero=False),
                    amount(x.invoiced)]
        rows = [[x.key, x.name, *cells(x)] for x in r.rows]
        table(t("title.purchase_summary", c.lang, date_from=days[0].isoformat(), date_to=days[1].isoformat()),
              cols, rows, c.lang, [t("col.total", c.lang), "", *cells(r.totals)])
