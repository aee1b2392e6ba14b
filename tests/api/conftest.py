"""The API and the pages over real HTTP (Starlette's TestClient drives the ASGI app in-process).

Each test module gets the demo books (three months of business, two closed) on SQLite and on
PostgreSQL, built through the services; tests that change data do so on that module's copy.
`api(username)` is a client with an API token of that demo user; `web(username)` a client
signed in through the login form, which sends the CSRF token like the pages do.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from jxc.db.session import make_engine, session_factory
from jxc.services import auth, users
from jxc.services.demo import DEMO_PASSWORD, build_demo
from jxc.web.app import create_app
from tests.conftest import _new_pg_database

ROLES_BY_USER = {"admin": "admin", "accountant": "accountant", "manager": "manager", "viewer": "auditor",
                 "warehouse": "warehouse", "sales": "sales", "purchasing": "purchasing"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def demo_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('api') / 'demo.db'}"
    else:
        url = _new_pg_database(request.getfixturevalue("pg_cluster"))
    engine = make_engine(url)
    build_demo(engine)
    engine.dispose()
    yield url


@pytest.fixture(scope="module")
def app(demo_url: str) -> Iterator[FastAPI]:
    application = create_app(demo_url)
    yield application
    application.state.engine.dispose()


def token_for(app: FastAPI, username: str) -> str:
    db = session_factory(app.state.engine)()
    try:
        actor = users.load_actor(db, username)
        db.rollback()
        return auth.create_api_token(db, f"test {username}", actor=actor).secret
    finally:
        db.close()


@pytest.fixture(scope="module")
def api(app: FastAPI) -> Callable[[str], TestClient]:
    """api("sales") -> a client sending that user's API token."""
    cache: dict[str, TestClient] = {}

    def client(username: str = "admin") -> TestClient:
        if username not in cache:
            c = TestClient(app, raise_server_exceptions=False)
            c.headers["Authorization"] = f"Bearer {token_for(app, username)}"
            cache[username] = c
        return cache[username]
    return client


CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def sign_in(app: FastAPI, username: str, password: str = DEMO_PASSWORD) -> TestClient:
    c = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    page = c.get("/login")
    token = CSRF_INPUT.search(page.text)
    assert token, "the login page has a CSRF field"
    r = c.post("/login", data={"username": username, "password": password, "csrf_token": token.group(1)})
    assert r.status_code == 303, r.text
    home = c.get("/")
    found = CSRF_INPUT.search(home.text) or re.search(r'"X-CSRF-Token": "([^"]+)"', home.text)
    assert found, "a signed-in page carries the CSRF token"
    c.headers["X-CSRF-Token"] = found.group(1)
    return c


@pytest.fixture(scope="module")
def web(app: FastAPI) -> Callable[[str], TestClient]:
    """web("accountant") -> a client signed in through the login form (cookie + CSRF header)."""
    cache: dict[str, TestClient] = {}

    def client(username: str = "admin") -> TestClient:
        if username not in cache:
            cache[username] = sign_in(app, username)
        return cache[username]
    return client


def sqlite_path(url: str) -> Path | None:
    u = make_url(url)
    return Path(u.database) if u.get_backend_name() == "sqlite" and u.database else None
