"""Random sequences of voucher operations through the services, on SQLite and PostgreSQL.

A Hypothesis state machine enters valid and invalid vouchers and moves random
vouchers through audit / post / unpost / unaudit / void (some of those moves
not allowed). After every step:
- the trial balance of every period balances;
- the per-period balance tables equal a from-scratch sum of the posted lines,
  computed here independently of the services (and equal to the test's own model);
- every refused operation raised a JxcError and changed nothing at all;
- `checks.verify_books` passes.

Each generated example runs inside its own SAVEPOINT on the `db` fixture's
connection, rolled back in teardown, so examples do not see each other's data.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from sqlalchemy import func, select

from jxc.db.models import (
    Account,
    AccountBalance,
    AuditLog,
    Partner,
    PartnerBalance,
    Period,
    Voucher,
    VoucherLine,
    VoucherSequence,
)
from jxc.domain.errors import (
    AccountNotLeaf,
    AccountUnknown,
    BatchInvalid,
    InvalidInput,
    InvalidTransition,
    JxcError,
    NotFound,
    PartnerRequired,
    PeriodMissing,
    UnbalancedVoucher,
)
from jxc.domain.status import VoucherStatus
from jxc.domain.voucher import VoucherLine as LineIn
from jxc.services import checks, masterdata, reports, vouchers

pytestmark = pytest.mark.slow

D = Decimal
ZERO = D("0")
CENT = D("0.01")
PERIODS = tuple(f"2026-{m:02d}" for m in range(1, 13))
PLAIN_LEAVES = ("1001", "1002", "1405", "5001", "5401", "5602", "22210101", "22210102")
PARTNER_LEAF = "1122"
PARTNERS = ("C001", "C002")

DRAFT, AUDITED, POSTED, VOID = (VoucherStatus.DRAFT, VoucherStatus.AUDITED, VoucherStatus.POSTED,
                                VoucherStatus.VOID)
MOVES = {  # service -> (allowed from, to)
    "audit": (vouchers.audit_voucher, DRAFT, AUDITED),
    "unaudit": (vouchers.unaudit_voucher, AUDITED, DRAFT),
    "post": (vouchers.post_voucher, AUDITED, POSTED),
    "unpost": (vouchers.unpost_voucher, POSTED, AUDITED),
    "void": (vouchers.void_voucher, DRAFT, VOID),
}
INVALID_KINDS = ("unbalanced", "parent_account", "unknown_account", "missing_partner", "three_places",
                 "date_2025")

# --- strategies -----------------------------------------------------------------------------

amounts = st.one_of(
    st.integers(1, 10**8),  # up to 1,000,000.00
    st.integers(1, 999),  # small, cents matter
    st.integers(-10**6, -1),  # red ink
).map(lambda n: D(n).scaleb(-2))


@st.composite
def account_and_partner(draw: st.DrawFn) -> tuple[str, str | None]:
    code = draw(st.sampled_from((*PLAIN_LEAVES, PARTNER_LEAF)))
    return code, (draw(st.sampled_from(PARTNERS)) if code == PARTNER_LEAF else None)


@st.composite
def one_line(draw: st.DrawFn) -> LineIn:
    code, partner = draw(account_and_partner())
    amount = draw(amounts)
    return LineIn(code, amount, ZERO, partner) if draw(st.booleans()) else LineIn(code, ZERO, amount, partner)


@st.composite
def valid_vouchers(draw: st.DrawFn) -> vouchers.VoucherIn:
    """2-5 lines on leaf accounts, balanced to the cent, dated in 2026."""
    lines = draw(st.lists(one_line(), min_size=1, max_size=4))
    net = sum((ln.net for ln in lines), ZERO)
    if net != ZERO:  # a lone non-zero line never nets to zero, so there are always 2+ lines
        code, partner = draw(account_and_partner())
        last = LineIn(code, ZERO, net, partner) if draw(st.booleans()) else LineIn(code, -net, ZERO, partner)
        lines.insert(draw(st.integers(0, len(lines))), last)
    day = draw(st.dates(date(2026, 1, 1), date(2026, 12, 31)))
    return vouchers.VoucherIn(day, tuple(lines), draw(st.sampled_from(("", "sale", "red ink"))))


def _bump(amount: Decimal, delta: Decimal) -> Decimal:
    """amount + delta, or amount - delta when that would make the line zero."""
    return amount + delta if amount + delta != ZERO else amount - delta


def spoil(data: vouchers.VoucherIn, kind: str, i: int) -> vouchers.VoucherIn:
    """Break a valid voucher in exactly one way (line i, modulo the line count)."""
    lines = list(data.lines)
    i %= len(lines)
    ln = lines[i]
    side = "debit" if ln.debit != ZERO else "credit"
    if kind == "unbalanced":
        lines[i] = dataclasses.replace(ln, **{side: _bump(getattr(ln, side), CENT)})
    elif kind == "parent_account":
        lines[i] = dataclasses.replace(ln, account_code="2221", partner_code=None)
    elif kind == "unknown_account":
        lines[i] = dataclasses.replace(ln, account_code="9999", partner_code=None)
    elif kind == "missing_partner":
        lines[i] = dataclasses.replace(ln, account_code=PARTNER_LEAF, partner_code=None)
    elif kind == "three_places":
        lines[i] = dataclasses.replace(ln, **{side: getattr(ln, side) + D("0.005")})
    elif kind == "date_2025":
        return dataclasses.replace(data, voucher_date=data.voucher_date.replace(year=2025))
    return dataclasses.replace(data, lines=tuple(lines))


def assert_reports(kind: str, exc: JxcError) -> None:
    """The refusal names the problem that was planted."""
    if kind == "date_2025":
        assert isinstance(exc, PeriodMissing), exc
        return
    assert isinstance(exc, BatchInvalid), exc
    found = Counter(type(e) for e in exc.errors)
    if kind == "unbalanced":
        assert list(found) == [UnbalancedVoucher], exc.errors
        assert abs(exc.errors[0].params["difference"]) == CENT
    elif kind == "parent_account":
        assert found[AccountNotLeaf] == 1, exc.errors
    elif kind == "unknown_account":
        assert found[AccountUnknown] == 1, exc.errors
    elif kind == "missing_partner":
        assert found[PartnerRequired] == 1, exc.errors
    else:
        assert [e.params.get("reason") for e in exc.errors] == ["input.too_many_places"], exc.errors
        assert isinstance(exc.errors[0], InvalidInput)


# --- reading the books independently of the services -----------------------------------------

Key = tuple[str, ...]


def _nonzero(d: dict[Key, tuple[Decimal, Decimal]]) -> dict[Key, tuple[Decimal, Decimal]]:
    return {k: v for k, v in d.items() if v != (ZERO, ZERO)}


def snapshot(db) -> dict[str, object]:
    """Everything an operation could touch: row counts, statuses, kept balances, audit head."""
    with db.begin():
        counts = {m.__tablename__: db.scalar(select(func.count()).select_from(m))
                  for m in (Voucher, VoucherLine, AccountBalance, PartnerBalance, AuditLog, VoucherSequence)}
        return {
            "counts": counts,
            "statuses": dict(db.execute(select(Voucher.id, Voucher.status)).all()),
            "sequences": sorted(db.execute(select(VoucherSequence.period_id, VoucherSequence.word,
                                                  VoucherSequence.last_number)).all()),
            "account_balance": sorted(db.execute(select(AccountBalance.period_id, AccountBalance.account_id,
                                                        AccountBalance.debit, AccountBalance.credit)).all()),
            "partner_balance": sorted(db.execute(select(PartnerBalance.period_id, PartnerBalance.account_id,
                                                        PartnerBalance.partner_id, PartnerBalance.debit,
                                                        PartnerBalance.credit)).all()),
            "audit_max": db.scalar(select(func.max(AuditLog.seq))),
        }


def books_as_stored(db) -> tuple[dict[Key, tuple[Decimal, Decimal]], dict[Key, tuple[Decimal, Decimal]],
                                 dict[Key, tuple[Decimal, Decimal]], dict[Key, tuple[Decimal, Decimal]]]:
    """(kept account balances, recomputed account balances, kept partner balances, recomputed partner
    balances), keyed by period label and account code (and partner code). The recomputation reads
    every line of every posted voucher and sums it here, in Python."""
    with db.begin():
        period = {p.id: f"{p.year:04d}-{p.month:02d}" for p in db.execute(select(Period.id, Period.year,
                                                                                 Period.month))}
        code = dict(db.execute(select(Account.id, Account.code)).all())
        partner = dict(db.execute(select(Partner.id, Partner.code)).all())
        kept_acc = {(period[p], code[a]): (d, c) for p, a, d, c in db.execute(
            select(AccountBalance.period_id, AccountBalance.account_id, AccountBalance.debit,
                   AccountBalance.credit))}
        kept_par = {(period[p], code[a], partner[q]): (d, c) for p, a, q, d, c in db.execute(
            select(PartnerBalance.period_id, PartnerBalance.account_id, PartnerBalance.partner_id,
                   PartnerBalance.debit, PartnerBalance.credit))}
        posted = db.execute(
            select(Voucher.period_id, Voucher.voucher_date, VoucherLine.period_id, VoucherLine.account_id,
                   VoucherLine.partner_id, VoucherLine.debit, VoucherLine.credit)
            .join(VoucherLine, VoucherLine.voucher_id == Voucher.id)
            .where(Voucher.status == "posted")).all()
    acc: dict[Key, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    par: dict[Key, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for v_period, v_date, l_period, account_id, partner_id, debit, credit in posted:
        assert v_period == l_period, "a line is filed under another period than its voucher"
        assert period[v_period] == f"{v_date:%Y-%m}", "a voucher is filed under the wrong period"
        key = (period[v_period], code[account_id])
        acc[key][0] += debit
        acc[key][1] += credit
        if partner_id is not None:
            pkey = (*key, partner[partner_id])
            par[pkey][0] += debit
            par[pkey][1] += credit
    return ({k: v for k, v in kept_acc.items()}, {k: (d, c) for k, (d, c) in acc.items()},
            kept_par, {k: (d, c) for k, (d, c) in par.items()})


# --- the machine ------------------------------------------------------------------------------

def make_machine(db, admin):  # type: ignore[no-untyped-def]
    conn = db.bind

    class VoucherBook(RuleBasedStateMachine):
        """Model: status and lines of every voucher the example created."""

        def __init__(self) -> None:
            super().__init__()
            self.status: dict[int, VoucherStatus] = {}
            self.entered: dict[int, vouchers.VoucherIn] = {}
            self.savepoint = None
            self.refused = 0

        @initialize()
        def open_example(self) -> None:
            db.rollback()
            db.expunge_all()
            self.savepoint = conn.begin_nested()
            for code in PARTNERS:
                masterdata.add_partner(db, masterdata.PartnerIn(code, f"partner {code}", "customer"), actor=admin)

        def teardown(self) -> None:
            db.rollback()
            db.expunge_all()
            if self.savepoint is not None and self.savepoint.is_active:
                self.savepoint.rollback()

        # -- operations ------------------------------------------------------------------------

        @rule(data=valid_vouchers(), advance=st.sampled_from((DRAFT, AUDITED, POSTED)))
        def enter_valid(self, data: vouchers.VoucherIn, advance: VoucherStatus) -> None:
            before = snapshot(db)
            ref = vouchers.create_voucher(db, data, actor=admin, advance_to=advance)
            assert ref.status == advance.value
            assert ref.period == f"{data.voucher_date:%Y-%m}"
            assert ref.id not in self.status
            self.status[ref.id] = advance
            self.entered[ref.id] = data
            after = snapshot(db)
            assert after["counts"]["voucher"] == before["counts"]["voucher"] + 1
            assert after["counts"]["voucher_line"] == before["counts"]["voucher_line"] + len(data.lines)

        @rule(data=valid_vouchers(), kind=st.sampled_from(INVALID_KINDS), line=st.integers(0, 10),
              advance=st.sampled_from((DRAFT, AUDITED, POSTED)))
        def enter_invalid(self, data: vouchers.VoucherIn, kind: str, line: int, advance: VoucherStatus) -> None:
            bad = spoil(data, kind, line)
            before = snapshot(db)
            with pytest.raises(JxcError) as err:
                vouchers.create_voucher(db, bad, actor=admin, advance_to=advance)
            assert_reports(kind, err.value)
            assert snapshot(db) == before
            self.refused += 1

        @rule(move=st.sampled_from(sorted(MOVES)), pick=st.integers(0, 10**6))
        def move_voucher(self, move: str, pick: int) -> None:
            service, source, target = MOVES[move]
            if not self.status:
                return
            vid = sorted(self.status)[pick % len(self.status)]
            before = snapshot(db)
            if self.status[vid] is source:
                ref = service(db, vid, actor=admin)
                assert (ref.id, ref.status) == (vid, target.value)
                self.status[vid] = target
                after = snapshot(db)
                assert after["counts"]["voucher"] == before["counts"]["voucher"]
                assert after["audit_max"] == before["audit_max"] + 1
            else:
                with pytest.raises(InvalidTransition):
                    service(db, vid, actor=admin)
                assert snapshot(db) == before
                self.refused += 1

        @rule(move=st.sampled_from(sorted(MOVES)), offset=st.integers(1, 1000))
        def move_missing_voucher(self, move: str, offset: int) -> None:
            service = MOVES[move][0]
            before = snapshot(db)
            with db.begin():
                missing = (db.scalar(select(func.max(Voucher.id))) or 0) + offset
            with pytest.raises(NotFound):
                service(db, missing, actor=admin)
            assert snapshot(db) == before

        # -- invariants ------------------------------------------------------------------------

        @invariant()
        def trial_balance_of_every_period_balances(self) -> None:
            if self.savepoint is None:
                return
            expected = self.model_balances()
            for label in PERIODS:
                tb = reports.trial_balance(db, label, actor=admin)
                assert tb.balanced, (label, tb.totals)
                rows = {r.account: r for r in tb.rows}
                for (period, code), (d, c) in expected.items():
                    if period == label and (d, c) != (ZERO, ZERO):
                        assert (rows[code].debit, rows[code].credit) == (d, c), (label, code)

        @invariant()
        def balance_tables_equal_posted_lines(self) -> None:
            if self.savepoint is None:
                return
            kept_acc, fresh_acc, kept_par, fresh_par = books_as_stored(db)
            assert _nonzero(kept_acc) == _nonzero(fresh_acc)
            assert _nonzero(kept_par) == _nonzero(fresh_par)
            assert _nonzero(fresh_acc) == _nonzero(self.model_balances())
            assert _nonzero(fresh_par) == _nonzero(self.model_balances(by_partner=True))

        @invariant()
        def statuses_match_the_model(self) -> None:
            if self.savepoint is None:
                return
            with db.begin():
                stored = dict(db.execute(select(Voucher.id, Voucher.status)).all())
            assert {k: v for k, v in stored.items() if k in self.status} == {
                k: v.value for k, v in self.status.items()}
            assert set(self.status) <= set(stored)

        @invariant()
        def books_verify(self) -> None:
            if self.savepoint is None:
                return
            with db.begin():
                report = checks.verify_books(db)
            assert report.ok, [c for c in report.checks if not c.ok]

        def model_balances(self, *, by_partner: bool = False) -> dict[Key, tuple[Decimal, Decimal]]:
            out: dict[Key, tuple[Decimal, Decimal]] = {}
            for vid, status in self.status.items():
                if status is not POSTED:
                    continue
                data = self.entered[vid]
                for ln in data.lines:
                    if by_partner and ln.partner_code is None:
                        continue
                    key: Key = (f"{data.voucher_date:%Y-%m}", ln.account_code)
                    if by_partner:
                        key = (*key, str(ln.partner_code))
                    d, c = out.get(key, (ZERO, ZERO))
                    out[key] = (d + ln.debit, c + ln.credit)
            return out

    return VoucherBook


def test_random_voucher_sequences_keep_the_books_whole(db, admin, backend_name):
    machine = make_machine(db, admin)
    run_state_machine_as_test(machine, settings=settings(
        max_examples=30 if backend_name == "sqlite" else 25,
        stateful_step_count=12,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                               HealthCheck.filter_too_much],
    ))


# --- the machine's findings, pinned as plain examples -------------------------------------------

def _voucher_in(db, admin, start: VoucherStatus) -> int:  # type: ignore[no-untyped-def]
    data = vouchers.VoucherIn(date(2026, 3, 9), (LineIn("1002", D("88.00"), ZERO), LineIn("5001", ZERO, D("88.00"))))
    ref = vouchers.create_voucher(db, data, actor=admin, advance_to=DRAFT if start is VOID else start)
    if start is VOID:
        vouchers.void_voucher(db, ref.id, actor=admin)
    return ref.id


@pytest.mark.parametrize("move", sorted(MOVES))
@pytest.mark.parametrize("start", [DRAFT, AUDITED, POSTED, VOID], ids=str)
def test_each_voucher_service_makes_only_its_own_move(db, admin, start, move):
    """audit = draft->audited, unaudit = audited->draft, post = audited->posted,
    unpost = posted->audited, void = draft->void; from any other status the service refuses."""
    service, source, target = MOVES[move]
    vid = _voucher_in(db, admin, start)
    before = snapshot(db)
    if start is source:
        assert service(db, vid, actor=admin).status == target.value
        return
    with pytest.raises(InvalidTransition):
        service(db, vid, actor=admin)
    assert snapshot(db) == before


def test_audit_permission_alone_cannot_unpost(db, admin):
    """The manager role may audit but not post; 反过账 needs voucher.post."""
    from jxc.services import users

    users.add_user(db, "boss", "boss-pass-1", roles=["manager"], actor=admin)
    boss = users.load_actor(db, "boss")
    db.rollback()
    vid = _voucher_in(db, admin, POSTED)
    before = snapshot(db)
    with pytest.raises(JxcError):
        vouchers.audit_voucher(db, vid, actor=boss)
    assert snapshot(db) == before
    assert snapshot(db)["statuses"][vid] == "posted"


MAX_LINE = D("9999999999999999.99")  # numbers.MAX_MONEY: the most a Money column holds


def test_voucher_whose_total_exceeds_the_money_column_is_refused(db, admin):
    """Each line is within MAX_MONEY, but the voucher total (Σdebit) is not: the same input error on
    both backends, nothing written (not a driver overflow on PostgreSQL, not a silent accept on SQLite)."""
    lines = (LineIn("1002", MAX_LINE, ZERO), LineIn("1001", MAX_LINE, ZERO),
             LineIn("5001", ZERO, MAX_LINE), LineIn("5401", ZERO, MAX_LINE))
    before = snapshot(db)
    with pytest.raises(JxcError):
        vouchers.create_voucher(db, vouchers.VoucherIn(date(2026, 1, 5), lines), actor=admin)
    assert snapshot(db) == before


def test_posting_that_would_overflow_a_balance_is_refused(db, admin):
    """Two postings of 6e15 to one account in one period would put 1.2e16 in account_balance,
    more than the column holds: the second posting must be refused as a JxcError, changing nothing."""
    half = D("6000000000000000.00")
    data = vouchers.VoucherIn(date(2026, 1, 5), (LineIn("1002", half, ZERO), LineIn("5001", ZERO, half)))
    vouchers.create_voucher(db, data, actor=admin, advance_to=POSTED)
    second = vouchers.create_voucher(db, data, actor=admin, advance_to=AUDITED)
    before = snapshot(db)
    with pytest.raises(JxcError):
        vouchers.post_voucher(db, second.id, actor=admin)
    assert snapshot(db) == before
