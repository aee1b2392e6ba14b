"""Report pages: each renders with the demo books, shows the services' figures, drills down
from totals to the entries and documents behind them, and exports to Excel."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from urllib.parse import unquote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook  # type: ignore[import-untyped]

from jxc.db.session import session_factory
from jxc.domain.permissions import Actor
from jxc.services import masterdata, reports, stockreports, tradereports, users, vouchers
from jxc.services.masterdata import PartnerIn
from jxc.services.vouchers import LineIn, VoucherIn
from jxc.web.templating import fmt_money
from jxc.web.xlsx import Column, content_disposition, workbook

Web = Callable[[str], TestClient]

PAGES = [
    "/reports/trial-balance",
    "/reports/trial-balance?period=2026-01&zero=1",
    "/reports/general-ledger?account=1122",
    "/reports/detail-ledger?account=1122&date_from=2026-03-01&date_to=2026-03-31",
    "/reports/partner-ledger?account=1122&period=2026-03",
    "/reports/stock-summary?date_from=2026-03-01&date_to=2026-03-31",
    "/reports/stock-ledger?product=P001&date_from=2026-01-01&date_to=2026-03-31",
    "/reports/ar-aging?as_of=2026-03-31",
    "/reports/ap-aging?as_of=2026-03-31",
    "/reports/statement?partner=C001&date_from=2026-01-01&date_to=2026-03-31",
    "/reports/open-items?side=sales&partner=C001&as_of=2026-03-31",
    "/reports/gross-profit?date_from=2026-01-01&date_to=2026-03-31&by=customer",
    "/reports/gross-profit/documents?by=product&key=P001&date_from=2026-01-01&date_to=2026-03-31",
    "/reports/balance-sheet?period=2026-03",
    "/reports/income-statement?period=2026-03",
    "/reports/statement-line?statement=balance_sheet&line=9&period=2026-03",
]

HREF = re.compile(r'href="([^"]+)"')


def links(page: str, css: str = "drill") -> list[str]:
    return [html.unescape(h) for h in re.findall(rf'<a class="{css}" href="([^"]+)"', page)]


def actor(app: FastAPI, username: str = "accountant") -> Actor:
    db = session_factory(app.state.engine)()
    try:
        found = users.load_actor(db, username)
        db.rollback()
        return found
    finally:
        db.close()


def tfoot(page: str) -> str:
    found = re.search(r"<tfoot>(.*?)</tfoot>", page, re.S)
    assert found, "the report has a total row"
    return found.group(1)


@pytest.mark.parametrize("path", PAGES)
def test_every_report_renders_for_the_accountant(web: Web, path: str) -> None:
    r = web("accountant").get(path)
    assert r.status_code == 200, r.text[:2000]
    assert 'class="data report' in r.text
    assert 'class="alert error"' not in r.text
    assert "?format=xlsx" in r.text or "format=xlsx" in html.unescape(r.text)


def test_parameters_are_checked_next_to_their_field(web: Web) -> None:
    c = web("accountant")
    r = c.get("/reports/stock-summary?date_from=2026-13-01")
    assert r.status_code == 200 and 'class="field invalid"' in r.text and "2026-13-01" in r.text
    r = c.get("/reports/statement?partner=NOBODY")
    assert 'class="field invalid"' in r.text and "NOBODY" in r.text
    r = c.get("/reports/detail-ledger?account=9999")
    assert 'class="field invalid"' in r.text


def test_reports_need_their_permission(web: Web) -> None:
    # The warehouse role reads stock but not the ledger.
    c = web("warehouse")
    assert c.get("/reports/stock-summary").status_code == 200
    assert c.get("/reports/trial-balance").status_code == 403


def test_trial_balance_totals_are_the_services_and_balance(web: Web, app: FastAPI) -> None:
    page = web("accountant").get("/reports/trial-balance?period=2026-03").text
    db = session_factory(app.state.engine)()
    try:
        tb = reports.trial_balance(db, "2026-03", actor=actor(app))
    finally:
        db.close()
    foot = tfoot(page)
    for key in ("opening_debit", "opening_credit", "debit", "credit", "closing_debit", "closing_credit"):
        assert fmt_money(tb.totals[key]) in foot, key
    assert tb.totals["debit"] == tb.totals["credit"] and tb.balanced
    assert 'class="alert ok"' in page


def test_drill_from_trial_balance_to_the_voucher_and_the_invoice(web: Web) -> None:
    c = web("accountant")
    tb = c.get("/reports/trial-balance?period=2026-03").text
    to_ledger = [h for h in links(tb) if "account=1122&" in h]
    assert to_ledger, "the 1122 row drills down"
    assert "date_from=2026-03-01" in to_ledger[0] and "date_to=2026-03-31" in to_ledger[0]
    ledger = c.get(to_ledger[0]).text
    assert "XSFP-202603-0001" in ledger and "记-0004" in ledger
    crumbs = re.search(r'<nav class="breadcrumbs".*?</nav>', ledger, re.S)
    assert crumbs and "/reports/trial-balance?period=2026-03" in html.unescape(crumbs.group(0))
    docs = [html.unescape(h) for h in re.findall(r'<a class="doc" href="(/docs/[^"]+)"', ledger)]
    voucher_links = [h for h in docs if h.startswith("/docs/voucher/")]
    invoice_links = [h for h in docs if h.startswith("/docs/by-entity/invoice/")]
    cash_links = [h for h in docs if h.startswith("/docs/by-entity/cash_doc/")]
    assert voucher_links and invoice_links and cash_links
    followed = c.get(invoice_links[0], follow_redirects=True)
    assert followed.status_code == 200 and "XSFP-202603-0001" in followed.text
    voucher = c.get(voucher_links[0], follow_redirects=True)
    assert voucher.status_code == 200 and "记-0004" in voucher.text


def test_partner_balances_drill_to_the_partners_ledger(web: Web) -> None:
    c = web("accountant")
    tb = c.get("/reports/trial-balance?period=2026-03").text
    assert "/reports/partner-ledger?account=1122&amp;period=2026-03" in tb
    page = c.get("/reports/partner-ledger?account=1122&period=2026-03").text
    to_partner = [h for h in links(page) if "partner=C001" in h]
    assert to_partner
    ledger = c.get(to_partner[0]).text
    assert "XSFP-202603-0001" in ledger  # C001's March invoice
    assert "XSFP-202603-0002" not in ledger  # C003's


def test_stock_summary_drills_to_the_stock_ledger_and_its_documents(web: Web, app: FastAPI) -> None:
    c = web("accountant")
    page = c.get("/reports/stock-summary?date_from=2026-03-01&date_to=2026-03-31").text
    db = session_factory(app.state.engine)()
    try:
        ss = stockreports.stock_summary(db, date(2026, 3, 1), date(2026, 3, 31), actor=actor(app))
    finally:
        db.close()
    assert fmt_money(ss.totals.closing_value) in tfoot(page)
    drill = [h for h in links(page) if "product=P001" in h and "warehouse=WH01" in h]
    assert drill
    ledger = c.get(drill[0]).text
    assert "XSCK-202603-0001" in ledger
    doc = [html.unescape(h) for h in re.findall(r'<a class="doc" href="(/docs/by-entity/stock_doc/\d+)"', ledger)]
    assert doc
    followed = c.get(doc[0], follow_redirects=True)
    assert followed.status_code == 200


def test_aging_drills_to_statement_open_items_and_invoices(web: Web, app: FastAPI) -> None:
    c = web("accountant")
    page = c.get("/reports/ar-aging?as_of=2026-03-31").text
    db = session_factory(app.state.engine)()
    try:
        aging = tradereports.ar_aging(db, actor=actor(app), as_of=date(2026, 3, 31))
    finally:
        db.close()
    assert fmt_money(aging.totals.total) in tfoot(page)
    items = [h for h in links(page) if h.startswith("/reports/open-items") and "partner=C001" in h]
    assert items
    open_page = c.get(items[0]).text
    assert "/docs/by-entity/invoice/" in open_page
    buckets = [h for h in links(page) if h.startswith("/reports/statement") and "partner=C002" in h]
    assert buckets
    statement = c.get(buckets[0]).text
    assert 'class="data report statement"' in statement or "ui.empty" not in statement
    crumbs = re.search(r'<nav class="breadcrumbs".*?</nav>', statement, re.S)
    assert crumbs and "/reports/ar-aging" in crumbs.group(0)


def test_statement_links_its_documents(web: Web) -> None:
    page = web("accountant").get("/reports/statement?partner=C001&date_from=2026-01-01&date_to=2026-03-31").text
    assert "XSFP-202601-0001" in page or "XSFP-202603-0001" in page
    assert re.search(r'<a class="doc" href="/docs/by-entity/invoice/\d+">XSFP-', page)
    assert re.search(r'<a class="doc" href="/docs/by-entity/cash_doc/\d+">SKD-', page)


def test_gross_profit_rows_drill_to_the_deliveries(web: Web) -> None:
    c = web("accountant")
    page = c.get("/reports/gross-profit?date_from=2026-03-01&date_to=2026-03-31&by=product").text
    drill = [h for h in links(page) if "key=P003" in h]
    assert drill
    docs = c.get(drill[0]).text
    assert "XSCK-2026" in docs and "/docs/by-entity/stock_doc/" in docs


def test_statement_line_drills_to_the_accounts_ledgers(web: Web) -> None:
    c = web("accountant")
    page = c.get("/reports/balance-sheet?period=2026-03").text
    line9 = [h for h in links(page) if "line=9&" in h]
    assert line9
    terms = c.get(line9[0]).text
    assert "1405" in terms
    ledger = [h for h in re.findall(r'<a class="doc" href="([^"]+)"', terms)
              if "account=1405" in html.unescape(h)]
    assert ledger
    stock = c.get(html.unescape(ledger[0])).text
    assert "CGRK-202603-0001" in stock or "XSCK-202603-0001" in stock
    crumbs = re.search(r'<nav class="breadcrumbs".*?</nav>', stock, re.S)
    assert crumbs and "/reports/balance-sheet" in crumbs.group(0)
    income = c.get("/reports/income-statement?period=2026-03").text
    assert links(income)


# --- Excel ----------------------------------------------------------------------------------

def open_xlsx(r: object) -> object:
    return load_workbook(io.BytesIO(r.content))  # type: ignore[attr-defined]


def test_trial_balance_exports_numbers_with_a_frozen_header(web: Web, app: FastAPI) -> None:
    r = web("accountant").get("/reports/trial-balance?period=2026-03&format=xlsx")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    disposition = r.headers["content-disposition"]
    assert disposition.startswith("attachment;") and "filename*=UTF-8''" in disposition
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == "科目余额表-2026-03.xlsx"
    ws = load_workbook(io.BytesIO(r.content)).active
    assert ws.freeze_panes == "A4"
    header = [c.value for c in ws[3]]
    assert header[:3] == ["科目编码", "科目名称", "期初借方"]
    db = session_factory(app.state.engine)()
    try:
        tb = reports.trial_balance(db, "2026-03", actor=actor(app))
    finally:
        db.close()
    rows = {row[0].value: row for row in ws.iter_rows(min_row=4)}
    cash = rows["1002"]
    assert cash[4].data_type == "n" and Decimal(str(cash[4].value)) == next(
        x.debit for x in tb.rows if x.account == "1002")
    assert cash[4].number_format.startswith("#,##0.00")
    total = rows["合计"]
    assert Decimal(str(total[4].value)) == tb.totals["debit"] == Decimal(str(total[5].value))


@pytest.mark.parametrize("path", [p for p in PAGES if "statement-line" not in p])
def test_every_report_exports(web: Web, path: str) -> None:
    sep = "&" if "?" in path else "?"
    r = web("accountant").get(f"{path}{sep}format=xlsx")
    assert r.status_code == 200, r.text[:500]
    ws = load_workbook(io.BytesIO(r.content)).active
    assert ws.freeze_panes == "A4" and ws.max_row >= 3
    numeric = [c for row in ws.iter_rows(min_row=4) for c in row if isinstance(c.value, int | float)]
    text_numbers = [c for row in ws.iter_rows(min_row=4) for c in row
                    if isinstance(c.value, str) and re.fullmatch(r"-?[\d,]+\.\d\d", c.value)]
    assert not text_numbers, "amounts are numbers, not text"
    assert numeric or ws.max_row == 3


def test_text_that_looks_like_a_formula_is_neutralised(web: Web, app: FastAPI) -> None:
    db = session_factory(app.state.engine)()
    try:
        admin, clerk = users.load_actor(db, "admin"), users.load_actor(db, "accountant")
        db.rollback()
        masterdata.add_partner(db, PartnerIn("ZFORMULA", "=HYPERLINK(\"http://x\",\"y\")", "customer"),
                               actor=admin)
        ref = vouchers.create_voucher(db, VoucherIn(date(2026, 3, 30), (
            LineIn("1122", Decimal("12.34"), Decimal("0"), "ZFORMULA", "=1+2"),
            LineIn("1001", Decimal("0"), Decimal("12.34"), None, "@SUM(A1)")), memo="+cmd"),
            actor=clerk)
        vouchers.audit_voucher(db, ref.id, actor=admin)
        vouchers.post_voucher(db, ref.id, actor=admin)
    finally:
        db.close()
    r = web("accountant").get("/reports/detail-ledger?account=1122&partner=ZFORMULA&date_from=2026-03-01"
                              "&date_to=2026-03-31&format=xlsx")
    ws = load_workbook(io.BytesIO(r.content)).active
    memo = [c for row in ws.iter_rows(min_row=4) for c in row if c.value == "=1+2"]
    assert memo, "the memo is exported as it was entered"
    assert all(c.data_type == "s" and c.quotePrefix for c in memo)
    r = web("accountant").get("/reports/ar-aging?as_of=2026-03-31&format=xlsx")
    ws = load_workbook(io.BytesIO(r.content)).active
    names = [c for row in ws.iter_rows(min_row=4) for c in row if str(c.value).startswith("=HYPERLINK")]
    assert names and all(c.data_type == "s" and c.quotePrefix for c in names)
    page = web("accountant").get("/reports/ar-aging?as_of=2026-03-31").text
    assert "=HYPERLINK(&#34;http://x&#34;" in page or "=HYPERLINK(&quot;http://x&quot;" in page


def test_workbook_writer_unit() -> None:
    data = workbook("标题", [Column("名称"), Column("金额", "money"), Column("数量", "qty"), Column("比率", "pct"),
                             Column("日期", "date")],
                    [["-2+3", Decimal("-1234.5"), Decimal("2.5000"), Decimal("0.1234"), date(2026, 3, 1)]],
                    params=["=bad"], totals=["合计", Decimal("-1234.5"), None, None, None])
    ws = load_workbook(io.BytesIO(data)).active
    assert ws["A2"].quotePrefix and ws["A2"].data_type == "s"
    assert ws["A4"].value == "-2+3" and ws["A4"].quotePrefix
    assert ws["B4"].value == -1234.5 and ws["B4"].data_type == "n"
    assert ws["D4"].number_format == "0.00%" and ws["E4"].is_date
    assert ws["B5"].font.bold
    assert ws.column_dimensions["A"].width >= 6
    assert content_disposition("科目余额表-2026-03.xlsx") == (
        "attachment; filename=\"_____-2026-03.xlsx\"; "
        "filename*=UTF-8''%E7%A7%91%E7%9B%AE%E4%BD%99%E9%A2%9D%E8%A1%A8-2026-03.xlsx")


def test_long_reports_are_paged_but_exported_whole(web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    from jxc.web.ui import reports as pages
    monkeypatch.setattr(pages, "HTML_ROWS", 5)
    c = web("accountant")
    first = c.get("/reports/trial-balance?period=2026-03").text
    assert first.count("<tr>") + first.count('<tr class') <= 5 + 2
    nxt = re.search(r'<a href="([^"]+)" rel="next"', first)
    assert nxt and "page=2" in nxt.group(1)
    second = c.get(html.unescape(nxt.group(1))).text
    assert 'rel="prev"' in second and "<tfoot>" in second
    ws = load_workbook(io.BytesIO(c.get("/reports/trial-balance?period=2026-03&format=xlsx").content)).active
    assert ws.max_row > 3 + 10
