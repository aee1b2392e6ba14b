"""Signing in and out in a real browser, in Chinese and in English."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import login, shot


def test_wrong_password_then_sign_in_and_out(page: Page) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=/"))
    shot(page, "login", phone=True)
    page.fill("input[name=username]", "accountant")
    page.fill("input[name=password]", "wrong-password")
    page.keyboard.press("Enter")
    expect(page.locator(".alert.error")).to_contain_text("用户名或密码")
    expect(page.locator("input[name=username]")).to_have_value("accountant")
    login(page, "accountant")
    expect(page.locator(".topbar")).to_contain_text("演示贸易")
    page.goto("/account")
    shot(page, "account")
    page.locator("form[action='/logout'] button").first.click()
    expect(page).to_have_url(re.compile(r"/login"))
    page.goto("/account")
    expect(page).to_have_url(re.compile(r"/login\?next=/account"))


def test_language_switch(page: Page) -> None:
    login(page, "admin")
    page.goto("/account")
    page.locator("a[href='/lang/en']").first.click()
    expect(page.locator("h1")).to_contain_text("My account")
    page.locator("a[href='/lang/zh_CN']").first.click()
    expect(page.locator("h1")).to_contain_text("账户设置")
