"""Vouchers (凭证): create, audit, post and their reversals, each one transaction.

Lifecycle: draft -> audited -> posted, back one step at a time while the period
is open; a draft can be voided (it keeps its number, so numbering has no gaps).
Only posting touches the ledger: it adds the voucher's lines to the per-period
balance tables, and un-posting subtracts them again.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from jxc.db.base import table_of
from jxc.db.models import (
    Account,
    AccountBalance,
    OpeningBalance,
    Partner,
    PartnerBalance,
    Period,
    PostingRule,
    StockDoc,
    StockEntry,
    User,
    Voucher,
    VoucherLine,
    VoucherSequence,
)
from jxc.domain import permissions as perm
from jxc.domain.errors import (
    InvalidInput,
    JxcError,
    NotFound,
    OpeningStockMismatch,
    OpeningUnbalanced,
    SameUserAudit,
    VoucherGenerated,
)
from jxc.domain.numbers import ZERO
from jxc.domain.periods import parse_period_label
from jxc.domain.permissions import Actor, require
from jxc.domain.status import VOUCHER_ACTIONS, VoucherAction, VoucherStatus, voucher_action_target
from jxc.domain.voucher import VoucherLine as LineIn
from jxc.domain.voucher import check_voucher, voucher_label
from jxc.services import arap
from jxc.services.common import (
    ACCOUNT,
    COMPANY,
    DB,
    PARTNER,
    PERIOD,
    BookRules,
    PeriodRef,
    append_audit,
    conn_of,
    dialect_insert,
    insert_many,
    open_period_and_rules,
    period_by_label,
    reading,
    reserve_ids,
    update_many,
    upsert_add,
    utcnow,
    voucher_refs,
)

VOUCHER = table_of(Voucher)
LINE = table_of(VoucherLine)
SEQUENCE = table_of(VoucherSequence)
ACCOUNT_BALANCE = table_of(AccountBalance)
PARTNER_BALANCE = table_of(PartnerBalance)


@dataclass(frozen=True, slots=True)
class VoucherIn:
    """A voucher as entered: date, lines, memo."""

    voucher_date: date
    lines: tuple[LineIn, ...]
    memo: str = ""


@dataclass(frozen=True, slots=True)
class VoucherRef:
    id: int
    period: str
    label: str  # 记-0001
    status: str


@dataclass(frozen=True, slots=True)
class VoucherLineView:
    line_no: int
    account: str
    account_name: str
    partner: str | None
    debit: Decimal
    credit: Decimal
    memo: str


@dataclass(frozen=True, slots=True)
class VoucherView:
    id: int
    period: str
    label: str
    voucher_date: date
    status: str
    memo: str
    total: Decimal
    created_by: str
    audited_by: str | None
    posted_by: str | None
    lines: tuple[VoucherLineView, ...]


# --- internal steps, shared by the public services and the importer -------------
# Statements on the posting path are prebuilt (see services/common.py for why).

_VOUCHER_INSERT = insert(VOUCHER).returning(VOUCHER.c.id)
_LINE_INSERT = insert(LINE)
# The voucher (locked) with its lines, one row per line: posting needs both, in one round trip.
_VOUCHER_LOCK = (select(VOUCHER.c.id, VOUCHER.c.status, VOUCHER.c.voucher_date, VOUCHER.c.word, VOUCHER.c.number,
                        VOUCHER.c.created_by, VOUCHER.c.audited_by, VOUCHER.c.posted_by, VOUCHER.c.source_type,
                        LINE.c.account_id, LINE.c.partner_id, LINE.c.debit, LINE.c.credit)
                 .join(LINE, LINE.c.voucher_id == VOUCHER.c.id)
                 .where(VOUCHER.c.id == bindparam("v")).with_for_update(of=VOUCHER))
_OPENING_TOTALS = select(func.coalesce(func.sum(OpeningBalance.debit), 0),
                         func.coalesce(func.sum(OpeningBalance.credit), 0))
# 期初库存 must agree with the inventory accounts' opening balance (账账相符 from day one).
_OPENING_STOCK = (select(func.sum(StockEntry.value)).join(StockDoc, StockDoc.id == StockEntry.doc_id)
                  .where(StockDoc.doc_type == "opening_stock"))
_OPENING_INVENTORY = select(func.sum(OpeningBalance.debit), func.sum(OpeningBalance.credit)).where(
    OpeningBalance.account_id.in_(select(PostingRule.inventory_account_id)))
_VOUCHER_SET = update(VOUCHER).where(VOUCHER.c.id == bindparam("v")).values(
    status=bindparam("s"), audited_by=bindparam("ab"), posted_by=bindparam("pb"))
_OPENING_STATE = select(COMPANY.c.opening_locked).where(COMPANY.c.id == 1).with_for_update()
_OPENING_LOCK = update(COMPANY).where(COMPANY.c.id == 1).values(opening_locked=True)


_SEQ_NEXT: dict[str, Any] = {}


def _next_number(db: DB, period_id: int, word: str) -> int:
    """Hand out the next number for (period, word) with one upsert: the first voucher of a
    period inserts the row, later ones increment it. The row stays locked until commit, so
    concurrent creators never share a number and none is skipped."""
    conn = conn_of(db)
    stmt = _SEQ_NEXT.get(conn.dialect.name)
    if stmt is None:
        ins = dialect_insert(conn, SEQUENCE)
        stmt = ins.on_conflict_do_update(
            index_elements=[SEQUENCE.c.period_id, SEQUENCE.c.word],
            set_={"last_number": SEQUENCE.c.last_number + 1},
        ).returning(SEQUENCE.c.last_number)
        _SEQ_NEXT[conn.dialect.name] = stmt
    return int(conn.execute(stmt, {"period_id": period_id, "word": word, "last_number": 1}).scalar_one())


@dataclass(frozen=True, slots=True)
class _Posting:
    """A line as the balance tables see it."""

    account_id: int
    partner_id: int | None
    debit: Decimal
    credit: Decimal


def _insert_voucher(db: DB, data: VoucherIn, actor: Actor, status: VoucherStatus,
                    expected_label: str | None = None) -> tuple[VoucherRef, PeriodRef, BookRules, list[_Posting]]:
    if len(data.memo) > 200:
        raise InvalidInput(field="memo", reason="input.too_long", max=200)
    for i, ln in enumerate(data.lines, start=1):
        if len(ln.memo) > 200:
            raise InvalidInput(field=f"lines[{i}].memo", reason="input.too_long", max=200)
    facts, partners = voucher_refs(db, (ln.account_code for ln in data.lines), (ln.partner_code for ln in data.lines))
    check_voucher(data.lines, {c: f for c, (_, f) in facts.items()}, partners)
    period, rules = open_period_and_rules(db, data.voucher_date)
    word = rules.voucher_word
    number = _next_number(db, period.id, word)
    label = voucher_label(word, number)
    if expected_label and expected_label not in (label, str(number)):
        # A migrated voucher keeps its number only if that leaves no gap: files come in number order.
        raise InvalidInput(field="no", reason="voucher.number_out_of_order", value=expected_label,
                           expected=label, period=period.label)
    total = sum((ln.debit for ln in data.lines), ZERO)
    audited = status in (VoucherStatus.AUDITED, VoucherStatus.POSTED)
    conn = conn_of(db)
    voucher_id = conn.execute(_VOUCHER_INSERT, {
        "period_id": period.id, "voucher_date": data.voucher_date, "word": word, "number": number,
        "status": status.value, "memo": data.memo, "total": total, "source_type": None, "source_id": None,
        "created_by": actor.id, "created_at": utcnow(), "audited_by": actor.id if audited else None,
        "posted_by": actor.id if status is VoucherStatus.POSTED else None,
    }).scalar_one()
    postings = [_Posting(facts[ln.account_code][0], partners.get(ln.partner_code) if ln.partner_code else None,
                         ln.debit, ln.credit) for ln in data.lines]
    conn.execute(_LINE_INSERT, [
        {"voucher_id": voucher_id, "line_no": i, "account_id": p.account_id, "partner_id": p.partner_id,
         "debit": p.debit, "credit": p.credit, "memo": ln.memo, "voucher_date": data.voucher_date,
         "period_id": period.id}
        for i, (p, ln) in enumerate(zip(postings, data.lines, strict=True), start=1)
    ])
    return VoucherRef(voucher_id, period.label, label, status.value), period, rules, postings


def _ensure_opening_locked(db: DB, rules: BookRules) -> None:
    """结束初始化 on the first posting: the opening balances must balance (期初试算平衡),
    and from then on they are fixed, since balances already build on them."""
    if rules.opening_locked:
        return
    conn = conn_of(db)
    # Lock the company row before reading the totals: set_opening_balance takes the same lock,
    # so no opening balance can change between this check and the lock being set.
    if conn.execute(_OPENING_STATE).scalar_one():
        return
    debit, credit = conn.execute(_OPENING_TOTALS).one()
    debit, credit = Decimal(debit), Decimal(credit)
    if debit != credit:
        raise OpeningUnbalanced(debit=debit, credit=credit, difference=debit - credit)
    stock = conn.execute(_OPENING_STOCK).scalar()
    if stock is not None:
        d, c = conn.execute(_OPENING_INVENTORY).one()
        ledger = (d or ZERO) - (c or ZERO)
        if stock != ledger:
            raise OpeningStockMismatch(stock=stock, ledger=ledger)
    conn.execute(_OPENING_LOCK)


def _apply_to_balances(db: DB, period_id: int, postings: list[_Posting], sign: int) -> None:
    """Add (sign=1) or subtract (sign=-1) a voucher's lines to the per-period balances."""
    by_account: dict[int, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    by_partner: dict[tuple[int, int], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for ln in postings:
        acc = by_account[ln.account_id]
        acc[0] += ln.debit
        acc[1] += ln.credit
        if ln.partner_id is not None:
            par = by_partner[(ln.account_id, ln.partner_id)]
            par[0] += ln.debit
            par[1] += ln.credit
    upsert_add(db, ACCOUNT_BALANCE, ("period_id", "account_id"),
               [{"period_id": period_id, "account_id": a, "debit": sign * d, "credit": sign * c}
                for a, (d, c) in by_account.items()], ("debit", "credit"))
    upsert_add(db, PARTNER_BALANCE, ("period_id", "account_id", "partner_id"),
               [{"period_id": period_id, "account_id": a, "partner_id": p, "debit": sign * d,
                 "credit": sign * c} for (a, p), (d, c) in by_partner.items()], ("debit", "credit"))


def _move(db: DB, voucher_id: int, action: VoucherAction, actor: Actor, *,
          allow_generated: bool = False) -> VoucherRef:
    """Apply one lifecycle action to a voucher: lock it, check the period is open and the
    voucher is in the status the action starts from, apply ledger effects, record who did it.
    Lock order: voucher, period, balances, audit head."""
    conn = conn_of(db)
    rows = conn.execute(_VOUCHER_LOCK, {"v": voucher_id}).all()
    if not rows:
        raise NotFound(entity="voucher", key=voucher_id)
    v = rows[0]
    postings = [_Posting(r.account_id, r.partner_id, r.debit, r.credit) for r in rows]
    label = voucher_label(v.word, v.number)
    if v.source_type not in (None, REVERSAL) and not allow_generated:
        raise VoucherGenerated(voucher=label)
    period, rules = open_period_and_rules(db, v.voucher_date)
    current = VoucherStatus(v.status)
    target = voucher_action_target(current, action, voucher=f"{period.label} {label}")
    audited_by, posted_by = v.audited_by, v.posted_by
    if target is VoucherStatus.AUDITED and current is VoucherStatus.DRAFT:
        if v.created_by == actor.id and rules.require_distinct_auditor:
            raise SameUserAudit(voucher=label, user=actor.username)
        audited_by = actor.id
    elif target is VoucherStatus.DRAFT:
        audited_by = None
    elif target is VoucherStatus.POSTED:
        _ensure_opening_locked(db, rules)
        _apply_to_balances(db, period.id, postings, 1)
        if any(p.partner_id is not None for p in postings):
            arap.add_voucher_items(db, [v.id])
        posted_by = actor.id
    elif current is VoucherStatus.POSTED:
        _apply_to_balances(db, period.id, postings, -1)
        arap.drop_voucher_items(db, v.id, f"{period.label} {label}")
        posted_by = None
    conn.execute(_VOUCHER_SET, {"v": v.id, "s": target.value, "ab": audited_by, "pb": posted_by})
    append_audit(db, actor, f"voucher.{action.value}", "voucher", v.id, {"period": period.label, "voucher": label})
    return VoucherRef(v.id, period.label, label, target.value)


_PERMISSION_FOR = {
    VoucherStatus.AUDITED: (perm.VOUCHER_AUDIT,),
    VoucherStatus.POSTED: (perm.VOUCHER_AUDIT, perm.VOUCHER_POST),
    VoucherStatus.DRAFT: (),
}


def enter_voucher(db: DB, data: VoucherIn, actor: Actor, advance_to: VoucherStatus,
                  expected_label: str | None = None) -> VoucherRef:
    """Create a voucher already at `advance_to` (draft, audited or posted) in one step, with the
    same rules as walking it there: segregation of duties, 期初 check, balances on posting.
    One audit-log entry records the whole user action (no transaction of its own)."""
    ref, period, rules, postings = _insert_voucher(db, data, actor, advance_to, expected_label)
    if advance_to is not VoucherStatus.DRAFT and rules.require_distinct_auditor:
        raise SameUserAudit(voucher=ref.label, user=actor.username)  # the caller's rollback undoes the insert
    if advance_to is VoucherStatus.POSTED:
        _ensure_opening_locked(db, rules)
        _apply_to_balances(db, period.id, postings, 1)
        if any(p.partner_id is not None for p in postings):
            arap.add_voucher_items(db, [ref.id])
    append_audit(db, actor, "voucher.create", "voucher", ref.id,
                 {"period": period.label, "voucher": ref.label, "status": ref.status,
                  "date": data.voucher_date.isoformat(),
                  "lines": [[ln.account_code, ln.partner_code, str(ln.debit), str(ln.credit)] for ln in data.lines]})
    return ref


# --- public services ------------------------------------------------------------

def create_voucher(db: Session, data: VoucherIn, *, actor: Actor,
                   advance_to: VoucherStatus = VoucherStatus.DRAFT) -> VoucherRef:
    """Create a manual voucher numbered gap-free in its period, optionally audited and posted
    in the same transaction. All or nothing: raises BatchInvalid listing every bad line,
    PeriodClosed/PeriodMissing for the date, PermissionDenied, SameUserAudit."""
    require(actor, perm.VOUCHER_CREATE)
    for permission in _PERMISSION_FOR[VoucherStatus(advance_to)]:
        require(actor, permission)
    with db.begin():
        return enter_voucher(db.connection(), data, actor, VoucherStatus(advance_to))


_ACTION_PERMISSION = {
    VoucherAction.AUDIT: perm.VOUCHER_AUDIT,
    VoucherAction.UNAUDIT: perm.VOUCHER_AUDIT,
    VoucherAction.POST: perm.VOUCHER_POST,
    VoucherAction.UNPOST: perm.VOUCHER_POST,
    VoucherAction.VOID: perm.VOUCHER_VOID,
}


def apply_action(db: Session, voucher_id: int, action: VoucherAction, *, actor: Actor) -> VoucherRef:
    """One lifecycle step on one voucher, in one transaction, with the permission that step needs.
    Raises NotFound, InvalidTransition, PeriodClosed, SameUserAudit (audit with segregation on),
    OpeningUnbalanced (the book's first posting), VoucherGenerated, PermissionDenied."""
    require(actor, _ACTION_PERMISSION[action])
    with db.begin():
        return _move(db.connection(), voucher_id, action, actor)


def audit_voucher(db: Session, voucher_id: int, *, actor: Actor) -> VoucherRef:
    """审核: draft -> audited. With the segregation setting on, the auditor must not be the preparer."""
    return apply_action(db, voucher_id, VoucherAction.AUDIT, actor=actor)


def unaudit_voucher(db: Session, voucher_id: int, *, actor: Actor) -> VoucherRef:
    """反审核: audited -> draft, while the period is open."""
    return apply_action(db, voucher_id, VoucherAction.UNAUDIT, actor=actor)


def post_voucher(db: Session, voucher_id: int, *, actor: Actor) -> VoucherRef:
    """过账: audited -> posted; adds the lines to the period balances. The first posting of the
    book requires balanced opening balances and fixes them (raises OpeningUnbalanced)."""
    return apply_action(db, voucher_id, VoucherAction.POST, actor=actor)


def unpost_voucher(db: Session, voucher_id: int, *, actor: Actor) -> VoucherRef:
    """反过账: posted -> audited; subtracts the lines from the period balances."""
    return apply_action(db, voucher_id, VoucherAction.UNPOST, actor=actor)


def void_voucher(db: Session, voucher_id: int, *, actor: Actor) -> VoucherRef:
    """作废: draft -> void. The voucher keeps its number and never counts in the ledger."""
    return apply_action(db, voucher_id, VoucherAction.VOID, actor=actor)


def find_voucher_id(db: Session, period: str, label: str) -> int:
    """The id of voucher `label` (记-0001, or just 1) in period "YYYY-MM". Raises NotFound."""
    year, month = parse_period_label(period)
    word, _, num = label.rpartition("-")
    ref = period_by_label(db, year, month)
    if ref is None or not num.isdigit():
        raise NotFound(entity="voucher", key=f"{period} {label}")
    stmt = select(VOUCHER.c.id).where(VOUCHER.c.period_id == ref.id, VOUCHER.c.number == int(num))
    if word:
        stmt = stmt.where(VOUCHER.c.word == word)
    found = db.execute(stmt).scalars().all()
    if len(found) != 1:
        raise NotFound(entity="voucher", key=f"{period} {label}")
    return int(found[0])


def get_voucher(db: Session, voucher_id: int, *, actor: Actor) -> VoucherView:
    """One voucher with its lines, for display."""
    require(actor, perm.LEDGER_READ)
    with reading(db):
        v = db.get(Voucher, voucher_id)
        if v is None:
            raise NotFound(entity="voucher", key=voucher_id)
        period = db.get(Period, v.period_id)
        assert period is not None
        names = {u.id: u.username for u in db.execute(
            select(User).where(User.id.in_([x for x in (v.created_by, v.audited_by, v.posted_by) if x]))
        ).scalars()}
        rows = db.execute(
            select(LINE.c.line_no, Account.code, Account.name, Partner.code.label("partner"), LINE.c.debit,
                   LINE.c.credit, LINE.c.memo)
            .join(Account, Account.id == LINE.c.account_id)
            .outerjoin(Partner, Partner.id == LINE.c.partner_id)
            .where(LINE.c.voucher_id == voucher_id).order_by(LINE.c.line_no)
        ).all()
        return VoucherView(
            v.id, period.label, voucher_label(v.word, v.number), v.voucher_date, v.status, v.memo, v.total,
            names.get(v.created_by, ""), names.get(v.audited_by) if v.audited_by else None,
            names.get(v.posted_by) if v.posted_by else None,
            tuple(VoucherLineView(r.line_no, r.code, r.name, r.partner, r.debit, r.credit, r.memo)
                  for r in rows),
        )


@dataclass(frozen=True, slots=True)
class VoucherSummary:
    id: int
    label: str
    voucher_date: date
    status: str
    memo: str
    total: Decimal
    created_by: str


@dataclass(frozen=True, slots=True)
class VoucherPage:
    period: str
    vouchers: list[VoucherSummary]
    next_cursor: int | None  # the last number shown; pass it back for the next page


def _voucher_page(db: Session, period: PeriodRef, status: VoucherStatus | None, limit: int,
                  after_number: int | None) -> VoucherPage:
    stmt = (select(VOUCHER.c.id, VOUCHER.c.word, VOUCHER.c.number, VOUCHER.c.voucher_date, VOUCHER.c.status,
                   VOUCHER.c.memo, VOUCHER.c.total, User.username)
            .join(User, User.id == VOUCHER.c.created_by)
            .where(VOUCHER.c.period_id == period.id)
            .order_by(VOUCHER.c.number).limit(limit + 1))
    if status is not None:
        stmt = stmt.where(VOUCHER.c.status == VoucherStatus(status).value)
    if after_number is not None:
        stmt = stmt.where(VOUCHER.c.number > after_number)
    rows = db.execute(stmt).all()
    shown = [VoucherSummary(r.id, voucher_label(r.word, r.number), r.voucher_date, r.status, r.memo, r.total,
                            r.username) for r in rows[:limit]]
    next_cursor = rows[limit - 1].number if len(rows) > limit else None
    return VoucherPage(period.label, shown, next_cursor)


def _known_period(db: Session, period: str) -> PeriodRef:
    year, month = parse_period_label(period)
    ref = period_by_label(db, year, month)
    if ref is None:
        raise NotFound(entity="period", key=period)
    return ref


def list_vouchers(db: Session, period: str, *, status: VoucherStatus | None = None, limit: int = 100,
                  after_number: int | None = None, actor: Actor) -> VoucherPage:
    """凭证序时簿: the vouchers of one period in number order, optionally of one status, one page at a
    time (keyset on the number). Raises NotFound for an unknown period, InvalidInput for a bad limit."""
    require(actor, perm.LEDGER_READ)
    if not 1 <= limit <= 10_000:
        raise InvalidInput(field="limit", reason="input.range", value=limit, min=1, max=10_000)
    with reading(db):
        return _voucher_page(db, _known_period(db, period), status, limit, after_number)


@dataclass(frozen=True, slots=True)
class BatchResult:
    period: str
    done: list[VoucherRef]
    failed: list[tuple[str, JxcError]]  # voucher label, why it was refused


def apply_action_to_period(db: Session, period: str, action: VoucherAction, *, actor: Actor) -> BatchResult:
    """成批审核 / 全部过账 and their reversals: `action` on every voucher of `period` that is in the
    status the action starts from, in number order, each in its own transaction, so one refusal
    (segregation of duties, say) is reported without undoing the others. Raises NotFound for an
    unknown period and PermissionDenied before touching anything."""
    require(actor, _ACTION_PERMISSION[action])
    source = VOUCHER_ACTIONS[action][0]
    with reading(db):
        ref = _known_period(db, period)
    done: list[VoucherRef] = []
    failed: list[tuple[str, JxcError]] = []
    after: int | None = None
    while True:
        with reading(db):
            page = _voucher_page(db, ref, source, 1000, after)
        for v in page.vouchers:
            try:
                done.append(apply_action(db, v.id, action, actor=actor))
            except JxcError as exc:
                failed.append((v.label, exc))
        if page.next_cursor is None:
            return BatchResult(ref.label, done, failed)
        after = page.next_cursor


# --- vouchers generated by business documents -------------------------------------
# A stock document's voucher is built from its stock entries and posted with them. Its lines
# carry `side`, so that re-costing can change an amount (even to zero) without the voucher's
# layout moving under the entries that point at its lines.

_GEN_LINES = select(LINE.c.line_no, LINE.c.account_id, LINE.c.partner_id, LINE.c.debit, LINE.c.credit,
                    LINE.c.period_id, LINE.c.side).where(LINE.c.voucher_id == bindparam("v"))
_GEN_TOTAL = update(VOUCHER).where(VOUCHER.c.id == bindparam("v")).values(total=VOUCHER.c.total + bindparam("d"))
_GEN_VOID = update(VOUCHER).where(VOUCHER.c.id == bindparam("v")).values(status="void", posted_by=None)


@dataclass(frozen=True, slots=True)
class GenLine:
    """A line of a generated voucher: side 1 debit, -1 credit; the amount may be red or zero."""

    account_id: int
    partner_id: int | None
    side: int
    amount: Decimal


def insert_generated_voucher(db: DB, period: PeriodRef, rules: BookRules, day: date, memo: str,
                             lines: list[GenLine], source_type: str, source_id: int, actor: Actor, *,
                             items: bool | None = None) -> int:
    """Insert a posted voucher with these lines for a business document and add it to the
    balances. No audit entry of its own: the document's step records it."""
    conn = conn_of(db)
    number = _next_number(db, period.id, rules.voucher_word)
    total = sum((ln.amount for ln in lines if ln.side == 1), ZERO)
    voucher_id = int(conn.execute(_VOUCHER_INSERT, {
        "period_id": period.id, "voucher_date": day, "word": rules.voucher_word, "number": number,
        "status": VoucherStatus.POSTED.value, "memo": memo[:200], "total": total, "source_type": source_type,
        "source_id": source_id, "created_by": actor.id, "created_at": utcnow(), "audited_by": actor.id,
        "posted_by": actor.id,
    }).scalar_one())
    append_generated_lines(db, voucher_id, period.id, day, 1, lines, items=items)
    _ensure_opening_locked(db, rules)
    return voucher_id


def append_generated_lines(db: DB, voucher_id: int, period_id: int, day: date, first_no: int,
                           lines: list[GenLine], *, items: bool | None = None) -> None:
    """Add lines to a generated voucher (numbered from first_no) and their amounts to the balances.
    items: whether any line is on an open-item account (the caller may know; None: look)."""
    if not lines:
        return
    conn_of(db).execute(_LINE_INSERT, [
        {"voucher_id": voucher_id, "line_no": first_no + i, "account_id": ln.account_id,
         "partner_id": ln.partner_id, "debit": ln.amount if ln.side == 1 else ZERO,
         "credit": ln.amount if ln.side == -1 else ZERO, "memo": "", "voucher_date": day, "period_id": period_id,
         "side": ln.side} for i, ln in enumerate(lines)])
    if items if items is not None else any(ln.partner_id is not None for ln in lines):
        arap.add_voucher_items(db, [voucher_id], first_no)
    extra = sum((ln.amount for ln in lines if ln.side == 1), ZERO)
    if first_no > 1 and extra:
        conn_of(db).execute(_GEN_TOTAL, {"v": voucher_id, "d": extra})
    _apply_to_balances(db, period_id, [
        _Posting(ln.account_id, ln.partner_id, ln.amount if ln.side == 1 else ZERO,
                 ln.amount if ln.side == -1 else ZERO) for ln in lines if ln.amount], 1)


@dataclass(frozen=True, slots=True)
class LineDelta:
    """A change to the amount of one line of a generated voucher."""

    voucher_id: int
    line_no: int
    side: int
    account_id: int
    partner_id: int | None
    period_id: int
    amount: Decimal


def adjust_generated_lines(db: DB, deltas: list[LineDelta]) -> None:
    """Add the deltas to their voucher lines, the vouchers' totals and the period balances:
    re-costing rewrites the vouchers of the entries it changed, in place."""
    merged: dict[tuple[int, int, int], list[Any]] = {}
    for d in deltas:
        if d.amount:
            key = (d.voucher_id, d.line_no, d.side)
            if key in merged:
                merged[key][0] += d.amount
            else:
                merged[key] = [d.amount, d]
    if not merged:
        return
    conn = conn_of(db)
    update_many(conn, LINE, ("debit",), ("voucher_id", "line_no"),
                [(a, v, n) for (v, n, s), (a, _) in merged.items() if s == 1 and a], add=True)
    update_many(conn, LINE, ("credit",), ("voucher_id", "line_no"),
                [(a, v, n) for (v, n, s), (a, _) in merged.items() if s == -1 and a], add=True)
    totals: dict[int, Decimal] = defaultdict(lambda: ZERO)
    by_period: dict[int, list[_Posting]] = defaultdict(list)
    for (v, _, s), (a, d) in merged.items():
        if s == 1:
            totals[v] += a
        by_period[d.period_id].append(_Posting(d.account_id, d.partner_id, a if s == 1 else ZERO,
                                               a if s == -1 else ZERO))
    update_many(conn, VOUCHER, ("total",), "id", [(a, v) for v, a in totals.items() if a], add=True)
    for period_id, postings in sorted(by_period.items()):
        _apply_to_balances(db, period_id, postings, 1)
    partnered = [(v, n, a if s == 1 else -a) for (v, n, s), (a, d) in merged.items() if d.partner_id is not None]
    if partnered:
        arap.adjust_items(db, partnered)


def generated_lines(db: DB, voucher_id: int) -> list[Any]:
    return list(conn_of(db).execute(_GEN_LINES, {"v": voucher_id}))


def void_generated_voucher(db: DB, voucher_id: int, document: str = "") -> None:
    """Take a generated voucher out of the balances and mark it void; it keeps its number.
    Refused (SettleRefused) while one of its open items is settled."""
    rows = generated_lines(db, voucher_id)
    if any(r.partner_id is not None for r in rows):
        arap.drop_voucher_items(db, voucher_id, document or str(voucher_id))
    by_period: dict[int, list[_Posting]] = defaultdict(list)
    for r in rows:
        by_period[r.period_id].append(_Posting(r.account_id, r.partner_id, r.debit, r.credit))
    for period_id, postings in by_period.items():
        _apply_to_balances(db, period_id, postings, -1)
    conn_of(db).execute(_GEN_VOID, {"v": voucher_id})


_SEQ_RESERVE: dict[str, Any] = {}


def insert_generated_vouchers(db: DB, period: PeriodRef, rules: BookRules,
                              items: list[tuple[date, str, list[GenLine], str, int]], actor: Actor, *,
                              item_accounts: set[int] | None = None) -> list[int]:
    """Many posted generated vouchers of one period at once, numbered consecutively with one
    reservation: (date, memo, lines, source type, source id) each. Same rows and balances as
    insert_generated_voucher one by one, in a handful of statements (the bulk import uses it)."""
    if not items:
        return []
    conn = conn_of(db)
    stmt = _SEQ_RESERVE.get(conn.dialect.name)
    if stmt is None:
        ins = dialect_insert(conn, SEQUENCE)
        stmt = ins.on_conflict_do_update(
            index_elements=[SEQUENCE.c.period_id, SEQUENCE.c.word],
            set_={"last_number": SEQUENCE.c.last_number + ins.excluded.last_number},
        ).returning(SEQUENCE.c.last_number)
        _SEQ_RESERVE[conn.dialect.name] = stmt
    last = int(conn.execute(stmt, {"period_id": period.id, "word": rules.voucher_word,
                                   "last_number": len(items)}).scalar_one())
    first = last - len(items) + 1
    now = utcnow()
    ids = reserve_ids(db, VOUCHER, len(items))
    insert_many(conn, VOUCHER, [
        {"id": voucher_id, "period_id": period.id, "voucher_date": day, "word": rules.voucher_word, "number": first + i,
         "status": VoucherStatus.POSTED.value, "memo": memo[:200],
         "total": sum((ln.amount for ln in lines if ln.side == 1), ZERO), "source_type": source_type,
         "source_id": source_id, "created_by": actor.id, "created_at": now, "audited_by": actor.id,
         "posted_by": actor.id}
        for i, (voucher_id, (day, memo, lines, source_type, source_id)) in enumerate(zip(ids, items, strict=True))])
    rows = []
    postings = []
    for voucher_id, (day, _, lines, _, _) in zip(ids, items, strict=True):
        for n, ln in enumerate(lines, start=1):
            debit = ln.amount if ln.side == 1 else ZERO
            credit = ln.amount if ln.side == -1 else ZERO
            rows.append({"voucher_id": voucher_id, "line_no": n, "account_id": ln.account_id,
                         "partner_id": ln.partner_id, "debit": debit, "credit": credit, "memo": "",
                         "voucher_date": day, "period_id": period.id, "side": ln.side})
            if ln.amount:
                postings.append(_Posting(ln.account_id, ln.partner_id, debit, credit))
    insert_many(conn, LINE, rows, exact=True)  # amounts summed from costed entries
    _apply_to_balances(db, period.id, postings, 1)
    partnered = sorted({voucher_id for voucher_id, (_, _, lines, _, _) in zip(ids, items, strict=True)
                        if any(ln.partner_id is not None and (item_accounts is None or ln.account_id in item_accounts)
                               for ln in lines)})
    if partnered:
        arap.add_voucher_items(db, partnered)
    _ensure_opening_locked(db, rules)
    return ids


def delete_generated_voucher(db: DB, voucher_id: int) -> None:
    """Take a generated voucher without open items out of the balances and delete it, giving
    its number back when it is the last of its period and word (a reverse close removes the
    vouchers the close made, so that closing again numbers them the same)."""
    conn = conn_of(db)
    head = conn.execute(select(VOUCHER.c.period_id, VOUCHER.c.word, VOUCHER.c.status)
                        .where(VOUCHER.c.id == voucher_id)).one()
    rows = generated_lines(db, voucher_id)
    if head.status == VoucherStatus.POSTED.value:
        _apply_to_balances(db, head.period_id, [_Posting(r.account_id, r.partner_id, r.debit, r.credit)
                                                for r in rows], -1)
    conn.execute(delete(LINE).where(LINE.c.voucher_id == voucher_id))
    conn.execute(delete(VOUCHER).where(VOUCHER.c.id == voucher_id))
    last = conn.execute(select(func.coalesce(func.max(VOUCHER.c.number), 0))
                        .where(VOUCHER.c.period_id == head.period_id, VOUCHER.c.word == head.word)).scalar_one()
    conn.execute(update(SEQUENCE).where(SEQUENCE.c.period_id == head.period_id, SEQUENCE.c.word == head.word)
                 .values(last_number=last))


REVERSAL = "voucher_reversal"  # voucher.source_type of a red-letter copy; source_id names the original


def reverse_voucher(db: Session, voucher_id: int, day: date, *, actor: Actor) -> VoucherRef:
    """红字冲销: a draft red-letter copy of a posted manual voucher, dated `day` in an open period
    and linked to the original (source_type voucher_reversal), every line the same account and
    side with the amount negated. The way to correct a voucher whose period is closed; it is
    audited and posted like any voucher. Vouchers a document or the close generated are
    corrected through their document (red-letter document, reverse close) instead.
    Raises NotFound, InvalidInput (not a posted manual voucher, or already reversed),
    PeriodClosed/PeriodMissing for `day`."""
    require(actor, perm.VOUCHER_CREATE)
    with db.begin():
        conn = db.connection()
        v = conn.execute(select(VOUCHER).where(VOUCHER.c.id == voucher_id)).one_or_none()
        if v is None:
            raise NotFound(entity="voucher", key=voucher_id)
        period = conn.execute(select(PERIOD.c.year, PERIOD.c.month).where(PERIOD.c.id == v.period_id)).one()
        original = f"{period.year:04d}-{period.month:02d} {voucher_label(v.word, v.number)}"
        if v.status != VoucherStatus.POSTED.value or v.source_type is not None:
            raise InvalidInput(field="voucher", reason="voucher.not_reversible", value=original)
        if conn.execute(select(VOUCHER.c.id).where(VOUCHER.c.source_type == REVERSAL,
                                                   VOUCHER.c.source_id == voucher_id,
                                                   VOUCHER.c.status != VoucherStatus.VOID.value)).first():
            raise InvalidInput(field="voucher", reason="voucher.already_reversed", value=original)
        codes = dict(conn.execute(select(ACCOUNT.c.id, ACCOUNT.c.code)).all())
        partners = dict(conn.execute(select(PARTNER.c.id, PARTNER.c.code)).all())
        lines = tuple(LineIn(codes[r.account_id], -r.debit, -r.credit, partners.get(r.partner_id), r.memo)
                      for r in conn.execute(select(LINE).where(LINE.c.voucher_id == voucher_id)
                                            .order_by(LINE.c.line_no)))
        ref = enter_voucher(conn, VoucherIn(day, lines, v.memo), actor, VoucherStatus.DRAFT)
        conn.execute(update(VOUCHER).where(VOUCHER.c.id == ref.id).values(source_type=REVERSAL, source_id=voucher_id))
        append_audit(db, actor, "voucher.reverse", "voucher", ref.id, {"original": original, "reversal": ref.label})
        return ref
