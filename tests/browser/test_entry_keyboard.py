"""Document entry by keyboard in a real browser: a purchase receipt typed with a barcode
scanner's Enter, live totals, Ctrl+Enter to save and audit; a sales delivery of a
batch-tracked product taking the FEFO batches, then found in the stock ledger."""

from __future__ import annotations

import re
import uuid
from decimal import ROUND_HALF_UP, Decimal

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import login, shot


@pytest.fixture(autouse=True)
def _no_motion(page: Page) -> None:
    """Screenshots right after a viewport change must not catch the sidebar mid-slide."""
    page.emulate_media(reduced_motion="reduce")

CENT = Decimal("0.01")
VAT = Decimal("0.13")
P001_BARCODE = "6901234567892"  # 无线鼠标 in src/jxc/data/demo.jsonl


def _money(value: Decimal) -> str:
    return f"{value.quantize(CENT, ROUND_HALF_UP):,.2f}"


def _memo(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _type_and_enter(page: Page, text: str) -> None:
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def _focused_name(page: Page) -> str:
    return str(page.evaluate("document.activeElement && document.activeElement.name"))


def _wait_focus(page: Page, pattern: str) -> None:
    page.wait_for_function("p => document.activeElement && new RegExp(p).test(document.activeElement.name || '')",
                           arg=pattern)


def test_purchase_receipt_by_keyboard(page: Page) -> None:
    login(page, "admin")  # the warehouse clerk may enter it but not see its voucher
    page.goto("/docs/purchase_receipt/new")
    memo = _memo("浏览器入库")
    _wait_focus(page, "^partner$")  # the cursor starts on the first empty required field
    page.fill("input[name=date]", "2026-04-08")
    page.focus("input[name=partner]")  # type the supplier's code: Enter resolves it and moves on
    _type_and_enter(page, "S001")
    expect(page.locator(".field .lookup-name").first).to_contain_text("华东电子")
    _wait_focus(page, "^warehouse$")
    page.select_option("select[name=warehouse]", "WH01")
    page.fill("input[name=memo]", memo)
    page.focus("input[name=memo]")
    page.keyboard.press("Enter")
    _wait_focus(page, r"^lines\[1\]\.product$")

    # line 1: a barcode as a scanner sends it, then quantity and price
    _type_and_enter(page, P001_BARCODE)
    _wait_focus(page, r"^lines\[1\]\.qty$")
    expect(page.locator("tr.line").first.locator("td[data-calc=name]")).to_contain_text("无线鼠标")
    expect(page.locator("input[name='lines[1].product']")).to_have_value("P001")
    _type_and_enter(page, "10")
    _wait_focus(page, r"^lines\[1\]\.price$")
    _type_and_enter(page, "45.5")
    # line 2: by product code
    _wait_focus(page, r"^lines\[2\]\.product$")
    _type_and_enter(page, "P003")
    _wait_focus(page, r"^lines\[2\]\.qty$")
    _type_and_enter(page, "2")
    _wait_focus(page, r"^lines\[2\]\.price$")
    _type_and_enter(page, "880")
    _wait_focus(page, r"^lines\[3\]\.product$")

    lines = [(Decimal(10), Decimal("45.5")), (Decimal(2), Decimal(880))]
    amount = sum((q * p).quantize(CENT, ROUND_HALF_UP) for q, p in lines)
    tax = sum(((q * p).quantize(CENT, ROUND_HALF_UP) * VAT).quantize(CENT, ROUND_HALF_UP) for q, p in lines)
    totals = page.locator("#entry-totals")
    expect(totals.locator("[data-total=qty]")).to_have_text("12")
    expect(totals.locator("[data-total=amount]")).to_have_text(_money(amount))
    expect(totals.locator("[data-total=tax]")).to_have_text(_money(tax))
    expect(totals.locator("[data-total=total]")).to_have_text(_money(amount + tax))
    row2 = page.locator("tr.line").nth(1)
    expect(row2.locator("td[data-calc=amount]")).to_have_text(_money(Decimal(1760)))
    shot(page, "entry-purchase-receipt", phone=True)

    page.keyboard.press("Control+Enter")  # save and audit
    page.wait_for_url(re.compile(r"/docs/purchase_receipt/\d+$"))
    expect(page.locator(".page-header h1 .badge.audited")).to_be_visible()
    expect(page.locator("main, body").first).to_contain_text(memo)
    entries = page.locator("#entries table.data tbody tr")
    expect(entries).to_have_count(2)
    expect(entries.first).to_contain_text("P001")
    expect(entries.first).to_contain_text("WH01")
    voucher = page.locator("#voucher table.data")
    expect(voucher).to_contain_text("1405")
    expect(voucher).to_contain_text("220202")
    expect(voucher.locator("tfoot tr.total")).to_contain_text(_money(amount))
    shot(page, "doc-purchase-receipt")


def _receive_batch(page: Page, batch: str, expiry: str, qty: str, memo: str) -> None:
    """A purchase receipt of P005 (batch-tracked) through the entry form, saved and audited."""
    page.goto("/docs/purchase_receipt/new")
    page.fill("input[name=date]", "2026-04-02")
    page.fill("input[name=partner]", "S002")
    page.select_option("select[name=warehouse]", "WH01")
    page.fill("input[name=memo]", memo)
    page.focus("input[name='lines[1].product']")
    _type_and_enter(page, "P005")
    _wait_focus(page, r"^lines\[1\]\.batch$")  # a batch-tracked product asks for its batch and expiry
    _type_and_enter(page, batch)
    _type_and_enter(page, expiry)
    _wait_focus(page, r"^lines\[1\]\.qty$")
    _type_and_enter(page, qty)
    _type_and_enter(page, "12.5")
    _wait_focus(page, r"^lines\[2\]\.product$")
    page.keyboard.press("Control+Enter")
    page.wait_for_url(re.compile(r"/docs/purchase_receipt/\d+$"))
    expect(page.locator(".page-header h1 .badge.audited")).to_be_visible()


def test_delivery_with_fefo(page: Page) -> None:
    login(page, "admin")
    tag = uuid.uuid4().hex[:6].upper()
    early, late = f"BT{tag}A", f"BT{tag}B"
    # two batches expiring before the demo's (B20260115, 2029-01-14): the later one received first
    _receive_batch(page, late, "2027-09-30", "4", _memo("FEFO入库B"))
    _receive_batch(page, early, "20270630", "3", _memo("FEFO入库A"))

    page.goto("/docs/sales_delivery/new")
    memo = _memo("FEFO出库")
    page.fill("input[name=date]", "2026-04-09")
    page.fill("input[name=partner]", "C001")
    page.select_option("select[name=warehouse]", "WH01")
    page.fill("input[name=memo]", memo)
    page.focus("input[name='lines[1].product']")
    _type_and_enter(page, "P005")
    _wait_focus(page, r"^lines\[1\]\.qty$")
    _type_and_enter(page, "9")
    offer = page.locator("tr.line").first.locator("ul.suggest.fefo")
    expect(offer).to_be_visible()
    options = offer.locator("li[data-index]")
    # the first option takes everything; the details list the batches earliest expiry first
    expect(options.first).to_contain_text(f"{early} × 3")
    expect(options.first).to_contain_text(f"{late} × 4")
    expect(options.first).to_contain_text("B20260115 × 2")
    expect(options.nth(1)).to_contain_text("2027-06-30")
    expect(options.nth(2)).to_contain_text("2027-09-30")
    shot(page, "entry-delivery-fefo")
    page.keyboard.press("Enter")  # accept: the line splits across the batches
    _wait_focus(page, r"^lines\[1\]\.price$")
    expect(page.locator("input[name='lines[1].batch']")).to_have_value(early)
    expect(page.locator("input[name='lines[2].batch']")).to_have_value(late)
    expect(page.locator("input[name='lines[3].batch']")).to_have_value("B20260115")
    expect(page.locator("input[name='lines[3].qty']")).to_have_value("2")
    _type_and_enter(page, "19.9")  # one price for the split lines
    expect(page.locator("input[name='lines[3].price']")).to_have_value("19.9")
    expect(page.locator("#entry-totals [data-total=qty]")).to_have_text("9")
    expect(page.locator("#entry-totals [data-total=amount]")).to_have_text(_money(Decimal("19.9") * 9))
    page.keyboard.press("Control+Enter")
    page.wait_for_url(re.compile(r"/docs/sales_delivery/\d+$"))
    doc_url = page.url
    expect(page.locator(".page-header h1 .badge.audited")).to_be_visible()
    lines = page.locator("#lines table.data tbody")
    for batch in (early, late, "B20260115"):
        expect(lines).to_contain_text(batch)
    expect(page.locator("#entries table.data tbody tr")).to_have_count(3)
    number = page.locator(".page-header h1 .mono").inner_text().strip()
    shot(page, "doc-sales-delivery-fefo")

    page.goto("/reports/stock-ledger?product=P005&warehouse=WH01&date_from=2026-04-01&date_to=2026-04-30")
    table = page.locator("#report-table")
    row = table.locator("tbody tr", has_text=number).filter(has_text=early)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("3")
    row.locator("a.doc").first.click()
    page.wait_for_url(doc_url)
