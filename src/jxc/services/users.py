"""Users, roles and the acting user. Passwords are hashed with argon2."""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from jxc.db.models import Role, RolePermission, User, UserRole
from jxc.domain import permissions as perm
from jxc.domain.errors import AuthenticationFailed, InvalidInput, NotFound, RoleUnknown, UserExists
from jxc.domain.permissions import Actor, require
from jxc.services.common import append_audit, reading, utcnow

_hasher = PasswordHasher()

MIN_PASSWORD_LENGTH = 8


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password_rules(password: str, *, field: str = "password") -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(field=field, reason="input.password_short", min=MIN_PASSWORD_LENGTH)


def load_actor(db: Session, username: str) -> Actor:
    """The acting user with the permissions of all their roles. Raises NotFound for an
    unknown or disabled user. Reads only; the caller's transaction (if any) is reused."""
    user = db.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None or not user.active:
        raise NotFound(entity="user", key=username)
    rows = db.execute(
        select(RolePermission.permission)
        .join(UserRole, UserRole.role_code == RolePermission.role_code)
        .where(UserRole.user_id == user.id)
    )
    return Actor(user.id, user.username, frozenset(r.permission for r in rows))


def authenticate(db: Session, username: str, password: str) -> Actor:
    """The actor for a correct username and password; AuthenticationFailed otherwise,
    with the same error for an unknown user and a wrong password."""
    with db.begin():
        user = db.execute(select(User).where(User.username == username)).scalar_one_or_none()
        try:
            if user is None or not user.active or not _hasher.verify(user.password_hash, password):
                raise AuthenticationFailed(username=username)
        except (VerificationError, InvalidHashError) as exc:
            raise AuthenticationFailed(username=username) from exc
        return load_actor(db, username)


def seed_roles(db: Session) -> None:
    """Create the built-in roles and their permissions (no transaction of its own)."""
    for code, granted in perm.BUILTIN_ROLES.items():
        db.add(Role(code=code, name="", builtin=True))
        db.flush()
        db.add_all(RolePermission(role_code=code, permission=p) for p in sorted(granted))


def _new_user(db: Session, username: str, password: str, display_name: str, roles: list[str]) -> User:
    username = username.strip()
    if not username or len(username) > 60:
        raise InvalidInput(field="username", reason="input.required")
    check_password_rules(password)
    if db.execute(select(User.id).where(User.username == username)).first():
        raise UserExists(username=username)
    known = set(db.execute(select(Role.code)).scalars())
    for role in roles:
        if role not in known:
            raise RoleUnknown(role=role)
    user = User(username=username, display_name=display_name, password_hash=hash_password(password),
                active=True, created_at=utcnow())
    db.add(user)
    db.flush()
    db.add_all(UserRole(user_id=user.id, role_code=r) for r in sorted(set(roles)))
    db.flush()
    return user


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: int
    username: str
    display_name: str
    active: bool
    roles: tuple[str, ...]


def add_user(db: Session, username: str, password: str, *, roles: list[str], display_name: str = "",
             actor: Actor) -> UserInfo:
    """Create a user with the given roles. Raises PermissionDenied, UserExists, RoleUnknown, InvalidInput."""
    require(actor, perm.USER_MANAGE)
    with db.begin():
        user = _new_user(db, username, password, display_name, roles)
        append_audit(db, actor, "user.add", "user", user.username, {"roles": sorted(roles)})
        return UserInfo(user.id, user.username, user.display_name, True, tuple(sorted(roles)))


def grant_role(db: Session, username: str, role: str, *, actor: Actor) -> None:
    """Give a user a role (idempotent). Raises PermissionDenied, NotFound, RoleUnknown."""
    require(actor, perm.USER_MANAGE)
    with db.begin():
        user = db.execute(select(User).where(User.username == username)).scalar_one_or_none()
        if user is None:
            raise NotFound(entity="user", key=username)
        if db.get(Role, role) is None:
            raise RoleUnknown(role=role)
        if db.get(UserRole, (user.id, role)) is None:
            db.add(UserRole(user_id=user.id, role_code=role))
        append_audit(db, actor, "user.grant", "user", username, {"role": role})


def revoke_role(db: Session, username: str, role: str, *, actor: Actor) -> None:
    """Take a role from a user (idempotent). Raises PermissionDenied, NotFound."""
    require(actor, perm.USER_MANAGE)
    with db.begin():
        user = db.execute(select(User).where(User.username == username)).scalar_one_or_none()
        if user is None:
            raise NotFound(entity="user", key=username)
        link = db.get(UserRole, (user.id, role))
        if link is not None:
            db.delete(link)
        append_audit(db, actor, "user.revoke", "user", username, {"role": role})


def list_users(db: Session, *, actor: Actor) -> list[UserInfo]:
    require(actor, perm.USER_MANAGE)
    with reading(db):
        users = db.execute(select(User).order_by(User.username)).scalars().all()
        links = db.execute(select(UserRole.user_id, UserRole.role_code)).all()
        by_user: dict[int, list[str]] = {}
        for uid, code in links:
            by_user.setdefault(uid, []).append(code)
        return [UserInfo(u.id, u.username, u.display_name, u.active, tuple(sorted(by_user.get(u.id, []))))
                for u in users]
