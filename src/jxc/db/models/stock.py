"""Stock documents, the stock ledger and what costing keeps between documents."""

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
from sqlalchemy.orm import Mapped, mapped_column

from jxc.db.base import Base
from jxc.db.types import Money, Quantity, Rate, UnitCost


class ProductCategory(Base):
    """存货分类. Posting rules may name a category to send its stock to its own accounts."""

    __tablename__ = "product_category"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class PostingRule(Base):
    """Which accounts a stock document posts to, per document type and (optionally) category.
    The row with category '' is the document type's default."""

    __tablename__ = "posting_rule"
    __table_args__ = (UniqueConstraint("doc_type", "category"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    doc_type: Mapped[str] = mapped_column(String(30))
    category: Mapped[str] = mapped_column(String(40), default="")
    inventory_account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    counter_account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))


class DocSequence(Base):
    """The last number handed out per document type and period (CGRK-202606-0001)."""

    __tablename__ = "doc_sequence"
    doc_type: Mapped[str] = mapped_column(String(30), primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("period.id"), primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0)


class StockDoc(Base):
    """A stock document (单据): draft until audited; audited ones are in the stock ledger and
    have their voucher. A red-letter document (红字) reverses `source_id`, its original."""

    __tablename__ = "stock_doc"
    __table_args__ = (
        UniqueConstraint("doc_type", "no"),
        Index("ix_stock_doc_date", "doc_date", "id"),
        Index("ix_stock_doc_kind_date", "doc_type", "doc_date", "id"),  # the web lists, newest first
        Index("ix_stock_doc_source", "source_id"),
        Index("ix_stock_doc_partner", "partner_id", "doc_type", "status"),  # credit exposure, statements
        CheckConstraint("status IN ('draft','audited')", name="status"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    doc_type: Mapped[str] = mapped_column(String(30))
    no: Mapped[str] = mapped_column(String(40))
    doc_date: Mapped[date] = mapped_column(Date)
    period_id: Mapped[int] = mapped_column(ForeignKey("period.id"))
    status: Mapped[str] = mapped_column(String(10), default="draft")
    red: Mapped[bool] = mapped_column(Boolean, default=False)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"), nullable=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouse.id"))
    to_warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouse.id"), nullable=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("stock_doc.id"), nullable=True)
    counter_account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"), nullable=True)
    reason: Mapped[str] = mapped_column(String(200), default="")
    memo: Mapped[str] = mapped_column(String(200), default="")
    order_id: Mapped[int | None] = mapped_column(ForeignKey("trade_order.id"), nullable=True)
    salesperson: Mapped[str] = mapped_column(String(60), default="")
    created_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    audited_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), nullable=True)
    voucher_id: Mapped[int | None] = mapped_column(ForeignKey("voucher.id"), nullable=True)


class StockDocLine(Base):
    __tablename__ = "stock_doc_line"
    __table_args__ = (UniqueConstraint("doc_id", "line_no"), Index("ix_stock_doc_line_source", "source_line_id"),
                      Index("ix_stock_doc_line_order", "order_line_id"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    doc_id: Mapped[int] = mapped_column(ForeignKey("stock_doc.id", ondelete="CASCADE"))
    line_no: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    qty: Mapped[Decimal] = mapped_column(Quantity())  # stocktake: the counted quantity
    price: Mapped[Decimal | None] = mapped_column(UnitCost(), nullable=True)  # excluding tax
    tax_rate: Mapped[Decimal | None] = mapped_column(Rate(), nullable=True)
    amount: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)  # excluding tax; cost adjustment: the value
    tax: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    batch: Mapped[str] = mapped_column(String(40), default="")
    expiry: Mapped[date | None] = mapped_column(Date, nullable=True)
    book_qty: Mapped[Decimal | None] = mapped_column(Quantity(), nullable=True)  # stocktake, set at audit
    source_line_id: Mapped[int | None] = mapped_column(ForeignKey("stock_doc_line.id"), nullable=True)
    order_line_id: Mapped[int | None] = mapped_column(ForeignKey("trade_order_line.id"), nullable=True)
    # Invoicing (issue 4). On a receipt/delivery line: the quantity invoiced net of red invoices
    # on its returns, and (purchases) the 暂估 value those invoices cleared. On a return line:
    # the quantity its red invoices took.
    inv_qty: Mapped[Decimal] = mapped_column(Quantity(), default=Decimal(0), server_default="0")
    inv_value: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0), server_default="0")


class StockEntry(Base):
    """存货明细账: one row per document line per warehouse (a transfer line has two legs).
    Ordered per product/warehouse/batch by (entry_date, id); bal_* is the running balance
    after the entry. `dir` is the line's booked direction (+1 in, -1 out): a red-letter line
    moves against it, so its amounts on the voucher come out red (negative)."""

    __tablename__ = "stock_entry"
    __table_args__ = (
        UniqueConstraint("doc_line_id", "leg"),
        # Ledger order per key, and carrying the amounts: stock summaries and balances at a date
        # read this index alone instead of the wide rows (a month of 1,000,000 entries: 1.9 s -> 0.6 s).
        Index("ix_stock_entry_key", "product_id", "warehouse_id", "batch", "entry_date", "id", "dir", "qty", "value",
              "adjust"),
        Index("ix_stock_entry_date", "entry_date", "product_id"),
        Index("ix_stock_entry_doc", "doc_id"),
        Index("ix_stock_entry_source", "source_line_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    doc_id: Mapped[int] = mapped_column(ForeignKey("stock_doc.id"))
    doc_line_id: Mapped[int] = mapped_column(ForeignKey("stock_doc_line.id"))
    leg: Mapped[int] = mapped_column(SmallInteger, default=0)  # 1: the receiving leg of a transfer
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouse.id"))
    batch: Mapped[str] = mapped_column(String(40), default="")
    expiry: Mapped[date | None] = mapped_column(Date, nullable=True)
    entry_date: Mapped[date] = mapped_column(Date)
    period_id: Mapped[int] = mapped_column(ForeignKey("period.id"))
    dir: Mapped[int] = mapped_column(SmallInteger)
    qty: Mapped[Decimal] = mapped_column(Quantity())  # signed
    value: Mapped[Decimal] = mapped_column(Money())  # signed
    adjust: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))  # negative-stock settlement
    # How the value is decided: 'fixed' (priced), 'source' (the cost of source_line_id's entry),
    # 'cost' (by the costing method).
    basis: Mapped[str] = mapped_column(String(6))
    source_line_id: Mapped[int | None] = mapped_column(ForeignKey("stock_doc_line.id"), nullable=True)
    linked: Mapped[bool] = mapped_column(Boolean, default=False)  # another entry takes its cost from this one
    bal_qty: Mapped[Decimal] = mapped_column(Quantity())
    bal_value: Mapped[Decimal] = mapped_column(Money())
    unit_cost: Mapped[Decimal] = mapped_column(UnitCost())  # the balance's unit cost after the entry
    voucher_id: Mapped[int | None] = mapped_column(ForeignKey("voucher.id"), nullable=True)
    dr_account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"), nullable=True)
    cr_account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"), nullable=True)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"), nullable=True)
    dr_line: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    cr_line: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    adj_dr_line: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    adj_cr_line: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)


class StockBalance(Base):
    """The current balance per product/warehouse/batch: the last entry's running balance,
    kept so that an audit reads one row instead of the ledger. Locked in key order."""

    __tablename__ = "stock_balance"
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouse.id"), primary_key=True)
    batch: Mapped[str] = mapped_column(String(40), primary_key=True, default="")
    qty: Mapped[Decimal] = mapped_column(Quantity())
    value: Mapped[Decimal] = mapped_column(Money())
    last_unit: Mapped[Decimal] = mapped_column(UnitCost())
    last_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    expiry: Mapped[date | None] = mapped_column(Date, nullable=True)


class FifoLayer(Base):
    """What is left of one receipt under FIFO. Emptied layers stay (qty 0), so a back-dated
    document can give back what later issues took and cost them again."""

    __tablename__ = "fifo_layer"
    __table_args__ = (Index("ix_fifo_layer_key", "product_id", "warehouse_id", "batch", "entry_date", "entry_id"),)
    ident: Mapped[int] = mapped_column(Integer, primary_key=True)  # the receipt entry's line_id * 2 + leg
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouse.id"))
    batch: Mapped[str] = mapped_column(String(40), default="")
    # Layers are used in ledger order, (entry_date, entry_id) of the receipt that made them.
    entry_date: Mapped[date] = mapped_column(Date)
    entry_id: Mapped[int] = mapped_column(Integer)
    qty: Mapped[Decimal] = mapped_column(Quantity())
    value: Mapped[Decimal] = mapped_column(Money())


class FifoTake(Base):
    """What one FIFO issue took from one layer. Entries are named by ident = line_id * 2 + leg,
    which exists before the entry row does."""

    __tablename__ = "fifo_take"
    taker: Mapped[int] = mapped_column(Integer, primary_key=True)
    layer: Mapped[int] = mapped_column(Integer, primary_key=True)
    qty: Mapped[Decimal] = mapped_column(Quantity())
    value: Mapped[Decimal] = mapped_column(Money())


class CostRun(Base):
    """A monthly-average costing run of a period, and the voucher with its cost of sales."""

    __tablename__ = "cost_run"
    period_id: Mapped[int] = mapped_column(ForeignKey("period.id"), primary_key=True)
    ran_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ran_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    voucher_id: Mapped[int | None] = mapped_column(ForeignKey("voucher.id"), nullable=True)
