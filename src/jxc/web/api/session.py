"""Who am I, API tokens and password change for API clients."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from jxc.services import auth
from jxc.web.deps import DbDep, ViewerDep
from jxc.web.jsonout import plain

router = APIRouter(tags=["session"])


@router.get("/me")
def me(viewer: ViewerDep) -> dict[str, Any]:
    """The signed-in user and what they may do."""
    return {"username": viewer.actor.username, "display_name": viewer.display_name, "language": viewer.lang,
            "permissions": sorted(viewer.actor.permissions)}


class TokenIn(BaseModel):
    name: str = Field(max_length=100)


@router.get("/tokens")
def list_tokens(db: DbDep, viewer: ViewerDep) -> dict[str, Any]:
    return {"items": plain(auth.list_api_tokens(db, actor=viewer.actor))}


@router.post("/tokens", status_code=201)
def create_token(body: TokenIn, db: DbDep, viewer: ViewerDep) -> dict[str, Any]:
    """A new API token; `secret` is shown this once."""
    new = auth.create_api_token(db, body.name, actor=viewer.actor)
    return {**plain(new.info), "secret": new.secret}


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: int, db: DbDep, viewer: ViewerDep) -> None:
    auth.revoke_api_token(db, token_id, actor=viewer.actor)


class PasswordIn(BaseModel):
    old_password: str
    new_password: str


@router.post("/password", status_code=204)
def change_password(body: PasswordIn, request: Request, db: DbDep, viewer: ViewerDep) -> None:
    auth.change_password(db, body.old_password, body.new_password, actor=viewer.actor,
                         keep_session=viewer.session_token or None)
