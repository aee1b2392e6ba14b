"""The roles of the book and what each grants, for the administration pages. Reads only."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from jxc.db.models import Role, RolePermission, UserRole
from jxc.domain import permissions as perm
from jxc.domain.permissions import Actor, require
from jxc.services.common import reading


@dataclass(frozen=True, slots=True)
class RoleInfo:
    code: str
    builtin: bool
    permissions: frozenset[str]  # "*" grants everything
    users: int  # how many users hold it

    def grants(self, permission: str) -> bool:
        return perm.ALL in self.permissions or permission in self.permissions


def list_roles(db: Session, *, actor: Actor) -> list[RoleInfo]:
    """Every role, built-in ones first in their usual order, with its permissions."""
    require(actor, perm.USER_MANAGE)
    order = {code: i for i, code in enumerate(perm.BUILTIN_ROLES)}
    with reading(db):
        granted: dict[str, set[str]] = {}
        for code, permission in db.execute(select(RolePermission.role_code, RolePermission.permission)):
            granted.setdefault(code, set()).add(permission)
        held: dict[str, int] = {}
        for (code,) in db.execute(select(UserRole.role_code)):
            held[code] = held.get(code, 0) + 1
        roles = db.execute(select(Role.code, Role.builtin)).all()
    infos = [RoleInfo(code, bool(builtin), frozenset(granted.get(code, ())), held.get(code, 0))
             for code, builtin in roles]
    return sorted(infos, key=lambda r: (order.get(r.code, len(order)), r.code))


def all_permissions() -> tuple[str, ...]:
    """The named permissions, in the order the matrix shows them."""
    return perm.PERMISSIONS
