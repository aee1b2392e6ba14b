"""Month-end close over real HTTP: periods, the checklist naming the offending documents, close
refused while a check fails, close March, reverse close with its reason, lock, costing run."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select

from jxc.db.models import AuditLog
from tests.api.samples import RECORDS

Api = Callable[[str], TestClient]


def statuses(client: TestClient) -> dict[str, str]:
    r = client.get("/api/periods")
    assert r.status_code == 200, r.text
    return {p["label"]: p["status"] for p in r.json()["items"]}


def test_periods(api: Api) -> None:
    found = statuses(api("viewer"))
    assert found["2026-01"] == "closed" and found["2026-02"] == "closed" and found["2026-03"] == "open"
    jan = next(p for p in api("viewer").get("/api/periods").json()["items"] if p["label"] == "2026-01")
    assert jan["closed_by"] == "admin" and len(jan["seal"]) == 64 and isinstance(jan["profit"], str)


def test_cost_run(api: Api) -> None:
    r = api("accountant").post("/api/cost-runs/2026-03")
    assert r.status_code == 200, r.text
    assert r.json()["period"] == "2026-03" and isinstance(r.json()["cost_of_sales"], str)
    assert api("accountant").post("/api/cost-runs/2026-01").status_code == 409  # closed
    assert api("warehouse").post("/api/cost-runs/2026-03").status_code == 403


def test_checklist_close_reopen_lock(api: Api, app: object) -> None:
    accountant, manager = api("accountant"), api("manager")
    # A draft in March fails the checklist, which names it.
    draft = api("warehouse").post("/api/documents/transfer", json=RECORDS["transfer"]).json()
    cl = accountant.get("/api/close/2026-03/checklist")
    assert cl.status_code == 200, cl.text
    body = cl.json()
    assert body["period"] == "2026-03" and body["ok"] is False and body["failures"]
    failing = [i for i in body["items"] if i["status"] == "fail"]
    assert any(draft["no"] in i["items"] for i in failing), failing
    assert all({"code", "status", "count", "items", "params"} <= set(i) for i in body["items"])

    refused = accountant.post("/api/close/2026-03", json={"acknowledge_warnings": True})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "close.blocked"
    assert statuses(accountant)["2026-03"] == "open"

    assert api("warehouse").delete(f"/api/documents/transfer/{draft['id']}").status_code == 204
    cl = accountant.get("/api/close/2026-03/checklist").json()
    assert cl["ok"] is True, cl["failures"]
    assert api("manager").get("/api/close/2026-03/checklist").status_code == 403  # checking is for closers
    assert accountant.post("/api/close/2026-05", json={}).status_code == 409  # not the next one

    if cl["warnings"]:
        unacknowledged = accountant.post("/api/close/2026-03", json={"acknowledge_warnings": False})
        assert unacknowledged.status_code == 409
        assert unacknowledged.json()["error"]["code"] == "close.warnings"
    assert manager.post("/api/close/2026-03", json={"acknowledge_warnings": True}).status_code == 403
    closed = accountant.post("/api/close/2026-03", json={"acknowledge_warnings": True})
    assert closed.status_code == 200, closed.text
    done = closed.json()
    assert done["period"] == "2026-03" and len(done["seal"]) == 64 and done["checklist"]["ok"] is True
    assert statuses(accountant)["2026-03"] == "closed"
    late = api("warehouse").post("/api/documents/transfer", json=RECORDS["transfer"])
    assert late.status_code == 409 and late.json()["error"]["code"] == "period.closed"
    again = accountant.post("/api/close/2026-03", json={"acknowledge_warnings": True})
    assert again.status_code == 409

    # Reverse close: the manager's, with a reason.
    assert accountant.post("/api/close/2026-03/reopen", json={"reason": "late invoice"}).status_code == 403
    no_reason = manager.post("/api/close/2026-03/reopen", json={"reason": "  "})
    assert no_reason.status_code == 422 and no_reason.json()["error"]["field"] == "reason"
    assert manager.post("/api/close/2026-02/reopen", json={"reason": "x"}).status_code == 409  # not the latest
    reopened = manager.post("/api/close/2026-03/reopen", json={"reason": "a supplier invoice came late"})
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["period"] == "2026-03"
    assert set(reopened.json()["removed_vouchers"]) <= set(done["vouchers"])
    assert statuses(manager)["2026-03"] == "open"
    with app.state.sessions() as db:  # type: ignore[attr-defined]
        detail = db.execute(select(AuditLog.detail).where(AuditLog.action == "period.reopen")
                            .order_by(AuditLog.seq.desc()).limit(1)).scalar_one()
    assert "a supplier invoice came late" in detail
    assert api("warehouse").post("/api/documents/transfer", json=RECORDS["transfer"]).status_code == 201

    # Lock: a manager's (period.lock), for good.
    lock = {"reason": "2026 Q1 VAT return filed"}
    assert accountant.post("/api/periods/2026-02/lock", json=lock).status_code == 403
    assert manager.post("/api/periods/2026-03/lock", json=lock).status_code == 409  # open
    assert manager.post("/api/periods/2026-02/lock", json={"reason": ""}).status_code == 422
    locked = manager.post("/api/periods/2026-02/lock", json=lock)
    assert locked.status_code == 200, locked.text
    assert locked.json()["locked"] == ["2026-01", "2026-02"]
    assert statuses(manager)["2026-02"] == "locked"
    cannot = manager.post("/api/close/2026-02/reopen", json={"reason": "try"})
    assert cannot.status_code == 409 and cannot.json()["error"]["code"] == "period.locked"
