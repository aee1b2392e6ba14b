"""Stock document types and what each one does to stock and to the books.

Each type has a booked direction (in or out), says whether its lines carry a
price that values them, which partner kind it names, and the number prefix
(CGRK-202606-0001). The voucher an entry contributes to follows from the
direction: into stock, Dr inventory / Cr counter account; out of stock,
Dr counter / Cr inventory. A red-letter (红字) document books the same sides
with negative amounts, so it cancels its original line for line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from jxc.domain.errors import DomainError


class DocType(StrEnum):
    PURCHASE_RECEIPT = "purchase_receipt"  # 采购入库
    PURCHASE_RETURN = "purchase_return"  # 采购退货
    SALES_DELIVERY = "sales_delivery"  # 销售出库
    SALES_RETURN = "sales_return"  # 销售退货
    TRANSFER = "transfer"  # 调拨
    OTHER_IN = "other_in"  # 其他入库
    OTHER_OUT = "other_out"  # 其他出库
    STOCKTAKE = "stocktake"  # 盘点
    COST_ADJUSTMENT = "cost_adjustment"  # 成本调整
    OPENING_STOCK = "opening_stock"  # 期初库存: no voucher, the GL opening balance carries it


class DocStatus(StrEnum):
    DRAFT = "draft"
    AUDITED = "audited"


IN, OUT = 1, -1


@dataclass(frozen=True, slots=True)
class DocKind:
    prefix: str
    direction: int  # IN or OUT; 0: decided per line (stocktake) or value only (cost adjustment)
    priced: bool  # lines carry the price that values them
    partner: str | None  # "supplier", "customer" or None
    source: DocType | None = None  # the type a return names as its source


KINDS: dict[DocType, DocKind] = {
    DocType.PURCHASE_RECEIPT: DocKind("CGRK", IN, True, "supplier"),
    DocType.PURCHASE_RETURN: DocKind("CGTH", OUT, False, "supplier", DocType.PURCHASE_RECEIPT),
    DocType.SALES_DELIVERY: DocKind("XSCK", OUT, False, "customer"),
    DocType.SALES_RETURN: DocKind("XSTH", IN, False, "customer", DocType.SALES_DELIVERY),
    DocType.TRANSFER: DocKind("DB", OUT, False, None),
    DocType.OTHER_IN: DocKind("QTRK", IN, True, None),
    DocType.OTHER_OUT: DocKind("QTCK", OUT, False, None),
    DocType.STOCKTAKE: DocKind("PD", 0, False, None),
    DocType.COST_ADJUSTMENT: DocKind("CBTZ", 0, False, None),
    DocType.OPENING_STOCK: DocKind("QCKC", IN, True, None),
}

SETTLEMENT = "settlement"  # the posting rule for negative-stock settlements (Dr cost of sales / Cr inventory)


def doc_number(doc_type: DocType, year: int, month: int, number: int) -> str:
    return f"{KINDS[doc_type].prefix}-{year:04d}{month:02d}-{number:04d}"


def parse_doc_number(doc_type: DocType, year: int, month: int, no: str) -> int | None:
    """The sequence number in `no` when it has this type's pattern for this period (the form
    doc_number makes, with any number of digits), else None."""
    head = f"{KINDS[doc_type].prefix}-{year:04d}{month:02d}-"
    tail = no[len(head):] if no.startswith(head) else ""
    return int(tail) if tail.isascii() and tail.isdigit() else None


def partner_fits(kind: str, wanted: str | None) -> bool:
    """A partner of `kind` (supplier/customer/both) may appear on a document wanting `wanted`."""
    return wanted is None or kind in (wanted, "both")


class StockDocRefused(DomainError, code="stock.refused"):
    """A document cannot take this step. params: document, reason (a message code) and its params."""


class DependentDocuments(DomainError, code="stock.has_dependents"):
    """Un-audit refused: later documents return or reverse this one. params: document, dependents."""


@dataclass(frozen=True, slots=True)
class BatchStock:
    batch: str
    expiry: date | None
    qty: Decimal


def fefo(batches: list[BatchStock], wanted: Decimal) -> list[tuple[str, Decimal]]:
    """先到期先出: take `wanted` from the batches expiring first (no expiry last, then by batch
    code), as (batch, qty) pairs. Takes less than wanted when there is not enough."""
    order = sorted((b for b in batches if b.qty > 0),
                   key=lambda b: (b.expiry is None, b.expiry or date.max, b.batch))
    picks: list[tuple[str, Decimal]] = []
    left = wanted
    for b in order:
        if left <= 0:
            break
        take = min(b.qty, left)
        picks.append((b.batch, take))
        left -= take
    return picks
