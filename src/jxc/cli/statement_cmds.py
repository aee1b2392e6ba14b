"""`jxc report balance-sheet | income-statement | cash-flow` (the financial statements) and
`jxc statement show | set` (their lines and formulas, which a company may adapt). Tables on a
terminal, JSON with --format json; every text comes from the catalogs."""

from __future__ import annotations

from decimal import Decimal
from itertools import zip_longest
from typing import Annotated, Any

import typer

from jxc.cli.main import Format, FormatOpt, H, _errors, app, ctx, report_app
from jxc.cli.output import amount, err, out, print_json, table
from jxc.domain.statements import BALANCE_SHEET, CASH_FLOW, INCOME_STATEMENT
from jxc.i18n import describe, t
from jxc.services import statements
from jxc.services.statements import Statement, StatementDefinition, StatementRow

statement_app = typer.Typer(no_args_is_help=True, help=H("help.statement_app"))
app.add_typer(statement_app, name="statement")

PeriodOpt = Annotated[str, typer.Option("--period", help=H("help.opt_period"))]
StatementArg = Annotated[str, typer.Argument(help=H("help.arg_statement"))]

_COLUMN_TITLES = {"closing": "col.closing", "year_start": "col.year_start", "ytd": "col.ytd_amount",
                  "month": "col.month_amount"}


def _label(row: Any, lang: str) -> str:
    return str(row.label if lang == "zh_CN" else row.label_en)


def _as_json(s: Statement) -> dict[str, Any]:
    def pair(values: tuple[Decimal, Decimal]) -> dict[str, Decimal]:
        return dict(zip(s.columns, values, strict=True))

    return {"statement": s.statement, "period": s.period, "columns": list(s.columns),
            "rows": [{"line_no": r.line_no, "label": r.label, "label_en": r.label_en, "side": r.side,
                      **pair(r.amounts)} for r in s.rows],
            "totals": {name: pair(values) for name, values in s.totals.items()},
            "balanced": s.balanced, "uncovered": s.uncovered}


def _cells(r: StatementRow | None, lang: str) -> list[str]:
    if r is None:
        return ["", "", "", ""]
    return [_label(r, lang), str(r.line_no), amount(r.amounts[0]), amount(r.amounts[1])]


def _footer_cells(r: StatementRow | None, lang: str) -> list[str]:
    if r is None:
        return ["", "", "", ""]
    return [_label(r, lang), str(r.line_no), amount(r.amounts[0], blank_zero=False),
            amount(r.amounts[1], blank_zero=False)]


def _print_balance_sheet(s: Statement, lang: str) -> None:
    """Side by side, as the form is printed: assets on the left, liabilities and equity on the
    right, each side's total line in the footer."""
    sides = [[r for r in s.rows if r.side == side] for side in ("asset", "equity")]
    totals = [rows[-1] if rows else None for rows in sides]
    body = [rows[:-1] for rows in sides]
    money_cols = [(_COLUMN_TITLES[c], True) for c in s.columns]
    cols = [("col.asset_item", False), ("col.line_no", True), *money_cols,
            ("col.equity_item", False), ("col.line_no", True), *money_cols]
    rows = [_cells(a, lang) + _cells(e, lang) for a, e in zip_longest(*body)]
    table(t("title.balance_sheet", lang, period=s.period), cols, rows, lang,
          _footer_cells(totals[0], lang) + _footer_cells(totals[1], lang))
    out.print(t("cli.statement_check_bs", lang, result=t("word.balanced" if s.balanced else "word.unbalanced", lang)))


def _print_lines(s: Statement, title: str, lang: str) -> None:
    cols = [("col.item", False), ("col.line_no", True), *((_COLUMN_TITLES[c], True) for c in s.columns)]
    rows = [_cells(r, lang) for r in s.rows]
    table(title, cols, rows, lang)


def _report(statement: str, period: str, fmt: Format) -> None:
    c = ctx()
    with _errors():
        db = c.session()
        actor = c.actor(db)
        run = {BALANCE_SHEET: statements.balance_sheet, INCOME_STATEMENT: statements.income_statement,
               CASH_FLOW: statements.cash_flow_statement}[statement]
        s = run(db, period, actor=actor)
        if fmt is Format.json:
            print_json(_as_json(s))
            return
        if statement == BALANCE_SHEET:
            _print_balance_sheet(s, c.lang)
        else:
            _print_lines(s, t(f"title.{statement}", c.lang, period=s.period), c.lang)
        if statement == CASH_FLOW:
            ledger = s.totals["ledger_cash"][0]
            out.print(t("cli.statement_check_cash", c.lang, ledger=amount(ledger, blank_zero=False),
                        result=t("word.balanced" if s.balanced else "word.unbalanced", c.lang)))
        if s.uncovered:
            err.print(t("cli.statement_uncovered", c.lang, accounts=", ".join(s.uncovered), statement=statement))


@report_app.command("balance-sheet", help=H("help.report_balance_sheet"))
def report_balance_sheet(period: PeriodOpt, fmt: FormatOpt = Format.table) -> None:
    """资产负债表."""
    _report(BALANCE_SHEET, period, fmt)


@report_app.command("income-statement", help=H("help.report_income_statement"))
def report_income_statement(period: PeriodOpt, fmt: FormatOpt = Format.table) -> None:
    """利润表."""
    _report(INCOME_STATEMENT, period, fmt)


@report_app.command("cash-flow", help=H("help.report_cash_flow"))
def report_cash_flow(period: PeriodOpt, fmt: FormatOpt = Format.table) -> None:
    """现金流量表."""
    _report(CASH_FLOW, period, fmt)


def _show_definition(d: StatementDefinition, lang: str) -> None:
    cols = [("col.line_no", True), ("col.side", False), ("col.item", False), ("col.formula", False)]
    rows = [[str(ln.line_no), t(f"side.{ln.side}", lang) if ln.side else "", _label(ln, lang), ln.formula]
            for ln in d.lines]
    table(t("title.statement_lines", lang, statement=t(f"statement.{d.statement}", lang)), cols, rows, lang)
    for problem in d.problems:
        err.print(describe(problem, lang))
    if d.uncovered:
        err.print(t("cli.statement_uncovered", lang, accounts=", ".join(d.uncovered), statement=d.statement))
    elif not d.problems:
        out.print(t("cli.statement_covered", lang))


@statement_app.command("show", help=H("help.statement_show"))
def statement_show(statement: StatementArg, fmt: FormatOpt = Format.table) -> None:
    """The lines of a statement and their formulas."""
    c = ctx()
    with _errors():
        db = c.session()
        d = statements.list_statement_lines(db, statement, actor=c.actor(db))
        if fmt is Format.json:
            print_json({"statement": d.statement, "lines": d.lines, "uncovered": d.uncovered,
                        "problems": [describe(p, c.lang) for p in d.problems]})
            return
        _show_definition(d, c.lang)


@statement_app.command("set", help=H("help.statement_set"))
def statement_set(
    statement: StatementArg,
    line_no: Annotated[int, typer.Argument(help=H("help.arg_line_no"))],
    formula: Annotated[str | None, typer.Option("--formula", help=H("help.opt_formula"))] = None,
    label: Annotated[str | None, typer.Option("--label", help=H("help.opt_statement_label"))] = None,
    label_en: Annotated[str | None, typer.Option("--label-en", help=H("help.opt_statement_label_en"))] = None,
) -> None:
    """Change one line's formula or labels."""
    c = ctx()
    with _errors():
        db = c.session()
        d = statements.set_statement_line(db, statement, line_no, actor=c.actor(db), formula=formula, label=label,
                                          label_en=label_en)
        line = next(ln for ln in d.lines if ln.line_no == line_no)
        out.print(t("cli.statement_line_saved", c.lang, statement=t(f"statement.{d.statement}", c.lang),
                    line_no=line_no, label=_label(line, c.lang), formula=line.formula or "0"))
        if d.uncovered:
            err.print(t("cli.statement_uncovered", c.lang, accounts=", ".join(d.uncovered), statement=d.statement))
