"""Engines and sessions, built on request (never at import time)."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_URL = "sqlite:///jxc.db"
READ_ONLY = "jxc_read_only"  # execution option: this transaction only reads


def database_url(explicit: str | None = None) -> str:
    """--db wins, then JXC_DATABASE_URL, then ./jxc.db (SQLite)."""
    return explicit or os.environ.get("JXC_DATABASE_URL") or DEFAULT_URL


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see _on_begin).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A writer starts with BEGIN IMMEDIATE, taking the write lock up front: a deferred
        # transaction that reads, then writes, can fail with SQLITE_BUSY instead of waiting its
        # turn. A reader (READ_ONLY option, see services.common.reading) starts deferred, so
        # reports never queue behind or block writers; under WAL it reads one snapshot.
        # Straight to the driver: this runs once per transaction on the posting path, and the
        # full statement pipeline (events, logging, result set-up) costs more than SQLite does.
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.connection.dbapi_connection.execute("BEGIN" if read_only else "BEGIN IMMEDIATE")


def make_engine(url: str | None = None, **kw: Any) -> Engine:
    """An engine for the given URL (see database_url); SQLite gets WAL and immediate transactions."""
    resolved = make_url(database_url(url))
    if resolved.get_backend_name() == "sqlite":
        engine = create_engine(resolved, **kw)
        _sqlite_setup(engine)
        return engine
    kw.setdefault("pool_pre_ping", True)
    return create_engine(resolved, **kw)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    # Services call db.begin() themselves; expire_on_commit=False keeps returned rows readable.
    return sessionmaker(bind=engine, expire_on_commit=False, autobegin=True)
