"""Concurrent deliveries of the same stock (real commits, one connection per writer).

Two products (moving average and FIFO) are received into one warehouse, then many
writers race to deliver them, one or both products per document, in random line
order, until the stock runs out. A delivery that would oversell must fail with a
clean Shortfall; nothing else may surface (no deadlock, no serialization failure,
no Conflict from exhausted retries), and afterwards:

- each product's stock equals what was received minus what the successful
  deliveries took, and no running balance or FIFO layer ever went below zero;
- what left (delivery entries) plus what is left (balances) is exactly what came in;
- exactly the successful documents are audited, each with its entries; a one-step
  document that fell short left nothing, a draft whose audit fell short is still a
  bare draft; the automatic document numbers have no gaps;
- verify_books passes (voucher numbers, balances, 1405 vs the stock ledger, FIFO layers);
- on PostgreSQL, no deadlock happened at all, not even one the services retried away
  (pg_stat_database.deadlocks): locks are taken in one global order.

Half of the writers give their own document numbers: those skip the document-number
row, so the balance rows are the first lock they contend on and lock order matters.
Documents go both ways: drafted and audited in one step (create_stock_doc(audit=True)),
or drafted and then audited (audit_stock_doc). The "spread" variant dates documents
over two periods, so many deliveries are back-dated and re-cost (and re-post) later ones.

PostgreSQL exercises the row locks; SQLite exercises BEGIN IMMEDIATE + busy timeout.
Failures other than Shortfall are collected with their tracebacks and reported, never
retried; the first one stops the race, so a regression fails in seconds.
"""

from __future__ import annotations

import random
import threading
import time
import traceback
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from jxc.db.models import FifoLayer, Product, StockBalance, StockDoc, StockEntry, Voucher
from jxc.db.session import make_engine
from jxc.domain.costing import Shortfall
from jxc.services import checks, users
from jxc.services.masterdata import PartnerIn, ProductIn, WarehouseIn, add_partner, add_product, add_warehouse
from jxc.services.stock import StockDocIn, StockLineIn, audit_stock_doc, create_stock_doc
from tests.conftest import make_book

D = Decimal
SEED = 20260115
PRODUCTS = {"P-MA": "moving_average", "P-FIFO": "fifo"}
# Two receipts per product at different prices: uneven moving-average unit costs and two FIFO layers.
RECEIPTS = {"P-MA": [(D(60), D("3.33")), (D(40), D("3.37"))],
            "P-FIFO": [(D(50), D("7.11")), (D(50), D("7.13"))]}
RECEIVED_QTY = {p: sum((q for q, _ in rs), D(0)) for p, rs in RECEIPTS.items()}
RECEIVED_VALUE = sum((q * price for rs in RECEIPTS.values() for q, price in rs), D(0))
RECEIPT_DAY = date(2026, 1, 5)

Outcome = tuple[str, dict[str, Decimal]]  # document number ("" when none was kept), qty per product


def _setup(engine: Engine):  # type: ignore[no-untyped-def]
    with Session(engine, expire_on_commit=False) as db:
        admin = users.load_actor(db, "admin")
        db.rollback()
        add_partner(db, PartnerIn("S1", "Supplier", "supplier"), actor=admin)
        add_partner(db, PartnerIn("C1", "Customer", "customer"), actor=admin)
        add_warehouse(db, WarehouseIn("W1", "Main"), actor=admin)
        for code, method in PRODUCTS.items():
            add_product(db, ProductIn(code, code, "pcs", D("0.13"), costing_method=method), actor=admin)
        for i in range(2):
            lines = tuple(StockLineIn(p, rs[i][0], price=rs[i][1]) for p, rs in RECEIPTS.items())
            create_stock_doc(db, StockDocIn("purchase_receipt", RECEIPT_DAY, lines, warehouse="W1", partner="S1"),
                             actor=admin, audit=True)
    return admin


def _day(rng: random.Random, spread: bool) -> date:
    if not spread:
        return date(2026, 1, 15)
    return date(2026, 1, 10) + timedelta(days=rng.randrange(40))  # 2026-01-10 .. 2026-02-18


def _race(engine: Engine, admin, workers: int, per_worker: int, spread: bool,  # type: ignore[no-untyped-def]
          two_step_share: float = 0.5) -> tuple[list[Outcome], list[Outcome], list[str]]:
    successes: list[Outcome] = []
    shortfalls: list[Outcome] = []
    unexpected: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    start = threading.Barrier(workers)

    def failed(what: str) -> None:
        with lock:
            unexpected.append(f"{what}:\n{traceback.format_exc()}")
        stop.set()

    def worker(n: int) -> None:
        rng = random.Random(SEED * 1000 + n)
        try:
            start.wait(timeout=60)
            with Session(engine, expire_on_commit=False) as db:
                for i in range(per_worker):
                    if stop.is_set():
                        return
                    wanted = rng.choice([["P-MA"], ["P-FIFO"], ["P-MA", "P-FIFO"], ["P-MA", "P-FIFO"]])
                    rng.shuffle(wanted)  # line order differs from key order: the service must sort its locks
                    qty = {p: D(rng.randint(1, 5)) for p in wanted}
                    own_no = f"W{n:02d}-{i:02d}" if n % 2 else None
                    data = StockDocIn("sales_delivery", _day(rng, spread),
                                      tuple(StockLineIn(p, q) for p, q in qty.items()),
                                      warehouse="W1", partner="C1", no=own_no)
                    two_step = rng.random() < two_step_share
                    draft = None
                    try:
                        if two_step:
                            draft = create_stock_doc(db, data, actor=admin)
                            ref = audit_stock_doc(db, draft.id, actor=admin)
                        else:
                            ref = create_stock_doc(db, data, actor=admin, audit=True)
                    except Shortfall:
                        with lock:
                            shortfalls.append((draft.no if draft else "", qty))
                        continue
                    except BaseException:
                        failed(f"worker {n} doc {i} ({'two-step' if two_step else 'one-step'}) {qty}")
                        return
                    with lock:
                        successes.append((ref.no, qty))
        except BaseException:
            failed(f"worker {n}")

    threads = [threading.Thread(target=worker, args=(n,), name=f"writer-{n}") for n in range(workers)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert not any(th.is_alive() for th in threads), "a writer hung"
    return successes, shortfalls, unexpected


def _pg_deadlocks(url: str) -> int:
    """Deadlocks PostgreSQL detected in this database so far, the ones the services retried
    away included. Statistics reach the shared counters when a backend flushes them (at the
    latest when it exits), so this waits for the count to settle after the writers left."""
    engine = make_engine(url)
    try:
        seen, last_change = -1, time.monotonic()
        while True:
            with engine.connect() as conn:
                count = int(conn.execute(text("SELECT deadlocks FROM pg_stat_database "
                                              "WHERE datname = current_database()")).scalar_one())
            if count != seen:
                seen, last_change = count, time.monotonic()
            elif time.monotonic() - last_change > 1.0:
                return seen
            time.sleep(0.2)
    finally:
        engine.dispose()


def _fast_deadlock_detection(url: str) -> None:
    """Detect deadlocks after 100 ms instead of 1 s in this throwaway database, so a lock-order
    regression fails quickly. Needs a superuser (the private test cluster is); otherwise skipped."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f'ALTER DATABASE "{make_url(url).database}" SET deadlock_timeout = \'100ms\''))
    except DBAPIError:
        pass
    finally:
        engine.dispose()


def _check(engine: Engine, admin, successes: list[Outcome], shortfalls: list[Outcome]) -> None:  # type: ignore[no-untyped-def]
    delivered = Counter[str]()
    for _, qty in successes:
        delivered.update(qty)
    with Session(engine) as db, db.begin():
        pid = dict(db.execute(select(Product.code, Product.id)).all())
        code = {v: k for k, v in pid.items()}
        balances = {code[b.product_id]: b for b in db.execute(select(StockBalance)).scalars()}
        for p in PRODUCTS:
            assert balances[p].qty == RECEIVED_QTY[p] - delivered[p], p
            assert balances[p].qty >= 0 and balances[p].value >= 0, p
        # No running balance went negative, and no FIFO layer either.
        assert db.execute(select(func.min(StockEntry.bal_qty))).scalar_one() >= 0
        assert db.execute(select(func.min(StockEntry.bal_value))).scalar_one() >= 0
        assert db.execute(select(func.min(FifoLayer.qty))).scalar_one() >= 0

        # Exactly the successful deliveries are audited, each with one entry per line; the drafts
        # whose audit fell short are still drafts, with no entries and no voucher; nothing else.
        docs = {d.no: d for d in db.execute(select(StockDoc).where(StockDoc.doc_type == "sales_delivery")).scalars()}
        audited = {no for no, d in docs.items() if d.status == "audited"}
        drafts = {no for no, d in docs.items() if d.status == "draft"}
        assert sorted(audited) == sorted(no for no, _ in successes)
        assert sorted(drafts) == sorted(no for no, _ in shortfalls if no)
        assert audited | drafts == set(docs)
        assert all(docs[no].voucher_id is not None for no in audited)
        assert all(docs[no].voucher_id is None for no in drafts)
        by_doc: dict[int, dict[str, Decimal]] = {}
        for e in db.execute(select(StockEntry).join(StockDoc, StockDoc.id == StockEntry.doc_id)
                            .where(StockDoc.doc_type == "sales_delivery")).scalars():
            by_doc.setdefault(e.doc_id, {})[code[e.product_id]] = -e.qty
        assert {no: by_doc[docs[no].id] for no, _ in successes} == dict(successes)
        assert not {docs[no].id for no in drafts} & by_doc.keys()
        # Automatic numbers, per month: gap-free (a one-step document that fell short took none).
        for month in ("202601", "202602"):
            auto = sorted(int(no.rsplit("-", 1)[1]) for no in docs
                          if not no.startswith("W") and no.split("-")[1] == month)
            assert auto == list(range(1, len(auto) + 1)), month

        # What came in = what went out + what is left, to the cent.
        def value_of(doc_type: str) -> Decimal:
            return db.execute(select(func.sum(StockEntry.value)).join(StockDoc, StockDoc.id == StockEntry.doc_id)
                              .where(StockDoc.doc_type == doc_type)).scalar_one()

        delivered_out = -value_of("sales_delivery")
        left = sum((b.value for b in balances.values()), D(0))
        assert value_of("purchase_receipt") == RECEIVED_VALUE
        assert delivered_out + left == RECEIVED_VALUE, (delivered_out, left)
        # One posted voucher per successful delivery and per receipt.
        assert db.execute(select(func.count()).select_from(Voucher)).scalar_one() == 2 + len(successes)
    with Session(engine) as db:
        report = checks.verify(db, actor=admin)
        assert report.ok, [c for c in report.checks if not c.ok]


@pytest.mark.parametrize("spread", [False, True], ids=["same_day", "spread"])
@pytest.mark.parametrize(("fresh_url", "workers", "per_worker"),
                         [("postgresql", 16, 10), ("sqlite", 6, 8)], indirect=["fresh_url"],
                         ids=["postgresql", "sqlite"])
def test_concurrent_deliveries_never_oversell(fresh_url, workers, per_worker, spread):
    postgres = make_url(fresh_url).get_backend_name() == "postgresql"
    make_book(fresh_url).dispose()
    if postgres:
        _fast_deadlock_detection(fresh_url)
    # A pool as large as the number of writers, so every writer really holds its own connection.
    engine = make_engine(fresh_url, pool_size=workers + 2, max_overflow=0)
    try:
        admin = _setup(engine)
        successes, shortfalls, unexpected = _race(engine, admin, workers, per_worker, spread)
        assert not unexpected, "\n".join(unexpected)
        assert successes, "no delivery went through"
        assert shortfalls, "the stock never ran out: the race did not reach the interesting part"
        _check(engine, admin, successes, shortfalls)
    finally:
        engine.dispose()
    if postgres:
        assert _pg_deadlocks(fresh_url) == 0, "deadlocks happened (retried away by the services, but still)"
