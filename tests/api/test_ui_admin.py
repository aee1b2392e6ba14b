"""User and role administration pages: users with roles, creating users, roles, passwords,
disabling, the permission matrix and everyone's API tokens; all refused without user.manage."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from jxc.db.session import session_factory
from jxc.domain.permissions import PERMISSIONS
from jxc.services import auth, users
from tests.api.conftest import CSRF_INPUT, sign_in

Web = Callable[[str], TestClient]


def _login_status(app: FastAPI, username: str, password: str) -> int:
    c = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    token = CSRF_INPUT.search(c.get("/login").text)
    assert token
    r = c.post("/login", data={"username": username, "password": password, "csrf_token": token.group(1)})
    return int(r.status_code)


def test_users_page_lists_users_and_roles(web: Web) -> None:
    r = web("admin").get("/admin/users")
    assert r.status_code == 200
    assert 'id="user-accountant"' in r.text and "会计" in r.text
    assert 'name="roles" value="sales"' in r.text
    assert 'class="tabs admin-tabs"' in r.text


@pytest.mark.parametrize("path", ["/admin/users", "/admin/roles", "/admin/tokens"])
def test_non_admin_is_refused(web: Web, path: str) -> None:
    assert web("accountant").get(path).status_code == 403
    assert web("sales").post("/admin/users", data={"username": "x", "password": "12345678",
                                                   "password2": "12345678"}).status_code == 403


def test_create_user_who_can_sign_in(app: FastAPI, web: Web) -> None:
    r = web("admin").post("/admin/users", data={"username": "newsales", "display_name": "小王",
                                                "password": "secret123", "password2": "secret123",
                                                "roles": ["sales"]})
    assert r.status_code == 200, r.text
    assert "已创建用户 newsales" in r.text
    assert re.search(r'id="user-newsales" class="selected', r.text)
    client = sign_in(app, "newsales", "secret123")
    assert client.get("/master/product").status_code == 200  # sales may read master data
    assert client.get("/admin/users").status_code == 403


def test_create_user_errors_next_to_fields(app: FastAPI, web: Web) -> None:
    admin = web("admin")
    r = admin.post("/admin/users", data={"username": "accountant", "password": "secret123",
                                         "password2": "secret123", "roles": ["sales"]})
    assert r.status_code == 409
    assert re.search(r'<div class="field invalid">\s*<label for="f-username">', r.text)
    assert 'value="accountant"' in r.text  # the form keeps what was typed
    r = admin.post("/admin/users", data={"username": "shorty", "password": "short", "password2": "short"})
    assert r.status_code == 422 and 'id="f-password-error"' in r.text
    r = admin.post("/admin/users", data={"username": "mismatch", "password": "secret123", "password2": "secret124"})
    assert r.status_code == 422 and 'id="f-password2-error"' in r.text
    assert _login_status(app, "shorty", "short") == 401


def test_grant_and_revoke_roles(app: FastAPI, web: Web) -> None:
    r = web("admin").post("/admin/users/newsales/roles", data={"roles": ["warehouse", "auditor"]})
    assert r.status_code == 200 and "已保存 newsales 的角色" in r.text
    db = session_factory(app.state.engine)()
    try:
        actor = users.load_actor(db, "admin")
        db.rollback()
        found = {u.username: u.roles for u in users.list_users(db, actor=actor)}
    finally:
        db.close()
    assert found["newsales"] == ("auditor", "warehouse")


def test_reset_password_and_disable(app: FastAPI, web: Web) -> None:
    admin = web("admin")
    r = admin.post("/admin/users/newsales/password", data={"password": "short"})
    assert r.status_code == 422 and "至少" in r.text
    r = admin.post("/admin/users/newsales/password", data={"password": "another123"})
    assert r.status_code == 200
    assert _login_status(app, "newsales", "secret123") == 401
    assert _login_status(app, "newsales", "another123") == 303
    r = admin.post("/admin/users/newsales/active", data={"active": "0"})
    assert r.status_code == 200 and "已停用 newsales" in r.text
    assert _login_status(app, "newsales", "another123") == 401
    r = admin.post("/admin/users/newsales/active", data={"active": "1"})
    assert r.status_code == 200
    assert _login_status(app, "newsales", "another123") == 303
    own = admin.post("/admin/users/admin/active", data={"active": "0"})
    assert own.status_code == 422


def test_roles_matrix(web: Web) -> None:
    r = web("admin").get("/admin/roles")
    assert r.status_code == 200
    assert "管理用户和角色" in r.text and "反结账" in r.text  # translated permission names
    assert "perm.user.manage" not in r.text
    rows = re.findall(r"<tr><td>.*?</tr>", r.text, re.S)
    assert len(rows) == len(PERMISSIONS)


def test_tokens_of_everyone_with_revoke(app: FastAPI, web: Web) -> None:
    db = session_factory(app.state.engine)()
    try:
        actor = users.load_actor(db, "sales")
        db.rollback()
        made = auth.create_api_token(db, "sales integration", actor=actor)
    finally:
        db.close()
    page = web("admin").get("/admin/tokens")
    assert page.status_code == 200 and "sales integration" in page.text
    r = web("admin").post(f"/admin/tokens/{made.info.id}/revoke")
    assert r.status_code == 200 and "令牌已吊销" in r.text
    api = TestClient(app, raise_server_exceptions=False)
    assert api.get("/api/me", headers={"Authorization": f"Bearer {made.secret}"}).status_code == 401
