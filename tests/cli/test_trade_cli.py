"""Orders, invoices, receipts/payments and settlement through the real `jxc` entry point (a
subprocess, stdin not a terminal).

The tests share one SQLite book and its master data; each reads the numbers it was given from
the command's output, so they do not depend on one another. Every run costs about a second:
the two cycles walk the whole way, the other tests only what they are about.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from jxc.db.models import CashDoc, Invoice
from tests.cli.test_cli import as_json, count, init, ok, refused, run
from tests.cli.test_stock_cli import verify_ok

D = Decimal


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A warehouse, a supplier, a customer with a small credit limit (the book warns by default)
    and a product, entered through the CLI."""
    url = f"sqlite:///{tmp_path_factory.mktemp('trade-cli') / 'books.db'}"
    init(url)
    ok(run(url, "warehouse", "add", "WH01", "主仓"))
    ok(run(url, "partner", "add", "S001", "华东电子", "--kind", "supplier"))
    ok(run(url, "partner", "add", "C001", "星海商贸", "--kind", "customer", "--credit-limit", "1000"))
    ok(run(url, "product", "add", "P001", "无线鼠标", "--unit", "个", "--tax-rate", "0.13"))
    return url


def number(text: str, prefix: str) -> str:
    found = re.findall(rf"{prefix}-\d{{6}}-\d{{4}}", text)
    assert found, text
    return found[0]


def test_purchase_cycle(book):
    # 采购订单 → 入库 → 由入库单开票 → 付款并核销
    saved = ok(run(book, "order", "add", "--side", "purchase", "--partner", "S001", "--date", "2026-06-01",
                   "--line", "P001,100,12.50", "--delivery-date", "2026-06-10", "--audit"))
    po = number(saved, "CGDD")
    assert "采购订单" in saved and "已审核" in saved and "1,412.50" in saved
    shown = as_json(run(book, "order", "show", po, "--format", "json"))
    assert (shown["execution"], shown["delivery_date"]) == ("not_started", "2026-06-10")
    assert "未执行" in ok(run(book, "order", "show", po))

    saved = ok(run(book, "order", "receive", po, "--date", "2026-06-03", "--warehouse", "WH01", "--audit"))
    receipt = number(saved, "CGRK")
    assert "已审核" in saved
    shown = as_json(run(book, "order", "show", po, "--format", "json"))
    assert shown["execution"] == "done"
    assert [(ln["product"], D(ln["done"]), D(ln["open"])) for ln in shown["lines"]] == [("P001", 100, 0)]
    assert "已完成" in ok(run(book, "order", "show", po))
    # Nothing is left to receive: the form refuses in plain words.
    err = refused(run(book, "order", "receive", po, "--date", "2026-06-04", "--warehouse", "WH01"))
    assert po in err and "已全部执行" in err

    saved = ok(run(book, "invoice", "from", "--side", "purchase", "--source", receipt, "--date", "2026-06-05",
                   "--audit"))
    invoice = number(saved, "CGFP")
    assert "专票" in saved and "已审核" in saved and "1,412.50" in saved
    shown = as_json(run(book, "invoice", "show", invoice, "--format", "json"))
    assert (shown["partner"], D(shown["total"]), D(shown["open"])) == ("S001", D("1412.50"), D("1412.50"))
    assert shown["lines"][0]["billed"] == [[receipt, "100.0000"]]

    saved = ok(run(book, "payment", "add", "--partner", "S001", "--account", "1002", "--amount", "1500",
                   "--date", "2026-06-08", "--settle", f"{invoice}:1412.50", "--audit"))
    payment = number(saved, "FKD")
    assert "付款单" in saved and "已审核" in saved and "87.50" in saved  # the rest is 预付
    assert D(as_json(run(book, "invoice", "show", invoice, "--format", "json"))["open"]) == 0
    paid = as_json(run(book, "payment", "show", payment, "--format", "json"))
    assert paid["settled"] == [{"invoice": invoice, "amount": "1412.50", "writeoff": "0.00"}]
    assert D(paid["advance_open"]) == D("87.50")
    # The invoice is settled, so it cannot be un-audited until the payment is.
    assert "核销" in refused(run(book, "invoice", "unaudit", invoice))
    verify_ok(book)


def test_sales_cycle(book):
    # 销售订单（超信用额度提示）→ 出库 → 开票 → 收款（预收）→ 核销 → 撤销核销
    added = run(book, "order", "add", "--side", "sales", "--partner", "C001", "--date", "2026-06-11",
                "--line", "P001,60,25", "--salesperson", "王五", "--audit")
    so = number(ok(added), "XSDD")
    assert "超出信用额度" in added.stderr and "C001" in added.stderr and "1000" in added.stderr

    delivered = run(book, "order", "deliver", so, "--date", "2026-06-12", "--warehouse", "WH01", "--audit")
    delivery = number(ok(delivered), "XSCK")
    assert "超出信用额度" in delivered.stderr
    assert as_json(run(book, "order", "show", so, "--format", "json"))["execution"] == "done"

    saved = ok(run(book, "invoice", "from", "--side", "sales", "--source", delivery, "--date", "2026-06-13",
                   "--kind", "ordinary", "--audit"))
    invoice = number(saved, "XSFP")
    assert "普票" in saved and "1,695.00" in saved

    saved = ok(run(book, "receipt", "add", "--partner", "C001", "--account", "1002", "--amount", "2000",
                   "--date", "2026-06-14", "--audit"))
    receipt = number(saved, "SKD")
    assert "收款单" in saved and "2,000.00" in saved

    settled = ok(run(book, "settle", "--side", "sales", "--partner", "C001", "--date", "2026-06-15",
                     "--invoice", f"{invoice}:1695", "--credit", receipt))
    settlement = number(settled, "HXD")
    assert "1,695.00" in settled
    assert D(as_json(run(book, "invoice", "show", invoice, "--format", "json"))["open"]) == 0
    assert D(as_json(run(book, "receipt", "show", receipt, "--format", "json"))["advance_open"]) == D("305.00")

    assert settlement in ok(run(book, "settle", "undo", settlement))
    assert D(as_json(run(book, "invoice", "show", invoice, "--format", "json"))["open"]) == D("1695.00")
    assert D(as_json(run(book, "receipt", "show", receipt, "--format", "json"))["advance_open"]) == D("2000.00")
    verify_ok(book)


def test_undoing_a_settlement_reports_its_amount(book):
    invoice = number(ok(run(book, "invoice", "add", "--side", "sales", "--partner", "C001", "--date", "2026-06-16",
                            "--kind", "ordinary", "--line", "P001,1,100", "--audit")), "XSFP")
    receipt = number(ok(run(book, "receipt", "add", "--partner", "C001", "--account", "1002", "--amount", "113",
                            "--date", "2026-06-16", "--audit")), "SKD")
    settled = ok(run(book, "settle", "--side", "sales", "--partner", "C001", "--date", "2026-06-16",
                     "--invoice", f"{invoice}:113", "--credit", receipt))
    assert "113.00" in settled
    undone = ok(run(book, "settle", "undo", number(settled, "HXD")))
    assert "，113.00 重新成为未核销金额" in undone


def test_settling_more_than_is_open_is_refused(book):
    saved = ok(run(book, "invoice", "add", "--side", "sales", "--partner", "C001", "--date", "2026-06-20",
                   "--kind", "ordinary", "--line", "P001,2,50", "--audit"))
    invoice = number(saved, "XSFP")
    assert "113.00" in saved
    before = count(book, CashDoc)
    err = refused(run(book, "receipt", "add", "--partner", "C001", "--account", "1002", "--amount", "500",
                      "--date", "2026-06-21", "--settle", f"{invoice}:500", "--audit"))
    # The field (settlement line 1, its amount) and the problem, in Chinese.
    assert "核销第 1 项 金额" in err and "核销金额 500.00 超过未核销金额 113.00" in err
    err = refused(run(book, "--lang", "en", "receipt", "add", "--partner", "C001", "--account", "1002",
                      "--amount", "500", "--date", "2026-06-21", "--settle", f"{invoice}:500"))
    assert "settlement #1 amount" in err and "The amount to settle, 500.00, is more than the open amount 113.00" in err
    assert not re.search(r"[\u4e00-\u9fff]", err)
    assert count(book, CashDoc) == before
    # A malformed settlement and a malformed amount are both reported, named by field.
    err = refused(run(book, "receipt", "add", "--partner", "C001", "--account", "1002", "--amount", "abc",
                      "--date", "2026-06-21"))
    assert "金额" in err and "“abc”不是有效的数字" in err
    err = refused(run(book, "settle", "--side", "sales", "--partner", "C001", "--date", "2026-06-21",
                      "--invoice", invoice))
    assert "发票号:金额" in err


def test_three_way_mismatch_needs_the_override(book):
    receipt = number(ok(run(book, "stock", "add", "purchase_receipt", "--date", "2026-06-22", "--warehouse",
                            "WH01", "--partner", "S001", "--line", "P001,10,12.50", "--audit")), "CGRK")
    before = count(book, Invoice)
    err = refused(run(book, "invoice", "add", "--side", "purchase", "--partner", "S001", "--date", "2026-06-23",
                      "--line", "P001,10,15", "--source", receipt, "--audit"))
    assert "三单匹配" in err and "入库单单价 12.5" in err and "15" in err and "receipt" not in err
    assert count(book, Invoice) == before
    saved = ok(run(book, "invoice", "add", "--side", "purchase", "--partner", "S001", "--date", "2026-06-23",
                   "--line", "P001,10,15", "--source", receipt))
    invoice = number(saved, "CGFP")
    assert "草稿" in saved
    saved = ok(run(book, "invoice", "audit", invoice, "--override-match"))
    assert "已审核" in saved
    assert "12.5" in as_json(run(book, "invoice", "show", invoice, "--format", "json"))["match_override"]
    verify_ok(book)


def test_order_drafts_close_cancel_and_delete(book):
    saved = ok(run(book, "order", "add", "--side", "purchase", "--partner", "S001", "--date", "2026-07-01",
                   "--line", "P001,5,11.30,0.13", "--line", "P001,2,11.30", "--incl-tax"))
    po = number(saved, "CGDD")
    assert "草稿" in saved and "79.10" in saved  # prices include tax: 5 × 11.30 + 2 × 11.30
    assert "已审核" in ok(run(book, "order", "audit", po))
    assert "已关闭" in ok(run(book, "order", "close", po, "--side", "purchase"))
    err = refused(run(book, "order", "receive", po, "--date", "2026-07-02", "--warehouse", "WH01"))
    assert "不是执行中的订单" in err
    assert "已审核" in ok(run(book, "order", "reopen", po))
    assert "已作废" in ok(run(book, "order", "cancel", po))
    draft = number(ok(run(book, "order", "add", "--side", "sales", "--partner", "C001", "--date", "2026-07-01",
                          "--line", "P001,1,20")), "XSDD")
    assert draft in ok(run(book, "order", "delete", draft))
    assert "找不到" in refused(run(book, "order", "show", draft))
    # Bad lines are reported together, each by its line and field.
    err = refused(run(book, "order", "add", "--side", "sales", "--partner", "C001", "--date", "2026-07-01",
                      "--line", "P001,x,20", "--line", "P001"))
    lines = err.strip().split("\n")
    assert len(lines) == 2, err
    assert "第 1 行 数量" in lines[0] and "第 2 行" in lines[1] and "商品,数量,单价" in lines[1]


def test_order_list_totals(book):
    saved = ok(run(book, "order", "add", "--side", "purchase", "--partner", "S001", "--date", "2026-08-01",
                   "--line", "P001,100,12.50"))
    po = number(saved, "CGDD")
    listed = as_json(run(book, "order", "list", "--side", "purchase", "--from", "2026-08-01", "--to", "2026-08-31",
                         "--format", "json"))
    assert [(o["no"], D(o["total"])) for o in listed["orders"]] == [(po, D("1412.50"))]
