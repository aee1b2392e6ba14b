"""`python -m bench.run_all [--quick]` (`make bench`): every benchmark, a table, and JSON in bench/out/.

Full run: posting on SQLite (a fresh book and a copy of the 1,000,000-line book), the
report latencies on the cached 1,000,000-line SQLite book (built once through the
services, ~7 minutes), then on a throwaway PostgreSQL cluster (when its binaries are
installed): posting on a fresh book and the reports on a verified copy of the big book.
`--quick` uses a 20,000-line book and small batches: a smoke run of a minute or so
that checks the scripts still work, not numbers to publish.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench import bench_ledger, bench_posting, book, generate
from bench.timing import Result, load_average, markdown_table, table
from jxc.db.session import make_engine

ROOT = Path(__file__).resolve().parent.parent
SCRATCH = book.OUT / "tmp"


@dataclass(frozen=True, slots=True)
class Settings:
    lines: int
    batch: int
    rounds: int
    at_size_rounds: int
    report_rounds: int
    warmup: int


FULL = Settings(lines=1_000_000, batch=1000, rounds=9, at_size_rounds=5, report_rounds=15, warmup=2)
QUICK = Settings(lines=20_000, batch=200, rounds=3, at_size_rounds=2, report_rounds=5, warmup=1)


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def environment() -> dict[str, Any]:
    """What the numbers depend on, so a later run can tell whether it is comparable."""
    return {
        "date": datetime.now().isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": sqlalchemy.__version__,
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "src_dirty": bool(_git("status", "--porcelain", "src")),
        "load_average_start": load_average(),
    }


def scratch_sqlite(name: str) -> Path:
    SCRATCH.mkdir(parents=True, exist_ok=True)
    path = SCRATCH / f"{name}.db"
    book.remove_sqlite(path)
    return path


def posting_sqlite(settings: Settings, big_book: Path | None) -> list[Result]:
    """Both variants on a fresh book, then (full run) on a copy of the big book."""
    plan = bench_posting.PostingPlan(settings.batch, settings.rounds, warmup=1)
    fresh = scratch_sqlite("posting-fresh")
    book.new_book(book.sqlite_url(fresh), generate.Spec(0)).dispose()
    results = bench_posting.run(book.sqlite_url(fresh), plan, backend="sqlite", suffix=", fresh book")
    book.remove_sqlite(fresh)
    if big_book is not None:
        copy = scratch_sqlite("posting-at-size")
        shutil.copyfile(big_book, copy)
        at_size = bench_posting.PostingPlan(settings.batch, settings.at_size_rounds, warmup=1)
        results += bench_posting.run(book.sqlite_url(copy), at_size, backend="sqlite",
                                     suffix=f", book of {settings.lines:,} lines")
        book.remove_sqlite(copy)
    return results


@dataclass
class PgServer:
    """A PostgreSQL server to create throwaway benchmark databases on."""

    admin_url: str
    base_url: str
    version: str = ""
    settings: str = ""

    def new_database(self) -> str:
        name = f"jxc_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
            self.version = str(conn.execute(text("SHOW server_version")).scalar_one())
        admin.dispose()
        return make_url(self.base_url).set(database=name).render_as_string(hide_password=False)


@contextmanager
def postgres_server() -> Iterator[PgServer]:
    """JXC_BENCH_PG_URL's server when set, else a throwaway cluster (tests/support/pg.py), stopped after."""
    given = os.environ.get("JXC_BENCH_PG_URL")
    if given:
        admin_url = make_url(given).set(database="postgres").render_as_string(hide_password=False)
        yield PgServer(admin_url, given, settings="JXC_BENCH_PG_URL (databases jxc_bench_* are left behind)")
        return
    from tests.support.pg import start_cluster

    cluster = start_cluster()
    try:
        yield PgServer(cluster.admin_url, cluster.url, settings="throwaway cluster from tests/support/pg.py: "
                       "fsync=off, synchronous_commit=off, full_page_writes=off, default memory settings")
    finally:
        cluster.stop()


def posting_postgres(settings: Settings, server: PgServer) -> list[Result]:
    """Both variants on a fresh book in PostgreSQL."""
    url = server.new_database()
    book.new_book(url, generate.Spec(0)).dispose()
    plan = bench_posting.PostingPlan(settings.batch, settings.rounds, warmup=1)
    return bench_posting.run(url, plan, backend="postgresql", suffix=", fresh book")


def ledger_postgres(settings: Settings, server: PgServer, big_book: Path, env: dict[str, Any]) -> list[Result]:
    """The report cases on a PostgreSQL copy of the big SQLite book, verified after the copy."""
    url = server.new_database()
    src, dst = make_engine(book.sqlite_url(big_book)), make_engine(url)
    started = time.perf_counter()
    copied = book.copy_book(src, dst)
    copy_seconds = time.perf_counter() - started
    src.dispose()
    db = book.session(dst)
    try:
        verify_seconds = book.verify_or_fail(db, book.admin_actor(db))
    finally:
        db.close()
        dst.dispose()
    env["postgresql_book"] = {"copied_rows": copied, "copy_seconds": round(copy_seconds, 1),
                              "verify_seconds": round(verify_seconds, 1)}
    lines = copied.get("voucher_line", 0)
    return bench_ledger.run(url, backend=f"postgresql, {lines:,} lines", rounds=settings.report_rounds,
                            warmup=settings.warmup)


def postgres_all(settings: Settings, big_book: Path, env: dict[str, Any], groups: tuple[str, ...]) -> list[Result]:
    """Everything on PostgreSQL, or nothing (and the reason in the results) when no server can start."""
    try:
        with postgres_server() as server:
            results = posting_postgres(settings, server) if "posting" in groups else []
            if "ledger" in groups:
                results += ledger_postgres(settings, server, big_book, env)
            env["postgresql"] = {"version": server.version, "settings": server.settings}
            return results
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        env["postgresql"] = f"skipped: {exc}"
        print(f"PostgreSQL skipped: {exc}", file=sys.stderr)
        return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run_all", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run, not numbers to publish")
    parser.add_argument("--lines", type=int, help="voucher lines in the report book (default 1,000,000)")
    parser.add_argument("--no-pg", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--only", choices=("posting", "ledger"), help="run one group")
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a result misses its target")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    if args.lines:
        settings = Settings(args.lines, settings.batch, settings.rounds, settings.at_size_rounds,
                            settings.report_rounds, settings.warmup)
    env = environment()
    mode = "quick" if args.quick else "full"
    print(f"JXC benchmarks ({mode}): {env['cpu']}, {env['cpus']} CPUs, Python {env['python']}, "
          f"SQLite {env['sqlite']}, load {env['load_average_start']}", file=sys.stderr)

    started = time.perf_counter()
    big_book, info = book.cached_sqlite_book(settings.lines)
    env["book"] = asdict(info)
    groups = (args.only,) if args.only else ("posting", "ledger")
    results: list[Result] = []
    if "posting" in groups:
        results += posting_sqlite(settings, big_book)
    if "ledger" in groups:
        results += bench_ledger.run(book.sqlite_url(big_book), backend=f"sqlite, {info.lines:,} lines",
                                    rounds=settings.report_rounds, warmup=settings.warmup)
    if not args.no_pg:
        results += postgres_all(settings, big_book, env, groups)
    env["load_average_end"] = load_average()
    env["seconds"] = round(time.perf_counter() - started, 1)

    print()
    print(table(results))
    if args.markdown:
        print()
        print(markdown_table(results))
    payload = {"mode": mode, "settings": asdict(settings), "environment": env,
               "results": [r.as_dict() for r in results]}
    book.OUT.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = book.OUT / f"results-{mode}-{stamp}.json"
    out.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str))
    shutil.copyfile(out, book.OUT / f"results-{mode}-latest.json")
    print(f"\nwrote {out.relative_to(ROOT)}", file=sys.stderr)
    return 1 if args.strict and any(r.passed is False for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
