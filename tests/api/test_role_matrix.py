"""Every /api route with every demo role, against a DECLARED matrix (deny by default).

MATRIX names, for each route (method + path template), the permission it requires ("signed-in"
for a user's own things, "public" for the API docs) and the calls that exercise it. The test
fails when the application has an /api route the matrix does not declare, so a new route has to
be given its permission here. For each call, the users whose built-in roles
(jxc.domain.permissions.BUILTIN_ROLES) lack the permission must get 403, and the others must
never get 401/403 (nor a server error). Denied users go first, with bodies the service would
otherwise accept, so a refusal is the permission's and not the data's.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from jxc.domain import permissions as perm
from jxc.domain.permissions import BUILTIN_ROLES
from jxc.services.documents import KINDS, entity_of
from tests.api.conftest import ROLES_BY_USER
from tests.api.samples import RECORDS

USERS = tuple(ROLES_BY_USER)
SIGNED_IN = "signed-in"
PUBLIC = "public"

CREATE = {"stock_doc": perm.STOCK_CREATE, "order": perm.ORDER_CREATE, "invoice": perm.INVOICE_CREATE,
          "cash_doc": perm.CASH_CREATE, "voucher": perm.VOUCHER_CREATE}
AUDIT = {"stock_doc": perm.STOCK_AUDIT, "order": perm.ORDER_AUDIT, "invoice": perm.INVOICE_AUDIT,
         "cash_doc": perm.CASH_AUDIT, "voucher": perm.VOUCHER_AUDIT}
READ = {"stock_doc": perm.STOCK_READ, "order": perm.TRADE_READ, "invoice": perm.TRADE_READ,
        "cash_doc": perm.TRADE_READ, "voucher": perm.LEDGER_READ}
# One document kind per table family for the routes that act on an existing document.
FAMILY = {"stock_doc": "purchase_receipt", "order": "purchase_order", "invoice": "sales_invoice",
          "cash_doc": "receipt", "voucher": "voucher"}


@dataclass
class Call:
    url: str  # may hold {placeholders} filled from the set-up's ids
    needs: frozenset[str]  # every permission required; empty with SIGNED_IN/PUBLIC routes
    body: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    level: str = ""  # SIGNED_IN or PUBLIC instead of permissions


def call(url: str, *needs: str, body: Any = None, **params: Any) -> Call:
    if needs and needs[0] in (SIGNED_IN, PUBLIC):
        return Call(url, frozenset(), body, params, needs[0])
    return Call(url, frozenset(needs), body, params)


D1, D2 = "2026-03-01", "2026-03-31"

MATRIX: dict[tuple[str, str], list[Call]] = {
    # --- public and one's own -------------------------------------------------------------
    ("GET", "/api/openapi.json"): [call("/api/openapi.json", PUBLIC)],
    ("GET", "/api/docs"): [call("/api/docs", PUBLIC)],
    ("GET", "/api/me"): [call("/api/me", SIGNED_IN)],
    ("GET", "/api/tokens"): [call("/api/tokens", SIGNED_IN)],
    ("POST", "/api/tokens"): [call("/api/tokens", SIGNED_IN, body={"name": "matrix"})],
    ("DELETE", "/api/tokens/{token_id}"): [call("/api/tokens/999999", SIGNED_IN)],
    ("POST", "/api/password"): [call("/api/password", SIGNED_IN,
                                     body={"old_password": "not-the-password", "new_password": "long enough 1"})],
    # --- documents -----------------------------------------------------------------------
    ("GET", "/api/documents/{kind}"): [call(f"/api/documents/{k}", READ[e]) for e, k in FAMILY.items()],
    ("POST", "/api/documents/{kind}"): [call(f"/api/documents/{k}", CREATE[entity_of(k)], body=RECORDS[k])
                                        for k in KINDS],
    ("GET", "/api/documents/{kind}/by-no/{no}"): [
        call(f"/api/documents/{k}/by-no/{{no_{e}}}", READ[e]) for e, k in FAMILY.items()],
    ("GET", "/api/documents/{kind}/{doc_id}"): [
        call(f"/api/documents/{k}/{{draft_{e}}}", READ[e]) for e, k in FAMILY.items()],
    ("POST", "/api/documents/{kind}/{doc_id}/{action}"): [
        *(call(f"/api/documents/{k}/{{draft_{e}}}/audit", AUDIT[e]) for e, k in FAMILY.items()),
        call("/api/documents/voucher/{posted_voucher}/unpost", perm.VOUCHER_POST),
        call("/api/documents/voucher/{void_voucher}/void", perm.VOUCHER_VOID)],
    ("DELETE", "/api/documents/{kind}/{doc_id}"): [
        call(f"/api/documents/{k}/{{delete_{e}}}", CREATE[e]) for e, k in FAMILY.items() if e != "voucher"],
    ("POST", "/api/documents/{kind}/{doc_id}/reverse"): [
        call("/api/documents/purchase_receipt/{audited_receipt}/reverse", perm.STOCK_CREATE,
             body={"date": "2026-03-30"}),
        call("/api/documents/voucher/{manual_voucher}/reverse", perm.VOUCHER_CREATE, body={"date": "2026-03-30"})],
    ("POST", "/api/orders/{side}/{no}/receive"): [
        call("/api/orders/purchase/CGDD-202603-0001/receive", perm.TRADE_READ,
             body={"date": "2026-03-30", "warehouse": "WH01"})],
    ("POST", "/api/orders/{side}/{no}/deliver"): [
        call("/api/orders/sales/XSDD-202603-0001/deliver", perm.TRADE_READ,
             body={"date": "2026-03-30", "warehouse": "WH01"})],
    ("POST", "/api/invoices/{side}/from-stock"): [
        call("/api/invoices/purchase/from-stock", perm.TRADE_READ,
             body={"sources": ["CGRK-202603-0002"], "date": "2026-03-30"})],
    ("POST", "/api/settlements"): [call("/api/settlements", perm.CASH_AUDIT, body="{settle_body}")],
    ("DELETE", "/api/settlements/{no}"): [call("/api/settlements/{settlement_no}", perm.CASH_AUDIT)],
    ("GET", "/api/stock/batches"): [call("/api/stock/batches", perm.STOCK_READ, product="P005", warehouse="WH01",
                                         qty="5")],
    # --- master data ----------------------------------------------------------------------
    ("GET", "/api/lookup/products"): [call("/api/lookup/products", perm.MASTERDATA_READ, q="P00")],
    ("GET", "/api/accounts"): [call("/api/accounts", perm.LEDGER_READ)],
    **{("GET", f"/api/{p}"): [call(f"/api/{p}", perm.MASTERDATA_READ)] for p in ("products", "partners",
                                                                                  "warehouses")},
    **{("GET", f"/api/{p}/{{code}}"): [call(f"/api/{p}/{c}", perm.MASTERDATA_READ)]
       for p, c in (("products", "P001"), ("partners", "C001"), ("warehouses", "WH01"))},
    ("POST", "/api/products"): [call("/api/products", perm.MASTERDATA_EDIT, body={
        "code": "PM01", "name": "matrix product", "unit": "pcs", "tax_rate": "0.13"})],
    ("POST", "/api/partners"): [call("/api/partners", perm.MASTERDATA_EDIT,
                                     body={"code": "CM01", "name": "matrix customer", "kind": "customer"})],
    ("POST", "/api/warehouses"): [call("/api/warehouses", perm.MASTERDATA_EDIT,
                                       body={"code": "WM01", "name": "matrix warehouse"})],
    ("PATCH", "/api/products/{code}"): [call("/api/products/PM00", perm.MASTERDATA_EDIT, body={"spec": "A"})],
    ("PATCH", "/api/partners/{code}"): [call("/api/partners/CM00", perm.MASTERDATA_EDIT, body={"name": "renamed"})],
    ("PATCH", "/api/warehouses/{code}"): [call("/api/warehouses/WM00", perm.MASTERDATA_EDIT,
                                               body={"name": "renamed"})],
    **{("POST", f"/api/{p}/{{code}}/{a}"): [call(f"/api/{p}/{c}/{a}", perm.MASTERDATA_EDIT)]
       for p, c in (("products", "PM00"), ("partners", "CM00"), ("warehouses", "WM00"))
       for a in ("deactivate", "activate")},
    # --- reports --------------------------------------------------------------------------
    ("GET", "/api/reports/trial-balance"): [call("/api/reports/trial-balance", perm.LEDGER_READ, period="2026-03")],
    ("GET", "/api/reports/general-ledger"): [call("/api/reports/general-ledger", perm.LEDGER_READ, account="1122")],
    ("GET", "/api/reports/detail-ledger"): [call("/api/reports/detail-ledger", perm.LEDGER_READ, account="1002",
                                                 date_from=D1, date_to=D2)],
    ("GET", "/api/reports/stock-summary"): [call("/api/reports/stock-summary", perm.STOCK_READ, date_from=D1,
                                                 date_to=D2)],
    ("GET", "/api/reports/stock-ledger"): [call("/api/reports/stock-ledger", perm.STOCK_READ, product="P001",
                                                date_from=D1, date_to=D2)],
    ("GET", "/api/reports/stock-balance"): [call("/api/reports/stock-balance", perm.STOCK_READ, date=D2)],
    ("GET", "/api/reports/stock-alerts"): [call("/api/reports/stock-alerts", perm.STOCK_READ, date=D2)],
    ("GET", "/api/reports/ar-aging"): [call("/api/reports/ar-aging", perm.TRADE_READ, date=D2)],
    ("GET", "/api/reports/ap-aging"): [call("/api/reports/ap-aging", perm.TRADE_READ, date=D2)],
    ("GET", "/api/reports/partner-statement"): [call("/api/reports/partner-statement", perm.TRADE_READ,
                                                     partner="C001", date_from=D1, date_to=D2)],
    ("GET", "/api/reports/open-orders"): [call("/api/reports/open-orders", perm.TRADE_READ, side="sales")],
    ("GET", "/api/reports/uninvoiced"): [call("/api/reports/uninvoiced", perm.TRADE_READ, side="purchase")],
    ("GET", "/api/reports/gross-profit"): [call("/api/reports/gross-profit", perm.TRADE_READ, date_from=D1,
                                                date_to=D2)],
    ("GET", "/api/reports/purchase-summary"): [call("/api/reports/purchase-summary", perm.TRADE_READ,
                                                    date_from=D1, date_to=D2)],
    ("GET", "/api/reports/balance-sheet"): [call("/api/reports/balance-sheet", perm.LEDGER_READ, period="2026-03")],
    ("GET", "/api/reports/income-statement"): [call("/api/reports/income-statement", perm.LEDGER_READ,
                                                    period="2026-03")],
    ("GET", "/api/reports/cash-flow"): [call("/api/reports/cash-flow", perm.LEDGER_READ, period="2026-03")],
    # --- close (after the documents: a close refused by the drafts above changes nothing) ---
    ("GET", "/api/periods"): [call("/api/periods", perm.LEDGER_READ)],
    ("GET", "/api/close/{period}/checklist"): [call("/api/close/2026-03/checklist", perm.PERIOD_CLOSE)],
    ("POST", "/api/close/{period}"): [call("/api/close/2026-03", perm.PERIOD_CLOSE,
                                           body={"acknowledge_warnings": True})],
    ("POST", "/api/cost-runs/{period}"): [call("/api/cost-runs/2026-03", perm.COST_RUN)],
    ("POST", "/api/close/{period}/reopen"): [call("/api/close/2026-02/reopen", perm.PERIOD_REOPEN,
                                                  body={"reason": "matrix"})],
    ("POST", "/api/periods/{period}/lock"): [call("/api/periods/2026-01/lock", perm.PERIOD_LOCK,
                                                  body={"reason": "matrix"})],
    # --- users ----------------------------------------------------------------------------
    ("GET", "/api/users"): [call("/api/users", perm.USER_MANAGE)],
    ("POST", "/api/users"): [call("/api/users", perm.USER_MANAGE,
                                  body={"username": "matrix_new", "password": "long enough 1", "roles": ["sales"]})],
    ("POST", "/api/users/{username}/roles"): [call("/api/users/matrix_target/roles", perm.USER_MANAGE,
                                                   body={"role": "auditor"})],
    ("DELETE", "/api/users/{username}/roles/{role}"): [call("/api/users/matrix_target/roles/auditor",
                                                            perm.USER_MANAGE)],
    ("POST", "/api/users/{username}/password"): [call("/api/users/matrix_target/password", perm.USER_MANAGE,
                                                      body={"password": "another one 2"})],
    ("POST", "/api/users/{username}/disable"): [call("/api/users/matrix_target/disable", perm.USER_MANAGE)],
    ("POST", "/api/users/{username}/enable"): [call("/api/users/matrix_target/enable", perm.USER_MANAGE)],
    ("GET", "/api/roles"): [call("/api/roles", perm.USER_MANAGE)],
}


def api_routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    """(method, path template) of every route under /api, included routers flattened."""
    def walk(routes: list[Any]) -> Iterator[tuple[str, str]]:
        for route in routes:
            contexts = getattr(route, "effective_route_contexts", None)
            if contexts is not None:  # FastAPI's included router
                for ctx in contexts():
                    yield from ((m, ctx.path) for m in (ctx.original_route.methods or ()))
            elif getattr(route, "routes", None) is not None and not hasattr(route, "methods"):
                yield from walk(route.routes)
            else:
                yield from ((m, route.path) for m in (getattr(route, "methods", None) or ()))
    for method, path in walk(list(app.routes)):
        if path.startswith("/api") and method != "HEAD":
            yield method, path


def allowed(username: str, c: Call) -> bool:
    if c.level:
        return True
    granted = BUILTIN_ROLES[ROLES_BY_USER[username]]
    return perm.ALL in granted or c.needs <= granted


def test_every_api_route_is_declared(app: FastAPI) -> None:
    routes = set(api_routes(app))
    assert len(routes) > 50
    missing = sorted(routes - set(MATRIX))
    assert not missing, f"API routes without a declared permission: {missing}"
    stale = sorted(set(MATRIX) - routes)
    assert not stale, f"declared routes that do not exist: {stale}"
    assert all(MATRIX[r] for r in routes)


@pytest.fixture(scope="module")
def ids(api: Callable[[str], TestClient]) -> dict[str, Any]:
    """Documents and records the calls act on, made by admin."""
    admin = api("admin")
    out: dict[str, Any] = {}

    def create(kind: str, record: dict[str, Any], audit: bool = False) -> dict[str, Any]:
        r = admin.post(f"/api/documents/{kind}", json=record, params={"audit": audit})
        assert r.status_code == 201, r.text
        return dict(r.json())
    for entity, kind in FAMILY.items():
        made = create(kind, RECORDS[kind])
        out[f"draft_{entity}"], out[f"no_{entity}"] = made["id"], made["no"]
        if entity != "voucher":
            out[f"delete_{entity}"] = create(kind, RECORDS[kind])["id"]
    out["audited_receipt"] = create("purchase_receipt", RECORDS["purchase_receipt"], audit=True)["id"]
    out["posted_voucher"] = create("voucher", RECORDS["voucher"], audit=True)["id"]
    out["void_voucher"] = create("voucher", RECORDS["voucher"])["id"]
    out["manual_voucher"] = create("voucher", RECORDS["voucher"], audit=True)["id"]
    invoice = create("sales_invoice", {**RECORDS["sales_invoice"], "partner": "C001"}, audit=True)
    receipt = create("receipt", {**RECORDS["receipt"], "partner": "C001", "amount": "50.00"}, audit=True)
    out["settle_body"] = {"side": "sales", "partner": "C001", "date": "2026-03-30",
                          "invoices": [{"invoice": invoice["no"], "amount": "10.00"}], "credits": [receipt["no"]]}
    settled = admin.post("/api/settlements", json={**out["settle_body"], "invoices": [
        {"invoice": invoice["no"], "amount": "5.00"}]})
    assert settled.status_code == 201, settled.text
    out["settlement_no"] = settled.json()["no"]
    for path, body in (("/api/products", {"code": "PM00", "name": "matrix", "unit": "pcs", "tax_rate": "0.13"}),
                       ("/api/partners", {"code": "CM00", "name": "matrix", "kind": "customer"}),
                       ("/api/warehouses", {"code": "WM00", "name": "matrix"}),
                       ("/api/users", {"username": "matrix_target", "password": "long enough 1", "roles": []})):
        r = admin.post(path, json=body)
        assert r.status_code == 201, r.text
    return out


def _fill(value: Any, ids: dict[str, Any]) -> Any:
    if isinstance(value, str) and value.startswith("{") and value.endswith("}") and value[1:-1] in ids:
        return copy.deepcopy(ids[value[1:-1]])
    if isinstance(value, str):
        return value.format(**ids) if "{" in value else value
    return value


def test_role_matrix(api: Callable[[str], TestClient], ids: dict[str, Any]) -> None:
    started = time.monotonic()
    problems: list[str] = []
    calls = 0
    for (method, _template), cases in MATRIX.items():
        for c in cases:
            url = _fill(c.url, ids)
            body = _fill(c.body, ids)
            order = sorted(USERS, key=lambda u: allowed(u, c))  # denied users first
            for username in order:
                r = api(username).request(method, url, params=c.params, json=body)
                calls += 1
                ok = allowed(username, c)
                if ok and (r.status_code in (401, 403) or r.status_code >= 500):
                    problems.append(f"{username} {method} {url}: allowed, got {r.status_code} {r.text[:150]}")
                if not ok and r.status_code != 403:
                    problems.append(f"{username} {method} {url}: denied, got {r.status_code} {r.text[:150]}")
                if not ok and r.status_code == 403:
                    assert r.json()["error"]["code"] == "permission.denied", r.text
    assert not problems, "\n".join(problems)
    assert calls > 400
    assert time.monotonic() - started < 90


def test_no_token_is_401(app: FastAPI) -> None:
    anonymous = TestClient(app, raise_server_exceptions=False)
    for method, path in api_routes(app):
        if MATRIX[(method, path)][0].level == PUBLIC:
            continue
        url = path.replace("{kind}", "purchase_receipt").replace("{doc_id}", "1").replace("{action}", "audit")
        url = url.replace("{side}", "sales")
        for name in ("no", "code", "username", "role", "period", "token_id"):
            url = url.replace("{" + name + "}", "2026-03" if name == "period" else "1")
        r = anonymous.request(method, url, json={})
        assert r.status_code == 401, (method, url, r.status_code, r.text[:200])
        assert r.headers.get("www-authenticate") == "Bearer"

