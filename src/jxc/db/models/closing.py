"""What a month-end close (结账) leaves behind: the seal, balance snapshots, and the
financial statements' definitions (data, so a company can adapt them)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from jxc.db.base import Base
from jxc.db.types import Money, Quantity


class PeriodClose(Base):
    """One closed (or locked) period: who closed it, its seal, and what the close created."""

    __tablename__ = "period_close"
    period_id: Mapped[int] = mapped_column(ForeignKey("period.id"), primary_key=True)
    closed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    # sha256 over the period's ledger rows, balances and snapshots, chained to the previous seal.
    seal: Mapped[str] = mapped_column(String(64))
    # The close made the period's monthly-average costing run (there was none before it).
    ran_costing: Mapped[bool] = mapped_column(Boolean, default=False)
    # A year-end close that created the next fiscal year's periods names it here.
    created_year_id: Mapped[int | None] = mapped_column(ForeignKey("fiscal_year.id"), nullable=True)
    # The net profit of the period (利润表 净利润 本月金额), for the audit log and the list.
    profit: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))


class AccountSnapshot(Base):
    """The closing balance of a closed period per leaf account and partner (partner_id 0:
    the account as a whole), with the period's posted movement."""

    __tablename__ = "account_snapshot"
    period_id: Mapped[int] = mapped_column(ForeignKey("period.id"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), primary_key=True)
    partner_id: Mapped[int] = mapped_column(Integer, primary_key=True, default=0)
    debit: Mapped[Decimal] = mapped_column(Money())
    credit: Mapped[Decimal] = mapped_column(Money())
    balance: Mapped[Decimal] = mapped_column(Money())  # debit positive


class StockSnapshot(Base):
    """The stock on hand at the end of a closed period per product/warehouse/batch."""

    __tablename__ = "stock_snapshot"
    period_id: Mapped[int] = mapped_column(ForeignKey("period.id"), primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouse.id"), primary_key=True)
    batch: Mapped[str] = mapped_column(String(40), primary_key=True, default="")
    qty: Mapped[Decimal] = mapped_column(Quantity())
    value: Mapped[Decimal] = mapped_column(Money())


class StatementLine(Base):
    """One line (行次) of a financial statement. `formula` is a sum of terms such as
    "+B(1001) +B(1002)" or "+L(1) -L(2)" (see jxc.domain.statements)."""

    __tablename__ = "statement_line"
    __table_args__ = (UniqueConstraint("statement", "line_no"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    statement: Mapped[str] = mapped_column(String(30))  # balance_sheet, income_statement, cash_flow
    line_no: Mapped[int] = mapped_column(Integer)  # 行次
    position: Mapped[int] = mapped_column(Integer)  # display order
    side: Mapped[str] = mapped_column(String(10), default="")  # balance sheet: asset / equity
    label: Mapped[str] = mapped_column(String(100))  # zh_CN
    label_en: Mapped[str] = mapped_column(String(100))
    formula: Mapped[str] = mapped_column(String(500), default="")
