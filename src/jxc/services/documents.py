"""Every document type behind one door, for the web UI and the API: create (from the
INTERCHANGE record shape, with an optional idempotency key), act on (audit, un-audit, ...),
read one, and list a page at a time.

Nothing here is a business rule: creation goes through the importer's record mapping and the
same `enter_*` functions as every other path; actions call the documents' own services.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jxc.db.base import table_of
from jxc.db.models import CashDoc, IdempotencyKey, Invoice, Partner, StockDoc, TradeOrder, Voucher, Warehouse
from jxc.db.models import StockDocLine as _StockDocLine
from jxc.domain import permissions as perm
from jxc.domain.auditchain import canonical_json
from jxc.domain.errors import IdempotencyMismatch, InvalidInput, NotFound
from jxc.domain.permissions import Actor, require
from jxc.domain.status import VoucherAction, VoucherStatus
from jxc.services import cash, importer, invoices, orders, stock, vouchers
from jxc.services.common import PERIOD, deferred_audit, reading, retrying, utcnow
from jxc.services.importer import CASH_DOCS, INVOICES, ORDERS, STOCK_DOCS, Created

IDEM = table_of(IdempotencyKey)
DOC = table_of(StockDoc)
DOC_LINE = table_of(_StockDocLine)
ORDER = table_of(TradeOrder)
INVOICE = table_of(Invoice)
CASH = table_of(CashDoc)
VOUCHER = table_of(Voucher)
PARTNER = table_of(Partner)
WAREHOUSE = table_of(Warehouse)

KINDS: tuple[str, ...] = (*STOCK_DOCS, *ORDERS, *INVOICES, *CASH_DOCS, "voucher")


def entity_of(kind: str) -> str:
    """The table family of a document type: stock_doc, order, invoice, cash_doc or voucher."""
    if kind in STOCK_DOCS:
        return "stock_doc"
    if kind in ORDERS:
        return "order"
    if kind in INVOICES:
        return "invoice"
    if kind in CASH_DOCS:
        return "cash_doc"
    if kind == "voucher":
        return "voucher"
    raise InvalidInput(field="type", reason="input.choice", value=kind, choices=", ".join(KINDS))


def side_of(kind: str) -> str:
    return "purchase" if kind in ("purchase_order", "purchase_invoice", "payment") else "sales"


READ_PERMISSION = {"stock_doc": perm.STOCK_READ, "order": perm.TRADE_READ, "invoice": perm.TRADE_READ,
                   "cash_doc": perm.TRADE_READ, "voucher": perm.LEDGER_READ}


# --- create ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CreateResult:
    created: Created
    replayed: bool  # True: an earlier request with the same Idempotency-Key made it


def fingerprint(kind: str, body: Any, audit: bool) -> str:
    return hashlib.sha256(canonical_json({"kind": kind, "audit": audit, "body": body}).encode()).hexdigest()


def create_document(db: Session, kind: str, body: dict[str, Any], *, actor: Actor, audit: bool = False,
                    idempotency_key: str | None = None) -> CreateResult:
    """Create a document of `kind` from an INTERCHANGE record (without needing its `type`),
    optionally audited (posted, for a voucher) in the same transaction.

    With an idempotency key, the same user sending the same key and body again gets the first
    document back (replayed) instead of a second one; the same key with another body is refused
    (IdempotencyMismatch). The key is stored in the document's own transaction, so a document
    exists exactly when its key does. Raises InvalidInput/BatchInvalid naming the field,
    PermissionDenied, and whatever the document's rules refuse."""
    entity_of(kind)
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 200:
        raise InvalidInput(field="Idempotency-Key", reason="input.too_long", max_length=200)
    raw = {**body, "type": kind}
    for permission in importer._permissions_for([kind], audit):
        require(actor, permission)
    record = importer.parse_object(raw, every_error=True)
    fp = fingerprint(kind, body, audit)
    advance = VoucherStatus.POSTED if audit else VoucherStatus.DRAFT

    def replay() -> CreateResult | None:
        row = db.execute(select(IDEM.c.fingerprint, IDEM.c.result)
                         .where(IDEM.c.user_id == actor.id, IDEM.c.key == idempotency_key)).one_or_none()
        if row is None:
            return None
        if row.fingerprint != fp:
            raise IdempotencyMismatch(key=idempotency_key)
        return CreateResult(Created(**json.loads(row.result)), True)

    def work() -> CreateResult:
        with db.begin(), deferred_audit(db, actor):
            if idempotency_key is not None:
                earlier = replay()
                if earlier is not None:
                    return earlier
            created = importer._apply(db, record, actor, advance, event="create")
            assert created is not None
            if idempotency_key is not None:
                db.execute(IDEM.insert().values(
                    user_id=actor.id, key=idempotency_key, fingerprint=fp, entity=created.entity,
                    entity_id=created.id, created_at=utcnow(),
                    result=json.dumps({"entity": created.entity, "id": created.id, "no": created.no,
                                       "status": created.status})))
            return CreateResult(created, False)

    try:
        return retrying(work)
    except IntegrityError:
        # Two requests with one key at once: the other committed first; ours rolled back whole.
        if idempotency_key is None:
            raise
        db.rollback()
        with reading(db):
            earlier = replay()
        if earlier is None:
            raise
        return earlier


# --- actions --------------------------------------------------------------------------

ACTIONS: dict[str, tuple[str, ...]] = {
    "stock_doc": ("audit", "unaudit", "delete"),
    "order": ("audit", "unaudit", "close", "reopen", "cancel", "delete"),
    "invoice": ("audit", "unaudit", "delete"),
    "cash_doc": ("audit", "unaudit", "delete"),
    "voucher": ("audit", "unaudit", "post", "unpost", "void"),
}


def document_action(db: Session, kind: str, doc_id: int, action: str, *, actor: Actor,
                    override_match: bool = False) -> Created | None:
    """Audit, un-audit, delete (a draft) and the like, through the document's own service.
    Returns the document's new state (None after a delete)."""
    entity = entity_of(kind)
    if action not in ACTIONS[entity]:
        raise InvalidInput(field="action", reason="input.choice", value=action, choices=", ".join(ACTIONS[entity]))
    _check_kind(db, kind, doc_id)
    if entity == "stock_doc":
        if action == "delete":
            stock.delete_stock_doc(db, doc_id, actor=actor)
            return None
        step = stock.audit_stock_doc if action == "audit" else stock.unaudit_stock_doc
        ref = step(db, doc_id, actor=actor)
        return Created(entity, ref.id, ref.no, ref.status)
    if entity == "order":
        if action == "delete":
            orders.delete_order(db, doc_id, actor=actor)
            return None
        oref = orders.order_action(db, doc_id, action, actor=actor)
        return Created(entity, oref.id, oref.no, oref.status)
    if entity == "invoice":
        if action == "delete":
            invoices.delete_invoice(db, doc_id, actor=actor)
            return None
        iref = (invoices.audit_invoice(db, doc_id, actor=actor, override_match=override_match) if action == "audit"
                else invoices.unaudit_invoice(db, doc_id, actor=actor))
        return Created(entity, iref.id, iref.no, iref.status)
    if entity == "cash_doc":
        if action == "delete":
            cash.delete_cash(db, doc_id, actor=actor)
            return None
        cref = (cash.audit_cash if action == "audit" else cash.unaudit_cash)(db, doc_id, actor=actor)
        return Created(entity, cref.id, cref.no, cref.status)
    vref = vouchers.apply_action(db, doc_id, VoucherAction(action), actor=actor)
    return Created(entity, vref.id, f"{vref.period} {vref.label}", vref.status)


def _check_kind(db: Session, kind: str, doc_id: int) -> None:
    """The id must be a document of this kind: /purchase_receipt/7 must not audit sales order 7."""
    with reading(db):
        if db.execute(_kind_query(kind, doc_id)).first() is None:
            raise NotFound(entity=entity_of(kind), key=doc_id)


def _kind_query(kind: str, doc_id: int) -> Any:
    entity = entity_of(kind)
    if entity == "stock_doc":
        return select(DOC.c.id).where(DOC.c.id == doc_id, DOC.c.doc_type == kind)
    if entity == "voucher":
        return select(VOUCHER.c.id).where(VOUCHER.c.id == doc_id)
    table = {"order": ORDER, "invoice": INVOICE, "cash_doc": CASH}[entity]
    return select(table.c.id).where(table.c.id == doc_id, table.c.side == side_of(kind))


# --- read -----------------------------------------------------------------------------

def get_document(db: Session, kind: str, doc_id: int, *, actor: Actor) -> Any:
    """The document's own view (DocView, OrderView, InvoiceView, CashView or VoucherView)."""
    entity = entity_of(kind)
    require(actor, READ_PERMISSION[entity])
    _check_kind(db, kind, doc_id)
    getters: dict[str, Callable[..., Any]] = {
        "stock_doc": stock.get_stock_doc, "order": orders.get_order, "invoice": invoices.get_invoice,
        "cash_doc": cash.get_cash, "voucher": vouchers.get_voucher}
    return getters[entity](db, doc_id, actor=actor)


def find_document(db: Session, kind: str, no: str, *, actor: Actor) -> int:
    """The id of the document of `kind` numbered `no` (a voucher: "2026-03 记-0001")."""
    entity = entity_of(kind)
    require(actor, READ_PERMISSION[entity])
    if entity == "voucher":
        period, _, label = no.partition(" ")
        with reading(db):
            return vouchers.find_voucher_id(db, period, label)
    with reading(db):
        if entity == "stock_doc":
            q = select(DOC.c.id).where(DOC.c.doc_type == kind, DOC.c.no == no)
        else:
            table = {"order": ORDER, "invoice": INVOICE, "cash_doc": CASH}[entity]
            q = select(table.c.id).where(table.c.side == side_of(kind), table.c.no == no)
        found = db.execute(q).scalar()
    if found is None:
        raise NotFound(entity=entity, key=no)
    return int(found)


# --- lists ----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class DocRow:
    id: int
    kind: str
    no: str
    date: date
    status: str
    red: bool
    partner: str | None
    partner_name: str | None
    warehouse: str | None
    amount: Decimal | None  # total incl. tax where the document has one
    memo: str


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[DocRow]
    next_cursor: str | None  # pass back as `cursor` for the next (older) page


MAX_PAGE = 200


def _cursor(value: str | None) -> tuple[date, int] | None:
    if not value:
        return None
    day, _, ident = value.partition("~")
    try:
        return date.fromisoformat(day), int(ident)
    except ValueError:
        raise InvalidInput(field="cursor", reason="input.invalid_value", value=value[:60]) from None


def list_documents(db: Session, kind: str, *, actor: Actor, q: str | None = None, status: str | None = None,
                   partner: str | None = None, date_from: date | None = None, date_to: date | None = None,
                   cursor: str | None = None, limit: int = 50) -> Page:
    """Documents of `kind`, newest first ((date, id) descending), a page at a time: keyset
    pagination, so page 10,000 costs what page 1 costs. `q` matches the number's start or a
    partner's code or name."""
    entity = entity_of(kind)
    require(actor, READ_PERMISSION[entity])
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(field="limit", reason="input.range", value=limit, min=1, max=MAX_PAGE)
    after = _cursor(cursor)
    table, day_col = _list_table(entity)
    cols = [table.c.id, table.c.no if entity != "voucher" else table.c.number, day_col, table.c.status]
    stmt = select(*cols, *_extra_cols(entity, table))
    if entity == "stock_doc":
        stmt = stmt.where(table.c.doc_type == kind)
    elif entity != "voucher":
        stmt = stmt.where(table.c.side == side_of(kind))
    if status:
        stmt = stmt.where(table.c.status == status)
    if date_from:
        stmt = stmt.where(day_col >= date_from)
    if date_to:
        stmt = stmt.where(day_col <= date_to)
    with reading(db):
        if partner or q:
            if entity == "voucher":
                if q:
                    stmt = stmt.where(table.c.memo.contains(q.strip(), autoescape=True))
            else:
                ids = _partner_ids(db, partner, q if not partner else None)
                if partner and not ids:
                    return Page([], None)
                if partner:
                    stmt = stmt.where(table.c.partner_id.in_(ids))
                if q:
                    numbered = _numbers_starting(db, entity, kind, table, q.strip())
                    found = [table.c.id.in_(numbered)] if numbered else []
                    if ids and not partner:
                        found.append(table.c.partner_id.in_(ids))
                    if not found:  # neither a number nor a partner matches: nothing to walk the table for
                        return Page([], None)
                    stmt = stmt.where(or_(*found))
        if after is not None:
            stmt = stmt.where(or_(day_col < after[0], and_(day_col == after[0], table.c.id < after[1])))
        rows = list(db.execute(stmt.order_by(day_col.desc(), table.c.id.desc()).limit(limit + 1)).all())
        more = len(rows) > limit
        rows = rows[:limit]
        out = _decorate(db, kind, entity, rows)
    nxt = f"{out[-1].date.isoformat()}~{out[-1].id}" if more and out else None
    return Page(out, nxt)


NUMBER_MATCH_LIMIT = 2000  # a number prefix matching more documents than this shows the newest of these


def _numbers_starting(db: Session, entity: str, kind: str, table: Table, text: str) -> list[int]:
    """Ids of the documents whose number starts with `text` (as typed or in capitals), found as a
    range of the unique (type, no) index instead of a LIKE over the whole table."""
    ids: set[int] = set()
    for prefix in {text, text.upper()}:
        if not prefix:
            continue
        q = select(table.c.id).where(table.c.no >= prefix, table.c.no < prefix + "\U0010ffff")
        q = q.where(table.c.doc_type == kind) if entity == "stock_doc" else q.where(table.c.side == side_of(kind))
        ids.update(db.execute(q.order_by(table.c.no.desc()).limit(NUMBER_MATCH_LIMIT)).scalars())
    return sorted(ids)


def _list_table(entity: str) -> tuple[Table, Any]:
    if entity == "stock_doc":
        return DOC, DOC.c.doc_date
    if entity == "order":
        return ORDER, ORDER.c.order_date
    if entity == "invoice":
        return INVOICE, INVOICE.c.invoice_date
    if entity == "cash_doc":
        return CASH, CASH.c.doc_date
    return VOUCHER, VOUCHER.c.voucher_date


def _extra_cols(entity: str, table: Table) -> list[Any]:
    if entity == "stock_doc":
        return [table.c.red, table.c.partner_id, table.c.warehouse_id, table.c.memo]
    if entity == "order":
        return [table.c.partner_id, table.c.amount, table.c.tax, table.c.memo]
    if entity == "invoice":
        return [table.c.red, table.c.partner_id, table.c.total, table.c.memo]
    if entity == "cash_doc":
        return [table.c.partner_id, table.c.amount.label("total"), table.c.memo]
    return [table.c.word, table.c.period_id, table.c.total, table.c.memo]


PARTNER_MATCH_LIMIT = 500  # a search naming more partners than this matches on numbers only


def _partner_ids(db: Session, code: str | None, text: str | None) -> list[int]:
    if code:
        return list(db.execute(select(PARTNER.c.id).where(PARTNER.c.code == code)).scalars())
    assert text is not None
    t = text.strip()
    ids = list(db.execute(select(PARTNER.c.id).where(or_(PARTNER.c.code.startswith(t, autoescape=True),
                                                        PARTNER.c.name.contains(t, autoescape=True)))
                          .limit(PARTNER_MATCH_LIMIT + 1)).scalars())
    return ids if len(ids) <= PARTNER_MATCH_LIMIT else []


def _decorate(db: Session, kind: str, entity: str, rows: list[Any]) -> list[DocRow]:
    """Names and totals for one page's rows, read in one query each."""
    if not rows:
        return []
    if entity == "voucher":
        periods = {r.id: f"{r.year:04d}-{r.month:02d}" for r in db.execute(
            select(PERIOD.c.id, PERIOD.c.year, PERIOD.c.month).where(PERIOD.c.id.in_({r.period_id for r in rows})))}
        return [DocRow(r.id, kind, f"{periods[r.period_id]} {r.word}-{r.number:04d}", r.voucher_date, r.status,
                       False, None, None, None, r.total, r.memo) for r in rows]
    pids = {r.partner_id for r in rows if r.partner_id}
    partners = {p.id: (p.code, p.name) for p in db.execute(
        select(PARTNER.c.id, PARTNER.c.code, PARTNER.c.name).where(PARTNER.c.id.in_(pids)))} if pids else {}
    warehouses: dict[int, str] = {}
    totals: dict[int, Decimal] = {}
    if entity == "stock_doc":
        warehouses = dict(db.execute(select(WAREHOUSE.c.id, WAREHOUSE.c.code)).all())
        totals = {r[0]: (r[1] or Decimal(0)) + (r[2] or Decimal(0)) for r in db.execute(
            select(DOC_LINE.c.doc_id, func.sum(DOC_LINE.c.amount), func.sum(DOC_LINE.c.tax))
            .where(DOC_LINE.c.doc_id.in_([r.id for r in rows])).group_by(DOC_LINE.c.doc_id))}
    out = []
    for r in rows:
        code, name = partners.get(r.partner_id, (None, None)) if r.partner_id else (None, None)
        day = r[2]
        if entity == "stock_doc":
            out.append(DocRow(r.id, kind, r.no, day, r.status, bool(r.red), code, name,
                              warehouses.get(r.warehouse_id), totals.get(r.id), r.memo))
        else:
            total = r.amount + r.tax if entity == "order" else r.total
            out.append(DocRow(r.id, kind, r.no, day, r.status, bool(getattr(r, "red", False)), code, name, None,
                              total, r.memo))
    return out
