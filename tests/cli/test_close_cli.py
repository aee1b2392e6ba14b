"""`jxc close`, `jxc reopen`, `jxc period status` and `jxc period lock` through the real entry point
(a subprocess, stdin not a terminal).

Each test gets a copy of a small SQLite book made in-process (master data and documents through
the services, much faster than a command per step); only the commands under test run as
subprocesses, each about a second.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from jxc.db.session import make_engine
from jxc.services import books, closing, stock, users, vouchers
from tests import stock_factories as sf
from tests.cli.test_cli import PASSWORD, ok, refused, run
from tests.cli.test_stock_cli import verify_ok
from tests.factories import cr, dr, voucher
from tests.stock_factories import ln, other_in, receipt

D = Decimal
CODES = ["unaudited_documents", "unposted_vouchers", "negative_stock", "stocktake_pending", "zero_cost_entries",
         "uninvoiced_deliveries", "uninvoiced_receipts", "estimated_payables", "subledger_inventory",
         "subledger_arap", "opening_balanced", "trial_balance", "voucher_gaps"]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A book starting 2026-01 with the standard master data, a January sale on a posted voucher
    (so the close has something to carry) and an uninvoiced receipt (a checklist warning)."""
    path = tmp_path_factory.mktemp("close-cli") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    books.init_book(engine, books.BookSettings("测试公司", "2026-01", "admin", PASSWORD))
    with Session(engine) as db:
        admin = users.load_actor(db, "admin")
        db.rollback()
        sf.standard_master_data(db, admin)
        stock.create_stock_doc(db, receipt(date(2026, 1, 5), ln("P1", 10, 5)), actor=admin, audit=True)
        vouchers.create_voucher(db, voucher("2026-01-10", dr("1002", "300.00"), cr("5001", "300.00")), actor=admin,
                                advance_to=vouchers.VoucherStatus.POSTED)
    engine.dispose()
    return path


@pytest.fixture
def book(template: Path, tmp_path: Path) -> str:
    """A copy of the template book of its own for each test."""
    path = tmp_path / "books.db"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


def in_book(url: str, work: Any) -> Any:
    engine = make_engine(url)
    try:
        with Session(engine) as db:
            admin = users.load_actor(db, "admin")
            db.rollback()
            return work(db, admin)
    finally:
        engine.dispose()


def test_check_close_status_reopen_lock(book):
    shown = ok(run(book, "close", "2026-01", "--check"))
    assert "2026-01 结账检查清单" in shown
    assert "本期单据全部审核" in shown and "通过" in shown
    assert "已入库未开票（金额 50.00）" in shown and "提示" in shown and "CGRK-202601-0001" in shown

    checked = json.loads(ok(run(book, "close", "2026-01", "--check", "--format", "json")))
    assert checked["period"] == "2026-01"
    assert [i["code"] for i in checked["items"]] == CODES
    statuses = {i["code"]: i["status"] for i in checked["items"]}
    assert {c for c, s in statuses.items() if s != "pass"} == {"uninvoiced_receipts", "estimated_payables"}
    assert {c: statuses[c] for c in ("uninvoiced_receipts", "estimated_payables")} == {
        "uninvoiced_receipts": "warn", "estimated_payables": "warn"}
    warned = next(i for i in checked["items"] if i["code"] == "uninvoiced_receipts")
    assert (warned["count"], warned["items"], warned["params"]) == (1, ["CGRK-202601-0001"], {"value": "50.00"})

    closed = ok(run(book, "close", "2026-01", "--yes"))
    # 记-0001 is the receipt's voucher, 记-0002 the sale; the costing run made no voucher (no
    # monthly-average product moved), so 结转损益 is 记-0003: Dr 5001 300.00 / Cr 3103 300.00.
    assert "2026-01 已结账" in closed and "300.00" in closed and "记-0003" in closed
    status = ok(run(book, "period", "status"))
    row = next(line for line in status.splitlines() if "2026-01" in line)
    assert "已结账" in row and "admin" in row and "300.00" in row
    assert "未结账" in next(line for line in status.splitlines() if "2026-02" in line)

    # 反结账 needs a reason, in the user's language.
    zh = refused(run(book, "reopen", "2026-01"))
    assert "事由" in zh and "必须填写" in zh
    en = refused(run(book, "--lang", "en", "reopen", "2026-01", "--reason", "  "))
    assert "reason" in en and "required" in en and not re.search(r"[\u4e00-\u9fff]", en)
    reopened = ok(run(book, "reopen", "2026-01", "--reason", "1月销售凭证金额有误"))
    assert "2026-01 已反结账" in reopened and "记-0003" in reopened
    assert in_book(book, lambda db, a: closing.period_closes(db, actor=a)[0].status) == "open"

    # Closed again (in-process), then locked for good: no reverse close any more.
    in_book(book, lambda db, a: closing.close_period(db, "2026-01", actor=a, acknowledge_warnings=True))
    locked = ok(run(book, "period", "lock", "2026-01", "--reason", "1月已报税"))
    assert "已永久锁定" in locked and "2026-01" in locked
    assert in_book(book, lambda db, a: closing.period_closes(db, actor=a)[0].status) == "locked"
    verify_ok(book)


def test_check_fails_and_close_refused_naming_the_documents(book):
    draft = in_book(book, lambda db, a: stock.create_stock_doc(db, other_in(date(2026, 1, 7), ln("P1", 1, 5)),
                                                               actor=a).no)
    checked = run(book, "close", "2026-01", "--check")
    assert checked.returncode == 1, checked.stderr
    assert draft in checked.stdout and "未通过" in checked.stdout
    err = refused(run(book, "close", "2026-01", "--yes"))
    assert "2026-01" in err and "不能结账" in err
    assert in_book(book, lambda db, a: closing.period_closes(db, actor=a)[0].status) == "open"
    verify_ok(book)


def test_warnings_without_yes_refused_when_not_interactive(book):
    # A script or cron job (stdin not a terminal) must get the usual refusal: exit 2 and the
    # close.warnings message telling it to add --yes, as `jxc init` does for its password prompt.
    err = refused(run(book, "close", "2026-01"))
    assert "--yes" in err


def test_closing_a_month_that_is_not_next_says_why_without_a_checklist(book):
    # February before January, and January twice: the reason at once, no checklist printed first.
    early = run(book, "close", "2026-02", "--yes")
    assert early.returncode == 2 and "请先结账 2026-01" in early.stderr and "结账检查清单" not in early.stdout
    ok(run(book, "close", "2026-01", "--yes"))
    again = run(book, "close", "2026-01", "--yes")
    assert again.returncode == 2 and "已经结账" in again.stderr and "结账检查清单" not in again.stdout
