"""Users and roles over real HTTP (user.manage): list, create, grant/revoke, reset a password,
disable/enable, the roles with their permissions."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient

from jxc.domain.permissions import BUILTIN_ROLES
from tests.api.conftest import ROLES_BY_USER, sign_in

Api = Callable[[str], TestClient]


def user(client: TestClient, name: str) -> dict[str, object]:
    return next(u for u in client.get("/api/users").json()["items"] if u["username"] == name)


def test_list_users_and_roles(api: Api) -> None:
    admin = api("admin")
    found = {u["username"]: u for u in admin.get("/api/users").json()["items"]}
    for username, role in ROLES_BY_USER.items():
        assert role in found[username]["roles"] and found[username]["active"] is True
    roles = {r["code"]: r for r in admin.get("/api/roles").json()["items"]}
    assert set(BUILTIN_ROLES) <= set(roles)
    for code, granted in BUILTIN_ROLES.items():
        assert set(roles[code]["permissions"]) == set(granted) and roles[code]["builtin"] is True


def test_create_grant_revoke_reset_disable(app: FastAPI, api: Api) -> None:
    admin = api("admin")
    made = admin.post("/api/users", json={"username": "lili", "password": "first pass 1", "display_name": "Li Li",
                                          "roles": ["sales"]})
    assert made.status_code == 201, made.text
    assert made.json()["roles"] == ["sales"] and made.headers["location"] == "/api/users/lili"
    assert admin.post("/api/users", json={"username": "lili", "password": "first pass 1"}).status_code == 409
    short = admin.post("/api/users", json={"username": "lulu", "password": "short"})
    assert short.status_code == 422 and short.json()["error"]["field"] == "password"
    assert admin.post("/api/users", json={"username": "lulu", "password": "long enough 1",
                                          "roles": ["wizard"]}).status_code in (404, 409, 422)

    lili = sign_in(app, "lili", "first pass 1")
    assert lili.get("/api/reports/trial-balance", params={"period": "2026-03"}).status_code == 403
    granted = admin.post("/api/users/lili/roles", json={"role": "auditor"})
    assert granted.status_code == 200 and granted.json()["roles"] == ["auditor", "sales"]
    assert lili.get("/api/reports/trial-balance", params={"period": "2026-03"}).status_code == 200
    revoked = admin.delete("/api/users/lili/roles/auditor")
    assert revoked.status_code == 200 and revoked.json()["roles"] == ["sales"]
    assert lili.get("/api/reports/trial-balance", params={"period": "2026-03"}).status_code == 403
    assert admin.post("/api/users/nobody/roles", json={"role": "sales"}).status_code == 404

    assert admin.post("/api/users/lili/password", json={"password": "new pass 22"}).status_code == 204
    assert lili.get("/api/me").status_code == 401  # the reset ended the sessions
    sign_in(app, "lili", "new pass 22")

    off = admin.post("/api/users/lili/disable")
    assert off.status_code == 200 and off.json()["active"] is False
    assert user(admin, "lili")["active"] is False
    assert admin.post("/api/users/lili/enable").json()["active"] is True
    myself = admin.post("/api/users/admin/disable")
    assert myself.status_code == 422 and myself.json()["error"]["field"] == "username"
    assert api("manager").get("/api/users").status_code == 403
