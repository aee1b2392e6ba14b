"""What a document entry screen asks while the user types: product, partner and account
look-ups (a scanned barcode resolves at once), the default date, the line amounts and
totals before anything is saved, a voucher's balance, the open invoices a receipt can
settle, and FEFO batches for a delivery.

Nothing here writes. Amounts come from the same rules the documents use when they are
saved (domain.trade.line_amounts, 价税分离 per line, half-up to the cent), so the preview
a clerk sees is the amount that will be booked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from jxc.db.base import table_of
from jxc.db.models import Account, ArapItem, Invoice, Partner, Product, TaxRate, Warehouse
from jxc.domain import permissions as perm
from jxc.domain.errors import InvalidInput, NotFound
from jxc.domain.numbers import MAX_QTY, QTY_PLACES, ZERO, fits, money, parse_decimal
from jxc.domain.permissions import Actor, require
from jxc.domain.trade import AP_ACCOUNT, AR_ACCOUNT, line_amounts
from jxc.services import importer, stockreports
from jxc.services.common import PERIOD, reading

PRODUCT = table_of(Product)
PARTNER = table_of(Partner)
ACCOUNT = table_of(Account)
WAREHOUSE = table_of(Warehouse)
RATE = table_of(TaxRate)
INVOICE = table_of(Invoice)
ITEM = table_of(ArapItem)

LOOKUP_LIMIT = 12
CASH_PREFIXES = ("1001", "1002", "1012")  # the accounts a receipt or payment may use (as services.cash)


def entry_permissions(kind: str, audit: bool = False) -> list[str]:
    """The permissions entering (and, with `audit`, auditing) a document of `kind` needs."""
    return importer._permissions_for([kind], audit)


def require_entry(actor: Actor, kind: str, audit: bool = False) -> None:
    """PermissionDenied unless the actor may enter (and audit) documents of `kind`."""
    for permission in entry_permissions(kind, audit):
        require(actor, permission)


# --- look-ups ---------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ProductHit:
    code: str
    name: str
    unit: str
    spec: str
    barcode: str
    tax_rate: Decimal
    batch_tracked: bool
    shelf_life_days: int | None
    exact: bool  # the query is this product's code or barcode: a scan resolves without asking


def _product_hit(r: Any, q: str) -> ProductHit:
    return ProductHit(r.code, r.name, r.unit, r.spec or "", r.barcode or "", r.tax_rate, bool(r.batch_tracked),
                      r.shelf_life_days, q in (r.code, r.barcode))


_PRODUCT_COLS = (PRODUCT.c.code, PRODUCT.c.name, PRODUCT.c.unit, PRODUCT.c.spec, PRODUCT.c.barcode,
                 PRODUCT.c.tax_rate, PRODUCT.c.batch_tracked, PRODUCT.c.shelf_life_days)


def lookup_products(db: Session, q: str, *, actor: Actor, limit: int = LOOKUP_LIMIT) -> list[ProductHit]:
    """Active products for the text typed in a product cell: an exact code or barcode first
    (what a scanner sends), then codes and barcodes starting with it, then names containing
    it. Each hit says whether it matched exactly."""
    require(actor, perm.MASTERDATA_READ)
    text = q.strip()
    if not text:
        return []
    limit = max(1, min(limit, 50))
    with reading(db):
        exact = list(db.execute(select(*_PRODUCT_COLS).where(
            PRODUCT.c.active.is_(True), or_(PRODUCT.c.code == text, PRODUCT.c.barcode == text))
            .order_by(PRODUCT.c.code).limit(limit)))
        seen = {r.code for r in exact}
        more = list(db.execute(select(*_PRODUCT_COLS).where(
            PRODUCT.c.active.is_(True),
            or_(PRODUCT.c.code.startswith(text, autoescape=True), PRODUCT.c.barcode.startswith(text, autoescape=True),
                PRODUCT.c.name.contains(text, autoescape=True)))
            .order_by(PRODUCT.c.code).limit(limit + len(seen))))
    rows = exact + [r for r in more if r.code not in seen]
    return [_product_hit(r, text) for r in rows[:limit]]


def products_by_code(db: Session, codes: Sequence[str], *, actor: Actor) -> dict[str, ProductHit]:
    """The named products (active or not), for re-showing a form's lines by code."""
    require(actor, perm.MASTERDATA_READ)
    wanted = sorted({c for c in codes if c})
    if not wanted:
        return {}
    with reading(db):
        rows = list(db.execute(select(*_PRODUCT_COLS).where(PRODUCT.c.code.in_(wanted))))
    return {r.code: _product_hit(r, r.code) for r in rows}


@dataclass(frozen=True, slots=True)
class Hit:
    """A partner, account or warehouse as a look-up offers it."""

    code: str
    name: str
    meta: str = ""  # partner: its kind; account: "partner" when it keeps partner detail
    exact: bool = False


def lookup_partners(db: Session, q: str, *, actor: Actor, kind: str | None = None,
                    limit: int = LOOKUP_LIMIT) -> list[Hit]:
    """Active partners whose code starts with, or name contains, `q`; `kind` (supplier or
    customer) keeps those that can appear on that side (and 'both')."""
    require(actor, perm.MASTERDATA_READ)
    text = q.strip()
    stmt = select(PARTNER.c.code, PARTNER.c.name, PARTNER.c.kind).where(PARTNER.c.active.is_(True))
    if kind in ("supplier", "customer"):
        stmt = stmt.where(PARTNER.c.kind.in_((kind, "both")))
    if text:
        stmt = stmt.where(or_(PARTNER.c.code.startswith(text, autoescape=True),
                              PARTNER.c.name.contains(text, autoescape=True)))
    with reading(db):
        rows = list(db.execute(stmt.order_by(PARTNER.c.code).limit(max(1, min(limit, 50)))))
    hits = [Hit(r.code, r.name, r.kind, r.code == text) for r in rows]
    return sorted(hits, key=lambda h: not h.exact)


def lookup_accounts(db: Session, q: str, *, actor: Actor, cash_only: bool = False,
                    limit: int = LOOKUP_LIMIT) -> list[Hit]:
    """Active leaf accounts (the only ones a line may name) whose code starts with, or name
    contains, `q`; `cash_only` keeps the cash and bank accounts a receipt or payment uses."""
    require(actor, perm.MASTERDATA_READ)
    text = q.strip()
    stmt = select(ACCOUNT.c.code, ACCOUNT.c.name, ACCOUNT.c.partner_aux).where(
        ACCOUNT.c.active.is_(True), ACCOUNT.c.is_leaf.is_(True))
    if cash_only:
        stmt = stmt.where(or_(*(ACCOUNT.c.code.startswith(p) for p in CASH_PREFIXES)))
    if text:
        stmt = stmt.where(or_(ACCOUNT.c.code.startswith(text, autoescape=True),
                              ACCOUNT.c.name.contains(text, autoescape=True)))
    with reading(db):
        rows = list(db.execute(stmt.order_by(ACCOUNT.c.code).limit(max(1, min(limit, 50)))))
    hits = [Hit(r.code, r.name, "partner" if r.partner_aux else "", r.code == text) for r in rows]
    return sorted(hits, key=lambda h: not h.exact)


def names_of(db: Session, entity: str, codes: Sequence[str], *, actor: Actor) -> dict[str, str]:
    """code -> name of the partners or accounts named on a form (to show beside the codes)."""
    require(actor, perm.MASTERDATA_READ)
    table = {"partner": PARTNER, "account": ACCOUNT}[entity]
    wanted = sorted({c for c in codes if c})
    if not wanted:
        return {}
    with reading(db):
        return {r.code: r.name for r in db.execute(select(table.c.code, table.c.name)
                                                   .where(table.c.code.in_(wanted)))}


@dataclass(frozen=True, slots=True)
class EntryChoices:
    """The fixed choices of an entry form: warehouses and the VAT rates valid on its date."""

    warehouses: list[Hit]
    rates: list[tuple[Decimal, str]]  # (rate, label)


def entry_choices(db: Session, day: date, *, actor: Actor) -> EntryChoices:
    require(actor, perm.MASTERDATA_READ)
    with reading(db):
        warehouses = [Hit(r.code, r.name) for r in db.execute(
            select(WAREHOUSE.c.code, WAREHOUSE.c.name).where(WAREHOUSE.c.active.is_(True)).order_by(WAREHOUSE.c.code))]
        rates = [(r.rate, r.label) for r in db.execute(
            select(RATE.c.rate, RATE.c.label).where(RATE.c.valid_from <= day,
                                                    or_(RATE.c.valid_to.is_(None), RATE.c.valid_to >= day))
            .order_by(RATE.c.rate.desc()))]
    return EntryChoices(warehouses, rates)


def default_entry_date(db: Session, today: date, *, actor: Actor) -> date:
    """The date a new document starts with: today when today's period is open, otherwise
    the last day of the first open period (a book still catching up on last month), or
    today when no period is open at all."""
    del actor  # any signed-in user may know which periods are open
    with reading(db):
        row = db.execute(select(PERIOD.c.status).where(PERIOD.c.start_date <= today,
                                                       PERIOD.c.end_date >= today)).first()
        if row is not None and row.status == "open":
            return today
        first_open = db.execute(select(PERIOD.c.end_date).where(PERIOD.c.status == "open")
                                .order_by(PERIOD.c.start_date).limit(1)).scalar()
    return first_open if first_open is not None else today


# --- amounts before saving --------------------------------------------------------

@dataclass(frozen=True, slots=True)
class LineDraft:
    """A line as typed: text, not yet checked."""

    product: str = ""
    qty: str = ""
    price: str = ""
    tax_rate: str = ""


@dataclass(frozen=True, slots=True)
class LineQuote:
    price: Decimal | None  # excluding tax
    rate: Decimal | None
    amount: Decimal | None
    tax: Decimal | None
    total: Decimal | None


@dataclass(frozen=True, slots=True)
class Quote:
    lines: list[LineQuote]
    qty: Decimal
    amount: Decimal
    tax: Decimal
    total: Decimal


def _number(text: str) -> Decimal | None:
    return parse_decimal(text) if text.strip() else None


def quote_lines(db: Session, lines: Sequence[LineDraft], *, price_incl_tax: bool, actor: Actor) -> Quote:
    """Each line's 金额/税额/价税合计 and the document's totals, as the document will book
    them: the line's own tax rate or else its product's, price excluding or including tax
    (价税分离 per line). A line that cannot be priced yet (no quantity, no price, an
    unknown product) shows no amounts and adds nothing; nothing is refused here."""
    require(actor, perm.MASTERDATA_READ)
    codes = sorted({ln.product.strip() for ln in lines if ln.product.strip()})
    with reading(db):
        rates = {r.code: r.tax_rate for r in db.execute(
            select(PRODUCT.c.code, PRODUCT.c.tax_rate).where(PRODUCT.c.code.in_(codes)))} if codes else {}
    out: list[LineQuote] = []
    total_qty = amount = tax = ZERO
    for ln in lines:
        qty, price, given_rate = _number(ln.qty), _number(ln.price), _number(ln.tax_rate)
        rate = given_rate if given_rate is not None else rates.get(ln.product.strip())
        if qty is not None and not fits(qty, QTY_PLACES, MAX_QTY):
            total_qty += qty
        if qty is None or price is None or rate is None or fits(qty, QTY_PLACES, MAX_QTY) or not 0 <= rate < 1:
            out.append(LineQuote(None, rate, None, None, None))
            continue
        la = (line_amounts(qty, rate, price_incl_tax=price) if price_incl_tax
              else line_amounts(qty, rate, price=price))
        out.append(LineQuote(la.price, rate, la.amount, la.tax, la.total))
        amount += la.amount
        tax += la.tax
    return Quote(out, total_qty, money(amount), money(tax), money(amount + tax))


@dataclass(frozen=True, slots=True)
class Balance:
    debit: Decimal
    credit: Decimal
    difference: Decimal  # debit − credit; zero when the voucher balances

    @property
    def balanced(self) -> bool:
        return self.difference == 0 and self.debit > 0


def voucher_balance(lines: Sequence[tuple[str, str]]) -> Balance:
    """Σ debit, Σ credit and their difference for a voucher's (debit, credit) lines as typed;
    text that is not a number counts as nothing (the save reports it)."""
    debit = credit = ZERO
    for d, c in lines:
        debit += _number(d) or ZERO
        credit += _number(c) or ZERO
    return Balance(money(debit), money(credit), money(debit - credit))


@dataclass(frozen=True, slots=True)
class CashQuote:
    amount: Decimal
    settled: Decimal
    writeoff: Decimal
    advance: Decimal  # what is left as 预收/预付 (negative: settling more than received)


def cash_split(amount: str, settle: Sequence[tuple[str, str]]) -> CashQuote:
    """A receipt/payment's amount against what its lines settle: the rest is an advance."""
    total = _number(amount) or ZERO
    settled = sum(((_number(a) or ZERO) for a, _ in settle), ZERO)
    writeoff = sum(((_number(w) or ZERO) for _, w in settle), ZERO)
    return CashQuote(money(total), money(settled), money(writeoff), money(total - settled))


# --- open invoices, FEFO ----------------------------------------------------------

@dataclass(frozen=True, slots=True)
class OpenInvoice:
    no: str
    date: date
    total: Decimal
    open: Decimal  # still to receive / pay


def open_invoices(db: Session, side: str, partner: str, *, actor: Actor, q: str = "",
                  limit: int = 50) -> list[OpenInvoice]:
    """A partner's audited blue invoices of `side` with money still open on their AR/AP item,
    oldest first: what a receipt (sales) or payment (purchase) can settle."""
    require(actor, perm.TRADE_READ)
    if side not in ("sales", "purchase"):
        raise InvalidInput(field="side", reason="input.choice", value=side, choices="sales, purchase")
    main = AR_ACCOUNT if side == "sales" else AP_ACCOUNT
    with reading(db):
        pid = db.execute(select(PARTNER.c.id).where(PARTNER.c.code == partner.strip())).scalar()
        if pid is None:
            return []
        acc = db.execute(select(ACCOUNT.c.id).where(ACCOUNT.c.code == main)).scalar()
        stmt = (select(INVOICE.c.no, INVOICE.c.invoice_date, INVOICE.c.total, ITEM.c.open)
                .join(ITEM, and_(ITEM.c.voucher_id == INVOICE.c.voucher_id, ITEM.c.account_id == acc))
                .where(INVOICE.c.side == side, INVOICE.c.partner_id == pid, INVOICE.c.status == "audited",
                       INVOICE.c.red.is_(False), ITEM.c.open != 0))
        if q.strip():
            stmt = stmt.where(INVOICE.c.no.contains(q.strip(), autoescape=True))
        rows = list(db.execute(stmt.order_by(INVOICE.c.invoice_date, INVOICE.c.id).limit(max(1, min(limit, 200)))))
    return [OpenInvoice(r.no, r.invoice_date, r.total, money(abs(r.open))) for r in rows]


@dataclass(frozen=True, slots=True)
class BatchPick:
    batch: str
    qty: Decimal
    expiry: date | None


@dataclass(frozen=True, slots=True)
class FefoSuggestion:
    picks: list[BatchPick]
    shortfall: Decimal  # what the batches on hand cannot cover (zero when they can)


def fefo_suggestion(db: Session, product: str, warehouse: str, qty: str, *, actor: Actor) -> FefoSuggestion:
    """The batches a delivery of `qty` should take, first expiry first out (services.stockreports
    .suggest_batches), and how much is missing; nothing when the quantity is not a positive
    number or the product or warehouse is not (yet) a known code."""
    wanted = _number(qty)
    if wanted is None or wanted <= 0 or not product.strip() or not warehouse.strip():
        return FefoSuggestion([], ZERO)
    try:
        picks = stockreports.suggest_batches(db, product.strip(), warehouse.strip(), wanted, actor=actor)
    except NotFound:  # a product or warehouse code still being typed
        return FefoSuggestion([], ZERO)
    taken = sum((q for _, q, _ in picks), ZERO)
    return FefoSuggestion([BatchPick(b, q, e) for b, q, e in picks], max(wanted - taken, ZERO))
