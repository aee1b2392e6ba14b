"""A server error is an apology with an id that is in the log, never a traceback; unknown
pages are a 404 page; malformed parameters a 422 naming the field."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient


def _boom() -> None:
    raise RuntimeError("secret internals: /etc/passwd")


@pytest.fixture(scope="module", autouse=True)
def boom_routes(app: FastAPI) -> None:
    app.add_api_route("/api/test-boom", _boom)
    app.add_api_route("/test-boom", _boom)


def test_api_server_error_is_an_apology_with_a_logged_id(api: Callable[[str], TestClient],
                                                           caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="jxc.web"):
        r = api("admin").get("/api/test-boom")
    assert r.status_code == 500
    body = r.json()["error"]
    assert body["code"] == "server_error"
    assert "抱歉" in body["message"]
    assert "secret internals" not in r.text and "Traceback" not in r.text
    assert body["id"] and any(body["id"] in rec.getMessage() for rec in caplog.records)
    assert any(rec.exc_info and "secret internals" in str(rec.exc_info[1]) for rec in caplog.records)


def test_page_server_error_shows_the_id_not_the_traceback(web: Callable[[str], TestClient],
                                                          caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="jxc.web"):
        r = web("accountant").get("/test-boom")
    assert r.status_code == 500
    assert "抱歉" in r.text
    assert "secret internals" not in r.text and "Traceback" not in r.text
    logged = [rec.getMessage() for rec in caplog.records if rec.name == "jxc.web"]
    assert logged and logged[-1].split()[1] in r.text


def test_unknown_page_and_unknown_api_route(web: Callable[[str], TestClient],
                                            api: Callable[[str], TestClient]) -> None:
    r = web("accountant").get("/no-such-page")
    assert r.status_code == 404
    assert "找不到" in r.text
    r = api("accountant").get("/api/no-such-route")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


def test_english_for_a_user_who_asks_for_it(api: Callable[[str], TestClient]) -> None:
    r = api("admin").get("/api/test-boom", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert r.json()["error"]["message"].startswith("Sorry")


def test_signed_out_pages_redirect_to_login_and_api_says_401(app: FastAPI) -> None:
    anon = TestClient(app, follow_redirects=False)
    r = anon.get("/account")
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/account"
    r = anon.get("/api/me")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "auth.required"
    r = anon.get("/api/me", headers={"Authorization": "Bearer jxc_not-a-token"})
    assert r.status_code == 401
