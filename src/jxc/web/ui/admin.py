"""User and role administration: users with their roles and state, creating users, granting
and revoking roles, resetting passwords, disabling; the role/permission matrix; every user's
API tokens with revoke. All of it needs user.manage (the services check it)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from jxc.domain import permissions as perm
from jxc.domain.errors import InvalidInput, JxcError, NotFound, RoleUnknown, UserExists
from jxc.i18n import describe, t
from jxc.services import auth, roles, users
from jxc.web import errors
from jxc.web.deps import DbDep, Viewer, ViewerDep
from jxc.web.templating import Flash, render

router = APIRouter(include_in_schema=False)


def _field_errors(exc: JxcError, lang: str) -> dict[str, str]:
    """The message next to the field that caused it ("" for the form as a whole)."""
    if isinstance(exc, InvalidInput):
        return {str(exc.params.get("field", "")): t(str(exc.params.get("reason", "input.invalid")), lang,
                                                    **exc.params)}
    if isinstance(exc, UserExists):
        return {"username": describe(exc, lang)}
    if isinstance(exc, RoleUnknown):
        return {"roles": describe(exc, lang)}
    return {"": describe(exc, lang)}


def _users_page(request: Request, db: Session, viewer: Viewer, status_code: int = 200, **ctx: Any) -> Response:
    ctx.setdefault("errors", {})
    ctx.setdefault("form", {"roles": []})
    ctx.setdefault("row_errors", {})
    listed = users.list_users(db, actor=viewer.actor)
    role_list = roles.list_roles(db, actor=viewer.actor)
    return render(request, "admin/users.html", viewer, status_code=status_code, users=listed,
                  roles=[r.code for r in role_list], **ctx)


@router.get("/admin")
def admin_home(viewer: ViewerDep) -> Response:
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/admin/users")
def users_page(request: Request, db: DbDep, viewer: ViewerDep) -> Response:
    return _users_page(request, db, viewer)


@router.post("/admin/users")
async def create_user(request: Request, db: DbDep, viewer: ViewerDep, username: Annotated[str, Form()] = "",
                      display_name: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
                      password2: Annotated[str, Form()] = "") -> Response:
    form = await request.form()
    chosen = [str(r) for r in form.getlist("roles")]
    values = {"username": username, "display_name": display_name, "roles": chosen}
    try:
        if password != password2:
            raise InvalidInput(field="password2", reason="auth.password_mismatch")
        made = users.add_user(db, username, password, roles=chosen, display_name=display_name.strip(),
                              actor=viewer.actor)
    except JxcError as exc:
        return _users_page(request, db, viewer, status_code=errors.status_of(exc),
                           errors=_field_errors(exc, viewer.lang), form=values, open_create=True)
    return _users_page(request, db, viewer, highlight=made.username,
                       flashes=[Flash("ok", t("web.admin.user_created", viewer.lang, username=made.username))])


@router.post("/admin/users/{username}/roles")
async def set_roles(username: str, request: Request, db: DbDep, viewer: ViewerDep) -> Response:
    """Grant the ticked roles and revoke the others."""
    form = await request.form()
    wanted = {str(r) for r in form.getlist("roles")}
    try:
        current = next((u for u in users.list_users(db, actor=viewer.actor) if u.username == username), None)
        if current is None:
            raise NotFound(entity="user", key=username)
        for role in sorted(wanted - set(current.roles)):
            users.grant_role(db, username, role, actor=viewer.actor)
        for role in sorted(set(current.roles) - wanted):
            users.revoke_role(db, username, role, actor=viewer.actor)
    except JxcError as exc:
        return _users_page(request, db, viewer, status_code=errors.status_of(exc),
                           row_errors={username: describe(exc, viewer.lang)})
    return _users_page(request, db, viewer, highlight=username,
                       flashes=[Flash("ok", t("web.admin.roles_saved", viewer.lang, username=username))])


@router.post("/admin/users/{username}/password")
def reset_password(username: str, request: Request, db: DbDep, viewer: ViewerDep,
                   password: Annotated[str, Form()] = "") -> Response:
    try:
        auth.reset_password(db, username, password, actor=viewer.actor)
    except JxcError as exc:
        return _users_page(request, db, viewer, status_code=errors.status_of(exc),
                           row_errors={username: describe(exc, viewer.lang)}, reset_open=username)
    return _users_page(request, db, viewer, highlight=username,
                       flashes=[Flash("ok", t("web.admin.password_reset", viewer.lang, username=username))])


@router.post("/admin/users/{username}/active")
def set_active(username: str, request: Request, db: DbDep, viewer: ViewerDep,
               active: Annotated[str, Form()] = "") -> Response:
    enable = active in ("1", "true", "on")
    try:
        auth.set_user_active(db, username, enable, actor=viewer.actor)
    except JxcError as exc:
        return _users_page(request, db, viewer, status_code=errors.status_of(exc),
                           row_errors={username: describe(exc, viewer.lang)})
    code = "web.admin.user_enabled" if enable else "web.admin.user_disabled"
    return _users_page(request, db, viewer, highlight=username,
                       flashes=[Flash("ok", t(code, viewer.lang, username=username))])


@router.get("/admin/roles")
def roles_page(request: Request, db: DbDep, viewer: ViewerDep) -> Response:
    listed = roles.list_roles(db, actor=viewer.actor)
    return render(request, "admin/roles.html", viewer, roles=listed, permissions=roles.all_permissions(),
                  everything=perm.ALL)


def _tokens_page(request: Request, db: Session, viewer: Viewer, status_code: int = 200, **ctx: Any) -> Response:
    listed = auth.list_api_tokens(db, actor=viewer.actor, everyone=True)
    return render(request, "admin/tokens.html", viewer, status_code=status_code, tokens=listed, **ctx)


@router.get("/admin/tokens")
def tokens_page(request: Request, db: DbDep, viewer: ViewerDep) -> Response:
    return _tokens_page(request, db, viewer)


@router.post("/admin/tokens/{token_id}/revoke")
def revoke_token(token_id: int, request: Request, db: DbDep, viewer: ViewerDep) -> Response:
    auth.list_api_tokens(db, actor=viewer.actor, everyone=True)  # user.manage, or refused here
    try:
        auth.revoke_api_token(db, token_id, actor=viewer.actor)
    except JxcError as exc:
        return _tokens_page(request, db, viewer, status_code=errors.status_of(exc),
                            flashes=[Flash("error", describe(exc, viewer.lang))])
    return _tokens_page(request, db, viewer, flashes=[Flash("ok", t("web.admin.token_revoked", viewer.lang))])
