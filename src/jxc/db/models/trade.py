"""Orders, invoices, receipts and payments, and the receivable/payable open items."""

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
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from jxc.db.base import Base
from jxc.db.types import Money, Quantity, Rate, UnitCost


class TaxRate(Base):
    """The VAT rates a document may use, each valid over a date range (DOMAIN.md §6.1)."""

    __tablename__ = "tax_rate"
    __table_args__ = (UniqueConstraint("rate", "valid_from"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rate: Mapped[Decimal] = mapped_column(Rate())
    label: Mapped[str] = mapped_column(String(60), default="")
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date, nullable=True)


class TradeOrder(Base):
    """采购订单 / 销售订单. Posts nothing; its lines count what receipts, deliveries,
    returns and invoices did against them."""

    __tablename__ = "trade_order"
    __table_args__ = (
        UniqueConstraint("side", "no"),
        Index("ix_trade_order_partner", "partner_id", "status"),
        Index("ix_trade_order_side_date", "side", "order_date", "id"),
        CheckConstraint("status IN ('draft','audited','closed','cancelled')", name="status"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    side: Mapped[str] = mapped_column(String(10))  # purchase | sales
    no: Mapped[str] = mapped_column(String(40))
    order_date: Mapped[date] = mapped_column(Date)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"))
    status: Mapped[str] = mapped_column(String(10), default="draft")
    delivery_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    salesperson: Mapped[str] = mapped_column(String(60), default="")
    memo: Mapped[str] = mapped_column(String(200), default="")
    amount: Mapped[Decimal] = mapped_column(Money())
    tax: Mapped[Decimal] = mapped_column(Money())
    created_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    audited_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), nullable=True)


class TradeOrderLine(Base):
    __tablename__ = "trade_order_line"
    __table_args__ = (UniqueConstraint("order_id", "line_no"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("trade_order.id", ondelete="CASCADE"))
    line_no: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    qty: Mapped[Decimal] = mapped_column(Quantity())
    price: Mapped[Decimal] = mapped_column(UnitCost())  # excluding tax
    price_incl_tax: Mapped[Decimal | None] = mapped_column(UnitCost(), nullable=True)  # as entered, when it was
    tax_rate: Mapped[Decimal] = mapped_column(Rate())
    amount: Mapped[Decimal] = mapped_column(Money())
    tax: Mapped[Decimal] = mapped_column(Money())
    delivery_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    done_qty: Mapped[Decimal] = mapped_column(Quantity(), default=Decimal(0))  # received / delivered
    returned_qty: Mapped[Decimal] = mapped_column(Quantity(), default=Decimal(0))
    invoiced_qty: Mapped[Decimal] = mapped_column(Quantity(), default=Decimal(0))  # net of red invoices


class Invoice(Base):
    """采购发票 / 销售发票, blue or red (红字, for returns). Audited: posted voucher and open item."""

    __tablename__ = "invoice"
    __table_args__ = (
        UniqueConstraint("side", "no"),
        Index("ix_invoice_date", "invoice_date", "id"),
        Index("ix_invoice_side_date", "side", "invoice_date", "id"),
        CheckConstraint("status IN ('draft','audited')", name="status"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    side: Mapped[str] = mapped_column(String(10))
    no: Mapped[str] = mapped_column(String(40))
    invoice_date: Mapped[date] = mapped_column(Date)
    period_id: Mapped[int] = mapped_column(ForeignKey("period.id"))
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"))
    invoice_kind: Mapped[str] = mapped_column(String(10))  # special | ordinary
    red: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(10), default="draft")
    amount: Mapped[Decimal] = mapped_column(Money())  # Σ line amounts (red: as positive numbers)
    tax: Mapped[Decimal] = mapped_column(Money())
    total: Mapped[Decimal] = mapped_column(Money())
    salesperson: Mapped[str] = mapped_column(String(60), default="")
    memo: Mapped[str] = mapped_column(String(200), default="")
    voucher_id: Mapped[int | None] = mapped_column(ForeignKey("voucher.id"), nullable=True)
    match_override: Mapped[str] = mapped_column(String(400), default="")  # 三单匹配 problems accepted
    created_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    audited_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), nullable=True)


class InvoiceLine(Base):
    __tablename__ = "invoice_line"
    __table_args__ = (UniqueConstraint("invoice_id", "line_no"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id", ondelete="CASCADE"))
    line_no: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    qty: Mapped[Decimal] = mapped_column(Quantity())
    price: Mapped[Decimal] = mapped_column(UnitCost())
    price_incl_tax: Mapped[Decimal | None] = mapped_column(UnitCost(), nullable=True)
    tax_rate: Mapped[Decimal] = mapped_column(Rate())
    amount: Mapped[Decimal] = mapped_column(Money())
    tax: Mapped[Decimal] = mapped_column(Money())
    total: Mapped[Decimal] = mapped_column(Money())


class InvoiceLink(Base):
    """Which receipt/delivery line (or, red, which return line) an invoice line bills, how
    much of it, and at audit what it cleared: `booked` is the 暂估 value taken off the
    receipt; the difference from the invoice went `to_stock` or `to_cost`."""

    __tablename__ = "invoice_link"
    __table_args__ = (Index("ix_invoice_link_stock_line", "stock_line_id"),
                      Index("ix_invoice_link_line", "invoice_line_id"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invoice_line_id: Mapped[int] = mapped_column(ForeignKey("invoice_line.id", ondelete="CASCADE"))
    stock_line_id: Mapped[int] = mapped_column(ForeignKey("stock_doc_line.id"))
    qty: Mapped[Decimal] = mapped_column(Quantity())
    booked: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    to_stock: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    to_cost: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    # The cost adjustment (成本调整) that carried to_stock into the stock ledger.
    adjust_doc_id: Mapped[int | None] = mapped_column(ForeignKey("stock_doc.id"), nullable=True)


class CashDoc(Base):
    """收款单 (side sales) / 付款单 (side purchase): money through a cash or bank account,
    settling invoices now (CashSettle rows) and leaving the rest as 预收/预付."""

    __tablename__ = "cash_doc"
    __table_args__ = (
        UniqueConstraint("side", "no"),
        Index("ix_cash_doc_date", "doc_date", "id"),
        Index("ix_cash_doc_side_date", "side", "doc_date", "id"),
        CheckConstraint("status IN ('draft','audited')", name="status"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    side: Mapped[str] = mapped_column(String(10))
    no: Mapped[str] = mapped_column(String(40))
    doc_date: Mapped[date] = mapped_column(Date)
    period_id: Mapped[int] = mapped_column(ForeignKey("period.id"))
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    amount: Mapped[Decimal] = mapped_column(Money())
    status: Mapped[str] = mapped_column(String(10), default="draft")
    memo: Mapped[str] = mapped_column(String(200), default="")
    voucher_id: Mapped[int | None] = mapped_column(ForeignKey("voucher.id"), nullable=True)
    settlement_id: Mapped[int | None] = mapped_column(ForeignKey("settlement.id"), nullable=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    audited_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), nullable=True)


class CashSettle(Base):
    """An invoice a receipt or payment settles as it is audited: `amount` of money and
    `writeoff`, a small difference written off to the settings' account."""

    __tablename__ = "cash_settle"
    __table_args__ = (UniqueConstraint("cash_doc_id", "line_no"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cash_doc_id: Mapped[int] = mapped_column(ForeignKey("cash_doc.id", ondelete="CASCADE"))
    line_no: Mapped[int] = mapped_column(Integer)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"))
    amount: Mapped[Decimal] = mapped_column(Money())
    writeoff: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))


class ArapItem(Base):
    """An open item (往来未清项): one posted voucher line on an AR/AP account for a partner,
    or an opening balance. amount is signed (debit +); open is what settlements left."""

    __tablename__ = "arap_item"
    __table_args__ = (
        Index("ix_arap_item_open", "account_id", "partner_id", "item_date", "id", "open"),
        Index("ix_arap_item_source", "source_type", "source_id"),
        Index("ix_arap_item_voucher", "voucher_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"))
    item_date: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money())
    open: Mapped[Decimal] = mapped_column(Money())
    # invoice | cash | settlement | stock_doc | voucher (manual) | opening | …: voucher.source_type
    source_type: Mapped[str] = mapped_column(String(30))
    source_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    voucher_id: Mapped[int | None] = mapped_column(ForeignKey("voucher.id"), nullable=True)
    line_no: Mapped[int | None] = mapped_column(Integer, nullable=True)
    memo: Mapped[str] = mapped_column(String(200), default="")


class Settlement(Base):
    """核销: debit items cleared against credit items of one partner. Made by a receipt or
    payment as it is audited, or on its own (applying a 预收/预付, offsetting a red
    invoice), with a voucher when it moves money between accounts (预收 → 应收)."""

    __tablename__ = "settlement"
    __table_args__ = (UniqueConstraint("no"), Index("ix_settlement_partner", "partner_id", "settle_date"),
                      Index("ix_settlement_date", "settle_date"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    no: Mapped[str] = mapped_column(String(40))
    side: Mapped[str] = mapped_column(String(10))
    settle_date: Mapped[date] = mapped_column(Date)
    period_id: Mapped[int] = mapped_column(ForeignKey("period.id"))
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"))
    voucher_id: Mapped[int | None] = mapped_column(ForeignKey("voucher.id"), nullable=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SettlementPair(Base):
    __tablename__ = "settlement_pair"
    __table_args__ = (Index("ix_settlement_pair_debit", "debit_item_id"),
                      Index("ix_settlement_pair_credit", "credit_item_id"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    settlement_id: Mapped[int] = mapped_column(ForeignKey("settlement.id", ondelete="CASCADE"))
    debit_item_id: Mapped[int] = mapped_column(ForeignKey("arap_item.id"))
    credit_item_id: Mapped[int] = mapped_column(ForeignKey("arap_item.id"))
    amount: Mapped[Decimal] = mapped_column(Money())
