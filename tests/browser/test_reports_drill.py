"""Reports in a real browser: the trial balance drills down to the detail ledger, a voucher
and the document the voucher came from; the dashboard renders its KPIs and charts."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import login, shot


@pytest.fixture(autouse=True)
def _no_motion(page: Page) -> None:
    """Screenshots right after a viewport change must not catch the sidebar mid-slide."""
    page.emulate_media(reduced_motion="reduce")


def test_trial_balance_drill_down_to_document(page: Page) -> None:
    login(page, "accountant")
    page.goto("/?date=2026-03-31")
    expect(page.locator(".kpi").first).to_be_visible()
    page.wait_for_function("() => document.querySelector('.chart canvas, .chart svg') !== null")
    page.wait_for_timeout(600)  # the charts' entry animation
    shot(page, "dashboard")
    # the charts follow a narrower window after their (debounced) resize: wait for it before the phone shot
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(500)
    shot(page, "dashboard-phone")
    page.set_viewport_size({"width": 1366, "height": 800})

    page.goto("/reports/trial-balance?period=2026-03")
    table = page.locator("#report-table")
    expect(table).to_be_visible()
    expect(page.locator(".alert.ok")).to_be_visible()  # 试算平衡
    shot(page, "trial-balance", phone=True)
    row = table.locator("tbody tr").filter(has=page.locator("a.doc", has_text=re.compile(r"^1122$")))
    expect(row).to_have_count(1)
    drills = row.locator("td.num a.drill")
    expect(drills.first).to_be_visible()
    # the third amount column is the period's debit (opening debit, opening credit, debit, ...)
    debit = row.locator("td").nth(4).locator("a.drill")
    expect(debit).to_have_count(1)
    debit.click()

    page.wait_for_url(re.compile(r"/reports/detail-ledger\?.*account=1122"))
    expect(page.locator("nav.breadcrumbs, .breadcrumbs").first).to_contain_text("2026-03")
    ledger = page.locator("#report-table")
    voucher_link = ledger.locator("tbody a.doc[href^='/docs/voucher/']").first
    expect(voucher_link).to_be_visible()
    voucher_link.click()

    page.wait_for_url(re.compile(r"/docs/voucher/\d+$"))
    expect(page.locator(".page-header h1")).to_contain_text("2026-03")
    lines = page.locator("#lines")
    expect(lines).to_contain_text("1122")
    source = page.locator("#links table.data tbody a").first
    expect(source).to_be_visible()
    number = source.inner_text().strip()
    source.click()

    page.wait_for_url(re.compile(r"/docs/(?!voucher)[a-z_]+/\d+$"))
    expect(page.locator(".page-header h1")).to_contain_text(number)
    # and the document links back to its voucher
    expect(page.locator("#voucher table.data")).to_contain_text("1122")
