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
PERIOD_REOPEN = "period.reopen"  # 反结账
PERIOD_LOCK = "period.lock"  # lock a closed period for good (tax filed, audit signed)
SETTINGS_EDIT = "settings.edit"
STOCK_CREATE = "stock.create"  # enter stock documents
STOCK_AUDIT = "stock.audit"  # audit and un-audit them
STOCK_READ = "stock.read"  # stock reports
COST_RUN = "cost.run"  # the monthly-average costing run
TRADE_READ = "trade.read"  # orders, invoices, receipts/payments, AR/AP reports
ORDER_CREATE = "order.create"
ORDER_AUDIT = "order.audit"  # audit, un-audit, close and cancel orders
INVOICE_CREATE = "invoice.create"
INVOICE_AUDIT = "invoice.audit"
INVOICE_OVERRIDE = "invoice.override_match"  # audit an invoice that fails the three-way match
CASH_CREATE = "cash.create"  # enter receipts and payments
CASH_AUDIT = "cash.audit"  # audit them, settle (核销) and undo settlements

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
    PERIOD_LOCK,
    SETTINGS_EDIT,
    STOCK_CREATE,
    STOCK_AUDIT,
    STOCK_READ,
    COST_RUN,
    TRADE_READ,
    ORDER_CREATE,
    ORDER_AUDIT,
    INVOICE_CREATE,
    INVOICE_AUDIT,
    INVOICE_OVERRIDE,
    CASH_CREATE,
    CASH_AUDIT,
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
            TRADE_READ,
            INVOICE_CREATE,
            INVOICE_AUDIT,
            INVOICE_OVERRIDE,
            CASH_CREATE,
            CASH_AUDIT,
        }
    ),
    "manager": frozenset({LEDGER_READ, MASTERDATA_READ, AUDIT_LOG_READ, VOUCHER_AUDIT, PERIOD_REOPEN, PERIOD_LOCK,
                          STOCK_READ, STOCK_AUDIT, TRADE_READ, ORDER_AUDIT, INVOICE_AUDIT, INVOICE_OVERRIDE,
                          CASH_AUDIT}),
    "purchasing": frozenset({MASTERDATA_READ, MASTERDATA_EDIT, STOCK_READ, STOCK_CREATE, TRADE_READ, ORDER_CREATE,
                             INVOICE_CREATE}),
    "sales": frozenset({MASTERDATA_READ, MASTERDATA_EDIT, STOCK_READ, STOCK_CREATE, TRADE_READ, ORDER_CREATE,
                        INVOICE_CREATE}),
    "warehouse": frozenset({MASTERDATA_READ, STOCK_READ, STOCK_CREATE, STOCK_AUDIT, TRADE_READ}),
    "auditor": frozenset({LEDGER_READ, MASTERDATA_READ, AUDIT_LOG_READ, STOCK_READ, TRADE_READ}),
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
