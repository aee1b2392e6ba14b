"""Month-end close over the API: the periods and their status, the close checklist, close,
reverse close (反结账) with its reason, locking closed periods, and the monthly-average costing run."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from jxc.services import closing, stock
from jxc.services.closing import Checklist
from jxc.web.deps import DbDep, ViewerDep
from jxc.web.jsonout import plain

router = APIRouter(tags=["close"])

PeriodPath = Annotated[str, Path(description="YYYY-MM", examples=["2026-03"])]


def _checklist(cl: Checklist) -> dict[str, Any]:
    return {**plain(cl), "ok": cl.ok, "failures": list(cl.failures), "warnings": list(cl.warnings)}


class CloseIn(BaseModel):
    acknowledge_warnings: bool = Field(False, description="Close despite the checklist's warnings")


class ReasonIn(BaseModel):
    reason: str = Field(description="Recorded in the audit log")


@router.get("/periods", summary="Periods and their status")
def list_periods(db: DbDep, viewer: ViewerDep) -> dict[str, Any]:
    """Every period (open, closed, locked); for closed ones who closed it, when, its seal and profit."""
    return {"items": plain(closing.period_closes(db, actor=viewer.actor))}


@router.get("/close/{period}/checklist", summary="Close checklist")
def close_checklist(period: PeriodPath, db: DbDep, viewer: ViewerDep) -> dict[str, Any]:
    """Each check with its status (pass, warn, fail) and the documents it names; changes nothing."""
    return _checklist(closing.close_checklist(db, period, actor=viewer.actor))


@router.post("/close/{period}", summary="Close a period")
def close_period(period: PeriodPath, body: CloseIn, db: DbDep, viewer: ViewerDep) -> dict[str, Any]:
    """The earliest open period: costing run, checklist, carry-forward, snapshot, seal, in one
    transaction. Refused (409) while a check fails or warnings are not acknowledged."""
    done = closing.close_period(db, period, actor=viewer.actor, acknowledge_warnings=body.acknowledge_warnings)
    return {**plain(done), "checklist": _checklist(done.checklist)}


@router.post("/close/{period}/reopen", summary="Reverse close")
def reopen_period(period: PeriodPath, body: ReasonIn, db: DbDep, viewer: ViewerDep) -> Any:
    """Reopen the latest closed period, removing what its close generated; the reason is recorded."""
    return plain(closing.reopen_period(db, period, actor=viewer.actor, reason=body.reason))


@router.post("/periods/{period}/lock", summary="Lock closed periods for good")
def lock_period(period: PeriodPath, body: ReasonIn, db: DbDep, viewer: ViewerDep) -> dict[str, Any]:
    """This closed period and the closed ones before it can no longer be reopened."""
    return {"locked": closing.lock_period(db, period, actor=viewer.actor, reason=body.reason)}


@router.post("/cost-runs/{period}", summary="Monthly weighted average costing run")
def cost_run(period: PeriodPath, db: DbDep, viewer: ViewerDep) -> Any:
    """Cost the period's issues of monthly-average products; running it again changes nothing."""
    return plain(stock.cost_run(db, period, actor=viewer.actor))
