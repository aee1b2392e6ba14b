"""What the report pages need to drill down from a total to what is behind it, and nothing
the reports themselves compute: the document that generated each voucher, the stock
documents behind ledger rows, a partner statement's documents, open items, the deliveries
behind a gross-profit row, the accounts of a statement line, and the period a report opens on.

Every function reads in one `reading` transaction, checks the permission of the report it
serves, and is bounded by ids, a date range or a page size: none scans a whole table.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, type_coerce
from sqlalchemy.orm import Session

from jxc.db.base import table_of
from jxc.db.models import (
    Account,
    ArapItem,
    CashDoc,
    Invoice,
    OpeningBalance,
    Partner,
    PartnerBalance,
    Product,
    StockDoc,
    StockDocLine,
    StockEntry,
    Voucher,
)
from jxc.db.types import Money, Quantity
from jxc.domain import permissions as perm
from jxc.domain.errors import AccountUnknown, InvalidInput, NotFound, PartnerUnknown
from jxc.domain.numbers import MONEY_ZERO, ZERO
from jxc.domain.permissions import Actor, require
from jxc.domain.statements import ensure_statement, read_formula
from jxc.domain.stockdocs import DocType
from jxc.domain.trade import ADVANCE_PAID, ADVANCE_RECEIVED, AP_ACCOUNT, AR_ACCOUNT
from jxc.domain.voucher import voucher_label
from jxc.services.common import PeriodRef, all_periods, reading
from jxc.services.statements import list_statement_lines

VOUCHER = table_of(Voucher)
DOC = table_of(StockDoc)
DLINE = table_of(StockDocLine)
ENTRY = table_of(StockEntry)
INVOICE = table_of(Invoice)
CASH = table_of(CashDoc)
ITEM = table_of(ArapItem)
PARTNER = table_of(Partner)
ACCOUNT = table_of(Account)
PRODUCT = table_of(Product)
OPENING = table_of(OpeningBalance)
PBAL = table_of(PartnerBalance)

MAX_IDS = 1000  # ids resolved in one call (a report page shows at most this many rows)
MAX_ROWS = 500  # documents listed behind one total
AUDITED = "audited"

# voucher.source_type / arap_item.source_type -> the document family a page can show
_ENTITY_OF_SOURCE = {"stock_doc": "stock_doc", "invoice": "invoice", "cash": "cash_doc", "reversal": "voucher"}
_NUMBER_TABLE = {"stock_doc": DOC, "invoice": INVOICE, "cash_doc": CASH}


@dataclass(frozen=True, slots=True)
class DocRef:
    """A document a page can link to: its family (stock_doc, invoice, cash_doc, voucher), id and number."""

    entity: str
    id: int
    number: str


def _numbers(db: Session, wanted: dict[str, set[int]]) -> dict[tuple[str, int], str]:
    out: dict[tuple[str, int], str] = {}
    for entity, ids in wanted.items():
        if not ids:
            continue
        if entity == "voucher":
            for v in db.execute(select(VOUCHER.c.id, VOUCHER.c.word, VOUCHER.c.number)
                                .where(VOUCHER.c.id.in_(sorted(ids)))):
                out[(entity, v.id)] = voucher_label(v.word, v.number)
            continue
        table = _NUMBER_TABLE[entity]
        for i, no in db.execute(select(table.c.id, table.c.no).where(table.c.id.in_(sorted(ids)))):
            out[(entity, i)] = no
    return out


def _bounded(ids: Iterable[int]) -> list[int]:
    found = sorted(set(ids))
    if len(found) > MAX_IDS:
        raise InvalidInput(field="ids", reason="input.range", value=len(found), min=0, max=MAX_IDS)
    return found


def voucher_sources(db: Session, voucher_ids: Iterable[int], *, actor: Actor) -> dict[int, DocRef]:
    """voucher id -> the document that generated it (stock document, invoice, receipt/payment,
    or the voucher a reversal reverses); manual and close vouchers have none."""
    require(actor, perm.LEDGER_READ)
    ids = _bounded(voucher_ids)
    if not ids:
        return {}
    with reading(db):
        rows = db.execute(select(VOUCHER.c.id, VOUCHER.c.source_type, VOUCHER.c.source_id)
                          .where(VOUCHER.c.id.in_(ids))).all()
        wanted: dict[str, set[int]] = defaultdict(set)
        for r in rows:
            entity = _ENTITY_OF_SOURCE.get(r.source_type or "")
            if entity and r.source_id is not None:
                wanted[entity].add(r.source_id)
        numbers = _numbers(db, wanted)
        out = {}
        for r in rows:
            entity = _ENTITY_OF_SOURCE.get(r.source_type or "")
            if entity and r.source_id is not None and (entity, r.source_id) in numbers:
                out[r.id] = DocRef(entity, r.source_id, numbers[(entity, r.source_id)])
        return out


def stock_doc_ids(db: Session, documents: Iterable[tuple[str, str]], *, actor: Actor) -> dict[tuple[str, str], int]:
    """(doc_type, number) -> stock document id, for the rows of a stock ledger."""
    require(actor, perm.STOCK_READ)
    wanted = sorted(set(documents))
    if len(wanted) > MAX_IDS:
        raise InvalidInput(field="documents", reason="input.range", value=len(wanted), min=0, max=MAX_IDS)
    if not wanted:
        return {}
    out: dict[tuple[str, str], int] = {}
    with reading(db):
        by_type: dict[str, list[str]] = defaultdict(list)
        for doc_type, no in wanted:
            by_type[doc_type].append(no)
        for doc_type, nos in by_type.items():
            for i, no in db.execute(select(DOC.c.id, DOC.c.no).where(DOC.c.doc_type == doc_type, DOC.c.no.in_(nos))):
                out[(doc_type, no)] = i
    return out


# --- partner statements and open items -----------------------------------------------------

def _partner_id(db: Session, code: str) -> int:
    found = db.execute(select(PARTNER.c.id).where(PARTNER.c.code == code)).scalar()
    if found is None:
        raise PartnerUnknown(partner=code)
    return int(found)


def _item_accounts(db: Session, codes: Iterable[str]) -> dict[int, str]:
    return {i: c for i, c in db.execute(select(ACCOUNT.c.id, ACCOUNT.c.code).where(ACCOUNT.c.code.in_(list(codes))))}


def _item_doc(db: Session, items: Sequence[Any]) -> dict[int, DocRef]:
    """arap item id -> the document that made it (invoice, receipt/payment, stock document),
    else its voucher."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for r in items:
        entity = _ENTITY_OF_SOURCE.get(r.source_type)
        if entity and r.source_id is not None:
            wanted[entity].add(r.source_id)
        elif r.voucher_id is not None:
            wanted["voucher"].add(r.voucher_id)
    numbers = _numbers(db, wanted)
    out = {}
    for r in items:
        entity = _ENTITY_OF_SOURCE.get(r.source_type)
        key = (entity, r.source_id) if entity and r.source_id is not None else ("voucher", r.voucher_id)
        if key[1] is not None and key in numbers:
            out[r.id] = DocRef(key[0], int(key[1]), numbers[(key[0], int(key[1]))])
    return out


def statement_documents(db: Session, partner: str, date_from: date, date_to: date, *,
                        actor: Actor) -> list[DocRef | None]:
    """The documents behind tradereports.statement's rows, in the same order (item date, id)."""
    require(actor, perm.TRADE_READ)
    with reading(db):
        pid = _partner_id(db, partner)
        accounts = _item_accounts(db, (AR_ACCOUNT, ADVANCE_RECEIVED, AP_ACCOUNT, ADVANCE_PAID))
        items = db.execute(select(ITEM.c.id, ITEM.c.source_type, ITEM.c.source_id, ITEM.c.voucher_id)
                           .where(ITEM.c.partner_id == pid, ITEM.c.account_id.in_(sorted(accounts)),
                                  ITEM.c.item_date >= date_from, ITEM.c.item_date <= date_to)
                           .order_by(ITEM.c.item_date, ITEM.c.id)).all()
        docs = _item_doc(db, items)
        return [docs.get(r.id) for r in items]


@dataclass(frozen=True, slots=True)
class OpenItem:
    item_date: date
    account: str
    document: DocRef | None
    source_type: str
    memo: str
    amount: Decimal  # debit-positive, as booked
    open: Decimal  # what settlements have left, now


@dataclass(frozen=True, slots=True)
class OpenItems:
    partner: str
    name: str
    side: str
    as_of: date
    rows: list[OpenItem]
    total: Decimal


def open_items(db: Session, partner: str, *, side: str, as_of: date, actor: Actor) -> OpenItems:
    """A partner's items on 应收 (side sales) or 应付 (purchase) dated on or before `as_of`
    that are open now, oldest first: what an aging total is made of."""
    require(actor, perm.TRADE_READ)
    if side not in ("sales", "purchase"):
        raise InvalidInput(field="side", reason="input.choice", value=side, choices="sales, purchase")
    with reading(db):
        pid = _partner_id(db, partner)
        code = AR_ACCOUNT if side == "sales" else AP_ACCOUNT
        accounts = _item_accounts(db, (code,))
        items = db.execute(select(ITEM.c.id, ITEM.c.account_id, ITEM.c.item_date, ITEM.c.amount, ITEM.c.open,
                                  ITEM.c.source_type, ITEM.c.source_id, ITEM.c.voucher_id, ITEM.c.memo)
                           .where(ITEM.c.account_id.in_(sorted(accounts)), ITEM.c.partner_id == pid,
                                  ITEM.c.item_date <= as_of, ITEM.c.open != 0)
                           .order_by(ITEM.c.item_date, ITEM.c.id).limit(MAX_ROWS)).all()
        docs = _item_doc(db, items)
        name = db.execute(select(PARTNER.c.name).where(PARTNER.c.id == pid)).scalar_one()
        rows = [OpenItem(r.item_date, accounts[r.account_id], docs.get(r.id), r.source_type, r.memo, r.amount, r.open)
                for r in items]
        total = sum((r.open for r in rows), MONEY_ZERO)
        return OpenItems(partner, name, side, as_of, rows, total if side == "sales" else -total)


# --- gross profit: the deliveries and returns behind a row --------------------------------

@dataclass(frozen=True, slots=True)
class ProfitDoc:
    document: DocRef
    doc_type: str
    doc_date: date
    red: bool
    partner: str
    partner_name: str
    salesperson: str
    qty: Decimal  # the row's lines on it (a product row: that product's), as stored
    amount: Decimal  # excluding tax, as stored (a red copy: negative)


def gross_profit_documents(db: Session, *, by: str, key: str, date_from: date, date_to: date,
                           actor: Actor) -> list[ProfitDoc]:
    """The audited sales deliveries and returns dated in the range that make up one row of
    tradereports.gross_profit (by product, customer or salesperson), oldest first, at most
    MAX_ROWS of them."""
    require(actor, perm.TRADE_READ)
    if by not in ("product", "customer", "salesperson"):
        raise InvalidInput(field="by", reason="input.choice", value=by, choices="product, customer, salesperson")
    if date_from > date_to:
        raise InvalidInput(field="date_from", reason="input.date_order", value=date_from.isoformat())
    with reading(db):
        where: list[Any] = [DOC.c.doc_type.in_([DocType.SALES_DELIVERY.value, DocType.SALES_RETURN.value]),
                            DOC.c.status == AUDITED, DOC.c.doc_date >= date_from, DOC.c.doc_date <= date_to]
        if by == "product":
            pid = db.execute(select(PRODUCT.c.id).where(PRODUCT.c.code == key)).scalar()
            if pid is None:
                raise NotFound(entity="product", key=key)
            where.append(DLINE.c.product_id == pid)
        elif by == "customer":
            where.append(DOC.c.partner_id == _partner_id(db, key))
        else:
            where.append(DOC.c.salesperson == key)
        rows = db.execute(
            select(DOC.c.id, DOC.c.no, DOC.c.doc_type, DOC.c.doc_date, DOC.c.red, DOC.c.salesperson,
                   PARTNER.c.code.label("partner"), PARTNER.c.name.label("partner_name"),
                   type_coerce(func.sum(DLINE.c.qty), Quantity()).label("qty"),
                   type_coerce(func.sum(func.coalesce(DLINE.c.amount, 0)), Money()).label("amount"))
            .select_from(DOC.join(DLINE, DLINE.c.doc_id == DOC.c.id)
                         .outerjoin(PARTNER, PARTNER.c.id == DOC.c.partner_id))
            .where(*where)
            .group_by(DOC.c.id, DOC.c.no, DOC.c.doc_type, DOC.c.doc_date, DOC.c.red, DOC.c.salesperson,
                      PARTNER.c.code, PARTNER.c.name)
            .order_by(DOC.c.doc_date, DOC.c.id).limit(MAX_ROWS)).all()
        return [ProfitDoc(DocRef("stock_doc", r.id, r.no), r.doc_type, r.doc_date, bool(r.red), r.partner or "",
                          r.partner_name or "", r.salesperson, Decimal(r.qty or ZERO), Decimal(r.amount or ZERO))
                for r in rows]


# --- financial statements: the accounts of a line -----------------------------------------

@dataclass(frozen=True, slots=True)
class LineTerm:
    sign: int
    kind: str  # B, DR, CR, A, ... an account term; L another line; PL the unclosed profit
    arg: str  # account code or line number
    name: str  # the account's name, or the line's label


@dataclass(frozen=True, slots=True)
class LineTerms:
    statement: str
    line_no: int
    label: str
    label_en: str
    formula: str
    terms: list[LineTerm]


def statement_line_terms(db: Session, statement: str, line_no: int, *, actor: Actor) -> LineTerms:
    """A statement line's formula read into its terms, each account named (so a page can
    link every account to its ledger and every line reference to that line)."""
    ensure_statement(statement)
    lines = {ln.line_no: ln for ln in list_statement_lines(db, statement, actor=actor).lines}
    with reading(db):
        line = lines.get(line_no)
        if line is None:
            raise NotFound(entity="statement_line", key=f"{statement}:{line_no}")
        terms = read_formula(statement, line_no, line.formula) if line.formula.strip() else ()
        codes = [t.arg for t in terms if t.kind not in ("L", "PL") and t.arg]
        names = dict(db.execute(select(ACCOUNT.c.code, ACCOUNT.c.name).where(ACCOUNT.c.code.in_(codes))).all())
        out = []
        for t in terms:
            if t.kind == "L":
                ref = lines.get(int(t.arg)) if t.arg.isdigit() else None
                name = ref.label if ref else ""
            else:
                name = names.get(t.arg, "")
            out.append(LineTerm(t.sign, t.kind, t.arg, name))
        return LineTerms(statement, line_no, line.label, line.label_en, line.formula, out)


# --- which period a report opens on --------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ReportPeriods:
    """The periods of the book and the one a report shows when none is asked for: the earliest
    open period up to today's (the month being worked on), else today's, else the latest."""

    periods: list[PeriodRef]
    current: PeriodRef | None


def report_periods(db: Session, today: date, *, actor: Actor) -> ReportPeriods:
    if not any(actor.can(p) for p in (perm.LEDGER_READ, perm.STOCK_READ, perm.TRADE_READ)):
        require(actor, perm.LEDGER_READ)
    with reading(db):
        periods = all_periods(db)
    open_now = [p for p in periods if p.status == "open" and p.start_date <= today]
    this = next((p for p in periods if p.start_date <= today <= p.end_date), None)
    current = open_now[0] if open_now else this or (periods[-1] if periods else None)
    return ReportPeriods(periods, current)



# --- partner sub-ledger: one account's balances per partner for a period --------------------

@dataclass(frozen=True, slots=True)
class PartnerLedgerRow:
    partner: str
    name: str
    opening: Decimal  # debit-positive
    debit: Decimal
    credit: Decimal
    closing: Decimal  # debit-positive


@dataclass(frozen=True, slots=True)
class PartnerLedger:
    account: str
    name: str
    period: str
    date_from: date
    date_to: date
    rows: list[PartnerLedgerRow]
    totals: PartnerLedgerRow


def partner_subledger(db: Session, account: str, period: str, *, actor: Actor) -> PartnerLedger:
    """辅助核算余额表: for an account kept by partner (and its sub-accounts), each partner's
    opening balance, movement in the period and closing balance, from the opening balances and
    the per-period partner balance table (partners x periods rows, no voucher line)."""
    require(actor, perm.LEDGER_READ)
    with reading(db):
        acct = db.execute(select(ACCOUNT.c.id, ACCOUNT.c.code, ACCOUNT.c.name).where(ACCOUNT.c.code == account)
                          ).one_or_none()
        if acct is None:
            raise AccountUnknown(account=account)
        ids = list(db.execute(select(ACCOUNT.c.id).where(ACCOUNT.c.code.startswith(account, autoescape=True)))
                   .scalars())
        periods = all_periods(db)
        ref = next((p for p in periods if p.label == period), None)
        if ref is None:
            raise NotFound(entity="period", key=period)
        before = [p.id for p in periods if p.start_date < ref.start_date]
        opening: dict[int, Decimal] = defaultdict(lambda: MONEY_ZERO)
        for pid, d, c in db.execute(select(OPENING.c.partner_id, _m(OPENING.c.debit), _m(OPENING.c.credit))
                                    .where(OPENING.c.account_id.in_(ids), OPENING.c.partner_id.is_not(None))
                                    .group_by(OPENING.c.partner_id)):
            opening[pid] += _dec(d) - _dec(c)
        if before:
            for pid, d, c in db.execute(select(PBAL.c.partner_id, _m(PBAL.c.debit), _m(PBAL.c.credit))
                                        .where(PBAL.c.account_id.in_(ids), PBAL.c.period_id.in_(before))
                                        .group_by(PBAL.c.partner_id)):
                opening[pid] += _dec(d) - _dec(c)
        moved = {pid: (_dec(d), _dec(c)) for pid, d, c in db.execute(
            select(PBAL.c.partner_id, _m(PBAL.c.debit), _m(PBAL.c.credit))
            .where(PBAL.c.account_id.in_(ids), PBAL.c.period_id == ref.id).group_by(PBAL.c.partner_id))}
        keys = {k for k, v in opening.items() if v} | set(moved)
        names = {r.id: (r.code, r.name) for r in db.execute(
            select(PARTNER.c.id, PARTNER.c.code, PARTNER.c.name).where(PARTNER.c.id.in_(sorted(keys))))}
        rows = []
        for pid in sorted(keys, key=lambda k: names.get(k, ("", ""))[0]):
            o = opening.get(pid, MONEY_ZERO)
            d, c = moved.get(pid, (MONEY_ZERO, MONEY_ZERO))
            if not (o or d or c):
                continue
            code, name = names.get(pid, ("", ""))
            rows.append(PartnerLedgerRow(code, name, o, d, c, o + d - c))
        totals = PartnerLedgerRow("", "", *(sum((getattr(r, f) for r in rows), MONEY_ZERO)
                                            for f in ("opening", "debit", "credit", "closing")))
        return PartnerLedger(acct.code, acct.name, ref.label, ref.start_date, ref.end_date, rows, totals)


def _m(expr: Any) -> Any:
    return func.coalesce(func.sum(type_coerce(expr, Money())), 0)


def _dec(v: Any) -> Decimal:
    return v if isinstance(v, Decimal) else Decimal(v or 0)
