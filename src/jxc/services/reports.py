"""Ledger reports read from the per-period balance tables, never by scanning every line:
科目余额表 (trial balance), 总账 (general ledger), 明细账 (detail ledger)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select, tuple_
from sqlalchemy.orm import Session

from jxc.db.base import table_of
from jxc.db.models import (
    Account,
    AccountBalance,
    AccountSnapshot,
    OpeningBalance,
    Partner,
    PartnerBalance,
    Period,
    PeriodClose,
    Voucher,
    VoucherLine,
)
from jxc.domain import permissions as perm
from jxc.domain.errors import AccountUnknown, InvalidInput, NotFound, PartnerUnknown
from jxc.domain.ledger import Movement, TrialBalanceRow, is_balanced, trial_balance_rows, trial_balance_totals
from jxc.domain.numbers import ZERO, money
from jxc.domain.periods import parse_period_label
from jxc.domain.permissions import Actor, require
from jxc.domain.voucher import voucher_label
from jxc.services.common import PeriodRef, all_periods, period_by_label, reading

LINE = table_of(VoucherLine)


@dataclass(frozen=True, slots=True)
class TrialBalance:
    period: str
    rows: list[TrialBalanceRow]
    totals: dict[str, Decimal]
    balanced: bool


def _period(db: Session, label: str) -> PeriodRef:
    year, month = parse_period_label(label)
    ref = period_by_label(db, year, month)
    if ref is None:
        raise NotFound(entity="period", key=label)
    return ref


def _opening_by_account(db: Session) -> dict[int, Movement]:
    rows = db.execute(select(OpeningBalance.account_id, func.sum(OpeningBalance.debit),
                             func.sum(OpeningBalance.credit)).group_by(OpeningBalance.account_id))
    return {a: Movement(d or ZERO, c or ZERO) for a, d, c in rows}


def trial_balance_data(db: Session, label: str, *, include_zero: bool = False) -> TrialBalance:
    """科目余额表 for one period (no transaction of its own). Opening = 期初 + every earlier
    period's posted movement; both come from the balance tables, so the cost depends on the
    number of accounts and periods, not on the number of voucher lines."""
    period = _period(db, label)
    accounts = db.execute(select(Account.id, Account.code, Account.name, Account.level)
                          .order_by(Account.code)).all()
    code_of = {a.id: a.code for a in accounts}
    opening: dict[str, Movement] = defaultdict(Movement)
    # Start from the last closed period's snapshot before this one, if any, so the closed
    # periods are not summed again; else from the book's opening balances.
    snap = db.execute(select(Period.id, Period.start_date).join(PeriodClose, PeriodClose.period_id == Period.id)
                      .where(Period.start_date < period.start_date)
                      .order_by(Period.start_date.desc()).limit(1)).one_or_none()
    if snap is None:
        for acc_id, mv in _opening_by_account(db).items():
            opening[code_of[acc_id]] += mv
    else:
        for acc_id, bal in db.execute(select(AccountSnapshot.account_id, AccountSnapshot.balance)
                                      .where(AccountSnapshot.period_id == snap.id,
                                             AccountSnapshot.partner_id == 0)):
            opening[code_of[acc_id]] += Movement(bal, ZERO)
    earlier = db.execute(
        select(AccountBalance.account_id, func.sum(AccountBalance.debit), func.sum(AccountBalance.credit))
        .join(Period, Period.id == AccountBalance.period_id)
        .where(Period.start_date < period.start_date,
               Period.start_date > (snap.start_date if snap is not None else date.min))
        .group_by(AccountBalance.account_id)
    )
    for acc_id, d, c in earlier:
        opening[code_of[acc_id]] += Movement(d, c)
    activity = {code_of[r.account_id]: Movement(r.debit, r.credit) for r in db.execute(
        select(AccountBalance.account_id, AccountBalance.debit, AccountBalance.credit)
        .where(AccountBalance.period_id == period.id))}
    rows = trial_balance_rows(((a.code, a.name, a.level) for a in accounts), opening, activity,
                              include_zero=include_zero)
    totals = trial_balance_totals(rows)
    return TrialBalance(period.label, rows, totals, is_balanced(totals))


def trial_balance(db: Session, period: str, *, actor: Actor, include_zero: bool = False) -> TrialBalance:
    """科目余额表 for period "YYYY-MM". Raises NotFound for an unknown period."""
    require(actor, perm.LEDGER_READ)
    with reading(db):
        return trial_balance_data(db, period, include_zero=include_zero)


# --- shared by the general and detail ledgers ----------------------------------------

@dataclass(frozen=True, slots=True)
class Scope:
    """An account and everything under it, optionally one partner."""

    code: str
    name: str
    direction: str
    account_ids: tuple[int, ...]
    partner_id: int | None


def _scope(db: Session, code: str, partner: str | None) -> Scope:
    acct = db.execute(select(Account).where(Account.code == code)).scalar_one_or_none()
    if acct is None:
        raise AccountUnknown(account=code)
    ids = tuple(db.execute(select(Account.id).where(Account.code.startswith(code, autoescape=True))
                           .order_by(Account.id)).scalars())
    partner_id = None
    if partner:
        partner_id = db.execute(select(Partner.id).where(Partner.code == partner)).scalar_one_or_none()
        if partner_id is None:
            raise PartnerUnknown(partner=partner)
    return Scope(acct.code, acct.name, acct.direction, ids, partner_id)


def _opening_net(db: Session, scope: Scope) -> Decimal:
    stmt = select(func.sum(OpeningBalance.debit), func.sum(OpeningBalance.credit)).where(
        OpeningBalance.account_id.in_(scope.account_ids))
    if scope.partner_id is not None:
        stmt = stmt.where(OpeningBalance.partner_id == scope.partner_id)
    d, c = db.execute(stmt).one()
    return (d or ZERO) - (c or ZERO)


def _period_movements(db: Session, scope: Scope) -> dict[int, Movement]:
    table = PartnerBalance if scope.partner_id is not None else AccountBalance
    stmt = (select(table.period_id, func.sum(table.debit), func.sum(table.credit))
            .where(table.account_id.in_(scope.account_ids)).group_by(table.period_id))
    if scope.partner_id is not None:
        stmt = stmt.where(PartnerBalance.partner_id == scope.partner_id)
    return {p: Movement(d, c) for p, d, c in db.execute(stmt)}


def _posted_lines(scope: Scope) -> Select[Any]:
    stmt = (select(LINE.c.voucher_date, LINE.c.voucher_id, LINE.c.line_no, LINE.c.period_id, LINE.c.debit,
                   LINE.c.credit, LINE.c.memo, Voucher.word, Voucher.number, Voucher.memo.label("voucher_memo"),
                   Account.code.label("account"), Partner.code.label("partner"))
            .join(Voucher, Voucher.id == LINE.c.voucher_id)
            .join(Account, Account.id == LINE.c.account_id)
            .outerjoin(Partner, Partner.id == LINE.c.partner_id)
            .where(LINE.c.account_id.in_(scope.account_ids), Voucher.status == "posted"))
    if scope.partner_id is not None:
        stmt = stmt.where(LINE.c.partner_id == scope.partner_id)
    return stmt


def _posted_sum(db: Session, scope: Scope, start: date, before: tuple[date, int, int] | None,
                end_exclusive: date | None) -> Decimal:
    """Net of posted lines from `start` up to (not including) a date or up to and including a cursor.

    The date range is stated on the voucher too (it carries the same date as its lines): without
    it PostgreSQL's planner joined against a scan of every voucher in the book."""
    stmt = (select(func.sum(LINE.c.debit), func.sum(LINE.c.credit))
            .join(Voucher, Voucher.id == LINE.c.voucher_id)
            .where(LINE.c.account_id.in_(scope.account_ids), Voucher.status == "posted",
                   LINE.c.voucher_date >= start, Voucher.voucher_date >= start))
    if scope.partner_id is not None:
        stmt = stmt.where(LINE.c.partner_id == scope.partner_id)
    if end_exclusive is not None:
        stmt = stmt.where(LINE.c.voucher_date < end_exclusive, Voucher.voucher_date < end_exclusive)
    if before is not None:
        stmt = stmt.where(tuple_(LINE.c.voucher_date, LINE.c.voucher_id, LINE.c.line_no) <= before,
                          Voucher.voucher_date <= before[0])
    d, c = db.execute(stmt).one()
    return (d or ZERO) - (c or ZERO)


def _balance_before(db: Session, scope: Scope, day: date) -> Decimal:
    """Net balance (debit positive) at the start of `day`: 期初 + whole periods before + the
    part of day's period before it."""
    periods = all_periods(db)
    moves = _period_movements(db, scope)
    net = _opening_net(db, scope)
    partial_from: date | None = None
    for p in periods:
        if p.end_date < day:
            mv = moves.get(p.id)
            if mv:
                net += mv.net
        elif p.start_date <= day:
            partial_from = p.start_date
    if partial_from is not None and partial_from < day:
        net += _posted_sum(db, scope, partial_from, None, day)
    return net


def _amount(net: Decimal) -> Decimal:
    return money(abs(net))


def direction_of(net: Decimal) -> str:
    return "debit" if net > 0 else "credit" if net < 0 else "flat"


# --- general ledger (总账) ---------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class GeneralLedgerRow:
    period: str
    opening_direction: str
    opening_balance: Decimal
    debit: Decimal
    credit: Decimal
    ytd_debit: Decimal
    ytd_credit: Decimal
    closing_direction: str
    closing_balance: Decimal


@dataclass(frozen=True, slots=True)
class GeneralLedger:
    account: str
    name: str
    partner: str | None
    rows: list[GeneralLedgerRow]


def general_ledger(db: Session, account: str, *, year: int | None = None, partner: str | None = None,
                   actor: Actor) -> GeneralLedger:
    """总账: per period of a fiscal year, opening, movement, year-to-date and closing balance of
    an account and its sub-accounts. Reads only the balance tables."""
    require(actor, perm.LEDGER_READ)
    with reading(db):
        scope = _scope(db, account, partner)
        periods = all_periods(db)
        if year is None:
            year = periods[0].start_date.year if periods else date.today().year
        fy_id = db.execute(select(Period.fiscal_year_id).where(Period.year == year)
                           .order_by(Period.start_date)).scalars().first()
        if fy_id is None:
            raise InvalidInput(field="year", reason="period.no_fiscal_year", value=year)
        in_year = db.execute(select(Period.id).where(Period.fiscal_year_id == fy_id)).scalars().all()
        moves = _period_movements(db, scope)
        net = _opening_net(db, scope)
        rows: list[GeneralLedgerRow] = []
        ytd = Movement()
        for p in periods:
            mv = moves.get(p.id, Movement())
            if p.id in in_year:
                ytd = ytd + mv
                closing = net + mv.net
                rows.append(GeneralLedgerRow(p.label, direction_of(net), _amount(net), money(mv.debit),
                                             money(mv.credit), money(ytd.debit), money(ytd.credit),
                                             direction_of(closing), _amount(closing)))
            net += mv.net
        return GeneralLedger(scope.code, scope.name, partner, rows)


# --- detail ledger (明细账) ---------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class DetailRow:
    voucher_date: date
    period: str
    voucher: str
    voucher_id: int
    line_no: int
    account: str
    partner: str | None
    memo: str
    debit: Decimal
    credit: Decimal
    direction: str
    balance: Decimal


@dataclass(frozen=True, slots=True)
class DetailLedger:
    account: str
    name: str
    partner: str | None
    date_from: date
    date_to: date
    opening_direction: str
    opening_balance: Decimal
    rows: list[DetailRow]
    next_cursor: str | None


def _parse_cursor(cursor: str) -> tuple[date, int, int]:
    try:
        d, v, n = cursor.split(":")
        return date.fromisoformat(d), int(v), int(n)
    except ValueError as exc:
        raise InvalidInput(field="cursor", reason="input.cursor", value=cursor) from exc


def detail_ledger(db: Session, account: str, *, date_from: date, date_to: date, partner: str | None = None,
                  limit: int = 100, cursor: str | None = None, actor: Actor) -> DetailLedger:
    """明细账: posted lines of an account (and its sub-accounts, optionally one partner) between two
    dates with a running balance, one page at a time (keyset pagination on date, voucher, line).
    The opening balance comes from the balance tables plus at most one partial period."""
    require(actor, perm.LEDGER_READ)
    if date_from > date_to:
        raise InvalidInput(field="date_from", reason="input.date_order", value=date_from.isoformat())
    if not 1 <= limit <= 10_000:
        raise InvalidInput(field="limit", reason="input.range", value=limit, min=1, max=10_000)
    with reading(db):
        scope = _scope(db, account, partner)
        opening = _balance_before(db, scope, date_from)
        running = opening
        stmt = _posted_lines(scope).where(LINE.c.voucher_date >= date_from, LINE.c.voucher_date <= date_to)
        if cursor:
            after = _parse_cursor(cursor)
            running += _posted_sum(db, scope, date_from, after, None)
            stmt = stmt.where(tuple_(LINE.c.voucher_date, LINE.c.voucher_id, LINE.c.line_no) > after)
        stmt = stmt.order_by(LINE.c.voucher_date, LINE.c.voucher_id, LINE.c.line_no).limit(limit + 1)
        fetched = db.execute(stmt).all()
        labels = {p.id: p.label for p in all_periods(db)} if fetched else {}
        rows = []
        for r in fetched[:limit]:
            running += r.debit - r.credit
            rows.append(DetailRow(r.voucher_date, labels[r.period_id], voucher_label(r.word, r.number),
                                  r.voucher_id, r.line_no, r.account, r.partner, r.memo or r.voucher_memo,
                                  r.debit, r.credit, direction_of(running), _amount(running)))
        next_cursor = None
        if len(fetched) > limit:
            last = fetched[limit - 1]
            next_cursor = f"{last.voucher_date.isoformat()}:{last.voucher_id}:{last.line_no}"
        return DetailLedger(scope.code, scope.name, partner, date_from, date_to, direction_of(opening),
                            _amount(opening), rows, next_cursor)

