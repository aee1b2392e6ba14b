"""The close wizard: the period list, each period's checklist with links to the offending
documents, the close itself in a background thread with a progress bar the page polls, the
reverse close (反结账) with its reason, and locking closed periods."""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from jxc.domain import permissions as perm
from jxc.domain.closing import CheckStatus
from jxc.domain.errors import InvalidInput, JxcError, NotFound, PermissionDenied
from jxc.domain.permissions import Actor
from jxc.i18n import describe, t
from jxc.services import closelinks, closing
from jxc.services.closelinks import OffenderLink
from jxc.web import errors
from jxc.web.deps import DbDep, Viewer, ViewerDep
from jxc.web.templating import Flash, entity_url, fmt_money, render

router = APIRouter(include_in_schema=False)
log = logging.getLogger("jxc.web")
_REGISTRY_LOCK = threading.Lock()
_AMOUNT = re.compile(r"^-?\d+\.\d{2}$")
KEEP_JOBS = 20  # finished jobs kept for their result pages


# --- the close job ------------------------------------------------------------------------

@dataclass
class CloseJob:
    """One close running (or run) in a background thread; the page polls it."""

    id: str
    period: str
    username: str
    acknowledge: bool
    step: str = "start"
    done: int = 0
    total: int = len(closing.STEPS)
    state: str = "running"  # running | done | failed
    result: closing.CloseResult | None = None
    error: JxcError | None = None
    error_id: str | None = None
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    def percent(self) -> int:
        if self.state != "running":
            return 100
        return min(95, int(100 * self.done / self.total) + 3)


@dataclass
class CloseJobs:
    lock: threading.Lock = field(default_factory=threading.Lock)
    jobs: dict[str, CloseJob] = field(default_factory=dict)
    running: str | None = None


def _jobs(app: FastAPI) -> CloseJobs:
    with _REGISTRY_LOCK:
        registry = getattr(app.state, "close_jobs", None)
        if registry is None:
            registry = CloseJobs()
            app.state.close_jobs = registry
        return registry


def _run(app: FastAPI, job: CloseJob, actor: Actor) -> None:
    registry = _jobs(app)
    db: Session = app.state.sessions()

    def progress(code: str) -> None:
        job.step = code
        job.done = closing.STEPS.index(code) if code in closing.STEPS else job.done

    try:
        job.result = closing.close_period(db, job.period, actor=actor, acknowledge_warnings=job.acknowledge,
                                          progress=progress)
        job.done, job.state = job.total, "done"
    except JxcError as exc:
        job.error, job.state = exc, "failed"
    except Exception as exc:  # the page shows an apology with the id in the log
        job.error_id = errors.new_error_id()
        errors.log_unexpected(job.error_id, "CLOSE", f"/close/{job.period}", exc)
        job.state = "failed"
    finally:
        db.close()
        job.finished = time.monotonic()
        with registry.lock:
            if registry.running == job.id:
                registry.running = None


def start_close(app: FastAPI, period: str, actor: Actor, acknowledge: bool) -> CloseJob:
    """Start closing `period` in a background thread, or return the close already running
    (one per application at a time)."""
    registry = _jobs(app)
    with registry.lock:
        if registry.running is not None:
            return registry.jobs[registry.running]
        job = CloseJob(secrets.token_urlsafe(9), period, actor.username, acknowledge)
        registry.jobs[job.id] = job
        registry.running = job.id
        for old in list(registry.jobs)[:-KEEP_JOBS]:
            if old != job.id:
                del registry.jobs[old]
    threading.Thread(target=_run, args=(app, job, actor), name=f"close-{period}", daemon=True).start()
    return job


# --- views --------------------------------------------------------------------------------

def _require_any(viewer: Viewer, *permissions: str) -> None:
    if not any(viewer.can(p) for p in permissions):
        raise PermissionDenied(user=viewer.actor.username, permission=permissions[0])


def _href(link: OffenderLink) -> str | None:
    if link.entity and link.id is not None:
        return entity_url(link.entity, link.id)
    if link.product:
        return f"/reports/stock-ledger?product={link.product}" + (
            f"&warehouse={link.warehouse}" if link.warehouse else "")
    if link.partner:
        return f"/reports/statement?partner={link.partner}"
    return None


def _readable(value: object) -> object:
    """An amount the checklist gives as text (31540.00) with thousands separators."""
    if isinstance(value, str) and _AMOUNT.match(value):
        return fmt_money(Decimal(value))
    return value


def _checklist_view(db: Session, period: str, viewer: Viewer) -> dict[str, Any]:
    checklist = closing.close_checklist(db, period, actor=viewer.actor)
    links = closelinks.offender_links(db, period, checklist.items, actor=viewer.actor)
    items: list[dict[str, Any]] = []
    for item in checklist.items:
        offenders = [{"text": link.text, "href": _href(link)} for link in links.get(item.code, [])]
        items.append({"code": item.code, "status": item.status.value, "count": item.count,
                      "params": {k: _readable(v) for k, v in item.params.items()},
                      "offenders": offenders, "more": item.count - len(offenders)})
    order = {CheckStatus.FAIL.value: 0, CheckStatus.WARN.value: 1, CheckStatus.PASS.value: 2}
    items.sort(key=lambda i: order[str(i["status"])])  # problems first, each group in the service's order
    return {"checklist": checklist, "items": items, "failures": len(checklist.failures),
            "warnings": len(checklist.warnings)}


def _periods(db: Session, viewer: Viewer) -> dict[str, Any]:
    periods = closing.period_closes(db, actor=viewer.actor)
    next_open = next((p for p in periods if p.status == "open"), None)
    closed = [p for p in periods if p.status == "closed"]
    locked = [p for p in periods if p.status == "locked"]
    latest = closed[-1] if closed else None
    # Only periods up to the next one to close (and a few after it) are of interest.
    shown = [p for p in periods if p.status != "open" or p is next_open]
    return {"periods": shown, "next_open": next_open, "latest_closed": latest, "closed": closed,
            "locked_to": locked[-1].label if locked else None, "future": len(periods) - len(shown)}


def _overview(request: Request, db: Session, viewer: Viewer, status_code: int = 200, **ctx: Any) -> Response:
    ctx.setdefault("errors", {})
    ctx.setdefault("form", {})
    return render(request, "close/index.html", viewer, status_code=status_code, **_periods(db, viewer), **ctx)


@router.get("/close")
def close_index(request: Request, db: DbDep, viewer: ViewerDep) -> Response:
    _require_any(viewer, perm.PERIOD_CLOSE, perm.PERIOD_REOPEN, perm.PERIOD_LOCK)
    return _overview(request, db, viewer)


def _checklist_page(request: Request, db: Session, viewer: Viewer, period: str, status_code: int = 200,
                    **ctx: Any) -> Response:
    view = _checklist_view(db, period, viewer)
    info = _periods(db, viewer)
    template = "close/_panel.html" if request.headers.get("hx-request") else "close/checklist.html"
    return render(request, template, viewer, status_code=status_code, period=period, **info, **view,
                  running=_running_job(request.app), **ctx)


def _running_job(app: FastAPI) -> CloseJob | None:
    registry = _jobs(app)
    return registry.jobs.get(registry.running) if registry.running else None


@router.get("/close/{period}")
def close_checklist(period: str, request: Request, db: DbDep, viewer: ViewerDep) -> Response:
    return _checklist_page(request, db, viewer, period)


@router.post("/close/{period}/run")
def close_run(period: str, request: Request, db: DbDep, viewer: ViewerDep,
              acknowledge: Annotated[str, Form()] = "") -> Response:
    if not viewer.can(perm.PERIOD_CLOSE):
        raise PermissionDenied(user=viewer.actor.username, permission=perm.PERIOD_CLOSE)
    info = _periods(db, viewer)
    if info["next_open"] is None or info["next_open"].label != period:
        # say why at once (not the next period, closed, locked, unknown): the service's refusal
        try:
            closing.close_period(db, period, actor=viewer.actor, acknowledge_warnings=False)
        except JxcError as exc:
            return _overview(request, db, viewer, status_code=errors.status_of(exc),
                             flashes=[Flash("error", describe(exc, viewer.lang))])
    job = start_close(request.app, period, viewer.actor, acknowledge=acknowledge in ("1", "on", "true"))
    return RedirectResponse(f"/close/{job.period}/job/{job.id}", status_code=303)


@router.get("/close/{period}/job/{job_id}")
def close_job(period: str, job_id: str, request: Request, db: DbDep, viewer: ViewerDep) -> Response:
    if not viewer.can(perm.PERIOD_CLOSE):
        raise PermissionDenied(user=viewer.actor.username, permission=perm.PERIOD_CLOSE)
    job = _jobs(request.app).jobs.get(job_id)
    if job is None or job.period != period:
        raise NotFound(entity="period", key=f"{period} {job_id}")
    ctx: dict[str, Any] = {"job": job, "period": period, "error": None, "items": None}
    if job.state == "failed":
        ctx["error"] = describe(job.error, viewer.lang) if job.error else t("web.error.apology", viewer.lang)
        if job.error is not None:
            ctx.update(_checklist_view(db, period, viewer))
    template = "close/_job.html" if request.headers.get("hx-request") else "close/job.html"
    return render(request, template, viewer, **ctx)


def _form_errors(exc: JxcError, lang: str, default_field: str) -> dict[str, str]:
    if isinstance(exc, InvalidInput):
        name = str(exc.params.get("field", "")) or default_field
        return {name: t(str(exc.params.get("reason", "input.invalid")), lang, **exc.params)}
    return {"": describe(exc, lang)}


@router.post("/close/{period}/reopen")
def close_reopen(period: str, request: Request, db: DbDep, viewer: ViewerDep,
                 reason: Annotated[str, Form()] = "", confirm: Annotated[str, Form()] = "") -> Response:
    _require_any(viewer, perm.PERIOD_REOPEN)
    form = {"reason": reason, "period": period}
    if not confirm:
        errs = {"confirm": t("web.close.confirm_required", viewer.lang)}
        if not reason.strip():
            errs["reason"] = t("input.required", viewer.lang)
        return _overview(request, db, viewer, status_code=422, errors=errs, form=form, open_form="reopen")
    try:
        done = closing.reopen_period(db, period, actor=viewer.actor, reason=reason)
    except JxcError as exc:
        return _overview(request, db, viewer, status_code=errors.status_of(exc),
                         errors=_form_errors(exc, viewer.lang, "reason"), form=form, open_form="reopen")
    text = t("web.close.reopened", viewer.lang, period=done.period, vouchers=", ".join(done.removed_vouchers) or "-")
    if done.removed_year:
        text += " " + t("web.close.reopened_year", viewer.lang, year=done.removed_year)
    return _overview(request, db, viewer, reopened=done, flashes=[Flash("ok", text)])


@router.post("/close/lock")
def close_lock(request: Request, db: DbDep, viewer: ViewerDep, period: Annotated[str, Form()] = "",
               reason: Annotated[str, Form()] = "") -> Response:
    _require_any(viewer, perm.PERIOD_LOCK)
    form = {"reason": reason, "period": period}
    try:
        if not period:
            raise InvalidInput(field="period", reason="input.required")
        locked = closing.lock_period(db, period, actor=viewer.actor, reason=reason)
    except JxcError as exc:
        return _overview(request, db, viewer, status_code=errors.status_of(exc),
                         errors={("lock_" + k if k else k): v for k, v in
                                 _form_errors(exc, viewer.lang, "reason").items()},
                         form=form, open_form="lock")
    return _overview(request, db, viewer, flashes=[Flash("ok", t("web.close.locked", viewer.lang,
                                                                    periods=", ".join(locked)))])
