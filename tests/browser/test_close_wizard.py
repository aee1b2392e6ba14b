"""The month-end close wizard in a real browser: a draft document blocks the close and is
linked from the checklist; once audited the check passes, the warnings are acknowledged,
the close runs with its progress to the done page; the manager then reopens (反结账) the
month with a reason, leaving March open for the other browser tests."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import login, shot


@pytest.fixture(autouse=True)
def _no_motion(page: Page) -> None:
    """Screenshots right after a viewport change must not catch the sidebar mid-slide."""
    page.emulate_media(reduced_motion="reduce")

PERIOD = "2026-03"


@contextmanager
def _as(browser: Browser, live_url: str, username: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 800}, locale="zh-CN", base_url=live_url)
    context.set_default_timeout(10_000)
    try:
        pg = context.new_page()
        login(pg, username)
        yield pg
    finally:
        context.close()


def _draft_receipt(page: Page, memo: str) -> str:
    """A purchase receipt dated in March, saved as a draft with Ctrl+S; its number."""
    page.goto("/docs/purchase_receipt/new")
    page.fill("input[name=date]", f"{PERIOD}-30")
    page.fill("input[name=partner]", "S001")
    page.select_option("select[name=warehouse]", "WH01")
    page.fill("input[name=memo]", memo)
    page.focus("input[name='lines[1].product']")
    page.keyboard.type("P001")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement && document.activeElement.name === 'lines[1].qty'")
    page.keyboard.type("1")
    page.keyboard.press("Enter")
    page.keyboard.type("45")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement && document.activeElement.name === 'lines[2].product'")
    page.keyboard.press("Control+s")
    page.wait_for_url(re.compile(r"/docs/purchase_receipt/\d+$"))
    expect(page.locator(".page-header h1 .badge.draft")).to_be_visible()
    return page.locator(".page-header h1 .mono").inner_text().strip()


def _period_status(page: Page, label: str) -> str:
    page.goto("/close")
    row = page.locator("#periods tbody tr").filter(has=page.locator("td.mono", has_text=re.compile(f"^{label}$")))
    return str(row.locator(".badge").first.get_attribute("class"))


def _reopen(browser: Browser, live_url: str, reason: str) -> None:
    with _as(browser, live_url, "manager") as pg:
        pg.goto("/close")
        form = pg.locator("#reopen-form")
        expect(form).to_have_attribute("action", f"/close/{PERIOD}/reopen")
        form.locator("textarea[name=reason]").fill(reason)
        form.locator("#f-confirm").check()
        form.locator("button[type=submit]").click()
        expect(pg.locator(".alert.ok, .flash.ok").first).to_contain_text(PERIOD)
        assert "open" in _period_status(pg, PERIOD)


def test_close_wizard(page: Page, browser: Browser, live_url: str) -> None:
    memo = f"结账阻断-{uuid.uuid4().hex[:8]}"
    with _as(browser, live_url, "warehouse") as clerk:
        number = _draft_receipt(clerk, memo)

    login(page, "accountant")
    page.goto("/close")
    page.locator(f"a[href='/close/{PERIOD}']").first.click()
    page.wait_for_url(f"**/close/{PERIOD}")
    failing = page.locator("ul.checklist li.fail")
    expect(failing).to_have_count(1)
    expect(page.locator("#close-panel .alert.error")).to_be_visible()
    expect(page.locator("#close-form button[type=submit]")).to_be_disabled()
    offender = failing.locator("ul.offenders a", has_text=number)
    expect(offender).to_be_visible()
    shot(page, "close-checklist-failure", phone=True)

    closed = False
    try:
        offender.click()
        page.wait_for_url(re.compile(r"/docs/purchase_receipt/\d+$"))
        expect(page.locator(".page-header h1")).to_contain_text(number)
        page.locator("form[action$='/audit'] button").click()
        expect(page.locator(".page-header h1 .badge.audited")).to_be_visible()

        page.goto(f"/close/{PERIOD}")
        page.locator("#recheck").click()  # 重新检查 swaps the panel in place
        expect(page.locator("ul.checklist li.fail")).to_have_count(0)
        expect(page.locator("#close-panel .alert.error")).to_have_count(0)
        ack = page.locator("#f-acknowledge")
        if page.locator("ul.checklist li.warn").count():
            ack.check()
        page.locator("#close-form button[type=submit]").click()
        closed = True
        page.wait_for_url(re.compile(rf"/close/{PERIOD}/job/[\w-]+$"))
        job = page.locator("#close-job")
        expect(job).to_have_attribute("data-state", re.compile("running|done"))
        expect(job).to_have_attribute("data-state", "done", timeout=30_000)
        expect(page.locator("#close-done")).to_contain_text(PERIOD)
        expect(page.locator(".steps")).to_be_visible()
        shot(page, "close-done", phone=True)
        assert "open" not in _period_status(page, PERIOD)
    finally:
        if closed:
            _reopen(browser, live_url, f"浏览器测试反结账 {memo}")
    assert "open" in _period_status(page, PERIOD)
