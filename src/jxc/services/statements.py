"""Financial statements: 资产负债表 (会小企01表), 利润表 (会小企02表), 现金流量表 (会小企03表).

The lines and their formulas are data (table statement_line, seeded from
jxc/data/statements_small_2013.csv; jxc.domain.statements explains the formulas), so a
company can adapt a line without a new release. The figures come from the opening balances
(期初) and the per-period balance tables (account_balance, partner_balance): the cost depends on
the number of accounts, partners and periods, not on the number of vouchers. Two exceptions
read voucher lines, both bounded: the income statement subtracts the lines of the close's own
vouchers (结转损益, 年结: a few per period), and the cash flow statement reads the lines of
the vouchers that move cash, which is what it is about.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, type_coerce
from sqlalchemy.orm import Session

from jxc.db.base import table_of
from jxc.db.models import (
    Account,
    AccountBalance,
    FiscalYear,
    OpeningBalance,
    PartnerBalance,
    Period,
    StatementLine,
    Voucher,
    VoucherLine,
)
from jxc.db.types import Money
from jxc.domain import permissions as perm
from jxc.domain.closing import CLOSE_SOURCES
from jxc.domain.errors import InvalidInput, JxcError, NotFound
from jxc.domain.numbers import ZERO, money
from jxc.domain.periods import parse_period_label
from jxc.domain.permissions import Actor, require
from jxc.domain.statements import (
    BALANCE_SHEET,
    CASH_FLOW,
    INCOME_STATEMENT,
    MAX_FORMULA,
    CashFlows,
    ChartAccount,
    Definition,
    Figures,
    LineDef,
    cash_accounts,
    cash_shares,
    check_definition,
    check_line,
    ensure_statement,
    evaluate,
    format_formula,
    total_lines,
    uncovered,
)
from jxc.services.common import PeriodRef, append_audit, period_by_label, reading

LINE = table_of(VoucherLine)
MAX_LABEL = 100  # the label columns' length

# The two columns of each statement, in the order of the official forms.
COLUMNS = {
    BALANCE_SHEET: ("closing", "year_start"),  # 期末余额, 年初余额
    INCOME_STATEMENT: ("ytd", "month"),  # 本年累计金额, 本月金额
    CASH_FLOW: ("ytd", "month"),
}


@dataclass(frozen=True, slots=True)
class StatementRow:
    line_no: int  # 行次
    label: str  # zh_CN
    label_en: str
    side: str  # balance sheet: asset / equity
    amounts: tuple[Decimal, Decimal]  # in the order of Statement.columns


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement for one period. `totals` are the figures its check compares, by name, each
    for both columns: the balance sheet's assets and liabilities_and_equity, the income
    statement's net_profit, the cash flow statement's closing_cash against ledger_cash (the
    cash accounts' balance in the ledger). `balanced`: the check holds in both columns (None
    for the income statement, which has nothing to compare). `uncovered`: accounts with
    figures in this statement that its lines leave out or count twice."""

    statement: str
    period: str
    columns: tuple[str, str]
    rows: list[StatementRow]
    totals: dict[str, tuple[Decimal, Decimal]]
    balanced: bool | None
    uncovered: list[str]


# --- reading what the statements are made of ---------------------------------------------

@dataclass(frozen=True, slots=True)
class _Span:
    """A period, the start of its fiscal year, and the fiscal year's periods up to it."""

    period: PeriodRef
    year_start: date
    year_periods: tuple[int, ...]  # ids, in date order, ending with period.id


@dataclass(frozen=True, slots=True)
class _Chart:
    accounts: dict[str, ChartAccount]  # every account, by code
    code_of: dict[int, str]
    leaves: tuple[str, ...]


def _span(db: Session, label: str) -> _Span:
    year, month = parse_period_label(label)
    ref = period_by_label(db, year, month)
    if ref is None:
        raise NotFound(entity="period", key=label)
    fy_id, year_start = db.execute(select(FiscalYear.id, FiscalYear.start_date)
                                   .join(Period, Period.fiscal_year_id == FiscalYear.id)
                                   .where(Period.id == ref.id)).one()
    ids = db.execute(select(Period.id).where(Period.fiscal_year_id == fy_id, Period.start_date <= ref.start_date)
                     .order_by(Period.start_date)).scalars().all()
    return _Span(ref, year_start, tuple(ids))


def _chart(db: Session) -> _Chart:
    rows = db.execute(select(Account.id, Account.code, Account.direction, Account.category, Account.is_leaf)).all()
    return _Chart({r.code: ChartAccount(r.code, r.direction, r.category) for r in rows},
                  {r.id: r.code for r in rows}, tuple(sorted(r.code for r in rows if r.is_leaf)))


def _definition_rows(db: Session, statement: str) -> list[LineDef]:
    return [LineDef(r.line_no, r.position, r.side, r.label, r.label_en, r.formula) for r in db.execute(
        select(StatementLine).where(StatementLine.statement == statement)
        .order_by(StatementLine.position, StatementLine.line_no)).scalars()]


def _definition(db: Session, statement: str, chart: _Chart) -> Definition:
    return check_definition(statement, _definition_rows(db, statement), chart.accounts)


Net = dict[str, Decimal]  # debit − credit by account code
PartnerNet = dict[str, dict[int, Decimal]]  # by account code, then partner id


def _add(into: dict[Any, Decimal], key: Any, amount: Decimal) -> None:
    if amount:
        into[key] = into.get(key, ZERO) + amount


def _before_year(db: Session, chart: _Chart, span: _Span, *, partners: bool) -> tuple[Net, PartnerNet]:
    """Balances at the start of the fiscal year: 期初 plus every earlier period's movement,
    per account and (if asked) per account and partner."""
    net: Net = {}
    by_partner: PartnerNet = defaultdict(dict)
    for acc, partner, d, c in db.execute(
            select(OpeningBalance.account_id, OpeningBalance.partner_id, func.sum(OpeningBalance.debit),
                   func.sum(OpeningBalance.credit))
            .group_by(OpeningBalance.account_id, OpeningBalance.partner_id)):
        code = chart.code_of[acc]
        _add(net, code, (d or ZERO) - (c or ZERO))
        if partners and partner is not None:
            _add(by_partner[code], partner, (d or ZERO) - (c or ZERO))
    earlier = select(Period.id).where(Period.start_date < span.year_start)
    for acc, d, c in db.execute(
            select(AccountBalance.account_id, func.sum(AccountBalance.debit), func.sum(AccountBalance.credit))
            .where(AccountBalance.period_id.in_(earlier)).group_by(AccountBalance.account_id)):
        _add(net, chart.code_of[acc], d - c)
    if partners:
        for acc, partner, d, c in db.execute(
                select(PartnerBalance.account_id, PartnerBalance.partner_id, func.sum(PartnerBalance.debit),
                       func.sum(PartnerBalance.credit))
                .where(PartnerBalance.period_id.in_(earlier))
                .group_by(PartnerBalance.account_id, PartnerBalance.partner_id)):
            _add(by_partner[chart.code_of[acc]], partner, d - c)
    return net, dict(by_partner)


def _in_year(db: Session, chart: _Chart, span: _Span) -> dict[int, Net]:
    """The posted movement (debit − credit) of each period of the fiscal year up to this one."""
    out: dict[int, Net] = {p: {} for p in span.year_periods}
    for acc, period_id, d, c in db.execute(
            select(AccountBalance.account_id, AccountBalance.period_id, AccountBalance.debit, AccountBalance.credit)
            .where(AccountBalance.period_id.in_(span.year_periods))):
        _add(out[period_id], chart.code_of[acc], d - c)
    return out


def _partners_in_year(db: Session, chart: _Chart, span: _Span) -> PartnerNet:
    out: PartnerNet = defaultdict(dict)
    for acc, partner, d, c in db.execute(
            select(PartnerBalance.account_id, PartnerBalance.partner_id, func.sum(PartnerBalance.debit),
                   func.sum(PartnerBalance.credit))
            .where(PartnerBalance.period_id.in_(span.year_periods))
            .group_by(PartnerBalance.account_id, PartnerBalance.partner_id)):
        _add(out[chart.code_of[acc]], partner, d - c)
    return dict(out)


def _close_lines(db: Session, chart: _Chart, span: _Span) -> dict[int, Net]:
    """The movement of the close's own vouchers (结转损益, 年结) per period of the span. The
    vouchers are found by period and source; voucher_line is read by voucher id (indexed)."""
    out: dict[int, Net] = defaultdict(dict)
    ids = select(Voucher.id).where(Voucher.period_id.in_(span.year_periods), Voucher.status == "posted",
                                   Voucher.source_type.in_(CLOSE_SOURCES))
    for acc, period_id, d, c in db.execute(
            select(LINE.c.account_id, LINE.c.period_id, func.sum(LINE.c.debit), func.sum(LINE.c.credit))
            .where(LINE.c.voucher_id.in_(ids)).group_by(LINE.c.account_id, LINE.c.period_id)):
        _add(out[period_id], chart.code_of[acc], d - c)
    return out


def _plus(*parts: Mapping[str, Decimal]) -> Net:
    out: Net = {}
    for part in parts:
        for k, v in part.items():
            _add(out, k, v)
    return out


def _minus(a: Mapping[str, Decimal], b: Mapping[str, Decimal]) -> Net:
    return _plus(a, {k: -v for k, v in b.items()})


def _details(by_partner: Mapping[str, Mapping[int, Decimal]]) -> dict[str, tuple[Decimal, ...]]:
    return {code: tuple(v for _, v in sorted(parts.items())) for code, parts in by_partner.items()}


# --- the three statements ------------------------------------------------------------------

def _rows(definition: Definition, first: Mapping[int, Decimal], second: Mapping[int, Decimal]) -> list[StatementRow]:
    return [StatementRow(ln.line_no, ln.label, ln.label_en, ln.side, (first[ln.line_no], second[ln.line_no]))
            for ln in definition.lines]


def _balance_sheet(db: Session, span: _Span, chart: _Chart, definition: Definition) -> Statement:
    base, base_partners = _before_year(db, chart, span, partners=True)
    moved = _in_year(db, chart, span)
    closing = _plus(base, *moved.values())
    closing_partners = {code: dict(parts) for code, parts in base_partners.items()}
    for code, parts in _partners_in_year(db, chart, span).items():
        for partner, amount in parts.items():
            _add(closing_partners.setdefault(code, {}), partner, amount)
    end = evaluate(definition, chart.accounts, Figures(balances=closing, details=_details(closing_partners)))
    start = evaluate(definition, chart.accounts, Figures(balances=base, details=_details(base_partners)))
    ends = total_lines(definition)
    totals = {name: (end[n], start[n]) for name, n in zip(("assets", "liabilities_and_equity"), ends, strict=False)}
    balanced = bool(ends) and totals["assets"] == totals["liabilities_and_equity"]
    # Accounts with a balance, and those whose partners have one even when they net to nothing.
    touched = {k for side in (closing, base) for k, v in side.items() if v}
    touched |= {k for side in (closing_partners, base_partners) for k, parts in side.items() if any(parts.values())}
    return Statement(BALANCE_SHEET, span.period.label, COLUMNS[BALANCE_SHEET], _rows(definition, end, start),
                     totals, balanced, uncovered(definition, chart.accounts, touched))


def _income_statement(db: Session, span: _Span, chart: _Chart, definition: Definition) -> Statement:
    moved = _in_year(db, chart, span)
    closes = _close_lines(db, chart, span)
    month = _minus(moved[span.period.id], closes.get(span.period.id, {}))
    ytd = _minus(_plus(*moved.values()), _plus(*closes.values()))
    year = evaluate(definition, chart.accounts, Figures(activity=ytd))
    this = evaluate(definition, chart.accounts, Figures(activity=month))
    last = total_lines(definition)
    totals = {"net_profit": (year[last[0]], this[last[0]])} if last else {}
    touched = {k for k, v in ytd.items() if v} | {k for k, v in month.items() if v}
    return Statement(INCOME_STATEMENT, span.period.label, COLUMNS[INCOME_STATEMENT], _rows(definition, year, this),
                     totals, None, uncovered(definition, chart.accounts, touched))


def _cash_vouchers(db: Session, chart: _Chart, span: _Span, cash: tuple[str, ...]) -> Iterator[tuple[int, Net]]:
    """Each posted voucher of the span that has a line on a cash account: its period and its
    net (debit − credit) per account. The cash lines are found through the (account, date)
    index, then their vouchers' lines by voucher id, summed per account in the database."""
    cash_ids = [i for i, code in chart.code_of.items() if cash and code.startswith(cash)]
    if not cash_ids:
        return
    found = select(LINE.c.voucher_id).where(LINE.c.account_id.in_(cash_ids), LINE.c.voucher_date >= span.year_start,
                                            LINE.c.voucher_date <= span.period.end_date)
    rows = db.connection().execute(
        select(LINE.c.voucher_id, LINE.c.period_id, LINE.c.account_id,
               func.sum(type_coerce(LINE.c.debit - LINE.c.credit, Money())))
        .join(Voucher, Voucher.id == LINE.c.voucher_id)
        .where(LINE.c.voucher_id.in_(found), Voucher.status == "posted", LINE.c.period_id.in_(span.year_periods))
        .group_by(LINE.c.voucher_id, LINE.c.period_id, LINE.c.account_id)
        .order_by(LINE.c.voucher_id))
    code_of = chart.code_of
    current, period, lines = None, 0, Net()
    for voucher_id, period_id, acc, net in rows:
        if voucher_id != current:
            if lines:
                yield period, lines
            current, period, lines = voucher_id, period_id, Net()
        lines[code_of[acc]] = net
    if lines:
        yield period, lines


def _cash_flow(db: Session, span: _Span, chart: _Chart, definition: Definition) -> Statement:
    cash = cash_accounts(definition)
    base, _ = _before_year(db, chart, span, partners=False)
    moved = _in_year(db, chart, span)
    month_start = _plus(base, *(moved[p] for p in span.year_periods[:-1]))
    closing = _plus(month_start, moved[span.period.id])
    year_flows, month_flows = CashFlows({}, {}, ZERO), CashFlows({}, {}, ZERO)
    for period_id, lines in _cash_vouchers(db, chart, span, cash):
        shares = cash_shares(lines, cash)
        year_flows.add(shares)
        if period_id == span.period.id:
            month_flows.add(shares)
    year = evaluate(definition, chart.accounts, Figures(balances=base, inflows=year_flows.inflows,
                                                        outflows=year_flows.outflows))
    this = evaluate(definition, chart.accounts, Figures(balances=month_start, inflows=month_flows.inflows,
                                                        outflows=month_flows.outflows))
    ledger = money(sum((v for k, v in closing.items() if cash and k.startswith(cash)), ZERO))
    last = total_lines(definition)
    totals = {"ledger_cash": (ledger, ledger)}
    if last:
        totals["closing_cash"] = (year[last[0]], this[last[0]])
    balanced = totals.get("closing_cash") == totals["ledger_cash"]
    touched = set(year_flows.inflows) | set(year_flows.outflows)
    return Statement(CASH_FLOW, span.period.label, COLUMNS[CASH_FLOW], _rows(definition, year, this), totals,
                     balanced, uncovered(definition, chart.accounts, touched))


_BUILDERS = {BALANCE_SHEET: _balance_sheet, INCOME_STATEMENT: _income_statement, CASH_FLOW: _cash_flow}


def statement_data(db: Session, statement: str, period: str) -> Statement:
    """A statement for period "YYYY-MM" inside the caller's transaction (the close reads the
    income statement this way). Raises InvalidInput for an unknown statement, NotFound for an
    unknown period, StatementFormulaInvalid / BatchInvalid when the lines cannot be used."""
    ensure_statement(statement)
    span = _span(db, period)
    chart = _chart(db)
    return _BUILDERS[statement](db, span, chart, _definition(db, statement, chart))


def balance_sheet(db: Session, period: str, *, actor: Actor) -> Statement:
    """资产负债表 at the end of a period: 期末余额 at its last day, 年初余额 at the start of its
    fiscal year (the book's opening balances in the book's first year); `balanced` says whether
    资产总计 equals 负债和所有者权益总计 in both. In an open period the profit not yet carried
    to 本年利润 is in 未分配利润 (PL()). Raises NotFound for an unknown period."""
    require(actor, perm.LEDGER_READ)
    with reading(db):
        return statement_data(db, BALANCE_SHEET, period)


def income_statement(db: Session, period: str, *, actor: Actor) -> Statement:
    """利润表: 本月金额 is the period's activity, 本年累计金额 that of its fiscal year up to and
    including it; the vouchers the close generates are left out, so a closed period reads as
    an open one. Raises NotFound for an unknown period."""
    require(actor, perm.LEDGER_READ)
    with reading(db):
        return statement_data(db, INCOME_STATEMENT, period)


def cash_flow_statement(db: Session, period: str, *, actor: Actor) -> Statement:
    """现金流量表 by the direct method: each posted voucher's movement on the cash accounts is
    classified by its counterpart accounts (jxc.domain.statements.allocate_cash) and the lines
    map counterpart accounts to cash-flow items. `balanced`: 期末现金余额 equals the cash
    accounts' balance in the ledger in both columns. Raises NotFound for an unknown period."""
    require(actor, perm.LEDGER_READ)
    with reading(db):
        return statement_data(db, CASH_FLOW, period)


# --- adapting the lines --------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class StatementDefinition:
    """A statement's lines as stored, in display order. `uncovered`: the chart's leaf accounts
    the lines leave out or count twice (see jxc.domain.statements.uncovered); `problems`: what
    keeps the lines from being used, if anything (then `uncovered` is empty)."""

    statement: str
    lines: list[LineDef]
    uncovered: list[str]
    problems: list[JxcError]


def _definition_view(db: Session, statement: str) -> StatementDefinition:
    chart = _chart(db)
    lines = _definition_rows(db, statement)
    try:
        definition = check_definition(statement, lines, chart.accounts)
    except JxcError as exc:
        return StatementDefinition(statement, lines, [], list(getattr(exc, "errors", [exc])))
    return StatementDefinition(statement, lines, uncovered(definition, chart.accounts, chart.leaves), [])


def list_statement_lines(db: Session, statement: str, *, actor: Actor) -> StatementDefinition:
    """The lines of a statement with their formulas, and what they leave out. Raises
    InvalidInput for an unknown statement."""
    require(actor, perm.LEDGER_READ)
    ensure_statement(statement)
    with reading(db):
        return _definition_view(db, statement)


def _text(field: str, value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        raise InvalidInput(field=field, reason="input.required")
    if len(value) > limit:
        raise InvalidInput(field=field, reason="input.too_long", max=limit)
    return value


def set_statement_line(db: Session, statement: str, line_no: int, *, actor: Actor, formula: str | None = None,
                       label: str | None = None, label_en: str | None = None) -> StatementDefinition:
    """Change a line's formula and/or labels, in one transaction, with an audit-log entry.
    The formula is checked against the whole statement (syntax, accounts, lines, cycles) and
    stored in its canonical form; problems elsewhere in the statement do not block the edit,
    so lines can be repaired one at a time. Returns the statement as it now reads.
    Raises InvalidInput, NotFound (no such line), StatementFormulaInvalid / BatchInvalid."""
    require(actor, perm.ACCOUNT_EDIT)
    ensure_statement(statement)
    label, label_en = _text("label", label, MAX_LABEL), _text("label_en", label_en, MAX_LABEL)
    if formula is not None and len(formula) > MAX_FORMULA:
        raise InvalidInput(field="formula", reason="input.too_long", max=MAX_FORMULA)
    with db.begin():
        row = db.execute(select(StatementLine).where(StatementLine.statement == statement,
                                                     StatementLine.line_no == line_no)
                         .with_for_update()).scalar_one_or_none()
        if row is None:
            raise NotFound(entity="statement_line", key=f"{statement} {line_no}")
        changed: dict[str, list[str]] = {}
        if formula is not None:
            lines = [ln if ln.line_no != line_no else LineDef(ln.line_no, ln.position, ln.side, ln.label,
                                                              ln.label_en, formula)
                     for ln in _definition_rows(db, statement)]
            canonical = format_formula(check_line(statement, lines, _chart(db).accounts, line_no))
            if len(canonical) > MAX_FORMULA:
                raise InvalidInput(field="formula", reason="input.too_long", max=MAX_FORMULA)
            if canonical != row.formula:
                changed["formula"] = [row.formula, canonical]
                row.formula = canonical
        for key, value in (("label", label), ("label_en", label_en)):
            if value is not None and value != getattr(row, key):
                changed[key] = [getattr(row, key), value]
                setattr(row, key, value)
        db.flush()
        if changed:
            append_audit(db, actor, "statement_line.update", "statement_line", f"{statement}:{line_no}", changed)
        return _definition_view(db, statement)
