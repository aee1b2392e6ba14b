"""Inventory benchmarks (issue 3), SQLite through the service layer: `python -m bench.bench_stock [--quick]`.

1. audit: auditing 5-line moving-average documents, each its own transaction
   (audit_stock_doc on drafts created untimed); target >= 3,000 lines/s.
2. import: `jxc import --audit` of a scenario file (bench/scenario.py: 10,000 products,
   3 warehouses, a month of mixed documents); target >= 10,000 lines/s on 1,000,000 lines.
3. backdate: a receipt dated before 100,000 later entries of the same product, audited
   (re-costing those entries and rewriting the vouchers they point at); target <= 2 s.
4. summary: stock-summary (收发存汇总表) for the month on the imported book
   (1,000,000 lines, 10,000 products); target <= 2 s.

Results go to bench/out/stock.json and a Markdown table on stdout. `--quick` shrinks every
scenario to check the script works; its numbers are not for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from bench.scenario import write_scenario
from bench.timing import Stats
from jxc.db.session import make_engine
from jxc.domain.permissions import Actor
from jxc.services import books, importer, masterdata, opening, stock, stockreports, users
from jxc.services.stock import OpeningStockIn, StockDocIn, StockLineIn

OUT = Path(__file__).resolve().parent / "out"
D = Decimal


@dataclass(frozen=True, slots=True)
class Size:
    audit_docs: int
    audit_rounds: int
    import_lines: int
    import_products: int
    import_rounds: int
    backdate_entries: int
    backdate_rounds: int
    summary_rounds: int


FULL = Size(audit_docs=600, audit_rounds=7, import_lines=1_000_000, import_products=10_000, import_rounds=1,
            backdate_entries=100_000, backdate_rounds=5, summary_rounds=7)
QUICK = Size(audit_docs=100, audit_rounds=3, import_lines=20_000, import_products=500, import_rounds=1,
             backdate_entries=5_000, backdate_rounds=3, summary_rounds=3)


def fresh_book(path: Path, start: str = "2026-06") -> tuple[Session, Actor]:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{path}")
    books.init_book(engine, books.BookSettings("Bench Co", start, "admin", "bench-password-1"))
    db = Session(engine)
    actor = users.load_actor(db, "admin")
    db.rollback()
    return db, actor


def stats(samples: list[float]) -> dict[str, float]:
    s = Stats.of(samples)
    return {"median": s.median, "p95": s.p95, "min": s.min, "max": s.max, "n": s.n}


# --- 1. auditing, one document per transaction ------------------------------------------------

def bench_audit(size: Size) -> dict[str, Any]:
    db, actor = fresh_book(OUT / "stock_audit.db")
    products = 1000
    masterdata.add_warehouse(db, masterdata.WarehouseIn("WH01", "主仓"), actor=actor)
    masterdata.add_partner(db, masterdata.PartnerIn("C001", "客户", "customer"), actor=actor)
    masterdata.add_partner(db, masterdata.PartnerIn("S001", "供应商", "supplier"), actor=actor)
    with db.begin():
        for i in range(products):
            masterdata.add_product_row(db, masterdata.ProductIn(f"P{i:05d}", f"商品{i}", "个", D("0.13")), actor)
    value = D("1234567.89")
    stock.set_opening_stock(db, [OpeningStockIn(f"P{i:05d}", "WH01", D(1_000_000), value) for i in range(products)],
                            actor=actor)
    opening.set_opening_balance(db, opening.OpeningIn("1405", value * products, D(0)), actor=actor)
    opening.set_opening_balance(db, opening.OpeningIn("3001", D(0), value * products), actor=actor)
    rng = random.Random(7)
    day = date(2026, 6, 1)
    rates: list[float] = []
    cpu_rates: list[float] = []  # on SQLite, in-process CPU time is what wall time is on an idle machine
    for round_no in range(size.audit_rounds + 1):  # the first round warms up
        ids = []
        for k in range(size.audit_docs):
            picks = rng.sample(range(products), 5)
            if k % 3:
                data = StockDocIn("sales_delivery", day, tuple(StockLineIn(f"P{p:05d}", D(rng.randint(1, 5)))
                                                               for p in picks), warehouse="WH01", partner="C001")
            else:
                data = StockDocIn("purchase_receipt", day, tuple(
                    StockLineIn(f"P{p:05d}", D(rng.randint(1, 9)), D(rng.randint(1000, 99999)) / 100)
                    for p in picks), warehouse="WH01", partner="S001")
            ids.append(stock.create_stock_doc(db, data, actor=actor).id)
        start, start_cpu = time.perf_counter(), time.process_time()
        for doc_id in ids:
            stock.audit_stock_doc(db, doc_id, actor=actor)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
        if round_no:
            rates.append(size.audit_docs * 5 / elapsed)
            cpu_rates.append(size.audit_docs * 5 / cpu)
        day += timedelta(days=1)
    return {"lines_per_round": size.audit_docs * 5, "lines_per_s": stats(rates),
            "lines_per_cpu_s": stats(cpu_rates), "target": 3000, "load": os.getloadavg()}


# --- 2. bulk import ------------------------------------------------------------------------------

def scenario_file(lines: int, products: int) -> Path:
    path = OUT / f"scenario-{lines}-{products}.jsonl"
    if not path.exists():
        write_scenario(path, seed=42, products=products, warehouses=3, customers=200, suppliers=50, lines=lines,
                       lines_per_doc=5, month="2026-06", method="moving_average", batch_share=0.0)
    return path


def bench_import(size: Size) -> tuple[dict[str, Any], Path]:
    path = scenario_file(size.import_lines, size.import_products)
    text_lines = path.read_text(encoding="utf-8").splitlines()
    book = OUT / "stock_import.db"
    rates, seconds, cpu_rates = [], [], []
    for _ in range(size.import_rounds):
        db, actor = fresh_book(book)
        start, start_cpu = time.perf_counter(), time.process_time()
        importer.import_records(db, text_lines, actor=actor, audit=True)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
        seconds.append(elapsed)
        rates.append(size.import_lines / elapsed)
        cpu_rates.append(size.import_lines / cpu)
        db.close()
    return {"lines": size.import_lines, "products": size.import_products, "records": len(text_lines),
            "seconds": stats(seconds), "lines_per_s": stats(rates), "lines_per_cpu_s": stats(cpu_rates),
            "target": 10000, "load": os.getloadavg()}, book


# --- 3. back-dated receipt -------------------------------------------------------------------------

def backdate_file(entries: int) -> Path:
    """One product P with `entries` delivery lines after 2026-06-01, 10 per document, plus a
    second product in the same documents so that the vouchers carry other lines too."""
    path = OUT / f"backdate-{entries}.jsonl"
    if path.exists():
        return path
    per_doc = 10
    docs = entries // per_doc
    with path.open("w", encoding="utf-8") as fh:
        def put(rec: dict[str, Any]) -> None:
            fh.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")
        put({"type": "warehouse", "code": "WH01", "name": "主仓"})
        put({"type": "partner", "code": "S001", "name": "供应商", "kind": "supplier"})
        put({"type": "partner", "code": "C001", "name": "客户", "kind": "customer"})
        for code in ("P", "Q"):
            put({"type": "product", "code": code, "name": f"商品{code}", "unit": "个", "tax_rate": "0.13"})
        for code in ("P", "Q"):
            put({"type": "opening_stock", "product": code, "warehouse": "WH01", "qty": str(entries * 2),
                 "value": f"{entries * 2 * 10}.00"})
        put({"type": "opening_balance", "account": "1405", "debit": f"{entries * 4 * 10}.00", "credit": "0"})
        put({"type": "opening_balance", "account": "3001", "debit": "0", "credit": f"{entries * 4 * 10}.00"})
        for n in range(docs):
            day = date(2026, 6, 2) + timedelta(days=n * 28 // docs)
            lines = [{"product": "P", "qty": "1"} for _ in range(per_doc)] + [{"product": "Q", "qty": "1"}]
            put({"type": "sales_delivery", "no": f"XSCK-202606-{n + 1:06d}", "date": day.isoformat(),
                 "partner": "C001", "warehouse": "WH01", "lines": lines})
    return path


def bench_backdate(size: Size) -> dict[str, Any]:
    db, actor = fresh_book(OUT / "stock_backdate.db")
    importer.import_records(db, backdate_file(size.backdate_entries).read_text(encoding="utf-8").splitlines(),
                            actor=actor, audit=True)
    with db.begin():
        later = db.execute(text("SELECT count(*) FROM stock_entry e JOIN product p ON p.id = e.product_id "
                                "WHERE p.code = 'P' AND e.entry_date > '2026-06-01'")).scalar_one()
    samples, cpu_samples = [], []
    for round_no in range(size.backdate_rounds + 1):
        receipt = stock.create_stock_doc(db, StockDocIn(
            "purchase_receipt", date(2026, 6, 1), (StockLineIn("P", D(1000), D("12.3456")),), warehouse="WH01",
            partner="S001"), actor=actor)
        start, start_cpu = time.perf_counter(), time.process_time()
        stock.audit_stock_doc(db, receipt.id, actor=actor)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
        if round_no:
            samples.append(elapsed)
            cpu_samples.append(cpu)
        stock.unaudit_stock_doc(db, receipt.id, actor=actor)  # untimed: back to the same ledger
        stock.delete_stock_doc(db, receipt.id, actor=actor)
    return {"later_entries": int(later), "seconds": stats(samples), "cpu_seconds": stats(cpu_samples),
            "target_s": 2.0, "load": os.getloadavg()}


# --- 4. stock summary --------------------------------------------------------------------------------

def bench_summary(size: Size, book: Path) -> dict[str, Any]:
    engine = make_engine(f"sqlite:///{book}")
    db = Session(engine)
    actor = users.load_actor(db, "admin")
    db.rollback()
    with db.begin():
        entries = db.execute(text("SELECT count(*) FROM stock_entry")).scalar_one()
        products = db.execute(text("SELECT count(*) FROM product")).scalar_one()
    samples, rows = [], 0
    for round_no in range(size.summary_rounds + 1):
        start = time.perf_counter()
        result = stockreports.stock_summary(db, date(2026, 6, 1), date(2026, 6, 30), actor=actor)
        elapsed = time.perf_counter() - start
        rows = len(result.rows)
        if round_no:
            samples.append(elapsed)
    return {"entries": int(entries), "products": int(products), "rows": rows, "seconds": stats(samples),
            "target_s": 2.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=("audit", "import", "backdate", "summary"))
    args = parser.parse_args()
    size = QUICK if args.quick else FULL
    OUT.mkdir(exist_ok=True)
    results: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(),
                               "quick": args.quick, "size": asdict(size)}
    if args.only in (None, "audit"):
        results["audit"] = bench_audit(size)
        print("audit", json.dumps(results["audit"]), flush=True)
    if args.only in (None, "import", "summary"):
        results["import"], book = bench_import(size)
        print("import", json.dumps(results["import"]), flush=True)
        results["summary"] = bench_summary(size, book)
        print("summary", json.dumps(results["summary"]), flush=True)
    if args.only in (None, "backdate"):
        results["backdate"] = bench_backdate(size)
        print("backdate", json.dumps(results["backdate"]), flush=True)
    name = "stock-quick.json" if args.quick else "stock.json"
    (OUT / name).write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
