"""Reports over the API, in the shapes `jxc report NAME --format json` prints (INTERCHANGE.md
"Reports out" where it defines one): ledgers, stock, receivables and payables, trade and the
financial statements. Decimals are strings."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from jxc.services import reports, statements, stockreports, tradereports
from jxc.services.statements import Statement
from jxc.web.deps import DbDep, ViewerDep
from jxc.web.jsonout import plain

router = APIRouter(prefix="/reports", tags=["reports"])

PeriodQ = Annotated[str, Query(description="YYYY-MM", examples=["2026-03"])]
Side = Literal["purchase", "sales"]
SUMMARY_NUMBERS = ("opening_qty", "opening_value", "in_qty", "in_value", "out_qty", "out_value", "closing_qty",
                   "closing_value")


def _today() -> date:
    return date.today()


@router.get("/trial-balance", summary="Trial balance")
def trial_balance(period: PeriodQ, db: DbDep, viewer: ViewerDep,
                  include_zero: Annotated[bool, Query(description="Also accounts without balance or movement")]
                  = False) -> Any:
    """Rows of account, name, level, opening/movement/closing debit and credit; plus totals."""
    tb = reports.trial_balance(db, period, actor=viewer.actor, include_zero=include_zero)
    return plain({"period": tb.period, "balanced": tb.balanced, "rows": tb.rows, "totals": tb.totals})


@router.get("/general-ledger", summary="General ledger of an account")
def general_ledger(account: str, db: DbDep, viewer: ViewerDep, year: int | None = None,
                   partner: str | None = None) -> Any:
    """Per period of a fiscal year: opening, debit, credit, year to date and closing."""
    return plain(reports.general_ledger(db, account, year=year, partner=partner, actor=viewer.actor))


@router.get("/detail-ledger", summary="Detail ledger of an account")
def detail_ledger(account: str, date_from: date, date_to: date, db: DbDep, viewer: ViewerDep,
                  partner: str | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                  cursor: str | None = None) -> Any:
    """Posted lines with a running balance, a page at a time (pass `next_cursor` back as `cursor`)."""
    return plain(reports.detail_ledger(db, account, date_from=date_from, date_to=date_to, partner=partner,
                                       limit=limit, cursor=cursor, actor=viewer.actor))


@router.get("/stock-summary", summary="Stock summary (receipts, issues, balance)")
def stock_summary(date_from: date, date_to: date, db: DbDep, viewer: ViewerDep,
                  warehouse: str | None = None) -> Any:
    """Per product and warehouse: opening + in - out = closing, quantity and value; plus totals."""
    s = stockreports.stock_summary(db, date_from, date_to, warehouse=warehouse, actor=viewer.actor)
    return plain({"date_from": s.date_from, "date_to": s.date_to, "warehouse": s.warehouse, "rows": s.rows,
                  "totals": {k: getattr(s.totals, k) for k in SUMMARY_NUMBERS}})


@router.get("/stock-ledger", summary="Stock ledger of a product")
def stock_ledger(product: str, date_from: date, date_to: date, db: DbDep, viewer: ViewerDep,
                 warehouse: str | None = None, batch: str | None = None,
                 limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000) -> Any:
    """An opening row, then one row per ledger entry with the running balance and unit cost."""
    return plain(stockreports.stock_ledger(db, product, date_from, date_to, warehouse=warehouse, batch=batch,
                                           limit=limit, actor=viewer.actor))


@router.get("/stock-balance", summary="Stock on hand at a date")
def stock_balance(db: DbDep, viewer: ViewerDep, as_of: Annotated[date | None, Query(alias="date")] = None,
                  warehouse: str | None = None, product: str | None = None) -> Any:
    """Per product, warehouse and batch at the end of `date` (default today), with the total value."""
    day = as_of or _today()
    rows = stockreports.stock_balance(db, day, warehouse=warehouse, product=product, actor=viewer.actor)
    return plain({"date": day, "warehouse": warehouse, "product": product, "rows": rows,
                  "total_value": sum((r.value for r in rows), Decimal(0))})


@router.get("/stock-alerts", summary="Stock alerts")
def stock_alerts(db: DbDep, viewer: ViewerDep, as_of: Annotated[date | None, Query(alias="date")] = None,
                 days: Annotated[int, Query(ge=0, le=3650)] = 30) -> Any:
    """Below minimum, above maximum, expiring within `days` and expired batches."""
    day = as_of or _today()
    return plain({"date": day, "days": days, "alerts": stockreports.stock_alerts(db, day, days=days,
                                                                                 actor=viewer.actor)})


def _aging(report: tradereports.Aging) -> Any:
    return plain({"date": report.as_of, "rows": report.rows, "totals": report.totals})


@router.get("/ar-aging", summary="Receivables aging")
def ar_aging(db: DbDep, viewer: ViewerDep, as_of: Annotated[date | None, Query(alias="date")] = None,
             partner: str | None = None) -> Any:
    """Open amount per customer in buckets of days past the invoice date."""
    return _aging(tradereports.ar_aging(db, actor=viewer.actor, as_of=as_of or _today(), partner=partner))


@router.get("/ap-aging", summary="Payables aging")
def ap_aging(db: DbDep, viewer: ViewerDep, as_of: Annotated[date | None, Query(alias="date")] = None,
             partner: str | None = None) -> Any:
    """Open amount per supplier in buckets of days past the invoice date."""
    return _aging(tradereports.ap_aging(db, actor=viewer.actor, as_of=as_of or _today(), partner=partner))


@router.get("/partner-statement", summary="Partner statement")
def partner_statement(partner: str, date_from: date, date_to: date, db: DbDep, viewer: ViewerDep) -> Any:
    """Opening balance, every receivable/payable line, closing balance of one partner."""
    return plain(tradereports.statement(db, actor=viewer.actor, partner=partner, date_from=date_from,
                                        date_to=date_to))


@router.get("/open-orders", summary="Open orders")
def open_orders(side: Side, db: DbDep, viewer: ViewerDep, partner: str | None = None) -> Any:
    """Audited order lines with quantity still to receive or deliver."""
    return plain(tradereports.open_orders(db, actor=viewer.actor, side=side, partner=partner))


@router.get("/uninvoiced", summary="Received or delivered, not yet invoiced")
def uninvoiced(side: Side, db: DbDep, viewer: ViewerDep, partner: str | None = None,
               as_of: Annotated[date | None, Query(alias="date")] = None) -> Any:
    """Receipt (purchase) or delivery (sales) lines with quantity left to invoice."""
    return plain(tradereports.uninvoiced(db, actor=viewer.actor, side=side, partner=partner, as_of=as_of))


@router.get("/gross-profit", summary="Gross profit")
def gross_profit(date_from: date, date_to: date, db: DbDep, viewer: ViewerDep,
                 by: Literal["product", "customer", "salesperson"] = "product") -> Any:
    """Revenue, cost, profit and margin by product, customer or salesperson."""
    return plain(tradereports.gross_profit(db, actor=viewer.actor, date_from=date_from, date_to=date_to, by=by))


@router.get("/purchase-summary", summary="Purchase summary")
def purchase_summary(date_from: date, date_to: date, db: DbDep, viewer: ViewerDep,
                     by: Literal["supplier", "product"] = "supplier") -> Any:
    """Quantity, amount, tax and invoiced amount by supplier or product."""
    return plain(tradereports.purchase_summary(db, actor=viewer.actor, date_from=date_from, date_to=date_to,
                                               by=by))


def _statement(s: Statement) -> Any:
    def pair(values: tuple[Decimal, Decimal]) -> dict[str, Decimal]:
        return dict(zip(s.columns, values, strict=True))

    return plain({"statement": s.statement, "period": s.period, "columns": list(s.columns),
                  "rows": [{"line_no": r.line_no, "label": r.label, "label_en": r.label_en, "side": r.side,
                            **pair(r.amounts)} for r in s.rows],
                  "totals": {name: pair(values) for name, values in s.totals.items()},
                  "balanced": s.balanced, "uncovered": s.uncovered})


@router.get("/balance-sheet", summary="Balance sheet")
def balance_sheet(period: PeriodQ, db: DbDep, viewer: ViewerDep) -> Any:
    """Lines with closing and year-start amounts; assets and liabilities + equity sides."""
    return _statement(statements.balance_sheet(db, period, actor=viewer.actor))


@router.get("/income-statement", summary="Income statement")
def income_statement(period: PeriodQ, db: DbDep, viewer: ViewerDep) -> Any:
    """Lines with the month's and the year-to-date amounts."""
    return _statement(statements.income_statement(db, period, actor=viewer.actor))


@router.get("/cash-flow", summary="Cash flow statement")
def cash_flow(period: PeriodQ, db: DbDep, viewer: ViewerDep) -> Any:
    """Lines with the month's and the year-to-date amounts, checked against the ledger's cash."""
    return _statement(statements.cash_flow_statement(db, period, actor=viewer.actor))
