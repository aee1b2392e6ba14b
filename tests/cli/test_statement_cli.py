"""The financial statements and their lines through the real `jxc` entry point (a subprocess).

One SQLite book shared by the tests: opening balances (bank 10,000 against capital) and one
cash sale of 1,130 (revenue 1,000, output VAT 130) in 2026-01. The arithmetic of every figure
is checked by tests/integration/test_statements.py; here: that the commands run, print the
forms in both languages, give JSON with amounts as strings, and refuse bad input in words.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.cli.test_cli import as_json, assert_decimal_strings, init, ok, refused, run

D = Decimal


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('statement-cli') / 'books.db'}"
    init(url)
    ok(run(url, "opening", "set", "1002", "--debit", "10000"))
    ok(run(url, "opening", "set", "3001", "--credit", "10000"))
    ok(run(url, "voucher", "add", "--date", "2026-01-05", "-d", "1002=1130", "-c", "5001=1000",
           "-c", "22210101=130", "--post"))
    return url


def test_balance_sheet(book):
    text = ok(run(book, "report", "balance-sheet", "--period", "2026-01"))
    for word in ("资产负债表", "会小企01表", "货币资金", "期末余额", "年初余额", "负债和所有者权益", "11,130.00",
                 "10,000.00", "未分配利润", "平衡"):
        assert word in text, word
    english = ok(run(book, "--lang", "en", "report", "balance-sheet", "--period", "2026-01"))
    assert "Total assets" in english and "Retained earnings" in english and "balanced" in english
    data = as_json(run(book, "report", "balance-sheet", "--period", "2026-01", "--format", "json"))
    assert (data["statement"], data["period"], data["columns"]) == ("balance_sheet", "2026-01",
                                                                    ["closing", "year_start"])
    assert data["balanced"] is True and data["uncovered"] == []
    rows = {r["line_no"]: r for r in data["rows"]}
    assert len(rows) == 53
    for r in data["rows"]:
        assert_decimal_strings(r, ("closing", "year_start"))
    # 货币资金 10,000 + 1,130; 应交税费 130; 未分配利润 1,000 (not yet carried); totals 11,130.
    assert (rows[1]["closing"], rows[1]["year_start"]) == ("11130.00", "10000.00")
    assert (rows[36]["closing"], rows[51]["closing"], rows[53]["closing"]) == ("130.00", "1000.00", "11130.00")
    assert data["totals"] == {"assets": {"closing": "11130.00", "year_start": "10000.00"},
                              "liabilities_and_equity": {"closing": "11130.00", "year_start": "10000.00"}}


def test_income_statement_and_cash_flow(book):
    text = ok(run(book, "report", "income-statement", "--period", "2026-01"))
    assert "利润表" in text and "本年累计金额" in text and "本月金额" in text and "1,000.00" in text
    data = as_json(run(book, "report", "income-statement", "--period", "2026-01", "--format", "json"))
    assert data["columns"] == ["ytd", "month"] and data["balanced"] is None
    assert data["totals"] == {"net_profit": {"ytd": "1000.00", "month": "1000.00"}}
    cash = ok(run(book, "report", "cash-flow", "--period", "2026-01"))
    assert "现金流量表" in cash and "1,130.00" in cash and "11,130.00" in cash and "平衡" in cash
    data = as_json(run(book, "report", "cash-flow", "--period", "2026-01", "--format", "json"))
    assert data["balanced"] is True
    assert {r["line_no"]: r["month"] for r in data["rows"] if D(r["month"])} == {
        1: "1130.00", 7: "1130.00", 20: "1130.00", 21: "10000.00", 22: "11130.00"}


def test_statement_show_and_set(book):
    text = ok(run(book, "statement", "show", "balance_sheet"))
    assert "+DR(1122) +DR(2203)" in text and "恰好计入" in text
    data = as_json(run(book, "statement", "show", "income_statement", "--format", "json"))
    assert len(data["lines"]) == 32 and data["uncovered"] == [] and data["problems"] == []
    assert data["lines"][2] == {"line_no": 3, "position": 3, "side": "", "label": "税金及附加",
                                "label_en": "Taxes and surcharges", "formula": "+A(5403)"}

    # Leave 银行存款 off 货币资金: the sheet no longer balances, and both commands say which account.
    saved = run(book, "statement", "set", "balance_sheet", "1", "--formula", "+B(1001) +B(1012)")
    assert "第 1 行" in ok(saved) and "+B(1001) +B(1012)" in saved.stdout and "1002" in saved.stderr
    report = run(book, "report", "balance-sheet", "--period", "2026-01")
    assert "不平衡" in ok(report) and "1002" in report.stderr
    assert as_json(run(book, "report", "balance-sheet", "--period", "2026-01", "--format", "json"))[
        "uncovered"] == ["1002"]
    # Put it back, with a formula that starts with a minus sign: a value, not an option.
    ok(run(book, "statement", "set", "balance_sheet", "1", "--formula", "-B(1002) +B(1001) +B(1002) +B(1002) +B(1012)"))
    assert as_json(run(book, "report", "balance-sheet", "--period", "2026-01", "--format", "json"))["balanced"]


def test_bad_input_reads_as_messages(book):
    err = refused(run(book, "statement", "set", "balance_sheet", "4", "--formula", "+DR(1122) +DR(9999) +X(1)"))
    assert "第 4 行" in err and "+DR(9999)" in err and "科目 9999 不存在" in err and "+X(1)" in err
    err = refused(run(book, "--lang", "en", "statement", "set", "balance_sheet", "15", "--formula", "+L(30)"))
    assert "circle" in err and "15 -> 30 -> 15" in err
    assert "balance_sheet 99" in refused(run(book, "statement", "set", "balance_sheet", "99", "--label", "x"))
    assert "cash_flow" in refused(run(book, "statement", "show", "profit"))
    assert "YYYY-MM" in refused(run(book, "--lang", "en", "report", "income-statement", "--period", "2026-1x"))
    assert "+DR(1122) +DR(2203)" in ok(run(book, "statement", "show", "balance_sheet"))  # nothing changed
