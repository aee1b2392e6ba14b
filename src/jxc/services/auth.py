"""Signing in to the web UI and the API: sessions, API tokens, throttling, passwords.

Secrets (session cookies, API tokens) are random 256-bit values shown to the client
once and stored only as SHA-256 digests, so a copy of the database does not let
anyone in. Failed sign-ins are recorded per username; after MAX_FAILURES within
THROTTLE_WINDOW the username is refused (even with the right password) until the
window has passed, which makes password guessing slow without locking anyone out
for good.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from jxc.db.base import table_of
from jxc.db.models import ApiToken, LoginFailure, User, WebSession
from jxc.domain import permissions as perm
from jxc.domain.errors import AuthenticationFailed, InvalidInput, LoginThrottled, NotFound, NotSignedIn
from jxc.domain.permissions import Actor, require
from jxc.services import users
from jxc.services.common import append_audit, reading, utcnow

SESSION = table_of(WebSession)
TOKEN = table_of(ApiToken)
FAILURE = table_of(LoginFailure)
USER = table_of(User)

SESSION_LIFETIME = timedelta(hours=12)
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES = 5  # per username within the window
MAX_CLIENT_FAILURES = 30  # per client address within the window, whatever the usernames
TOKEN_PREFIX = "jxc_"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class SignedIn:
    token: str  # the cookie value; shown once
    csrf_token: str
    actor: Actor
    language: str | None


@dataclass(frozen=True, slots=True)
class SessionInfo:
    actor: Actor
    csrf_token: str
    display_name: str
    language: str | None


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)


def _throttled(db: Session, username: str, client: str, now: datetime) -> int:
    """Minutes to wait before this username (or client) may try again; 0 when it may."""
    since = now - THROTTLE_WINDOW
    by_user = db.execute(select(func.count(), func.min(FAILURE.c.at))
                         .where(FAILURE.c.username == username, FAILURE.c.at > since)).one()
    by_client = db.execute(select(func.count(), func.min(FAILURE.c.at))
                           .where(FAILURE.c.client == client, FAILURE.c.at > since)).one() if client else (0, None)
    for count, first, limit in ((by_user[0], by_user[1], MAX_FAILURES),
                                (by_client[0], by_client[1], MAX_CLIENT_FAILURES)):
        if count >= limit and first is not None:
            wait = _aware(first) + THROTTLE_WINDOW - now
            return max(1, -(-int(wait.total_seconds()) // 60))
    return 0


def sign_in(db: Session, username: str, password: str, *, client: str = "") -> SignedIn:
    """A new session for a correct username and password. Raises LoginThrottled after too many
    failures (before even checking the password), AuthenticationFailed otherwise; a failure is
    recorded, and the audit log has every sign-in."""
    username = username.strip()[:60]
    client = client[:64]
    now = utcnow()
    with db.begin():
        minutes = _throttled(db, username, client, now)
    if minutes:
        raise LoginThrottled(minutes=minutes)
    try:
        actor = users.authenticate(db, username, password)
    except AuthenticationFailed:
        with db.begin():
            db.execute(insert(FAILURE).values(username=username, client=client, at=now))
        raise
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with db.begin():
        db.execute(delete(FAILURE).where(FAILURE.c.username == username))
        db.execute(delete(SESSION).where(SESSION.c.expires_at < now))  # housekeeping, bounded by use
        db.execute(insert(SESSION).values(token_hash=digest(token), user_id=actor.id, csrf_token=csrf,
                                          created_at=now, expires_at=now + SESSION_LIFETIME))
        append_audit(db, actor, "user.sign_in", "user", actor.username, {"client": client})
        language = db.execute(select(USER.c.language).where(USER.c.id == actor.id)).scalar()
    return SignedIn(token, csrf, actor, language)


def session_info(db: Session, token: str) -> SessionInfo:
    """The signed-in user of a session cookie. Raises NotSignedIn for an unknown, expired or
    disabled one."""
    with reading(db):
        row = db.execute(select(USER.c.username, USER.c.display_name, USER.c.language, USER.c.active,
                                SESSION.c.csrf_token, SESSION.c.expires_at)
                         .join(USER, USER.c.id == SESSION.c.user_id)
                         .where(SESSION.c.token_hash == digest(token))).one_or_none()
        if row is None or not row.active or _aware(row.expires_at) <= utcnow():
            raise NotSignedIn()
        actor = users.load_actor(db, row.username)
    return SessionInfo(actor, row.csrf_token, row.display_name, row.language)


def sign_out(db: Session, token: str) -> None:
    """End a session (idempotent)."""
    with db.begin():
        db.execute(delete(SESSION).where(SESSION.c.token_hash == digest(token)))


def change_password(db: Session, old: str, new: str, *, actor: Actor, keep_session: str | None = None) -> None:
    """Change one's own password: the old one must be right. Other sessions of the user end."""
    users.check_password_rules(new, field="new_password")
    try:
        users.authenticate(db, actor.username, old)
    except AuthenticationFailed:
        raise InvalidInput(field="old_password", reason="auth.wrong_password") from None
    with db.begin():
        db.execute(update(USER).where(USER.c.id == actor.id).values(password_hash=users.hash_password(new)))
        gone = delete(SESSION).where(SESSION.c.user_id == actor.id)
        if keep_session:
            gone = gone.where(SESSION.c.token_hash != digest(keep_session))
        db.execute(gone)
        append_audit(db, actor, "user.password", "user", actor.username, {})


def reset_password(db: Session, username: str, new: str, *, actor: Actor) -> None:
    """An administrator sets someone's password; their sessions end."""
    require(actor, perm.USER_MANAGE)
    users.check_password_rules(new, field="password")
    with db.begin():
        uid = db.execute(select(USER.c.id).where(USER.c.username == username)).scalar()
        if uid is None:
            raise NotFound(entity="user", key=username)
        db.execute(update(USER).where(USER.c.id == uid).values(password_hash=users.hash_password(new)))
        db.execute(delete(SESSION).where(SESSION.c.user_id == uid))
        append_audit(db, actor, "user.reset_password", "user", username, {})


def set_user_active(db: Session, username: str, active: bool, *, actor: Actor) -> None:
    """Disable (or enable again) a user; a disabled user's sessions and tokens stop working."""
    require(actor, perm.USER_MANAGE)
    if username == actor.username and not active:
        raise InvalidInput(field="username", reason="auth.cannot_disable_self")
    with db.begin():
        uid = db.execute(select(USER.c.id).where(USER.c.username == username)).scalar()
        if uid is None:
            raise NotFound(entity="user", key=username)
        db.execute(update(USER).where(USER.c.id == uid).values(active=active))
        if not active:
            db.execute(delete(SESSION).where(SESSION.c.user_id == uid))
        append_audit(db, actor, "user.enable" if active else "user.disable", "user", username, {})


def set_language(db: Session, language: str, *, actor: Actor) -> None:
    if language not in ("zh_CN", "en"):
        raise InvalidInput(field="language", reason="input.choice", value=language, choices="zh_CN, en")
    with db.begin():
        db.execute(update(USER).where(USER.c.id == actor.id).values(language=language))


# --- API tokens -----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: int
    username: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool


@dataclass(frozen=True, slots=True)
class NewToken:
    info: TokenInfo
    secret: str  # shown once, never stored


def create_api_token(db: Session, name: str, *, actor: Actor) -> NewToken:
    """A token that acts as `actor` on the API (with the user's roles as they are at each call)."""
    name = name.strip()
    if not name:
        raise InvalidInput(field="name", reason="input.required")
    if len(name) > 100:
        raise InvalidInput(field="name", reason="input.too_long", max_length=100)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    with db.begin():
        tid = db.execute(insert(TOKEN).values(user_id=actor.id, name=name, token_hash=digest(secret),
                                              prefix=secret[:12], created_at=now).returning(TOKEN.c.id)).scalar_one()
        append_audit(db, actor, "api_token.create", "api_token", tid, {"name": name, "prefix": secret[:12]})
    return NewToken(TokenInfo(tid, actor.username, name, secret[:12], now, None, False), secret)


def list_api_tokens(db: Session, *, actor: Actor, everyone: bool = False) -> list[TokenInfo]:
    """The actor's own tokens; with `everyone` (user.manage) every user's."""
    if everyone:
        require(actor, perm.USER_MANAGE)
    with reading(db):
        q = (select(TOKEN, USER.c.username).join(USER, USER.c.id == TOKEN.c.user_id).order_by(TOKEN.c.id))
        if not everyone:
            q = q.where(TOKEN.c.user_id == actor.id)
        return [TokenInfo(r.id, r.username, r.name, r.prefix, r.created_at, r.last_used_at, r.revoked_at is not None)
                for r in db.execute(q)]


def revoke_api_token(db: Session, token_id: int, *, actor: Actor) -> None:
    """Revoke one's own token, or anyone's with user.manage. Idempotent."""
    with db.begin():
        owner = db.execute(select(TOKEN.c.user_id).where(TOKEN.c.id == token_id)).scalar()
        if owner is None or (owner != actor.id and not actor.can(perm.USER_MANAGE)):
            raise NotFound(entity="api_token", key=token_id)
        db.execute(update(TOKEN).where(TOKEN.c.id == token_id, TOKEN.c.revoked_at.is_(None))
                   .values(revoked_at=utcnow()))
        append_audit(db, actor, "api_token.revoke", "api_token", token_id, {})


LAST_USED_GRANULARITY = timedelta(minutes=5)  # write last_used_at at most this often


def token_actor(db: Session, secret: str) -> Actor:
    """The actor of an API bearer token. Raises NotSignedIn for an unknown or revoked token
    or a disabled user."""
    if not secret.startswith(TOKEN_PREFIX):
        raise NotSignedIn()
    with db.begin():
        row = db.execute(select(TOKEN.c.id, TOKEN.c.revoked_at, TOKEN.c.last_used_at, USER.c.username, USER.c.active)
                         .join(USER, USER.c.id == TOKEN.c.user_id)
                         .where(TOKEN.c.token_hash == digest(secret))).one_or_none()
        if row is None or row.revoked_at is not None or not row.active:
            raise NotSignedIn()
        now = utcnow()
        if row.last_used_at is None or _aware(row.last_used_at) < now - LAST_USED_GRANULARITY:
            db.execute(update(TOKEN).where(TOKEN.c.id == row.id).values(last_used_at=now))
        return users.load_actor(db, row.username)
