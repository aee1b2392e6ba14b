"""The trade state machine (tests/property/test_trade_machine.py) with month-end close (结账) and
reverse close (反结账) as steps, on SQLite and on PostgreSQL (where the period guard's triggers
also refuse any write into a closed period that a service would let through).

The machine dates documents over 2026-01..2026-04 (the book starts 2026-01) and keeps its own
model of which periods are closed. Every trade rule of the trade machine runs as before, dating
what it enters only in open periods and changing only what is dated in one (an invoice, return,
red-letter copy, receipt/payment or settlement in an open period may still bill, return, reverse
or settle what is dated in a closed one). The steps it adds:

- close the earliest open period (up to 2026-03: the last period stays open, so there are always
  days to date documents): accepted, or refused with CloseBlocked exactly when the model has a
  draft document or an unposted manual voucher in the period, the checklist
  (closing.close_checklist) naming the same failures, and nothing changed. An accepted close's
  profit is what the period's own vouchers (all but the close's) moved on P&L accounts; it
  makes a 结转损益 voucher exactly when some P&L account moved, and lists it with the costing
  run's voucher;
- reopen the latest closed period with a reason: it removes exactly the 结转 vouchers (the
  costing run's voucher stays); a third of the time the period is closed again at once. A close
  after a reopen with nothing accepted in between (so, also by a reopen step and a close step)
  gives the same seal, vouchers and profit;
- refused period operations (a later open period, a closed one, reopening an earlier or an open
  one, no reason, an unknown period), each with its error and nothing changed;
- a write into a closed period through a service (entering a receipt, delivery, return, invoice,
  receipt/payment or voucher dated there, auditing a red-letter copy dated there, un-auditing a
  document, invoice, receipt/payment or voucher dated there, settling or un-settling there, a
  costing run): PeriodClosed, and nothing changed;
- manual vouchers (an expense or an income, posted or left a draft), their lifecycle steps, and
  红字冲销 of a posted one (its period closed or not) into an open period, so that periods carry
  P&L that no document made and unposted vouchers block a close;
- a monthly-average product P3, moved only by other in/out (the trade model does not see it):
  in, out, un-audit, drafts audited or deleted, a costing run of an open period. The close's
  costing run costs its issues (its cost-of-sales voucher stays over a reopen when the close
  made the run), which is why the profit is checked against the P&L movement after the close.

After every step, besides the trade machine's invariants (checks.verify_books, seals and
snapshots included, and its model of invoices, stock lines, orders and receivables/payables):
the book's period statuses are the model's; every closed period's P&L accounts net to zero
within it; 3103 (本年利润) moves in a closed period by the close's profit and not at all in an
open one, so that its balance is Σ CloseResult.profit over the closed periods.

Each run: 10 examples on SQLite (a copy of a template book each) and 6 on PostgreSQL (each in a
transaction rolled back at its end), 30 steps. Longer hunts: JXC_CLOSE_EXAMPLES=200 (per
backend; JXC_TRADE_STEPS sets the steps), with
--hypothesis-seed=N; JXC_TRADE_STATS=1 prints how often each rule was accepted or refused.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from sqlalchemy import Connection, Engine, RootTransaction, func, select
from sqlalchemy.orm import Session

from jxc.db.models import Account, AccountBalance, CostRun, OpeningBalance, Period, Voucher, VoucherLine
from jxc.db.session import make_engine
from jxc.domain.costing import Shortfall
from jxc.domain.errors import (
    CloseBlocked,
    CloseNotNext,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PeriodAlreadyClosed,
    PeriodClosed,
    PeriodNotClosed,
    ReopenNotLatest,
)
from jxc.domain.status import VoucherStatus
from jxc.domain.voucher import VoucherLine as VLineIn
from jxc.domain.voucher import voucher_label
from jxc.services import cash, closing, invoices, masterdata, stock, users, vouchers
from jxc.services.stock import StockDocIn, StockLineIn
from tests.conftest import _new_pg_database, make_book
from tests.property import test_trade_machine as trade
from tests.property.test_trade_machine import DAYS, RETURN_OF, STATS, ZERO, D, days, picks

pytestmark = pytest.mark.slow

PERIODS = ("2026-01", "2026-02", "2026-03", "2026-04")
CLOSABLE = PERIODS[:-1]  # the last period stays open: there are always days to date documents
# The trade machine's days and more, month ends among them (the close dates its vouchers there).
CLOSE_DAYS = tuple(sorted({*DAYS, date(2026, 1, 31), date(2026, 3, 4), date(2026, 3, 31), date(2026, 4, 1),
                           date(2026, 4, 22)}))
PROFIT = "3103"
EXPENSE, INCOME, CASH_ACCOUNT = "5602", "5301", "1001"  # 管理费用, 营业外收入, 库存现金
# A monthly-average product that only other in/out move (so the trade model does not see it): the
# close's costing run costs its issues, and a reopen keeps a run the close made.
MONTHLY = "P3"
MONTHLY_ACTIONS = ("in", "in", "out", "out", "unaudit", "draft", "cost_run")
REASONS = ("supplier invoice came late", "wrong price on a delivery", "补录单据")
CLOSED_WRITES = ("receipt", "delivery", "return", "reverse", "unaudit_doc", "invoice", "unaudit_invoice", "cash",
                 "unaudit_cash", "settle", "undo_settlement", "voucher", "unpost_voucher", "cost_run", "monthly",
                 "unaudit_monthly")
VOUCHER_MOVES = {  # action -> (service, from, to)
    "audit": (vouchers.audit_voucher, VoucherStatus.DRAFT, VoucherStatus.AUDITED),
    "unaudit": (vouchers.unaudit_voucher, VoucherStatus.AUDITED, VoucherStatus.DRAFT),
    "post": (vouchers.post_voucher, VoucherStatus.AUDITED, VoucherStatus.POSTED),
    "unpost": (vouchers.unpost_voucher, VoucherStatus.POSTED, VoucherStatus.AUDITED),
    "void": (vouchers.void_voucher, VoucherStatus.DRAFT, VoucherStatus.VOID),
}

# Bugs this machine found that are still open (xfail regression tests in
# tests/integration/test_close_regressions.py); the machine steers around them until they are
# fixed. Remove the entry, and what refers to it, with the fix.
KNOWN_BUGS: dict[str, str] = {}

CLOSE_EXAMPLES = os.environ.get("JXC_CLOSE_EXAMPLES")
EXAMPLES = {"sqlite": int(CLOSE_EXAMPLES or 10), "postgresql": int(CLOSE_EXAMPLES or 6)}


def label_of(day: date) -> str:
    return f"{day:%Y-%m}"


@dataclass
class MStock:
    """An other in (qty > 0) or other out of the monthly-average product."""

    id: int
    no: str
    day: date
    qty: Decimal
    audited: bool = False
    seq: int = 0


@dataclass
class MVoucher:
    id: int
    label: str
    day: date
    account: str
    amount: Decimal
    status: VoucherStatus
    reverses: int | None = None  # a red-letter reversal: the voucher it reverses


def make_close_machine(template: Path, workdir: Path, pg: Engine | None) -> type[RuleBasedStateMachine]:
    """The trade machine with closes; `pg`: the engine of a PostgreSQL book holding the template's
    master data, each example running in a transaction rolled back at its end (else SQLite: a
    copy of `template` per example, as the trade machine does)."""
    base: Any = trade.make_machine(template, workdir)

    class CloseBook(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__()
            self.closed: list[str] = []  # in order: always PERIODS[:n]
            self.results: dict[str, closing.CloseResult] = {}
            self.reopened: dict[str, tuple[closing.CloseResult, int]] = {}  # label -> (its last close, writes then)
            self.writes = 0  # accepted steps so far
            self.manual: dict[int, MVoucher] = {}
            self.monthly: dict[int, MStock] = {}
            self.seen: set[tuple[str, str]] = set()  # cross_period_coverage
            self.conn: Connection | None = None
            self.outer: RootTransaction | None = None

        # -- the book ----------------------------------------------------------------------------

        def connect(self) -> Session:
            if pg is None:
                return super().connect()  # type: ignore[no-any-return]
            self.conn = pg.connect()
            self.outer = self.conn.begin()
            return Session(bind=self.conn, join_transaction_mode="create_savepoint", expire_on_commit=False)

        def teardown(self) -> None:
            super().teardown()
            if self.outer is not None:
                self.outer.rollback()
            if self.conn is not None:
                self.conn.close()

        # -- periods -----------------------------------------------------------------------------

        def open_days(self) -> list[date]:
            return [d for d in CLOSE_DAYS if label_of(d) not in self.closed]

        def live(self, day: date) -> bool:
            return label_of(day) not in self.closed

        def next_open(self) -> str:
            return PERIODS[len(self.closed)]

        def closed_days(self) -> list[date]:
            return [d for d in CLOSE_DAYS if label_of(d) in self.closed]

        def attempt(self, expected: Any, call: Any) -> Any:
            """The trade machine's attempt, counting the steps it accepts."""
            done: list[bool] = []

            def counted() -> Any:
                ref = call()
                done.append(True)
                return ref

            ref = super().attempt(expected, counted)
            self.writes += bool(done)
            return ref

        def expected_failures(self, label: str) -> set[str]:
            """The checklist failures the model knows of in period `label`."""
            found = set()
            if any(not x.audited and label_of(x.day) == label
                   for x in [*self.docs.values(), *self.invs.values(), *self.cash_docs.values(),
                             *self.monthly.values()]):
                found.add("unaudited_documents")
            if any(v.status in (VoucherStatus.DRAFT, VoucherStatus.AUDITED) and label_of(v.day) == label
                   for v in self.manual.values()):
                found.add("unposted_vouchers")
            return found

        def movements(self) -> dict[tuple[str, str], Decimal]:
            """Posted debit - credit per (period, account code) of every P&L account and 3103."""
            return {(f"{y:04d}-{m:02d}", code): D(d) - D(c) for y, m, code, d, c in self.read(
                select(Period.year, Period.month, Account.code, func.sum(AccountBalance.debit),
                       func.sum(AccountBalance.credit))
                .join(Period, Period.id == AccountBalance.period_id)
                .join(Account, Account.id == AccountBalance.account_id)
                .where((Account.category == "profit_loss") | (Account.code == PROFIT))
                .group_by(Period.year, Period.month, Account.code))}

        def generated(self, label: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
            """The labels of period `label`'s 结转 vouchers, and of its costing run's voucher."""
            year, month = map(int, label.split("-"))
            rows = self.read(select(Voucher.word, Voucher.number, Voucher.source_type, Voucher.id)
                             .join(Period, Period.id == Voucher.period_id)
                             .where(Period.year == year, Period.month == month).order_by(Voucher.number))
            runs = {r[0] for r in self.read(select(CostRun.voucher_id).join(Period, Period.id == CostRun.period_id)
                                            .where(Period.year == year, Period.month == month))}
            return (tuple(voucher_label(w, n) for w, n, source, _ in rows if source in closing.CLOSE_SOURCES),
                    tuple(voucher_label(w, n) for w, n, _, i in rows if i in runs))

        def pl_moved(self, label: str) -> dict[str, Decimal]:
            """Posted debit - credit per P&L account in period `label`, but for the close's vouchers."""
            year, month = map(int, label.split("-"))
            return {code: D(d) - D(c) for code, d, c in self.read(
                select(Account.code, func.sum(VoucherLine.debit), func.sum(VoucherLine.credit))
                .join(Voucher, Voucher.id == VoucherLine.voucher_id).join(Account, Account.id == VoucherLine.account_id)
                .join(Period, Period.id == Voucher.period_id)
                .where(Period.year == year, Period.month == month, Voucher.status == "posted",
                       Account.category == "profit_loss",
                       Voucher.source_type.is_(None) | Voucher.source_type.not_in(closing.CLOSE_SOURCES))
                .group_by(Account.code)) if D(d) != D(c)}

        # -- close and reopen --------------------------------------------------------------------

        def close_next(self) -> closing.CloseResult | None:
            assert self.db is not None
            label = self.next_open()
            want = self.expected_failures(label)
            note(f"close {label} (model: {sorted(want) or 'nothing blocks it'})")
            before = trade.snapshot(self.db)
            try:
                result = closing.close_period(self.db, label, actor=self.admin, acknowledge_warnings=True)
            except CloseBlocked as exc:
                STATS[("close", f"refused {exc.params.get('failed')}")] += 1
                note(f"  -> refused {exc.params}")
                checklist = closing.close_checklist(self.db, label, actor=self.admin)
                assert checklist.failures, f"CloseBlocked {exc.params}, but the checklist has no failures"
                assert exc.params["failed"] == ", ".join(checklist.failures), (exc.params, checklist.failures)
                assert set(checklist.failures) == want, \
                    f"close refused for {checklist.failures}, the model knows of {sorted(want)}: {checklist.items}"
                assert trade.snapshot(self.db) == before, "a refused close changed the book"
                return None
            STATS[("close", "ok")] += 1
            note(f"  -> ok {result.seal[:12]} vouchers {result.vouchers} profit {result.profit} "
                 f"warnings {result.checklist.warnings}")
            assert not want, f"closed {label} although the model has {sorted(want)} there"
            assert (result.period, result.year_end, result.next_year) == (label, False, None), result
            # what the period's own vouchers (its costing run's among them) moved on P&L accounts
            moved = self.pl_moved(label)
            assert result.profit == -sum(moved.values(), ZERO), f"profit {result.profit}, P&L moved {moved}"
            carried, run = self.generated(label)
            assert result.vouchers == tuple(sorted((*carried, *run))), (result.vouchers, carried, run)
            assert bool(carried) == bool(moved), f"结转 vouchers {carried}, P&L moved {moved}"
            if label in self.reopened:
                last, writes = self.reopened.pop(label)
                if writes == self.writes:  # nothing accepted since the reopen
                    assert (result.seal, result.vouchers, result.profit) == (last.seal, last.vouchers, last.profit), \
                        f"closed again unchanged: {result}, before the reopen {last}"
                    STATS[("close", "same as before the reopen")] += 1
            self.writes += 1
            self.changed = True
            self.closed.append(label)
            self.results[label] = result
            return result

        def reopen_latest(self, reason: str) -> None:
            label = self.closed[-1]
            note(f"reopen {label}: {reason}")
            carried, run = self.generated(label)
            ref = self.attempt(None, lambda: closing.reopen_period(self.db, label, actor=self.admin, reason=reason))
            last = self.results.pop(label)
            assert (ref.period, ref.removed_vouchers, ref.removed_year) == (label, carried, None), (ref, carried)
            assert self.generated(label) == ((), run), "the reopen removed more than the close's 结转 vouchers"
            self.closed.pop()
            self.reopened[label] = (last, self.writes)

        @precondition(lambda self: self.db is not None and self.next_open() in CLOSABLE)
        @rule()
        def close(self) -> None:
            """结账 of the earliest open period."""
            self.close_next()

        @precondition(lambda self: self.closed)
        @rule(reason=st.sampled_from(REASONS), again=st.integers(0, 2))
        def reopen(self, reason: str, again: int) -> None:
            """反结账 of the latest closed period; a third of the time closed again at once, which
            must give the same close (seal, vouchers, profit)."""
            label = self.closed[-1]
            last = self.results[label]
            self.reopen_latest(reason)
            if again == 0:
                result = self.close_next()
                assert result is not None, f"{label} closed, reopened, and its close was refused"
                assert (result.seal, result.vouchers) == (last.seal, last.vouchers)

        @precondition(lambda self: self.db is not None)
        @rule(kind=st.sampled_from(("close_later", "close_closed", "reopen_earlier", "reopen_open", "no_reason",
                                    "unknown")), pick=picks)
        def wrong_period(self, kind: str, pick: int) -> None:
            """Close or reopen refused: not the earliest open period, already closed, not the latest
            closed one, not closed, no reason, no such period."""
            later = [p for p in PERIODS if p not in self.closed][1:]
            if kind == "close_later" and later:
                label = later[pick % len(later)]
                note(f"close {label} (not the earliest open period)")
                self.attempt((CloseNotNext,), lambda: closing.close_period(
                    self.db, label, actor=self.admin, acknowledge_warnings=True))
            elif kind == "close_closed" and self.closed:
                label = self.closed[pick % len(self.closed)]
                note(f"close {label} (closed)")
                self.attempt((PeriodAlreadyClosed,), lambda: closing.close_period(
                    self.db, label, actor=self.admin, acknowledge_warnings=True))
            elif kind == "reopen_earlier" and len(self.closed) > 1:
                label = self.closed[pick % (len(self.closed) - 1)]
                note(f"reopen {label} (not the latest closed period)")
                self.attempt((ReopenNotLatest,), lambda: closing.reopen_period(
                    self.db, label, actor=self.admin, reason=REASONS[1]))
            elif kind == "reopen_open":
                label = [p for p in PERIODS if p not in self.closed][pick % (len(PERIODS) - len(self.closed))]
                note(f"reopen {label} (open)")
                self.attempt((PeriodNotClosed,), lambda: closing.reopen_period(
                    self.db, label, actor=self.admin, reason=REASONS[1]))
            elif kind == "no_reason":
                label = self.closed[-1] if self.closed else PERIODS[0]
                note(f"reopen {label} without a reason")
                self.attempt((InvalidInput,), lambda: closing.reopen_period(
                    self.db, label, actor=self.admin, reason="  "))
            else:
                note("close 2027-06 (no such period)")
                self.attempt((NotFound,), lambda: closing.close_period(
                    self.db, "2027-06", actor=self.admin, acknowledge_warnings=True))

        # -- writes into a closed period -----------------------------------------------------------

        @precondition(lambda self: self.closed)
        @rule(kind=st.integers(0, 239), pick=picks, audit=st.booleans())
        def write_into_closed(self, kind: int, pick: int, audit: bool) -> None:
            """A write dated in a closed period, or changing what is dated there, through a
            service: refused with PeriodClosed, nothing changed."""
            self.closed_write_step(kind, pick, audit)

        @precondition(lambda self: self.closed)
        @rule(kind=st.integers(0, 239), pick=picks, audit=st.booleans())
        def write_into_closed_more(self, kind: int, pick: int, audit: bool) -> None:
            """The same rule again (a rule with a precondition is drawn less often)."""
            self.closed_write_step(kind, pick, audit)

        def closed_write_step(self, kind: int, pick: int, audit: bool) -> None:
            """One of the kinds of closed write there is something to do to, evenly."""
            closed_days = self.closed_days()
            day = closed_days[pick % len(closed_days)]
            options = [(name, found) for name in CLOSED_WRITES
                       if (found := self.closed_write(name, pick, day, audit)) is not None]
            name, (what, call) = options[kind % len(options)]
            STATS[("write_into_closed", name)] += 1
            note(what)
            self.attempt((PeriodClosed,), call)

        def closed_write(self, kind: str, pick: int, day: date, audit: bool) -> Any:
            """(what, the service call) of one kind of closed write; None: nothing to do it to."""
            db, admin = self.db, self.admin

            def one(items: list[Any]) -> Any:
                return items[pick % len(items)] if items else None

            if kind in ("receipt", "delivery"):
                doc_type, partner, price = (("purchase_receipt", "S1", D("10")) if kind == "receipt"
                                            else ("sales_delivery", "C2", D("15")))
                what = f"{doc_type} dated {day} (closed) audit={audit}"
                data = StockDocIn(doc_type, day, (StockLineIn("P1", D("0.5"), price, tax_rate=D("0.13")),),
                                  warehouse="W1", partner=partner)
                return what, lambda: stock.create_stock_doc(db, data, actor=admin, audit=audit)
            if kind == "return":
                src = one([d for d in self.returnable() if not self.live(d.day)])
                if src is None:
                    return None
                ln = src.lines[0]
                what = f"return of {src.no} dated {src.day} (closed) audit={audit}"
                data = StockDocIn(RETURN_OF[src.doc_type], src.day, (StockLineIn(ln.product, min(ln.qty, D("0.5"))),),
                                  warehouse="W1", partner=src.partner, source=src.no)
                return what, lambda: stock.create_stock_doc(db, data, actor=admin, audit=audit)
            if kind == "reverse":
                src = one([d for d in sorted(self.docs.values(), key=lambda d: d.id)
                           if d.audited and not d.red and not self.live(d.day) and not self.invoiced_by(d)])
                if src is None:
                    return None
                what = f"reverse {src.no} dated {src.day} (closed) audit={audit}"
                return what, lambda: stock.reverse_stock_doc(db, src.id, src.day, actor=admin, audit=audit)
            if kind == "unaudit_doc":
                doc = one([d for d in sorted(self.docs.values(), key=lambda d: d.id)
                           if d.audited and not self.live(d.day)])
                if doc is None:
                    return None
                what = f"unaudit {doc.no} dated {doc.day} (closed)"
                return what, lambda: stock.unaudit_stock_doc(db, doc.id, actor=admin)
            if kind == "invoice":
                side, partner = (("purchase", "S1") if pick % 2 else ("sales", "C2"))
                what = f"{side} invoice dated {day} (closed) audit={audit}"
                inv = invoices.InvoiceIn(side, partner, day, (invoices.InvoiceLineIn("P1", D("1"), D("10")),))
                return what, lambda: invoices.create_invoice(db, inv, actor=admin, audit=audit)
            if kind == "unaudit_invoice":
                found = one([i for i in sorted(self.invs.values(), key=lambda i: i.id)
                             if i.audited and not self.live(i.day)])
                if found is None:
                    return None
                what = f"unaudit invoice {found.no} dated {found.day} (closed)"
                return what, lambda: invoices.unaudit_invoice(db, found.id, actor=admin)
            if kind == "cash":
                side, partner = (("purchase", "S2") if pick % 2 else ("sales", "C1"))
                what = f"{side} cash dated {day} (closed) audit={audit}"
                data_c = cash.CashIn(side, partner, "1002", D("10.00"), day)
                return what, lambda: cash.create_cash(db, data_c, actor=admin, audit=audit)
            if kind == "unaudit_cash":
                doc_c = one([c for c in sorted(self.cash_docs.values(), key=lambda c: c.id)
                             if c.audited and not self.live(c.day)])
                if doc_c is None:
                    return None
                what = f"unaudit cash {doc_c.no} dated {doc_c.day} (closed)"
                return what, lambda: cash.unaudit_cash(db, doc_c.id, actor=admin)
            if kind == "settle":
                options = self.settleable()
                if not options:
                    return None
                side, partner = options[pick % len(options)]
                inv = self.open_invoices(side, partner)[0]
                credit = self.credits_of(side, partner)[0]
                what = f"settle {inv.no} with {credit.no} dated {day} (closed)"
                data_s = cash.SettleIn(side, partner, day, (cash.SettleLineIn(inv.no, D("0.01")),), (credit.no,))
                return what, lambda: cash.settle(db, data_s, actor=admin)
            if kind == "undo_settlement":
                no = one(sorted(n for n, s in self.settlements.items() if not self.live(s.day)))
                if no is None:
                    return None
                what = f"undo settlement {no} (closed)"
                return what, lambda: cash.undo_settlement(db, no, actor=admin)
            if kind == "voucher":
                what = f"voucher dated {day} (closed) posted={audit}"
                data_v = vouchers.VoucherIn(day, (VLineIn(EXPENSE, D("1.00"), ZERO),
                                                  VLineIn(CASH_ACCOUNT, ZERO, D("1.00"))))
                to = VoucherStatus.POSTED if audit else VoucherStatus.DRAFT
                return what, lambda: vouchers.create_voucher(db, data_v, actor=admin, advance_to=to)
            if kind == "unpost_voucher":
                v = one([v for v in sorted(self.manual.values(), key=lambda v: v.id)
                         if v.status is VoucherStatus.POSTED and not self.live(v.day)])
                if v is None:
                    return None
                what = f"unpost {v.label} dated {v.day} (closed)"
                return what, lambda: vouchers.unpost_voucher(db, v.id, actor=admin)
            if kind == "monthly":
                what = f"other_in of {MONTHLY} dated {day} (closed) audit={audit}"
                data = StockDocIn("other_in", day, (StockLineIn(MONTHLY, D("1"), D("5")),), warehouse="W1")
                return what, lambda: stock.create_stock_doc(db, data, actor=admin, audit=audit)
            if kind == "unaudit_monthly":
                m = one([m for m in sorted(self.monthly.values(), key=lambda m: m.id)
                         if m.audited and not self.live(m.day)])
                if m is None:
                    return None
                what = f"unaudit {m.no} dated {m.day} (closed)"
                return what, lambda: stock.unaudit_stock_doc(db, m.id, actor=admin)
            label = label_of(day)
            what = f"costing run {label} (closed)"
            return what, lambda: stock.cost_run(db, label, actor=admin)

        # -- the monthly-average product -----------------------------------------------------------

        def monthly_refusal(self, without: int | None = None, extra: tuple[date, Decimal] | None = None) -> Any:
            """Shortfall when P3's running quantity, in ledger order, goes below zero."""
            events = [(m.day, m.seq, m.qty) for m in self.monthly.values() if m.audited and m.id != without]
            if extra is not None:
                events.append((extra[0], self.seq + 1, extra[1]))
            run = ZERO
            for _, _, q in sorted(events):
                run += q
                if run < 0:
                    return (Shortfall,)
            return None

        def monthly_audited(self, m: MStock) -> None:
            self.seq += 1
            m.seq = self.seq
            m.audited = True

        @precondition(lambda self: self.db is not None)
        @rule(action=st.sampled_from(MONTHLY_ACTIONS), day=days, qty=st.sampled_from((D("1"), D("2.5"), D("4"))),
              price=st.sampled_from((D("3.10"), D("7"), D("4.4444"))), draft=st.integers(0, 4), pick=picks)
        def monthly_stock(self, action: str, day: int, qty: Decimal, price: Decimal, draft: int, pick: int) -> None:
            """P3 (monthly average) in (priced) or out, audited or a draft; un-audit one; audit
            or delete a draft; a costing run of an open period."""
            live = [m for m in sorted(self.monthly.values(), key=lambda m: m.id) if self.live(m.day)]
            if action == "cost_run":
                label = self.next_open() if pick % 2 else label_of(self.day(day))
                note(f"costing run {label}")
                self.attempt(None, lambda: stock.cost_run(self.db, label, actor=self.admin))
            elif action in ("in", "out"):
                when = self.day(day)
                signed = qty if action == "in" else -qty
                audit = draft > 0
                doc_type = "other_in" if action == "in" else "other_out"
                note(f"{doc_type} {MONTHLY} {when} {qty}{' @ ' + str(price) if action == 'in' else ''} audit={audit}")
                data = StockDocIn(doc_type, when, (StockLineIn(MONTHLY, qty, price if action == "in" else None),),
                                  warehouse="W1")
                ref = self.attempt(self.monthly_refusal(extra=(when, signed)) if audit else None,
                                   lambda: stock.create_stock_doc(self.db, data, actor=self.admin, audit=audit))
                if ref is not None:
                    m = self.monthly[ref.id] = MStock(ref.id, ref.no, when, signed)
                    if audit:
                        self.monthly_audited(m)
            elif action == "unaudit" and any(m.audited for m in live):
                m = [m for m in live if m.audited][pick % sum(m.audited for m in live)]
                note(f"unaudit {m.no} ({m.day})")
                if self.attempt(self.monthly_refusal(without=m.id),
                                lambda: stock.unaudit_stock_doc(self.db, m.id, actor=self.admin)):
                    m.audited = False
            elif any(not m.audited for m in live):
                m = [m for m in live if not m.audited][pick % sum(not m.audited for m in live)]
                if draft == 0:
                    note(f"delete {m.no}")
                    self.attempt(None, lambda: stock.delete_stock_doc(self.db, m.id, actor=self.admin))
                    del self.monthly[m.id]
                else:
                    note(f"audit {m.no} ({m.day})")
                    if self.attempt(self.monthly_refusal(extra=(m.day, m.qty)),
                                    lambda: stock.audit_stock_doc(self.db, m.id, actor=self.admin)):
                        self.monthly_audited(m)

        # -- manual vouchers ---------------------------------------------------------------------

        @precondition(lambda self: self.db is not None)
        @rule(day=days, income=st.booleans(), amount=st.sampled_from((D("0.01"), D("12.34"), D("250.00"))),
              post=st.integers(0, 3))
        def manual_voucher(self, day: int, income: bool, amount: Decimal, post: int) -> None:
            """An expense (Dr 管理费用) or an income (Cr 营业外收入) paid in cash, posted or left a draft."""
            when = self.day(day)
            account = INCOME if income else EXPENSE
            lines = (VLineIn(CASH_ACCOUNT, amount, ZERO), VLineIn(account, ZERO, amount)) if income else \
                (VLineIn(account, amount, ZERO), VLineIn(CASH_ACCOUNT, ZERO, amount))
            status = VoucherStatus.POSTED if post else VoucherStatus.DRAFT
            note(f"voucher {when} {account} {amount} {status}")
            ref = self.attempt(None, lambda: vouchers.create_voucher(
                self.db, vouchers.VoucherIn(when, lines), actor=self.admin, advance_to=status))
            self.manual[ref.id] = MVoucher(ref.id, ref.label, when, account, amount, status)

        @precondition(lambda self: self.manual)
        @rule(pick=picks, action=st.sampled_from((*sorted(VOUCHER_MOVES), "reverse")), fits=st.integers(0, 3),
              when=st.integers(0, 9))
        def voucher_step(self, pick: int, action: str, fits: int, when: int) -> None:
            """A lifecycle step of a manual voucher in an open period: mostly one its status
            allows, else any (refused from the wrong status); or 红字冲销 of a posted one (its
            period closed or not) into an open period (refused: a reversal, or reversed already)."""
            if action == "reverse":
                self.reverse_voucher(pick, when)
                return
            candidates = [v for v in sorted(self.manual.values(), key=lambda v: v.id) if self.live(v.day)]
            if not candidates:
                return
            v = candidates[pick % len(candidates)]
            allowed = sorted(a for a, (_, source, _) in VOUCHER_MOVES.items() if source is v.status)
            if fits and allowed:
                action = allowed[pick % len(allowed)]
            service, source, target = VOUCHER_MOVES[action]
            note(f"{action} {v.label} ({v.status}, {v.day})")
            if self.attempt(None if v.status is source else (InvalidTransition,),
                            lambda: service(self.db, v.id, actor=self.admin)):
                v.status = target

        def reverse_voucher(self, pick: int, when: int) -> None:
            posted = [v for v in sorted(self.manual.values(), key=lambda v: v.id) if v.status is VoucherStatus.POSTED]
            if not posted:
                return
            v = posted[pick % len(posted)]
            later = self.later_days(v.day)
            day = later[when % len(later)]
            done = any(r.reverses == v.id and r.status is not VoucherStatus.VOID for r in self.manual.values())
            note(f"reverse {v.label} ({v.day}) on {day}")
            ref = self.attempt((InvalidInput,) if done or v.reverses is not None else None,
                               lambda: vouchers.reverse_voucher(self.db, v.id, day, actor=self.admin))
            if ref is not None:
                self.manual[ref.id] = MVoucher(ref.id, ref.label, day, v.account, -v.amount, VoucherStatus.DRAFT,
                                               v.id)

        # -- invariants --------------------------------------------------------------------------

        @invariant()
        def cross_period_coverage(self) -> None:
            """JXC_TRADE_STATS only: what, in an open period, returns, reverses, bills or settles
            what is dated in a closed one (each counted once)."""
            if not trade.STATS_ON:
                return
            closed = {label_of(d.day) for d in self.docs.values()} & set(self.closed)
            found = [("return/red copy", d.no) for d in self.docs.values() if d.audited and self.live(d.day)
                     and d.source is not None and label_of(self.docs[d.source].day) in closed]
            found += [("invoice", i.no) for i in self.invs.values() if i.audited and self.live(i.day)
                      and any(label_of(self.docs[lk.stock[0]].day) in closed for il in i.lines for lk in il.links)]
            found += [("settlement", s.no) for s in self.settlements.values() if self.live(s.day)
                      and any(label_of(inv.day) in self.closed for inv, _ in s.invoices)]
            for what, no in found:
                if (what, no) not in self.seen:
                    self.seen.add((what, no))
                    STATS[("cross-period", what)] += 1

        @invariant()
        def closes_carry_profit(self) -> None:
            """Period statuses are the model's; a closed period's P&L accounts net to zero in it;
            3103 moves by each close's profit and nowhere else; its balance is Σ of those."""
            if self.db is None:
                return
            statuses = {f"{y:04d}-{m:02d}": s
                        for y, m, s in self.read(select(Period.year, Period.month, Period.status))}
            assert [p for p in PERIODS if statuses[p] != "open"] == self.closed, (statuses, self.closed)
            problems = []
            moved = self.movements()
            for (label, code), v in sorted(moved.items()):
                if code != PROFIT and v and label in self.closed:
                    problems.append(f"{label} {code}: {v} left after the close")
            for label in PERIODS:
                want = self.results[label].profit if label in self.closed else ZERO
                got = -moved.get((label, PROFIT), ZERO)
                if got != want:
                    problems.append(f"{label} {PROFIT} moved {got}, closes' profit {want}")
            opening = self.read(select(func.sum(OpeningBalance.credit) - func.sum(OpeningBalance.debit))
                                .join(Account, Account.id == OpeningBalance.account_id)
                                .where(Account.code == PROFIT, OpeningBalance.partner_id.is_(None)))[0][0] or ZERO
            balance = D(opening) - sum((v for (_, code), v in moved.items() if code == PROFIT), ZERO)
            total = sum((r.profit for r in self.results.values()), ZERO)
            if balance != total:
                problems.append(f"{PROFIT} balance {balance}, Σ closes' profit {total}")
            assert not problems, "\n".join(problems)

    trade.RULES.update(name for name, value in vars(CloseBook).items() if callable(value))
    return CloseBook


def add_monthly_product(engine: Engine) -> None:
    with Session(engine) as db:
        admin = users.load_actor(db, "admin")
        db.rollback()
        masterdata.add_product(db, masterdata.ProductIn(MONTHLY, "monthly average", "pcs", D("0.13"),
                                                        costing_method="monthly_average"), actor=admin)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_random_trade_sequences_with_closes_keep_the_books_whole(backend: str, tmp_path: Path,
                                                                  request: pytest.FixtureRequest) -> None:
    engine = None
    template = tmp_path / "unused.db"
    if backend == "sqlite":
        template = trade.make_template(tmp_path)
        sqlite = make_engine(f"sqlite:///{template}")
        add_monthly_product(sqlite)
        sqlite.dispose()
    else:
        engine = make_book(_new_pg_database(request.getfixturevalue("pg_cluster")))
        trade.add_master_data(engine)
        add_monthly_product(engine)
    STATS.clear()
    try:
        run_state_machine_as_test(make_close_machine(template, tmp_path, engine),
                                  settings=settings(trade.TRADE_SETTINGS, max_examples=EXAMPLES[backend]))
    finally:
        if engine is not None:
            engine.dispose()
        if trade.STATS_ON:
            for (name, outcome), n in sorted(STATS.items()):
                print(f"{name:24} {outcome:36} {n}")

