"""Signing in and staying safe, over real HTTP: wrong passwords, throttling, API tokens (revoked,
disabled user), CSRF on the API and on forms, password change, and the audit log's record."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from jxc.db.models import AuditLog
from jxc.services.demo import DEMO_PASSWORD
from jxc.web.deps import SESSION_COOKIE
from tests.api.conftest import CSRF_INPUT, sign_in

Api = Callable[[str], TestClient]
PASSWORD = "a good password 1"


def new_user(api: Api, roles: list[str] | None = None) -> str:
    name = f"u{uuid.uuid4().hex[:10]}"
    r = api("admin").post("/api/users", json={"username": name, "password": PASSWORD,
                                              "roles": roles if roles is not None else ["sales"]})
    assert r.status_code == 201, r.text
    return name


def login_form(app: FastAPI) -> tuple[TestClient, str]:
    c = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    page = c.get("/login")
    found = CSRF_INPUT.search(page.text)
    assert found
    return c, found.group(1)


def try_login(app: FastAPI, username: str, password: str, lang: str = "en") -> tuple[TestClient, int, str]:
    c, token = login_form(app)
    r = c.post("/login", data={"username": username, "password": password, "csrf_token": token},
               headers={"Accept-Language": lang})
    return c, r.status_code, r.text


def test_wrong_password_is_401_and_no_session(app: FastAPI, api: Api) -> None:
    name = new_user(api)
    c, status, page = try_login(app, name, "not the password")
    assert status == 401
    assert "Wrong username or password" in page
    assert SESSION_COOKIE not in c.cookies
    assert c.get("/api/me").status_code == 401
    _, status, _ = try_login(app, "nobody-at-all", "whatever")
    assert status == 401  # the same answer for an unknown user


def test_throttled_after_five_failures_even_with_the_right_password(app: FastAPI, api: Api) -> None:
    name = new_user(api)
    for _ in range(5):
        assert try_login(app, name, "wrong guess")[1] == 401
    c, status, page = try_login(app, name, PASSWORD)
    assert status == 429
    minutes = re.search(r"try again in (\d+) minutes", page)
    assert minutes and 1 <= int(minutes.group(1)) <= 15, page
    assert SESSION_COOKIE not in c.cookies
    _, status, page = try_login(app, name, PASSWORD, lang="zh-CN")
    assert status == 429 and "分钟" in page
    # Another user is not affected.
    other = new_user(api)
    assert try_login(app, other, PASSWORD)[1] == 303


def test_api_tokens_revoked_and_disabled(app: FastAPI, api: Api) -> None:
    name = new_user(api)
    session = sign_in(app, name, PASSWORD)
    made = session.post("/api/tokens", json={"name": "integration"})
    assert made.status_code == 201, made.text
    secret, token_id = made.json()["secret"], made.json()["id"]
    assert secret.startswith("jxc_") and made.json()["prefix"] == secret[:12]
    client = TestClient(app, raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {secret}"
    me = client.get("/api/me")
    assert me.status_code == 200 and me.json()["username"] == name
    assert "order.create" in me.json()["permissions"]
    # A token needs no CSRF header: no cookie, nothing a browser would send by itself.
    assert client.post("/api/tokens", json={"name": "second"}).status_code == 201
    assert [t["name"] for t in session.get("/api/tokens").json()["items"]] == ["integration", "second"]

    assert session.delete(f"/api/tokens/{token_id}").status_code == 204
    revoked = client.get("/api/me")
    assert revoked.status_code == 401
    assert revoked.json()["error"]["code"] == "auth.required"
    assert revoked.headers["www-authenticate"] == "Bearer"

    second = TestClient(app, raise_server_exceptions=False)
    second.headers["Authorization"] = f"Bearer {session.post('/api/tokens', json={'name': 'x'}).json()['secret']}"
    assert second.get("/api/me").status_code == 200
    assert api("admin").post(f"/api/users/{name}/disable").status_code == 200
    assert second.get("/api/me").status_code == 401
    assert session.get("/api/me").status_code == 401  # the sessions ended too
    assert api("admin").post(f"/api/users/{name}/enable").status_code == 200
    assert second.get("/api/me").status_code == 200
    forged = TestClient(app, raise_server_exceptions=False)
    forged.headers["Authorization"] = "Bearer jxc_" + "A" * 43
    assert forged.get("/api/me").status_code == 401


def test_someone_elses_token_cannot_be_revoked(app: FastAPI, api: Api) -> None:
    mine = api("sales").post("/api/tokens", json={"name": "mine"}).json()
    assert api("warehouse").delete(f"/api/tokens/{mine['id']}").status_code == 404
    assert api("admin").delete(f"/api/tokens/{mine['id']}").status_code == 204  # user.manage may


def test_csrf_on_the_api_with_a_session_cookie(app: FastAPI, api: Api) -> None:
    signed = sign_in(app, "admin", DEMO_PASSWORD)
    token = signed.headers.pop("X-CSRF-Token")
    body = {"code": "CSRF01", "name": "csrf test", "kind": "customer"}
    refused = signed.post("/api/partners", json=body)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "auth.csrf"
    assert signed.post("/api/partners", json=body, headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert api("admin").get("/api/partners/CSRF01").status_code == 404  # nothing changed
    assert signed.get("/api/partners/C001").status_code == 200  # reading needs no token
    made = signed.post("/api/partners", json=body, headers={"X-CSRF-Token": token})
    assert made.status_code == 201, made.text
    assert api("admin").get("/api/partners/CSRF01").json()["name"] == "csrf test"


def test_csrf_on_forms(app: FastAPI, api: Api) -> None:
    name = new_user(api)
    signed = sign_in(app, name, PASSWORD)
    token = signed.headers.pop("X-CSRF-Token")
    assert signed.post("/logout", data={}).status_code == 403
    assert signed.get("/api/me").status_code == 200  # still signed in
    out = signed.post("/logout", data={"csrf_token": token})
    assert out.status_code == 303
    assert signed.get("/api/me").status_code == 401

    # The login form itself: without the cookie set by the login page (a form posted from
    # elsewhere), it is refused before the password is even looked at.
    c, token = login_form(app)
    c.cookies.clear()
    r = c.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 403
    assert SESSION_COOKIE not in c.cookies
    c2, _ = login_form(app)
    assert c2.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": "other"}).status_code == 403


def test_password_change(app: FastAPI, api: Api) -> None:
    name = new_user(api)
    signed = sign_in(app, name, PASSWORD)
    wrong = signed.post("/api/password", json={"old_password": "not it", "new_password": "brand new pass 2"},
                        headers={"Accept-Language": "en"})
    assert wrong.status_code == 422
    assert wrong.json()["error"]["field"] == "old_password"
    short = signed.post("/api/password", json={"old_password": PASSWORD, "new_password": "short"})
    assert short.status_code == 422 and short.json()["error"]["field"] == "new_password"
    assert try_login(app, name, PASSWORD)[1] == 303  # unchanged so far
    other_session = sign_in(app, name, PASSWORD)
    ok = signed.post("/api/password", json={"old_password": PASSWORD, "new_password": "brand new pass 2"})
    assert ok.status_code == 204, ok.text
    assert signed.get("/api/me").status_code == 200  # this session goes on
    assert other_session.get("/api/me").status_code == 401  # the others end
    assert try_login(app, name, "brand new pass 2")[1] == 303
    assert try_login(app, name, PASSWORD)[1] == 401


def test_the_audit_log_records_sign_in(app: FastAPI, api: Api) -> None:
    name = new_user(api)
    sign_in(app, name, PASSWORD)
    with app.state.sessions() as db:
        rows = db.execute(select(AuditLog.action, AuditLog.username, AuditLog.entity_id)
                          .where(AuditLog.entity_id == name).order_by(AuditLog.seq)).all()
    actions = [r.action for r in rows]
    assert "user.add" in actions and "user.sign_in" in actions
    sign_in_row = next(r for r in rows if r.action == "user.sign_in")
    assert sign_in_row.username == name
