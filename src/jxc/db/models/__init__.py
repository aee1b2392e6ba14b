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
from jxc.db.models.stock import (
    CostRun,
    DocSequence,
    FifoLayer,
    FifoTake,
    PostingRule,
    ProductCategory,
    StockBalance,
    StockDoc,
    StockDocLine,
    StockEntry,
)

__all__ = [
    "Account",
    "AccountBalance",
    "AuditHead",
    "AuditLog",
    "Company",
    "CostRun",
    "DocSequence",
    "FifoLayer",
    "FifoTake",
    "FiscalYear",
    "OpeningBalance",
    "Partner",
    "PartnerBalance",
    "Period",
    "PostingRule",
    "Product",
    "ProductCategory",
    "Role",
    "RolePermission",
    "StockBalance",
    "StockDoc",
    "StockDocLine",
    "StockEntry",
    "User",
    "UserRole",
    "Voucher",
    "VoucherLine",
    "VoucherSequence",
    "Warehouse",
]
