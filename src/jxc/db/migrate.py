"""Run Alembic migrations from code: `jxc init` and the tests create schemas this way."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, inspect

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision` in one transaction."""
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)


def has_schema(engine: Engine) -> bool:
    return inspect(engine).has_table("alembic_version")
