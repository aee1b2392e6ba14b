"""Per-request plumbing: the database session, who is asking (session cookie or API token),
the CSRF check for unsafe requests, and the user's language."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from jxc.domain.errors import CsrfRefused, NotSignedIn
from jxc.domain.permissions import Actor
from jxc.i18n import normalise
from jxc.services import auth

SESSION_COOKIE = "jxc_session"
LANG_COOKIE = "jxc_lang"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_db(request: Request) -> Iterator[Session]:
    db: Session = request.app.state.sessions()
    try:
        yield db
    finally:
        db.close()


DbDep = Annotated[Session, Depends(get_db)]


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in user of a request."""

    actor: Actor
    display_name: str
    lang: str
    csrf_token: str  # "" for API-token requests (no cookie, no CSRF risk)
    session_token: str = ""

    def can(self, permission: str) -> bool:
        return self.actor.can(permission)


def request_language(request: Request, user_language: str | None = None) -> str:
    """The cookie set by the language switch, then the user's setting, then the browser's."""
    chosen = request.cookies.get(LANG_COOKIE) or user_language
    if not chosen:
        accept = request.headers.get("accept-language", "")
        chosen = accept.split(",")[0].strip() if accept else None
    return normalise(chosen)


async def _csrf_ok(request: Request, expected: str) -> bool:
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    return given is not None and hmac.compare_digest(given, expected)


async def _viewer(request: Request, db: Session) -> Viewer:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        actor = auth.token_actor(db, header[7:].strip())
        return Viewer(actor, actor.username, request_language(request), "")
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise NotSignedIn()
    info = auth.session_info(db, token)
    if request.method not in SAFE_METHODS and not await _csrf_ok(request, info.csrf_token):
        raise CsrfRefused()
    return Viewer(info.actor, info.display_name or info.actor.username, request_language(request, info.language),
                  info.csrf_token, token)


async def current_viewer(request: Request, db: DbDep) -> Viewer:
    viewer = await _viewer(request, db)
    request.state.viewer = viewer
    return viewer


ViewerDep = Annotated[Viewer, Depends(current_viewer)]
