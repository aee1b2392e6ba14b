"""首页看板: the figures of the dashboard, each section for whoever may see it.

- sales (trade.read): today's and month-to-date sales excluding tax and net of returns, the
  month's gross margin, the last 30 days day by day, the month's top products;
- stock (stock.read): the stock value now, by warehouse, and the stock alerts;
- receivables (trade.read): AR outstanding and overdue (older than 30 days), the aging
  buckets, the customers most overdue.

Sales and cost are what the ledger says: the movement of 主营业务收入 (5001) and 主营业务成本
(5401) and their sub-accounts on posted vouchers, the close's own vouchers (结转损益, 年结) left
out, so the month's figure equals the income statement's. The month comes from the per-period
balance table (account_balance) less what is dated after the day, and the days from the voucher
lines of a 30-day range read through the (account, date) index; top products from the month's
audited sales invoices (by their date index); stock value from stock_balance; the aging is
tradereports.ar_aging's. Nothing reads a table whole or a range longer than a month.

A dashboard is asked for far more often than the books change, so each section is kept in
memory keyed by the database and the head of the audit log (every change appends to it):
the same head means the same figures, a new entry means they are computed again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

from sqlalchemy import case, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from jxc.db.base import table_of
from jxc.db.models import (
    Account,
    AccountBalance,
    AuditLog,
    Invoice,
    InvoiceLine,
    Partner,
    Period,
    Product,
    StockBalance,
    Voucher,
    VoucherLine,
    Warehouse,
)
from jxc.db.types import Money, Quantity
from jxc.domain import permissions as perm
from jxc.domain.closing import CLOSE_SOURCES
from jxc.domain.errors import PermissionDenied
from jxc.domain.numbers import MONEY_ZERO
from jxc.domain.permissions import Actor
from jxc.domain.trade import BUCKETS
from jxc.services import stockreports, tradereports
from jxc.services.common import reading, utcnow

LINE = table_of(VoucherLine)
VOUCHER = table_of(Voucher)
BAL = table_of(AccountBalance)
ACCOUNT = table_of(Account)
PERIOD = table_of(Period)
INVOICE = table_of(Invoice)
ILINE = table_of(InvoiceLine)
PRODUCT = table_of(Product)
STOCK = table_of(StockBalance)
WAREHOUSE = table_of(Warehouse)
PARTNER = table_of(Partner)
AUDIT = table_of(AuditLog)

SALES_ACCOUNT = "5001"  # 主营业务收入
COST_ACCOUNT = "5401"  # 主营业务成本
DAYS = 30  # the daily chart
TOP = 10  # top products
TOP_OVERDUE = 5
ALERTS_LISTED = 10
ALERT_DAYS = 30  # a batch expiring within this many days is an alert
PCT_STEP = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class DayAmount:
    day: date
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Ranked:
    code: str
    name: str
    amount: Decimal
    qty: Decimal


@dataclass(frozen=True, slots=True)
class SalesFigures:
    today: Decimal  # the day's sales, excluding tax, net of returns
    month: Decimal  # month to date (the month's first day to the day)
    month_cost: Decimal
    margin: Decimal  # month - month_cost
    margin_rate: Decimal | None  # margin / month to 4 places; None without sales
    daily: list[DayAmount]  # the 30 days ending on the day, oldest first, every day present
    top_products: list[Ranked]  # by the month's invoiced amount excluding tax


@dataclass(frozen=True, slots=True)
class WarehouseValue:
    code: str
    name: str
    value: Decimal


@dataclass(frozen=True, slots=True)
class AlertLine:
    kind: str  # below_min | above_max | expiring | expired
    product: str
    name: str
    warehouse: str
    batch: str
    qty: Decimal
    limit: Decimal | None
    expiry: date | None


@dataclass(frozen=True, slots=True)
class StockFigures:
    value: Decimal  # stock on hand now, at cost
    by_warehouse: list[WarehouseValue]
    alerts: int  # below minimum, expiring or expired
    below_min: int
    expiring: int  # within ALERT_DAYS days, or already expired
    alert_lines: list[AlertLine]  # the first ALERTS_LISTED


@dataclass(frozen=True, slots=True)
class OverdueCustomer:
    partner: str
    name: str
    total: Decimal
    overdue: Decimal  # older than 30 days


@dataclass(frozen=True, slots=True)
class ReceivableFigures:
    as_of: date
    outstanding: Decimal
    overdue: Decimal  # the part older than 30 days
    buckets: list[tuple[str, Decimal]]  # (bucket code as tradereports.AgingRow's fields, amount)
    top_overdue: list[OverdueCustomer]


@dataclass(frozen=True, slots=True)
class Dashboard:
    requested: date  # the day asked for
    day: date  # the day shown: requested, or the latest business day when its month has none
    fallback: bool  # True: the requested month had no business, `day` is the latest business day
    month: str  # "YYYY-MM" of `day`
    month_start: date
    sales: SalesFigures | None  # None: not permitted (trade.read)
    stock: StockFigures | None  # None: not permitted (stock.read)
    receivables: ReceivableFigures | None  # None: not permitted (trade.read)
    computed_at: datetime  # when the oldest of these figures was read


# --- the cache -------------------------------------------------------------------------------

T = TypeVar("T")
_CACHE: OrderedDict[tuple[Any, ...], tuple[datetime, Any]] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_KEY_LOCKS: dict[tuple[Any, ...], threading.Lock] = {}
_CACHE_SIZE = 256


def _head(db: Session) -> tuple[str, int, str]:
    """Which book, and how far its audit log has come: any change moves the head."""
    url = str(db.connection().engine.url)
    row = db.execute(select(AUDIT.c.seq, AUDIT.c.hash).order_by(AUDIT.c.seq.desc()).limit(1)).one_or_none()
    return (url, row.seq, row.hash) if row is not None else (url, 0, "")


def _cached(key: tuple[Any, ...], compute: Callable[[], T]) -> tuple[datetime, T]:
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
        lock = _KEY_LOCKS.setdefault(key, threading.Lock())
    with lock:  # one computation per key; the others wait for it
        with _CACHE_LOCK:
            hit = _CACHE.get(key)
            if hit is not None:
                return hit
        value = (utcnow(), compute())
        with _CACHE_LOCK:
            _CACHE[key] = value
            _CACHE.move_to_end(key)
            while len(_CACHE) > _CACHE_SIZE:
                old, _ = _CACHE.popitem(last=False)
                _KEY_LOCKS.pop(old, None)
            _KEY_LOCKS.pop(key, None)
        return value


def clear_cache() -> None:
    with _CACHE_LOCK:
        _CACHE.clear()
        _KEY_LOCKS.clear()


# --- helpers -------------------------------------------------------------------------------

def _m(expr: Any) -> Any:
    return func.coalesce(func.sum(type_coerce(expr, Money())), 0)


def _dec(v: Any) -> Decimal:
    return v if isinstance(v, Decimal) else Decimal(v or 0)


def _not_close() -> Any:
    return or_(VOUCHER.c.source_type.is_(None), VOUCHER.c.source_type.notin_(CLOSE_SOURCES))


def _subtree(db: Session, code: str) -> list[int]:
    return list(db.execute(select(ACCOUNT.c.id).where(ACCOUNT.c.code.startswith(code, autoescape=True)))
                .scalars())


def _period_of(db: Session, day: date) -> Any:
    return db.execute(select(PERIOD.c.id, PERIOD.c.year, PERIOD.c.month, PERIOD.c.start_date, PERIOD.c.end_date)
                      .where(PERIOD.c.start_date <= day, PERIOD.c.end_date >= day)).one_or_none()


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _has_business(db: Session, start: date, end: date) -> bool:
    found = db.execute(select(VOUCHER.c.id).where(VOUCHER.c.voucher_date >= start, VOUCHER.c.voucher_date <= end,
                                                  VOUCHER.c.status == "posted", _not_close()).limit(1)).first()
    return found is not None


def _latest_business(db: Session, before: date) -> date | None:
    """The latest day on or before `before` with a posted voucher that is not the close's
    (walks the date index backwards; stops at the first)."""
    return db.execute(select(VOUCHER.c.voucher_date)
                      .where(VOUCHER.c.voucher_date <= before, VOUCHER.c.status == "posted", _not_close())
                      .order_by(VOUCHER.c.voucher_date.desc(), VOUCHER.c.id.desc()).limit(1)).scalar()


def _line_net(db: Session, ids: list[int], start: date, end: date, credit_positive: bool) -> Decimal:
    """Net movement of posted, non-close lines on `ids` dated in [start, end]."""
    if not ids or start > end:
        return MONEY_ZERO
    d, c = db.execute(
        select(_m(LINE.c.debit), _m(LINE.c.credit)).join(VOUCHER, VOUCHER.c.id == LINE.c.voucher_id)
        .where(LINE.c.account_id.in_(ids), LINE.c.voucher_date >= start, LINE.c.voucher_date <= end,
               VOUCHER.c.voucher_date >= start, VOUCHER.c.voucher_date <= end,
               VOUCHER.c.status == "posted", _not_close())).one()
    net = _dec(d) - _dec(c)
    return -net if credit_positive else net


def _month_to_date(db: Session, ids: list[int], period: Any, day: date, credit_positive: bool) -> Decimal:
    """The month's posted movement up to `day`, close vouchers left out, reading the shorter
    side: the lines from the month's first day when `day` is in its first half, else the
    period's total from the balance table less the close's vouchers and what is dated after."""
    if not ids or period is None:
        return MONEY_ZERO
    if day < period.end_date and (day - period.start_date) <= (period.end_date - day):
        return _line_net(db, ids, period.start_date, day, credit_positive)
    d, c = db.execute(select(_m(BAL.c.debit), _m(BAL.c.credit))
                      .where(BAL.c.period_id == period.id, BAL.c.account_id.in_(ids))).one()
    net = _dec(d) - _dec(c)
    # The close's vouchers are dated the period's last day: found through the date index.
    closes = list(db.execute(select(VOUCHER.c.id).where(
        VOUCHER.c.voucher_date == period.end_date, VOUCHER.c.period_id == period.id,
        VOUCHER.c.status == "posted", VOUCHER.c.source_type.in_(CLOSE_SOURCES))).scalars())
    cd, cc = (db.execute(select(_m(LINE.c.debit), _m(LINE.c.credit))  # by voucher id: a few lines
                         .where(LINE.c.voucher_id.in_(closes), LINE.c.account_id.in_(ids))).one()
              if closes else (0, 0))
    net -= _dec(cd) - _dec(cc)
    if day < period.end_date:
        net -= _line_net(db, ids, day + timedelta(days=1), period.end_date, credit_positive=False)
    return -net if credit_positive else net


def _rate(part: Decimal, whole: Decimal) -> Decimal | None:
    return None if whole == 0 else (part / whole).quantize(PCT_STEP, rounding=ROUND_HALF_UP)


# --- sections --------------------------------------------------------------------------------

def _sales(db: Session, day: date) -> SalesFigures:
    sales_ids, cost_ids = _subtree(db, SALES_ACCOUNT), _subtree(db, COST_ACCOUNT)
    period = _period_of(db, day)
    start = period.start_date if period is not None else _month_start(day)
    first = day - timedelta(days=DAYS - 1)
    by_day: dict[date, Decimal] = {}
    if sales_ids:
        for d, dr, cr in db.execute(
                select(LINE.c.voucher_date, _m(LINE.c.debit), _m(LINE.c.credit))
                .join(VOUCHER, VOUCHER.c.id == LINE.c.voucher_id)
                .where(LINE.c.account_id.in_(sales_ids), LINE.c.voucher_date >= first, LINE.c.voucher_date <= day,
                       VOUCHER.c.voucher_date >= first, VOUCHER.c.voucher_date <= day,
                       VOUCHER.c.status == "posted", _not_close())
                .group_by(LINE.c.voucher_date)):
            by_day[d] = _dec(cr) - _dec(dr)
    daily = [DayAmount(first + timedelta(days=i), by_day.get(first + timedelta(days=i), MONEY_ZERO))
             for i in range(DAYS)]
    month = _month_to_date(db, sales_ids, period, day, credit_positive=True)
    cost = _month_to_date(db, cost_ids, period, day, credit_positive=False)
    sign = case((INVOICE.c.red.is_(True), -1), else_=1)
    top = db.execute(
        select(ILINE.c.product_id, _m(sign * ILINE.c.amount).label("amount"),
               func.coalesce(func.sum(type_coerce(sign * ILINE.c.qty, Quantity())), 0).label("qty"))
        .select_from(INVOICE.join(ILINE, ILINE.c.invoice_id == INVOICE.c.id))
        .where(INVOICE.c.side == "sales", INVOICE.c.invoice_date >= start, INVOICE.c.invoice_date <= day,
               INVOICE.c.status == "audited")
        .group_by(ILINE.c.product_id)).all()
    ranked = sorted(top, key=lambda r: (-_dec(r.amount), r.product_id))[:TOP]
    names = {r.id: (r.code, r.name) for r in db.execute(
        select(PRODUCT.c.id, PRODUCT.c.code, PRODUCT.c.name).where(PRODUCT.c.id.in_([r.product_id for r in ranked])))}
    tops = [Ranked(*names.get(r.product_id, ("", "")), _dec(r.amount), _dec(r.qty)) for r in ranked
            if _dec(r.amount) > 0]
    return SalesFigures(daily[-1].amount, month, cost, month - cost, _rate(month - cost, month), daily, tops)


def _stock_values(db: Session) -> tuple[Decimal, list[WarehouseValue]]:
    values: dict[int, Any] = dict(db.execute(
        select(STOCK.c.warehouse_id, _m(STOCK.c.value)).group_by(STOCK.c.warehouse_id)).all())
    rows = [WarehouseValue(code, name, _dec(values.get(i, 0))) for i, code, name in db.execute(
        select(WAREHOUSE.c.id, WAREHOUSE.c.code, WAREHOUSE.c.name).order_by(WAREHOUSE.c.code))]
    rows = [r for r in rows if r.value != 0]
    return sum((r.value for r in rows), MONEY_ZERO), rows


# --- the dashboard -------------------------------------------------------------------------------

def dashboard(db: Session, day: date, *, actor: Actor) -> Dashboard:
    """The dashboard for `day` (normally today). When the month of `day` has no business at all
    (no posted voucher but the close's), the figures are those of the latest business day before
    it and `fallback` says so. Sections the actor may not see are None; an actor who may see
    none of them (no trade.read, no stock.read) is refused with PermissionDenied."""
    can_trade, can_stock = actor.can(perm.TRADE_READ), actor.can(perm.STOCK_READ)
    if not (can_trade or can_stock):
        raise PermissionDenied(user=actor.username, permission=perm.TRADE_READ)
    with reading(db):
        head = _head(db)

        def choose_day() -> tuple[date, bool]:
            month_end = (_month_start(day) + timedelta(days=32)).replace(day=1) - timedelta(days=1)
            if _has_business(db, _month_start(day), month_end):
                return day, False
            latest = _latest_business(db, day)
            return (latest, True) if latest is not None else (day, False)

        at, (shown, fallback) = _cached((*head, "day", day), choose_day)
        stamps = [at]
        sales = None
        if can_trade:
            at, sales = _cached((*head, "sales", shown), lambda: _sales(db, shown))
            stamps.append(at)
        values: tuple[Decimal, list[WarehouseValue]] | None = None
        if can_stock:
            at, values = _cached((*head, "stock", shown), lambda: _stock_values(db))
            stamps.append(at)
    stock = None
    if can_stock and values is not None:
        at, alerts = _cached((*head, "alerts", day), lambda: stockreports.stock_alerts(
            db, day, days=ALERT_DAYS, actor=actor))
        stamps.append(at)
        wanted = [a for a in alerts if a.kind in ("below_min", "expiring", "expired")]
        below = sum(1 for a in wanted if a.kind == "below_min")
        lines = [AlertLine(a.kind, a.product, a.name, a.warehouse, a.batch, a.qty, a.limit, a.expiry)
                 for a in wanted[:ALERTS_LISTED]]
        stock = StockFigures(values[0], values[1], len(wanted), below, len(wanted) - below, lines)
    receivables = None
    if can_trade:
        at, aging = _cached((*head, "aging", shown), lambda: tradereports.ar_aging(db, actor=actor, as_of=shown))
        stamps.append(at)
        receivables = _receivables(aging)
    return Dashboard(day, shown, fallback, f"{shown.year:04d}-{shown.month:02d}", _month_start(shown), sales,
                     stock, receivables, min(stamps))


def _receivables(aging: tradereports.Aging) -> ReceivableFigures:
    totals = aging.totals
    overdue = totals.total - totals.d0_30
    ranked = sorted(aging.rows, key=lambda r: (-(r.total - r.d0_30), r.partner))
    top = [OverdueCustomer(r.partner, r.name, r.total, r.total - r.d0_30) for r in ranked
           if r.total - r.d0_30 > 0][:TOP_OVERDUE]
    return ReceivableFigures(aging.as_of, totals.total, overdue, [(b, getattr(totals, b)) for b in BUCKETS], top)



