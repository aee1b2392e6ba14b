"""The dashboard: its figures equal independent computations on the demo books, each section
shows only for users allowed to see it, the charts get their data, and a change in the books
shows at once (the in-memory figures are keyed by the head of the audit log)."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, or_, select

from jxc.db.models import (
    Account,
    Invoice,
    InvoiceLine,
    Role,
    RolePermission,
    StockBalance,
    User,
    Voucher,
    VoucherLine,
)
from jxc.db.session import session_factory
from jxc.domain.closing import CLOSE_SOURCES
from jxc.domain.errors import PermissionDenied
from jxc.domain.permissions import Actor
from jxc.services import dashboard, reports, tradereports, users, vouchers
from jxc.services.vouchers import LineIn, VoucherIn
from jxc.web.templating import fmt_money
from tests.api.conftest import sign_in

Web = Callable[[str], TestClient]
MARCH_END = date(2026, 3, 31)


def actor(app: FastAPI, username: str = "admin") -> Actor:
    db = session_factory(app.state.engine)()
    try:
        found = users.load_actor(db, username)
        db.rollback()
        return found
    finally:
        db.close()


def figures(app: FastAPI, day: date, username: str = "admin") -> dashboard.Dashboard:
    db = session_factory(app.state.engine)()
    try:
        return dashboard.dashboard(db, day, actor=actor(app, username))
    finally:
        db.close()


def ledger_net(app: FastAPI, code: str, start: date, end: date) -> Decimal:
    """credit - debit of `code` and its sub-accounts on posted vouchers dated in the range,
    the close's vouchers left out: read line by line, no balance table."""
    db = session_factory(app.state.engine)()
    try:
        ids = select(Account.id).where(Account.code.startswith(code))
        rows = db.execute(select(VoucherLine.debit, VoucherLine.credit).join(Voucher)
                          .where(VoucherLine.account_id.in_(ids), Voucher.status == "posted",
                                 Voucher.voucher_date >= start, Voucher.voucher_date <= end,
                                 or_(Voucher.source_type.is_(None), Voucher.source_type.notin_(CLOSE_SOURCES))))
        return sum((c - d for d, c in rows), Decimal(0))
    finally:
        db.close()


def kpi(page: str, kpi_id: str) -> str:
    found = re.search(rf'id="{kpi_id}".*?<div class="value[^"]*">([^<]*)</div>', page, re.S)
    assert found, kpi_id
    return found.group(1).strip()


def test_month_and_day_sales_equal_the_ledger(app: FastAPI) -> None:
    d = figures(app, MARCH_END)
    assert d.day == MARCH_END and not d.fallback and d.month == "2026-03"
    assert d.sales is not None
    assert d.sales.month == ledger_net(app, "5001", date(2026, 3, 1), MARCH_END)
    cost = -ledger_net(app, "5401", date(2026, 3, 1), MARCH_END)
    assert d.sales.month_cost == cost and d.sales.margin == d.sales.month - cost
    assert d.sales.margin_rate == (d.sales.margin / d.sales.month).quantize(Decimal("0.0001"))
    for x in d.sales.daily:
        assert x.amount == ledger_net(app, "5001", x.day, x.day), x.day
    assert len(d.sales.daily) == 30 and d.sales.daily[-1].day == MARCH_END
    # Mid-month: only the days up to it count (the first half is read from the lines, the second
    # from the balance table less what comes after).
    for day in (date(2026, 3, 6), date(2026, 3, 12), date(2026, 3, 20), date(2026, 2, 28)):
        mid = figures(app, day)
        assert mid.sales is not None
        assert mid.sales.month == ledger_net(app, "5001", day.replace(day=1), day), day
        assert mid.sales.today == ledger_net(app, "5001", day, day), day
        assert mid.sales.month_cost == -ledger_net(app, "5401", day.replace(day=1), day), day


def test_top_products_are_the_months_invoices(app: FastAPI) -> None:
    d = figures(app, MARCH_END)
    assert d.sales is not None and d.sales.top_products
    db = session_factory(app.state.engine)()
    try:
        rows = db.execute(select(InvoiceLine.amount, Invoice.red).join(Invoice)
                          .where(Invoice.side == "sales", Invoice.status == "audited",
                                 Invoice.invoice_date >= date(2026, 3, 1), Invoice.invoice_date <= MARCH_END)).all()
    finally:
        db.close()
    invoiced = sum((-a if red else a for a, red in rows), Decimal(0))
    assert sum(p.amount for p in d.sales.top_products) == invoiced == d.sales.month
    amounts = [p.amount for p in d.sales.top_products]
    assert amounts == sorted(amounts, reverse=True)


def test_stock_and_receivables_equal_the_books(app: FastAPI) -> None:
    d = figures(app, MARCH_END)
    assert d.stock is not None and d.receivables is not None
    db = session_factory(app.state.engine)()
    try:
        on_hand = db.execute(select(StockBalance.value)).scalars().all()
        total = db.execute(select(func.count()).select_from(StockBalance)).scalar()
        db.rollback()
        tb = reports.trial_balance(db, "2026-03", actor=actor(app))
        aging = tradereports.ar_aging(db, actor=actor(app), as_of=MARCH_END)
    finally:
        db.close()
    assert total and d.stock.value == sum(on_hand, Decimal(0))
    inventory = next(r for r in tb.rows if r.account == "1405")
    assert d.stock.value == inventory.closing_debit  # the stock ledger agrees with 库存商品
    assert sum(w.value for w in d.stock.by_warehouse) == d.stock.value
    receivable = next(r for r in tb.rows if r.account == "1122")
    assert d.receivables.outstanding == receivable.closing_debit == aging.totals.total
    assert d.receivables.overdue == aging.totals.total - aging.totals.d0_30
    assert sum(v for _, v in d.receivables.buckets) == d.receivables.outstanding
    assert [o.partner for o in d.receivables.top_overdue] == [
        r.partner for r in sorted(aging.rows, key=lambda r: (-(r.total - r.d0_30), r.partner))
        if r.total - r.d0_30 > 0][:5]


def test_an_empty_month_shows_the_latest_month_with_business(app: FastAPI, web: Web) -> None:
    d = figures(app, date(2026, 6, 15))
    assert d.fallback and d.day == MARCH_END and d.month == "2026-03" and d.requested == date(2026, 6, 15)
    page = web("admin").get("/?date=2026-06-15").text
    assert 'class="alert info"' in page and "2026-03" in page
    assert kpi(page, "kpi-month") == fmt_money(figures(app, MARCH_END).sales.month)  # type: ignore[union-attr]


def test_dashboard_page_shows_the_figures_and_chart_data(app: FastAPI, web: Web) -> None:
    r = web("admin").get("/?date=2026-03-31")
    assert r.status_code == 200
    page = r.text
    d = figures(app, MARCH_END)
    assert d.sales and d.stock and d.receivables
    assert kpi(page, "kpi-month") == fmt_money(d.sales.month)
    assert kpi(page, "kpi-margin") == fmt_money(d.sales.margin)
    assert kpi(page, "kpi-stock") == fmt_money(d.stock.value)
    assert kpi(page, "kpi-ar") == fmt_money(d.receivables.outstanding)
    assert kpi(page, "kpi-overdue") == fmt_money(d.receivables.overdue)
    assert kpi(page, "kpi-alerts") == str(d.stock.alerts)
    data = json.loads(html.unescape(re.search(r'<script type="application/json" id="dash-data">(.*?)</script>',
                                              page, re.S).group(1)))  # type: ignore[union-attr]
    assert [Decimal(a) for a in data["daily"]["amounts"]] == [x.amount for x in d.sales.daily]
    assert sum(Decimal(a) for a in data["aging"]["amounts"]) == d.receivables.outstanding
    assert len(data["top"]["amounts"]) == len(d.sales.top_products)
    assert all(isinstance(a, str) for a in data["daily"]["amounts"]), "amounts travel as decimal strings"
    assert "/static/vendor/echarts.min.js" in page and "/static/dashboard.js" in page
    for o in d.receivables.top_overdue:
        assert f"/reports/statement?partner={o.partner}" in html.unescape(page)
    assert web("admin").get("/static/dashboard.js").status_code == 200


def test_an_invalid_date_is_explained(web: Web) -> None:
    r = web("admin").get("/?date=2026-02-30")
    assert r.status_code == 200 and 'class="alert error"' in r.text and "2026-02-30" in r.text


@pytest.mark.parametrize("username", ["admin", "accountant", "manager", "viewer", "warehouse", "sales",
                                      "purchasing"])
def test_every_demo_user_gets_a_dashboard(web: Web, username: str) -> None:
    r = web(username).get("/?date=2026-03-31")
    assert r.status_code == 200 and 'id="kpis"' in r.text
    assert 'id="kpi-stock"' in r.text  # every demo role reads stock


def test_sections_follow_permissions(app: FastAPI) -> None:
    stock_only = Actor(0, "stock-only", frozenset({"stock.read"}))
    db = session_factory(app.state.engine)()
    try:
        d = dashboard.dashboard(db, MARCH_END, actor=stock_only)
        assert d.sales is None and d.receivables is None and d.stock is not None
        trade_only = dashboard.dashboard(db, MARCH_END, actor=Actor(0, "trade-only", frozenset({"trade.read"})))
        assert trade_only.stock is None and trade_only.sales is not None
        with pytest.raises(PermissionDenied):
            dashboard.dashboard(db, MARCH_END, actor=Actor(0, "nobody", frozenset({"masterdata.read"})))
    finally:
        db.close()


def test_a_user_without_trade_read_sees_no_sales(app: FastAPI) -> None:
    db = session_factory(app.state.engine)()
    try:
        admin = users.load_actor(db, "admin")
        db.rollback()
        with db.begin():
            if db.get(Role, "stockonly") is None:
                db.add(Role(code="stockonly", name="stock only"))
                db.flush()
                db.add_all([RolePermission(role_code="stockonly", permission=p)
                            for p in ("stock.read", "masterdata.read")])
        exists = db.execute(select(func.count()).select_from(User).where(User.username == "keeper")).scalar()
        db.rollback()
        if not exists:
            users.add_user(db, "keeper", "keeper-pass-123", roles=["stockonly"], actor=admin)
    finally:
        db.close()
    c = sign_in(app, "keeper", "keeper-pass-123")
    page = c.get("/?date=2026-03-31").text
    assert 'id="kpi-stock"' in page
    assert 'id="kpi-month"' not in page and 'id="kpi-ar"' not in page and "chart-daily" not in page


def test_figures_follow_a_change_at_once(app: FastAPI, web: Web) -> None:
    before = figures(app, MARCH_END)
    assert before.sales is not None
    page = web("admin").get("/?date=2026-03-31").text
    assert kpi(page, "kpi-month") == fmt_money(before.sales.month)
    db = session_factory(app.state.engine)()
    try:
        admin, clerk = users.load_actor(db, "admin"), users.load_actor(db, "accountant")
        db.rollback()
        ref = vouchers.create_voucher(db, VoucherIn(date(2026, 3, 31), (
            LineIn("1001", Decimal("100.00"), Decimal("0")),
            LineIn("5001", Decimal("0"), Decimal("100.00"))), memo="cash sale"), actor=clerk)
        vouchers.audit_voucher(db, ref.id, actor=admin)
        vouchers.post_voucher(db, ref.id, actor=admin)
    finally:
        db.close()
    after = figures(app, MARCH_END)
    assert after.sales is not None
    assert after.sales.month == before.sales.month + Decimal("100.00")
    assert after.sales.today == before.sales.today + Decimal("100.00")
    page = web("admin").get("/?date=2026-03-31").text
    assert kpi(page, "kpi-month") == fmt_money(after.sales.month)
    assert after.sales.month == ledger_net(app, "5001", date(2026, 3, 1), MARCH_END)
    assert after.day - timedelta(days=29) == after.sales.daily[0].day
