"""The inventory commands through the real `jxc` entry point (a subprocess, stdin not a terminal).

Each run costs about a second, so the tests share one SQLite book with its master data and keep the
number of runs small. The receipt/delivery flow works in 2026-06; the draft test in 2026-07, so
neither disturbs the other's numbers.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from jxc.db.models import Company, StockDoc
from jxc.db.session import make_engine
from jxc.services import books, checks, users
from tests.cli.test_cli import as_json, count, init, ok, refused, run

D = Decimal


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A book with a warehouse, a partner that both supplies and buys, a moving-average product
    and a monthly-average one, all entered through the CLI."""
    url = f"sqlite:///{tmp_path_factory.mktemp('stock-cli') / 'books.db'}"
    init(url)
    ok(run(url, "warehouse", "add", "WH01", "主仓"))
    ok(run(url, "partner", "add", "B001", "星海商贸", "--kind", "both", "--credit-limit", "50000"))
    assert "P001" in ok(run(url, "product", "add", "P001", "螺丝", "--unit", "个", "--tax-rate", "0.13",
                            "--min", "8", "--max", "100"))
    ok(run(url, "product", "add", "P002", "垫片", "--unit", "盒", "--tax-rate", "0.13",
           "--method", "monthly_average", "--category", "HW"))
    return url


def verify_ok(url: str) -> None:
    engine = make_engine(url)
    try:
        with Session(engine) as db, db.begin():
            report = checks.verify_books(db)
    finally:
        engine.dispose()
    assert report.ok, [c for c in report.checks if not c.ok]


def test_receipt_delivery_cost_run_and_reports(book):
    saved = ok(run(book, "stock", "add", "purchase_receipt", "--date", "2026-06-05", "--warehouse", "WH01",
                   "--partner", "B001", "--line", "P001,10,5", "--line", "P002,10,3.00", "--audit"))
    assert "CGRK-202606-0001" in saved and "已审核" in saved
    saved = ok(run(book, "stock", "add", "sales_delivery", "--date", "2026-06-10", "--warehouse", "WH01",
                   "--partner", "B001", "-l", "P001,4", "-l", "P002,5", "--audit"))
    assert "XSCK-202606-0001" in saved and "已审核" in saved

    # P002 is costed at the month's average only by the costing run: 5 × 3.00.
    ran = ok(run(book, "cost", "run", "--period", "2026-06"))
    assert "2026-06" in ran and "15.00" in ran

    summary = as_json(run(book, "report", "stock-summary", "--from", "2026-06-01", "--to", "2026-06-30",
                          "--warehouse", "WH01", "--format", "json"))
    assert (summary["date_from"], summary["date_to"], summary["warehouse"]) == ("2026-06-01", "2026-06-30", "WH01")
    keys = ("opening_qty", "opening_value", "in_qty", "in_value", "out_qty", "out_value", "closing_qty",
            "closing_value")
    rows = {r["product"]: r for r in summary["rows"]}
    assert set(rows) == {"P001", "P002"}
    for row in [*summary["rows"], summary["totals"]]:
        assert all(isinstance(row[k], str) for k in keys), row  # decimals travel as strings
        assert all(re.fullmatch(r"-?\d+\.\d{2}", row[k]) for k in keys if k.endswith("_value")), row
    assert rows["P001"]["warehouse"] == "WH01"
    assert {k: D(rows["P001"][k]) for k in keys} == {
        "opening_qty": 0, "opening_value": 0, "in_qty": 10, "in_value": D("50.00"), "out_qty": 4,
        "out_value": D("20.00"), "closing_qty": 6, "closing_value": D("30.00")}
    assert (D(rows["P002"]["out_value"]), D(rows["P002"]["closing_value"])) == (D("15.00"), D("15.00"))
    assert {k: D(v) for k, v in summary["totals"].items()} == {
        "opening_qty": 0, "opening_value": 0, "in_qty": 20, "in_value": D("80.00"), "out_qty": 9,
        "out_value": D("35.00"), "closing_qty": 11, "closing_value": D("45.00")}

    ledger = as_json(run(book, "report", "stock-ledger", "--product", "P001", "--warehouse", "WH01",
                         "--from", "2026-06-01", "--to", "2026-06-30", "--format", "json"))
    assert ledger["product"] == "P001" and ledger["truncated"] is False
    opening, receipt, delivery = ledger["rows"]
    assert opening["date"] is None and D(opening["balance_qty"]) == 0
    assert (receipt["date"], receipt["document"], D(receipt["in_qty"]), D(receipt["in_value"])) == (
        "2026-06-05", "CGRK-202606-0001", 10, D("50.00"))
    assert (delivery["date"], delivery["document"], D(delivery["out_qty"]), D(delivery["out_value"])) == (
        "2026-06-10", "XSCK-202606-0001", 4, D("20.00"))
    assert (D(delivery["balance_qty"]), D(delivery["balance_value"]), D(delivery["unit_cost"])) == (
        6, D("30.00"), 5)
    for row in ledger["rows"]:
        assert all(isinstance(row[k], str) for k in ("in_qty", "in_value", "out_qty", "out_value", "balance_qty",
                                                      "balance_value", "unit_cost"))

    shown = as_json(run(book, "stock", "show", "XSCK-202606-0001", "--format", "json"))
    assert (shown["no"], shown["doc_type"], shown["status"], shown["partner"], shown["warehouse"]) == (
        "XSCK-202606-0001", "sales_delivery", "audited", "B001", "WH01")
    assert re.fullmatch(r"2026-06 记-\d{4}", shown["voucher"])
    assert [(ln["product"], D(ln["qty"]), D(ln["cost"])) for ln in shown["lines"]] == [
        ("P001", 4, D("20.00")), ("P002", 5, D("15.00"))]

    # A product with stock on hand cannot be disabled.
    assert "仍有库存" in refused(run(book, "product", "disable", "P001"))
    verify_ok(book)


def test_bad_lines_give_clear_messages(book):
    before = count(book, StockDoc)
    err = refused(run(book, "stock", "add", "sales_delivery", "--date", "2026-06-20", "--warehouse", "WH01",
                      "--partner", "B001", "--line", "P001,abc", "--line", "P001", "--line", "P002,1,,,2026-02-30"))
    lines = err.strip().split("\n")
    assert len(lines) == 3, err
    assert "第 1" in lines[0] and "数量" in lines[0] and "“abc”不是有效的数字" in lines[0]
    assert "第 2" in lines[1] and "商品,数量" in lines[1]
    assert "第 3" in lines[2] and "2026-02-30" in lines[2] and "YYYY-MM-DD" in lines[2]
    # A well-formed line the stock cannot cover is refused by the service, in Chinese too.
    err = refused(run(book, "stock", "add", "sales_delivery", "--date", "2026-06-20", "--warehouse", "WH01",
                      "--partner", "B001", "--line", "P001,100000", "--audit"))
    assert "库存不足" in err and "P001" in err
    assert count(book, StockDoc) == before


def test_draft_list_and_delete(book):
    saved = ok(run(book, "stock", "add", "purchase_receipt", "--date", "2026-07-02", "--warehouse", "WH01",
                   "--partner", "B001", "--line", "P001,2,5.65", "--incl-tax"))
    assert "CGRK-202607-0001" in saved and "草稿" in saved
    listed = as_json(run(book, "stock", "list", "--from", "2026-07-01", "--to", "2026-07-31", "--status", "draft",
                         "--format", "json"))
    assert [(d["no"], d["doc_type"], d["status"], d["partner"]) for d in listed["docs"]] == [
        ("CGRK-202607-0001", "purchase_receipt", "draft", "B001")]
    assert listed["next_after"] is None
    assert "CGRK-202607-0001" in ok(run(book, "stock", "delete", "CGRK-202607-0001"))
    assert count(book, StockDoc, StockDoc.no == "CGRK-202607-0001") == 0


def test_product_add_and_disable(book):
    ok(run(book, "product", "add", "P009", "样品", "--unit", "件", "--tax-rate", "0.09", "--batch-tracked",
           "--shelf-life", "180", "--method", "fifo"))
    assert "已停用" in ok(run(book, "product", "disable", "P009"))
    listed = as_json(run(book, "product", "list", "--all", "--format", "json"))
    rows = {r["code"]: r for r in listed["rows"]}
    assert rows["P009"]["active"] is False and rows["P001"]["active"] is True
    assert (rows["P009"]["name"], rows["P009"]["costing_method"], D(rows["P009"]["tax_rate"])) == (
        "样品", "fifo", D("0.09"))


def test_posting_rules_and_negative_stock_setting(book):
    rules = {(r["doc_type"], r["category"]): r for r in as_json(run(book, "posting-rule", "list", "--format",
                                                                   "json"))}
    assert (rules[("sales_delivery", "")]["inventory_account"], rules[("sales_delivery", "")]["counter_account"]) \
        == ("1405", "5401")
    assert rules[("purchase_receipt", "")]["counter_account"] == "220202"
    ok(run(book, "settings", "set", "--allow-negative-stock"))
    engine = make_engine(book)
    try:
        with Session(engine) as db:
            assert db.scalar(select(Company.allow_negative_stock)) is True
            actor = users.load_actor(db, "admin")
            db.rollback()
            books.update_settings(db, actor=actor, allow_negative_stock=False)  # the shared book forbids it again
    finally:
        engine.dispose()
