"""Purchasing and sales cycles (issue 4), SQLite through the service layer: `python -m bench.bench_trade [--quick]`.

A cycle is what a user does, one service call and one transaction per document:

    sales:    create+audit a sales order of 5 lines
              → a delivery made from it (orders.stock_doc_from_order, stock.create_stock_doc(audit=True))
              → a sales invoice made from the delivery (invoices.invoice_from_stock, create_invoice(audit=True))
              → a receipt settling the invoice (cash.create_cash(audit=True))
    purchase: the mirror image: order → receipt → purchase invoice (three-way match) → payment.

1. On a book with master data from bench/scenario.py (200 products, 200 customers, 50 suppliers,
   moving average) and stock on hand for every product (opening stock plus one untimed receipt),
   sales and purchase cycles alternate: a warm-up, then at least 200 timed cycles of each.
   Target: a whole sales cycle (4 documents of 5 lines) <= 10 ms median on SQLite.
2. The same on a book holding 20,000 earlier cycles (bench.scenario.cycle_records over
   January-September: partial deliveries, advances without settlement, unpaid invoices),
   replayed through the same services one document per transaction, verified, and cached in
   bench/out/books/ (the first build takes several minutes).
3. cProfile of sales cycles on the fresh book (top functions by cumulative time) and the SQL
   statements each step sends, with the jxc line that sent them.

Wall and process CPU time are taken per step (on SQLite, CPU time is what wall time would be
on an idle machine; the machine is shared), with the load average before and after. Results
go to bench/out/trade.json, the profile to bench/out/profile-trade-sales.prof. `--quick`
shrinks everything to check the script works; its numbers are not for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import random
import shutil
import sqlite3
import subprocess
import sys
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

import jxc
from bench import book
from bench.profile_posting import summarise
from bench.scenario import CYCLE_GENERATOR_VERSION, Record, cycle_records
from bench.timing import percentile
from jxc.db.models import CashDoc, Invoice, StockDoc, StockDocLine, TradeOrder
from jxc.db.session import make_engine
from jxc.domain.permissions import Actor
from jxc.services import books, cash, invoices, masterdata, opening, orders, stock
from jxc.services.stock import OpeningStockIn, StockDocIn, StockLineIn

ROOT = Path(__file__).resolve().parent.parent
OUT = book.OUT
SCRATCH = OUT / "tmp"
D = Decimal

# The book: master data and opening stock as bench/scenario.py makes them (seed 42).
SEED = 42
PRODUCTS, WAREHOUSES, CUSTOMERS, SUPPLIERS = 200, 2, 200, 50
START = "2026-01"  # the book's first period; history cycles start here
HISTORY_MONTHS = 9  # orders January-September; their last payments fall in November
TOPUP_DAY = date(2026, 11, 30)  # the untimed receipt that puts stock on every product
TIMED_DAY = date(2026, 12, 1)  # timed cycles from here, 100 per day
LINES = 5
STEPS = {
    "sales": ("order", "delivery_form", "delivery", "invoice_form", "invoice", "receipt"),
    "purchase": ("order", "receipt_form", "receipt", "invoice_form", "invoice", "payment"),
}
# The four documents of a cycle; a *_form step (reading the order/delivery to fill the next
# document) is part of the document made from it.
DOCUMENTS = {
    "sales": (("order", ("order",)), ("delivery", ("delivery_form", "delivery")),
              ("invoice", ("invoice_form", "invoice")), ("receipt", ("receipt",))),
    "purchase": (("order", ("order",)), ("receipt", ("receipt_form", "receipt")),
                 ("invoice", ("invoice_form", "invoice")), ("payment", ("payment",))),
}


@dataclass(frozen=True, slots=True)
class Size:
    cycles: int  # timed cycles of each side
    warmup: int  # untimed cycles of each side first
    history: int  # cycles in the history book
    profile: int  # sales cycles under cProfile
    statements: int  # sales cycles whose statements are counted


FULL = Size(cycles=300, warmup=40, history=20_000, profile=300, statements=50)
QUICK = Size(cycles=30, warmup=10, history=300, profile=30, statements=10)


# --- the books ------------------------------------------------------------------------------------

def _records(cycles: int) -> Iterator[Record]:
    return cycle_records(seed=SEED, products=PRODUCTS, warehouses=WAREHOUSES, customers=CUSTOMERS,
                         suppliers=SUPPLIERS, cycles=cycles, lines_per_doc=LINES, month=START,
                         months=HISTORY_MONTHS, method="moving_average", batch_share=0.0)


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else D(value)


def _date(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


class Replayer:
    """Applies INTERCHANGE records of bench/scenario.py through the services, each document in its own
    transaction and audited, as `jxc import --audit` will once the importer knows the trade records.
    Master data goes in one transaction; opening stock in one call."""

    def __init__(self, db: Session, actor: Actor) -> None:
        self.db, self.actor = db, actor
        self.master: list[Record] = []
        self.opening_stock: list[OpeningStockIn] = []
        self.counts: Counter[str] = Counter()

    def _flush_master(self) -> None:
        db, actor = self.db, self.actor
        if self.master:
            with db.begin():
                for rec in self.master:
                    if rec["type"] == "warehouse":
                        masterdata.add_warehouse_row(db, masterdata.WarehouseIn(rec["code"], rec["name"]), actor)
                    elif rec["type"] == "partner":
                        masterdata.add_partner_row(db, masterdata.PartnerIn(
                            rec["code"], rec["name"], rec["kind"], _dec(rec.get("credit_limit"))), actor)
                    else:
                        masterdata.add_product_row(db, masterdata.ProductIn(
                            rec["code"], rec["name"], rec["unit"], D(rec["tax_rate"]), category=rec.get("category"),
                            costing_method=rec.get("costing_method", "moving_average"), barcode=rec.get("barcode"),
                            batch_tracked=rec.get("batch_tracked", False), shelf_life_days=rec.get("shelf_life_days"),
                            min_qty=_dec(rec.get("min_qty")), max_qty=_dec(rec.get("max_qty"))), actor)
            self.master = []
        if self.opening_stock:
            stock.set_opening_stock(db, self.opening_stock, actor=actor)
            self.opening_stock = []

    def apply(self, rec: Record) -> None:
        kind = rec["type"]
        self.counts[kind] += 1
        if kind in ("warehouse", "partner", "product"):
            self.master.append(rec)
            return
        if kind == "opening_stock":
            self.opening_stock.append(OpeningStockIn(rec["product"], rec["warehouse"], D(rec["qty"]), D(rec["value"]),
                                                     rec.get("batch"), _date(rec.get("expiry"))))
            return
        self._flush_master()
        db, actor = self.db, self.actor
        day = _date(rec.get("date"))
        if kind == "opening_balance":
            opening.set_opening_balance(db, opening.OpeningIn(rec["account"], D(rec["debit"]), D(rec["credit"]),
                                                              rec.get("partner")), actor=actor)
        elif kind in ("purchase_order", "sales_order"):
            assert day is not None
            orders.create_order(db, orders.OrderIn(kind.split("_")[0], rec["partner"], day, tuple(
                orders.OrderLineIn(ln["product"], D(ln["qty"]), _dec(ln.get("price")),
                                   _dec(ln.get("price_incl_tax")), _dec(ln.get("tax_rate")))
                for ln in rec["lines"]), no=rec.get("no")), actor=actor, audit=True)
        elif kind in ("purchase_invoice", "sales_invoice"):
            assert day is not None
            invoices.create_invoice(db, invoices.InvoiceIn(kind.split("_")[0], rec["partner"], day, tuple(
                invoices.InvoiceLineIn(ln["product"], D(ln["qty"]), _dec(ln.get("price")),
                                       _dec(ln.get("price_incl_tax")), _dec(ln.get("tax_rate")))
                for ln in rec["lines"]), rec.get("invoice_kind", "special"), tuple(rec.get("source", ())),
                no=rec.get("no")), actor=actor, audit=True)
        elif kind in ("payment", "receipt"):
            assert day is not None
            cash.create_cash(db, cash.CashIn("purchase" if kind == "payment" else "sales", rec["partner"],
                                             rec["account"], D(rec["amount"]), day, tuple(
                cash.SettleLineIn(s["invoice"], D(s["amount"])) for s in rec.get("settle", ())),
                no=rec.get("no")), actor=actor, audit=True)
        else:  # a stock document
            assert day is not None
            stock.create_stock_doc(db, StockDocIn(kind, day, tuple(
                StockLineIn(ln["product"], _dec(ln.get("qty")), _dec(ln.get("price")),
                            _dec(ln.get("price_incl_tax")), _dec(ln.get("tax_rate")), ln.get("batch"),
                            _date(ln.get("expiry"))) for ln in rec["lines"]),
                warehouse=rec.get("warehouse"), partner=rec.get("partner"), source=rec.get("source"),
                no=rec.get("no"), order=rec.get("order")), actor=actor, audit=True)

    def finish(self) -> None:
        self._flush_master()


def _new_book(path: Path) -> tuple[Engine, Session, Actor]:
    book.remove_sqlite(path)
    engine = make_engine(book.sqlite_url(path))
    books.init_book(engine, books.BookSettings("基准测试商贸有限公司", START, book.ADMIN, book.PASSWORD))
    db = book.session(engine)
    return engine, db, book.admin_actor(db)


def cached_trade_book(cycles: int) -> tuple[Path, dict[str, Any]]:
    """A verified book of `cycles` replayed cycles (0: master data and opening balances only), built once.
    The name carries the size, seed, generator version and schema digest; written under a temporary
    name and renamed only after `verify` passed."""
    name = f"trade-{cycles}-s{SEED}-g{CYCLE_GENERATOR_VERSION}-{book.schema_key()}"
    path, meta = book.BOOKS / f"{name}.db", book.BOOKS / f"{name}.json"
    if path.exists() and meta.exists():
        return path, json.loads(meta.read_text())
    book.BOOKS.mkdir(parents=True, exist_ok=True)
    tmp = book.BOOKS / f"{name}.building.db"
    records = list(_records(cycles))
    documents = sum(1 for r in records if "date" in r)
    print(f"building {path.name}: {cycles:,} cycles, {documents:,} documents through the services "
          f"(cached for later runs)", file=sys.stderr, flush=True)
    engine, db, actor = _new_book(tmp)
    replay = Replayer(db, actor)
    progress = book.progress_printer("documents", max(1000, documents // 20))
    start, start_cpu, done = time.perf_counter(), time.process_time(), 0
    for rec in records:
        replay.apply(rec)
        if "date" in rec:
            done += 1
            progress(done, documents)
    replay.finish()
    seconds, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    verify_seconds = book.verify_or_fail(db, actor)
    with db.begin():
        rows = {t.__tablename__: int(db.execute(select(func.count()).select_from(t)).scalar_one())
                for t in (TradeOrder, StockDoc, StockDocLine, Invoice, CashDoc)}
    db.close()
    engine.dispose()  # checkpoints the WAL into the main file
    book.remove_sqlite(path)
    shutil.move(tmp, path)
    book.remove_sqlite(tmp)
    info = {"path": str(path), "cycles": cycles, "seed": SEED, "generator_version": CYCLE_GENERATOR_VERSION,
            "schema_key": book.schema_key(), "records": dict(replay.counts), "documents": documents, "rows": rows,
            "build_seconds": round(seconds, 1), "build_cpu_seconds": round(cpu, 1),
            "documents_per_second": round(documents / seconds, 1) if seconds else None,
            "verify_seconds": round(verify_seconds, 1), "last_date": max(r["date"] for r in records if "date" in r)
            if documents else None}
    meta.write_text(json.dumps(info, indent=2))
    return path, info


def working_copy(src: Path, name: str) -> tuple[Engine, Session, Actor]:
    SCRATCH.mkdir(parents=True, exist_ok=True)
    dst = SCRATCH / name
    book.remove_sqlite(dst)
    shutil.copyfile(src, dst)
    engine = make_engine(book.sqlite_url(dst))
    db = book.session(engine)
    return engine, db, book.admin_actor(db)


def top_up(db: Session, actor: Actor) -> None:
    """One receipt of 100,000 units of every product into WH01 (untimed): stock for every timed sale."""
    rng = random.Random(SEED + 1)
    lines = tuple(StockLineIn(f"P{i:06d}", D(100_000), D(rng.randint(1000, 99_999)) / 100, tax_rate=D("0.13"))
                  for i in range(1, PRODUCTS + 1))
    stock.create_stock_doc(db, StockDocIn("purchase_receipt", TOPUP_DAY, lines, warehouse="WH01", partner="S0001"),
                           actor=actor, audit=True)


# --- one cycle, step by step ---------------------------------------------------------------------

class Clock:
    """Wall and CPU time of each step of one cycle."""

    def __init__(self, partner: str = "") -> None:
        self.partner = partner
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self._w, self._c = time.perf_counter(), time.process_time()

    def lap(self) -> None:
        w, c = time.perf_counter(), time.process_time()
        self.wall.append(w - self._w)
        self.cpu.append(c - self._c)
        self._w, self._c = w, c


class Cycles:
    """Draws the inputs of timed cycles: 5 distinct products, small quantities, a partner skewed
    towards the big ones (like the generator), 100 cycles a day from TIMED_DAY."""

    def __init__(self, db: Session, actor: Actor, seed: int) -> None:
        self.db, self.actor = db, actor
        self.rng = random.Random(seed)
        self.n = 0

    def _partner(self, prefix: str, count: int) -> str:
        return f"{prefix}{int(count * self.rng.random() ** 2) + 1:04d}"

    def _lines(self, low: int, high: int) -> tuple[orders.OrderLineIn, ...]:
        rng = self.rng
        return tuple(orders.OrderLineIn(f"P{p:06d}", D(rng.randint(1, 10)), D(rng.randint(low, high)) / 100,
                                        tax_rate=D("0.13"))
                     for p in rng.sample(range(1, PRODUCTS + 1), LINES))

    def _day(self) -> date:
        self.n += 1
        return TIMED_DAY + timedelta(days=(self.n - 1) // 200)  # a sales and a purchase cycle per step of n

    def sales(self) -> Clock:
        db, actor, day = self.db, self.actor, self._day()
        customer = self._partner("C", CUSTOMERS)
        lines = self._lines(1000, 99_999)
        clock = Clock(customer)
        order = orders.create_order(db, orders.OrderIn("sales", customer, day, lines), actor=actor, audit=True)
        clock.lap()
        form = orders.stock_doc_from_order(db, "sales", order.no, day, "WH01", actor=actor)
        clock.lap()
        delivery = stock.create_stock_doc(db, form, actor=actor, audit=True)
        clock.lap()
        bill = invoices.invoice_from_stock(db, "sales", [delivery.no], day, actor=actor)
        clock.lap()
        invoice = invoices.create_invoice(db, bill, actor=actor, audit=True)
        clock.lap()
        cash.create_cash(db, cash.CashIn("sales", customer, "1002", invoice.total, day, (
            cash.SettleLineIn(invoice.no, invoice.total),)), actor=actor, audit=True)
        clock.lap()
        return clock

    def purchase(self) -> Clock:
        db, actor, day = self.db, self.actor, self._day()
        supplier = self._partner("S", SUPPLIERS)
        lines = self._lines(500, 49_999)
        clock = Clock(supplier)
        order = orders.create_order(db, orders.OrderIn("purchase", supplier, day, lines), actor=actor, audit=True)
        clock.lap()
        form = orders.stock_doc_from_order(db, "purchase", order.no, day, "WH01", actor=actor)
        clock.lap()
        receipt = stock.create_stock_doc(db, form, actor=actor, audit=True)
        clock.lap()
        bill = invoices.invoice_from_stock(db, "purchase", [receipt.no], day, actor=actor)
        clock.lap()
        invoice = invoices.create_invoice(db, bill, actor=actor, audit=True)
        clock.lap()
        cash.create_cash(db, cash.CashIn("purchase", supplier, "1002", invoice.total, day, (
            cash.SettleLineIn(invoice.no, invoice.total),)), actor=actor, audit=True)
        clock.lap()
        return clock


def _ms(samples: list[float]) -> dict[str, float]:
    return {"median": round(_median(samples) * 1000, 3), "p90": round(percentile(samples, 90) * 1000, 3),
            "min": round(min(samples) * 1000, 3), "max": round(max(samples) * 1000, 3)}


def _median(samples: list[float]) -> float:
    ordered = sorted(samples)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def summarise_cycles(side: str, clocks: list[Clock]) -> dict[str, Any]:
    steps = STEPS[side]
    out: dict[str, Any] = {
        "n": len(clocks),
        "cycle_ms": _ms([sum(c.wall) for c in clocks]),
        "cycle_cpu_ms": _ms([sum(c.cpu) for c in clocks]),
        "steps_ms": {s: _ms([c.wall[i] for c in clocks]) for i, s in enumerate(steps)},
        "steps_cpu_ms": {s: _ms([c.cpu[i] for c in clocks]) for i, s in enumerate(steps)},
    }
    docs: dict[str, Any] = {}
    for name, parts in DOCUMENTS[side]:
        idx = [steps.index(p) for p in parts]
        docs[name] = {"wall": _ms([sum(c.wall[i] for i in idx) for c in clocks]),
                      "cpu": _ms([sum(c.cpu[i] for i in idx) for c in clocks])}
    out["documents_ms"] = docs
    # The partners with the most history (the draw is skewed towards the first codes) against the rest.
    big = [sum(c.wall) for c in clocks if int(c.partner[1:]) <= 5]
    rest = [sum(c.wall) for c in clocks if int(c.partner[1:]) > 5]
    out["by_partner_ms"] = {"first_5": _ms(big) if big else None, "others": _ms(rest) if rest else None,
                            "first_5_n": len(big)}
    out["samples"] = [{"partner": c.partner, "wall_ms": [round(x * 1000, 3) for x in c.wall],
                       "cpu_ms": [round(x * 1000, 3) for x in c.cpu]} for c in clocks]
    return out


def run_cycles(db: Session, actor: Actor, size: Size, label: str) -> dict[str, Any]:
    """Warm-up, then sales and purchase cycles alternating (both see the same load), each timed by step."""
    top_up(db, actor)
    gen = Cycles(db, actor, seed=SEED + 2)
    for _ in range(size.warmup):
        gen.sales()
        gen.purchase()
    load_before = os.getloadavg()
    clocks: dict[str, list[Clock]] = {"sales": [], "purchase": []}
    start = time.perf_counter()
    for _ in range(size.cycles):
        clocks["sales"].append(gen.sales())
        clocks["purchase"].append(gen.purchase())
    elapsed = time.perf_counter() - start
    result = {"book": label, "load_before": load_before, "load_after": os.getloadavg(),
              "seconds": round(elapsed, 2), "target_sales_ms": 10.0,
              "sales": summarise_cycles("sales", clocks["sales"]),
              "purchase": summarise_cycles("purchase", clocks["purchase"])}
    return result


# --- where the time goes -------------------------------------------------------------------------

def _jxc_frames() -> str:
    """The innermost two jxc frames below this call, `inner ← caller`: the code that sent a statement."""
    frames = [f"{f.filename.split('/src/')[1]}:{f.lineno}({f.name})"
              for f in reversed(traceback.extract_stack()[:-2]) if "/src/jxc/" in f.filename]
    return " ← ".join(frames[:2]) or "?"


def count_statements(engine: Engine, gen: Cycles, cycles: int) -> dict[str, Any]:
    """Statements per sales cycle, per step, and the jxc lines sending them (a pass of its own: the
    stack walks would swamp a profile)."""
    per_step: Counter[str] = Counter()
    verbs: Counter[str] = Counter()
    sites: Counter[tuple[str, str]] = Counter()
    current = ["?"]

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper()
        verbs[verb] += 1
        per_step[current[0]] += 1
        sites[current[0], f"{verb} {_jxc_frames()}"] += 1

    steps = STEPS["sales"]
    original = Clock.lap

    def lap(self: Clock) -> None:
        original(self)
        current[0] = steps[len(self.wall)] if len(self.wall) < len(steps) else "?"

    event.listen(engine, "before_cursor_execute", seen)
    Clock.lap = lap  # type: ignore[method-assign]
    try:
        for _ in range(cycles):
            current[0] = steps[0]
            gen.sales()
    finally:
        Clock.lap = original  # type: ignore[method-assign]
        event.remove(engine, "before_cursor_execute", seen)
    return {
        "cycles": cycles,
        "per_cycle": round(sum(per_step.values()) / cycles, 1),
        "per_step": {s: round(per_step[s] / cycles, 1) for s in steps},
        "verbs": {v: round(n / cycles, 1) for v, n in verbs.most_common()},
        "sites": [{"step": step, "site": site, "per_cycle": round(n / cycles, 2)}
                  for (step, site), n in sites.most_common()],
    }


def profile_sales(gen: Cycles, cycles: int, top: int = 25) -> dict[str, Any]:
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(cycles):
        gen.sales()
    profile.disable()
    profile.dump_stats(OUT / "profile-trade-sales.prof")
    buf = io.StringIO()
    stats = pstats.Stats(profile, stream=buf)
    stats.sort_stats("cumulative").print_stats(top)
    listing = buf.getvalue()
    for marker in (str(Path(jxc.__file__).resolve().parent.parent) + "/", str(ROOT) + "/"):
        listing = listing.replace(marker, "")
    raw: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values())
    split: Counter[str] = Counter()
    for (path, _, _), v in raw.items():
        part = path.split("/site-packages/sqlalchemy/", 1)
        split[f"sqlalchemy/{part[1].split('/')[0]}" if len(part) == 2 else "other"] += v[2] / total
    return {"cycles": cycles, "top_cumulative": listing, "sqlalchemy_split": dict(split.most_common()),
            **summarise(profile, top)}


# --- the run -----------------------------------------------------------------------------------

def machine() -> dict[str, Any]:
    """Versions, the load, and which jxc was measured: this checkout's src/ (commit, and whether src/ has
    uncommitted changes), or a tree exported with `git archive` and put first on PYTHONPATH, whose
    commit is read from a COMMIT file beside its src/ (A/B runs, or a pinned commit while others edit)."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                                  check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""
    tree = Path(jxc.__file__).resolve().parent.parent.parent
    if tree == ROOT:
        commit, dirty = git("rev-parse", "--short", "HEAD"), bool(git("status", "--porcelain", "--", "src"))
    else:
        marker = tree / "COMMIT"
        commit, dirty = (marker.read_text().strip() if marker.exists() else "?"), False
    return {"date": time.strftime("%Y-%m-%d %H:%M"), "commit": commit, "src_dirty": dirty, "jxc_tree": str(tree),
            "bench_commit": git("rev-parse", "--short", "HEAD"), "cpus": os.cpu_count(),
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "sqlalchemy": sqlalchemy.__version__, "platform": platform.platform(), "load": os.getloadavg()}


def fmt_row(name: str, r: dict[str, Any], side: str) -> str:
    s = r[side]
    docs = " / ".join(f"{d['wall']['median']:.2f}" for d in s["documents_ms"].values())
    return (f"| {name} | {side} | {s['cycle_ms']['median']:.2f} ms | {s['cycle_ms']['p90']:.2f} ms "
            f"| {s['cycle_cpu_ms']['median']:.2f} ms | {docs} | {r['load_before'][0]:.2f} → {r['load_after'][0]:.2f} |")


def markdown(results: dict[str, Any]) -> str:
    rows = ["| book | cycle | median | p90 | CPU median | per document (median ms) | load 1-min |",
            "|---|---|---:|---:|---:|---|---|"]
    for key, name in (("fresh", "fresh"), ("history", "history")):
        if key in results:
            for side in ("sales", "purchase"):
                rows.append(fmt_row(name, results[key], side))
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_trade", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=("fresh", "history", "profile"))
    parser.add_argument("--history", type=int, default=None, help="cycles in the history book")
    args = parser.parse_args(argv)
    size = QUICK if args.quick else FULL
    if args.history is not None:
        size = Size(size.cycles, size.warmup, args.history, size.profile, size.statements)
    OUT.mkdir(exist_ok=True)
    results: dict[str, Any] = {"machine": machine(), "quick": args.quick, "size": asdict(size)}
    fresh_book, results["fresh_book"] = cached_trade_book(0)
    if args.only in (None, "fresh"):
        engine, db, actor = working_copy(fresh_book, "trade-fresh.db")
        results["fresh"] = run_cycles(db, actor, size, "fresh")
        book.verify_or_fail(db, actor)
        db.close()
        engine.dispose()
        print("fresh", json.dumps({k: results["fresh"][k] for k in ("load_before", "load_after", "seconds")}),
              flush=True)
    if args.only in (None, "history"):
        history_book, results["history_book"] = cached_trade_book(size.history)
        engine, db, actor = working_copy(history_book, "trade-history.db")
        results["history"] = run_cycles(db, actor, size, f"{size.history} cycles")
        db.close()
        engine.dispose()
    if args.only in (None, "profile"):
        engine, db, actor = working_copy(fresh_book, "trade-profile.db")
        top_up(db, actor)
        gen = Cycles(db, actor, seed=SEED + 3)
        for _ in range(size.warmup):
            gen.sales()
        results["statements"] = count_statements(engine, gen, size.statements)
        results["profile"] = profile_sales(gen, size.profile)
        db.close()
        engine.dispose()
        print(results["profile"]["top_cumulative"])
        st = results["statements"]
        print(f"statements per sales cycle: {st['per_cycle']} {st['per_step']} {st['verbs']}")
        for site in st["sites"][:40]:
            print(f"  {site['per_cycle']:5.2f}  {site['step']:<13} {site['site']}")
        print("own-time split: " + ", ".join(f"{k} {v:.0%}" for k, v in results["profile"]["split"].items()))
        print("own time by package: " + ", ".join(f"{k} {v:.0%}"
                                                  for k, v in results["profile"]["sqlalchemy_split"].items()))
    name = "trade-quick.json" if args.quick else "trade.json"
    (OUT / name).write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
