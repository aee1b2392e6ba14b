from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from jxc.db.base import Base
from jxc.db.types import SQLITE_MONEY_RANGE_CHECK, Money


class Account(Base):
    """会计科目. Only leaf accounts take postings; parents show the sum of their children."""

    __tablename__ = "account"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"), nullable=True)
    level: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(20))
    direction: Mapped[str] = mapped_column(String(6))
    is_leaf: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    partner_aux: Mapped[bool] = mapped_column(Boolean, default=False)


class Voucher(Base):
    """凭证. Numbered gap-free per period and word at creation; void, never deleted."""

    __tablename__ = "voucher"
    __table_args__ = (
        UniqueConstraint("period_id", "word", "number"),
        Index("ix_voucher_date", "voucher_date", "id"),
        CheckConstraint("status IN ('draft','audited','posted','void')", name="status"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("period.id"))
    voucher_date: Mapped[date] = mapped_column(Date)
    word: Mapped[str] = mapped_column(String(10))
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="draft")
    memo: Mapped[str] = mapped_column(String(200), default="")
    total: Mapped[Decimal] = mapped_column(Money())
    # Which business document generated it (issue 3 on); NULL for a manual voucher.
    source_type: Mapped[str | None] = mapped_column(String(30), nullable=True)
    source_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    audited_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), nullable=True)
    posted_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), nullable=True)
    lines: Mapped[list[VoucherLine]] = relationship(
        back_populates="voucher", order_by="VoucherLine.line_no", cascade="all, delete-orphan"
    )


class VoucherLine(Base):
    """分录. Date and period are copied from the voucher so ledger queries need no join to order."""

    __tablename__ = "voucher_line"
    __table_args__ = (
        UniqueConstraint("voucher_id", "line_no"),
        # One side only. A generated line (side set) may be zero: re-costing can bring a cost of
        # sales line to nothing without the voucher's layout changing under the stock entries.
        CheckConstraint("(debit = 0 OR credit = 0) AND (side IS NOT NULL OR debit <> 0 OR credit <> 0)",
                        name="one_side"),
        Index("ix_voucher_line_account_date", "account_id", "voucher_date", "voucher_id", "line_no"),
        # Same order as the detail ledger's keyset, so a partner's page stops after one page of rows.
        Index("ix_voucher_line_partner", "partner_id", "account_id", "voucher_date", "voucher_id", "line_no"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    voucher_id: Mapped[int] = mapped_column(ForeignKey("voucher.id", ondelete="CASCADE"))
    line_no: Mapped[int] = mapped_column(Integer)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"), nullable=True)
    debit: Mapped[Decimal] = mapped_column(Money())
    credit: Mapped[Decimal] = mapped_column(Money())
    memo: Mapped[str] = mapped_column(String(200), default="")
    voucher_date: Mapped[date] = mapped_column(Date)
    period_id: Mapped[int] = mapped_column(ForeignKey("period.id"))
    side: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)  # generated lines: 1 debit, -1 credit
    voucher: Mapped[Voucher] = relationship(back_populates="lines")


class VoucherSequence(Base):
    """The last voucher number used per period and word; locked to hand out the next one."""

    __tablename__ = "voucher_sequence"
    period_id: Mapped[int] = mapped_column(ForeignKey("period.id"), primary_key=True)
    word: Mapped[str] = mapped_column(String(10), primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0)


class AccountBalance(Base):
    """Posted debit and credit totals per leaf account and period, kept as vouchers post."""

    __tablename__ = "account_balance"
    __table_args__ = (CheckConstraint(SQLITE_MONEY_RANGE_CHECK, name="range").ddl_if(dialect="sqlite"),)
    period_id: Mapped[int] = mapped_column(ForeignKey("period.id"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), primary_key=True)
    debit: Mapped[Decimal] = mapped_column(Money())
    credit: Mapped[Decimal] = mapped_column(Money())


class PartnerBalance(Base):
    """The same per partner, for accounts with partner sub-ledgers (辅助核算)."""

    __tablename__ = "partner_balance"
    __table_args__ = (CheckConstraint(SQLITE_MONEY_RANGE_CHECK, name="range").ddl_if(dialect="sqlite"),)
    period_id: Mapped[int] = mapped_column(ForeignKey("period.id"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"), primary_key=True)
    debit: Mapped[Decimal] = mapped_column(Money())
    credit: Mapped[Decimal] = mapped_column(Money())


class OpeningBalance(Base):
    """期初余额 per leaf account (and partner), as of the book's start date."""

    __tablename__ = "opening_balance"
    __table_args__ = (
        Index("ix_opening_balance_account_partner", "account_id", "partner_id"),
        CheckConstraint("debit >= 0 AND credit >= 0", name="non_negative"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"), nullable=True)
    debit: Mapped[Decimal] = mapped_column(Money())
    credit: Mapped[Decimal] = mapped_column(Money())
