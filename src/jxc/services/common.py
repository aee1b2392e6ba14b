"""Helpers shared by the services. None of them commits: the public service
function that calls them owns the transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Row, Table, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from jxc.db.models import Account, AuditHead, AuditLog, Company, Partner, Period
from jxc.domain.auditchain import GENESIS, canonical_json, entry_hash
from jxc.domain.errors import BookMissing, PeriodMissing
from jxc.domain.periods import ensure_open
from jxc.domain.permissions import Actor
from jxc.domain.voucher import AccountFacts

AUDIT_LOG = AuditLog.__table__
AUDIT_HEAD = AuditHead.__table__


def utcnow() -> datetime:
    return datetime.now(UTC)


def company(db: Session) -> Company:
    row = db.execute(select(Company).where(Company.id == 1)).scalar_one_or_none()
    if row is None:
        raise BookMissing()
    return row


@dataclass(frozen=True, slots=True)
class PeriodRef:
    id: int
    label: str
    status: str
    start_date: date
    end_date: date


def _period_ref(row: Row[Any]) -> PeriodRef:
    return PeriodRef(row.id, f"{row.year:04d}-{row.month:02d}", row.status, row.start_date, row.end_date)


_PERIOD_COLS = (Period.id, Period.year, Period.month, Period.status, Period.start_date, Period.end_date)


def period_for(db: Session, day: date, *, lock: bool = False) -> PeriodRef:
    """The period containing `day`; with lock, held FOR SHARE so a close (FOR UPDATE) waits for us.
    Raises PeriodMissing when no period covers the date."""
    stmt = select(*_PERIOD_COLS).where(Period.start_date <= day, Period.end_date >= day)
    if lock:
        stmt = stmt.with_for_update(read=True)
    row = db.execute(stmt).one_or_none()
    if row is None:
        raise PeriodMissing(date=day.isoformat())
    return _period_ref(row)


def open_period_for(db: Session, day: date) -> PeriodRef:
    """Lock the period of `day` and raise PeriodClosed/PeriodMissing unless it is open."""
    period = period_for(db, day, lock=True)
    ensure_open(period.status, period.label)
    return period


def period_by_label(db: Session, year: int, month: int) -> PeriodRef | None:
    row = db.execute(select(*_PERIOD_COLS).where(Period.year == year, Period.month == month)).one_or_none()
    return None if row is None else _period_ref(row)


def all_periods(db: Session) -> list[PeriodRef]:
    return [_period_ref(r) for r in db.execute(select(*_PERIOD_COLS).order_by(Period.start_date))]


def account_facts(db: Session, codes: Iterable[str]) -> dict[str, tuple[int, AccountFacts]]:
    """Id and rule facts of the named accounts; unknown codes are simply absent."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    rows = db.execute(
        select(Account.id, Account.code, Account.is_leaf, Account.active, Account.partner_aux).where(
            Account.code.in_(wanted)
        )
    )
    return {r.code: (r.id, AccountFacts(r.code, r.is_leaf, r.active, r.partner_aux)) for r in rows}


def partner_ids(db: Session, codes: Iterable[str]) -> dict[str, int]:
    wanted = sorted({c for c in codes if c})
    if not wanted:
        return {}
    rows = db.execute(select(Partner.id, Partner.code).where(Partner.code.in_(wanted)))
    return {r.code: r.id for r in rows}


def upsert_add(db: Session, table: Table, keys: Sequence[str], rows: list[dict[str, Any]],
               add: Sequence[str]) -> None:
    """INSERT rows, or add their `add` columns to the existing row with the same keys.

    ON CONFLICT DO UPDATE exists on SQLite, PostgreSQL and the PostgreSQL-compatible
    distributed engines, so this one statement is the portable path. Rows are
    sorted by key so concurrent writers lock balance rows in the same order.
    """
    if not rows:
        return
    rows = sorted(rows, key=lambda r: tuple(r[k] for k in keys))
    dialect = db.get_bind().dialect.name
    ins = (sqlite.insert if dialect == "sqlite" else postgresql.insert)(table).values(rows)
    stmt = ins.on_conflict_do_update(
        index_elements=list(keys), set_={c: table.c[c] + ins.excluded[c] for c in add}
    )
    db.execute(stmt)


def append_audit(db: Session, actor: Actor | None, action: str, entity: str, entity_id: object,
                 detail: dict[str, Any] | None = None, *, username: str | None = None) -> int:
    """Append one entry to the hash-chained audit log and return its seq.

    Locks the chain head FOR UPDATE, so it is called last in a service: the head
    is then held only from here to commit, and writers chain in commit order.
    """
    head = db.execute(select(AUDIT_HEAD.c.seq, AUDIT_HEAD.c.hash).where(AUDIT_HEAD.c.id == 1)
                      .with_for_update()).one_or_none()
    prev_seq, prev_hash = (head.seq, head.hash) if head else (0, GENESIS)
    seq = prev_seq + 1
    at = utcnow().isoformat(timespec="microseconds")
    name = actor.username if actor else (username or "system")
    body = canonical_json(detail or {})
    digest = entry_hash(prev_hash, seq, at, name, action, entity, str(entity_id), body)
    db.execute(insert(AUDIT_LOG).values(seq=seq, at=at, user_id=actor.id if actor else None, username=name,
                                        action=action, entity=entity, entity_id=str(entity_id),
                                        detail=body, prev_hash=prev_hash, hash=digest))
    if head is None:
        db.execute(insert(AUDIT_HEAD).values(id=1, seq=seq, hash=digest))
    else:
        db.execute(update(AUDIT_HEAD).where(AUDIT_HEAD.c.id == 1).values(seq=seq, hash=digest))
    return seq
