"""AR aging benchmark (应收账龄), SQLite: `python -m bench.bench_aging [--quick]`.

A fresh book with 1,000 customers and 100,000 open receivable items (invoice amounts
dated at random over the 400 days before the report date), about 10% of them partly
settled by a receipt item and a settlement dated up to 60 days after the invoice, so
some settlements fall after the report date and the report has to add them back. Each
customer also has one 预收 item. Target: `ar_aging` for all customers in <= 1 s.

The items, receipts and settlements are written straight into their tables in bulk (the
report reads only arap_item, settlement and settlement_pair), so this book's open items
do not match its general ledger: `jxc verify` would refuse it. It is built for timing
the report, nothing else. Seeded: equal arguments give the same book.

Prints the median and minimum of 7 timed calls (after one warm-up) in milliseconds and
writes bench/out/aging.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bench.timing import repeat
from jxc.db.base import table_of
from jxc.db.models import Account, ArapItem, Partner, Period, Settlement, SettlementPair
from jxc.db.session import make_engine
from jxc.domain.permissions import Actor
from jxc.services import books, tradereports, users
from jxc.services.common import insert_many

OUT = Path(__file__).resolve().parent / "out"
AS_OF = date(2026, 6, 30)
SPAN_DAYS = 400
SETTLED_SHARE = 0.10
ITEM = table_of(ArapItem)
PAIR = table_of(SettlementPair)
SETTLE = table_of(Settlement)
PARTNER = table_of(Partner)


def fresh_book(path: Path) -> tuple[Session, Actor]:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{path}")
    # Periods 2025-05 .. 2027-04: every item and settlement date (up to AS_OF + 60 days) has one.
    books.init_book(engine, books.BookSettings("Aging Co", "2025-05", "admin", "bench-password-1"))
    db = Session(engine)
    actor = users.load_actor(db, "admin")
    db.rollback()
    books.open_next_fiscal_year(db, actor=actor)
    return db, actor


def build(db: Session, actor: Actor, customers: int, items: int, seed: int = 11) -> dict[str, int]:
    rng = random.Random(seed)
    with db.begin():
        conn = db.connection()
        insert_many(conn, PARTNER, [{"code": f"C{i:05d}", "name": f"客户{i}", "kind": "customer",
                                     "credit_limit": None, "active": True} for i in range(customers)])
        partner_ids = list(conn.execute(select(PARTNER.c.id).order_by(PARTNER.c.id)).scalars())
        accounts = dict(conn.execute(select(Account.code, Account.id).where(Account.code.in_(["1122", "2203"]))).all())
        periods = [(p.start_date, p.end_date, p.id) for p in conn.execute(select(Period))]

        def period_of(day: date) -> int:
            return next(i for s, e, i in periods if s <= day <= e)

        rows: list[dict[str, Any]] = []
        settled: list[tuple[int, int, date]] = []  # (invoice row index, fen settled, settle date)
        for k in range(items):
            day = AS_OF - timedelta(days=rng.randrange(SPAN_DAYS))
            fen = rng.randint(10_000, 5_000_000)
            rows.append({"account_id": accounts["1122"], "partner_id": rng.choice(partner_ids), "item_date": day,
                         "amount": fen, "open": fen, "source_type": "invoice", "source_id": k + 1,
                         "voucher_id": None, "line_no": 1, "memo": ""})
            if rng.random() < SETTLED_SHARE:
                settled.append((k, fen * rng.randint(10, 90) // 100, day + timedelta(days=rng.randrange(61))))
        # A receipt item per partial settlement, fully used by it.
        receipts_at = len(rows)
        for n, (k, part, day) in enumerate(settled):
            rows[k]["open"] -= part
            rows.append({"account_id": accounts["1122"], "partner_id": rows[k]["partner_id"], "item_date": day,
                         "amount": -part, "open": 0, "source_type": "cash", "source_id": n + 1, "voucher_id": None,
                         "line_no": 2, "memo": ""})
        for pid in partner_ids:  # one 预收 each
            fen = rng.randint(0, 200_000)
            rows.append({"account_id": accounts["2203"], "partner_id": pid,
                         "item_date": AS_OF - timedelta(days=rng.randrange(SPAN_DAYS)), "amount": -fen,
                         "open": -fen, "source_type": "cash", "source_id": None, "voucher_id": None, "line_no": 3,
                         "memo": ""})
        cent = Decimal("0.01")
        for r in rows:
            r["amount"] = Decimal(r["amount"]) * cent
            r["open"] = Decimal(r["open"]) * cent
        insert_many(conn, ITEM, rows, exact=True)
        ids = list(conn.execute(select(ITEM.c.id).order_by(ITEM.c.id)).scalars())
        now = datetime.now(UTC)
        insert_many(conn, SETTLE, [{"no": f"HXD-{n:07d}", "side": "sales", "settle_date": day,
                                    "period_id": period_of(day), "partner_id": rows[k]["partner_id"],
                                    "voucher_id": None, "created_by": actor.id, "created_at": now}
                                   for n, (k, _, day) in enumerate(settled)])
        first_settlement = int(conn.execute(select(func.min(SETTLE.c.id))).scalar_one() or 1)
        insert_many(conn, PAIR, [{"settlement_id": first_settlement + n, "debit_item_id": ids[k],
                                  "credit_item_id": ids[receipts_at + n], "amount": Decimal(part) * cent}
                                 for n, (k, part, _) in enumerate(settled)], exact=True)
    later = sum(1 for _, _, day in settled if day > AS_OF)
    return {"customers": customers, "items": len(rows), "invoices": items, "partly_settled": len(settled),
            "settled_after_as_of": later}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 items: checks the script, not a figure")
    args = parser.parse_args()
    customers, items = (100, 10_000) if args.quick else (1_000, 100_000)
    OUT.mkdir(exist_ok=True)
    db, actor = fresh_book(OUT / "aging.db")
    start = time.perf_counter()
    shape = build(db, actor, customers, items)
    built = time.perf_counter() - start
    report: list[Any] = []

    def run() -> None:
        report[:] = [tradereports.ar_aging(db, actor=actor, as_of=AS_OF)]

    wall, cpu = repeat(run, rounds=7, warmup=1)
    aging = report[0]
    result = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(), "load": os.getloadavg(),
              "quick": args.quick, **shape, "build_s": round(built, 2), "rows": len(aging.rows),
              "total": str(aging.totals.total), "median_ms": round(wall.median * 1000, 1),
              "min_ms": round(wall.min * 1000, 1), "p95_ms": round(wall.p95 * 1000, 1),
              "cpu_median_ms": round(cpu.median * 1000, 1), "target_ms": 1000}
    (OUT / "aging.json").write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"ar_aging: {shape['items']:,} items ({items:,} invoices, {shape['partly_settled']:,} partly settled, "
          f"{shape['settled_after_as_of']:,} of them after the date), {customers:,} customers, {len(aging.rows)} rows")
    print(f"median {result['median_ms']} ms, min {result['min_ms']} ms (target <= 1000 ms; cpu median "
          f"{result['cpu_median_ms']} ms; built in {result['build_s']} s)")
    db.close()


if __name__ == "__main__":
    main()
