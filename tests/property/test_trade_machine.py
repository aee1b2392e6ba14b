"""Random sequences of trade documents through the services: orders (created, audited over a
credit limit or not, un-audited, closed, reopened, cancelled, deleted), receipts and deliveries
(from orders, in part or beyond them, or without), returns against them (and, refused, against a
red-letter copy), red-letter reversals (refused while an invoice bills the document), invoices
(from receipts/deliveries in full, in part or beyond what is left; special and ordinary; at the
source's price, within the match tolerance or beyond it, with and without override; red ones
from returns; some billing nothing in stock), receipts/payments (settling invoices in full less a
small write-off, in half, or with one fault; with money left as an advance), later settlements
of advances, unapplied money and red invoices, undoing settlements, un-auditing everything, and
auditing or deleting the drafts that leaves.

Each generated example gets a fresh book of its own (a copy of a template book made once per
test: products P1 moving average at 13% and P2 FIFO at 9%, warehouse W1, suppliers S1/S2,
customers C1 (with a credit limit drawn per example) and C2). The example also draws the book's
credit control (off / warn / block) and order tolerance (0 / 10%), and starts with a few receipts
and deliveries. SQLite only: the property is about the trade services and the ledger, not the
backend (the regressions it found run on both, in tests/integration/test_trade_regressions.py).

Every step is predicted by the test's own model: accepted, refused (with the error types it may
raise), or, where the model does not follow the costing engine (a FIFO layer carrying an
invoice's price difference), either. A refused step must change nothing at all (every row of
every table). After every step that changed the book:

- `checks.verify_books` passes (the trade checks among them);
- every invoice's status, total and open amount (get_invoice) is the model's: open = total less
  what receipts/payments and settlements applied to it (red invoices: less what was used of them);
  each invoice line bills the stock lines the model allocated, and clears the 暂估 the model
  computes (and, moving average, carries the price difference to stock as the model splits it);
- every stock line's invoiced quantity and 暂估 cleared, and every order line's
  delivered/returned/invoiced quantities and status, are the model's;
- per customer, the GL balance of 1122 + 2203 is Σ invoices − Σ receipts (with write-offs), the
  open 1122 debit items add up to the model's open invoices, and the credit exposure
  (orderlinks.exposure) is the model's; credit warnings come exactly when the model is over the
  limit;
- per supplier, 220201 + 1123 and the open 220201 credit items likewise; 220202 (暂估) is Σ over
  receipt lines of their booked value less returns less what invoices cleared, and zero once
  every receipt line is fully invoiced; no receipt or delivery line is billed beyond what it kept
  and what red invoices can still take back;
- every receipt/payment's unapplied amount (get_cash) is the model's.

tests/property/test_close_machine.py runs this machine with month-end closes and reopens among
the steps (on both backends): the hooks open_days / live and connect are for it.

Bugs it found are pinned in tests/integration/test_trade_regressions.py; for those still open
the machine steers around the step or tolerates the known wrong number (KNOWN_BUGS). Longer
hunts: JXC_TRADE_EXAMPLES=300 (JXC_TRADE_STEPS, default 30), with --hypothesis-seed=N;
JXC_TRADE_STATS=1 prints how often each rule was accepted or refused (and why).
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections import Counter, defaultdict
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
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from jxc.db.base import Base
from jxc.db.models import (
    Account,
    ArapItem,
    CashDoc,
    Company,
    InvoiceLine,
    InvoiceLink,
    Partner,
    PartnerBalance,
    Settlement,
    StockDocLine,
    StockEntry,
    TradeOrderLine,
)
from jxc.db.session import make_engine
from jxc.domain.costing import NothingToAdjust, Shortfall
from jxc.domain.errors import BatchInvalid, InvalidInput, InvalidTransition, JxcError
from jxc.domain.stockdocs import DependentDocuments
from jxc.domain.trade import CreditLimitExceeded, MatchMismatch, SettleRefused
from jxc.services import cash, checks, invoices, masterdata, orderlinks, orders, stock, users
from jxc.services.stock import StockDocIn, StockLineIn
from tests.conftest import make_book

pytestmark = pytest.mark.slow

D = Decimal
ZERO = D("0")
CENT = D("0.01")

PRODUCTS = {"P1": ("moving_average", D("0.13")), "P2": ("fifo", D("0.09"))}
SUPPLIERS, CUSTOMERS = ("S1", "S2"), ("C1", "C2")  # C1 has the example's credit limit
DAYS = (date(2026, 1, 5), date(2026, 1, 12), date(2026, 1, 20), date(2026, 2, 3), date(2026, 2, 17))
WRITEOFF_LIMIT = D("10.00")
MATCH_TOLERANCE = D("0.05")

# Bugs this machine found that are still open (regression tests, xfail, in
# tests/integration/test_trade_regressions.py). The machine tolerates the known wrong result (or,
# for a bug that breaks a step, does not take that step), so that it keeps testing everything
# else until they are fixed; remove the entry, and what refers to it, with the fix.
KNOWN_BUGS = {
    # A purchase return (or red copy) posts 220202 at the stock cost it takes, not at the
    # receipt's 暂估 share: a rounded share of the whole receipt, all that is left when it empties
    # a moving-average stock, FIFO layer costs. A receipt line with nothing left to invoice or
    # return can so keep 暂估 that nothing clears.
    "return_value": "test_estimated_payable_is_cleared_when_a_receipt_is_fully_invoiced_and_returned, "
                    "test_returning_a_whole_receipt_clears_its_estimated_payable, "
                    "test_reversing_a_fifo_receipt_clears_its_estimated_payable",
}

TRADE_SETTINGS = settings(
    max_examples=int(os.environ.get("JXC_TRADE_EXAMPLES", "40")),
    stateful_step_count=int(os.environ.get("JXC_TRADE_STEPS", "30")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.filter_too_much],
)

# --- strategies ---------------------------------------------------------------------------------

quantities = st.one_of(st.integers(1, 12).map(D), st.sampled_from((D("0.5"), D("2.5"), D("3"), D("3.3333"))))
BUY_PRICES = (D("10"), D("12.5"), D("3.3333"), D("0.07"), D("7.01"))
SELL_PRICES = (D("15"), D("20.01"), D("7.7777"), D("0.11"))
buy_prices = st.sampled_from(BUY_PRICES)
sell_prices = st.sampled_from(SELL_PRICES)
days = st.integers(0, 359)  # an index into the machine's days (TradeBook.open_days)
picks = st.integers(0, 10**6)
products = st.sampled_from(tuple(PRODUCTS))


# receipts/payments: mostly valid, some with one fault (refused)
CASH_ARGS: dict[str, st.SearchStrategy[Any]] = dict(
    side=st.sampled_from(("purchase", "sales")), who=st.integers(0, 1), pick=picks, n=st.integers(0, 2),
    mode=st.sampled_from(("full", "part")), writeoff=st.sampled_from((ZERO, D("0.50"))),
    extra=st.sampled_from((ZERO, D("50.00"))), day=days, audit=st.integers(0, 4),
    fault=st.sampled_from(("none",) * 6 + ("over", "other", "writeoff", "account", "short")))


def money(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


def portion(q: Decimal, of_q: Decimal, of_v: Decimal) -> Decimal:
    return of_v if q == of_q else money(q * of_v / of_q)


def split_difference(diff: Decimal, q: Decimal, on_hand: Decimal) -> tuple[Decimal, Decimal]:
    if q == 0 or diff == 0:
        return ZERO, diff
    in_stock = min(abs(q), max(on_hand, ZERO))
    to_stock = diff if in_stock == abs(q) else money(diff * in_stock / abs(q))
    return to_stock, diff - to_stock


def mismatch(expected: Decimal, actual: Decimal) -> bool:
    if expected == 0:
        return actual != 0
    return abs(actual - expected) > abs(expected) * MATCH_TOLERANCE


# --- the model ----------------------------------------------------------------------------------

IN_SIGN = {"purchase_receipt": 1, "sales_return": 1, "sales_delivery": -1, "purchase_return": -1}
SOURCE_OF = {"purchase_return": "purchase_receipt", "sales_return": "sales_delivery"}
RETURN_OF = {v: k for k, v in SOURCE_OF.items()}
SIDE_OF = {"purchase_receipt": "purchase", "purchase_return": "purchase", "sales_delivery": "sales",
           "sales_return": "sales"}
ANY = "either"  # an expectation: accepted or refused, the model cannot tell

LineKey = tuple[int, int]  # (stock doc id, line_no)
Ledger = dict[str, list[tuple[date, int, Decimal]]]


@dataclass
class OLine:
    id: int
    product: str
    qty: Decimal
    price: Decimal
    rate: Decimal
    done: Decimal = ZERO
    returned: Decimal = ZERO
    invoiced: Decimal = ZERO

    @property
    def open(self) -> Decimal:
        return max(self.qty - (self.done - self.returned), ZERO)


@dataclass
class MOrder:
    id: int
    no: str
    side: str
    partner: str
    lines: list[OLine]
    status: str
    total: Decimal


@dataclass
class SLine:
    line_no: int
    product: str
    qty: Decimal
    price: Decimal | None
    rate: Decimal | None
    id: int = 0
    order_line: OLine | None = None
    src: LineKey | None = None  # the line it returns / reverses
    inv: Decimal = ZERO  # net invoiced (receipt/delivery lines); red-invoiced (returns)
    inv_value: Decimal = ZERO  # 暂估 cleared by invoices (receipt lines)
    billed_blue: Decimal = ZERO  # what blue invoices bill of it (receipt/delivery lines)


@dataclass
class SDoc:
    id: int
    no: str
    doc_type: str
    red: bool
    day: date
    partner: str
    lines: list[SLine]
    source: int | None = None
    order: MOrder | None = None
    audited: bool = False
    seq: int = 0

    @property
    def side(self) -> str:
        return SIDE_OF[self.doc_type]

    def events(self) -> list[tuple[str, Decimal]]:
        sign = IN_SIGN[self.doc_type] * (-1 if self.red else 1)
        return [(ln.product, sign * ln.qty) for ln in self.lines]


@dataclass
class ILink:
    stock: LineKey
    qty: Decimal
    booked: Decimal = ZERO
    to_stock: Decimal = ZERO


@dataclass
class ILine:
    product: str
    qty: Decimal
    price: Decimal
    rate: Decimal
    links: list[ILink] = field(default_factory=list)

    @property
    def amount(self) -> Decimal:
        return money(self.qty * self.price)

    @property
    def tax(self) -> Decimal:
        return money(self.amount * self.rate)

    @property
    def total(self) -> Decimal:
        return self.amount + self.tax


@dataclass
class MInv:
    id: int
    no: str
    side: str
    red: bool
    kind: str
    partner: str
    day: date
    lines: list[ILine]
    audited: bool = False
    settled: Decimal = ZERO  # blue: applied to it; red: used of it as a credit
    adjust_seq: int = 0  # the ledger position of its price-difference cost adjustment

    @property
    def total(self) -> Decimal:
        return sum((ln.total for ln in self.lines), ZERO)


@dataclass
class MCash:
    id: int
    no: str
    side: str
    partner: str
    amount: Decimal
    day: date
    settle: list[tuple[MInv, Decimal, Decimal]]  # (invoice, amount, write-off)
    audited: bool = False
    own: str | None = None  # its settlement's number, while that stands
    used: Decimal = ZERO  # what later settlements took of it

    @property
    def applied(self) -> Decimal:
        return sum((a for _, a, _ in self.settle), ZERO)

    @property
    def written(self) -> Decimal:
        return sum((w for _, _, w in self.settle), ZERO)

    @property
    def credit_open(self) -> Decimal:
        """What it still offers a settlement: its advance, and its applied part once its own
        settlement is undone, less what settlements took."""
        main = ZERO if self.own else self.applied + self.written
        return main + (self.amount - self.applied) - self.used


@dataclass
class MSettle:
    no: str
    side: str
    partner: str
    invoices: list[tuple[MInv, Decimal]]
    credits: list[tuple[MCash | MInv, Decimal]]
    day: date


# JXC_TRADE_STATS=1 prints how often each rule was accepted / refused (coverage of the machine).
STATS: Counter[tuple[str, str]] = Counter()


def _rule_name() -> str:
    frame = sys._getframe(2)
    names = []
    while frame is not None and len(names) < 8:
        names.append(frame.f_code.co_name)
        frame = frame.f_back  # type: ignore[assignment]
    return next((n for n in reversed(names) if n in RULES), names[0])


RULES: set[str] = set()
Expect = Any  # None (accepted), a tuple of JxcError types (refused with one of them), or ANY


# --- the book ------------------------------------------------------------------------------------

def snapshot(db: Session) -> dict[str, list[Any]]:
    """Every row of every table: a refused step must leave all of it as it was."""
    with db.begin():
        return {t.name: [tuple(r) for r in db.execute(select(t).order_by(*t.primary_key.columns))]
                for t in Base.metadata.sorted_tables}


def make_template(directory: Path) -> Path:
    path = directory / "template-trade.db"
    engine = make_book(f"sqlite:///{path}")
    add_master_data(engine)
    engine.dispose()
    return path


def add_master_data(engine: Engine) -> None:
    """The template's master data (see the module docstring), committed."""
    with Session(engine, expire_on_commit=False) as db:
        admin = users.load_actor(db, "admin")
        db.rollback()
        masterdata.add_warehouse(db, masterdata.WarehouseIn("W1", "warehouse W1"), actor=admin)
        for code in SUPPLIERS:
            masterdata.add_partner(db, masterdata.PartnerIn(code, f"supplier {code}", "supplier"), actor=admin)
        for code in CUSTOMERS:
            masterdata.add_partner(db, masterdata.PartnerIn(code, f"customer {code}", "customer"), actor=admin)
        for code, (method, rate) in PRODUCTS.items():
            masterdata.add_product(db, masterdata.ProductIn(code, f"product {code}", "pcs", rate,
                                                            costing_method=method), actor=admin)
        with db.begin():
            c = db.execute(select(Company)).scalar_one()
            assert (c.match_tolerance, c.writeoff_limit) == (MATCH_TOLERANCE, WRITEOFF_LIMIT)
            assert c.writeoff_account_id is not None


def copy_book(template: Path, target: Path) -> None:
    src = sqlite3.connect(template)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def make_machine(template: Path, workdir: Path) -> type[RuleBasedStateMachine]:
    counter = iter(range(10**9))

    class TradeBook(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.orders: dict[int, MOrder] = {}
            self.docs: dict[int, SDoc] = {}
            self.invs: dict[int, MInv] = {}
            self.cash_docs: dict[int, MCash] = {}
            self.settlements: dict[str, MSettle] = {}
            self.adjusts: list[tuple[str, date, int]] = []  # (product, day, seq) of invoice cost adjustments
            self.adjust_of: dict[int, list[tuple[str, date, int]]] = {}
            self.seq = 0
            self.changed = True  # the invariants run after steps that changed the book
            self.engine: Engine | None = None
            self.db: Session | None = None
            self.path: Path | None = None

        # -- setting up -----------------------------------------------------------------------

        @initialize(control=st.sampled_from(("off", "warn", "block")),
                    limit=st.sampled_from((None, D("60"), D("400"))),
                    tolerance=st.sampled_from((ZERO, D("0.1"))),
                    stock_in=st.lists(st.tuples(st.sampled_from(SUPPLIERS), products, quantities, buy_prices),
                                      min_size=1, max_size=3),
                    stock_out=st.lists(st.tuples(st.sampled_from(CUSTOMERS), products, quantities, sell_prices),
                                       max_size=2))
        def open_book(self, control: str, limit: Decimal | None, tolerance: Decimal,
                      stock_in: list[tuple[str, str, Decimal, Decimal]],
                      stock_out: list[tuple[str, str, Decimal, Decimal]]) -> None:
            """A fresh book with the example's settings, some goods received and some delivered,
            so that most examples have something to invoice from the start."""
            self.db = self.connect()
            self.admin = users.load_actor(self.db, "admin")
            self.db.rollback()
            self.control, self.limit, self.tolerance = control, limit, tolerance
            note(f"book: credit control {control}, C1 limit {limit}, order tolerance {tolerance}")
            with self.db.begin():
                self.db.execute(update(Company).values(credit_control=control, order_tolerance=tolerance))
                self.db.execute(update(Partner).where(Partner.code == "C1").values(credit_limit=limit))
                self.partner_ids = dict(self.db.execute(select(Partner.code, Partner.id)).all())
            for partner, p, q, price in stock_in:
                self.enter_doc("purchase_receipt", DAYS[0], partner, [SLine(1, p, q * 4, price, PRODUCTS[p][1])])
            for partner, p, q, price in stock_out:
                self.enter_doc("sales_delivery", DAYS[1], partner, [SLine(1, p, q, price, PRODUCTS[p][1])])

        def connect(self) -> Session:
            """A session on a fresh copy of the template book."""
            self.path = workdir / f"book-{next(counter)}.db"
            copy_book(template, self.path)
            self.engine = make_engine(f"sqlite:///{self.path}")
            return Session(self.engine, expire_on_commit=False)

        def teardown(self) -> None:
            if self.db is not None:
                self.db.close()
            if self.engine is not None:
                self.engine.dispose()
            if self.path is not None:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{self.path}{suffix}").unlink(missing_ok=True)

        # -- dates --------------------------------------------------------------------------

        def open_days(self) -> list[date]:
            """The days a step may date what it enters (a machine that closes periods leaves
            out the closed ones)."""
            return list(DAYS)

        def day(self, pick: int) -> date:
            days = self.open_days()
            return days[pick % len(days)]

        def later_days(self, day: date) -> list[date]:
            """The open days on or after `day` (never empty: the last day stays open)."""
            return [d for d in self.open_days() if d >= day]

        def live(self, day: date) -> bool:
            """Whether what is dated `day` may still be changed (un-audited, un-settled)."""
            return True

        # -- running a step -------------------------------------------------------------------

        def attempt(self, expected: Expect, call: Any) -> Any:
            """Run a service call: accepted when `expected` is None, refused with one of the
            `expected` types (then every table is as it was), or either (ANY)."""
            assert self.db is not None
            before = snapshot(self.db) if expected is not None else None
            name = _rule_name() if STATS_ON else ""
            try:
                ref = call()
            except JxcError as exc:
                STATS[(name, f"refused {type(exc).__name__} {exc.params.get('reason', '')}")] += 1
                note(f"  -> refused {type(exc).__name__} {exc.params}")
                assert expected is not None, f"expected success, got {type(exc).__name__} {exc.params}"
                assert expected is ANY or isinstance(exc, expected), \
                    f"expected {[e.__name__ for e in expected]}, got {type(exc).__name__} {exc.params}"
                assert snapshot(self.db) == before, "a refused step changed the book"
                return None
            STATS[(name, "ok")] += 1
            self.changed = True
            note(f"  -> ok {ref}")
            assert expected is None or expected is ANY, \
                f"expected a refusal {[e.__name__ for e in expected]}, the service accepted it"
            return ref

        def read(self, stmt: Any) -> list[Any]:
            assert self.db is not None
            with self.db.begin():
                return list(self.db.execute(stmt))

        # -- the stock model ------------------------------------------------------------------

        def ledger(self, without: int | None = None, extra: SDoc | None = None) -> Ledger:
            """Per product, the (day, audit order, signed qty) of every audited movement (0: an
            invoice's cost adjustment), in ledger order; without one document, or with one more."""
            out: Ledger = defaultdict(list)
            for d in self.docs.values():
                if d.audited and d.id != without:
                    for p, q in d.events():
                        out[p].append((d.day, d.seq, q))
            if extra is not None:
                for p, q in extra.events():
                    out[p].append((extra.day, self.seq + 1, q))
            for p, day, seq in self.adjusts:
                out[p].append((day, seq, ZERO))
            for events in out.values():
                events.sort(key=lambda t: (t[0], t[1]))
            return out

        def stock_refusal(self, led: Ledger, touched: set[str]) -> Expect:
            """Shortfall when a running balance goes negative; NothingToAdjust when a cost
            adjustment finds no stock; either when a FIFO key carries an invoice's adjustment
            (its layer may be gone: the model does not follow FIFO layers)."""
            found: list[type[JxcError]] = []
            for p, events in led.items():
                run = ZERO
                for _, _, q in events:
                    if q == 0 and run <= 0 and PRODUCTS[p][0] != "fifo" and NothingToAdjust not in found:
                        found.append(NothingToAdjust)
                    run += q
                    if run < 0 and Shortfall not in found:
                        found.append(Shortfall)
            if found:
                return tuple(found)
            if any(PRODUCTS[p][0] == "fifo" and any(q == 0 for _, _, q in led.get(p, [])) for p in touched):
                return ANY
            return None

        def qty_at(self, product: str, day: date) -> Decimal:
            return sum((q for d, _, q in self.ledger().get(product, []) if d <= day), ZERO)

        def line(self, key: LineKey) -> SLine:
            return next(ln for ln in self.docs[key[0]].lines if ln.line_no == key[1])

        def takers(self, pool_doc: SDoc) -> list[SDoc]:
            """Audited documents that take quantity back from a receipt/delivery: its returns and
            its red copy (and, giving back, the red copies of those returns)."""
            return [d for d in self.docs.values() if d.audited and d.source == pool_doc.id]

        def returned(self, key: LineKey, values: dict[int, Decimal] | None = None) -> tuple[Decimal, Decimal]:
            """(qty, booked value) taken back from a receipt/delivery line by returns and red copies."""
            q = v = ZERO
            for d in self.takers(self.docs[key[0]]):
                for ln in d.lines:
                    if ln.src != key:
                        continue
                    q += ln.qty
                    v += values.get(ln.id, ZERO) if values else ZERO
                    if not d.red:  # a return: its red copy gives it back
                        for r in self.takers(d):
                            for rl in r.lines:
                                if rl.src == (d.id, ln.line_no):
                                    q -= rl.qty
                                    v -= values.get(rl.id, ZERO) if values else ZERO
            return q, v

        def left(self, key: LineKey) -> Decimal:
            """A receipt/delivery line's quantity left to invoice (negative: billed beyond what was
            kept, a return awaits a red invoice)."""
            ln = self.line(key)
            return ln.qty - self.returned(key)[0] - ln.inv

        def billable(self, key: LineKey, red: bool) -> Decimal:
            if not red:
                return max(self.left(key), ZERO)
            ret = self.line(key)
            assert ret.src is not None
            undone = sum((ln.qty for d in self.takers(self.docs[key[0]]) for ln in d.lines if ln.src == key), ZERO)
            return max(min(ret.qty - undone - ret.inv, -self.left(ret.src)), ZERO)

        # -- entering stock documents ---------------------------------------------------------

        def doc_refusals(self, doc: SDoc) -> list[type[JxcError]]:
            """What auditing `doc` now must refuse for, apart from stock (None: accepted)."""
            found: list[type[JxcError]] = []
            if doc.source is not None:
                src = self.docs[doc.source]
                if not src.audited:
                    found.append(InvalidInput)
                if doc.red and self.invoiced_by(src):  # an invoice bills what it would take back
                    found.append(DependentDocuments)
                for ln in doc.lines:
                    if ln.src is not None and ln.qty > self.line(ln.src).qty - self.returned(ln.src)[0]:
                        found.append(InvalidInput)
            if doc.order is not None and not doc.red and doc.doc_type not in SOURCE_OF:
                for ln in doc.lines:
                    o = ln.order_line
                    assert o is not None
                    if doc.order.status != "audited" or \
                            o.done + ln.qty - o.returned > o.qty * (1 + self.tolerance):
                        found.append(InvalidInput)
            if doc.doc_type == "sales_delivery" and not doc.red and self.control == "block" \
                    and self.over_credit(doc.partner, self.doc_value(doc)):
                found.append(CreditLimitExceeded)
            return found

        def doc_value(self, doc: SDoc) -> Decimal:
            return sum((money(ln.qty * ln.price * (1 + (ln.rate or ZERO))) for ln in doc.lines
                        if ln.price is not None), ZERO)

        def over_credit(self, partner: str, amount: Decimal) -> bool:
            """Whether `amount` more takes the customer over its credit limit."""
            if partner != "C1" or self.limit is None or self.control == "off" or amount <= 0:
                return False
            return self.exposure(partner) + amount > self.limit

        def expect_audit(self, doc: SDoc) -> Expect:
            found = self.doc_refusals(doc)
            stock_side = self.stock_refusal(self.ledger(extra=doc), {ln.product for ln in doc.lines})
            if stock_side is ANY:
                return tuple(found) if found else ANY
            found += list(stock_side or ())
            return tuple(found) if found else None

        def mark_audited(self, doc: SDoc) -> None:
            self.seq += 1
            doc.seq = self.seq
            doc.audited = True
            self.order_effect(doc, 1)

        def order_effect(self, doc: SDoc, sign: int) -> None:
            direction = -sign if doc.red else sign
            for ln in doc.lines:
                if ln.order_line is None:
                    continue
                if doc.doc_type in SOURCE_OF:
                    ln.order_line.returned += direction * ln.qty
                else:
                    ln.order_line.done += direction * ln.qty

        def line_ids(self, doc_id: int) -> dict[int, int]:
            return {r.line_no: r.id for r in self.read(select(StockDocLine.line_no, StockDocLine.id)
                                                       .where(StockDocLine.doc_id == doc_id))}

        def warned(self, ref: Any, partner: str, amount: Decimal) -> None:
            """Credit control 'warn': a warning exactly when the document goes over the limit."""
            want = self.control == "warn" and self.over_credit(partner, amount)
            got = bool(getattr(ref, "warnings", ()))
            if got:
                STATS[("credit", "warned")] += 1
            assert got == want, f"credit warning {ref.warnings} but the model says over the limit: {want}"

        def enter_doc(self, doc_type: str, day: date, partner: str, lines: list[SLine], *,
                      source: SDoc | None = None, order: MOrder | None = None, audit: bool = True,
                      enter_refusal: list[type[JxcError]] | None = None) -> SDoc | None:
            assert self.db is not None
            doc = SDoc(-1, "", doc_type, False, day, partner, lines, source.id if source else None, order)
            data = StockDocIn(doc_type, day, tuple(
                StockLineIn(ln.product, ln.qty, ln.price, tax_rate=ln.rate if ln.price is not None else None)
                for ln in lines), warehouse="W1", partner=partner, source=source.no if source else None,
                order=order.no if order else None)
            note(f"{doc_type}{' (draft)' if not audit else ''} {day} {partner} "
                 f"{[(ln.product, str(ln.qty), str(ln.price)) for ln in lines]}"
                 f"{' source ' + source.no if source else ''}{' order ' + order.no if order else ''}")
            if enter_refusal:
                expected: Expect = tuple(enter_refusal)
            elif audit:
                expected = self.expect_audit(doc)
            else:
                expected = None
            value = self.doc_value(doc)
            ref = self.attempt(expected, lambda: stock.create_stock_doc(self.db, data, actor=self.admin, audit=audit))
            if ref is None:
                return None
            doc.id, doc.no = ref.id, ref.no
            ids = self.line_ids(ref.id)
            for ln in lines:
                ln.id = ids[ln.line_no]
            self.docs[doc.id] = doc
            if audit:
                if doc_type == "sales_delivery":
                    self.warned(ref, partner, value)
                self.mark_audited(doc)
            return doc

        # -- stock rules ----------------------------------------------------------------------

        @rule(side=st.sampled_from(("purchase", "sales")), who=st.integers(0, 1), day=days,
              lines=st.lists(st.tuples(products, quantities, st.integers(0, 4)), min_size=1, max_size=2,
                             unique_by=lambda t: t[0]))
        def receive_or_deliver(self, side: str, who: int, day: int, lines: list[tuple[Any, ...]]) -> None:
            """A purchase receipt or a sales delivery without an order."""
            when = self.day(day)
            if side == "purchase":
                self.enter_doc("purchase_receipt", when, SUPPLIERS[who], [
                    SLine(i, p, q, BUY_PRICES[k], PRODUCTS[p][1]) for i, (p, q, k) in enumerate(lines, 1)])
            else:
                self.enter_doc("sales_delivery", when, CUSTOMERS[who], [
                    SLine(i, p, q, SELL_PRICES[k % len(SELL_PRICES)], PRODUCTS[p][1])
                    for i, (p, q, k) in enumerate(lines, 1)])

        @precondition(lambda self: self.orders)
        @rule(pick=picks, day=days, mode=st.sampled_from(("form", "open", "part", "over")), extra=quantities)
        def from_order(self, pick: int, day: int, mode: str, extra: Decimal) -> None:
            """A receipt/delivery against an order (any status: a draft or closed one is refused)."""
            when = self.day(day)
            candidates = sorted(self.orders.values(), key=lambda o: o.id)
            order = self.prefer(pick, candidates, [o for o in candidates if o.status == "audited"])
            doc_type = "purchase_receipt" if order.side == "purchase" else "sales_delivery"
            if mode == "form":
                note(f"stock_doc_from_order {order.no}")
                if order.status != "audited" or not any(o.open > 0 for o in order.lines):
                    self.attempt((InvalidInput,), lambda: orders.stock_doc_from_order(
                        self.db, order.side, order.no, when, "W1", actor=self.admin))
                    return
                form = orders.stock_doc_from_order(self.db, order.side, order.no, when, "W1", actor=self.admin)
                want = [(o.product, o.open, o.price) for o in order.lines if o.open > 0]
                assert [(ln.product, ln.qty, ln.price) for ln in form.lines] == want, (form.lines, want)
                qtys = [o.open for o in order.lines]
            elif mode == "open":
                qtys = [o.open for o in order.lines]
            elif mode == "part":
                qtys = [min(o.open, extra) if o.open > 0 else ZERO for o in order.lines]
            else:
                qtys = [o.open + extra for o in order.lines]
            lines = [SLine(0, o.product, q, o.price, o.rate, order_line=o)
                     for o, q in zip(order.lines, qtys, strict=True) if q > 0]
            if not lines:
                return
            for i, ln in enumerate(lines, 1):
                ln.line_no = i
            enter: list[type[JxcError]] = [InvalidInput] if order.status != "audited" else []
            self.enter_doc(doc_type, when, order.partner, lines, order=order, enter_refusal=enter)

        def returnable(self) -> list[SDoc]:
            return [d for d in sorted(self.docs.values(), key=lambda d: d.id)
                    if d.audited and not d.red and d.doc_type in RETURN_OF
                    and any(ln.qty > self.returned((d.id, ln.line_no))[0] for ln in d.lines)]

        @precondition(lambda self: self.returnable())
        @rule(pick=picks, when=st.integers(0, 9), mode=st.sampled_from(("left", "part", "part", "over")),
              qty=quantities,
              priced=st.booleans(), audit=st.integers(0, 9))
        def give_back(self, pick: int, when: int, mode: str, qty: Decimal, priced: bool, audit: int) -> None:
            """A return against a receipt/delivery: all that is left, part, or more (refused)."""
            reds = [d for d in sorted(self.docs.values(), key=lambda d: d.id)
                    if d.audited and d.red and d.doc_type in RETURN_OF]
            if reds and pick % 5 == 0:  # a red-letter copy is no source: refused
                red = reds[pick % len(reds)]
                ln = red.lines[0]
                self.enter_doc(RETURN_OF[red.doc_type], max(self.open_days()), red.partner,
                               [SLine(1, ln.product, ln.qty, None, None, src=(red.id, ln.line_no))],
                               source=red, enter_refusal=[InvalidInput])
                return
            sources = self.returnable()
            src = sources[pick % len(sources)]
            lines = [ln for ln in src.lines if ln.qty > self.returned((src.id, ln.line_no))[0]]
            ln = lines[(pick // len(sources)) % len(lines)]
            left = ln.qty - self.returned((src.id, ln.line_no))[0]
            q = {"left": left, "part": min(left, qty), "over": left + qty}[mode]
            if q <= 0:
                q = qty
            later = self.later_days(src.day)
            self.enter_doc(RETURN_OF[src.doc_type], later[when % len(later)], src.partner,
                           [SLine(1, ln.product, q, ln.price if priced else None, ln.rate if priced else None,
                                  order_line=ln.order_line, src=(src.id, ln.line_no))],
                           source=src, audit=audit > 0)

        @precondition(lambda self: any(d.audited and not d.red and not self.takers(d) for d in self.docs.values()))
        @rule(pick=picks, when=st.integers(0, 9), draft=st.integers(0, 5))
        def reverse(self, pick: int, when: int, draft: int) -> None:
            """红字冲销 of a receipt, delivery or return."""
            candidates = [d for d in sorted(self.docs.values(), key=lambda d: d.id) if d.audited and not d.red]
            fresh = [d for d in candidates if not self.takers(d)]
            src = candidates[pick % len(candidates)] if pick % 5 == 0 else fresh[pick % len(fresh)]
            later = self.later_days(src.day)
            day = later[when % len(later)]
            red = SDoc(-1, "", src.doc_type, True, day, src.partner,
                       [SLine(ln.line_no, ln.product, ln.qty, ln.price, ln.rate, order_line=ln.order_line,
                              src=(src.id, ln.line_no)) for ln in src.lines], source=src.id, order=src.order)
            audit = draft > 0
            note(f"reverse {src.no} on {day}{'' if audit else ' (draft)'}")
            expected = (DependentDocuments,) if self.invoiced_by(src) else self.expect_audit(red) if audit else None
            ref = self.attempt(expected, lambda: stock.reverse_stock_doc(
                self.db, src.id, day, actor=self.admin, audit=audit))
            if ref is not None:
                red.id, red.no = ref.id, ref.no
                ids = self.line_ids(ref.id)
                for ln in red.lines:
                    ln.id = ids[ln.line_no]
                self.docs[red.id] = red
                if audit:
                    self.mark_audited(red)

        def invoiced_by(self, doc: SDoc) -> list[MInv]:
            keys = {(doc.id, ln.line_no) for ln in doc.lines}
            return [i for i in self.invs.values() if any(lk.stock in keys for il in i.lines for lk in il.links)]

        def unaudit_doc(self, pick: int) -> None:
            candidates = [d for d in sorted(self.docs.values(), key=lambda d: d.id) if d.audited and self.live(d.day)]
            doc = self.prefer(pick, candidates, [d for d in candidates if self.invoiced_by(d) or self.takers(d)])
            note(f"unaudit {doc.no}")
            found: list[type[JxcError]] = []
            if self.takers(doc) or self.invoiced_by(doc):
                found.append(DependentDocuments)
            stock_side = self.stock_refusal(self.ledger(without=doc.id), {ln.product for ln in doc.lines})
            expected: Expect
            if stock_side is ANY:
                expected = ANY
            else:
                found += list(stock_side or ())
                expected = tuple(found) if found else None
            if self.attempt(expected, lambda: stock.unaudit_stock_doc(self.db, doc.id, actor=self.admin)):
                doc.audited = False
                self.order_effect(doc, -1)

        def audit_doc(self, pick: int) -> None:
            drafts = [d for d in sorted(self.docs.values(), key=lambda d: d.id) if not d.audited]
            doc = drafts[pick % len(drafts)]
            note(f"audit {doc.no}")
            value = self.doc_value(doc)
            ref = self.attempt(self.expect_audit(doc), lambda: stock.audit_stock_doc(self.db, doc.id, actor=self.admin))
            if ref is not None:
                if doc.doc_type == "sales_delivery" and not doc.red:
                    self.warned(ref, doc.partner, value)
                self.mark_audited(doc)

        def delete_doc(self, pick: int) -> None:
            drafts = [d for d in sorted(self.docs.values(), key=lambda d: d.id) if not d.audited]
            doc = drafts[pick % len(drafts)]
            named = any(d.source == doc.id for d in self.docs.values())  # a draft return or red copy
            note(f"delete {doc.no}")
            self.attempt((DependentDocuments,) if named else None,
                         lambda: stock.delete_stock_doc(self.db, doc.id, actor=self.admin))
            if not named:
                del self.docs[doc.id]

        # -- orders ---------------------------------------------------------------------------

        @rule(side=st.sampled_from(("purchase", "sales")), who=st.integers(0, 1), day=days, draft=st.integers(0, 3),
              lines=st.lists(st.tuples(products, quantities, st.booleans()), min_size=1, max_size=2,
                             unique_by=lambda t: t[0]))
        def create_order(self, side: str, who: int, day: int, draft: int, lines: list[tuple[Any, ...]]) -> None:
            """An order, audited (a sales order: credit checked) or left a draft."""
            when = self.day(day)
            audit = draft > 0
            partner = (SUPPLIERS if side == "purchase" else CUSTOMERS)[who]
            olines = [OLine(0, p, q * 2, (D("10") if side == "purchase" else D("20.01")) if cheap else
                            (D("3.3333") if side == "purchase" else D("7.7777")), PRODUCTS[p][1])
                      for p, q, cheap in lines]
            total = sum((money(money(o.qty * o.price) * o.rate) + money(o.qty * o.price) for o in olines), ZERO)
            order = MOrder(-1, "", side, partner, olines, "draft", total)
            expected: Expect = None
            if audit and side == "sales" and self.control == "block" and self.over_credit(partner, total):
                expected = (CreditLimitExceeded,)
            note(f"order {side} {partner} {when} audit={audit} "
                 f"{[(o.product, str(o.qty), str(o.price)) for o in olines]}")
            ref = self.attempt(expected, lambda: orders.create_order(self.db, orders.OrderIn(side, partner, when, tuple(
                orders.OrderLineIn(o.product, o.qty, o.price) for o in olines)), actor=self.admin, audit=audit))
            if ref is None:
                return
            assert ref.total == total, (ref.total, total)
            if audit and side == "sales":
                self.warned(ref, partner, total)
            order.id, order.no, order.status = ref.id, ref.no, ref.status
            ids = dict(self.read(select(TradeOrderLine.line_no, TradeOrderLine.id)
                                 .where(TradeOrderLine.order_id == ref.id)))
            for i, o in enumerate(olines, 1):
                o.id = ids[i]
            self.orders[order.id] = order

        @precondition(lambda self: self.orders)
        @rule(pick=picks, action=st.sampled_from(("audit", "unaudit", "close", "reopen", "cancel", "delete")))
        def order_action(self, pick: int, action: str) -> None:
            candidates = sorted(self.orders.values(), key=lambda o: o.id)
            order = candidates[pick % len(candidates)]
            note(f"order {action} {order.no} ({order.status})")
            touched = any(o.done or o.returned or o.invoiced for o in order.lines)
            sources = {"audit": ("draft",), "unaudit": ("audited",), "close": ("audited",), "reopen": ("closed",),
                       "cancel": ("draft", "audited"), "delete": ("draft",)}[action]
            target = {"audit": "audited", "unaudit": "draft", "close": "closed", "reopen": "audited",
                      "cancel": "cancelled", "delete": None}[action]
            expected: Expect = None
            if order.status not in sources:
                expected = (InvalidTransition,)
            elif action in ("unaudit", "cancel") and touched:
                expected = (InvalidInput,)
            elif action == "audit" and order.side == "sales" and self.control == "block" \
                    and self.over_credit(order.partner, order.total):
                expected = (CreditLimitExceeded,)
            elif action == "delete" and any(d.order is order for d in self.docs.values()):
                expected = (DependentDocuments,)  # a receipt/delivery made from it
            if action == "delete":
                call = lambda: orders.delete_order(self.db, order.id, actor=self.admin)  # noqa: E731
            else:
                call = lambda: orders.order_action(self.db, order.id, action, actor=self.admin)  # noqa: E731
            ref = self.attempt(expected, call)
            if expected is not None:
                return
            if action == "delete":
                del self.orders[order.id]
                return
            if action == "audit" and order.side == "sales":
                self.warned(ref, order.partner, order.total)
            assert target is not None
            order.status = target

        # -- invoices -------------------------------------------------------------------------

        def pick_sources(self, side: str, red: bool, pick: int, two: bool) -> list[SDoc]:
            """One or two audited documents of one partner an invoice may bill (and sometimes one
            it may not: a draft, a red copy)."""
            doc_type = {("purchase", False): "purchase_receipt", ("purchase", True): "purchase_return",
                        ("sales", False): "sales_delivery", ("sales", True): "sales_return"}[(side, red)]
            docs = [d for d in sorted(self.docs.values(), key=lambda d: d.id) if d.doc_type == doc_type]
            if pick % 5:  # mostly documents with something left to bill
                docs = [d for d in docs if d.audited and not d.red
                        and any(self.billable((d.id, ln.line_no), red) > 0 for ln in d.lines)]
            if not docs:
                return []
            first = docs[pick % len(docs)]
            out = [first]
            if two:
                more = [d for d in docs if d.partner == first.partner and d is not first]
                if more:
                    out.append(more[(pick // 7) % len(more)])
            return out

        def invoice_refusal(self, inv: MInv, sources: list[SDoc]) -> bool:
            return any(not d.audited or d.red or d.day > inv.day or d.partner != inv.partner for d in sources)

        def allocate(self, inv: MInv, sources: list[SDoc]) -> bool:
            """Spread each line over the sources' lines of its product with quantity left, in the
            order given (the service's rule); False when a line does not fit."""
            left = {}
            cands = []
            for d in sources:
                for ln in d.lines:
                    key = (d.id, ln.line_no)
                    cands.append((key, ln.product))
                    left[key] = self.billable(key, inv.red)
            fits = True
            for il in inv.lines:
                want = il.qty
                for key, product in cands:
                    if want == 0:
                        break
                    if product != il.product or left[key] <= 0:
                        continue
                    take = min(want, left[key])
                    left[key] -= take
                    want -= take
                    il.links.append(ILink(key, take))
                if want > 0:
                    fits = False
            return fits

        def audit_refusal(self, inv: MInv, override: bool) -> Expect:
            """What auditing a (valid) draft invoice now must refuse for."""
            wanted: dict[LineKey, Decimal] = defaultdict(lambda: ZERO)
            for il in inv.lines:
                for lk in il.links:
                    wanted[lk.stock] += lk.qty
            if any(q > self.billable(k, inv.red) for k, q in wanted.items()):
                return (InvalidInput,)
            if inv.side == "purchase" and not inv.red and not override:
                for il in inv.lines:
                    for lk in il.links:
                        ln = self.line(lk.stock)
                        if (ln.price is not None and mismatch(ln.price, il.price)) or \
                                (ln.order_line is not None and mismatch(ln.order_line.price, il.price)):
                            return (MatchMismatch,)
            return None

        def entry_values(self) -> dict[int, Decimal]:
            return {r.doc_line_id: abs(r.value) for r in self.read(
                select(StockEntry.doc_line_id, StockEntry.value).where(StockEntry.leg == 0))}

        def pool_value(self, key: LineKey, values: dict[int, Decimal]) -> tuple[Decimal, Decimal]:
            """(qty, 暂估 value) left of a receipt line."""
            ln = self.line(key)
            rq, rv = self.returned(key, values)
            return ln.qty - rq - ln.inv, values.get(ln.id, ZERO) - rv - ln.inv_value

        def book(self, inv: MInv, direction: int, values: dict[int, Decimal] | None = None) -> None:
            """Audit (1) or un-audit (-1) an invoice in the model: what it bills, the 暂估 it
            clears (purchase: the service's _cost_purchase rule, on the stock values before the
            audit), order lines."""
            sign = -1 if inv.red else 1
            if direction > 0 and inv.side == "purchase":
                assert values is not None
                left: dict[LineKey, tuple[Decimal, Decimal]] = {}
                for il in inv.lines:
                    cost_left = il.amount if inv.kind == "special" else il.total
                    qty_left = il.qty
                    for lk in il.links:
                        cost = portion(lk.qty, qty_left, cost_left)
                        cost_left -= cost
                        qty_left -= lk.qty
                        pool_key = lk.stock if not inv.red else self.line(lk.stock).src
                        assert pool_key is not None
                        pq, pv = left.get(pool_key) or self.pool_value(pool_key, values)
                        if not inv.red:
                            lk.booked = portion(lk.qty, pq, pv) if pq > 0 else ZERO
                            left[pool_key] = (pq - lk.qty, pv - lk.booked)
                        else:
                            lk.booked = portion(lk.qty, -pq, -pv) if pq < 0 else ZERO
                            left[pool_key] = (pq + lk.qty, pv + lk.booked)
                        product = self.line(pool_key).product
                        on_hand = self.qty_at(product, inv.day)
                        lk.to_stock = split_difference(cost - lk.booked, lk.qty, on_hand)[0] \
                            if PRODUCTS[product][0] != "fifo" else ZERO
            for il in inv.lines:
                for lk in il.links:
                    ln = self.line(lk.stock)
                    pool = ln if not inv.red else self.line(ln.src)  # type: ignore[arg-type]
                    pool.inv += direction * sign * lk.qty
                    pool.inv_value += direction * sign * lk.booked
                    if inv.red:
                        ln.inv += direction * lk.qty
                    else:
                        pool.billed_blue += direction * lk.qty
                    if pool.order_line is not None:
                        pool.order_line.invoiced += direction * sign * lk.qty
            if direction < 0:
                for a in self.adjust_of.pop(inv.id, []):
                    self.adjusts.remove(a)
                for il in inv.lines:
                    for lk in il.links:
                        lk.booked = lk.to_stock = ZERO

        def after_audit(self, inv: MInv) -> None:
            """Compare what the audit wrote on its links with the model (FIFO price differences:
            take the service's split), and put its cost adjustments in the model's ledger."""
            rows = self.read(select(InvoiceLink.qty, InvoiceLink.booked, InvoiceLink.to_stock, InvoiceLine.line_no)
                             .join(InvoiceLine, InvoiceLine.id == InvoiceLink.invoice_line_id)
                             .where(InvoiceLine.invoice_id == inv.id).order_by(InvoiceLine.line_no, InvoiceLink.id))
            links = [lk for il in inv.lines for lk in il.links]
            assert [r.qty for r in rows] == [lk.qty for lk in links], (rows, links)
            made = []
            for r, lk in zip(rows, links, strict=True):
                assert r.booked == lk.booked, \
                    f"{inv.no}: link of {self.line(lk.stock)} booked {r.booked}, model {lk.booked}"
                pool_key = lk.stock if not inv.red else self.line(lk.stock).src
                product = self.line(pool_key).product  # type: ignore[arg-type]
                if PRODUCTS[product][0] == "fifo":
                    lk.to_stock = abs(r.to_stock)
                else:
                    assert r.to_stock == lk.to_stock, f"{inv.no}: to_stock {r.to_stock}, model {lk.to_stock}"
                if lk.to_stock:
                    made.append(product)
            if made:
                self.seq += 1
                inv.adjust_seq = self.seq
                events = [(p, inv.day, self.seq) for p in made]
                self.adjusts += events
                self.adjust_of[inv.id] = events

        def issue_invoice(self, inv: MInv, sources: list[SDoc], audit: bool, override: bool,
                          expected: Expect, form: invoices.InvoiceIn | None = None) -> None:
            data = form or invoices.InvoiceIn(inv.side, inv.partner, inv.day, tuple(
                invoices.InvoiceLineIn(il.product, il.qty, il.price, tax_rate=il.rate) for il in inv.lines),
                invoice_kind=inv.kind, sources=tuple(d.no for d in sources), red=inv.red)
            note(f"{'red ' if inv.red else ''}invoice {inv.side} {inv.kind} {inv.partner} {inv.day} audit={audit} "
                 f"override={override} {[(il.product, str(il.qty), str(il.price)) for il in inv.lines]} "
                 f"sources {[d.no for d in sources]}")
            if expected is None and audit:
                expected = self.audit_refusal(inv, override)
            values = self.entry_values()
            ref = self.attempt(expected, lambda: invoices.create_invoice(
                self.db, data, actor=self.admin, audit=audit, override_match=override))
            if ref is None:
                return
            assert ref.total == inv.total, (ref.total, inv.total)
            inv.id, inv.no = ref.id, ref.no
            self.invs[inv.id] = inv
            view = invoices.get_invoice(self.db, inv.id, actor=self.admin)
            for il, vl in zip(inv.lines, view.lines, strict=True):
                want = tuple((self.docs[lk.stock[0]].no, lk.qty) for lk in il.links)
                assert vl.billed == want, f"{inv.no} line {vl.line_no} bills {vl.billed}, model {want}"
            if audit:
                self.book(inv, 1, values)
                inv.audited = True
                self.after_audit(inv)

        @precondition(lambda self: any(d.audited for d in self.docs.values()))
        @rule(side=st.sampled_from(("purchase", "sales")), red=st.integers(0, 3), pick=picks, two=st.booleans(),
              mode=st.sampled_from(("form", "all", "part", "over")), part=quantities,
              price=st.sampled_from(("same", "close", "far")), kind=st.sampled_from(("special", "ordinary")),
              audit=st.integers(0, 4), override=st.booleans(), when=st.integers(0, 9))
        def invoice(self, side: str, red: int, pick: int, two: bool, mode: str, part: Decimal, price: str,
                    kind: str, audit: int, override: bool, when: int) -> None:
            self.make_invoice(side, red, pick, two, mode, part, price, kind, audit, override, when)

        @precondition(lambda self: any(d.audited for d in self.docs.values()))
        @rule(side=st.sampled_from(("purchase", "sales")), red=st.integers(0, 3), pick=picks, two=st.booleans(),
              mode=st.sampled_from(("form", "all", "part", "over")), part=quantities,
              price=st.sampled_from(("same", "close", "far")), kind=st.sampled_from(("special", "ordinary")),
              audit=st.integers(0, 4), override=st.booleans(), when=st.integers(0, 9))
        def invoice_more(self, side: str, red: int, pick: int, two: bool, mode: str, part: Decimal, price: str,
                         kind: str, audit: int, override: bool, when: int) -> None:
            """The same rule again: invoices are what the machine is about."""
            self.make_invoice(side, red, pick, two, mode, part, price, kind, audit, override, when)

        def make_invoice(self, side: str, red: int, pick: int, two: bool, mode: str, part: Decimal, price: str,
                         kind: str, audit: int, override: bool, when: int) -> None:
            """An invoice billing receipts/deliveries (red: returns): everything left (from the
            form, or by hand), part, or more than is left (refused); at their price, a price
            within the match tolerance or beyond it (purchase: refused without override). One in
            six bills nothing in stock."""
            is_red = red == 0
            if pick % 6 == 0:
                self.standalone_invoice(side, pick // 6, self.day(when), part, is_red, audit > 0)
                return
            sources = self.pick_sources(side, is_red, pick, two)
            if not sources:
                return
            partner = sources[0].partner
            later = self.later_days(max(s.day for s in sources))
            day = self.day(when) if when < 2 else later[when % len(later)]  # sometimes before a source
            inv = MInv(-1, "", side, is_red, kind, partner, day, [])
            if self.invoice_refusal(inv, sources):
                product = sources[0].lines[0].product
                inv.lines = [ILine(product, sources[0].lines[0].qty, D("1"), PRODUCTS[product][1])]
                self.issue_invoice(inv, sources, audit > 0, override, (BatchInvalid,))
                return
            # what is billable, per product, at the source's price
            billable: dict[str, Decimal] = defaultdict(lambda: ZERO)
            prices: dict[str, Decimal] = {}
            for d in sources:
                for ln in d.lines:
                    billable[ln.product] += self.billable((d.id, ln.line_no), is_red)
                    base = ln.price if ln.price is not None else self.line(ln.src).price if ln.src else None
                    prices.setdefault(ln.product, base if base is not None else D("1"))
            factor = {"same": D("1"), "close": D("1.03"), "far": D("1.2")}[price]
            form = None
            if mode == "form":
                form = invoices.invoice_from_stock(self.db, side, [d.no for d in sources], day, actor=self.admin,
                                                   red=is_red, invoice_kind=kind)
                for fl in form.lines:
                    inv.lines.append(ILine(fl.product, fl.qty, fl.price, fl.tax_rate))
                if not inv.lines:
                    assert sum(billable.values()) == 0, (billable, form)
                    return
                if factor != 1:
                    inv.lines = [ILine(il.product, il.qty, (il.price * factor).quantize(D("0.0001")), il.rate)
                                 for il in inv.lines]
                    form = None
            else:
                for p, b in sorted(billable.items()):
                    q = {"all": b, "part": min(b, part), "over": b + part}[mode]
                    if q > 0:
                        inv.lines.append(ILine(p, q, (prices[p] * factor).quantize(D("0.0001")), PRODUCTS[p][1]))
                if not inv.lines:
                    return
            fits = self.allocate(inv, sources)
            self.issue_invoice(inv, sources, audit > 0, override, None if fits else (BatchInvalid,), form)

        def standalone_invoice(self, side: str, pick: int, day: date, qty: Decimal, red: bool, audit: bool) -> None:
            """An invoice that bills nothing in stock (purchase: goods in transit)."""
            partner = (SUPPLIERS if side == "purchase" else CUSTOMERS)[pick % 2]
            product = tuple(PRODUCTS)[(pick // 2) % len(PRODUCTS)]
            price = SELL_PRICES[(pick // 4) % len(SELL_PRICES)]
            inv = MInv(-1, "", side, red, "special", partner, day, [ILine(product, qty, price, PRODUCTS[product][1])])
            self.issue_invoice(inv, [], audit, False, None)

        def audit_invoice(self, pick: int, override: bool) -> None:
            drafts = [i for i in sorted(self.invs.values(), key=lambda i: i.id) if not i.audited]
            inv = drafts[pick % len(drafts)]
            note(f"audit invoice {inv.no} override={override}")
            values = self.entry_values()
            if self.attempt(self.audit_refusal(inv, override), lambda: invoices.audit_invoice(
                    self.db, inv.id, actor=self.admin, override_match=override)):
                self.book(inv, 1, values)
                inv.audited = True
                self.after_audit(inv)

        def unaudit_invoice(self, pick: int) -> None:
            audited = [i for i in sorted(self.invs.values(), key=lambda i: i.id) if i.audited and self.live(i.day)]
            inv = self.prefer(pick, audited, [i for i in audited if i.settled])
            note(f"unaudit invoice {inv.no} (settled {inv.settled})")
            expected: Expect = (SettleRefused,) if inv.settled else None
            if expected is None and inv.adjust_seq:
                # taking its cost adjustment out of the ledger
                saved = self.adjusts
                self.adjusts = [a for a in self.adjusts if a not in self.adjust_of.get(inv.id, [])]
                stock_side = self.stock_refusal(self.ledger(), set())
                self.adjusts = saved
                expected = stock_side
            if self.attempt(expected, lambda: invoices.unaudit_invoice(self.db, inv.id, actor=self.admin)):
                self.book(inv, -1)
                inv.audited = False
                inv.adjust_seq = 0

        def delete_invoice(self, pick: int) -> None:
            drafts = [i for i in sorted(self.invs.values(), key=lambda i: i.id) if not i.audited]
            inv = drafts[pick % len(drafts)]
            named = any(i is inv for c in self.cash_docs.values() for i, _, _ in c.settle)
            note(f"delete invoice {inv.no}")
            self.attempt((DependentDocuments,) if named else None,
                         lambda: invoices.delete_invoice(self.db, inv.id, actor=self.admin))
            if not named:
                del self.invs[inv.id]

        # -- receipts, payments, settlements --------------------------------------------------

        def open_invoices(self, side: str, partner: str, red: bool = False) -> list[MInv]:
            return [i for i in sorted(self.invs.values(), key=lambda i: i.id)
                    if i.side == side and i.partner == partner and i.audited and i.red == red and i.total > i.settled]

        @rule(**CASH_ARGS)
        def cash_doc(self, side: str, who: int, pick: int, n: int, mode: str, writeoff: Decimal, extra: Decimal,
                     day: int, audit: int, fault: str) -> None:
            self.make_cash(side, who, pick, n, mode, writeoff, extra, self.day(day), audit, fault)

        @rule(**CASH_ARGS)
        def cash_more(self, side: str, who: int, pick: int, n: int, mode: str, writeoff: Decimal, extra: Decimal,
                      day: int, audit: int, fault: str) -> None:
            """The same rule again: money in and out is what the machine is about."""
            self.make_cash(side, who, pick, n, mode, writeoff, extra, self.day(day), audit, fault)

        def make_cash(self, side: str, who: int, pick: int, n: int, mode: str, writeoff: Decimal, extra: Decimal,
                      day: date, audit: int, fault: str) -> None:
            """A receipt (sales) or payment (purchase) settling n open invoices, fully (less a small
            write-off) or half, with or without money left as an advance; or with one fault, refused:
            more than an invoice has open, another partner's (or a draft, or a red) invoice, a
            write-off above the limit, a non-cash account, less money than it applies."""
            partner = (SUPPLIERS if side == "purchase" else CUSTOMERS)[who]
            cands = self.open_invoices(side, partner)
            if fault == "other":
                cands = [i for i in sorted(self.invs.values(), key=lambda i: i.id)
                         if i.side == side and (i.partner != partner or not i.audited or i.red)]
            chosen = [cands[(pick + k) % len(cands)] for k in range(min(n, len(cands)))] if cands else []
            chosen = list({i.id: i for i in chosen}.values())
            lines: list[tuple[MInv, Decimal, Decimal]] = []
            bad = fault in ("account", "short") or (fault == "other" and bool(chosen))
            for k, inv in enumerate(chosen):
                open_amount = inv.total - inv.settled
                w = min(writeoff, max(open_amount - CENT, ZERO))
                a = open_amount - w if mode == "full" else money(open_amount / 2)
                if a <= 0 or a + w > open_amount:  # too small for the write-off
                    a, w = open_amount, ZERO
                if k == 0 and fault == "over":
                    a = open_amount - w + CENT
                    bad = True
                if k == 0 and fault == "writeoff":
                    w = WRITEOFF_LIMIT + CENT
                    bad = True
                lines.append((inv, a, w))
            applied = sum((a for _, a, _ in lines), ZERO)
            amount = applied + extra if lines else (extra or D("80.00"))
            if fault == "short":  # less than it applies, or nothing at all
                amount = max(applied - CENT, ZERO)
            account = "1122" if fault == "account" else ("1002" if pick % 3 else "1001")
            doc = MCash(-1, "", side, partner, amount, day, lines)
            note(f"cash {side} {partner} {amount} {account} {day} audit={audit > 0} "
                 f"{[(i.no, str(a), str(w)) for i, a, w in lines]}")
            ref = self.attempt((BatchInvalid,) if bad else None, lambda: cash.create_cash(self.db, cash.CashIn(
                side, partner, account, amount, day, tuple(cash.SettleLineIn(i.no, a, w) for i, a, w in lines)),
                actor=self.admin, audit=audit > 0))
            if ref is None:
                return
            doc.id, doc.no = ref.id, ref.no
            self.cash_docs[doc.id] = doc
            if audit > 0:
                self.audit_cash_model(doc)

        def audit_cash_model(self, doc: MCash) -> None:
            doc.audited = True
            for inv, a, w in doc.settle:
                inv.settled += a + w
            if doc.settle:
                doc.own = self.read(select(Settlement.no).join(CashDoc, CashDoc.settlement_id == Settlement.id)
                                    .where(CashDoc.id == doc.id))[0][0]
                self.settlements[doc.own] = MSettle(doc.own, doc.side, doc.partner,
                                                    [(i, a + w) for i, a, w in doc.settle], [], doc.day)

        def audit_cash(self, pick: int) -> None:
            drafts = [c for c in sorted(self.cash_docs.values(), key=lambda c: c.id) if not c.audited]
            doc = drafts[pick % len(drafts)]
            note(f"audit cash {doc.no}")
            bad = any(not i.audited or i.total - i.settled < a + w for i, a, w in doc.settle)
            if self.attempt((BatchInvalid,) if bad else None,
                            lambda: cash.audit_cash(self.db, doc.id, actor=self.admin)):
                self.audit_cash_model(doc)

        def unaudit_cash(self, pick: int) -> None:
            audited = [c for c in sorted(self.cash_docs.values(), key=lambda c: c.id)
                       if c.audited and self.live(c.day)]
            doc = self.prefer(pick, audited, [c for c in audited if c.used])
            note(f"unaudit cash {doc.no} (used {doc.used}, own {doc.own})")
            if self.attempt((SettleRefused,) if doc.used else None,
                            lambda: cash.unaudit_cash(self.db, doc.id, actor=self.admin)):
                if doc.own:
                    self.undo_model(self.settlements.pop(doc.own))
                    doc.own = None
                doc.audited = False

        def delete_cash(self, pick: int) -> None:
            drafts = [c for c in sorted(self.cash_docs.values(), key=lambda c: c.id) if not c.audited]
            doc = drafts[pick % len(drafts)]
            note(f"delete cash {doc.no}")
            self.attempt(None, lambda: cash.delete_cash(self.db, doc.id, actor=self.admin))
            del self.cash_docs[doc.id]

        def credits_of(self, side: str, partner: str) -> list[MCash | MInv]:
            found: list[MCash | MInv] = [c for c in sorted(self.cash_docs.values(), key=lambda c: c.id)
                                         if c.side == side and c.partner == partner and c.audited and c.credit_open > 0]
            found += [i for i in self.open_invoices(side, partner, red=True)]
            return found

        def settleable(self) -> list[tuple[str, str]]:
            return [(side, p) for side, ps in (("purchase", SUPPLIERS), ("sales", CUSTOMERS)) for p in ps
                    if self.open_invoices(side, p) and self.credits_of(side, p)]

        @precondition(lambda self: self.settleable())
        @rule(who=picks, pick=picks, n=st.integers(1, 2), mode=st.sampled_from(("all", "part", "over", "used")))
        def settle_more(self, who: int, pick: int, n: int, mode: str) -> None:
            """The same rule again: settlements are what the machine is about."""
            self.settle(who, pick, n, mode)

        @precondition(lambda self: self.settleable())
        @rule(who=picks, pick=picks, n=st.integers(1, 2), mode=st.sampled_from(("all", "part", "over", "used")))
        def settle(self, who: int, pick: int, n: int, mode: str) -> None:
            """核销 open invoices with advances, unapplied money or red invoices: as much as the
            credits cover, part of it, more than they cover (refused), or a used-up credit (refused)."""
            options = self.settleable()
            side, partner = options[who % len(options)]
            open_invs = self.open_invoices(side, partner)
            credits = self.credits_of(side, partner)
            if not open_invs:
                return
            if mode == "used":
                spent = [c for c in self.cash_docs.values() if c.side == side and c.partner == partner and c.audited
                         and c.credit_open == 0]
                if not spent:
                    return
                credits = spent[:1]
            if not credits:
                return
            chosen_invs = [open_invs[(pick + k) % len(open_invs)] for k in range(min(n, len(open_invs)))]
            chosen_invs = list({i.id: i for i in chosen_invs}.values())
            chosen_credits = [credits[(pick // 3 + k) % len(credits)] for k in range(min(n, len(credits)))]
            chosen_credits = list({(type(c).__name__, c.id): c for c in chosen_credits}.values())
            available = sum((c.credit_open if isinstance(c, MCash) else c.total - c.settled for c in chosen_credits),
                            ZERO)
            lines: list[tuple[MInv, Decimal]] = []
            budget = available
            for inv in chosen_invs:
                a = min(inv.total - inv.settled, budget)
                if mode == "part":
                    a = money(a / 2)
                if a <= 0:
                    continue
                lines.append((inv, a))
                budget -= a
            if mode == "over":
                if lines:
                    inv, a = lines[-1]
                    lines[-1] = (inv, a + CENT)
                else:
                    return
            if not lines and mode != "used":
                return
            if not lines:
                lines = [(chosen_invs[0], min(CENT, chosen_invs[0].total - chosen_invs[0].settled))]
            wanted = sum((a for _, a in lines), ZERO)
            bad = mode == "used" or wanted > available or any(a > i.total - i.settled for i, a in lines)
            expected: Expect = (BatchInvalid, InvalidInput) if bad else None
            day = self.later_days(max(c.day for c in chosen_credits))[0]
            note(f"settle {side} {partner} {day} {[(i.no, str(a)) for i, a in lines]} "
                 f"credits {[c.no for c in chosen_credits]}")
            ref = self.attempt(expected, lambda: cash.settle(self.db, cash.SettleIn(
                side, partner, day, tuple(cash.SettleLineIn(i.no, a) for i, a in lines),
                tuple(c.no for c in chosen_credits)), actor=self.admin))
            if ref is None:
                return
            assert ref.amount == wanted
            taken: list[tuple[MCash | MInv, Decimal]] = []
            need = wanted
            for c in chosen_credits:
                if need == 0:
                    break
                take = min(need, c.credit_open if isinstance(c, MCash) else c.total - c.settled)
                taken.append((c, take))
                need -= take
            record = MSettle(ref.no, side, partner, lines, taken, day)
            self.apply_model(record)
            self.settlements[ref.no] = record

        def apply_model(self, s: MSettle) -> None:
            for inv, a in s.invoices:
                inv.settled += a
            for c, a in s.credits:
                if isinstance(c, MCash):
                    c.used += a
                else:
                    c.settled += a

        def undo_model(self, s: MSettle) -> None:
            for inv, a in s.invoices:
                inv.settled -= a
            for c, a in s.credits:
                if isinstance(c, MCash):
                    c.used -= a
                else:
                    c.settled -= a

        @precondition(lambda self: any(self.live(s.day) for s in self.settlements.values()))
        @rule(pick=picks)
        def undo_settlement(self, pick: int) -> None:
            nos = sorted(no for no, s in self.settlements.items() if self.live(s.day))
            no = nos[pick % len(nos)]
            note(f"undo settlement {no}")
            self.attempt(None, lambda: cash.undo_settlement(self.db, no, actor=self.admin))
            s = self.settlements.pop(no)
            self.undo_model(s)
            for c in self.cash_docs.values():
                if c.own == no:
                    c.own = None

        # -- un-auditing, and drafts --------------------------------------------------------

        @staticmethod
        def prefer(pick: int, candidates: list[Any], interesting: list[Any]) -> Any:
            """Half of the time one of the interesting candidates (if any), else any."""
            pool = interesting if interesting and pick % 2 else candidates
            return pool[(pick // 2) % len(pool)]

        def unauditable(self) -> list[str]:
            return [name for name, found in (
                ("unaudit_doc", any(d.audited and self.live(d.day) for d in self.docs.values())),
                ("unaudit_invoice", any(i.audited and self.live(i.day) for i in self.invs.values())),
                ("unaudit_cash", any(c.audited and self.live(c.day) for c in self.cash_docs.values()))) if found]

        @precondition(lambda self: self.unauditable())
        @rule(kind=picks, pick=picks)
        def unaudit(self, kind: int, pick: int) -> None:
            """反审核 a stock document, an invoice or a receipt/payment (refused: one that others
            depend on, an invoiced receipt, a settled invoice, a receipt whose money was applied)."""
            options = self.unauditable()
            getattr(self, options[kind % len(options)])(pick)

        def drafts(self) -> list[str]:
            return [name for name, found in (
                ("doc", any(not d.audited for d in self.docs.values())),
                ("invoice", any(not i.audited for i in self.invs.values())),
                ("cash", any(not c.audited for c in self.cash_docs.values()))) if found]

        @precondition(lambda self: self.drafts())
        @rule(kind=picks, pick=picks, delete=st.integers(0, 3), override=st.booleans())
        def draft(self, kind: int, pick: int, delete: int, override: bool) -> None:
            """Audit a draft (a document un-audited, or entered without auditing), or delete it."""
            options = self.drafts()
            what = options[kind % len(options)]
            if what == "doc":
                (self.delete_doc if delete == 0 else self.audit_doc)(pick)
            elif what == "invoice":
                self.delete_invoice(pick) if delete == 0 else self.audit_invoice(pick, override)
            else:
                (self.delete_cash if delete == 0 else self.audit_cash)(pick)

        # -- invariants -----------------------------------------------------------------------

        @invariant()
        def books_verify(self) -> None:
            if self.db is None or not self.changed:
                return
            with self.db.begin():
                report = checks.verify_books(self.db)
            bad = [c for c in report.checks if not c.ok]
            assert not bad, "\n".join(f"{c}" for c in bad)

        def gl(self) -> dict[tuple[str, str], Decimal]:
            return {(a, p): D(d) - D(c) for a, p, d, c in self.read(
                select(Account.code, Partner.code, func.sum(PartnerBalance.debit), func.sum(PartnerBalance.credit))
                .join(Account, Account.id == PartnerBalance.account_id)
                .join(Partner, Partner.id == PartnerBalance.partner_id)
                .group_by(Account.code, Partner.code))}

        def exposure(self, customer: str) -> Decimal:
            """The model's credit exposure of a customer: open items (invoices less receipts) plus
            what it holds that no invoice bills yet, at the tax-inclusive prices: Σ (delivered −
            net invoiced) over delivery lines, less everything returned; red copies count against
            what they reverse (the service's rounding: per stock line)."""
            total = self.ar_model(customer)
            for d in self.docs.values():
                if not d.audited or d.partner != customer or d.side != "sales":
                    continue
                for ln in d.lines:
                    src = self.line(ln.src) if ln.src else None
                    top = self.line(src.src) if src is not None and src.src else None
                    price = next((x.price for x in (ln, src, top) if x is not None and x.price is not None), None)
                    rate = next((x.rate for x in (ln, src, top) if x is not None and x.rate is not None), ZERO)
                    assert price is not None
                    gross = 1 + rate
                    red = -1 if d.red else 1
                    if d.doc_type == "sales_delivery":
                        total += red * money((ln.qty - (ZERO if d.red else ln.inv)) * price * gross)
                    else:
                        total -= red * money(ln.qty * price * gross)
            return total

        def ar_model(self, customer: str) -> Decimal:
            total = ZERO
            for i in self.invs.values():
                if i.audited and i.side == "sales" and i.partner == customer:
                    total += -i.total if i.red else i.total
            for c in self.cash_docs.values():
                if c.audited and c.side == "sales" and c.partner == customer:
                    total -= c.amount + c.written
            return total

        def ap_model(self, supplier: str) -> Decimal:
            total = ZERO
            for i in self.invs.values():
                if i.audited and i.side == "purchase" and i.partner == supplier:
                    total += i.total if i.red else -i.total
            for c in self.cash_docs.values():
                if c.audited and c.side == "purchase" and c.partner == supplier:
                    total += c.amount + c.written
            return total

        @invariant()
        def trade_matches_model(self) -> None:
            if self.db is None or not self.changed:
                return
            self.changed = False
            problems: list[str] = []
            # invoices
            for inv in self.invs.values():
                view = invoices.get_invoice(self.db, inv.id, actor=self.admin)
                want_status = "audited" if inv.audited else "draft"
                if view.status != want_status or view.total != inv.total:
                    problems.append(f"{inv.no}: {view.status} {view.total}, model {want_status} {inv.total}")
                want_open = inv.total - inv.settled if inv.audited else None
                if view.open != want_open:
                    problems.append(f"{inv.no}: open {view.open}, model {want_open}")
            # stock lines
            stored = {r.id: (r.inv_qty, r.inv_value) for r in self.read(
                select(StockDocLine.id, StockDocLine.inv_qty, StockDocLine.inv_value))}
            for d in self.docs.values():
                for ln in d.lines:
                    if stored.get(ln.id) != (ln.inv, ln.inv_value):
                        problems.append(f"{d.no} #{ln.line_no}: invoiced {stored.get(ln.id)}, "
                                        f"model {(ln.inv, ln.inv_value)}")
            # orders
            for o in self.orders.values():
                view = orders.get_order(self.db, o.id, actor=self.admin)
                got = [(v.done, v.returned, v.invoiced) for v in view.lines]
                want = [(x.done, x.returned, x.invoiced) for x in o.lines]
                if got != want or view.status != o.status:
                    problems.append(f"{o.no}: {view.status} {got}, model {o.status} {want}")
            # cash documents
            for doc in self.cash_docs.values():
                view = cash.get_cash(self.db, doc.id, actor=self.admin)
                want_left = doc.credit_open if doc.audited else ZERO
                if view.advance_open != want_left or view.status != ("audited" if doc.audited else "draft"):
                    problems.append(f"{doc.no}: {view.status} unapplied {view.advance_open}, model {want_left}")
            # receivables / payables
            gl = self.gl()
            # Σ open of the items on the invoices' side (sales: debits of 1122, purchase: credits of
            # 220201): the invoices' open amounts
            items: dict[tuple[str, str, bool], Decimal] = defaultdict(lambda: ZERO)
            for account, partner, amount in self.read(
                    select(Account.code, Partner.code, ArapItem.open)
                    .join(Account, Account.id == ArapItem.account_id).join(Partner, Partner.id == ArapItem.partner_id)
                    .where(ArapItem.open != 0)):
                items[(account, partner, amount > 0)] += D(amount)
            for c in CUSTOMERS:
                ar = gl.get(("1122", c), ZERO) + gl.get(("2203", c), ZERO)
                if ar != self.ar_model(c):
                    problems.append(f"{c}: 1122+2203 {ar}, model {self.ar_model(c)}")
                want = sum((i.total - i.settled for i in self.open_invoices("sales", c)), ZERO)
                if items.get(("1122", c, True), ZERO) != want:
                    problems.append(f"{c}: open 1122 debit items {items.get(('1122', c, True))}, model {want}")
                with self.db.begin():
                    got = orderlinks.exposure(self.db.connection(), self.partner_ids[c])
                if got != self.exposure(c):
                    problems.append(f"{c}: credit exposure {got}, model {self.exposure(c)}")
            values = self.entry_values()
            for s in SUPPLIERS:
                ap = gl.get(("220201", s), ZERO) + gl.get(("1123", s), ZERO)
                if ap != self.ap_model(s):
                    problems.append(f"{s}: 220201+1123 {ap}, model {self.ap_model(s)}")
                want = -sum((i.total - i.settled for i in self.open_invoices("purchase", s)), ZERO)
                if items.get(("220201", s, False), ZERO) != want:
                    problems.append(f"{s}: open 220201 credit items {items.get(('220201', s, False))}, model {want}")
                pools = [(d.id, ln.line_no) for d in self.docs.values()
                         if d.partner == s and d.doc_type == "purchase_receipt" and not d.red and d.audited
                         for ln in d.lines]
                left = [self.pool_value(k, values) for k in pools]
                estimated = -gl.get(("220202", s), ZERO)
                if estimated != sum((v for _, v in left), ZERO):
                    problems.append(f"{s}: 220202 {estimated}, model Σ left {left}")
                explained = False
                for k, (q, v) in zip(pools, left, strict=True):
                    if q != 0 or v == 0:
                        continue
                    if self.takers(self.docs[k[0]]):
                        explained = True  # KNOWN_BUGS["return_value"]
                    else:
                        problems.append(f"{self.docs[k[0]].no} #{k[1]}: fully invoiced, 暂估 {v} left")
                if all(q == 0 for q, _ in left) and estimated != 0 and not explained:
                    problems.append(f"{s}: 220202 is {estimated} with every receipt fully invoiced")
            # nothing billed beyond what was kept and red invoices can still take back
            for d in self.docs.values():
                if d.audited and not d.red and d.doc_type in RETURN_OF:
                    for ln in d.lines:
                        key = (d.id, ln.line_no)
                        over = -self.left(key)
                        can = sum((r.qty - r.inv for t in self.takers(d) if not t.red for r in t.lines
                                   if r.src == key), ZERO)
                        if over > can:
                            problems.append(f"{d.no} #{ln.line_no}: billed {over} beyond what was kept, "
                                            f"red invoices can take back {can}")
            assert not problems, "\n".join(problems[:15])

    RULES.update(name for name, value in vars(TradeBook).items() if callable(value))
    return TradeBook


STATS_ON = bool(os.environ.get("JXC_TRADE_STATS"))


def test_random_trade_sequences_keep_the_books_whole(tmp_path: Path) -> None:
    template = make_template(tmp_path)
    STATS.clear()
    try:
        run_state_machine_as_test(make_machine(template, tmp_path), settings=TRADE_SETTINGS)
    finally:
        if STATS_ON:
            for (name, outcome), n in sorted(STATS.items()):
                print(f"{name:24} {outcome:36} {n}")
