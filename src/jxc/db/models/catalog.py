from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from jxc.db.base import Base
from jxc.db.types import Money, Quantity, Rate


class Partner(Base):
    """往来单位: a customer, a supplier or both."""

    __tablename__ = "partner"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))
    credit_limit: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Warehouse(Base):
    __tablename__ = "warehouse"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Product(Base):
    __tablename__ = "product"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(20))
    spec: Mapped[str | None] = mapped_column(String(200), nullable=True)  # 规格型号
    category: Mapped[str | None] = mapped_column(String(100), nullable=True)
    costing_method: Mapped[str] = mapped_column(String(20), default="moving_average")
    tax_rate: Mapped[Decimal] = mapped_column(Rate())
    barcode: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    batch_tracked: Mapped[bool] = mapped_column(Boolean, default=False)
    shelf_life_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    min_qty: Mapped[Decimal | None] = mapped_column(Quantity(), nullable=True)
    max_qty: Mapped[Decimal | None] = mapped_column(Quantity(), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
