from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from jxc.db.base import Base
from jxc.db.types import Money, Rate


class Company(Base):
    """The one row of settings of this set of books (账套)."""

    __tablename__ = "company"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    chart: Mapped[str] = mapped_column(String(30), default="small_2013")
    amount_places: Mapped[int] = mapped_column(Integer, default=2)
    unit_cost_places: Mapped[int] = mapped_column(Integer, default=6)
    price_places: Mapped[int] = mapped_column(Integer, default=4)
    qty_places: Mapped[int] = mapped_column(Integer, default=4)
    require_distinct_auditor: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[str] = mapped_column(String(10), default="zh_CN")
    voucher_word: Mapped[str] = mapped_column(String(10))
    start_date: Mapped[date] = mapped_column(Date)
    # 结束初始化: set when the first voucher is posted; opening balances are fixed from then on.
    opening_locked: Mapped[bool] = mapped_column(Boolean, default=False)
    # Negative stock (负库存): forbidden by default; when allowed, see domain/costing.py.
    allow_negative_stock: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Bumped by every change of posting rules, so a process may keep them between documents.
    posting_rules_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Purchasing and sales (issue 4).
    # Receiving or delivering beyond ordered × (1 + this) is refused (0.05 = 5%).
    order_tolerance: Mapped[Decimal] = mapped_column(Rate(), default=Decimal(0), server_default="0")
    # 三单匹配: an invoice price further than this from the receipt's or order's is a mismatch.
    match_tolerance: Mapped[Decimal] = mapped_column(Rate(), default=Decimal("0.0500"))
    credit_control: Mapped[str] = mapped_column(String(10), default="warn", server_default="warn")
    # 核销 differences up to writeoff_limit go to this account (财务费用 by default).
    writeoff_account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"), nullable=True)
    writeoff_limit: Mapped[Decimal] = mapped_column(Money(), default=Decimal("10.00"))


class FiscalYear(Base):
    __tablename__ = "fiscal_year"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, unique=True)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)


class Period(Base):
    __tablename__ = "period"
    __table_args__ = (UniqueConstraint("year", "month"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fiscal_year_id: Mapped[int] = mapped_column(ForeignKey("fiscal_year.id"))
    year: Mapped[int] = mapped_column(Integer)
    month: Mapped[int] = mapped_column(Integer)
    start_date: Mapped[date] = mapped_column(Date, unique=True)
    end_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="open")

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"
