"""Month-end close benchmarks (issue 5), SQLite through the service layer: `python -m bench.bench_close [--quick]`.

1. close: `closing.close_period` of a month holding 1,000,000 stock ledger entries over
   10,000 products and 5 warehouses, half of the products monthly weighted average, the
   rest moving average or FIFO, every document audited. It includes the monthly-average
   costing run, carrying P&L to 本年利润, the balance snapshots and the seal; target <= 60 s.
2. reopen: `closing.reopen_period` of that month; target <= 10 s.
   Each round works on a fresh copy of the cached book: close, reopen, close again. The
   second close must leave the same seal as the first (a correctness property: checked).
3. cost run: `stock.cost_run` of that month alone, on its own copies (the costing run's
   share of the close; the only measurement possible before closing.py existed).
4. statements: `statements.balance_sheet` and `statements.income_statement` on a year
   book (12 months of the same document mix with 20,000 stock lines a month, the first 11
   closed), for the first, a middle, the last closed and the open period; target <= 0.5 s
   each. The cash flow statement is timed too (no target).

The books are built once through `jxc import --audit` (services/importer.py and
services/stockbulk.py) from bench/scenario.py ("half_monthly" costing methods, 5
warehouses), followed by the month's sales and purchase invoices, receipts, payments and
expenses (_Billing) and the approval of its stocktake differences, then verified and cached
under bench/out/books/ keyed by everything their content depends on. Results go to
bench/out/close.json (close-quick.json with --quick; close-<only>.json with --only) and a
Markdown table on stdout. `--quick` shrinks everything to check the script works (< 1 min
once its books are cached); its numbers are not for BENCHMARKS.md. `--profile` adds a
cProfile of one close (bench/out/profile-close.prof and .txt).

    PYTHONPATH=/tmp/t/src .venv/bin/python -m bench.bench_close   # measure a pinned tree (git archive)
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import json
import os
import pstats
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields, is_dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bench import book as benchbook
from bench import scenario
from bench.timing import percentile
from jxc.db.models import Account, AccountBalance, Period
from jxc.db.session import make_engine
from jxc.domain.errors import CloseBlocked, CloseWarnings, JxcError
from jxc.domain.permissions import Actor
from jxc.domain.status import VoucherStatus
from jxc.domain.voucher import VoucherLine
from jxc.services import books, checks, importer, stock, users, vouchers

try:  # being written beside this benchmark: measure what exists
    from jxc.services import closing
except ImportError:  # pragma: no cover - until closing.py exists
    closing = None  # type: ignore[assignment]
try:
    from jxc.services import statements
except ImportError:  # pragma: no cover - until statements.py exists
    statements = None  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(__file__).resolve().parent / "out"
BOOKS = OUT / "books"
SCRATCH = OUT / "tmp"
# Bump when what build_book makes for given arguments changes: cached books are keyed by it.
BUILD_VERSION = 3
SEED = 42


@dataclass(frozen=True, slots=True)
class BookSpec:
    """What a benchmark book holds; equal specs give identical books."""

    kind: str  # "close": one month to close; "year": months of which the first `closed` are closed
    month: str  # the first period of the book
    months: int
    lines: int  # stock document lines over all months (opening stock excluded)
    products: int
    warehouses: int
    customers: int
    suppliers: int
    closed: int = 0
    seed: int = SEED
    # Purchase returns leave at least one unit of each receipt line in stock (see month_chunks).
    keep_one_received: bool = False


@dataclass(frozen=True, slots=True)
class Size:
    close_book: BookSpec
    year_book: BookSpec
    close_rounds: int
    cost_run_rounds: int
    statement_samples: int
    statement_warmup: int


FULL = Size(
    close_book=BookSpec("close", "2026-06", 1, 1_000_000, 10_000, 5, 200, 50),
    year_book=BookSpec("year", "2026-01", 12, 12 * 20_000, 10_000, 5, 200, 50, closed=11, keep_one_received=True),
    close_rounds=3, cost_run_rounds=2, statement_samples=15, statement_warmup=2)
QUICK = Size(
    close_book=BookSpec("close", "2026-06", 1, 20_000, 500, 5, 40, 15),
    year_book=BookSpec("year", "2026-01", 12, 12 * 600, 200, 5, 20, 10, closed=11, keep_one_received=True),
    close_rounds=2, cost_run_rounds=1, statement_samples=5, statement_warmup=1)

TARGETS = {"close": 60.0, "reopen": 10.0, "balance_sheet": 0.5, "income_statement": 0.5}


# --- the month's invoices, receipts, payments and expenses -------------------------------------

INVOICED_SHARE = 0.9  # of a partner-day's deliveries/receipts invoiced in the month (the rest: 已出库未开票)
DOCS_PER_INVOICE = 20  # a partner-day's deliveries/receipts go on invoices of at most this many documents
SETTLED_SHARE = 0.8  # of invoices received/paid in the month, in full (the rest stay open items)
ADVANCE_SHARE = 0.1  # partner-days with an advance (预收 / 预付: a receipt/payment settling nothing)
EXPENSES_PER_DAY = 10  # 管理费用 vouchers paid from the bank, per day


def _units(text_value: str) -> int:
    """A scenario quantity or price ("12", "2.375", "123.4500") in units of 0.0001."""
    return int(Decimal(text_value) * scenario.Q)


class _Billing:
    """The trade documents that bill and settle a month's deliveries and receipts, as a trading
    company's month has them (the stock scenario itself has no invoices or money).

    Per partner and day, 90% of the deliveries (receipts) are invoiced that day, one invoice per
    20 documents, a line per stock line at its price (sales 30% 普票, purchases all 专票);
    80% of the invoices are received (paid) in full within 10 (15) days; 10% of partner-days
    bring an advance settling nothing; every day has a few expense vouchers. A delivery or
    receipt that a return names is left uninvoiced (a return would need a red invoice). The
    records follow the month's stock documents, in date order, so the bulk import runs on.
    """

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.docs: defaultdict[tuple[str, str, str], list[tuple[str, list[dict[str, Any]]]]] = defaultdict(list)
        self.returned: set[str] = set()
        self.seq: Counter[tuple[str, str]] = Counter()

    def see(self, rec: dict[str, Any]) -> None:
        kind = rec["type"]
        if kind in ("sales_delivery", "purchase_receipt"):
            side = "sales" if kind == "sales_delivery" else "purchase"
            self.docs[rec["date"], side, rec["partner"]].append((rec["no"], rec["lines"]))
        elif kind in ("sales_return", "purchase_return"):
            self.returned.add(rec["source"])

    def _no(self, kind: str, day: str) -> str:
        month = day[:7].replace("-", "")
        self.seq[kind, month] += 1
        return f"{scenario.TRADE_PREFIXES[kind]}-{month}-{self.seq[kind, month]:06d}"

    def month(self, first: date, last: date) -> list[dict[str, Any]]:
        """The records for the documents seen since the last call, in date order."""
        rng, out = self.rng, []

        def later(day: str, most: int) -> str:
            return min(date.fromisoformat(day) + timedelta(days=rng.randint(0, most)), last).isoformat()

        def cash(side: str, day: str, partner: str, amount: int, invoice: str | None) -> None:
            kind = "receipt" if side == "sales" else "payment"
            rec: dict[str, Any] = {"type": kind, "no": self._no(kind, day), "date": day, "partner": partner,
                                   "account": "1002", "amount": scenario._money(amount)}
            if invoice is not None:
                rec["settle"] = [{"invoice": invoice, "amount": scenario._money(amount)}]
            out.append(rec)

        for (day, side, partner), docs in sorted(self.docs.items()):
            billable = [d for d in docs if d[0] not in self.returned]
            total_day = 0
            for i in range(0, len(billable), DOCS_PER_INVOICE):
                if rng.random() >= INVOICED_SHARE:
                    continue
                part = billable[i:i + DOCS_PER_INVOICE]
                lines, total = [], 0
                for _, stock_lines in part:
                    for ln in stock_lines:
                        lines.append({"product": ln["product"], "qty": ln["qty"], "price": ln["price"],
                                      "tax_rate": scenario.VAT})
                        total += sum(scenario._line_money(_units(ln["qty"]), _units(ln["price"])))
                kind = f"{side}_invoice"
                no = self._no(kind, day)
                # Purchases are all 专票: a 普票's input VAT goes into the stock's cost by a cost
                # adjustment, which the service refuses in some cases (stock.nothing_to_adjust).
                ordinary = side == "sales" and rng.random() < scenario.ORDINARY_SHARE[side]
                out.append({"type": kind, "no": no, "date": day, "partner": partner,
                            "invoice_kind": "ordinary" if ordinary else "special",
                            "source": [d for d, _ in part], "lines": lines})
                total_day += total
                if rng.random() < SETTLED_SHARE:
                    cash(side, later(day, 10 if side == "sales" else 15), partner, total, no)
            if total_day and rng.random() < ADVANCE_SHARE:
                advance = total_day // 300 * 100  # a third, in whole yuan
                if advance:
                    cash(side, later(day, 10), partner, advance, None)
        day = first
        while day <= last:
            for _ in range(EXPENSES_PER_DAY):
                net = rng.randint(50_00, 8_000_00)
                vat = (net * 6 + 50) // 100
                out.append({"type": "voucher", "date": day.isoformat(), "memo": "expenses", "lines": [
                    {"account": "5602", "debit": scenario._money(net), "credit": "0"},
                    {"account": "22210102", "debit": scenario._money(vat), "credit": "0"},
                    {"account": "1002", "debit": "0", "credit": scenario._money(net + vat)}]})
            day += timedelta(days=1)
        self.docs.clear()
        out.sort(key=lambda r: r["date"])  # stable: an invoice stays before the receipt settling it
        return out


def month_chunks(spec: BookSpec) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(period label, records) per month: the first chunk starts with the master data and
    opening balances (the bank funded against 3001 beside the opening stock), each ends
    with the invoices, receipts, payments and expenses of its month (_Billing)."""
    records = scenario.scenario_records(
        seed=spec.seed, products=spec.products, warehouses=spec.warehouses, customers=spec.customers,
        suppliers=spec.suppliers, lines=spec.lines, lines_per_doc=5, month=spec.month, method="half_monthly",
        batch_share=0.0, months=spec.months)
    maker = _Billing(spec.seed + 5)
    kept = _KeepOne()
    first, _ = scenario._month(spec.month)
    label, chunk = spec.month, []
    stock_value = 0
    for record in records:
        rec, kind = record, record["type"]
        if kind == "opening_balance" and rec["account"] == "1405":
            stock_value = int(rec["debit"].replace(".", ""))
        elif kind == "opening_balance" and rec["account"] == "3001":
            bank = 3 * stock_value  # payments for a month's purchases come before its receipts
            chunk.append({"type": "opening_balance", "account": "1002", "debit": scenario._money(bank),
                          "credit": "0"})
            rec = {**record, "credit": scenario._money(stock_value + bank)}
        day = rec.get("date")
        if day is not None and day[:7] != label:
            chunk.extend(maker.month(first, _last_day(first)))
            yield label, chunk
            label, chunk = day[:7], []
            first = date.fromisoformat(day[:7] + "-01")
        if spec.keep_one_received:
            rec = kept.purchase_return(rec) if kind == "purchase_return" else kept.note(rec)
            if rec is None:
                continue
        maker.see(rec)
        chunk.append(rec)
    chunk.extend(maker.month(first, _last_day(first)))
    yield label, chunk


class _KeepOne:
    """Purchase returns trimmed to leave one unit of each receipt line they return from.

    When every unit a monthly-average product received in a warehouse in a month goes back to
    the supplier, the month's average has nothing to divide by (0 / 0), and a stocktake gain
    or sales return the costing run prices at it stays at zero cost: the close then refuses
    (zero_cost_entries) and nothing but un-auditing documents clears it. The year book, which
    closes eleven months, steers clear of that by keeping one unit back. Returning less than
    the generator thinks leaves more stock in the book than it tracks, never less, so every
    later document still finds its stock."""

    def __init__(self) -> None:
        self.left: dict[tuple[str, str, str], int] = {}

    def note(self, rec: dict[str, Any]) -> dict[str, Any]:
        if rec["type"] == "purchase_receipt":
            for ln in rec["lines"]:
                key = (rec["no"], ln["product"], ln.get("batch", ""))
                self.left[key] = self.left.get(key, 0) + _units(ln["qty"])
        return rec

    def purchase_return(self, rec: dict[str, Any]) -> dict[str, Any] | None:
        lines = []
        for ln in rec["lines"]:
            key = (rec["source"], ln["product"], ln.get("batch", ""))
            allowed = self.left.get(key, 0) - scenario.Q
            q = min(_units(ln["qty"]), allowed)
            if q > 0:
                self.left[key] -= q
                lines.append({**ln, "qty": scenario._qty(q)})
        return {**rec, "lines": lines} if lines else None


def _last_day(first: date) -> date:
    return scenario._add_months(first, 1) - timedelta(days=1)


# --- building and caching the books -------------------------------------------------------------

def _digest(*paths: Path) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode())
        h.update(p.read_bytes() if p.exists() else b"-")
    return h.hexdigest()[:8]


def book_key(spec: BookSpec) -> str:
    """Everything the cached file depends on: the spec, the generators, the schema and, for a
    book closed while it was built, the close itself."""
    key = (f"{spec.kind}-{spec.month}x{spec.months}-l{spec.lines}-p{spec.products}-w{spec.warehouses}"
           f"-c{spec.customers}-s{spec.suppliers}-k{spec.closed}-r{spec.seed}"
           f"{'-keep1' if spec.keep_one_received else ''}"
           f"-g{scenario.GENERATOR_VERSION}.{BUILD_VERSION}-{benchbook.schema_key()}")
    if spec.closed:
        services = Path(stock.__file__).parent  # the code that builds it (PYTHONPATH may pin a tree)
        key += "-" + _digest(*(services / f for f in ("closing.py", "stock.py", "tradereports.py")))
    return key


def _new_book(path: Path, start: str) -> tuple[Engine, Session, Actor]:
    benchbook.remove_sqlite(path)
    engine = make_engine(f"sqlite:///{path}")
    books.init_book(engine, books.BookSettings("基准测试商贸有限公司", start, "admin", "bench-password-1"))
    db = Session(engine)
    actor = users.load_actor(db, "admin")
    db.rollback()
    return engine, db, actor


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def checkpoint(engine: Engine, path: Path) -> None:
    """Close the engine and fold the WAL into the main file, so that copying that one file
    copies the whole book (the engine's connections would wrap the PRAGMA in a transaction)."""
    engine.dispose()
    con = sqlite3.connect(path, isolation_level=None)
    try:
        busy, _, _ = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            raise RuntimeError(f"{path}: WAL checkpoint blocked")
    finally:
        con.close()


SUSPENSE = "190101"  # 待处理流动资产损溢: where stocktake differences wait for approval


def suspense_balance(db: Session, label: str) -> Decimal:
    """190101's balance (debit positive) at the end of period `label`."""
    year, month = (int(part) for part in label.split("-"))
    with db.begin():
        rows = db.execute(
            select(AccountBalance.debit, AccountBalance.credit)
            .join(Account, Account.id == AccountBalance.account_id).join(Period, Period.id == AccountBalance.period_id)
            .where(Account.code == SUSPENSE, (Period.year < year) | ((Period.year == year) & (Period.month <= month)))
        ).all()
    return sum((d - c for d, c in rows), Decimal(0))


def clear_suspense(db: Session, actor: Actor, day: date, balance: Decimal) -> None:
    """Book the month's stocktake differences (approved): losses to 营业外支出 5711, gains to
    营业外收入 5301. The close refuses while 1901 holds a balance (checklist stocktake_pending)."""
    if not balance:
        return
    lines = ((VoucherLine("5711", debit=balance), VoucherLine(SUSPENSE, credit=balance)) if balance > 0 else
             (VoucherLine(SUSPENSE, debit=-balance), VoucherLine("5301", credit=-balance)))
    vouchers.create_voucher(db, vouchers.VoucherIn(day, lines, "stocktake differences approved"), actor=actor,
                            advance_to=VoucherStatus.POSTED)


def suspense_after_run(path: Path, label: str) -> Decimal:
    """190101's balance once the period's monthly-average run has costed its stocktake differences,
    found on a throwaway copy (so the book keeps its run for the close to make)."""
    copy, engine, db, actor = working_copy(path, "suspense.db")
    try:
        stock.cost_run(db, label, actor=actor)
        return suspense_balance(db, label)
    finally:
        drop_copy(copy, engine, db)


def _open_book(path: Path) -> tuple[Engine, Session, Actor]:
    engine = make_engine(f"sqlite:///{path}")
    db = Session(engine)
    actor = users.load_actor(db, "admin")
    db.rollback()
    return engine, db, actor


def build_book(spec: BookSpec, path: Path) -> dict[str, Any]:
    """Import the book month by month (`jxc import --audit`), book each month's stocktake
    differences, close the first `spec.closed` months as it goes, then verify it. Returns how
    long each part took.

    The stocktake differences of monthly-average products are costed by the month's costing
    run. In a month closed here the run is made first (as a user would: run, book 1901, close);
    in the close book, whose close must make the run itself, the amount is found by a run on a
    throwaway copy, and the voucher is booked in the book without it."""
    engine, db, actor = _new_book(path, spec.month)
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    timings: dict[str, Any] = {"generate_s": 0.0, "import_s": 0.0, "close_s": 0.0, "months": []}
    start_all = time.perf_counter()
    try:
        chunks = month_chunks(spec)
        for i in range(spec.months):
            t0 = time.perf_counter()
            label, recs = next(chunks)
            lines = [encode(r) for r in recs]
            t1 = time.perf_counter()
            n_lines = sum(len(r["lines"]) for r in recs if r["type"] in importer.STOCK_DOCS)
            kinds = Counter(r["type"] for r in recs)
            importer.import_records(db, lines, actor=actor, audit=True)
            t2 = time.perf_counter()
            month: dict[str, Any] = {"period": label, "records": len(lines), "stock_lines": n_lines,
                                     "by_type": dict(kinds), "import_s": round(t2 - t1, 2)}
            last = _last_day(date.fromisoformat(label + "-01"))
            if i < spec.closed:
                if closing is None or not hasattr(closing, "close_period"):
                    raise RuntimeError("this book closes months while it is built: closing.close_period missing")
                stock.cost_run(db, label, actor=actor)
                clear_suspense(db, actor, last, suspense_balance(db, label))
                t3 = time.perf_counter()
                res = close(db, label, actor)
                month["close_s"] = round(time.perf_counter() - t3, 2)
                month["seal"] = getattr(res, "seal", None)
                timings["close_s"] += time.perf_counter() - t2
            elif spec.kind == "close":
                db.close()
                checkpoint(engine, path)
                balance = suspense_after_run(path, label)
                engine, db, actor = _open_book(path)
                clear_suspense(db, actor, last, balance)
                month["suspense_booked"] = str(balance)
            timings["generate_s"] += t1 - t0
            timings["import_s"] += t2 - t1
            timings["months"].append(month)
            _say(f"  {label}: {len(lines):,} records ({n_lines:,} stock lines) imported in {t2 - t1:.1f} s"
                 f" ({n_lines / max(t2 - t1, 1e-9):,.0f} lines/s)"
                 + (f", closed in {month['close_s']:.1f} s" if "close_s" in month else ""))
        timings["build_s"] = time.perf_counter() - start_all
        t0 = time.perf_counter()
        report = checks.verify(db, actor=actor)
        timings["verify_s"] = time.perf_counter() - t0
        if not report.ok:
            raise RuntimeError(f"verify failed: {[c for c in report.checks if not c.ok]}")
    finally:
        db.close()
        checkpoint(engine, path)
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in timings.items()}


def cached_book(spec: BookSpec, *, rebuild: bool = False) -> tuple[Path, dict[str, Any]]:
    """The cached, verified book for `spec`, building it (under a temporary name) if needed."""
    key = book_key(spec)
    path, meta_path = BOOKS / f"{key}.db", BOOKS / f"{key}.json"
    if path.exists() and meta_path.exists() and not rebuild:
        return path, json.loads(meta_path.read_text(encoding="utf-8"))
    BOOKS.mkdir(parents=True, exist_ok=True)
    tmp = BOOKS / f"{key}.building.db"
    _say(f"building {path.name} (cached for later runs)")
    timings = build_book(spec, tmp)
    benchbook.remove_sqlite(path)
    shutil.move(tmp, path)
    benchbook.remove_sqlite(tmp)
    meta = {"spec": asdict(spec), "key": key, "built": time.strftime("%Y-%m-%d %H:%M"), "tree": tree(),
            "timings": timings, "shape": shape(path, spec), "bytes": path.stat().st_size}
    meta_path.write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    return path, meta


def shape(path: Path, spec: BookSpec) -> dict[str, Any]:
    """What the book holds, counted in the file (plain sqlite3: read only, no service)."""
    # Read-write mode though it only reads: a read-only connection to a WAL book would leave
    # -wal and -shm files behind, and the cache is meant to be one checkpointed file.
    con = sqlite3.connect(path)
    try:
        def one(sql: str, *args: Any) -> Any:
            return con.execute(sql, args).fetchone()[0]

        def pairs(sql: str) -> dict[str, int]:
            return {str(k): int(v) for k, v in con.execute(sql)}

        first = con.execute("SELECT id FROM period WHERE year = ? AND month = ?",
                            [int(part) for part in spec.month.split("-")]).fetchone()[0]
        return {
            "stock_entries": one("SELECT count(*) FROM stock_entry"),
            "stock_entries_first_period": one("SELECT count(*) FROM stock_entry WHERE period_id = ?", first),
            "stock_entries_per_period": pairs("SELECT p.year || '-' || printf('%02d', p.month), count(*) "
                                              "FROM stock_entry e JOIN period p ON p.id = e.period_id GROUP BY 1"),
            "products": one("SELECT count(*) FROM product"),
            "products_by_method": pairs("SELECT costing_method, count(*) FROM product GROUP BY 1"),
            "warehouses": one("SELECT count(*) FROM warehouse"),
            "partners": one("SELECT count(*) FROM partner"),
            "stock_keys": one("SELECT count(*) FROM stock_balance"),
            "stock_docs": one("SELECT count(*) FROM stock_doc"),
            "stock_docs_by_type": pairs("SELECT doc_type, count(*) FROM stock_doc GROUP BY 1"),
            "stock_docs_by_status": pairs("SELECT status, count(*) FROM stock_doc GROUP BY 1"),
            "stock_doc_lines": one("SELECT count(*) FROM stock_doc_line"),
            "vouchers": one("SELECT count(*) FROM voucher"),
            "vouchers_by_status": pairs("SELECT status, count(*) FROM voucher GROUP BY 1"),
            "voucher_lines": one("SELECT count(*) FROM voucher_line"),
            "account_balance_rows": one("SELECT count(*) FROM account_balance"),
            "partner_balance_rows": one("SELECT count(*) FROM partner_balance"),
            "arap_items": one("SELECT count(*) FROM arap_item"),
            "periods_by_status": pairs("SELECT status, count(*) FROM period GROUP BY 1"),
        }
    finally:
        con.close()


# --- measuring ---------------------------------------------------------------------------------

def tree() -> dict[str, Any]:
    """Which code was measured: HEAD, whether src/ differs from it, where `jxc` was imported from
    (PYTHONPATH can put a pinned or patched tree first) and digests of the services under work."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""
    services = Path(stock.__file__).parent
    pinned = services.parents[2] / "COMMIT"  # a pinned tree: git archive into /tmp/t, commit in /tmp/t/COMMIT
    return {"head": git("rev-parse", "--short", "HEAD"), "src_dirty": bool(git("status", "--porcelain", "src")),
            "jxc_from": str(services.parent), "pythonpath": os.environ.get("PYTHONPATH", ""),
            "measured_commit": pinned.read_text().strip() if pinned.exists() else None,
            **{f"{name}_py": _digest(services / f"{name}.py")
               for name in ("closing", "statements", "stock", "tradereports")}}


class Steps:
    """close_period's progress callback: the wall time of each step (costing, checklist, carry,
    year_end, snapshot, seal), the last one running until `done()`."""

    def __init__(self) -> None:
        self.marks: list[tuple[str, float]] = []

    def __call__(self, code: str) -> None:
        self.marks.append((code, time.perf_counter()))

    def done(self) -> dict[str, float]:
        ends = [t for _, t in self.marks[1:]] + [time.perf_counter()]
        return {code: round(end - start, 3) for (code, start), end in zip(self.marks, ends, strict=True)}


def close(db: Session, period: str, actor: Actor, progress: Callable[[str], None] | None = None) -> Any:
    """close_period with warnings acknowledged. When the checklist refuses, print it (as
    close_checklist sees it: without the costing run the close would have made) and re-raise."""
    try:
        return closing.close_period(db, period, actor=actor, acknowledge_warnings=True, progress=progress)
    except (CloseBlocked, CloseWarnings) as exc:
        db.rollback()
        _say(f"close {period} refused: {exc}")
        print_checklist(db, period, actor)
        raise


def print_checklist(db: Session, period: str, actor: Actor) -> None:
    cl = closing.close_checklist(db, period, actor=actor)
    _say(f"close checklist {period}: ok={getattr(cl, 'ok', '?')}")
    for item in getattr(cl, "items", []):
        listed = list(getattr(item, "items", []) or [])
        _say(f"  {getattr(item, 'code', item)}: {getattr(item, 'status', '')} count={getattr(item, 'count', '')}"
             f" {listed[:5]!r}")


def plain(value: Any, most: int = 10) -> Any:
    """A service result as JSON-friendly values (Decimals and dates as strings); long lists (a
    checklist item naming 100,000 documents) keep their first `most` entries and their length."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name), most) for f in fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v, most) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if len(value) > most:
            return [*(plain(v, most) for v in value[:most]), f"... {len(value)} in all"]
        return [plain(v, most) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def summary(samples: list[float]) -> dict[str, Any]:
    """Median, p90 by nearest rank (with 5 rounds: the slowest), min and max, and the samples."""
    ordered = sorted(samples)
    return {"n": len(samples), "median": statistics.median(ordered), "p90": percentile(ordered, 90),
            "min": ordered[0], "max": ordered[-1], "samples": [round(s, 4) for s in samples]}


def working_copy(src: Path, name: str) -> tuple[Path, Engine, Session, Actor]:
    """A fresh copy of a cached (checkpointed) book, opened: every round starts from the same file."""
    SCRATCH.mkdir(parents=True, exist_ok=True)
    dst = SCRATCH / name
    benchbook.remove_sqlite(dst)
    shutil.copyfile(src, dst)
    return (dst, *_open_book(dst))


def drop_copy(path: Path, engine: Engine, db: Session) -> None:
    db.close()
    engine.dispose()
    benchbook.remove_sqlite(path)


class Timer:
    """Wall and process CPU time of a block, and the 1-minute load average around it."""

    def __enter__(self) -> Timer:
        self.load_before = os.getloadavg()[0]
        self.start, self.start_cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.start
        self.cpu = time.process_time() - self.start_cpu
        self.load_after = os.getloadavg()[0]


def bench_cost_run(size: Size, path: Path) -> dict[str, Any]:
    period = size.close_book.month
    wall, cpu, loads, results = [], [], [], []
    for round_no in range(size.cost_run_rounds):
        copy, engine, db, actor = working_copy(path, "close-round.db")
        try:
            with Timer() as t:
                res = stock.cost_run(db, period, actor=actor)
        finally:
            drop_copy(copy, engine, db)
        wall.append(t.wall)
        cpu.append(t.cpu)
        loads.append((round(t.load_before, 2), round(t.load_after, 2)))
        results.append(plain(res))
        _say(f"  cost_run round {round_no + 1}: {t.wall:.2f} s (cpu {t.cpu:.2f} s, load {t.load_before:.2f})")
    return {"period": period, "seconds": summary(wall), "cpu_seconds": summary(cpu), "load_1min": loads,
            "result": results[0]}


def bench_close(size: Size, path: Path) -> dict[str, Any]:
    """Per round, on a fresh copy: close (timed), reopen (timed), close again (timed); the two
    seals must agree, and every round's first seal with the first round's."""
    period = size.close_book.month
    out: dict[str, list[Any]] = defaultdict(list)
    seal_problems: list[str] = []
    for round_no in range(size.close_rounds):
        copy, engine, db, actor = working_copy(path, "close-round.db")
        steps1, steps3 = Steps(), Steps()
        try:
            with Timer() as t1:
                first = close(db, period, actor, steps1)
            out["close_steps"].append(steps1.done())
            with Timer() as t2:
                reopened = closing.reopen_period(db, period, actor=actor, reason="bench")
            with Timer() as t3:
                second = close(db, period, actor, steps3)
            out["reclose_steps"].append(steps3.done())
        finally:
            drop_copy(copy, engine, db)
        for name, t in (("close", t1), ("reopen", t2), ("reclose", t3)):
            out[name].append(t.wall)
            out[f"{name}_cpu"].append(t.cpu)
            out[f"{name}_load"].append((round(t.load_before, 2), round(t.load_after, 2)))
        seal1, seal2 = getattr(first, "seal", None), getattr(second, "seal", None)
        out["seals"].append([seal1, seal2])
        if seal1 != seal2:
            seal_problems.append(f"round {round_no + 1}: close gave {seal1}, close after reopen gave {seal2}")
        if out["seals"][0][0] != seal1:
            seal_problems.append(f"round {round_no + 1}: seal {seal1} differs from round 1's {out['seals'][0][0]}")
        if round_no == 0:
            out["first_result"].append(plain(first))
            out["reopen_result"].append(plain(reopened))
        _say(f"  close round {round_no + 1} steps: {out['close_steps'][-1]}")
        _say(f"  close round {round_no + 1}: close {t1.wall:.2f} s (cpu {t1.cpu:.2f}), reopen {t2.wall:.2f} s"
             f" (cpu {t2.cpu:.2f}), close again {t3.wall:.2f} s (cpu {t3.cpu:.2f}); load {t1.load_before:.2f};"
             f" seals {'equal' if seal1 == seal2 else 'DIFFER'}")
    result: dict[str, Any] = {"period": period}
    for name in ("close", "reopen", "reclose"):
        result[name] = {"seconds": summary(out[name]), "cpu_seconds": summary(out[f"{name}_cpu"]),
                        "load_1min": out[f"{name}_load"]}
    result["close_steps"] = out["close_steps"]  # seconds per step of each round's first close
    result["reclose_steps"] = out["reclose_steps"]
    result["seals"] = out["seals"]
    result["seal_problems"] = seal_problems
    result["close_result"] = out["first_result"][0]
    result["reopen_result"] = out["reopen_result"][0]
    return result


def profile_close(path: Path, period: str) -> dict[str, Any]:
    """One close under cProfile on a fresh copy; the top 25 by cumulative time, and the .prof file."""
    copy, engine, db, actor = working_copy(path, "close-profile.db")
    prof = cProfile.Profile()
    try:
        start = time.perf_counter()
        prof.enable()
        close(db, period, actor)
        prof.disable()
        wall = time.perf_counter() - start
    finally:
        drop_copy(copy, engine, db)
    dump = OUT / "profile-close.prof"
    prof.dump_stats(dump)
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).strip_dirs().sort_stats("cumulative").print_stats(25)
    text_out = buf.getvalue()
    (OUT / "profile-close.txt").write_text(text_out, encoding="utf-8")
    return {"wall_s_under_profile": round(wall, 2), "prof": str(dump.relative_to(ROOT)), "top25_cumulative": text_out}


def bench_statements(size: Size, path: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """Each statement for a few periods (the first, a middle one, the last closed, the open one),
    `statement_warmup` untimed calls then `statement_samples` timed calls on one open session."""
    spec = size.year_book
    first, _ = scenario._month(spec.month)
    labels = [f"{scenario._add_months(first, k):%Y-%m}" for k in sorted({0, spec.months // 2, spec.closed - 1,
                                                                        spec.months - 1})]
    copy, engine, db, actor = working_copy(path, "statements.db")
    out: dict[str, Any] = {"periods": labels, "rows": {}}
    try:
        # The cash flow statement has no target; it reads the voucher lines that move cash.
        for name in ("balance_sheet", "income_statement", "cash_flow_statement"):
            fn = getattr(statements, name, None)
            if fn is None:
                continue
            for label in labels:
                wall, cpu = [], []
                load = os.getloadavg()[0]
                for i in range(size.statement_warmup + size.statement_samples):
                    s0, c0 = time.perf_counter(), time.process_time()
                    res = fn(db, label, actor=actor)
                    if i >= size.statement_warmup:
                        wall.append(time.perf_counter() - s0)
                        cpu.append(time.process_time() - c0)
                lines = getattr(res, "lines", None) or getattr(res, "rows", None) or []
                out["rows"][f"{name} {label}"] = {"seconds": summary(wall), "cpu_seconds": summary(cpu),
                                                  "load_1min": round(load, 2), "lines": len(lines),
                                                  "balanced": plain(getattr(res, "balanced", None))}
                _say(f"  {name} {label}: median {summary(wall)['median'] * 1000:.1f} ms ({len(lines)} lines)")
    finally:
        drop_copy(copy, engine, db)
    return out


# --- output ----------------------------------------------------------------------------------------

def _fmt_s(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms" if seconds < 1 else f"{seconds:,.2f} s"


def markdown(results: dict[str, Any]) -> str:
    head = ("| benchmark | median | p90 | min | cpu median | load (1 min) | target | result |\n"
            "|---|---:|---:|---:|---:|---:|---:|---|")
    rows = []

    def row(name: str, r: dict[str, Any], target: float | None, load: str) -> None:
        s, c = r["seconds"], r["cpu_seconds"]
        verdict = "-" if target is None else ("PASS" if s["median"] <= target else "FAIL")
        rows.append(f"| {name} | {_fmt_s(s['median'])} | {_fmt_s(s['p90'])} | {_fmt_s(s['min'])} "
                    f"| {_fmt_s(c['median'])} | {load} | {'-' if target is None else '<= ' + _fmt_s(target)} "
                    f"| {verdict} |")

    def loads(pairs: list[Any]) -> str:
        values = [v for pair in pairs for v in pair]
        return f"{min(values):.1f}–{max(values):.1f}" if values else "-"

    book = results.get("close_book", {}).get("shape", {})
    entries = f"{book.get('stock_entries_first_period', 0):,} entries" if book else ""
    if "close" in results:
        c = results["close"]
        row(f"close_period {c['period']} ({entries})", c["close"], TARGETS["close"], loads(c["close"]["load_1min"]))
        row(f"reopen_period {c['period']}", c["reopen"], TARGETS["reopen"], loads(c["reopen"]["load_1min"]))
        row(f"close_period again after reopen (seals {'equal' if not c['seal_problems'] else 'DIFFER'})",
            c["reclose"], None, loads(c["reclose"]["load_1min"]))
    if "cost_run" in results:
        c = results["cost_run"]
        row(f"stock.cost_run {c['period']} alone", c, None, loads(c["load_1min"]))
    if "statements" in results:
        for name, r in results["statements"]["rows"].items():
            row(name, r, TARGETS.get(name.split()[0]), f"{r['load_1min']:.1f}")
    return "\n".join([head, *rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_close", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny books: check that the script works")
    parser.add_argument("--only", choices=("close", "costrun", "statements", "build"),
                        help="one measurement (build: just build or find the cached books)")
    parser.add_argument("--rounds", type=int, help="close rounds (default 3, quick 2)")
    parser.add_argument("--profile", action="store_true", help="also cProfile one close (bench/out/profile-close.*)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the books even if cached")
    parser.add_argument("--lines", type=int, help="stock lines of the close book (scaling runs; default 1,000,000)")
    parser.add_argument("--products", type=int, help="products of the close book (default 10,000)")
    args = parser.parse_args(argv)
    size = QUICK if args.quick else FULL
    if args.rounds:
        size = replace(size, close_rounds=args.rounds)
    if args.lines or args.products:
        size = replace(size, close_book=replace(size.close_book, lines=args.lines or size.close_book.lines,
                                                products=args.products or size.close_book.products))
    OUT.mkdir(exist_ok=True)
    has_close = closing is not None and hasattr(closing, "close_period")
    has_statements = statements is not None and hasattr(statements, "balance_sheet")
    results: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(), "quick": args.quick,
                               "tree": tree(), "size": asdict(size), "load_at_start": os.getloadavg(),
                               "command": " ".join([".venv/bin/python -m bench.bench_close", *(argv or sys.argv[1:])])}
    want = args.only
    name = "close-quick.json" if args.quick else "close.json"
    if want is not None:
        name = name.replace(".json", f"-{want}.json")

    def save() -> None:  # after every stage: a later failure keeps what was measured
        results["load_at_end"] = os.getloadavg()
        (OUT / name).write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")

    if want in (None, "close", "costrun", "build"):
        path, meta = cached_book(size.close_book, rebuild=args.rebuild)
        results["close_book"] = {"path": str(path.relative_to(ROOT)), **meta}
        _say(f"close book: {path.name}: {json.dumps(meta['shape'], ensure_ascii=False)}")
        if want in (None, "costrun"):
            results["cost_run"] = bench_cost_run(size, path)
            save()
        if want in (None, "close"):
            if has_close:
                results["close"] = bench_close(size, path)
                save()
                if args.profile:
                    results["profile"] = profile_close(path, size.close_book.month)
                    print(results["profile"]["top25_cumulative"])
                    save()
            else:
                _say("closing.close_period does not exist yet: close/reopen not measured")
    if want in (None, "statements", "build"):
        if has_close:
            try:
                path, meta = cached_book(size.year_book, rebuild=args.rebuild)
            except JxcError as exc:  # a month the close refuses: say so, keep the other results
                results["year_book_error"] = f"{type(exc).__name__}: {exc}"
                _say(f"year book not built: {results['year_book_error']}")
            else:
                results["year_book"] = {"path": str(path.relative_to(ROOT)), **meta}
                _say(f"year book: {path.name}: {json.dumps(meta['shape'], ensure_ascii=False)}")
                if want != "build":
                    if has_statements:
                        results["statements"] = bench_statements(size, path, meta)
                    else:
                        _say("statements.balance_sheet does not exist yet: statements not measured")
        else:
            _say("closing.close_period does not exist yet: the year book (11 closed months) cannot be built")
    save()
    print(markdown(results))
    print(f"\nresults: {(OUT / name).relative_to(ROOT)}")
    problems = results.get("close", {}).get("seal_problems")
    if problems:
        print("SEAL MISMATCH: " + "; ".join(problems))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
