"""Users and roles over the API (user.manage): list, create, grant and revoke roles, reset a
password, disable and enable; the roles with their permissions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from jxc.services import auth, roles, users
from jxc.web.deps import DbDep, ViewerDep
from jxc.web.jsonout import plain

router = APIRouter(tags=["users"])


class UserCreate(BaseModel):
    username: Annotated[str, Field(min_length=1, max_length=60)]
    password: str
    display_name: Annotated[str, Field(max_length=100)] = ""
    roles: list[str] = []


class RoleIn(BaseModel):
    role: str


class PasswordReset(BaseModel):
    password: str


def _user(db: DbDep, viewer: ViewerDep, username: str) -> Any:
    found = [u for u in users.list_users(db, actor=viewer.actor) if u.username == username]
    return plain(found[0]) if found else None


@router.get("/users", summary="List users")
def list_users(db: DbDep, viewer: ViewerDep) -> dict[str, Any]:
    """Every user with their roles and whether they may sign in."""
    return {"items": plain(users.list_users(db, actor=viewer.actor))}


@router.post("/users", status_code=201, summary="Create a user")
def create_user(body: UserCreate, response: Response, db: DbDep, viewer: ViewerDep) -> Any:
    info = users.add_user(db, body.username, body.password, roles=body.roles, display_name=body.display_name,
                          actor=viewer.actor)
    response.headers["Location"] = f"/api/users/{info.username}"
    return plain(info)


@router.post("/users/{username}/roles", summary="Grant a role")
def grant_role(username: str, body: RoleIn, db: DbDep, viewer: ViewerDep) -> Any:
    users.grant_role(db, username, body.role, actor=viewer.actor)
    return _user(db, viewer, username)


@router.delete("/users/{username}/roles/{role}", summary="Revoke a role")
def revoke_role(username: str, role: str, db: DbDep, viewer: ViewerDep) -> Any:
    users.revoke_role(db, username, role, actor=viewer.actor)
    return _user(db, viewer, username)


@router.post("/users/{username}/password", status_code=204, summary="Reset a user's password")
def reset_password(username: str, body: PasswordReset, db: DbDep, viewer: ViewerDep) -> None:
    """The user's sessions end; their API tokens keep working."""
    auth.reset_password(db, username, body.password, actor=viewer.actor)


@router.post("/users/{username}/disable", summary="Disable a user")
def disable_user(username: str, db: DbDep, viewer: ViewerDep) -> Any:
    """The user can no longer sign in; their sessions and API tokens stop working."""
    auth.set_user_active(db, username, False, actor=viewer.actor)
    return _user(db, viewer, username)


@router.post("/users/{username}/enable", summary="Enable a user again")
def enable_user(username: str, db: DbDep, viewer: ViewerDep) -> Any:
    auth.set_user_active(db, username, True, actor=viewer.actor)
    return _user(db, viewer, username)


@router.get("/roles", summary="Roles and their permissions")
def list_roles(db: DbDep, viewer: ViewerDep) -> dict[str, Any]:
    """Every role with the permissions it grants (`*`: every permission)."""
    found = roles.list_roles(db, actor=viewer.actor)
    return {"items": [{**plain(r), "permissions": sorted(r.permissions)} for r in found]}
