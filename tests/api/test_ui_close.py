"""The close wizard pages: the checklist with links to offending documents, a failing check
blocking the close, the close in a background job polled by the page, reverse close and lock."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from jxc.db.session import session_factory
from jxc.domain.permissions import Actor
from jxc.services import documents, users

Web = Callable[[str], TestClient]


def _service(app: FastAPI, username: str = "admin") -> tuple[Session, Actor]:
    db = session_factory(app.state.engine)()
    actor = users.load_actor(db, username)
    db.rollback()
    return db, actor


def _run_close(client: TestClient, period: str, acknowledge: bool = True) -> str:
    data = {"acknowledge": "1"} if acknowledge else {}
    r = client.post(f"/close/{period}/run", data=data)
    assert r.status_code == 303, r.text
    return str(r.headers["location"])


def _poll(client: TestClient, url: str, timeout: float = 180) -> str:
    """Poll the job like the page does (HTMX every 500 ms) until it is no longer running."""
    deadline = time.monotonic() + timeout
    seen_running = False
    while time.monotonic() < deadline:
        r = client.get(url, headers={"HX-Request": "true"})
        assert r.status_code == 200, r.text
        state = re.search(r'data-state="(\w+)"', r.text)
        assert state, r.text
        if state.group(1) != "running":
            return str(r.text)
        seen_running = True
        assert 'hx-trigger="every 500ms"' in r.text and 'class="progress"' in r.text
        time.sleep(0.2)
    raise AssertionError(f"the close did not finish (running seen: {seen_running})")


def test_overview_shows_periods_and_next_to_close(web: Web) -> None:
    r = web("admin").get("/close")
    assert r.status_code == 200
    assert 'class="steps' in r.text
    assert 'href="/close/2026-03"' in r.text  # the next period to close
    assert "2026-02" in r.text and "2026-01" in r.text
    assert 'id="reopen-form"' in r.text and 'action="/close/2026-02/reopen"' in r.text


def test_checklist_lists_checks_with_links(web: Web) -> None:
    r = web("admin").get("/close/2026-03")
    assert r.status_code == 200
    checks = re.findall(r'<li class="(pass|warn|fail)" data-check="(\w+)"', r.text)
    assert len(checks) == 13
    assert ("warn", "uninvoiced_deliveries") in checks
    assert re.search(r'<ul class="offenders">\s*<li><a href="/docs/by-entity/stock_doc/\d+">XSCK-202603-0004</a>',
                     r.text)
    assert "我已知晓以上警告" in r.text  # warnings must be acknowledged
    partial = web("admin").get("/close/2026-03", headers={"HX-Request": "true"})  # 重新检查
    assert partial.status_code == 200 and partial.text.lstrip().startswith('<div id="close-panel"')


def test_manager_sees_reopen_but_not_the_checklist(web: Web) -> None:
    assert web("manager").get("/close").status_code == 200
    assert web("manager").get("/close/2026-03").status_code == 403
    assert web("sales").get("/close").status_code == 403


def test_failing_check_blocks_then_close_succeeds(app: FastAPI, web: Web) -> None:
    admin = web("admin")
    db, actor = _service(app)
    try:
        made = documents.create_document(db, "other_in", {
            "date": "2026-03-20", "warehouse": "WH01", "reason": "test",
            "lines": [{"product": "P001", "qty": "1", "price": "10"}]}, actor=actor)
        doc_id, no = made.created.id, made.created.no
    finally:
        db.close()
    page = admin.get("/close/2026-03").text
    assert 'class="fail" data-check="unaudited_documents"' in page
    assert f'<a href="/docs/by-entity/stock_doc/{doc_id}">{no}</a>' in page
    assert re.search(r'<button class="btn primary" type="submit" disabled', page)

    refused = _poll(admin, _run_close(admin, "2026-03"))  # the service refuses: nothing is changed
    assert 'data-state="failed"' in refused and "未能结账" in refused and "未审核单据" in refused
    assert no in refused and 'class="checklist"' in refused
    assert "badge open" in admin.get("/close").text.split('id="periods"')[1].split("</tr>")[1]

    db, actor = _service(app)
    try:
        documents.document_action(db, "other_in", doc_id, "delete", actor=actor)
    finally:
        db.close()
    page = admin.get("/close/2026-03").text
    assert 'class="fail"' not in page

    unacknowledged = _poll(admin, _run_close(admin, "2026-03", acknowledge=False))
    assert 'data-state="failed"' in unacknowledged and "请确认后再结账" in unacknowledged

    done = _poll(admin, _run_close(admin, "2026-03"))
    assert 'data-state="done"' in done and "2026-03 已结账" in done
    assert 'class="steps close-steps"' in done and done.count('class="step done"') == 3
    full = admin.get("/close").text
    assert 'action="/close/2026-03/reopen"' in full  # now the latest closed period


def test_close_not_next_period_is_refused_with_message(web: Web) -> None:
    r = web("admin").post("/close/2026-05/run", data={"acknowledge": "1"})
    assert r.status_code == 409
    assert "只能结账最早的未结账期间" in r.text


def test_reopen_refused_for_accountant(web: Web) -> None:
    r = web("accountant").post("/close/2026-03/reopen", data={"reason": "x", "confirm": "1"})
    assert r.status_code == 403


def test_reopen_needs_reason_and_confirmation(web: Web) -> None:
    r = web("manager").post("/close/2026-03/reopen", data={"reason": "  ", "confirm": "1"})
    assert r.status_code == 422
    assert re.search(r'<div class="field invalid">\s*<label for="f-reason">', r.text)
    assert 'id="f-reason-error">必须填写。' in r.text
    r = web("manager").post("/close/2026-03/reopen", data={"reason": "补录费用"})
    assert r.status_code == 422 and "请勾选确认后再提交" in r.text


def test_reopen_with_reason(web: Web) -> None:
    r = web("manager").post("/close/2026-03/reopen", data={"reason": "发现漏记费用", "confirm": "1"})
    assert r.status_code == 200, r.text
    assert "已反结账 2026-03" in r.text
    assert 'href="/close/2026-03"' in web("admin").get("/close").text  # open again, next to close
    again = web("manager").post("/close/2026-03/reopen", data={"reason": "again", "confirm": "1"})
    assert again.status_code == 409 and "2026-03" in again.text


def test_lock_with_reason(web: Web) -> None:
    r = web("manager").post("/close/lock", data={"period": "2026-01", "reason": ""})
    assert r.status_code == 422 and "必须填写" in r.text
    r = web("manager").post("/close/lock", data={"period": "2026-01", "reason": "已报税"})
    assert r.status_code == 200 and "已锁定：2026-01" in r.text
    assert web("accountant").post("/close/lock", data={"period": "2026-02", "reason": "x"}).status_code == 403
