"""Mapped tables. Thin: state only; the rules live in jxc.domain."""

from jxc.db.models.books import Company, FiscalYear, Period
from jxc.db.models.catalog import Partner, Product, Warehouse
from jxc.db.models.ledger import (
    Account,
    AccountBalance,
    OpeningBalance,
    PartnerBalance,
    Voucher,
    VoucherLine,
    VoucherSequence,
)
from jxc.db.models.security import AuditHead, AuditLog, Role, RolePermission, User, UserRole

__all__ = [
    "Account",
    "AccountBalance",
    "AuditHead",
    "AuditLog",
    "Company",
    "FiscalYear",
    "OpeningBalance",
    "Partner",
    "PartnerBalance",
    "Period",
    "Product",
    "Role",
    "RolePermission",
    "User",
    "UserRole",
    "Voucher",
    "VoucherLine",
    "VoucherSequence",
    "Warehouse",
]
