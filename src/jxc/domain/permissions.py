"""Named permissions and the built-in roles. Deny by default: a user may do only
what one of their roles grants."""

from __future__ import annotations

from dataclasses import dataclass

from jxc.domain.errors import PermissionDenied

ALL = "*"

VOUCHER_CREATE = "voucher.create"
VOUCHER_AUDIT = "voucher.audit"
VOUCHER_POST = "voucher.post"
VOUCHER_VOID = "voucher.void"
LEDGER_READ = "ledger.read"
OPENING_EDIT = "opening.edit"
ACCOUNT_EDIT = "account.edit"
MASTERDATA_EDIT = "masterdata.edit"
MASTERDATA_READ = "masterdata.read"
USER_MANAGE = "user.manage"
AUDIT_LOG_READ = "auditlog.read"
PERIOD_CLOSE = "period.close"
PERIOD_REOPEN = "period.reopen"
SETTINGS_EDIT = "settings.edit"
STOCK_CREATE = "stock.create"  # enter stock documents
STOCK_AUDIT = "stock.audit"  # audit and un-audit them
STOCK_READ = "stock.read"  # stock reports
COST_RUN = "cost.run"  # the monthly-average costing run

PERMISSIONS: tuple[str, ...] = (
    VOUCHER_CREATE,
    VOUCHER_AUDIT,
    VOUCHER_POST,
    VOUCHER_VOID,
    LEDGER_READ,
    OPENING_EDIT,
    ACCOUNT_EDIT,
    MASTERDATA_EDIT,
    MASTERDATA_READ,
    USER_MANAGE,
    AUDIT_LOG_READ,
    PERIOD_CLOSE,
    PERIOD_REOPEN,
    SETTINGS_EDIT,
    STOCK_CREATE,
    STOCK_AUDIT,
    STOCK_READ,
    COST_RUN,
)

# Role code -> granted permissions. Later issues add document permissions here.
BUILTIN_ROLES: dict[str, frozenset[str]] = {
    "admin": frozenset({ALL}),
    "accountant": frozenset(
        {
            VOUCHER_CREATE,
            VOUCHER_AUDIT,
            VOUCHER_POST,
            VOUCHER_VOID,
            LEDGER_READ,
            OPENING_EDIT,
            ACCOUNT_EDIT,
            MASTERDATA_READ,
            MASTERDATA_EDIT,
            AUDIT_LOG_READ,
            PERIOD_CLOSE,
            STOCK_READ,
            STOCK_AUDIT,
            COST_RUN,
        }
    ),
    "manager": frozenset({LEDGER_READ, MASTERDATA_READ, AUDIT_LOG_READ, VOUCHER_AUDIT, PERIOD_REOPEN, STOCK_READ,
                          STOCK_AUDIT}),
    "purchasing": frozenset({MASTERDATA_READ, MASTERDATA_EDIT, STOCK_READ, STOCK_CREATE}),
    "sales": frozenset({MASTERDATA_READ, MASTERDATA_EDIT, STOCK_READ, STOCK_CREATE}),
    "warehouse": frozenset({MASTERDATA_READ, STOCK_READ, STOCK_CREATE, STOCK_AUDIT}),
    "auditor": frozenset({LEDGER_READ, MASTERDATA_READ, AUDIT_LOG_READ, STOCK_READ}),
}


@dataclass(frozen=True, slots=True)
class Actor:
    """The user a service acts for, with the permissions their roles grant."""

    id: int
    username: str
    permissions: frozenset[str]

    def can(self, permission: str) -> bool:
        return ALL in self.permissions or permission in self.permissions


def require(actor: Actor, permission: str) -> None:
    """Raise PermissionDenied naming the permission unless the actor holds it."""
    if not actor.can(permission):
        raise PermissionDenied(user=actor.username, permission=permission)
