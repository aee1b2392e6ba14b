"""Roles and permissions (jxc.domain.permissions): deny by default."""

from __future__ import annotations

import pytest

from jxc.domain import permissions as perm
from jxc.domain.errors import PermissionDenied
from jxc.domain.permissions import ALL, BUILTIN_ROLES, PERMISSIONS, Actor, require


def actor(*granted: str, name: str = "u") -> Actor:
    return Actor(1, name, frozenset(granted))


@pytest.mark.parametrize("permission", PERMISSIONS)
def test_admin_wildcard_grants_everything(permission):
    require(actor(ALL), permission)
    assert actor(ALL).can(permission)


@pytest.mark.parametrize("permission", PERMISSIONS)
def test_no_roles_means_no_permissions(permission):
    with pytest.raises(PermissionDenied) as err:
        require(actor(name="nobody"), permission)
    assert err.value.params == {"user": "nobody", "permission": permission}


def test_only_what_is_granted():
    clerk = actor(perm.VOUCHER_CREATE)
    require(clerk, perm.VOUCHER_CREATE)
    with pytest.raises(PermissionDenied):
        require(clerk, perm.VOUCHER_POST)


def test_unknown_permission_is_denied_unless_wildcard():
    with pytest.raises(PermissionDenied):
        require(actor(*PERMISSIONS), "invoice.delete")
    require(actor(ALL), "invoice.delete")


def test_wildcard_is_not_a_prefix_match():
    with pytest.raises(PermissionDenied):
        require(actor("voucher.*"), perm.VOUCHER_CREATE)


@pytest.mark.parametrize(
    ("role", "allowed", "denied"),
    [
        ("accountant", perm.VOUCHER_POST, perm.USER_MANAGE),
        ("manager", perm.VOUCHER_AUDIT, perm.VOUCHER_CREATE),
        ("auditor", perm.LEDGER_READ, perm.VOUCHER_CREATE),
        ("auditor", perm.AUDIT_LOG_READ, perm.USER_MANAGE),
        ("warehouse", perm.MASTERDATA_READ, perm.MASTERDATA_EDIT),
        ("purchasing", perm.MASTERDATA_EDIT, perm.LEDGER_READ),
    ],
)
def test_builtin_roles(role, allowed, denied):
    a = actor(*BUILTIN_ROLES[role])
    require(a, allowed)
    with pytest.raises(PermissionDenied):
        require(a, denied)


def test_only_admin_holds_the_wildcard_and_roles_name_known_permissions():
    for role, granted in BUILTIN_ROLES.items():
        if role == "admin":
            assert granted == {ALL}
        else:
            assert granted <= set(PERMISSIONS), role


def test_only_admin_manages_users():
    assert [r for r, g in BUILTIN_ROLES.items() if ALL in g or perm.USER_MANAGE in g] == ["admin"]
