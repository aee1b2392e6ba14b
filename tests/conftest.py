"""Fixtures shared by every test folder.

Service tests run twice, on SQLite and on PostgreSQL (`backend` fixture). A
book is created once per backend and session; each test then runs inside an
outer transaction that is rolled back at the end, while the services' own
`db.begin()` becomes a SAVEPOINT (join_transaction_mode="create_savepoint").
Tests that need real commits (processes, concurrency) use `fresh_engine`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from jxc.db.session import make_engine
from jxc.services import books, checks, users
from tests.support.pg import Cluster, start_cluster

ADMIN_PASSWORD = "admin-pass-1"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    url = os.environ.get("JXC_TEST_PG_URL")
    if url:
        admin = make_url(url).set(database="postgres").render_as_string(hide_password=False)
        yield Cluster(url, admin)
        return
    try:
        cluster = start_cluster()
    except (RuntimeError, OSError) as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL is mandatory in CI: {exc}")
        pytest.skip(f"PostgreSQL not available: {exc}")
    yield cluster
    cluster.stop()


def _new_pg_database(cluster: Cluster) -> str:
    name = f"jxc_{uuid.uuid4().hex[:12]}"
    admin = create_engine(cluster.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(cluster.url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL for an empty database of the test's backend (default SQLite)."""
    backend = getattr(request, "param", None) or request.getfixturevalue("backend_name")
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'books.db'}"
    return _new_pg_database(request.getfixturevalue("pg_cluster"))


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def make_book(url: str, *, distinct_auditor: bool = False) -> Engine:
    engine = make_engine(url)
    books.init_book(engine, books.BookSettings("Test Co", "2026-01", "admin", ADMIN_PASSWORD,
                                               require_distinct_auditor=distinct_auditor))
    return engine


_BOOKS: dict[str, Engine] = {}


@pytest.fixture
def book_engine(backend_name: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """One initialised book per backend for the whole session (tests never commit to it)."""
    if backend_name not in _BOOKS:
        if backend_name == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('book') / 'books.db'}"
        else:
            url = _new_pg_database(request.getfixturevalue("pg_cluster"))
        _BOOKS[backend_name] = make_book(url)
    return _BOOKS[backend_name]


@pytest.fixture
def db(book_engine: Engine) -> Iterator[Session]:
    """A session whose every service transaction is a savepoint inside one rolled-back transaction.
    After the test, the whole-book invariants are re-proved on what the test left behind."""
    conn = book_engine.connect()
    outer = conn.begin()
    session = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
        report = checks.verify_books(session)
        assert report.ok, [c for c in report.checks if not c.ok]
    finally:
        session.close()
        outer.rollback()
        conn.close()


@pytest.fixture
def admin(db: Session):  # type: ignore[no-untyped-def]
    actor = users.load_actor(db, "admin")
    db.rollback()
    return actor
