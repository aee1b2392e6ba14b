"""The demo books: a trading company with partners, products, opening balances and three
months of audited business, the first two months closed. Built only through the services."""

from __future__ import annotations

from importlib import resources

from sqlalchemy import Engine

from jxc.db.session import session_factory
from jxc.services import books, closing, importer, users

DEMO_PASSWORD = "demo1234"
# Every built-in role has a demo user, so each screen can be tried with each role.
DEMO_USERS = (("accountant", ["accountant"]), ("manager", ["manager"]), ("viewer", ["auditor"]),
              ("warehouse", ["warehouse"]), ("sales", ["sales"]), ("purchasing", ["purchasing"]))
CLOSED = ("2026-01", "2026-02")


def build_demo(engine: Engine, password: str = DEMO_PASSWORD) -> list[str]:
    """Create the demo books on an empty database; returns the usernames."""
    name = resources.files("jxc.data").joinpath("demo_company.txt").read_text(encoding="utf-8").strip()
    books.init_book(engine, books.BookSettings(name, "2026-01", "admin", password))
    db = session_factory(engine)()
    try:
        actor = users.load_actor(db, "admin")
        db.rollback()
        for username, roles in DEMO_USERS:
            users.add_user(db, username, password, roles=roles, actor=actor)
        text = resources.files("jxc.data").joinpath("demo.jsonl").read_text(encoding="utf-8")
        importer.import_records(db, text.splitlines(), actor=actor, audit=True)
        for period in CLOSED:  # two months closed, the third open for the tour
            closing.close_period(db, period, actor=actor, acknowledge_warnings=True)
    finally:
        db.close()
    return ["admin", *(u for u, _ in DEMO_USERS)]
