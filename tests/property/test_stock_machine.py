"""Random sequences of stock documents through the services, one state machine per costing method.

Each generated example gets a fresh book of its own (a copy of a template book made once per test,
with the master data: two products, P1 plain and P2 batch-tracked with batches B1/B2, two
warehouses, a supplier and a customer). SQLite only: the property is about the costing and the
ledger, not the backend, and a fresh PostgreSQL database per example would be far too slow; the
service tests already run on both backends.

Steps: purchase receipts (random quantity and price, random day in 2026-06/07, so many are
back-dated), sales deliveries, sales returns and purchase returns naming their source, transfers,
stocktakes, other in/out, cost adjustments, un-audit of a random audited document, re-audit of a
random draft, costing runs, and red-letter reversals (and refused ones of what cannot be reversed).
Each example starts with up to three purchase receipts. The test keeps its own model of
quantities: every audited document's signed quantities per (product, warehouse, batch), in ledger
order (day, then audit order). From it the test predicts each step's outcome: accepted, or refused with Shortfall (some
running balance would go below zero at some point), NothingToAdjust (a cost adjustment would find
no stock at its place in the ledger), DependentDocuments, or InvalidInput (a return beyond what its
source has left); a refused step must change nothing at all (every row of every table).
Each method also runs, with fewer examples, on a book that allows negative stock: then nothing is
refused for a shortfall and the recomputation proves the settlements (adjust) as well.

After every step:
- `checks.verify_books` passes (all checks, the stock checks included);
- each document's stock entries carry exactly the quantities of the model, and each balance row
  holds the model's quantity; no running balance is negative;
- every entry's running balance equals the running sum of the stored signed qty and value - adjust
  in (entry_date, id) order, and the balance row equals the last one;
- priced receipts carry round(qty x price, 2); moving-average issues cost
  round(q x balance value / balance qty, 2) of the balance before them, all of it when they empty
  it; a moving-average or FIFO balance at zero carries no value;
- the whole ledger, costed again from scratch entry by entry with jxc.domain.costing (cost_move,
  and monthly_run over periods that had a costing run), gives every entry's value, adjust, running
  balance and unit cost as stored, the balance rows' last unit cost, and (FIFO) the layers left.

What the machine found is pinned at the end of the file as plain examples.
"""

from __future__ import annotations

import os
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from jxc.db.base import Base
from jxc.db.models import (
    Company,
    CostRun,
    FifoLayer,
    Period,
    Product,
    StockBalance,
    StockDoc,
    StockDocLine,
    StockEntry,
    Warehouse,
)
from jxc.db.session import make_engine
from jxc.domain.costing import Balance, Method, Move, NothingToAdjust, Shortfall, cost_move, monthly_run
from jxc.domain.errors import InvalidInput, JxcError
from jxc.domain.stockdocs import DependentDocuments
from jxc.services import checks, masterdata, stock, users
from jxc.services.stock import StockDocIn, StockLineIn
from tests.conftest import make_book

pytestmark = pytest.mark.slow

D = Decimal
ZERO = D("0")
CENT = D("0.01")

METHODS = ("moving_average", "fifo", "monthly_average")
WAREHOUSES = ("W1", "W2")
SUPPLIER, CUSTOMER = "S1", "C1"
ITEMS = (("P1", ""), ("P2", "B1"), ("P2", "B2"))  # (product, batch); P2 is batch-tracked
EXPIRY = {"B1": date(2026, 12, 31)}
# A handful of days, so that many documents share a day (ledger order within a day is audit order)
# and many are back-dated; July is there for the costing run's period boundary.
DAYS = tuple(date(2026, 6, d) for d in (1, 5, 10, 15, 20, 25, 30)) + tuple(date(2026, 7, d) for d in (1, 10, 31))
PERIODS = ("2026-06", "2026-07")

IN_TYPES = {"purchase_receipt": 1, "sales_return": 1, "other_in": 1,
            "sales_delivery": -1, "purchase_return": -1, "other_out": -1}
REVERSIBLE = ("purchase_receipt", "sales_delivery", "other_in", "other_out")

# Bounded and not derandomized: a different sample of sequences on every run. JXC_STOCK_EXAMPLES
# raises the number of examples for a longer hunt.
STOCK_SETTINGS = settings(
    max_examples=int(os.environ.get("JXC_STOCK_EXAMPLES", "25")),
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.filter_too_much],
)

Key = tuple[str, str, str]  # product, warehouse, batch

# --- strategies -----------------------------------------------------------------------------

quantities = st.one_of(
    st.integers(1, 20).map(D),
    st.sampled_from((D("0.5"), D("1.25"), D("2.5"), D("3.3333"), D("7.0001"))),
)
prices = st.one_of(
    st.integers(1, 99999).map(lambda n: D(n).scaleb(-2)),  # 0.01 .. 999.99
    st.integers(1, 9999999).map(lambda n: D(n).scaleb(-4)),  # four places: amounts round
)
days = st.sampled_from(DAYS)
picks = st.integers(0, 10**6)
items = st.sampled_from(ITEMS)


def lines_of(extra: st.SearchStrategy[Any]) -> st.SearchStrategy[list[tuple[Any, ...]]]:
    """1-2 lines on distinct items: (item, qty, extra)."""
    return st.lists(st.tuples(items, quantities, extra), min_size=1, max_size=2, unique_by=lambda t: t[0])


def rounded(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


# --- the model --------------------------------------------------------------------------------

@dataclass
class MLine:
    line_no: int
    product: str
    batch: str
    qty: Decimal  # stocktake: the counted quantity
    price: Decimal | None = None
    src_line: int | None = None  # the source document's line_no this line returns / reverses


@dataclass
class MDoc:
    id: int
    no: str
    doc_type: str
    day: date
    warehouse: str
    lines: list[MLine]
    to_warehouse: str | None = None
    red: bool = False
    source: int | None = None  # model doc id
    audited: bool = False
    seq: int = 0  # audit order: the ledger order within a day
    events: list[tuple[Key, Decimal]] = field(default_factory=list)


Ledger = dict[Key, list[tuple[date, int, Decimal]]]  # (day, audit order, signed qty; 0: a cost adjustment)
Refusal = type[JxcError] | tuple[type[JxcError], ...] | None


# --- reading the book -------------------------------------------------------------------------

def snapshot(db: Session) -> dict[str, list[Any]]:
    """Every row of every table: a refused step must leave all of it as it was."""
    with db.begin():
        return {t.name: [tuple(r) for r in db.execute(select(t).order_by(*t.primary_key.columns))]
                for t in Base.metadata.sorted_tables}


def read_ledger(db: Session) -> dict[str, Any]:
    with db.begin():
        products = dict(db.execute(select(Product.id, Product.code)).all())
        warehouses = dict(db.execute(select(Warehouse.id, Warehouse.code)).all())
        entries = list(db.execute(select(StockEntry).order_by(StockEntry.entry_date, StockEntry.id)).scalars())
        balances = list(db.execute(select(StockBalance)).scalars())
        layers = list(db.execute(select(FifoLayer).where(FifoLayer.qty != 0)).scalars())
        runs = set(db.execute(select(CostRun.period_id).join(Period, Period.id == CostRun.period_id)
                              .where(Period.status == "open")).scalars())
        lines = {ln.id: ln for ln in db.execute(select(StockDocLine)).scalars()}
        docs = {d.id: d for d in db.execute(select(StockDoc)).scalars()}
        db.expunge_all()

    def key(p: int, w: int, b: str) -> Key:
        return (products[p], warehouses[w], b)

    by_key: dict[Key, list[Any]] = defaultdict(list)
    for e in entries:
        by_key[key(e.product_id, e.warehouse_id, e.batch)].append(e)
    return {
        "by_key": by_key,
        "entries": entries,
        "balances": {key(b.product_id, b.warehouse_id, b.batch): b for b in balances},
        "layers": {(key(x.product_id, x.warehouse_id, x.batch), x.ident): (x.qty, x.value) for x in layers},
        "runs": runs,
        "lines": lines,
        "docs": docs,
    }


def ident(line_id: int, leg: int) -> int:
    return line_id * 2 + leg


def source_value(src_qty: Decimal, src_value: Decimal, qty: Decimal) -> Decimal:
    """The cost `qty` (signed) carries when it returns or reverses part of a source entry worth
    src_value for src_qty: its share, all of it when it is all of it."""
    sign = 1 if qty > 0 else -1
    held = src_value * (1 if src_qty > 0 else -1)
    return sign * (held if abs(qty) == abs(src_qty) else rounded(abs(qty) * held / abs(src_qty)))


def replay(method: Method, entries: list[Any], runs: set[int], leg0: dict[int, tuple[Decimal, Decimal]],
           ) -> tuple[list[str], Balance]:
    """Cost one key's ledger again from an empty balance with the domain's functions; return the
    differences from what is stored, and the final balance."""
    problems: list[str] = []
    bal = Balance()

    def move_of(e: Any) -> Move:
        i = ident(e.doc_line_id, e.leg)
        if e.basis == "fixed":
            return Move(i, e.qty, e.value)
        if e.basis == "source":
            if e.leg == 1:
                return Move(i, e.qty, -leg0[e.doc_line_id][1])
            if method is Method.FIFO and e.qty < 0:
                return Move(i, e.qty, None, ident(e.source_line_id, 0))
            src = leg0[e.source_line_id]
            return Move(i, e.qty, source_value(src[0], src[1], e.qty))
        return Move(i, e.qty, None)

    def compare(e: Any, value: Decimal, adjust: Decimal, q: Decimal, v: Decimal, unit: Decimal) -> None:
        got = (e.value, e.adjust, e.bal_qty, e.bal_value, e.unit_cost)
        want = (value, adjust, q, v, unit)
        if got != want:
            problems.append(f"entry#{e.id} (doc {e.doc_id} line {e.doc_line_id} leg {e.leg} {e.entry_date} "
                            f"qty {e.qty} basis {e.basis}): stored value/adjust/bal_qty/bal_value/unit {got}, "
                            f"recomputed {want}")

    i = 0
    while i < len(entries):
        e = entries[i]
        if method is Method.MONTHLY_AVERAGE and e.period_id in runs:
            j = i
            while j < len(entries) and entries[j].period_id == e.period_id:
                j += 1
            group = entries[i:j]
            result = monthly_run(bal.qty, bal.value, bal.last_unit, [move_of(x) for x in group])
            for x, value in zip(group, result.values, strict=True):
                bal.qty += x.qty
                bal.value += value
                compare(x, value, ZERO, bal.qty, bal.value, result.unit)
            bal.last_unit = result.unit
            i = j
            continue
        try:
            costed = cost_move(method, bal, move_of(e), allow_negative=True)
        except NothingToAdjust:
            problems.append(f"entry#{e.id} (doc {e.doc_id}): a cost adjustment of {e.value} on {bal.qty} in stock")
            i += 1
            continue
        compare(e, costed.value, costed.adjust, costed.qty_after, costed.value_after, costed.unit_after)
        i += 1
    return problems, bal


def ledger_problems(book: dict[str, Any], method: Method, *, allow_negative: bool) -> list[str]:
    """Everything the stored ledger must satisfy on its own, proved from its rows: running sums,
    balance rows, no negative or (moving average, FIFO) residual balances, priced receipts,
    moving-average issues, and the whole ledger costed again from scratch (see the module doc)."""
    by_key, balances = book["by_key"], book["balances"]
    problems: list[str] = []
    leg0 = {e.doc_line_id: (e.qty, e.value) for e in book["entries"] if e.leg == 0}
    for k, entries in by_key.items():
        rq = rv = ZERO
        for e in entries:
            # Running balances are running sums of the stored signed amounts.
            rq += e.qty
            rv += e.value - e.adjust
            if (e.bal_qty, e.bal_value) != (rq, rv):
                problems.append(f"{k} entry#{e.id}: bal {(e.bal_qty, e.bal_value)} != running {(rq, rv)}")
            if e.bal_qty < 0 and not allow_negative:
                problems.append(f"{k} entry#{e.id}: negative balance {e.bal_qty}")
            if method is not Method.MONTHLY_AVERAGE and e.bal_qty == 0 and e.bal_value != 0:
                problems.append(f"{k} entry#{e.id}: zero stock carries {e.bal_value}")
        bal = balances.get(k)
        if bal is None or (bal.qty, bal.value) != (rq, rv):
            problems.append(f"{k}: balance row {(bal.qty, bal.value) if bal else None} != ledger {(rq, rv)}")

        # Priced receipts carry round(qty x price, 2); moving-average issues their share.
        pq = pv = ZERO
        for e in entries:
            line = book["lines"][e.doc_line_id]
            doc = book["docs"][e.doc_id]
            priced = e.basis == "fixed" and not doc.red and doc.doc_type in ("purchase_receipt", "other_in")
            if priced and e.value != rounded(line.qty * line.price):
                problems.append(f"{doc.no}: receipt value {e.value} != {line.qty} x {line.price}")
            if method is Method.MOVING_AVERAGE and e.basis == "cost" and 0 < -e.qty <= pq:
                q = -e.qty
                want = pv if q == pq else rounded(q * pv / pq)
                if e.value != -want:
                    problems.append(f"{doc.no} entry#{e.id}: issue of {q} out of {(pq, pv)} costs "
                                    f"{-e.value}, expected {want}")
            pq, pv = e.bal_qty, e.bal_value

        # The whole key costed again from scratch.
        found, final = replay(method, entries, book["runs"], leg0)
        problems += [f"{k}: {p}" for p in found]
        if bal is not None and bal.last_unit != final.last_unit:
            problems.append(f"{k}: balance last_unit {bal.last_unit} != recomputed {final.last_unit}")
        if method is Method.FIFO:
            kept_layers = {i: v for (kk, i), v in book["layers"].items() if kk == k}
            fresh = {x.ident: (x.qty, x.value) for x in final.layers}
            if kept_layers != fresh:
                problems.append(f"{k}: FIFO layers {kept_layers} != recomputed {fresh}")
    return problems


# --- the machine ------------------------------------------------------------------------------

def make_template(directory: Path, method: str) -> Path:
    """A book with the master data, made once per test and copied for every example."""
    path = directory / f"template-{method}.db"
    engine = make_book(f"sqlite:///{path}")
    with Session(engine, expire_on_commit=False) as db:
        admin = users.load_actor(db, "admin")
        db.rollback()
        for code in WAREHOUSES:
            masterdata.add_warehouse(db, masterdata.WarehouseIn(code, f"warehouse {code}"), actor=admin)
        masterdata.add_partner(db, masterdata.PartnerIn(SUPPLIER, "supplier", "supplier"), actor=admin)
        masterdata.add_partner(db, masterdata.PartnerIn(CUSTOMER, "customer", "customer"), actor=admin)
        masterdata.add_product(db, masterdata.ProductIn("P1", "plain", "pcs", D("0.13"), costing_method=method),
                               actor=admin)
        masterdata.add_product(db, masterdata.ProductIn("P2", "tracked", "box", D("0.13"), costing_method=method,
                                                        batch_tracked=True, shelf_life_days=365), actor=admin)
    engine.dispose()
    return path


def copy_book(template: Path, target: Path) -> None:
    src = sqlite3.connect(template)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def make_machine(method_name: str, template: Path, workdir: Path, *, negative: bool = False,
                 ) -> type[RuleBasedStateMachine]:
    """The state machine for one costing method; `negative`: the book allows negative stock."""
    method = Method(method_name)
    counter = iter(range(10**9))

    class StockBook(RuleBasedStateMachine):
        allow_negative = negative

        def __init__(self) -> None:
            super().__init__()
            self.docs: dict[int, MDoc] = {}
            self.seq = 0
            self.engine: Engine | None = None
            self.db: Session | None = None
            self.path: Path | None = None

        @initialize(receipts=st.lists(st.tuples(days, st.sampled_from(WAREHOUSES), items, quantities, prices),
                                   max_size=3))
        def open_book(self, receipts: list[tuple[Any, ...]]) -> None:
            """A fresh book, stocked by a few purchase receipts so that most examples have something to move."""
            self.path = workdir / f"book-{next(counter)}.db"
            copy_book(template, self.path)
            self.engine = make_engine(f"sqlite:///{self.path}")
            self.db = Session(self.engine, expire_on_commit=False)
            self.admin = users.load_actor(self.db, "admin")
            self.db.rollback()
            if self.allow_negative:
                with self.db.begin():
                    self.db.execute(update(Company).values(allow_negative_stock=True))
            for day, wh, (p, b), q, price in receipts:
                self.enter("purchase_receipt", day, wh, [MLine(1, p, b, q, price)], partner=SUPPLIER)

        def teardown(self) -> None:
            if self.db is not None:
                self.db.close()
            if self.engine is not None:
                self.engine.dispose()
            if self.path is not None:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{self.path}{suffix}").unlink(missing_ok=True)

        # -- the model ---------------------------------------------------------------------------

        def audited(self, *types: str, red: bool | None = None) -> list[MDoc]:
            return [d for d in sorted(self.docs.values(), key=lambda d: d.id)
                    if d.audited and (not types or d.doc_type in types) and (red is None or d.red == red)]

        def ledger(self, without: int | None = None) -> Ledger:
            out: Ledger = defaultdict(list)
            for d in self.docs.values():
                if d.audited and d.id != without:
                    for k, q in d.events:
                        out[k].append((d.day, d.seq, q))
            for k in out:
                out[k].sort(key=lambda t: (t[0], t[1]))
            return out

        def qty_at(self, k: Key, day: date) -> Decimal:
            """The book quantity after everything dated up to `day`."""
            return sum((q for d, _, q in self.ledger().get(k, []) if d <= day), ZERO)

        def issuable(self, k: Key, day: date) -> Decimal:
            """The most an issue dated `day` may take without any running balance going negative."""
            led = self.ledger().get(k, [])
            run = sum((q for d, _, q in led if d <= day), ZERO)
            low = run
            for d, _, q in led:
                if d > day:
                    run += q
                    low = min(low, run)
            return max(low, ZERO)

        def refusal(self, led: Ledger) -> Refusal:
            """None when every running balance stays at or above zero and every cost adjustment
            finds stock to adjust; else what the service may raise (either, when both break)."""
            found: list[type[JxcError]] = []
            for events in led.values():
                run = ZERO
                for _, _, q in events:
                    if q == 0 and run <= 0 and NothingToAdjust not in found:
                        found.append(NothingToAdjust)
                    run += q
                    if run < 0 and Shortfall not in found and not self.allow_negative:
                        found.append(Shortfall)
            return tuple(found) if found else None

        def events_of(self, doc: MDoc) -> list[tuple[Key, Decimal]]:
            if doc.doc_type == "transfer":
                assert doc.to_warehouse is not None
                out: list[tuple[Key, Decimal]] = []
                for ln in doc.lines:
                    out += [((ln.product, doc.warehouse, ln.batch), -ln.qty),
                            ((ln.product, doc.to_warehouse, ln.batch), ln.qty)]
                return out
            if doc.doc_type == "cost_adjustment":
                return [((ln.product, doc.warehouse, ln.batch), ZERO) for ln in doc.lines]
            if doc.doc_type == "stocktake":
                found = []
                for ln in doc.lines:
                    k = (ln.product, doc.warehouse, ln.batch)
                    diff = ln.qty - self.qty_at(k, doc.day)
                    if diff:
                        found.append((k, diff))
                return found
            sign = IN_TYPES[doc.doc_type] * (-1 if doc.red else 1)
            return [((ln.product, doc.warehouse, ln.batch), sign * ln.qty) for ln in doc.lines]

        def returned(self, src: MDoc, line_no: int) -> Decimal:
            return sum((ln.qty for d in self.docs.values()
                        if d.audited and d.source == src.id and d.doc_type != "transfer"
                        for ln in d.lines if ln.src_line == line_no), ZERO)

        def exceeds_source(self, doc: MDoc) -> bool:
            if doc.source is None:
                return False
            src = self.docs[doc.source]
            by_no = {ln.line_no: ln for ln in src.lines}
            return any(ln.qty > by_no[ln.src_line].qty - self.returned(src, ln.src_line)
                       for ln in doc.lines if ln.src_line is not None)

        def expect_audit(self, doc: MDoc) -> Refusal:
            """What auditing `doc` now should do: None (accepted) or the refusal."""
            if self.exceeds_source(doc):
                return InvalidInput
            events = self.events_of(doc)
            led = self.ledger()
            for k, q in events:
                led.setdefault(k, []).append((doc.day, self.seq + 1, q))
                led[k].sort(key=lambda t: (t[0], t[1]))
            return self.refusal(led)

        def mark_audited(self, doc: MDoc) -> None:
            doc.events = self.events_of(doc)  # before it counts: a stocktake compares with the book without it
            self.seq += 1
            doc.seq = self.seq
            doc.audited = True

        # -- running a step ----------------------------------------------------------------------

        def attempt(self, expected: Refusal, call: Any) -> Any:
            """Run a service call; it must succeed when `expected` is None, else raise `expected`
            and leave every table exactly as it was."""
            assert self.db is not None
            before = snapshot(self.db) if expected is not None else None
            try:
                ref = call()
            except JxcError as exc:
                note(f"  -> refused {type(exc).__name__} {exc.params}")
                assert expected is not None and isinstance(exc, expected), \
                    f"expected {expected or 'success'}, got {type(exc).__name__} {exc.params}"
                assert snapshot(self.db) == before, "a refused step changed the book"
                return None
            note(f"  -> ok {ref}")
            assert expected is None, f"expected {expected}, the service accepted it"
            return ref

        def enter(self, doc_type: str, day: date, warehouse: str, lines: list[MLine], *,
                  to_warehouse: str | None = None, partner: str | None = None, source: MDoc | None = None) -> None:
            assert self.db is not None
            model = MDoc(-1, "", doc_type, day, warehouse, lines, to_warehouse,
                         source=source.id if source else None)
            adjusting = doc_type == "cost_adjustment"
            data = StockDocIn(doc_type, day, tuple(
                StockLineIn(ln.product, None if adjusting else ln.qty, price=None if adjusting else ln.price,
                            amount=ln.price if adjusting else None, batch=ln.batch or None,
                            expiry=EXPIRY.get(ln.batch) if doc_type in ("purchase_receipt", "other_in") else None)
                for ln in lines), warehouse=warehouse, partner=partner, to_warehouse=to_warehouse,
                source=source.no if source else None)
            note(f"{doc_type} {day} {warehouse}{'->' + to_warehouse if to_warehouse else ''} "
                 f"{[(ln.product, ln.batch, str(ln.qty), str(ln.price) if ln.price else None) for ln in lines]}"
                 f"{' source ' + source.no if source else ''}")
            expected = self.expect_audit(model)
            ref = self.attempt(expected, lambda: stock.create_stock_doc(self.db, data, actor=self.admin, audit=True))
            if ref is not None:
                assert ref.status == "audited"
                model.id, model.no = ref.id, ref.no
                self.mark_audited(model)
                self.docs[ref.id] = model

        # -- rules -------------------------------------------------------------------------------

        @rule(day=days, wh=st.sampled_from(WAREHOUSES), lines=lines_of(prices))
        def purchase_receipt(self, day: date, wh: str, lines: list[tuple[Any, ...]]) -> None:
            self.enter("purchase_receipt", day, wh, [MLine(i, p, b, q, price)
                                                     for i, ((p, b), q, price) in enumerate(lines, 1)],
                       partner=SUPPLIER)

        @rule(day=days, wh=st.sampled_from(WAREHOUSES), lines=lines_of(st.sampled_from(("random", "all", "half"))))
        def sales_delivery(self, day: date, wh: str, lines: list[tuple[Any, ...]]) -> None:
            self.issue("sales_delivery", day, wh, lines, partner=CUSTOMER)

        @rule(day=days, wh=st.sampled_from(WAREHOUSES), lines=lines_of(st.sampled_from(("random", "all", "half"))))
        def other_out(self, day: date, wh: str, lines: list[tuple[Any, ...]]) -> None:
            self.issue("other_out", day, wh, lines)

        @rule(day=days, wh=st.sampled_from(WAREHOUSES), lines=lines_of(st.one_of(st.none(), prices)))
        def other_in(self, day: date, wh: str, lines: list[tuple[Any, ...]]) -> None:
            self.enter("other_in", day, wh, [MLine(i, p, b, q, price) for i, ((p, b), q, price) in enumerate(lines, 1)])

        @rule(day=days, wh=st.sampled_from(WAREHOUSES), lines=lines_of(st.sampled_from(("random", "all", "half"))))
        def transfer(self, day: date, wh: str, lines: list[tuple[Any, ...]]) -> None:
            other = WAREHOUSES[1 - WAREHOUSES.index(wh)]
            self.issue("transfer", day, wh, lines, to_warehouse=other)

        def issue(self, doc_type: str, day: date, wh: str, lines: list[tuple[Any, ...]], **kw: Any) -> None:
            out = []
            for (p, b), drawn, mode in lines:
                q = drawn
                if mode != "random":
                    most = self.issuable((p, wh, b), day)
                    q = most if mode == "all" else (most / 2).quantize(D("0.0001"), rounding=ROUND_HALF_UP)
                    if q <= 0:
                        continue
                out.append(MLine(len(out) + 1, p, b, q))
            if out:
                self.enter(doc_type, day, wh, out, **kw)

        @precondition(lambda self: self.audited("sales_delivery", red=False))
        @rule(pick=picks, when=st.integers(0, 9), mode=st.sampled_from(("left", "part", "over")), qty=quantities)
        def sales_return(self, pick: int, when: int, mode: str, qty: Decimal) -> None:
            self.give_back("sales_delivery", "sales_return", CUSTOMER, pick, when, mode, qty)

        @precondition(lambda self: self.audited("purchase_receipt", red=False))
        @rule(pick=picks, when=st.integers(0, 9), mode=st.sampled_from(("left", "part", "over")), qty=quantities)
        def purchase_return(self, pick: int, when: int, mode: str, qty: Decimal) -> None:
            self.give_back("purchase_receipt", "purchase_return", SUPPLIER, pick, when, mode, qty)

        def give_back(self, source_type: str, doc_type: str, partner: str, pick: int, when: int, mode: str,
                      qty: Decimal) -> None:
            sources = self.audited(source_type, red=False)
            if not sources:
                return
            src = sources[pick % len(sources)]
            ln = src.lines[(pick // len(sources)) % len(src.lines)]
            left = ln.qty - self.returned(src, ln.line_no)
            q = {"left": left, "part": min(left, qty), "over": left + qty}[mode]
            if q <= 0:
                q = ln.qty  # nothing left to give back: the service must refuse
            later = [d for d in DAYS if d >= src.day]
            day = later[when % len(later)]
            self.enter(doc_type, day, src.warehouse, [MLine(1, ln.product, ln.batch, q, src_line=ln.line_no)],
                       partner=partner, source=src)

        @rule(day=days, wh=st.sampled_from(WAREHOUSES),
              lines=st.lists(st.tuples(items, st.integers(-6, 6)), min_size=1, max_size=3, unique_by=lambda t: t[0]))
        def stocktake(self, day: date, wh: str, lines: list[tuple[Any, ...]]) -> None:
            counted = [MLine(i, p, b, max(ZERO, self.qty_at((p, wh, b), day) + delta))
                       for i, ((p, b), delta) in enumerate(lines, 1)]
            self.enter("stocktake", day, wh, counted)

        @precondition(lambda self: self.audited(*REVERSIBLE, red=False))
        @rule(pick=picks, when=st.integers(0, 9))
        def reverse(self, pick: int, when: int) -> None:
            assert self.db is not None
            candidates = self.audited(*REVERSIBLE, red=False)
            if not candidates:
                return
            src = candidates[pick % len(candidates)]
            later = [d for d in DAYS if d >= src.day]
            day = later[when % len(later)]
            model = MDoc(-1, "", src.doc_type, day, src.warehouse,
                         [MLine(ln.line_no, ln.product, ln.batch, ln.qty, ln.price, src_line=ln.line_no)
                          for ln in src.lines], red=True, source=src.id)
            note(f"reverse {src.no} on {day}")
            expected = self.expect_audit(model)
            ref = self.attempt(expected, lambda: stock.reverse_stock_doc(self.db, src.id, day, actor=self.admin,
                                                                         audit=True))
            if ref is not None:
                model.id, model.no = ref.id, ref.no
                self.mark_audited(model)
                self.docs[ref.id] = model

        @rule(day=days, wh=st.sampled_from(WAREHOUSES),
              lines=st.lists(st.tuples(items, st.integers(-2000, 50000).filter(bool).map(lambda n: D(n).scaleb(-2))),
                             min_size=1, max_size=2, unique_by=lambda t: t[0]))
        def cost_adjustment(self, day: date, wh: str, lines: list[tuple[Any, ...]]) -> None:
            """成本调整: a value on the stock on hand (line price carries the amount in the model)."""
            self.enter("cost_adjustment", day, wh, [MLine(i, p, b, ZERO, amount)
                                                    for i, ((p, b), amount) in enumerate(lines, 1)])

        @precondition(lambda self: any(d.red or d.doc_type in ("transfer", "stocktake", "cost_adjustment")
                                       for d in self.audited()))
        @rule(pick=picks)
        def reverse_refused(self, pick: int) -> None:
            """Red-letter documents, transfers and stocktakes are not reversible."""
            candidates = [d for d in self.audited()
                          if d.red or d.doc_type in ("transfer", "stocktake", "cost_adjustment")]
            if not candidates:
                return
            doc = candidates[pick % len(candidates)]
            note(f"reverse (refused) {doc.no}")
            self.attempt(JxcError, lambda: stock.reverse_stock_doc(self.db, doc.id, DAYS[-1], actor=self.admin,
                                                                   audit=True))

        @precondition(lambda self: self.audited())
        @rule(pick=picks)
        def unaudit(self, pick: int) -> None:
            candidates = self.audited()
            if not candidates:
                return
            doc = candidates[pick % len(candidates)]
            note(f"unaudit {doc.no} ({doc.day})")
            if any(d.audited and d.source == doc.id for d in self.docs.values()):
                expected: Refusal = DependentDocuments
            else:
                expected = self.refusal(self.ledger(without=doc.id))
            ref = self.attempt(expected, lambda: stock.unaudit_stock_doc(self.db, doc.id, actor=self.admin))
            if ref is not None:
                assert ref.status == "draft"
                doc.audited = False
                doc.events = []

        @precondition(lambda self: any(not d.audited for d in self.docs.values()))
        @rule(pick=picks)
        def audit_draft(self, pick: int) -> None:
            drafts = [d for d in sorted(self.docs.values(), key=lambda d: d.id) if not d.audited]
            if not drafts:
                return
            doc = drafts[pick % len(drafts)]
            note(f"audit draft {doc.no} ({doc.day})")
            if doc.source is not None and not self.docs[doc.source].audited:
                expected: Refusal = JxcError  # its source is a draft again: refused somehow
            else:
                expected = self.expect_audit(doc)
            ref = self.attempt(expected, lambda: stock.audit_stock_doc(self.db, doc.id, actor=self.admin))
            if ref is not None:
                self.mark_audited(doc)

        @rule(period=st.sampled_from(PERIODS))
        def run_costing(self, period: str) -> None:
            assert self.db is not None
            note(f"cost_run {period}")
            stock.cost_run(self.db, period, actor=self.admin)

        # -- invariants --------------------------------------------------------------------------

        @invariant()
        def books_verify(self) -> None:
            if self.db is None:
                return
            with self.db.begin():
                report = checks.verify_books(self.db)
            assert report.ok, [c for c in report.checks if not c.ok]

        @invariant()
        def ledger_matches_model_and_recomputation(self) -> None:
            if self.db is None:
                return
            book = read_ledger(self.db)
            by_key, balances = book["by_key"], book["balances"]
            problems: list[str] = []

            # Quantities: each document's entries are the model's, balances hold the model's totals.
            stored_events: dict[int, list[tuple[Key, Decimal]]] = defaultdict(list)
            for k, entries in by_key.items():
                for e in entries:
                    stored_events[e.doc_id].append((k, e.qty))
            for d in self.docs.values():
                if sorted(stored_events.get(d.id, [])) != sorted(d.events):
                    problems.append(f"{d.no}: entries {sorted(stored_events.get(d.id, []))} != model {d.events}")
            for doc_id in set(stored_events) - {d.id for d in self.docs.values() if d.audited}:
                problems.append(f"doc#{doc_id} has entries but the model has it as draft/unknown")
            model_qty: dict[Key, Decimal] = defaultdict(lambda: ZERO)
            for k, events in self.ledger().items():
                model_qty[k] = sum((q for _, _, q in events), ZERO)
            for k in set(model_qty) | set(balances):
                kept = balances[k].qty if k in balances else ZERO
                if kept != model_qty[k]:
                    problems.append(f"{k}: balance qty {kept} != model {model_qty[k]}")

            problems += ledger_problems(book, method, allow_negative=self.allow_negative)
            assert not problems, "\n".join(problems[:15])

    return StockBook


@pytest.mark.parametrize("negative", [False, True], ids=["negative-forbidden", "negative-allowed"])
@pytest.mark.parametrize("method", METHODS)
def test_random_stock_sequences_keep_the_ledger_whole(method: str, negative: bool, tmp_path: Path) -> None:
    """With negative stock allowed (a bonus, fewer examples) nothing is refused for a shortfall, and
    the recomputation also proves the negative-stock settlements (adjust) of every receipt."""
    template = make_template(tmp_path, method)
    run_state_machine_as_test(
        make_machine(method, template, tmp_path, negative=negative),
        settings=settings(STOCK_SETTINGS, max_examples=max(1, STOCK_SETTINGS.max_examples // 3)) if negative
        else STOCK_SETTINGS)


# --- the machine's findings, pinned as plain examples -------------------------------------------

@pytest.fixture
def fresh_book(tmp_path: Path) -> Iterator[Any]:
    """open(method) -> (session, admin) on a fresh copy of the template book of that method."""
    opened: list[tuple[Session, Engine]] = []

    def open_book(method: str) -> tuple[Session, Any]:
        path = tmp_path / f"pinned-{len(opened)}.db"
        copy_book(make_template(tmp_path, method), path)
        engine = make_engine(f"sqlite:///{path}")
        db = Session(engine, expire_on_commit=False)
        opened.append((db, engine))
        admin = users.load_actor(db, "admin")
        db.rollback()
        return db, admin

    yield open_book
    for db, engine in opened:
        db.close()
        engine.dispose()


def one_line(db: Session, admin: Any, doc_type: str, day: date, qty: str | None = None, price: str | None = None,
             amount: str | None = None, partner: str | None = None) -> stock.DocRef:
    """An audited document of one line of P1 in W1."""
    line = StockLineIn("P1", D(qty) if qty else None, price=D(price) if price else None,
                       amount=D(amount) if amount else None)
    return stock.create_stock_doc(db, StockDocIn(doc_type, day, (line,), warehouse="W1", partner=partner),
                                  actor=admin, audit=True)


def assert_whole(db: Session, method: str) -> None:
    with db.begin():
        report = checks.verify_books(db)
    assert report.ok, [c for c in report.checks if not c.ok]
    problems = ledger_problems(read_ledger(db), Method(method), allow_negative=False)
    assert not problems, problems


@pytest.mark.parametrize("method", METHODS)
def test_auditing_a_red_letter_draft_whose_original_is_a_draft_again_is_refused(method: str, fresh_book: Any) -> None:
    """Reverse a document, un-audit the red-letter copy, un-audit the original, audit the red copy
    again: refused as a JxcError with nothing changed (it raised KeyError from _plan's red_of)."""
    db, admin = fresh_book(method)
    original = one_line(db, admin, "other_in", date(2026, 6, 1), "1")
    red = stock.reverse_stock_doc(db, original.id, date(2026, 6, 1), actor=admin, audit=True)
    stock.unaudit_stock_doc(db, red.id, actor=admin)
    stock.unaudit_stock_doc(db, original.id, actor=admin)
    before = snapshot(db)
    with pytest.raises(JxcError):
        stock.audit_stock_doc(db, red.id, actor=admin)
    assert snapshot(db) == before
    assert_whole(db, method)


@pytest.mark.parametrize("change", ["unaudit the receipt", "back-dated delivery"])
def test_monthly_cost_adjustment_in_a_costed_period_still_needs_stock(change: str, fresh_book: Any) -> None:
    """Monthly average, 2026-07 costed: a cost adjustment on 07-31 adjusts 10 in stock. Taking that
    stock away before it (un-auditing the receipt, or a back-dated delivery of all 10) must be
    refused with NothingToAdjust, as it is for the other methods and without the run; it was
    accepted, leaving zero stock that carries the adjustment's value."""
    db, admin = fresh_book("monthly_average")
    receipt = one_line(db, admin, "purchase_receipt", date(2026, 6, 1), "10", "1", partner=SUPPLIER)
    stock.cost_run(db, "2026-07", actor=admin)
    one_line(db, admin, "cost_adjustment", date(2026, 7, 31), amount="5")
    before = snapshot(db)
    with pytest.raises(NothingToAdjust):
        if change == "unaudit the receipt":
            stock.unaudit_stock_doc(db, receipt.id, actor=admin)
        else:
            one_line(db, admin, "sales_delivery", date(2026, 6, 5), "10", partner=CUSTOMER)
    assert snapshot(db) == before
    assert_whole(db, "monthly_average")


@pytest.mark.parametrize("run_first", [True, False], ids=["run-first", "run-last"])
def test_monthly_red_letter_of_an_unpriced_receipt_can_be_costed(run_first: bool, fresh_book: Any) -> None:
    """Monthly average: an unpriced other-in (costed by the run), its red-letter reversal (which
    takes the original's cost), and a priced other-in of 2 @ 0.4467 in the same period. The run's
    unit depends on the red entry's value, which copies the original's, which is costed at the
    unit: the re-costing oscillated (0.89, 0.00, 0.89, ...) and the audit, or the costing run,
    was refused with stock.recost_cycle, so the period could not be costed at all."""
    db, admin = fresh_book("monthly_average")
    if run_first:
        stock.cost_run(db, "2026-06", actor=admin)
    unpriced = one_line(db, admin, "other_in", date(2026, 6, 1), "1")
    stock.reverse_stock_doc(db, unpriced.id, date(2026, 6, 5), actor=admin, audit=True)
    one_line(db, admin, "other_in", date(2026, 6, 20), "2", "0.4467")
    stock.cost_run(db, "2026-06", actor=admin)
    assert_whole(db, "monthly_average")


def test_fifo_same_day_layers_are_taken_in_ledger_order(fresh_book: Any) -> None:
    """Two receipts of one day, the first un-audited and audited again: the ledger now has it after
    the second (entry ids), but its layer kept the smaller ident, and layers read back from the
    table are ordered by (entry_date, ident). A delivery then took the re-audited receipt's layer
    first (6.00), and after an unrelated document dated earlier was audited and un-audited (a
    re-costing that rebuilds the layers in ledger order) the same delivery cost 7.00."""
    db, admin = fresh_book("fifo")

    def delivery_value() -> Decimal:
        with db.begin():
            return db.execute(select(StockEntry.value).join(StockDoc, StockDoc.id == StockEntry.doc_id)
                              .where(StockDoc.doc_type == "sales_delivery")).scalar_one()

    one_line(db, admin, "purchase_receipt", date(2026, 6, 1), "1", "5", partner=SUPPLIER)
    first = one_line(db, admin, "purchase_receipt", date(2026, 6, 5), "1", "1", partner=SUPPLIER)
    one_line(db, admin, "purchase_receipt", date(2026, 6, 5), "1", "2", partner=SUPPLIER)
    stock.unaudit_stock_doc(db, first.id, actor=admin)
    stock.audit_stock_doc(db, first.id, actor=admin)  # 06-05 in ledger order: the 2.00 receipt, then the 1.00
    one_line(db, admin, "sales_delivery", date(2026, 6, 10), "2", partner=CUSTOMER)
    as_audited = delivery_value()
    unrelated = one_line(db, admin, "other_in", date(2026, 6, 1), "1", "3")
    stock.unaudit_stock_doc(db, unrelated.id, actor=admin)
    assert delivery_value() == as_audited == D("-7.00")  # 5.00 (06-01) + 2.00 (first on 06-05)
    assert_whole(db, "fifo")
