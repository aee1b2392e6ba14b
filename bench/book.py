"""Books for the benchmarks, built only through the real services and cached by size.

A report benchmark is only meaningful on a book the services themselves could have
produced: numbering, balance tables and the audit chain all as in production. So a
book is built with `create_voucher(..., advance_to=POSTED)` (one transaction per
voucher, as a clerk would) or with the importer (`jxc import --audit`), then
`verify` must pass before the file is cached. The 1,000,000-line book (349,377 vouchers)
took 7 minutes at ~820 vouchers/s; later runs reuse bench/out/books/*.db.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import Engine, func, insert, inspect, select, text
from sqlalchemy.orm import Session

from bench import generate
from jxc.db import migrate
from jxc.db.base import Base
from jxc.db.models import Voucher, VoucherLine
from jxc.db.session import make_engine, session_factory
from jxc.domain.permissions import Actor
from jxc.domain.status import VoucherStatus
from jxc.services import books, checks, importer, masterdata, opening, users, vouchers

OUT = Path(__file__).with_name("out")
BOOKS = OUT / "books"
ADMIN, PASSWORD = "admin", "password123"
METHODS = ("service", "import")


@dataclass(frozen=True, slots=True)
class BuildInfo:
    """How a cached book was made; stored next to it and quoted in the results."""

    path: str
    method: str
    seed: int
    generator_version: int
    schema_key: str
    vouchers: int
    lines: int
    build_seconds: float
    vouchers_per_second: float
    verify_seconds: float


def schema_key() -> str:
    """A digest of the migration scripts: a cached book is stale once the schema changes."""
    digest = hashlib.sha256()
    for f in sorted((migrate.MIGRATIONS / "versions").glob("*.py")):
        digest.update(f.name.encode())
        digest.update(f.read_bytes())
    return digest.hexdigest()[:10]


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def session(engine: Engine) -> Session:
    return session_factory(engine)()


def admin_actor(db: Session) -> Actor:
    """The admin actor, leaving no transaction open (services begin their own)."""
    actor = users.load_actor(db, ADMIN)
    db.rollback()
    return actor


def new_book(url: str, spec: generate.Spec) -> Engine:
    """Schema, book, partners and opening balances, through the services."""
    engine = make_engine(url)
    books.init_book(engine, books.BookSettings("基准测试商贸有限公司", "2026-01", ADMIN, PASSWORD))
    db = session(engine)
    try:
        actor = admin_actor(db)
        for p in generate.partners(spec):
            masterdata.add_partner(db, p, actor=actor)
        for o in generate.openings():
            opening.set_opening_balance(db, o, actor=actor)
    finally:
        db.close()
    return engine


Progress = Callable[[int, int], None]


def progress_printer(label: str, every: int = 10_000) -> Progress:
    """Print done/total and the running rate to stderr every `every` items (long builds are not silent)."""
    start = time.perf_counter()

    def report(done: int, total: int) -> None:
        if done % every == 0 or done == total:
            elapsed = time.perf_counter() - start
            print(f"  {label}: {done:>9,}/{total:,}  {done / elapsed:8.0f}/s  {elapsed:7.1f} s",
                  file=sys.stderr, flush=True)

    return report


def load_with_service(db: Session, actor: Actor, spec: generate.Spec, progress: Progress | None = None) -> None:
    """Each voucher created, audited and posted in its own transaction."""
    for i, v in enumerate(generate.vouchers(spec), start=1):
        vouchers.create_voucher(db, v, actor=actor, advance_to=VoucherStatus.POSTED)
        if progress:
            progress(i, spec.vouchers)


def load_with_importer(db: Session, actor: Actor, spec: generate.Spec, progress: Progress | None = None) -> None:
    """The whole year through `jxc import --audit`'s service: one transaction, a savepoint per record."""
    lines = (json.dumps(generate.voucher_record(v), ensure_ascii=False) for v in generate.vouchers(spec))
    importer.import_records(db, lines, actor=actor, audit=True, progress=progress)


def count_lines(db: Session) -> tuple[int, int]:
    """(vouchers, voucher lines) in the book."""
    n_v = db.execute(select(func.count()).select_from(Voucher)).scalar_one()
    n_l = db.execute(select(func.count()).select_from(VoucherLine)).scalar_one()
    db.rollback()
    return int(n_v), int(n_l)


def verify_or_fail(db: Session, actor: Actor) -> float:
    """Run `verify`; raise if any check fails. Returns the seconds it took."""
    start = time.perf_counter()
    report = checks.verify(db, actor=actor)
    elapsed = time.perf_counter() - start
    if not report.ok:
        raise RuntimeError(f"verify failed: {[c for c in report.checks if not c.ok]}")
    return elapsed


def build(url: str, spec: generate.Spec, method: str = "service", *, quiet: bool = False) -> tuple[Engine, BuildInfo]:
    """Build a verified book at `url` (an empty database) and say how long it took."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}")
    engine = new_book(url, spec)
    db = session(engine)
    try:
        actor = admin_actor(db)
        progress = None if quiet else progress_printer(f"posting ({method})", max(1000, spec.vouchers // 20))
        start = time.perf_counter()
        (load_with_service if method == "service" else load_with_importer)(db, actor, spec, progress)
        seconds = time.perf_counter() - start
        n_vouchers, n_lines = count_lines(db)
        verify_seconds = verify_or_fail(db, actor)
    finally:
        db.close()
    info = BuildInfo(url, method, spec.seed, generate.GENERATOR_VERSION, schema_key(), n_vouchers, n_lines,
                     round(seconds, 3), round(n_vouchers / seconds, 1), round(verify_seconds, 3))
    return engine, info


def cached_sqlite_book(lines: int, seed: int = generate.DEFAULT_SEED,
                       method: str = "service") -> tuple[Path, BuildInfo]:
    """The path of a verified SQLite book with at least `lines` voucher lines, building it if needed.

    The file name carries everything its content depends on (size, seed, generator and
    schema version), so a stale book is never reused; it is written under a temporary
    name and renamed only after `verify` passed, so an interrupted build is never cached.
    """
    spec = generate.spec_for_lines(lines, seed)
    name = f"ledger-{lines}-s{seed}-g{generate.GENERATOR_VERSION}-{schema_key()}"
    path = BOOKS / f"{name}.db"
    meta = BOOKS / f"{name}.json"
    if path.exists() and meta.exists():
        return path, BuildInfo(**json.loads(meta.read_text()))
    BOOKS.mkdir(parents=True, exist_ok=True)
    tmp = BOOKS / f"{name}.building.db"
    remove_sqlite(tmp)
    print(f"building {path.name}: {spec.vouchers:,} vouchers via {method} (cached for later runs)",
          file=sys.stderr, flush=True)
    engine, info = build(sqlite_url(tmp), spec, method)
    engine.dispose()  # checkpoints the WAL into the main file, so the rename moves one file
    remove_sqlite(path)
    shutil.move(tmp, path)
    remove_sqlite(tmp)
    info = BuildInfo(**{**asdict(info), "path": str(path)})
    meta.write_text(json.dumps(asdict(info), indent=2))
    return path, info


def copy_book(src: Engine, dst: Engine, *, chunk: int = 20_000) -> dict[str, int]:
    """Copy every table of a verified book into an empty database of another backend (PostgreSQL).

    Building 1,000,000 lines through the services on PostgreSQL would take far longer than
    on SQLite; a row-for-row copy of the service-built book gives the same books (ids,
    numbers, audit chain), and `verify` re-proves them on the target. The schema comes from
    the migrations; values travel through the models' column types, so amounts stay exact.
    Returns rows copied per table.
    """
    migrate.upgrade(dst)
    in_source = set(inspect(src).get_table_names()) - {"alembic_version"}
    tables = [t for t in Base.metadata.sorted_tables if t.name in in_source]
    missing = in_source - {t.name for t in tables}
    if missing:
        raise RuntimeError(f"tables without a model, cannot copy exactly: {sorted(missing)}")
    copied: dict[str, int] = {}
    with src.connect() as reader, dst.begin() as writer:
        for table in tables:
            n = 0
            result = reader.execution_options(yield_per=chunk).execute(
                select(table).order_by(*table.primary_key.columns))
            for part in result.partitions():
                writer.execute(insert(table), [dict(r._mapping) for r in part])
                n += len(part)
            copied[table.name] = n
        if dst.dialect.name == "postgresql":
            for table in tables:
                if "id" in table.c and table.c.id.primary_key:
                    writer.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f"(SELECT COALESCE(MAX(id), 1) FROM {table.name}))"))
    if dst.dialect.name == "postgresql":
        with dst.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))  # what autovacuum would do soon after a bulk load
    return copied


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.book --lines 1000000`: build (or find) the cached book and print how it was made."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.book", description=main.__doc__)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=generate.DEFAULT_SEED)
    parser.add_argument("--method", choices=METHODS, default="service")
    args = parser.parse_args(argv)
    _, info = cached_sqlite_book(args.lines, args.seed, args.method)
    print(json.dumps(asdict(info), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
