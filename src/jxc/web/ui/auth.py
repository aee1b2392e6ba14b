"""Sign in and out, the language switch, and the user's own account page (password, API tokens)."""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import urlparse

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from jxc.domain.errors import AuthenticationFailed, InvalidInput, JxcError, LoginThrottled
from jxc.i18n import describe, normalise, t
from jxc.services import auth
from jxc.web.deps import LANG_COOKIE, SESSION_COOKIE, DbDep, ViewerDep, request_language
from jxc.web.templating import Flash, render

router = APIRouter(include_in_schema=False)
LOGIN_CSRF_COOKIE = "jxc_login_csrf"  # double-submit token: a login form posted from elsewhere is refused


def _safe_next(target: str | None) -> str:
    """Only a path on this site: /login?next=https://evil.example must not send anyone away."""
    if not target or not target.startswith("/") or target.startswith("//") or urlparse(target).netloc:
        return "/"
    return target


def _client(request: Request) -> str:
    return request.client.host if request.client else ""


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    request.cookies[LOGIN_CSRF_COOKIE] = token  # so the page renders the same token it sets
    response = render(request, "login.html", None, next=_safe_next(next), username="", error=None)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict")
    return response


@router.post("/login")
def login(request: Request, db: DbDep, username: Annotated[str, Form()] = "",
          password: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form()] = "",
          next: Annotated[str, Form()] = "/") -> Response:
    lang = request_language(request)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not secrets.compare_digest(expected, csrf_token):
        return render(request, "login.html", None, status_code=403, next=_safe_next(next), username=username,
                      error=t("auth.csrf", lang))
    try:
        signed = auth.sign_in(db, username, password, client=_client(request))
    except (AuthenticationFailed, LoginThrottled) as exc:
        status = 429 if isinstance(exc, LoginThrottled) else 401
        return render(request, "login.html", None, status_code=status, next=_safe_next(next), username=username,
                      error=describe(exc, lang))
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, signed.token, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", max_age=int(auth.SESSION_LIFETIME.total_seconds()))
    if signed.language and not request.cookies.get(LANG_COOKIE):
        response.set_cookie(LANG_COOKIE, signed.language, samesite="lax", max_age=365 * 86400)
    return response


@router.post("/logout")
def logout(request: Request, db: DbDep, viewer: ViewerDep) -> Response:
    auth.sign_out(db, viewer.session_token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/lang/{lang}")
def switch_language(lang: str, request: Request) -> Response:
    back = _safe_next(urlparse(request.headers.get("referer", "/")).path or "/")
    response = RedirectResponse(back, status_code=303)
    response.set_cookie(LANG_COOKIE, normalise(lang), samesite="lax", max_age=365 * 86400)
    return response


@router.get("/account")
def account_page(request: Request, db: DbDep, viewer: ViewerDep) -> Response:
    return render(request, "account.html", viewer, tokens=auth.list_api_tokens(db, actor=viewer.actor),
                  new_secret=None, errors={})


@router.post("/account/password")
def account_password(request: Request, db: DbDep, viewer: ViewerDep, old_password: Annotated[str, Form()] = "",
                     new_password: Annotated[str, Form()] = "", new_password2: Annotated[str, Form()] = "") -> Response:
    errors: dict[str, str] = {}
    try:
        if new_password != new_password2:
            raise InvalidInput(field="new_password2", reason="auth.password_mismatch")
        auth.change_password(db, old_password, new_password, actor=viewer.actor, keep_session=viewer.session_token)
    except InvalidInput as exc:
        errors[str(exc.params.get("field", ""))] = t(str(exc.params.get("reason")), viewer.lang, **exc.params)
    except JxcError as exc:
        errors[""] = describe(exc, viewer.lang)
    flashes = [] if errors else [Flash("ok", t("web.account.password_changed", viewer.lang))]
    return render(request, "account.html", viewer, status_code=422 if errors else 200, errors=errors,
                  tokens=auth.list_api_tokens(db, actor=viewer.actor), new_secret=None, flashes=flashes)


@router.post("/account/tokens")
def account_new_token(request: Request, db: DbDep, viewer: ViewerDep, name: Annotated[str, Form()] = "") -> Response:
    errors: dict[str, str] = {}
    new_secret = None
    try:
        new_secret = auth.create_api_token(db, name, actor=viewer.actor).secret
    except InvalidInput as exc:
        errors["name"] = t(str(exc.params.get("reason")), viewer.lang, **exc.params)
    return render(request, "account.html", viewer, status_code=422 if errors else 200, errors=errors,
                  tokens=auth.list_api_tokens(db, actor=viewer.actor), new_secret=new_secret)


@router.post("/account/tokens/{token_id}/revoke")
def account_revoke_token(token_id: int, db: DbDep, viewer: ViewerDep) -> Response:
    auth.revoke_api_token(db, token_id, actor=viewer.actor)
    return RedirectResponse("/account", status_code=303)
