"""Helpers shared by the services. None of them commits: the public service
function that calls them owns the transaction.

The statements on the posting path are built once, at import, with bind
parameters, and executed on the session's Core connection: building a
SQLAlchemy statement and its cache key costs more than SQLite takes to run it,
and posting is the hot path (see docs/BENCHMARKS.md).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    bindparam,
    false,
    func,
    insert,
    literal,
    select,
    text,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from jxc.db.base import table_of
from jxc.db.models import Account, AuditHead, AuditLog, Company, Partner, Period
from jxc.db.session import READ_ONLY
from jxc.db.types import ScaledDecimal
from jxc.domain.auditchain import GENESIS, canonical_json, entry_hash
from jxc.domain.errors import BookMissing, Conflict, LedgerOverflow, PeriodMissing
from jxc.domain.numbers import MAX_MONEY
from jxc.domain.periods import ensure_open
from jxc.domain.permissions import Actor
from jxc.domain.voucher import AccountFacts

AUDIT_LOG = table_of(AuditLog)
AUDIT_HEAD = table_of(AuditHead)
COMPANY = table_of(Company)
PERIOD = table_of(Period)
ACCOUNT = table_of(Account)
PARTNER = table_of(Partner)


@contextmanager
def reading(db: Session) -> Iterator[Session]:
    """A transaction that only reads: on SQLite it starts deferred instead of taking the write
    lock, so reports run beside postings. (A session bound to a connection, as in the tests,
    already has its transaction and is used as it is.)"""
    with db.begin():
        if isinstance(db.get_bind(), Engine):
            db.connection(execution_options={READ_ONLY: True})
        yield db


T = TypeVar("T")
_RETRYABLE = {"40001", "40P01"}  # serialization_failure, deadlock_detected


def retrying(work: Callable[[], T], attempts: int = 4) -> T:
    """Run `work` (which opens and commits its own transaction) again when PostgreSQL aborts it
    for a serialization failure or a deadlock, a bounded number of times with a short random
    pause; then give up with Conflict, a clear "try again" for the user. Anything else passes."""
    for attempt in range(attempts):
        try:
            return work()
        except DBAPIError as exc:
            code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
            if code not in _RETRYABLE:
                raise
            if attempt == attempts - 1:
                raise Conflict() from exc
            time.sleep(random.uniform(0.005, 0.05) * (attempt + 1))
    raise AssertionError("unreachable")


def utcnow() -> datetime:
    return datetime.now(UTC)


DB = Session | Connection  # hot-path helpers take the Core connection to skip the session's per-call bookkeeping


def conn_of(db: DB) -> Connection:
    return db if isinstance(db, Connection) else db.connection()


def company(db: Session) -> Company:
    row = db.execute(select(Company).where(Company.id == 1)).scalar_one_or_none()
    if row is None:
        raise BookMissing()
    return row


@dataclass(frozen=True, slots=True)
class BookRules:
    """The company settings the posting path needs, read in one query."""

    voucher_word: str
    require_distinct_auditor: bool
    opening_locked: bool
    allow_negative_stock: bool = False
    posting_rules_version: int = 0
    order_tolerance: Decimal = Decimal(0)
    match_tolerance: Decimal = Decimal("0.05")
    credit_control: str = "warn"
    writeoff_account_id: int | None = None
    writeoff_limit: Decimal = Decimal("10.00")


_RULES = select(COMPANY.c.voucher_word, COMPANY.c.require_distinct_auditor, COMPANY.c.opening_locked,
                COMPANY.c.allow_negative_stock, COMPANY.c.posting_rules_version, COMPANY.c.order_tolerance,
                COMPANY.c.match_tolerance, COMPANY.c.credit_control, COMPANY.c.writeoff_account_id,
                COMPANY.c.writeoff_limit).where(COMPANY.c.id == 1)


def book_rules(db: DB) -> BookRules:
    row = conn_of(db).execute(_RULES).one_or_none()
    if row is None:
        raise BookMissing()
    return _rules_of(row)


def _rules_of(row: Any) -> BookRules:
    return BookRules(row.voucher_word, bool(row.require_distinct_auditor), bool(row.opening_locked),
                     bool(row.allow_negative_stock), int(row.posting_rules_version), row.order_tolerance,
                     row.match_tolerance, row.credit_control, row.writeoff_account_id, row.writeoff_limit)


@dataclass(frozen=True, slots=True)
class PeriodRef:
    id: int
    label: str
    status: str
    start_date: date
    end_date: date


def _period_ref(row: Any) -> PeriodRef:  # a Row of _PERIOD_COLS (and maybe more)
    return PeriodRef(row.id, f"{row.year:04d}-{row.month:02d}", row.status, row.start_date, row.end_date)


_PERIOD_COLS = (PERIOD.c.id, PERIOD.c.year, PERIOD.c.month, PERIOD.c.status, PERIOD.c.start_date,
                PERIOD.c.end_date)
_PERIOD_AND_RULES = (
    select(*_PERIOD_COLS, COMPANY.c.voucher_word, COMPANY.c.require_distinct_auditor, COMPANY.c.opening_locked,
           COMPANY.c.allow_negative_stock, COMPANY.c.posting_rules_version, COMPANY.c.order_tolerance,
           COMPANY.c.match_tolerance, COMPANY.c.credit_control, COMPANY.c.writeoff_account_id,
           COMPANY.c.writeoff_limit)
    .select_from(PERIOD.join(COMPANY, COMPANY.c.id == 1))
    .where(PERIOD.c.start_date <= bindparam("day"), PERIOD.c.end_date >= bindparam("day"))
    .with_for_update(read=True, of=PERIOD)
)


_PERIOD_MEMO = "jxc_period_memo"
_TX_MEMO = "jxc_tx_memo"


def per_transaction(db: DB, key: str, compute: Callable[[], T]) -> T:
    """compute(), remembered until the current transaction ends: for facts a transaction reads
    more than once and cannot change (the ids of the chart's fixed accounts)."""
    conn = conn_of(db)
    txn = conn.get_nested_transaction() or conn.get_transaction()
    memo = conn.info.get(_TX_MEMO)
    if txn is None:
        return compute()
    if memo is None or memo[0] is not txn:
        values: dict[str, Any] = {}
        memo = conn.info[_TX_MEMO] = (txn, values)
    if key not in memo[1]:
        memo[1][key] = compute()
    return memo[1][key]  # type: ignore[no-any-return]


def open_period_and_rules(db: DB, day: date) -> tuple[PeriodRef, BookRules]:
    """The open period of `day` and the book's rules, in one round trip (the posting path needs
    both). The period row is locked FOR SHARE, so a close (FOR UPDATE) waits for us; the company
    row is read, not locked. Raises PeriodMissing, PeriodClosed, BookMissing.

    Remembered for the rest of the transaction (entering and auditing a document ask twice):
    the lock holds the period open until then, and nothing in a posting changes the rules."""
    conn = conn_of(db)
    txn = conn.get_nested_transaction() or conn.get_transaction()
    memo = conn.info.get(_PERIOD_MEMO)
    if memo is not None and memo[0] is txn and day in memo[1]:
        return memo[1][day]  # type: ignore[no-any-return]
    row = conn.execute(_PERIOD_AND_RULES, {"day": day}).one_or_none()
    if row is None:
        book_rules(db)  # raises BookMissing for an empty database
        raise PeriodMissing(date=day.isoformat())
    period = _period_ref(row)
    ensure_open(period.status, period.label)
    found = (period, _rules_of(row))
    if txn is not None:
        if memo is None or memo[0] is not txn:
            days: dict[date, tuple[PeriodRef, BookRules]] = {}
            memo = conn.info[_PERIOD_MEMO] = (txn, days)
        memo[1][day] = found
    return found


def period_by_label(db: Session, year: int, month: int) -> PeriodRef | None:
    row = db.execute(select(*_PERIOD_COLS).where(PERIOD.c.year == year, PERIOD.c.month == month)).one_or_none()
    return None if row is None else _period_ref(row)


def all_periods(db: Session) -> list[PeriodRef]:
    return [_period_ref(r) for r in db.execute(select(*_PERIOD_COLS).order_by(PERIOD.c.start_date))]


_REFS: dict[tuple[int, int], Any] = {}


def _refs_statement(accounts: int, partners: int) -> Any:
    """Accounts and partners named by a voucher in one round trip, one statement per arity,
    built once: an "expanding" IN would re-render its SQL on every call."""
    stmt = _REFS.get((accounts, partners))
    if stmt is None:
        stmt = select(literal("a").label("kind"), ACCOUNT.c.id, ACCOUNT.c.code, ACCOUNT.c.is_leaf, ACCOUNT.c.active,
                      ACCOUNT.c.partner_aux).where(ACCOUNT.c.code.in_([bindparam(f"a{i}") for i in range(accounts)]))
        if partners:
            stmt = union_all(stmt, select(
                literal("p"), PARTNER.c.id, PARTNER.c.code, true(), PARTNER.c.active, false()
            ).where(PARTNER.c.code.in_([bindparam(f"p{i}") for i in range(partners)])))
        _REFS[(accounts, partners)] = stmt
    return stmt


def voucher_refs(db: DB, account_codes: Iterable[str], partner_codes: Iterable[str | None],
                 ) -> tuple[dict[str, tuple[int, AccountFacts]], dict[str, int]]:
    """Ids and rule facts of the named accounts, and ids of the named partners; unknown
    codes are simply absent (check_voucher reports them)."""
    accounts = sorted(set(account_codes))
    partners = sorted({c for c in partner_codes if c})
    facts: dict[str, tuple[int, AccountFacts]] = {}
    ids: dict[str, int] = {}
    if not accounts:
        return facts, ids
    params = {f"a{i}": c for i, c in enumerate(accounts)} | {f"p{i}": c for i, c in enumerate(partners)}
    for r in conn_of(db).execute(_refs_statement(len(accounts), len(partners)), params):
        if r.kind == "a":
            facts[r.code] = (r.id, AccountFacts(r.code, bool(r.is_leaf), bool(r.active), bool(r.partner_aux)))
        else:
            ids[r.code] = r.id
    return facts, ids


_UPSERTS: dict[tuple[str, str], Any] = {}


def upsert_add(db: DB, table: Table, keys: Sequence[str], rows: list[dict[str, Any]],
               add: Sequence[str]) -> None:
    """INSERT rows, or add their `add` columns to the existing row with the same keys.

    ON CONFLICT DO UPDATE exists on SQLite, PostgreSQL and the PostgreSQL-compatible
    distributed engines, so this one statement is the portable path. Rows are
    sorted by key so concurrent writers lock balance rows in the same order.
    The database makes the sums, so it also guards their range: NUMERIC(18, 2) on
    PostgreSQL, a CHECK constraint on SQLite. Either refusal becomes LedgerOverflow.
    """
    if not rows:
        return
    rows = sorted(rows, key=lambda r: tuple(r[k] for k in keys))
    conn = conn_of(db)
    stmt = _UPSERTS.get((conn.dialect.name, table.name))
    if stmt is None:
        ins = dialect_insert(conn, table)
        stmt = ins.on_conflict_do_update(index_elements=list(keys),
                                         set_={c: table.c[c] + ins.excluded[c] for c in add})
        _UPSERTS[(conn.dialect.name, table.name)] = stmt
    try:
        conn.execute(stmt, rows)
    except DataError as exc:
        raise LedgerOverflow(limit=MAX_MONEY) from exc
    except IntegrityError as exc:
        if f"ck_{table.name}_range" not in str(exc.orig):
            raise
        raise LedgerOverflow(limit=MAX_MONEY) from exc


def dialect_insert(conn: Connection, table: Table) -> Any:
    """INSERT with the ON CONFLICT clause of the connection's dialect (SQLite or PostgreSQL)."""
    return (sqlite.insert if conn.dialect.name == "sqlite" else postgresql.insert)(table)


_HEAD_LOCK = select(AUDIT_HEAD.c.seq, AUDIT_HEAD.c.hash).where(AUDIT_HEAD.c.id == 1).with_for_update()
_HEAD_MOVE = update(AUDIT_HEAD).where(AUDIT_HEAD.c.id == 1).values(seq=bindparam("new_seq"),
                                                                   hash=bindparam("new_hash"))
# Moves the head only if it is still where we last saw it: a compare-and-set.
_HEAD_ADVANCE = (update(AUDIT_HEAD)
                 .where(AUDIT_HEAD.c.id == 1, AUDIT_HEAD.c.seq == bindparam("old_seq"),
                        AUDIT_HEAD.c.hash == bindparam("old_hash"))
                 .values(seq=bindparam("new_seq"), hash=bindparam("new_hash")))
_LOG_INSERT = insert(AUDIT_LOG)
# The head this process last wrote, per database. Only a guess: _HEAD_ADVANCE verifies it, and
# a stale guess (another process wrote, or our transaction rolled back) falls back to reading.
_LAST_HEAD: dict[str, tuple[int, str]] = {}


def append_audit(db: DB, actor: Actor | None, action: str, entity: str, entity_id: object,
                 detail: dict[str, Any] | None = None, *, username: str | None = None) -> int:
    """Append one entry to the hash-chained audit log and return its seq.

    The head row is locked (by the compare-and-set UPDATE, or FOR UPDATE when the
    guess is stale) until commit, so this is called last in a service and writers
    chain in commit order. The usual case costs two statements instead of three.
    """
    conn = conn_of(db)
    buffered = conn.info.get(AUDIT_BUFFER)
    if buffered is not None:  # a long transaction appends its entries at its end (see deferred_audit)
        buffered.append((actor, action, entity, entity_id, detail or {}, username))
        return 0
    key = str(conn.engine.url)
    at = utcnow().isoformat(timespec="microseconds")
    name = actor.username if actor else (username or "system")
    body = canonical_json(detail or {})
    guess = _LAST_HEAD.get(key)
    moved = False
    if guess is not None:
        prev_seq, prev_hash = guess
        digest = entry_hash(prev_hash, prev_seq + 1, at, name, action, entity, str(entity_id), body)
        moved = conn.execute(_HEAD_ADVANCE, {"old_seq": prev_seq, "old_hash": prev_hash, "new_seq": prev_seq + 1,
                                             "new_hash": digest}).rowcount == 1
    if not moved:
        head = conn.execute(_HEAD_LOCK).one_or_none()
        prev_seq, prev_hash = (head.seq, head.hash) if head else (0, GENESIS)
        digest = entry_hash(prev_hash, prev_seq + 1, at, name, action, entity, str(entity_id), body)
        if head is None:
            conn.execute(insert(AUDIT_HEAD).values(id=1, seq=prev_seq + 1, hash=digest))
        else:
            conn.execute(_HEAD_MOVE, {"new_seq": prev_seq + 1, "new_hash": digest})
    seq = prev_seq + 1
    conn.execute(_LOG_INSERT, {"seq": seq, "at": at, "user_id": actor.id if actor else None, "username": name,
                               "action": action, "entity": entity, "entity_id": str(entity_id), "detail": body,
                               "prev_hash": prev_hash, "hash": digest})
    _LAST_HEAD[key] = (seq, digest)
    return seq


AUDIT_BUFFER = "jxc_audit_buffer"


@contextmanager
def deferred_audit(db: DB, actor: Actor) -> Iterator[None]:
    """Within this block, audit-log entries are kept and appended, in order, when it ends.

    Every writer locks the one audit head last, just before commit, so writers never hold it
    while they wait for a balance row: that order is what keeps them free of deadlocks. A
    long transaction that writes many things one after the other (an import) would otherwise
    take the head at its first entry and then go on locking balances."""
    conn = conn_of(db)
    buffer: list[tuple[Any, ...]] = []
    conn.info[AUDIT_BUFFER] = buffer
    try:
        yield
    finally:
        conn.info.pop(AUDIT_BUFFER, None)
    _append_entries(conn, [(a or actor, action, entity, entity_id, detail, username)
                           for a, action, entity, entity_id, detail, username in buffer])


def append_audit_many(db: DB, actor: Actor, entries: Sequence[tuple[str, str, object, dict[str, Any]]]) -> None:
    """Append many entries to the audit log in one go, chained in order: (action, entity,
    entity id, detail) each. The head is locked first, as append_audit does."""
    conn = conn_of(db)
    buffered = conn.info.get(AUDIT_BUFFER)
    if buffered is not None:
        buffered.extend((actor, action, entity, entity_id, detail, None)
                        for action, entity, entity_id, detail in entries)
        return
    _append_entries(conn, [(actor, action, entity, entity_id, detail, None)
                           for action, entity, entity_id, detail in entries])


def _append_entries(conn: Connection, entries: Sequence[tuple[Any, str, str, object, dict[str, Any], str | None]],
                    ) -> None:
    if not entries:
        return
    at = utcnow().isoformat(timespec="microseconds")

    def chain(prev_seq: int, prev_hash: str) -> list[dict[str, Any]]:
        rows = []
        for actor, action, entity, entity_id, detail, username in entries:
            name = actor.username if actor else (username or "system")
            body = canonical_json(detail)
            digest = entry_hash(prev_hash, prev_seq + 1, at, name, action, entity, str(entity_id), body)
            rows.append({"seq": prev_seq + 1, "at": at, "user_id": actor.id if actor else None, "username": name,
                         "action": action, "entity": entity, "entity_id": str(entity_id), "detail": body,
                         "prev_hash": prev_hash, "hash": digest})
            prev_seq, prev_hash = prev_seq + 1, digest
        return rows

    key = str(conn.engine.url)
    guess = _LAST_HEAD.get(key)
    rows: list[dict[str, Any]] = []
    if guess is not None:  # as append_audit: move the head from where we last left it, if nobody else did
        rows = chain(*guess)
        if conn.execute(_HEAD_ADVANCE, {"old_seq": guess[0], "old_hash": guess[1], "new_seq": rows[-1]["seq"],
                                        "new_hash": rows[-1]["hash"]}).rowcount != 1:
            rows = []
    if not rows:
        head = conn.execute(_HEAD_LOCK).one_or_none()
        rows = chain(*((head.seq, head.hash) if head else (0, GENESIS)))
        if head is None:
            conn.execute(insert(AUDIT_HEAD).values(id=1, seq=rows[-1]["seq"], hash=rows[-1]["hash"]))
        else:
            conn.execute(_HEAD_MOVE, {"new_seq": rows[-1]["seq"], "new_hash": rows[-1]["hash"]})
    conn.execute(_LOG_INSERT, rows)
    _LAST_HEAD[key] = (rows[-1]["seq"], rows[-1]["hash"])


_INSERT_UNIQUE: dict[tuple[str, str], Any] = {}


def insert_unique(db: DB, table: Table, keys: Sequence[str], row: dict[str, Any]) -> int | None:
    """INSERT a row and return its id, or None when a row with the same `keys` (a unique
    constraint) exists already: ON CONFLICT DO NOTHING, so a duplicate number needs no
    savepoint around the insert."""
    conn = conn_of(db)
    stmt = _INSERT_UNIQUE.get((table.name, conn.dialect.name))
    if stmt is None:
        stmt = dialect_insert(conn, table).on_conflict_do_nothing(
            index_elements=[table.c[k] for k in keys]).returning(table.c.id)
        _INSERT_UNIQUE[(table.name, conn.dialect.name)] = stmt
    found = conn.execute(stmt, row).scalar()
    return None if found is None else int(found)


def reserve_ids(db: DB, table: Table, count: int) -> list[int]:
    """`count` primary keys for rows about to be inserted with explicit ids, so that a bulk
    insert needs no RETURNING (which SQLite's driver runs row by row when the order matters).
    PostgreSQL draws them from the column's sequence. SQLite continues after the largest id:
    safe because a writer there holds the database's write lock (BEGIN IMMEDIATE) until commit."""
    if count <= 0:
        return []
    conn = conn_of(db)
    if conn.dialect.name == "sqlite":
        top = conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
        return list(range(int(top) + 1, int(top) + 1 + count))
    rows = conn.execute(text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
                        {"t": table.name, "n": count})
    return [int(r[0]) for r in rows]


def update_many(db: DB, table: Table, columns: Sequence[str], key: str | Sequence[str],
                rows: Sequence[Sequence[Any]], *, exact: bool = False, add: bool = False) -> None:
    """UPDATE table SET columns... WHERE key = ... for many rows (values in `columns` order, then the
    key columns), handed to the driver's executemany with each value converted by its column's
    type. The same statement through SQLAlchemy's executemany spends most of its time building
    parameter dictionaries; re-costing writes 100,000 rows at a time through here.

    add=True adds the values to the columns instead of setting them (SET c = c + ?).
    exact=True: every Decimal is already at its column's scale (made by money(), qty(),
    unit_cost() or sums of such), so on SQLite it is scaled without the type's checks."""
    if not rows:
        return
    conn = conn_of(db)
    dialect = conn.dialect
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    prep = dialect.identifier_preparer
    keys = [key] if isinstance(key, str) else list(key)
    sets = ", ".join(f"{prep.quote(c)} = {prep.quote(c)} + {mark}" if add else f"{prep.quote(c)} = {mark}"
                     for c in columns)
    sql = (f"UPDATE {prep.format_table(table)} SET {sets} WHERE "
           + " AND ".join(f"{prep.quote(k)} = {mark}" for k in keys))
    conn.exec_driver_sql(sql, _driver_rows(table, (*columns, *keys), rows, dialect, exact=exact))


def insert_many(db: DB, table: Table, rows: Sequence[dict[str, Any]], *, exact: bool = False) -> None:
    """INSERT many rows (dicts with the same keys) straight through the driver's executemany,
    each value converted by its column's type (with all its checks): the bulk import writes
    hundreds of thousands of rows, and SQLAlchemy's executemany costs more per row than the
    database does. Only columns whose type converts anything are touched. exact=True as in
    update_many (Decimals already at their column's scale)."""
    if not rows:
        return
    conn = conn_of(db)
    dialect = conn.dialect
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    prep = dialect.identifier_preparer
    names = list(rows[0])
    sql = (f"INSERT INTO {prep.format_table(table)} ({', '.join(prep.quote(c) for c in names)}) "
           f"VALUES ({', '.join([mark] * len(names))})")
    conn.exec_driver_sql(sql, _driver_rows(table, names, [[row[c] for c in names] for row in rows], dialect,
                                           exact=exact))


def _driver_rows(table: Table, names: Sequence[str], rows: Sequence[Sequence[Any]], dialect: Any, *,
                 exact: bool) -> list[tuple[Any, ...]]:
    """Rows of values in `names` order, each converted by its column's type for the driver (the
    types' own bind processors, with their checks). exact=True on SQLite: Decimals are scaled
    directly (see update_many)."""
    kinds = [table.c[c].type for c in names]
    if exact and dialect.name == "sqlite" and all(
            isinstance(k, ScaledDecimal) or k._cached_bind_processor(dialect) is None for k in kinds):
        # Only scaled Decimals and values the driver takes as they are: one expression per value.
        scales = [_places(k) for k in kinds]
        return [tuple(v if p is None or v is None else int(v.scaleb(p)) for v, p in zip(row, scales, strict=True))
                for row in rows]
    steps: list[tuple[int, Callable[[Any], Any]]] = []
    for i, kind in enumerate(kinds):
        if exact and dialect.name == "sqlite" and isinstance(kind, ScaledDecimal):
            steps.append((i, _scaled(kind.places)))
        else:
            processor = kind._cached_bind_processor(dialect)
            if processor is not None:
                steps.append((i, processor))
    out = []
    for row in rows:
        vals = list(row)
        for i, step in steps:
            vals[i] = step(vals[i])
        out.append(tuple(vals))
    return out


def _places(kind: Any) -> int | None:
    return kind.places if isinstance(kind, ScaledDecimal) else None


def _scaled(places: int) -> Callable[[Any], Any]:
    return lambda v: None if v is None else int(v.scaleb(places))
