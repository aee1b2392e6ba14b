"""The `jxc` command through its real entry point: the console script run as a subprocess,
with stdin not a terminal, as a script or a cron job would run it.

Each run costs between half a second and a second, so the tests share one SQLite book where they can and
combine steps; the init → voucher → verify flow also runs on PostgreSQL.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from jxc.db.models import AuditLog, Partner, StockDoc, Voucher, Warehouse
from jxc.db.session import make_engine
from jxc.services import checks

JXC = Path(sys.executable).parent / "jxc"
PASSWORD = "secret123"


def run(url: str, *args: str, log_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in {"JXC_LANG", "JXC_USER", "JXC_DATABASE_URL", "JXC_ADMIN_PASSWORD", "JXC_NEW_PASSWORD",
                        "FORCE_COLOR"}}
    env["NO_COLOR"] = "1"
    if log_dir is not None:
        env["JXC_LOG"] = str(log_dir / "jxc-error.log")
    return subprocess.run([str(JXC), "--db", url, *args], capture_output=True, text=True, encoding="utf-8",
                          stdin=subprocess.DEVNULL, env=env, timeout=120, check=False)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def refused(result: subprocess.CompletedProcess[str]) -> str:
    """A user error: exit 2 and one readable message on stderr, never a traceback."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    assert result.stderr.strip()
    return result.stderr


def as_json(result: subprocess.CompletedProcess[str]) -> dict:
    return json.loads(ok(result))


def init(url: str) -> None:
    out = ok(run(url, "init", "--company", "测试公司", "--start", "2026-01", "--admin-password", PASSWORD))
    assert "测试公司" in out


def count(url: str, model: type, *where: object) -> int:
    engine = make_engine(url)
    try:
        with Session(engine) as db:
            return int(db.scalar(select(func.count()).select_from(model).where(*where)))
    finally:
        engine.dispose()


def assert_decimal_strings(row: dict, keys: tuple[str, ...]) -> None:
    """Amounts travel as JSON strings at two places ("100.00", "0.00"), never as numbers."""
    for key in keys:
        assert isinstance(row[key], str), (key, row[key])
        assert re.fullmatch(r"-?\d+\.\d{2}", row[key]), (key, row[key])


AMOUNT_KEYS = ("opening_debit", "opening_credit", "debit", "credit", "closing_debit", "closing_credit")


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One SQLite book with one posted voucher (100.00 bank / revenue in 2026-01), shared by the
    tests below; they add to it only outside 2026-01 or in ways the others do not read."""
    url = f"sqlite:///{tmp_path_factory.mktemp('cli') / 'books.db'}"
    init(url)
    ok(run(url, "voucher", "add", "--date", "2026-01-05", "-d", "1002=100", "-c", "5001=100", "--post"))
    return url


def test_init_voucher_verify_flow(backend_name, fresh_url):
    init(fresh_url)
    saved = ok(run(fresh_url, "voucher", "add", "--date", "2026-01-05", "-d", "1002=100", "-c", "5001=100",
                   "--memo", "现金销售", "--post"))
    assert "2026-01 记-0001" in saved and "已过账" in saved

    shown = as_json(run(fresh_url, "voucher", "show", "2026-01/记-0001", "--format", "json"))
    assert (shown["period"], shown["label"], shown["status"], shown["memo"]) == ("2026-01", "记-0001", "posted",
                                                                                 "现金销售")
    assert shown["total"] == "100.00" and shown["voucher_date"] == "2026-01-05"
    assert [(ln["account"], ln["debit"], ln["credit"]) for ln in shown["lines"]] == [
        ("1002", "100.00", "0.00"), ("5001", "0.00", "100.00")]

    tb = as_json(run(fresh_url, "report", "trial-balance", "--period", "2026-01", "--format", "json"))
    assert tb["period"] == "2026-01" and tb["balanced"] is True
    rows = {r["account"]: r for r in tb["rows"]}
    for row in tb["rows"]:
        assert_decimal_strings(row, AMOUNT_KEYS)
    assert_decimal_strings(tb["totals"], AMOUNT_KEYS)
    assert Decimal(rows["1002"]["debit"]) == Decimal(rows["1002"]["closing_debit"]) == Decimal("100")
    assert Decimal(rows["5001"]["closing_credit"]) == Decimal("100")
    totals = {k: Decimal(v) for k, v in tb["totals"].items()}
    assert totals["debit"] == totals["credit"] == Decimal("100")
    assert totals["closing_debit"] == totals["closing_credit"]

    verified = run(fresh_url, "verify", "--format", "json")
    report = as_json(verified)
    assert report["ok"] is True
    assert {c["name"] for c in report["checks"]} >= {"vouchers_balanced", "trial_balance_balanced",
                                                     "balances_match_lines", "audit_chain"}
    assert all(c["ok"] is True and c["detail"] == "" for c in report["checks"])


def test_init_needs_a_password_off_a_terminal(tmp_path):
    db_file = tmp_path / "books.db"
    err = refused(run(f"sqlite:///{db_file}", "init", "--company", "X", "--start", "2026-01"))
    assert "--admin-password" in err and "JXC_ADMIN_PASSWORD" in err
    assert not db_file.exists()  # refused before anything is created


def test_init_twice_is_refused(book):
    err = refused(run(book, "init", "--company", "Y", "--start", "2026-01", "--admin-password", PASSWORD))
    assert "已经建有账套" in err


def test_ledgers_as_json(book):
    gl = as_json(run(book, "report", "general-ledger", "--account", "1002", "--format", "json"))
    assert gl["account"] == "1002" and gl["name"] == "银行存款"
    jan = gl["rows"][0]
    assert jan["period"] == "2026-01"
    assert_decimal_strings(jan, ("opening_balance", "debit", "credit", "ytd_debit", "closing_balance"))
    assert (Decimal(jan["debit"]), Decimal(jan["closing_balance"]), jan["closing_direction"]) == (
        Decimal("100"), Decimal("100"), "debit")

    dl = as_json(run(book, "report", "detail-ledger", "--account", "5001", "--from", "2026-01-01",
                     "--to", "2026-01-31", "--format", "json"))
    assert (dl["account"], dl["date_from"], dl["date_to"]) == ("5001", "2026-01-01", "2026-01-31")
    assert Decimal(dl["opening_balance"]) == 0 and dl["next_cursor"] is None
    [line] = dl["rows"]
    assert (line["voucher"], line["voucher_date"], line["credit"], line["direction"]) == (
        "记-0001", "2026-01-05", "100.00", "credit")
    assert Decimal(line["balance"]) == Decimal("100")


def test_a_role_without_the_permission_is_refused(book):
    assert "clerk" in ok(run(book, "users", "add", "clerk", "--role", "auditor", "--password", "clerk-pass-1"))
    before = count(book, Voucher)
    err = refused(run(book, "--user", "clerk", "voucher", "add", "--date", "2026-02-05", "-d", "1002=1",
                      "-c", "5001=1"))
    assert "voucher.create" in err and "clerk" in err and "权限" in err
    assert count(book, Voucher) == before


def test_user_errors_read_as_messages(book, tmp_path):
    before = count(book, Voucher)
    unbalanced = ("voucher", "add", "--date", "2026-02-05", "-d", "1002=100", "-c", "5001=99.99")
    err = refused(run(book, *unbalanced, log_dir=tmp_path))
    assert "借贷不平衡" in err and "0.01" in err
    err = refused(run(book, "--lang", "en", *unbalanced, log_dir=tmp_path))
    assert "Debits and credits differ" in err and "借贷" not in err
    err = refused(run(book, "voucher", "add", "--date", "2026-02-30", "-d", "1002=1", "-c", "5001=1",
                      log_dir=tmp_path))
    assert "2026-02-30" in err and "YYYY-MM-DD" in err
    assert count(book, Voucher) == before
    assert not (tmp_path / "jxc-error.log").exists()  # nothing was an internal error


def test_import_with_one_bad_line_imports_nothing(book, tmp_path):
    lines = [
        {"type": "partner", "code": "C001", "name": "星海商贸", "kind": "customer"},
        {"type": "voucher", "date": "2026-02-03", "lines": [{"account": "1002", "debit": "12.3.4"},
                                                             {"account": "5001", "credit": "12.34"}]},
        {"type": "warehouse", "code": "WH01", "name": "主仓"},
    ]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n", encoding="utf-8")
    err = refused(run(book, "import", str(path)))
    assert "文件第 2 行" in err and "12.3.4" in err
    assert "文件第 1 行" not in err and "文件第 3 行" not in err
    assert count(book, Partner, Partner.code == "C001") == count(book, Warehouse, Warehouse.code == "WH01") == 0


def test_import_with_audit_posts(book, tmp_path):
    lines = [
        {"type": "partner", "code": "C100", "name": "导入客户", "kind": "customer"},
        {"type": "voucher", "date": "2026-03-03", "lines": [
            {"account": "1122", "partner": "C100", "debit": "226.00"},
            {"account": "5001", "credit": "200.00"}, {"account": "22210101", "credit": "26.00"}]},
    ]
    path = tmp_path / "good.jsonl"
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8")
    out = ok(run(book, "import", str(path), "--audit"))
    assert "2" in out and "voucher 1" in out and "partner 1" in out
    tb = as_json(run(book, "report", "trial-balance", "--period", "2026-03", "--format", "json"))
    rows = {r["account"]: r for r in tb["rows"]}
    assert Decimal(rows["1122"]["debit"]) == Decimal("226") and tb["balanced"]


def test_verify_fails_on_tampered_books(book, tmp_path):
    source = Path(make_url(book).database or "")
    for suffix in ("", "-wal"):  # a copy of the shared book, so tampering stays here
        if Path(f"{source}{suffix}").exists():
            shutil.copy(f"{source}{suffix}", tmp_path / f"books.db{suffix}")
    url = f"sqlite:///{tmp_path / 'books.db'}"
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET username = 'mallory' WHERE seq = 1"))
    engine.dispose()
    result = run(url, "verify", "--format", "json")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is False
    failed = [c for c in report["checks"] if not c["ok"]]
    assert [c["name"] for c in failed] == ["audit_chain"]
    assert "#1" in failed[0]["detail"]
    assert count(url, AuditLog) >= 1


def test_demo_on_a_fresh_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    out = ok(run(url, "demo"))
    assert "demo1234" in out
    assert count(url, Voucher) > 10
    assert count(url, StockDoc) > 10
    # 收发存 closing value = the 1405 closing balance (账实相符), and the opening stock is the 1405 opening
    summary = as_json(run(url, "report", "stock-summary", "--from", "2026-01-01", "--to", "2026-03-31",
                          "--format", "json"))["totals"]
    tb = as_json(run(url, "report", "trial-balance", "--period", "2026-03", "--format", "json"))
    assert tb["balanced"]
    (inventory,) = [r for r in tb["rows"] if r["account"] == "1405"]
    assert summary["opening_value"] == "50000.00"
    assert Decimal(summary["closing_value"]) == Decimal(inventory["closing_debit"]) > 0
    engine = make_engine(url)
    try:
        with Session(engine) as db, db.begin():
            report = checks.verify_books(db)
    finally:
        engine.dispose()
    assert report.ok, [c for c in report.checks if not c.ok]


def test_voucher_list_and_batch_audit_and_post(tmp_path):
    url = f"sqlite:///{tmp_path / 'batch.db'}"
    ok(run(url, "init", "--company", "Batch Co", "--start", "2026-01", "--admin-password", PASSWORD))
    for day, amount in (("05", "10"), ("06", "20"), ("07", "30")):
        ok(run(url, "voucher", "add", "--date", f"2026-05-{day}", "-d", f"1002={amount}", "-c", f"5001={amount}"))
    listed = as_json(run(url, "voucher", "list", "--period", "2026-05", "--status", "draft", "--format", "json"))
    assert [v["label"] for v in listed["vouchers"]] == ["记-0001", "记-0002", "记-0003"]
    assert "3" in ok(run(url, "voucher", "audit", "--period", "2026-05"))
    assert "3" in ok(run(url, "voucher", "post", "--period", "2026-05"))
    posted = as_json(run(url, "voucher", "list", "--period", "2026-05", "--status", "posted", "--format", "json"))
    assert [v["total"] for v in posted["vouchers"]] == ["10.00", "20.00", "30.00"]
    assert "凭证" in refused(run(url, "voucher", "audit"))  # neither a voucher nor --period
    assert as_json(run(url, "verify", "--format", "json"))["ok"] is True
