"""What surrounds one document: the documents it links to (both ways), the stock entries it
wrote, which actions its status and the user's permissions allow, and the kind of a document
known only by its table. Read-only; the document page and the API use it.

Every lookup follows an indexed path (stock_doc.source_id, stock_doc_line.source_line_id and
order_line_id, invoice_link by stock or invoice line, arap_item by source, settlement_pair by
item), so a page costs a handful of small queries at any book size.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select, union
from sqlalchemy.orm import Session

from jxc.db.base import table_of
from jxc.db.models import (
    ArapItem,
    CashDoc,
    CashSettle,
    Invoice,
    InvoiceLine,
    InvoiceLink,
    Partner,
    Period,
    Product,
    SettlementPair,
    StockDoc,
    StockDocLine,
    StockEntry,
    TradeOrder,
    TradeOrderLine,
    Voucher,
    Warehouse,
)
from jxc.domain import permissions as perm
from jxc.domain.errors import InvalidInput, NotFound
from jxc.domain.numbers import unit_cost
from jxc.domain.permissions import Actor, require
from jxc.domain.status import VOUCHER_ACTIONS, VoucherAction, VoucherStatus
from jxc.domain.trade import OrderStatus
from jxc.services.common import reading
from jxc.services.documents import READ_PERMISSION, entity_of
from jxc.services.orders import _ACTIONS as ORDER_ACTIONS
from jxc.services.stock import _REVERSIBLE
from jxc.services.vouchers import _ACTION_PERMISSION as VOUCHER_PERMISSION
from jxc.services.vouchers import REVERSAL

DOC = table_of(StockDoc)
LINE = table_of(StockDocLine)
ENTRY = table_of(StockEntry)
ORDER = table_of(TradeOrder)
OLINE = table_of(TradeOrderLine)
INVOICE = table_of(Invoice)
ILINE = table_of(InvoiceLine)
ILINK = table_of(InvoiceLink)
CASH = table_of(CashDoc)
CSETTLE = table_of(CashSettle)
ITEM = table_of(ArapItem)
PAIR = table_of(SettlementPair)
VOUCHER = table_of(Voucher)
PERIOD = table_of(Period)
PRODUCT = table_of(Product)
PARTNER = table_of(Partner)
WAREHOUSE = table_of(Warehouse)

# How a linked document stands to the one shown, in the order a page lists them.
RELATIONS: tuple[str, ...] = (
    "order",            # the order this receipt/delivery was made from
    "from_order",       # a receipt/delivery (or its return) made from this order
    "returns",          # the document this return gives back
    "returned_by",      # a return of this document
    "reverses",         # the original this red-letter document (or voucher) reverses
    "reversed_by",      # the red-letter document (or voucher) reversing this one
    "billed",           # a receipt/delivery/return this invoice bills
    "invoice",          # an invoice billing this document (or this order's documents)
    "cost_adjustment",  # the cost adjustment an invoice's price difference made
    "settles",          # an invoice this receipt/payment (or red invoice) settles
    "settled_by",       # a receipt/payment (or red invoice) settling this invoice
    "source",           # the document that generated this voucher
    "voucher",          # this document's voucher
)
_RANK = {r: i for i, r in enumerate(RELATIONS)}

# voucher.source_type / arap_item.source_type -> the document table it names.
_SOURCE_ENTITY = {"stock_doc": "stock_doc", "invoice": "invoice", "cash": "cash_doc", REVERSAL: "voucher"}


@dataclass(frozen=True, slots=True)
class Link:
    entity: str  # stock_doc | order | invoice | cash_doc | voucher
    kind: str  # purchase_receipt, sales_order, receipt, voucher, ...
    id: int
    no: str  # a voucher: "2026-03 记-0012"
    date: date
    status: str
    relation: str  # one of RELATIONS


def document_links(db: Session, entity: str, doc_id: int, *, actor: Actor) -> list[Link]:
    """The documents linked to document `doc_id` of table `entity`, both ways: order <->
    receipts/deliveries, receipt/delivery <-> invoices, invoice <-> receipts/payments settling
    it, return <-> what it returns, red-letter <-> original, voucher <-> the document that
    generated it. Only documents the actor may read are listed, by relation, then date.
    Raises NotFound, PermissionDenied."""
    if entity == "cash":
        entity = "cash_doc"
    if entity not in READ_PERMISSION:
        raise InvalidInput(field="entity", reason="input.choice", value=entity,
                           choices=", ".join(READ_PERMISSION))
    require(actor, READ_PERMISSION[entity])
    with reading(db):
        refs = _GATHER[entity](db, doc_id)
        links = _resolve(db, refs)
    seen: set[tuple[str, int, str]] = set()
    out = []
    for link in links:
        key = (link.entity, link.id, link.relation)
        if key in seen or (link.entity == entity and link.id == doc_id):
            continue
        seen.add(key)
        if actor.can(READ_PERMISSION[link.entity]):
            out.append(link)
    out.sort(key=lambda k: (_RANK[k.relation], k.date, k.id))
    return out


Ref = tuple[str, int, str]  # (entity, id, relation)


def _one(db: Session, table: Any, doc_id: int, *cols: Any) -> Any:
    row = db.execute(select(*cols).where(table.c.id == doc_id)).one_or_none()
    if row is None:
        raise NotFound(entity=_ENTITY_OF_TABLE[table.name], key=doc_id)
    return row


def _stock_refs(db: Session, doc_id: int) -> list[Ref]:
    d = _one(db, DOC, doc_id, DOC.c.red, DOC.c.source_id, DOC.c.order_id, DOC.c.voucher_id)
    refs: list[Ref] = []
    back = "reverses" if d.red else "returns"
    if d.source_id is not None:
        refs.append(("stock_doc", d.source_id, back))
    my_lines = select(LINE.c.id).where(LINE.c.doc_id == doc_id)
    # What its lines came from: the order, and the lines a return or reversal gives back.
    src = LINE.alias("src")
    for r in db.execute(select(LINE.c.source_line_id, LINE.c.order_line_id, src.c.doc_id, OLINE.c.order_id)
                        .outerjoin(src, src.c.id == LINE.c.source_line_id)
                        .outerjoin(OLINE, OLINE.c.id == LINE.c.order_line_id)
                        .where(LINE.c.doc_id == doc_id)):
        if r.doc_id is not None:
            refs.append(("stock_doc", r.doc_id, back))
        if r.order_id is not None:
            refs.append(("order", r.order_id, "order"))
    if d.order_id is not None:
        refs.append(("order", d.order_id, "order"))
    # What came from it: returns and red-letter reversals, by document and by line.
    later = select(DOC.c.id, DOC.c.red).where(DOC.c.source_id == doc_id)
    by_line = (select(DOC.c.id, DOC.c.red).join(LINE, LINE.c.doc_id == DOC.c.id)
               .where(LINE.c.source_line_id.in_(my_lines)))
    for later_doc in db.execute(union(later, by_line)):
        refs.append(("stock_doc", later_doc.id, "reversed_by" if later_doc.red else "returned_by"))
    # Invoices billing its lines, and the cost adjustments their price differences made.
    for bill in db.execute(select(ILINE.c.invoice_id, ILINK.c.adjust_doc_id)
                           .join(ILINE, ILINE.c.id == ILINK.c.invoice_line_id)
                           .where(ILINK.c.stock_line_id.in_(my_lines))):
        refs.append(("invoice", bill.invoice_id, "invoice"))
        if bill.adjust_doc_id is not None:
            refs.append(("stock_doc", bill.adjust_doc_id, "cost_adjustment"))
    if d.voucher_id is not None:
        refs.append(("voucher", d.voucher_id, "voucher"))
    return refs


def _order_refs(db: Session, doc_id: int) -> list[Ref]:
    _one(db, ORDER, doc_id, ORDER.c.id)
    order_lines = select(OLINE.c.id).where(OLINE.c.order_id == doc_id)
    stock_lines = select(LINE.c.id).where(LINE.c.order_line_id.in_(order_lines))
    refs: list[Ref] = [("stock_doc", r, "from_order") for r in db.execute(
        select(LINE.c.doc_id).where(LINE.c.order_line_id.in_(order_lines)).distinct()).scalars()]
    refs += [("invoice", r, "invoice") for r in db.execute(
        select(ILINE.c.invoice_id).join(ILINK, ILINK.c.invoice_line_id == ILINE.c.id)
        .where(ILINK.c.stock_line_id.in_(stock_lines)).distinct()).scalars()]
    return refs


def _settled_with(db: Session, source_type: str, doc_id: int) -> list[tuple[str, int]]:
    """(source_type, source_id) of the open items settled against this document's items."""
    mine = select(ITEM.c.id).where(ITEM.c.source_type == source_type, ITEM.c.source_id == doc_id)
    other = ITEM.alias("other")
    as_debit = (select(other.c.source_type, other.c.source_id).join(PAIR, PAIR.c.credit_item_id == other.c.id)
                .where(PAIR.c.debit_item_id.in_(mine)))
    as_credit = (select(other.c.source_type, other.c.source_id).join(PAIR, PAIR.c.debit_item_id == other.c.id)
                 .where(PAIR.c.credit_item_id.in_(mine)))
    return [(r.source_type, r.source_id) for r in db.execute(union(as_debit, as_credit))
            if r.source_id is not None]


def _invoice_refs(db: Session, doc_id: int) -> list[Ref]:
    inv = _one(db, INVOICE, doc_id, INVOICE.c.voucher_id)
    refs: list[Ref] = []
    for r in db.execute(select(LINE.c.doc_id, ILINK.c.adjust_doc_id)
                        .join(ILINK, ILINK.c.stock_line_id == LINE.c.id)
                        .join(ILINE, ILINE.c.id == ILINK.c.invoice_line_id)
                        .where(ILINE.c.invoice_id == doc_id)):
        refs.append(("stock_doc", r.doc_id, "billed"))
        if r.adjust_doc_id is not None:
            refs.append(("stock_doc", r.adjust_doc_id, "cost_adjustment"))
    for source_type, source_id in _settled_with(db, "invoice", doc_id):
        if source_type == "cash":
            refs.append(("cash_doc", source_id, "settled_by"))
        elif source_type == "invoice":
            refs.append(("invoice", source_id, "settled_by"))
    if inv.voucher_id is not None:
        refs.append(("voucher", inv.voucher_id, "voucher"))
    return refs


def _cash_refs(db: Session, doc_id: int) -> list[Ref]:
    doc = _one(db, CASH, doc_id, CASH.c.voucher_id)
    refs: list[Ref] = [("invoice", r, "settles") for r in db.execute(
        select(CSETTLE.c.invoice_id).where(CSETTLE.c.cash_doc_id == doc_id)).scalars()]
    refs += [("invoice", source_id, "settles") for source_type, source_id in _settled_with(db, "cash", doc_id)
             if source_type == "invoice"]
    if doc.voucher_id is not None:
        refs.append(("voucher", doc.voucher_id, "voucher"))
    return refs


def _voucher_refs(db: Session, doc_id: int) -> list[Ref]:
    v = _one(db, VOUCHER, doc_id, VOUCHER.c.source_type, VOUCHER.c.source_id)
    refs: list[Ref] = []
    if v.source_type == REVERSAL and v.source_id is not None:
        refs.append(("voucher", v.source_id, "reverses"))
    elif v.source_type in _SOURCE_ENTITY and v.source_id is not None:
        refs.append((_SOURCE_ENTITY[v.source_type], v.source_id, "source"))
    if v.source_type is None:
        # TODO(lead): an index on voucher (source_type, source_id) makes this a lookup. #6
        refs += [("voucher", r, "reversed_by") for r in db.execute(
            select(VOUCHER.c.id).where(VOUCHER.c.source_type == REVERSAL, VOUCHER.c.source_id == doc_id)).scalars()]
    return refs


_GATHER = {"stock_doc": _stock_refs, "order": _order_refs, "invoice": _invoice_refs, "cash_doc": _cash_refs,
           "voucher": _voucher_refs}
_ENTITY_OF_TABLE = {"stock_doc": "stock_doc", "trade_order": "order", "invoice": "invoice", "cash_doc": "cash_doc",
                    "voucher": "voucher"}


def _side_kind(entity: str, side: str) -> str:
    purchase = side == "purchase"
    if entity == "order":
        return "purchase_order" if purchase else "sales_order"
    if entity == "invoice":
        return "purchase_invoice" if purchase else "sales_invoice"
    return "payment" if purchase else "receipt"


def _resolve(db: Session, refs: Iterable[Ref]) -> list[Link]:
    """Number, date and status of every referenced document: one query per table."""
    wanted: dict[str, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    for entity, ident, relation in refs:
        wanted[entity][int(ident)].append(relation)
    out: list[Link] = []
    for entity, by_id in wanted.items():
        ids = sorted(by_id)
        if entity == "stock_doc":
            rows = db.execute(select(DOC.c.id, DOC.c.doc_type, DOC.c.no, DOC.c.doc_date, DOC.c.status)
                              .where(DOC.c.id.in_(ids)))
            found = [(r.id, r.doc_type, r.no, r.doc_date, r.status) for r in rows]
        elif entity == "voucher":
            rows = db.execute(select(VOUCHER.c.id, VOUCHER.c.word, VOUCHER.c.number, VOUCHER.c.voucher_date,
                                     VOUCHER.c.status, PERIOD.c.year, PERIOD.c.month)
                              .join(PERIOD, PERIOD.c.id == VOUCHER.c.period_id).where(VOUCHER.c.id.in_(ids)))
            found = [(r.id, "voucher", f"{r.year:04d}-{r.month:02d} {r.word}-{r.number:04d}", r.voucher_date,
                      r.status) for r in rows]
        else:
            table, day = {"order": (ORDER, ORDER.c.order_date), "invoice": (INVOICE, INVOICE.c.invoice_date),
                          "cash_doc": (CASH, CASH.c.doc_date)}[entity]
            rows = db.execute(select(table.c.id, table.c.side, table.c.no, day.label("day"), table.c.status)
                              .where(table.c.id.in_(ids)))
            found = [(r.id, _side_kind(entity, r.side), r.no, r.day, r.status) for r in rows]
        for ident, kind, no, day_, status in found:
            out.extend(Link(entity, kind, ident, no, day_, status, rel) for rel in by_id[ident])
    return out


# --- stock entries --------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class EntryView:
    line_no: int
    product: str
    product_name: str
    warehouse: str
    batch: str
    entry_date: date
    qty_in: Decimal | None  # in the line's booked direction; a red-letter line shows negative
    qty_out: Decimal | None
    unit_cost: Decimal | None  # the entry's own cost per unit (value / qty)
    value: Decimal  # in the line's direction, like the quantity
    bal_qty: Decimal  # the balance of product/warehouse/batch after the entry
    bal_value: Decimal


def stock_entries(db: Session, doc_id: int, *, actor: Actor) -> list[EntryView]:
    """The stock ledger entries (存货明细账) a stock document wrote, in line order (a transfer
    line has its issuing then its receiving leg), with the running balance after each.
    Empty for a draft. Raises PermissionDenied."""
    require(actor, perm.STOCK_READ)
    with reading(db):
        rows = db.execute(
            select(LINE.c.line_no, PRODUCT.c.code, PRODUCT.c.name, WAREHOUSE.c.code.label("warehouse"),
                   ENTRY.c.batch, ENTRY.c.entry_date, ENTRY.c.dir, ENTRY.c.qty, ENTRY.c.value, ENTRY.c.bal_qty,
                   ENTRY.c.bal_value)
            .join(LINE, LINE.c.id == ENTRY.c.doc_line_id)
            .join(PRODUCT, PRODUCT.c.id == ENTRY.c.product_id)
            .join(WAREHOUSE, WAREHOUSE.c.id == ENTRY.c.warehouse_id)
            .where(ENTRY.c.doc_id == doc_id)
            .order_by(LINE.c.line_no, ENTRY.c.leg, ENTRY.c.id)).all()
    out = []
    for r in rows:
        moved = r.qty * r.dir  # the line's own sign: positive unless the line is red
        value = r.value * r.dir
        out.append(EntryView(r.line_no, r.code, r.name, r.warehouse, r.batch, r.entry_date,
                             moved if r.dir > 0 else None, moved if r.dir < 0 else None,
                             unit_cost(value / moved) if moved else None, value, r.bal_qty, r.bal_value))
    return out


def partner_names(db: Session, codes: Iterable[str | None], *, actor: Actor) -> dict[str, str]:
    """code -> name of these partners (a document view carries codes only)."""
    require(actor, perm.MASTERDATA_READ)
    wanted = sorted({c for c in codes if c})
    if not wanted:
        return {}
    with reading(db):
        return {r.code: r.name for r in db.execute(
            select(PARTNER.c.code, PARTNER.c.name).where(PARTNER.c.code.in_(wanted)))}


# --- what may be done -----------------------------------------------------------------

CREATE_PERMISSION = {"stock_doc": perm.STOCK_CREATE, "order": perm.ORDER_CREATE, "invoice": perm.INVOICE_CREATE,
                     "cash_doc": perm.CASH_CREATE, "voucher": perm.VOUCHER_CREATE}

# The statuses a list can be filtered by, in lifecycle order.
STATUSES = {"stock_doc": ("draft", "audited"), "order": tuple(s.value for s in OrderStatus),
            "invoice": ("draft", "audited"), "cash_doc": ("draft", "audited"),
            "voucher": tuple(s.value for s in VoucherStatus)}

# A receipt/delivery is billed by an invoice of its side; an audited order makes receipts/deliveries.
INVOICE_FOR = {"purchase_receipt": "purchase_invoice", "sales_delivery": "sales_invoice"}
STOCK_FOR = {"purchase_order": "purchase_receipt", "sales_order": "sales_delivery"}


def can_create(kind: str, actor: Actor) -> bool:
    """Whether the actor may enter new documents of `kind`."""
    return actor.can(CREATE_PERMISSION[entity_of(kind)])


def statuses_of(kind: str) -> tuple[str, ...]:
    return STATUSES[entity_of(kind)]


def allowed_actions(db: Session, kind: str, doc_id: int, *, actor: Actor) -> list[str]:
    """The actions the document's status allows and the actor may take, in the order a page
    shows them: audit, audit_override (an invoice past a failed three-way match), unaudit,
    close/reopen/cancel (orders), post/unpost/void (vouchers), reverse (红字冲销: an audited
    receipt/delivery/return/other in-out not itself red, a posted manual voucher), delete (a
    draft), and make_stock / make_invoice (the next document from this one). The services
    still decide: a listed action may be refused (closed period, something depends on it)."""
    entity = entity_of(kind)
    require(actor, READ_PERMISSION[entity])
    with reading(db):
        if entity == "voucher":
            v = _one(db, VOUCHER, doc_id, VOUCHER.c.status, VOUCHER.c.source_type)
            if v.source_type not in (None, REVERSAL):
                return []  # generated: corrected through its document
            acts = [a.value for a in VoucherAction
                    if VOUCHER_ACTIONS[a][0] == v.status and actor.can(VOUCHER_PERMISSION[a])]
            if v.status == VoucherStatus.POSTED and v.source_type is None and actor.can(perm.VOUCHER_CREATE):
                acts.append("reverse")
            return acts
        table = {"stock_doc": DOC, "order": ORDER, "invoice": INVOICE, "cash_doc": CASH}[entity]
        red = table.c.red if entity in ("stock_doc", "invoice") else table.c.id
        row = _one(db, table, doc_id, table.c.status, red.label("red"))
    status = row.status
    is_red = bool(row.red) if entity in ("stock_doc", "invoice") else False
    audit_perm = {"stock_doc": perm.STOCK_AUDIT, "order": perm.ORDER_AUDIT, "invoice": perm.INVOICE_AUDIT,
                  "cash_doc": perm.CASH_AUDIT}[entity]
    create_perm = CREATE_PERMISSION[entity]
    acts = []
    if entity == "order":
        if actor.can(audit_perm):
            acts += [a for a in ("audit", "unaudit", "close", "reopen", "cancel") if status in ORDER_ACTIONS[a][0]]
        if status == OrderStatus.DRAFT and actor.can(create_perm):
            acts.append("delete")
        if status == OrderStatus.AUDITED and kind in STOCK_FOR and actor.can(perm.STOCK_CREATE):
            acts.append("make_stock")
        return acts
    if status == "draft":
        if actor.can(audit_perm):
            acts.append("audit")
            if entity == "invoice" and actor.can(perm.INVOICE_OVERRIDE):
                acts.append("audit_override")
        if actor.can(create_perm):
            acts.append("delete")
    elif status == "audited":
        if actor.can(audit_perm):
            acts.append("unaudit")
        if (entity == "stock_doc" and not is_red and kind in {t.value for t in _REVERSIBLE}
                and actor.can(perm.STOCK_CREATE)):
            acts.append("reverse")
        if entity == "stock_doc" and not is_red and kind in INVOICE_FOR and actor.can(perm.INVOICE_CREATE):
            acts.append("make_invoice")
    return acts


def kind_of(db: Session, entity: str, doc_id: int, *, actor: Actor) -> str:
    """The document type of document `doc_id` of table `entity` (stock_doc, order, invoice,
    cash_doc or cash, voucher), so a report can link to a document knowing only its table.
    Raises NotFound, PermissionDenied, InvalidInput (an unknown table)."""
    if entity == "cash":
        entity = "cash_doc"
    if entity not in READ_PERMISSION:
        raise InvalidInput(field="entity", reason="input.choice", value=entity,
                           choices=", ".join(READ_PERMISSION))
    require(actor, READ_PERMISSION[entity])
    with reading(db):
        if entity == "voucher":
            _one(db, VOUCHER, doc_id, VOUCHER.c.id)
            return "voucher"
        if entity == "stock_doc":
            return str(_one(db, DOC, doc_id, DOC.c.doc_type).doc_type)
        table = {"order": ORDER, "invoice": INVOICE, "cash_doc": CASH}[entity]
        return _side_kind(entity, _one(db, table, doc_id, table.c.side).side)
