"""Stock documents (单据) and the stock ledger (存货明细账), each step one transaction.

Auditing a document writes, in the same transaction: its stock entries, costed by
each product's method (domain/costing.py); the running balances; and its voucher,
posted, built from the entries by the posting rules. Un-auditing removes all of it.

Back-dated documents. An entry dated before later entries of the same product,
warehouse and batch re-costs exactly those later entries, from its date forward,
never the whole ledger. Changed entries rewrite, in place, the voucher lines they
point at (each entry knows its voucher and line numbers), and the period balances
follow; the vouchers keep their numbers. Entries that take their cost from a
changed entry (a transfer's receiving leg, a return naming its original) are
re-costed in turn.

Concurrency: balances are locked FOR UPDATE in key order after the document and
its period, so concurrent deliveries of one product queue up instead of
overselling; SQLite serialises writers anyway.
"""

from __future__ import annotations

import secrets
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, bindparam, case, delete, func, insert, literal, null, or_, select, union_all, update
from sqlalchemy.orm import Session

from jxc.db.base import table_of
from jxc.db.models import (
    Account,
    CostRun,
    DocSequence,
    FifoLayer,
    FifoTake,
    InvoiceLink,
    Partner,
    PostingRule,
    Product,
    ProductCategory,
    StockBalance,
    StockDoc,
    StockDocLine,
    StockEntry,
    Warehouse,
)
from jxc.domain import permissions as perm
from jxc.domain.costing import (
    Balance,
    Layer,
    Method,
    Move,
    NothingToAdjust,
    Shortfall,
    cost_move,
    monthly_run,
    moving_average_run,
    portion,
)
from jxc.domain.errors import (
    AccountInactive,
    AccountNotLeaf,
    AccountUnknown,
    BatchInvalid,
    DuplicateCode,
    InvalidInput,
    InvalidTransition,
    JxcError,
    NotFound,
    OpeningLocked,
    PartnerRequired,
    SameUserAudit,
)
from jxc.domain.numbers import (
    MAX_MONEY,
    MAX_QTY,
    MAX_RATE,
    MONEY_PLACES,
    QTY_PLACES,
    RATE_PLACES,
    UNIT_COST_PLACES,
    ZERO,
    fits,
    money,
    unit_cost,
)
from jxc.domain.permissions import Actor, require
from jxc.domain.stockdocs import (
    IN,
    KINDS,
    OUT,
    SETTLEMENT,
    DependentDocuments,
    DocStatus,
    DocType,
    StockDocRefused,
    doc_number,
    parse_doc_number,
    partner_fits,
)
from jxc.domain.trade import ITEM_ACCOUNTS, TradeWarning
from jxc.services import orderlinks
from jxc.services.common import (
    COMPANY,
    DB,
    BookRules,
    PeriodRef,
    append_audit,
    append_audit_many,
    book_rules,
    conn_of,
    dialect_insert,
    insert_unique,
    open_period_and_rules,
    reserve_ids,
    retrying,
    update_many,
    utcnow,
)
from jxc.services.vouchers import (
    GenLine,
    LineDelta,
    adjust_generated_lines,
    append_generated_lines,
    generated_lines,
    insert_generated_voucher,
    void_generated_voucher,
)

DOC = table_of(StockDoc)
LINE = table_of(StockDocLine)
ENTRY = table_of(StockEntry)
BAL = table_of(StockBalance)
LAYER = table_of(FifoLayer)
TAKE = table_of(FifoTake)
SEQ = table_of(DocSequence)
RULE = table_of(PostingRule)
RUN = table_of(CostRun)
PRODUCT = table_of(Product)
WAREHOUSE = table_of(Warehouse)
PARTNER = table_of(Partner)
ACCOUNT = table_of(Account)
CATEGORY = table_of(ProductCategory)
LINK = table_of(InvoiceLink)

FAR = 2**31 - 1  # an entry id after every real one ("after everything dated that day"); fits INTEGER

Key = tuple[int, int, str]  # product, warehouse, batch


def ident(line_id: int, leg: int) -> int:
    """A stock entry's name before its row exists (FIFO layers and takes use it)."""
    return line_id * 2 + leg


# --- input ----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class StockLineIn:
    product: str
    qty: Decimal | None = None  # stocktake: the counted quantity
    price: Decimal | None = None  # excluding tax
    price_incl_tax: Decimal | None = None
    tax_rate: Decimal | None = None
    batch: str | None = None
    expiry: date | None = None
    amount: Decimal | None = None  # cost adjustment: the value to add (red: negative)


@dataclass(frozen=True, slots=True)
class StockDocIn:
    doc_type: str
    doc_date: date
    lines: tuple[StockLineIn, ...]
    warehouse: str | None = None
    partner: str | None = None
    to_warehouse: str | None = None
    source: str | None = None  # a return: the number of the receipt/delivery it returns
    account: str | None = None  # other in/out, cost adjustment: the counter account
    no: str | None = None
    reason: str = ""
    memo: str = ""
    order: str | None = None  # a receipt/delivery made from this order: lines fill its lines by product
    salesperson: str = ""


@dataclass(frozen=True, slots=True)
class DocRef:
    id: int
    doc_type: str
    no: str
    status: str
    warnings: tuple[TradeWarning, ...] = ()  # e.g. over the customer's credit limit (setting 'warn')


# --- creating drafts --------------------------------------------------------------

_NEXT_DOC_NO: dict[str, Any] = {}


def _next_doc_number(db: DB, doc_type: str, period_id: int) -> int:
    conn = conn_of(db)
    stmt = _NEXT_DOC_NO.get(conn.dialect.name)
    if stmt is None:
        ins = dialect_insert(conn, SEQ)
        stmt = ins.on_conflict_do_update(index_elements=[SEQ.c.doc_type, SEQ.c.period_id],
                                         set_={"last_number": SEQ.c.last_number + 1}).returning(SEQ.c.last_number)
        _NEXT_DOC_NO[conn.dialect.name] = stmt
    return int(conn.execute(stmt, {"doc_type": doc_type, "period_id": period_id, "last_number": 1}).scalar_one())


_RAISE_DOC_NO: dict[str, Any] = {}


def note_doc_number(db: DB, doc_type: str, period: PeriodRef, no: str) -> None:
    """A number given from outside (an import) that has this type's own pattern for this
    period moves the sequence up to it, so numbers generated later never collide with it."""
    number = parse_doc_number(DocType(doc_type), int(period.label[:4]), int(period.label[5:]), no)
    if number is not None:
        raise_doc_sequence(db, doc_type, period.id, number)


def raise_doc_sequence(db: DB, doc_type: str, period_id: int, number: int) -> None:
    conn = conn_of(db)
    stmt = _RAISE_DOC_NO.get(conn.dialect.name)
    if stmt is None:
        ins = dialect_insert(conn, SEQ)
        stmt = ins.on_conflict_do_update(index_elements=[SEQ.c.doc_type, SEQ.c.period_id], set_={
            "last_number": case((SEQ.c.last_number < ins.excluded.last_number, ins.excluded.last_number),
                                else_=SEQ.c.last_number)})
        _RAISE_DOC_NO[conn.dialect.name] = stmt
    conn.execute(stmt, {"doc_type": doc_type, "period_id": period_id, "last_number": number})


def _by_codes(table: Any, *cols: Any) -> Any:
    return select(*cols).where(table.c.code.in_(bindparam("codes", expanding=True)))


_REF_PRODUCTS = _by_codes(PRODUCT, PRODUCT.c.id, PRODUCT.c.code, PRODUCT.c.active, PRODUCT.c.batch_tracked,
                          PRODUCT.c.costing_method, PRODUCT.c.category, PRODUCT.c.shelf_life_days, PRODUCT.c.tax_rate)
_REF_WAREHOUSES = _by_codes(WAREHOUSE, WAREHOUSE.c.id, WAREHOUSE.c.code, WAREHOUSE.c.active)
_REF_PARTNERS = _by_codes(PARTNER, PARTNER.c.id, PARTNER.c.code, PARTNER.c.active, PARTNER.c.kind,
                          PARTNER.c.credit_limit)
_REF_ACCOUNTS = _by_codes(ACCOUNT, ACCOUNT.c.id, ACCOUNT.c.code, ACCOUNT.c.active, ACCOUNT.c.is_leaf,
                          ACCOUNT.c.partner_aux)


@dataclass(slots=True)
class Refs:
    """Master data a batch of documents names, looked up once."""

    products: dict[str, Any] = field(default_factory=dict)
    warehouses: dict[str, Any] = field(default_factory=dict)
    partners: dict[str, Any] = field(default_factory=dict)
    accounts: dict[str, Any] = field(default_factory=dict)

    def load(self, db: DB, docs: Iterable[StockDocIn]) -> None:
        docs = list(docs)
        if all(self._known(d) for d in docs):  # the usual case in a long import: nothing to read
            return
        want_p: set[str] = set()
        want_w: set[str] = set()
        want_c: set[str] = set()
        want_a: set[str] = set()
        for d in docs:
            want_w.update(x for x in (d.warehouse, d.to_warehouse) if x)
            if d.partner:
                want_c.add(d.partner)
            if d.account:
                want_a.add(d.account)
            want_p.update(ln.product for ln in d.lines)
        conn = conn_of(db)
        for stmt, want, into in (
            (_REF_PRODUCTS, want_p - self.products.keys(), self.products),
            (_REF_WAREHOUSES, want_w - self.warehouses.keys(), self.warehouses),
            (_REF_PARTNERS, want_c - self.partners.keys(), self.partners),
            (_REF_ACCOUNTS, want_a - self.accounts.keys(), self.accounts),
        ):
            codes = sorted(want)
            for i in range(0, len(codes), 500):
                for r in conn.execute(stmt, {"codes": codes[i:i + 500]}):
                    into[r.code] = r

    def _known(self, d: StockDocIn) -> bool:
        return ((not d.warehouse or d.warehouse in self.warehouses)
                and (not d.to_warehouse or d.to_warehouse in self.warehouses)
                and (not d.partner or d.partner in self.partners)
                and (not d.account or d.account in self.accounts)
                and all(ln.product in self.products for ln in d.lines))


def _check_number(field_name: str, value: Decimal | None, places_allowed: int, max_abs: Decimal,
                  errors: list[JxcError], *, positive: bool = False, non_negative: bool = False) -> None:
    if value is None:
        return
    problem = fits(value, places_allowed, max_abs)
    if problem:
        errors.append(InvalidInput(field=field_name, reason=problem, value=str(value), places=places_allowed))
    elif positive and value <= 0:
        errors.append(InvalidInput(field=field_name, reason="input.not_positive", value=str(value)))
    elif non_negative and value < 0:
        errors.append(InvalidInput(field=field_name, reason="input.negative", value=str(value)))


@dataclass(frozen=True, slots=True)
class _LineRow:
    product_id: int
    qty: Decimal
    price: Decimal | None
    tax_rate: Decimal | None
    amount: Decimal | None
    tax: Decimal | None
    batch: str
    expiry: date | None
    source_line_id: int | None


def _validate(db: DB, data: StockDocIn, refs: Refs, source_lines: dict[tuple[int, str], Any] | None,
              ) -> tuple[dict[str, Any], list[_LineRow]]:
    """Check a document against the master data; every problem at once, each naming its field
    or line (lines[3].qty). Returns the header's ids and the lines to insert."""
    errors: list[JxcError] = []
    try:
        doc_type = DocType(data.doc_type)
    except ValueError:
        raise InvalidInput(field="type", reason="input.choice", value=data.doc_type,
                           choices=", ".join(t.value for t in DocType)) from None
    kind = KINDS[doc_type]
    header: dict[str, Any] = {"doc_type": doc_type.value, "partner_id": None, "to_warehouse_id": None,
                              "counter_account_id": None, "warehouse_id": None}
    wh = refs.warehouses.get(data.warehouse or "")
    if not data.warehouse:
        errors.append(InvalidInput(field="warehouse", reason="input.required"))
    elif wh is None:
        errors.append(InvalidInput(field="warehouse", reason="stock.unknown_warehouse", value=data.warehouse))
    elif not wh.active:
        errors.append(InvalidInput(field="warehouse", reason="masterdata.inactive", value=data.warehouse))
    else:
        header["warehouse_id"] = wh.id
    if doc_type is DocType.TRANSFER:
        to = refs.warehouses.get(data.to_warehouse or "")
        if not data.to_warehouse:
            errors.append(InvalidInput(field="to_warehouse", reason="input.required"))
        elif to is None:
            errors.append(InvalidInput(field="to_warehouse", reason="stock.unknown_warehouse",
                                       value=data.to_warehouse))
        elif not to.active:
            errors.append(InvalidInput(field="to_warehouse", reason="masterdata.inactive", value=data.to_warehouse))
        elif data.to_warehouse == data.warehouse:
            errors.append(InvalidInput(field="to_warehouse", reason="stock.same_warehouse", value=data.to_warehouse))
        else:
            header["to_warehouse_id"] = to.id
    elif data.to_warehouse:
        errors.append(InvalidInput(field="to_warehouse", reason="input.not_allowed"))
    partner = refs.partners.get(data.partner or "")
    if kind.partner and not data.partner:
        errors.append(InvalidInput(field="partner", reason="input.required"))
    elif data.partner and partner is None:
        errors.append(InvalidInput(field="partner", reason="stock.unknown_partner", value=data.partner))
    elif partner is not None:
        if not partner.active:
            errors.append(InvalidInput(field="partner", reason="masterdata.inactive", value=data.partner))
        elif not partner_fits(partner.kind, kind.partner):
            errors.append(InvalidInput(field="partner", reason="stock.partner_kind", value=data.partner,
                                       kind=kind.partner or ""))
        else:
            header["partner_id"] = partner.id
    if data.account:
        acc = refs.accounts.get(data.account)
        if doc_type not in (DocType.OTHER_IN, DocType.OTHER_OUT, DocType.COST_ADJUSTMENT):
            errors.append(InvalidInput(field="account", reason="input.not_allowed"))
        elif acc is None:
            errors.append(AccountUnknown(account=data.account))
        elif not acc.is_leaf:
            errors.append(AccountNotLeaf(account=data.account))
        elif not acc.active:
            errors.append(AccountInactive(account=data.account))
        elif acc.partner_aux and header["partner_id"] is None:
            errors.append(PartnerRequired(account=data.account))
        else:
            header["counter_account_id"] = acc.id
    for name, text in (("reason", data.reason), ("memo", data.memo), ("no", data.no or "")):
        if len(text) > (40 if name == "no" else 200):
            errors.append(InvalidInput(field=name, reason="input.too_long", max=40 if name == "no" else 200))
    if not data.lines:
        errors.append(InvalidInput(field="lines", reason="stock.no_lines"))
    rows: list[_LineRow] = []
    seen: set[tuple[str, str]] = set()
    for i, ln in enumerate(data.lines, start=1):
        f = f"lines[{i}]"
        before = len(errors)
        prod = refs.products.get(ln.product)
        if prod is None:
            errors.append(InvalidInput(field=f"{f}.product", reason="stock.unknown_product", value=ln.product))
            continue
        if not prod.active:
            errors.append(InvalidInput(field=f"{f}.product", reason="masterdata.inactive", value=ln.product))
        batch = (ln.batch or "").strip()
        if prod.batch_tracked and not batch:
            errors.append(InvalidInput(field=f"{f}.batch", reason="stock.batch_required", value=ln.product))
        elif batch and not prod.batch_tracked:
            errors.append(InvalidInput(field=f"{f}.batch", reason="stock.batch_not_tracked", value=ln.product))
        elif len(batch) > 40:
            errors.append(InvalidInput(field=f"{f}.batch", reason="input.too_long", max=40))
        if (ln.product, batch) in seen and doc_type in (DocType.STOCKTAKE, DocType.COST_ADJUSTMENT):
            errors.append(InvalidInput(field=f"{f}.product", reason="stock.duplicate_line", value=ln.product))
        seen.add((ln.product, batch))
        qty = ln.qty
        amount = tax = price = rate = None
        if doc_type is DocType.COST_ADJUSTMENT:
            _check_number(f"{f}.amount", ln.amount, MONEY_PLACES, MAX_MONEY, errors)
            if ln.amount is None or ln.amount == 0:
                errors.append(InvalidInput(field=f"{f}.amount", reason="input.required"))
            amount, qty = ln.amount, ZERO
        elif qty is None:
            errors.append(InvalidInput(field=f"{f}.{'counted_qty' if doc_type is DocType.STOCKTAKE else 'qty'}",
                                       reason="input.required"))
        elif doc_type is DocType.STOCKTAKE:
            _check_number(f"{f}.counted_qty", qty, QTY_PLACES, MAX_QTY, errors, non_negative=True)
        else:
            _check_number(f"{f}.qty", qty, QTY_PLACES, MAX_QTY, errors, positive=True)
        if ln.price is not None and ln.price_incl_tax is not None:
            errors.append(InvalidInput(field=f"{f}.price", reason="stock.two_prices"))
        elif ln.price is not None or ln.price_incl_tax is not None:
            if not kind.priced and doc_type not in (DocType.PURCHASE_RETURN, DocType.SALES_DELIVERY,
                                                    DocType.SALES_RETURN):
                errors.append(InvalidInput(field=f"{f}.price", reason="input.not_allowed"))
            rate = ln.tax_rate if ln.tax_rate is not None else prod.tax_rate
            _check_number(f"{f}.tax_rate", rate, RATE_PLACES, MAX_RATE, errors, non_negative=True)
            if rate is not None and rate >= 1:
                errors.append(InvalidInput(field=f"{f}.tax_rate", reason="input.rate_range", value=str(rate)))
            given = ln.price if ln.price is not None else ln.price_incl_tax
            name = "price" if ln.price is not None else "price_incl_tax"
            _check_number(f"{f}.{name}", given, UNIT_COST_PLACES, MAX_MONEY, errors, non_negative=True)
            if len(errors) == before and qty is not None and given is not None and rate is not None:
                if ln.price is not None:
                    price = given
                    amount = money(qty * given)
                    tax = money(amount * rate)
                else:  # 价税分离: the tax is what is left, so amount + tax is the line total exactly
                    total = money(qty * given)
                    amount = money(total / (1 + rate))
                    tax = total - amount
                    price = unit_cost(amount / qty) if qty else ZERO
                if abs(amount) > MAX_MONEY:
                    errors.append(InvalidInput(field=f"{f}.qty", reason="input.too_large", value=str(qty)))
        elif kind.priced and doc_type is DocType.PURCHASE_RECEIPT:
            errors.append(InvalidInput(field=f"{f}.price", reason="input.required"))
        if ln.expiry is not None and not prod.batch_tracked:
            errors.append(InvalidInput(field=f"{f}.expiry", reason="stock.batch_not_tracked", value=ln.product))
        source_line_id = None
        if source_lines is not None and len(errors) == before:
            src = source_lines.get((prod.id, batch))
            if src is None:
                errors.append(InvalidInput(field=f"{f}.product", reason="stock.not_in_source", value=ln.product,
                                           source=data.source or ""))
            else:
                source_line_id = src.id
        if len(errors) == before:
            rows.append(_LineRow(prod.id, qty or ZERO, price, rate if amount is not None else None, amount, tax,
                                 batch, ln.expiry, source_line_id))
    if errors:
        raise BatchInvalid(errors)
    return header, rows


_DOC_INSERT = insert(DOC).returning(DOC.c.id)
_LINE_INSERT = insert(LINE)
_SOURCE_DOC = select(DOC.c.id, DOC.c.status, DOC.c.partner_id, DOC.c.doc_type, DOC.c.red).where(
    DOC.c.doc_type == bindparam("t"), DOC.c.no == bindparam("no"))
_SOURCE_LINES = select(LINE.c.id, LINE.c.product_id, LINE.c.batch, LINE.c.qty, LINE.c.order_line_id).where(
    LINE.c.doc_id == bindparam("d"))


def enter_doc(db: DB, data: StockDocIn, actor: Actor, refs: Refs | None = None) -> DocRef:
    """Insert a draft (no transaction of its own). Raises BatchInvalid, InvalidInput,
    DuplicateCode, PeriodClosed/PeriodMissing."""
    refs = refs or Refs()
    refs.load(db, [data])
    conn = conn_of(db)
    source_id = None
    source_lines = None
    if data.source:
        kind = KINDS.get(DocType(data.doc_type)) if data.doc_type in set(DocType) else None
        if kind is None or kind.source is None:
            raise InvalidInput(field="source", reason="input.not_allowed")
        src = conn.execute(_SOURCE_DOC, {"t": kind.source.value, "no": data.source}).one_or_none()
        if src is None:
            raise InvalidInput(field="source", reason="stock.unknown_source", value=data.source)
        if src.status != DocStatus.AUDITED:
            raise InvalidInput(field="source", reason="stock.source_not_audited", value=data.source)
        if src.red:  # a red-letter copy has already taken its original back
            raise InvalidInput(field="source", reason="stock.source_is_red", value=data.source)
        partner = refs.partners.get(data.partner or "")
        if partner is not None and src.partner_id != partner.id:
            raise InvalidInput(field="source", reason="stock.source_other_partner", value=data.source)
        source_id = src.id
        source_lines = {(r.product_id, r.batch): r for r in conn.execute(_SOURCE_LINES, {"d": src.id})}
    if data.doc_type == DocType.OPENING_STOCK:
        raise InvalidInput(field="type", reason="stock.opening_via_service", value=data.doc_type)
    header, rows = _validate(db, data, refs, source_lines)
    period, _ = open_period_and_rules(db, data.doc_date)
    doc_type = DocType(data.doc_type)
    if len(data.salesperson) > 60:
        raise InvalidInput(field="salesperson", reason="input.too_long", max=60)
    order_id = None
    order_lines: list[int | None]
    if data.order:
        order_id, picked = orderlinks.resolve_order(db, data.order.strip(), doc_type.value,
                                                    header["partner_id"], [(r.product_id, r.qty) for r in rows])
        order_lines = list(picked)
    else:
        of_source = orderlinks.source_order_lines(db, [r.source_line_id for r in rows])
        order_lines = [of_source.get(r.source_line_id or 0) for r in rows]
    if data.no:
        no = data.no.strip()
        if conn.execute(select(DOC.c.id).where(DOC.c.doc_type == doc_type.value, DOC.c.no == no)).first():
            raise DuplicateCode(entity=doc_type.value, code=no)
        note_doc_number(db, doc_type.value, period, no)
    else:
        year, month = int(period.label[:4]), int(period.label[5:])
        no = doc_number(doc_type, year, month, _next_doc_number(db, doc_type.value, period.id))
    # A concurrent writer may take the same number between the check and the insert.
    doc_id = insert_unique(conn, DOC, ("doc_type", "no"), {
        **header, "no": no, "doc_date": data.doc_date, "period_id": period.id, "status": DocStatus.DRAFT.value,
        "red": False, "source_id": source_id, "reason": data.reason, "memo": data.memo, "created_by": actor.id,
        "created_at": utcnow(), "audited_by": None, "voucher_id": None, "order_id": order_id,
        "salesperson": data.salesperson})
    if doc_id is None:
        raise DuplicateCode(entity=doc_type.value, code=no)
    conn.execute(_LINE_INSERT, [
        {"doc_id": doc_id, "line_no": i, "product_id": r.product_id, "qty": r.qty, "price": r.price,
         "tax_rate": r.tax_rate, "amount": r.amount, "tax": r.tax, "batch": r.batch, "expiry": r.expiry,
         "book_qty": None, "source_line_id": r.source_line_id, "order_line_id": order_lines[i - 1]}
        for i, r in enumerate(rows, start=1)])
    return DocRef(doc_id, doc_type.value, no, DocStatus.DRAFT.value)


# --- posting rules -----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Accounts:
    inventory: int
    counter: int


_RULES_CACHE: dict[str, tuple[int, _Rules]] = {}
_RULES_AND_AUX = union_all(
    select(RULE.c.doc_type, RULE.c.category, RULE.c.inventory_account_id, RULE.c.counter_account_id),
    select(null(), null(), ACCOUNT.c.id, null()).where(ACCOUNT.c.partner_aux),
    select(null(), literal("item"), ACCOUNT.c.id, null()).where(ACCOUNT.c.code.in_(ITEM_ACCOUNTS)))


class _Rules:
    """Posting rules and which accounts keep partner sub-ledgers. A process keeps them per
    database while the book's posting_rules_version stays the same (read with the period on
    every audit); an account's partner sub-ledger flag never changes after it is created."""

    def __init__(self, db: DB) -> None:
        self.rules: dict[tuple[str, str], _Accounts] = {}
        self.aux: set[int] = set()
        self.items: set[int] = set()  # the open-item accounts (应收/预收/应付/预付)
        for r in conn_of(db).execute(_RULES_AND_AUX):
            if r.doc_type is None and r.category == "item":
                self.items.add(r.inventory_account_id)
            elif r.doc_type is None:
                self.aux.add(r.inventory_account_id)
            else:
                self.rules[(r.doc_type, r.category)] = _Accounts(r.inventory_account_id, r.counter_account_id)

    @classmethod
    def of(cls, db: DB, rules: BookRules | None = None) -> _Rules:
        conn = conn_of(db)
        version = (rules or book_rules(conn)).posting_rules_version
        key = str(conn.engine.url)
        cached = _RULES_CACHE.get(key)
        if cached is None or cached[0] != version:
            cached = (version, cls(conn))
            _RULES_CACHE[key] = cached
        return cached[1]

    def accounts(self, doc_type: str, category: str | None) -> _Accounts:
        found = self.rules.get((doc_type, category or "")) or self.rules.get((doc_type, ""))
        if found is None:
            raise StockDocRefused(document=doc_type, reason="stock.no_posting_rule")
        return found

    def partner_for(self, account_id: int, partner_id: int | None) -> int | None:
        return partner_id if account_id in self.aux else None


# --- the running balances ----------------------------------------------------------

@dataclass(slots=True)
class _KeyState:
    key: Key
    method: Method
    bal: Balance
    last_date: date | None
    expiry: date | None
    product: str  # code, for messages
    warehouse: str
    dirty_layers: dict[int, Layer] = field(default_factory=dict)  # ident -> layer changed since loaded
    new_layers: set[int] = field(default_factory=set)
    # Where each layer's receipt stands in the ledger, (entry_date, entry_id): FIFO order.
    layer_pos: dict[int, tuple[date, int]] = field(default_factory=dict)


_LAYERS = (select(LAYER.c.ident, LAYER.c.qty, LAYER.c.value, LAYER.c.entry_date, LAYER.c.entry_id)
           .where(LAYER.c.product_id == bindparam("p"), LAYER.c.warehouse_id == bindparam("w"),
                  LAYER.c.batch == bindparam("b"), LAYER.c.qty > 0)
           .order_by(LAYER.c.entry_date, LAYER.c.entry_id))
_BAL_SET = (update(BAL).where(BAL.c.product_id == bindparam("p"), BAL.c.warehouse_id == bindparam("w"),
                              BAL.c.batch == bindparam("b"))
            .values(qty=bindparam("q"), value=bindparam("v"), last_unit=bindparam("u"), last_date=bindparam("d"),
                    expiry=bindparam("e")))
_LAYER_SET = update(LAYER).where(LAYER.c.ident == bindparam("i")).values(qty=bindparam("q"), value=bindparam("v"))
_BAL_NEW: dict[str, Any] = {}


_BAL_COLS = (BAL.c.product_id, BAL.c.warehouse_id, BAL.c.batch, BAL.c.qty, BAL.c.value, BAL.c.last_unit,
             BAL.c.last_date, BAL.c.expiry)
_BAL_LOCKS: dict[int, Any] = {}


def _bal_lock(n: int) -> Any:
    """SELECT ... FOR UPDATE of n balance rows in key order, one statement per arity, built once."""
    stmt = _BAL_LOCKS.get(n)
    if stmt is None:
        # OR of key equalities, not a row-value IN: SQLite scans the whole table for the latter.
        keys = [and_(BAL.c.product_id == bindparam(f"p{i}"), BAL.c.warehouse_id == bindparam(f"w{i}"),
                     BAL.c.batch == bindparam(f"b{i}")) for i in range(n)]
        stmt = (select(*_BAL_COLS).where(or_(*keys))
                .order_by(BAL.c.product_id, BAL.c.warehouse_id, BAL.c.batch).with_for_update())
        _BAL_LOCKS[n] = stmt
    return stmt


def _lock_keys(db: DB, keys: Sequence[Key], methods: dict[int, str], names: dict[Key, tuple[str, str]],
               ) -> dict[Key, _KeyState]:
    """Lock the balance rows of `keys` in key order, creating missing ones, and read them (with
    FIFO layers). Sorted locking means two documents never wait on each other in a cycle."""
    conn = conn_of(db)
    ordered = sorted(set(keys))

    def read(chunk: Sequence[Key]) -> dict[Key, Any]:
        params: dict[str, Any] = {}
        for i, (p, w, b) in enumerate(chunk):
            params.update({f"p{i}": p, f"w{i}": w, f"b{i}": b})
        return {(r.product_id, r.warehouse_id, r.batch): r for r in conn.execute(_bal_lock(len(chunk)), params)}

    # Chunks in key order keep the lock order; a chunk bounds the statement's size.
    rows: dict[Key, Any] = {}
    for chunk in _chunks(ordered, 50):
        rows.update(read(chunk))
    if len(rows) < len(ordered):
        stmt = _BAL_NEW.get(conn.dialect.name)
        if stmt is None:
            stmt = dialect_insert(conn, BAL).on_conflict_do_nothing()
            _BAL_NEW[conn.dialect.name] = stmt
        missing = [k for k in ordered if k not in rows]
        conn.execute(stmt, [{"product_id": p, "warehouse_id": w, "batch": b, "qty": ZERO, "value": ZERO,
                             "last_unit": ZERO, "last_date": None, "expiry": None} for p, w, b in missing])
        for chunk in _chunks(missing, 50):
            rows.update(read(chunk))
    states: dict[Key, _KeyState] = {}
    for key in ordered:
        r = rows[key]
        method = Method(methods[key[0]])
        bal = Balance(r.qty, r.value, r.last_unit)
        st = _KeyState(key, method, bal, r.last_date, r.expiry, *names[key])
        if method is Method.FIFO:
            for lr in conn.execute(_LAYERS, {"p": key[0], "w": key[1], "b": key[2]}):
                bal.layers.append(Layer(lr.ident, lr.qty, lr.value))
                st.layer_pos[lr.ident] = (lr.entry_date, lr.entry_id)
        states[key] = st
    return states


def _save_states(db: DB, states: Sequence[_KeyState], day: date | None) -> None:
    """Write the balance rows and the FIFO layers of these keys, a statement for each kind."""
    rows = []
    new_layers: list[dict[str, Any]] = []
    changed_layers: list[dict[str, Any]] = []
    for st in states:
        last = max(d for d in (st.last_date, day) if d) if (st.last_date or day) else None
        st.last_date = last
        rows.append({"p": st.key[0], "w": st.key[1], "b": st.key[2], "q": st.bal.qty, "v": st.bal.value,
                     "u": st.bal.last_unit, "d": last, "e": st.expiry})
        _layer_rows(st, new_layers, changed_layers)
    conn = conn_of(db)
    if rows:
        conn.execute(_BAL_SET, rows)
    if new_layers:
        conn.execute(insert(LAYER), new_layers)
    if changed_layers:
        conn.execute(_LAYER_SET, changed_layers)


def _save_layers(db: DB, st: _KeyState) -> None:
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    _layer_rows(st, new, changed)
    if new:
        conn_of(db).execute(insert(LAYER), new)
    if changed:
        conn_of(db).execute(_LAYER_SET, changed)


def _layer_rows(st: _KeyState, new: list[dict[str, Any]], changed: list[dict[str, Any]]) -> None:
    """The FIFO layer rows a key's costing created or changed since they were last written."""
    if st.method is not Method.FIFO:
        return
    current = {x.ident: x for x in st.bal.layers}
    new += [{"ident": i, "product_id": st.key[0], "warehouse_id": st.key[1], "batch": st.key[2],
             "entry_date": st.layer_pos[i][0], "entry_id": st.layer_pos[i][1],
             "qty": current[i].qty if i in current else ZERO,
             "value": current[i].value if i in current else ZERO} for i in sorted(st.new_layers)]
    changed += [{"i": i, "q": current[i].qty if i in current else ZERO,
                 "v": current[i].value if i in current else ZERO}
                for i in st.dirty_layers if i not in st.new_layers]
    st.new_layers.clear()
    st.dirty_layers.clear()


def _cost(st: _KeyState, move: Move, allow_negative: bool, day: date, entry_id: int = 0) -> Any:
    """cost_move on a key's balance, with the key's names in a refusal and FIFO layer changes
    noted for writing. entry_id: the entry's row id when it exists already (re-costing); a new
    entry's is filled in by number_entries."""
    before = {x.ident: x for x in st.bal.layers} if st.method is Method.FIFO else {}
    try:
        costed = cost_move(st.method, st.bal, move, allow_negative=allow_negative)
    except Shortfall as exc:
        raise Shortfall(product=st.product, warehouse=st.warehouse, batch=st.key[2], date=day.isoformat(),
                        shortfall=exc.params["shortfall"], available=exc.params["available"]) from None
    except NothingToAdjust:
        raise NothingToAdjust(product=st.product, warehouse=st.warehouse) from None
    if st.method is Method.FIFO:
        for layer_ident, _, _ in costed.takes:
            st.dirty_layers[layer_ident] = before[layer_ident]
        if move.qty > 0 and st.bal.layers and st.bal.layers[-1].ident == move.entry_id:
            st.new_layers.add(move.entry_id)
            st.layer_pos[move.entry_id] = (day, entry_id)
    return costed


def number_entries(db: DB, rows: list[dict[str, Any]], states: dict[Key, _KeyState],
                   ids: list[int] | None = None) -> None:
    """Give new entry rows their ids before they are written (reserved, or the `ids` given), and
    tell the FIFO layers they made where they stand in the ledger."""
    if not rows:
        return
    if ids is None:
        if not any(st.method is Method.FIFO for st in states.values()):
            return  # only FIFO layers need to know their place; the database numbers the rest
        ids = reserve_ids(db, ENTRY, len(rows))
    for row, entry_id in zip(rows, ids, strict=True):
        row["id"] = entry_id
        st = states.get((row["product_id"], row["warehouse_id"], row["batch"]))
        layer = ident(row["doc_line_id"], row["leg"])
        if st is not None and layer in st.layer_pos:
            st.layer_pos[layer] = (row["entry_date"], entry_id)


# --- auditing ------------------------------------------------------------------------

_DOC_LOCK = (select(DOC).where(DOC.c.id == bindparam("d")).with_for_update())
_FROM_WH = WAREHOUSE.alias("from_wh")
_TO_WH = WAREHOUSE.alias("to_wh")
_DOC_WITH_LINES = (
    select(*DOC.c, LINE.c.id.label("l_id"), LINE.c.line_no.label("l_line_no"), LINE.c.product_id.label("l_product_id"),
           LINE.c.qty.label("l_qty"), LINE.c.amount.label("l_amount"), LINE.c.batch.label("l_batch"),
           LINE.c.expiry.label("l_expiry"), LINE.c.source_line_id.label("l_source_line_id"),
           PRODUCT.c.code.label("l_code"), PRODUCT.c.costing_method.label("l_costing_method"),
           PRODUCT.c.category.label("l_category"), _FROM_WH.c.code.label("wh_code"), _TO_WH.c.code.label("to_wh_code"),
           PARTNER.c.credit_limit.label("credit_limit"))
    .select_from(DOC.join(LINE, LINE.c.doc_id == DOC.c.id).join(PRODUCT, PRODUCT.c.id == LINE.c.product_id)
                 .join(_FROM_WH, _FROM_WH.c.id == DOC.c.warehouse_id)
                 .outerjoin(_TO_WH, _TO_WH.c.id == DOC.c.to_warehouse_id)
                 .outerjoin(PARTNER, PARTNER.c.id == DOC.c.partner_id))
    .where(DOC.c.id == bindparam("d")).order_by(LINE.c.line_no).with_for_update(of=DOC))


@dataclass(frozen=True, slots=True)
class _LineFacts:
    id: int
    line_no: int
    product_id: int
    qty: Decimal
    amount: Decimal | None
    batch: str
    expiry: date | None
    source_line_id: int | None
    code: str
    costing_method: str
    category: str | None


def _lock_doc(db: DB, doc_id: int) -> tuple[Any, list[_LineFacts]]:
    """The document, locked, with its lines and their products' costing facts: one round trip."""
    rows = conn_of(db).execute(_DOC_WITH_LINES, {"d": doc_id}).all()
    if not rows:
        raise NotFound(entity="stock_doc", key=doc_id)
    return rows[0], [_LineFacts(r.l_id, r.l_line_no, r.l_product_id, r.l_qty, r.l_amount, r.l_batch, r.l_expiry,
                                r.l_source_line_id, r.l_code, r.l_costing_method, r.l_category) for r in rows]


_WH_CODES = select(WAREHOUSE.c.id, WAREHOUSE.c.code).where(WAREHOUSE.c.id.in_(bindparam("ids", expanding=True)))


def _warehouse_codes(db: DB, ids: set[int]) -> dict[int, str]:
    """Warehouse codes by id. Not remembered between transactions: a warehouse made in one that
    rolled back may leave its id to another warehouse."""
    return {r.id: r.code for r in conn_of(db).execute(_WH_CODES, {"ids": sorted(ids)})}


_ENTRY_INSERT = insert(ENTRY)
_DOC_AUDITED = update(DOC).where(DOC.c.id == bindparam("d")).values(
    status=bindparam("s"), audited_by=bindparam("a"), voucher_id=bindparam("vid"))
_BOOK_QTY = update(LINE).where(LINE.c.id == bindparam("l")).values(book_qty=bindparam("q"))
_SOURCE_ENTRY = select(ENTRY.c.doc_line_id, ENTRY.c.leg, ENTRY.c.qty, ENTRY.c.value).where(
    ENTRY.c.doc_line_id.in_(bindparam("ids", expanding=True)), ENTRY.c.leg == 0)
_LINK = update(ENTRY).where(ENTRY.c.doc_line_id == bindparam("l"), ENTRY.c.leg == 0).values(linked=True)
_RETURNED = (select(LINE.c.id, LINE.c.source_line_id, LINE.c.qty, DOC.c.red).join(DOC, DOC.c.id == LINE.c.doc_id)
             .where(LINE.c.source_line_id.in_(bindparam("ids", expanding=True)), DOC.c.status == "audited",
                    DOC.c.doc_type != DocType.TRANSFER.value))


@dataclass(slots=True)
class _Planned:
    """One stock entry about to be written."""

    line_id: int
    leg: int
    key: Key
    dir: int
    qty: Decimal
    basis: str  # fixed | source | cost
    fixed: Decimal | None
    source_line_id: int | None
    prefer_layer: int | None
    expiry: date | None
    category: str | None
    row: dict[str, Any] = field(default_factory=dict)


def _source_value(src_qty: Decimal, src_value: Decimal, qty: Decimal) -> Decimal:
    """The cost `qty` (signed) carries when it reverses or returns part of a source entry."""
    sign = 1 if qty > 0 else -1
    src_sign = 1 if src_qty > 0 else -1
    return sign * portion(abs(qty), abs(src_qty), src_value * src_sign)


def _plan(doc: Any, lines: list[_LineFacts], states_at: Any, red_of: dict[int, Any]) -> list[_Planned]:
    """The entries a document's lines make, before costing."""
    doc_type = DocType(doc.doc_type)
    kind = KINDS[doc_type]
    plans: list[_Planned] = []
    for ln in lines:
        key = (ln.product_id, doc.warehouse_id, ln.batch)
        monthly = Method(ln.costing_method) is Method.MONTHLY_AVERAGE
        if doc.red and ln.source_line_id is not None:
            # 红字: the original line's direction, moving the other way at the original's cost.
            orig = red_of[ln.source_line_id]
            prefer = ident(ln.source_line_id, 0) if orig.dir == IN else None
            # Monthly average: reversing what the run costs (an issue, an unpriced receipt) is costed
            # by the run too; taking the cost from the original instead would make the period's
            # unit depend on itself.
            basis = "cost" if monthly and (orig.dir == OUT or orig.basis == "cost") else "source"
            plans.append(_Planned(ln.id, 0, key, orig.dir, -orig.dir * ln.qty, basis, None,
                                  ln.source_line_id, prefer, ln.expiry, ln.category))
            continue
        if doc_type is DocType.TRANSFER:
            out = _Planned(ln.id, 0, key, OUT, -ln.qty, "fixed" if monthly else "cost", None, None, None, ln.expiry,
                           ln.category)
            plans.append(out)
            plans.append(_Planned(ln.id, 1, (ln.product_id, doc.to_warehouse_id, ln.batch), IN, ln.qty, "source",
                                  None, ln.id, None, ln.expiry, ln.category))
        elif doc_type is DocType.STOCKTAKE:
            book = states_at(key).bal.qty
            diff = ln.qty - book
            plans.append(_Planned(ln.id, 0, key, IN if diff >= 0 else OUT, diff, "cost" if diff else "none", None,
                                  None, None, ln.expiry, ln.category, {"book_qty": book}))
        elif doc_type is DocType.COST_ADJUSTMENT:
            # An invoice's price difference names the receipt line whose FIFO layer it revalues.
            prefer = ident(ln.source_line_id, 0) if ln.source_line_id is not None else None
            plans.append(_Planned(ln.id, 0, key, IN, ZERO, "fixed", ln.amount, ln.source_line_id, prefer, None,
                                  ln.category))
        elif ln.source_line_id is not None:
            prefer = ident(ln.source_line_id, 0) if kind.direction == OUT else None
            # Monthly average: goods coming back take the period's unit cost from the run, as a
            # negative issue would; their delivery's cost is itself only known at the run.
            basis = "cost" if monthly and kind.direction == IN else "source"
            plans.append(_Planned(ln.id, 0, key, kind.direction, kind.direction * ln.qty, basis, None,
                                  ln.source_line_id, prefer, ln.expiry, ln.category))
        elif kind.direction == IN and ln.amount is not None:
            plans.append(_Planned(ln.id, 0, key, IN, ln.qty, "fixed", ln.amount, None, None, ln.expiry, ln.category))
        else:
            plans.append(_Planned(ln.id, 0, key, kind.direction, kind.direction * ln.qty, "cost", None, None, None,
                                  ln.expiry, ln.category))
    return plans


class _VoucherLayout:
    """The lines of one generated voucher, in order of first use, keyed by side/account/partner."""

    def __init__(self, first_no: int = 1, existing: dict[tuple[int, int, int | None], int] | None = None) -> None:
        self.index: dict[tuple[int, int, int | None], int] = dict(existing or {})
        self.lines: list[GenLine] = []
        self.amounts: dict[int, Decimal] = {}
        self.first_no = first_no

    def line(self, side: int, account: int, partner: int | None) -> int:
        k = (side, account, partner)
        no = self.index.get(k)
        if no is None:
            no = self.first_no + len(self.lines)
            self.index[k] = no
            self.lines.append(GenLine(account, partner, side, ZERO))
        return no

    def add(self, no: int, amount: Decimal) -> None:
        self.amounts[no] = self.amounts.get(no, ZERO) + amount

    def new_lines(self) -> list[GenLine]:
        return [GenLine(ln.account_id, ln.partner_id, ln.side, self.amounts.get(self.first_no + i, ZERO))
                for i, ln in enumerate(self.lines)]


def _entry_accounts(rules: _Rules, doc: Any, p: _Planned) -> tuple[int | None, int | None]:
    """Debit and credit accounts of an entry's own value: into stock Dr inventory / Cr counter,
    out of it Dr counter / Cr inventory. A transfer moves stock between warehouses of the same
    inventory account, so it posts nothing."""
    if doc.doc_type in (DocType.TRANSFER, DocType.OPENING_STOCK):
        return None, None
    acc = rules.accounts(doc.doc_type, p.category)
    counter = doc.counter_account_id or acc.counter
    return (acc.inventory, counter) if p.dir == IN else (counter, acc.inventory)


@dataclass(slots=True)
class _DocCosting:
    layout: _VoucherLayout
    takes: list[dict[str, Any]]
    fresh: dict[int, tuple[Decimal, Decimal]]


def _cost_doc(doc: Any, plans: list[_Planned], states: dict[Key, _KeyState], book: _Rules, allow_negative: bool,
              period_id: int, sources: dict[int, tuple[Decimal, Decimal]]) -> _DocCosting:
    """Cost a document's planned entries against the running balances, in line order, and lay
    out its voucher. No I/O: each plan's `row` becomes the entry to insert (voucher id unset),
    so the one-document audit and the bulk import share it."""
    layout = _VoucherLayout()
    fresh: dict[int, tuple[Decimal, Decimal]] = {}  # this document's leg-0 values, for its transfer legs
    take_rows: list[dict[str, Any]] = []
    for p in plans:
        st = states[p.key]
        if p.basis == "none":  # a stocktake line that found the book quantity: nothing moves
            continue
        if p.basis == "source":
            src = fresh.get(p.line_id) if p.leg == 1 else sources.get(p.source_line_id or 0)
            if src is None:
                raise StockDocRefused(document=doc.no, reason="stock.source_missing")
            value = -src[1] if p.leg == 1 else _source_value(src[0], src[1], p.qty)
            move = Move(ident(p.line_id, p.leg), p.qty,
                        None if (p.prefer_layer is not None and st.method is Method.FIFO) else value,
                        p.prefer_layer)
        elif p.basis == "fixed" and p.fixed is None:  # a monthly-average transfer: at the last known unit cost
            p.fixed = -money(-p.qty * st.bal.last_unit)
            move = Move(ident(p.line_id, p.leg), p.qty, p.fixed)
        else:  # an invoice's price difference names the receipt whose FIFO layer it revalues
            move = Move(ident(p.line_id, p.leg), p.qty, p.fixed, p.prefer_layer)
        costed = _cost(st, move, allow_negative, doc.doc_date)
        take_rows.extend({"taker": move.entry_id, "layer": t[0], "qty": t[1], "value": t[2]} for t in costed.takes)
        if p.leg == 0:
            fresh[p.line_id] = (p.qty, costed.value)
        if p.expiry is not None and p.qty > 0:
            st.expiry = p.expiry
        dr, cr = _entry_accounts(book, doc, p)
        row = {"doc_id": doc.id, "doc_line_id": p.line_id, "leg": p.leg, "product_id": p.key[0],
               "warehouse_id": p.key[1], "batch": p.key[2], "expiry": p.expiry or st.expiry,
               "entry_date": doc.doc_date, "period_id": period_id, "dir": p.dir, "qty": p.qty,
               "value": costed.value, "adjust": costed.adjust, "basis": p.basis, "source_line_id": p.source_line_id,
               "linked": p.leg == 0 and doc.doc_type == DocType.TRANSFER, "bal_qty": costed.qty_after,
               "bal_value": costed.value_after, "unit_cost": costed.unit_after, "voucher_id": None,
               "dr_account_id": dr, "cr_account_id": cr, "partner_id": doc.partner_id, "dr_line": None,
               "cr_line": None, "adj_dr_line": None, "adj_cr_line": None}
        if "book_qty" in p.row:
            row["book_qty"] = p.row["book_qty"]
        p.row = row
        # A monthly-average issue is costed, and put on a voucher, by the period's run instead.
        if dr is not None and cr is not None and (st.method is not Method.MONTHLY_AVERAGE or p.basis != "cost"):
            amount = costed.value * p.dir
            row["dr_line"] = layout.line(1, dr, book.partner_for(dr, doc.partner_id))
            row["cr_line"] = layout.line(-1, cr, book.partner_for(cr, doc.partner_id))
            layout.add(row["dr_line"], amount)
            layout.add(row["cr_line"], amount)
        if (allow_negative or costed.adjust) and p.qty > 0 and st.method is not Method.MONTHLY_AVERAGE:
            acc = book.accounts(SETTLEMENT, p.category)
            row["adj_dr_line"] = layout.line(1, acc.counter, book.partner_for(acc.counter, doc.partner_id))
            row["adj_cr_line"] = layout.line(-1, acc.inventory, book.partner_for(acc.inventory, doc.partner_id))
            layout.add(row["adj_dr_line"], costed.adjust)
            layout.add(row["adj_cr_line"], costed.adjust)
    return _DocCosting(layout, take_rows, fresh)


def audit_doc(db: DB, doc_id: int, actor: Actor) -> DocRef:
    """Audit a draft (no transaction, no audit-log entry of its own: the caller's step has them)."""
    return _audit(db, doc_id, actor)


def _audit(db: DB, doc_id: int, actor: Actor) -> DocRef:
    conn = conn_of(db)
    doc, lines = _lock_doc(db, doc_id)
    if doc.status != DocStatus.DRAFT:
        raise InvalidTransition(document=doc.no, current=doc.status, target=DocStatus.AUDITED.value)
    period, rules = _doc_period(db, doc)
    if rules.require_distinct_auditor and doc.created_by == actor.id and doc.doc_type != DocType.OPENING_STOCK:
        raise SameUserAudit(voucher=doc.no, user=actor.username)
    if doc.source_id is not None:
        source = conn.execute(select(DOC.c.id, DOC.c.no, DOC.c.status, DOC.c.doc_type).where(
            DOC.c.id == doc.source_id)).one()
        if source.status != DocStatus.AUDITED:  # un-audited since this document was made
            raise InvalidInput(field="source", reason="stock.source_not_audited", value=source.no)
        if doc.red:  # invoiced since the copy was made: a return and a red invoice correct it instead
            orderlinks.refuse_if_invoiced(db, source)
    red_of: dict[int, Any] = {}
    if doc.red:
        red_of = {r.doc_line_id: r for r in conn.execute(
            select(ENTRY.c.doc_line_id, ENTRY.c.dir, ENTRY.c.basis)
            .where(ENTRY.c.doc_id == doc.source_id, ENTRY.c.leg == 0))}
    if doc.source_id is not None:
        _check_returnable(db, doc, lines)
    warnings: tuple[TradeWarning, ...] = ()
    if doc.doc_type == DocType.SALES_DELIVERY and not doc.red and rules.credit_control != "off" \
            and doc.credit_limit is not None:
        warnings = orderlinks.credit_check(db, doc.partner_id, orderlinks.delivery_value(db, doc.id), rules, doc.no)
    orderlinks.apply_stock(db, doc, 1, rules)
    wh_codes = {doc.warehouse_id: doc.wh_code, **({doc.to_warehouse_id: doc.to_wh_code} if doc.to_warehouse_id else {})}
    keys = {(ln.product_id, doc.warehouse_id, ln.batch) for ln in lines}
    if doc.to_warehouse_id:
        keys |= {(ln.product_id, doc.to_warehouse_id, ln.batch) for ln in lines}
    methods = {ln.product_id: ln.costing_method for ln in lines}
    codes = {ln.product_id: ln.code for ln in lines}
    names = {k: (codes[k[0]], wh_codes[k[1]]) for k in keys}
    states = _lock_keys(db, sorted(keys), methods, names)
    backdated = {k for k, st in states.items() if st.last_date is not None and st.last_date > doc.doc_date}
    for k in sorted(backdated):
        states[k] = _state_at(db, states[k], doc.doc_date, FAR)
    plans = _plan(doc, lines, states.__getitem__, red_of)
    sources = _source_entries(db, [p.source_line_id for p in plans if p.basis == "source" and p.leg == 0])
    book = _Rules.of(db, rules)
    costed = _cost_doc(doc, plans, states, book, rules.allow_negative_stock, period.id, sources)
    layout = costed.layout
    voucher_id = None
    if layout.lines:
        new_lines = layout.new_lines()
        voucher_id = insert_generated_voucher(
            db, period, rules, doc.doc_date, doc.no, new_lines, "stock_doc", doc.id, actor,
            items=any(ln.account_id in book.items and ln.partner_id is not None for ln in new_lines))
    take_rows = costed.takes
    rows = []
    for p in plans:
        if "book_qty" in p.row:
            conn.execute(_BOOK_QTY, {"l": p.line_id, "q": p.row.pop("book_qty")})
        if p.basis == "none":
            continue
        if p.row["dr_line"] is not None or p.row["adj_dr_line"] is not None:
            p.row["voucher_id"] = voucher_id
        rows.append(p.row)
    number_entries(db, rows, states)
    if rows:
        conn.execute(_ENTRY_INSERT, rows)
    linked = sorted({p.source_line_id for p in plans if p.basis == "source" and p.leg == 0 and p.source_line_id})
    if linked:
        conn.execute(_LINK, [{"l": x} for x in linked])
    if take_rows:
        conn.execute(insert(TAKE), take_rows)
    # Monthly-average entries in a period whose costing run is done are costed again with it.
    monthly = {p.key for p in plans if p.basis != "none" and states[p.key].method is Method.MONTHLY_AVERAGE}
    runs = _run_periods(db) if monthly or backdated else {}
    rerun = monthly if _run_covers(runs, doc.doc_date) else set()
    _save_states(db, list(states.values()), doc.doc_date)
    todo = [(k, doc.doc_date, FAR) for k in sorted(backdated - rerun)]
    todo += [(k, doc.doc_date, 0) for k in sorted(rerun)]
    if todo:
        _recost(db, todo, states, rules, runs, actor)
    conn.execute(_DOC_AUDITED, {"d": doc.id, "s": DocStatus.AUDITED.value, "a": actor.id, "vid": voucher_id})
    return DocRef(doc.id, doc.doc_type, doc.no, DocStatus.AUDITED.value, warnings)


def _doc_period(db: DB, doc: Any) -> tuple[PeriodRef, BookRules]:
    """The open period a document posts in. Opening stock is dated the day before the book
    starts and belongs to its first period; it changes only while the opening is not fixed."""
    if doc.doc_type != DocType.OPENING_STOCK:
        return open_period_and_rules(db, doc.doc_date)
    rules = book_rules(db)
    if rules.opening_locked:
        raise OpeningLocked()
    return _period_ref(db, doc.period_id), rules


def _source_entries(db: DB, line_ids: Iterable[int | None]) -> dict[int, tuple[Decimal, Decimal]]:
    """(qty, value) of the leg-0 entries of these document lines."""
    ids = sorted({x for x in line_ids if x})
    found: dict[int, tuple[Decimal, Decimal]] = {}
    for i in range(0, len(ids), 500):
        for r in conn_of(db).execute(_SOURCE_ENTRY, {"ids": ids[i:i + 500]}):
            found[r.doc_line_id] = (r.qty, r.value)
    return found


def _check_returnable(db: DB, doc: Any, lines: list[Any]) -> None:
    """A return or red-letter document may take back at most what its source line moved, less
    what audited returns and red-letter documents already took back."""
    conn = conn_of(db)
    ids = sorted({ln.source_line_id for ln in lines if ln.source_line_id})
    source_qty = {r.id: r.qty for r in conn.execute(select(LINE.c.id, LINE.c.qty).where(LINE.c.id.in_(ids)))}
    done: dict[int, Decimal] = defaultdict(lambda: ZERO)
    returns: dict[int, int] = {}  # a return's line -> the line it returns
    for r in conn.execute(_RETURNED, {"ids": ids}):
        done[r.source_line_id] += r.qty
        if not r.red:
            returns[r.id] = r.source_line_id
    if returns:  # a return reversed in red gives its quantity back
        for r in conn.execute(_RETURNED, {"ids": sorted(returns)}):
            if r.red:
                done[returns[r.source_line_id]] -= r.qty
    for ln in lines:
        if ln.source_line_id is None:
            continue
        left = source_qty.get(ln.source_line_id, ZERO) - done[ln.source_line_id]
        if ln.qty > left:
            raise InvalidInput(field=f"lines[{ln.line_no}].qty", reason="stock.return_exceeds", value=str(ln.qty),
                               available=str(left))


@dataclass(frozen=True, slots=True)
class _Run:
    period_id: int
    start: date
    end: date
    voucher_id: int | None


def _run_periods(db: DB) -> dict[int, _Run]:
    from jxc.services.common import PERIOD
    rows = conn_of(db).execute(select(RUN.c.period_id, RUN.c.voucher_id, PERIOD.c.start_date, PERIOD.c.end_date)
                               .join(PERIOD, PERIOD.c.id == RUN.c.period_id).where(PERIOD.c.status == "open"))
    return {r.period_id: _Run(r.period_id, r.start_date, r.end_date, r.voucher_id) for r in rows}


def _run_covers(runs: dict[int, _Run], day: date) -> bool:
    return any(r.end >= day for r in runs.values())


_BEFORE = (select(ENTRY.c.bal_qty, ENTRY.c.bal_value, ENTRY.c.unit_cost)
           .where(ENTRY.c.product_id == bindparam("p"), ENTRY.c.warehouse_id == bindparam("w"),
                  ENTRY.c.batch == bindparam("b"),
                  or_(ENTRY.c.entry_date < bindparam("d"),
                      and_(ENTRY.c.entry_date == bindparam("d"), ENTRY.c.id <= bindparam("i"))))
           .order_by(ENTRY.c.entry_date.desc(), ENTRY.c.id.desc()).limit(1))
_AFTER_WHERE = (ENTRY.c.product_id == bindparam("p"), ENTRY.c.warehouse_id == bindparam("w"),
                ENTRY.c.batch == bindparam("b"),
                or_(ENTRY.c.entry_date > bindparam("d"),
                    and_(ENTRY.c.entry_date == bindparam("d"), ENTRY.c.id > bindparam("i"))))
# The fast loop in _replay unpacks the first 19 columns by position: keep their order.
_AFTER = (select(ENTRY.c.id, ENTRY.c.doc_id, ENTRY.c.doc_line_id, ENTRY.c.leg, ENTRY.c.entry_date, ENTRY.c.period_id,
                 ENTRY.c.dir, ENTRY.c.qty, ENTRY.c.value, ENTRY.c.adjust, ENTRY.c.basis, ENTRY.c.source_line_id,
                 ENTRY.c.linked, ENTRY.c.voucher_id,
                 ENTRY.c.dr_account_id, ENTRY.c.cr_account_id, ENTRY.c.partner_id, ENTRY.c.dr_line, ENTRY.c.cr_line,
                 ENTRY.c.adj_dr_line, ENTRY.c.adj_cr_line, ENTRY.c.product_id)
          .where(*_AFTER_WHERE).order_by(ENTRY.c.entry_date, ENTRY.c.id))
_AFTER_IDENTS = select(ENTRY.c.doc_line_id, ENTRY.c.leg, ENTRY.c.qty).where(*_AFTER_WHERE)
_LAYER_GIVE = update(LAYER).where(LAYER.c.ident == bindparam("l")).values(
    qty=LAYER.c.qty + bindparam("q"), value=LAYER.c.value + bindparam("v"))


def _chunks(items: Sequence[Any], size: int = 500) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _state_at(db: DB, st: _KeyState, day: date, after_id: int) -> _KeyState:
    """The key's balance just after position (day, after_id), everything later not yet costed:
    FIFO layers get back what later entries took, and the layers later receipts made go."""
    conn = conn_of(db)
    params = {"p": st.key[0], "w": st.key[1], "b": st.key[2], "d": day, "i": after_id}
    row = conn.execute(_BEFORE, params).one_or_none()
    bal = Balance(row.bal_qty, row.bal_value, row.unit_cost) if row else Balance()
    new = _KeyState(st.key, st.method, bal, st.last_date, st.expiry, st.product, st.warehouse)
    if st.method is Method.FIFO:
        later = list(conn.execute(_AFTER_IDENTS, params))
        takers = [ident(r.doc_line_id, r.leg) for r in later]
        given: dict[int, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
        for chunk in _chunks(takers):
            for t in conn.execute(select(TAKE.c.layer, TAKE.c.qty, TAKE.c.value).where(TAKE.c.taker.in_(chunk))):
                given[t.layer][0] += t.qty
                given[t.layer][1] += t.value
            conn.execute(delete(TAKE).where(TAKE.c.taker.in_(chunk)))
        if given:
            conn.execute(_LAYER_GIVE, [{"l": k, "q": q, "v": v} for k, (q, v) in sorted(given.items())])
        made = [ident(r.doc_line_id, r.leg) for r in later if r.qty > 0]
        for chunk in _chunks(made):
            conn.execute(delete(LAYER).where(LAYER.c.ident.in_(chunk)))
        for lr in conn.execute(_LAYERS, {"p": st.key[0], "w": st.key[1], "b": st.key[2]}):
            bal.layers.append(Layer(lr.ident, lr.qty, lr.value))
            new.layer_pos[lr.ident] = (lr.entry_date, lr.entry_id)
    return new


_ENTRY_LINES = update(ENTRY).where(ENTRY.c.id == bindparam("e")).values(
    voucher_id=bindparam("vid"), dr_line=bindparam("dl"), cr_line=bindparam("cl"))
_ENTRY_ADJ_LINES = update(ENTRY).where(ENTRY.c.id == bindparam("e")).values(
    voucher_id=bindparam("vid"), adj_dr_line=bindparam("dl"), adj_cr_line=bindparam("cl"))
_DEPENDENTS = select(ENTRY.c.id, ENTRY.c.product_id, ENTRY.c.warehouse_id, ENTRY.c.batch, ENTRY.c.entry_date).where(
    ENTRY.c.source_line_id.in_(bindparam("ids", expanding=True)))
_LAST_DATE = select(ENTRY.c.entry_date).where(
    ENTRY.c.product_id == bindparam("p"), ENTRY.c.warehouse_id == bindparam("w"),
    ENTRY.c.batch == bindparam("b")).order_by(ENTRY.c.entry_date.desc()).limit(1)


def _recost(db: DB, todo: list[tuple[Key, date, int]], states: dict[Key, _KeyState], rules: BookRules,
            runs: dict[int, _Run], actor: Actor) -> None:
    """Re-cost each key from its position on, then whatever takes its cost from what changed."""
    book = _Rules.of(db, rules)
    queue = deque(todo)
    queued = set(todo)
    visits: Counter[Key] = Counter()
    while queue:
        item = queue.popleft()
        queued.discard(item)
        key, day, after_id = item
        visits[key] += 1
        if visits[key] > MAX_PASSES:  # a key re-costed again and again: a cycle would never end
            raise StockDocRefused(document="", reason="stock.recost_cycle")
        st = states.get(key)
        if st is None:
            st = _lock_keys(db, [key], _methods(db, [key[0]]), _names(db, [key]))[key]
            states[key] = st
        if st.method is Method.MONTHLY_AVERAGE:
            for r in runs.values():
                if r.start <= day <= r.end:  # a run costs its whole period at once: start there
                    day, after_id = date.fromordinal(r.start.toordinal() - 1), FAR
        st = _state_at(db, st, day, after_id)
        states[key] = st
        changed = _replay(db, st, day, after_id, rules, runs, book, actor)
        if changed:
            for chunk in _chunks(sorted(changed)):
                for d in conn_of(db).execute(_DEPENDENTS, {"ids": list(chunk)}):
                    dkey = (d.product_id, d.warehouse_id, d.batch)
                    dep = (dkey, d.entry_date, d.id - 1)
                    if dep not in queued:
                        queue.append(dep)
                        queued.add(dep)


def _methods(db: DB, product_ids: Iterable[int]) -> dict[int, str]:
    return dict(conn_of(db).execute(select(PRODUCT.c.id, PRODUCT.c.costing_method)
                                    .where(PRODUCT.c.id.in_(sorted(set(product_ids))))).all())


def _names(db: DB, keys: Iterable[Key]) -> dict[Key, tuple[str, str]]:
    keys = list(keys)
    conn = conn_of(db)
    p = dict(conn.execute(select(PRODUCT.c.id, PRODUCT.c.code).where(PRODUCT.c.id.in_({k[0] for k in keys}))).all())
    w = dict(conn.execute(select(WAREHOUSE.c.id, WAREHOUSE.c.code)
                          .where(WAREHOUSE.c.id.in_({k[1] for k in keys}))).all())
    return {k: (p[k[0]], w[k[1]]) for k in keys}


@dataclass
class _Batch:
    """Many keys re-costed in one go (the costing run): their later entries read in one query,
    and what _replay would write per key gathered and written once at the end (_flush)."""

    later: dict[Key, list[Any]]
    sources: dict[int, tuple[Decimal, Decimal]]  # _source_entries of every entry in `later`
    updates: list[tuple[Any, ...]] = field(default_factory=list)
    line_changes: dict[tuple[int, int, int], list[Any]] = field(default_factory=dict)
    attach: list[tuple[Any, Decimal]] = field(default_factory=list)
    balances: list[dict[str, Any]] = field(default_factory=list)


def _replay(db: DB, st: _KeyState, day: date, after_id: int, rules: BookRules, runs: dict[int, _Run],
            book: _Rules, actor: Actor, batch: _Batch | None = None) -> set[int]:
    """Cost again, in ledger order, every entry of the key after (day, after_id), starting from
    st (the balance at that point). Writes what changed: entries, FIFO layers and takes, the
    voucher lines the entries point at, the balance row (with a batch: gathers the entries,
    voucher lines and balance row into it instead). Returns the document lines, among those
    changed, that other entries take their cost from."""
    conn = conn_of(db)
    params = {"p": st.key[0], "w": st.key[1], "b": st.key[2], "d": day, "i": after_id}
    # all(): one fetchall, not a fetch per row
    later: Sequence[Any] = batch.later.get(st.key, []) if batch is not None else conn.execute(_AFTER, params).all()
    sources = batch.sources if batch is not None else _source_entries(
        db, [e.source_line_id for e in later if e.basis == "source"])
    own: dict[int, tuple[Decimal, Decimal]] = {}  # leg-0 values as re-costed here
    updates: list[tuple[Any, ...]] = []
    # Changes to voucher lines, summed per line before anything is written: (voucher, line,
    # side) -> [amount, account, partner, period]. Many entries usually share one line.
    line_changes: dict[tuple[int, int, int], list[Any]] = {}
    takes: list[dict[str, Any]] = []
    missing_adj: list[tuple[Any, Decimal]] = []
    attach: list[tuple[Any, Decimal]] = []
    linked: set[int] = set()
    allow = rules.allow_negative_stock
    monthly = st.method is Method.MONTHLY_AVERAGE

    def move_of(e: Any) -> Move:
        i = ident(e.doc_line_id, e.leg)
        if e.basis == "fixed":
            prefer = ident(e.source_line_id, 0) if e.qty == 0 and e.source_line_id is not None else None
            return Move(i, e.qty, e.value, prefer)
        if e.basis == "source":
            src = own.get(e.source_line_id) or sources.get(e.source_line_id)
            if src is None:
                raise StockDocRefused(document=str(e.doc_id), reason="stock.source_missing")
            if e.leg == 1:
                return Move(i, e.qty, -src[1])
            if st.method is Method.FIFO and e.qty < 0:
                return Move(i, e.qty, None, ident(e.source_line_id, 0))
            return Move(i, e.qty, _source_value(src[0], src[1], e.qty))
        return Move(i, e.qty, None)

    def record(e: Any, value: Decimal, adjust: Decimal, qty_after: Decimal, value_after: Decimal,
               unit: Decimal) -> None:
        if e.leg == 0:
            own[e.doc_line_id] = (e.qty, value)
        voucher_id = e.voucher_id
        if voucher_id is None and monthly and e.basis == "cost" and e.dr_account_id is not None \
                and e.period_id in runs:
            attach.append((e, value))  # costed by a run for the first time: onto the run's voucher
        old_value = e.value
        # Running balances after a re-costed point differ almost always: write them all rather
        # than read them back to compare.
        updates.append((value, adjust, qty_after, value_after, unit, e.id))
        if value != old_value:
            if e.linked:
                linked.add(e.doc_line_id)
            if voucher_id is not None and e.dr_line is not None:
                amount = (value - old_value) * e.dir
                for key, account in (((voucher_id, e.dr_line, 1), e.dr_account_id),
                                     ((voucher_id, e.cr_line, -1), e.cr_account_id)):
                    found = line_changes.get(key)
                    if found is None:
                        line_changes[key] = [amount, account, e.partner_id, e.period_id]
                    else:
                        found[0] += amount
        if adjust != e.adjust:
            missing_adj.append((e, adjust - e.adjust))

    own_lines = {e.doc_line_id for e in later if e.leg == 0}
    if st.method is Method.MOVING_AVERAGE and not any(
            e.basis == "source" and e.source_line_id in own_lines for e in later):
        # Nothing here takes its cost from another entry of this run: cost the run in one loop.
        run_moves: list[tuple[Decimal, Decimal | None]] = []
        for e in later:
            if e.basis == "cost":
                run_moves.append((e.qty, None))
            elif e.basis == "fixed":
                run_moves.append((e.qty, e.value))
            else:
                m = move_of(e)
                run_moves.append((m.qty, m.value))
        try:
            results = moving_average_run(st.bal, run_moves, allow_negative=allow)
        except (Shortfall, NothingToAdjust) as exc:
            bad = later[getattr(exc, "index", 0)]
            if isinstance(exc, Shortfall):
                raise Shortfall(product=st.product, warehouse=st.warehouse, batch=st.key[2],
                                date=bad.entry_date.isoformat(), shortfall=exc.params["shortfall"],
                                available=exc.params["available"]) from None
            raise NothingToAdjust(product=st.product, warehouse=st.warehouse) from None
        # record() for each entry, unrolled: this loop runs once per re-costed entry.
        add_update = updates.append
        for e, (value, adjust, qty_after, value_after, unit) in zip(later, results, strict=True):
            (entry_id, _, line_id, _, _, period_id, direction, _, old_value, old_adjust, _, _, is_linked,
             voucher_id, dr_account, cr_account, partner_id, dr_line, cr_line) = e[:19]
            add_update((value, adjust, qty_after, value_after, unit, entry_id))
            if value != old_value:
                if is_linked:
                    linked.add(line_id)
                if voucher_id is not None and dr_line is not None:
                    amount = (value - old_value) * direction
                    for key, account in (((voucher_id, dr_line, 1), dr_account),
                                         ((voucher_id, cr_line, -1), cr_account)):
                        found = line_changes.get(key)
                        if found is None:
                            line_changes[key] = [amount, account, partner_id, period_id]
                        else:
                            found[0] += amount
            if adjust != old_adjust:
                missing_adj.append((e, adjust - old_adjust))
        later = []
    i = 0
    while i < len(later):
        e = later[i]
        run = runs.get(e.period_id) if st.method is Method.MONTHLY_AVERAGE else None
        if run is None:
            move = move_of(e)
            costed = _cost(st, move, allow, e.entry_date, e.id)
            takes.extend({"taker": move.entry_id, "layer": t[0], "qty": t[1], "value": t[2]} for t in costed.takes)
            record(e, costed.value, costed.adjust, costed.qty_after, costed.value_after, costed.unit_after)
            i += 1
            continue
        j = i
        while j < len(later) and later[j].period_id == e.period_id:
            j += 1
        group = later[i:j]
        moves = [move_of(x) for x in group]
        try:
            result = monthly_run(st.bal.qty, st.bal.value, st.bal.last_unit, moves)
        except NothingToAdjust:
            raise NothingToAdjust(product=st.product, warehouse=st.warehouse) from None
        for x, value in zip(group, result.values, strict=True):
            st.bal.qty += x.qty
            st.bal.value += value
            if st.bal.qty < 0 and not allow:
                raise Shortfall(product=st.product, warehouse=st.warehouse, batch=st.key[2],
                                date=x.entry_date.isoformat(), shortfall=-st.bal.qty, available=st.bal.qty - x.qty)
            record(x, value, ZERO, st.bal.qty, st.bal.value, result.unit)
        st.bal.last_unit = result.unit
        i = j
    if takes:
        conn.execute(insert(TAKE), takes)
    for e, delta in missing_adj:
        _post_adjust(db, e, delta, book, actor, rules)
    if batch is not None:
        batch.updates.extend(updates)
        for key, change in line_changes.items():
            found = batch.line_changes.get(key)
            if found is None:
                batch.line_changes[key] = change
            else:
                found[0] += change[0]
        batch.attach.extend(attach)
        if later:
            st.last_date = max(e.entry_date for e in later)
        batch.balances.append({"p": st.key[0], "w": st.key[1], "b": st.key[2], "q": st.bal.qty, "v": st.bal.value,
                               "u": st.bal.last_unit, "d": st.last_date, "e": st.expiry})
        _save_layers(db, st)
        return linked
    if updates:
        update_many(conn, ENTRY, ("value", "adjust", "bal_qty", "bal_value", "unit_cost"), "id", updates, exact=True)
    adjust_generated_lines(db, [LineDelta(v, n, side, account, book.partner_for(account, partner), period, amount)
                                for (v, n, side), (amount, account, partner, period) in line_changes.items()])
    if attach:
        _attach(db, attach, runs, book, rules, actor)
    last = conn.execute(_LAST_DATE, {"p": st.key[0], "w": st.key[1], "b": st.key[2]}).scalar()
    st.last_date = last
    conn.execute(_BAL_SET, {"p": st.key[0], "w": st.key[1], "b": st.key[2], "q": st.bal.qty, "v": st.bal.value,
                            "u": st.bal.last_unit, "d": last, "e": st.expiry})
    _save_layers(db, st)
    return linked


def _flush(db: DB, batch: _Batch, runs: dict[int, _Run], book: _Rules, rules: BookRules, actor: Actor) -> None:
    """Write what a batch of _replay calls gathered, a statement per kind."""
    conn = conn_of(db)
    if batch.updates:
        update_many(conn, ENTRY, ("value", "adjust", "bal_qty", "bal_value", "unit_cost"), "id", batch.updates,
                    exact=True)
    adjust_generated_lines(db, [LineDelta(v, n, side, account, book.partner_for(account, partner), period, amount)
                                for (v, n, side), (amount, account, partner, period) in batch.line_changes.items()])
    if batch.attach:
        _attach(db, batch.attach, runs, book, rules, actor)
    if batch.balances:
        conn.execute(_BAL_SET, batch.balances)


_DOC_OF_ENTRY = select(DOC.c.id, DOC.c.no, DOC.c.doc_date, DOC.c.voucher_id, DOC.c.period_id, DOC.c.partner_id,
                       DOC.c.doc_type).where(DOC.c.id == bindparam("d"))


def _voucher_index(db: DB, voucher_id: int) -> tuple[dict[tuple[int, int, int | None], int], int]:
    """Line numbers of a generated voucher by (side, account, partner), and the next free number."""
    rows = generated_lines(db, voucher_id)
    index = {(int(r.side), r.account_id, r.partner_id): r.line_no for r in rows}
    return index, max((r.line_no for r in rows), default=0) + 1


def _post_adjust(db: DB, e: Any, delta: Decimal, book: _Rules, actor: Actor, rules: BookRules) -> None:
    """A negative-stock settlement changed on an entry: put the difference on its document's
    voucher (Dr cost of sales / Cr inventory), adding the lines (or the voucher) if needed."""
    conn = conn_of(db)
    doc = conn.execute(_DOC_OF_ENTRY, {"d": e.doc_id}).one()
    category = conn.execute(select(PRODUCT.c.category).where(PRODUCT.c.id == e.product_id)).scalar()
    acc = book.accounts(SETTLEMENT, category)
    dr = (1, acc.counter, book.partner_for(acc.counter, doc.partner_id))
    cr = (-1, acc.inventory, book.partner_for(acc.inventory, doc.partner_id))
    voucher_id = e.voucher_id or doc.voucher_id
    if e.adj_dr_line is not None and voucher_id is not None:
        dl, cl = e.adj_dr_line, e.adj_cr_line
    else:
        if voucher_id is None:
            period = _period_ref(db, doc.period_id)
            voucher_id = insert_generated_voucher(db, period, rules, doc.doc_date, doc.no,
                                                  [GenLine(dr[1], dr[2], 1, ZERO), GenLine(cr[1], cr[2], -1, ZERO)],
                                                  "stock_doc", doc.id, actor)
            conn.execute(update(DOC).where(DOC.c.id == doc.id).values(voucher_id=voucher_id))
            dl, cl = 1, 2
        else:
            index, nxt = _voucher_index(db, voucher_id)
            new: list[GenLine] = []
            nos = []
            for side, account, partner in (dr, cr):
                no = index.get((side, account, partner))
                if no is None:
                    no = nxt + len(new)
                    new.append(GenLine(account, partner, side, ZERO))
                nos.append(no)
            append_generated_lines(db, voucher_id, doc.period_id, doc.doc_date, nxt, new)
            dl, cl = nos
        conn.execute(_ENTRY_ADJ_LINES, {"e": e.id, "vid": voucher_id, "dl": dl, "cl": cl})
    adjust_generated_lines(db, [LineDelta(voucher_id, dl, 1, dr[1], dr[2], e.period_id, delta),
                                LineDelta(voucher_id, cl, -1, cr[1], cr[2], e.period_id, delta)])


def _period_ref(db: DB, period_id: int) -> PeriodRef:
    from jxc.services.common import PERIOD
    r = conn_of(db).execute(select(PERIOD).where(PERIOD.c.id == period_id)).one()
    return PeriodRef(r.id, f"{r.year:04d}-{r.month:02d}", r.status, r.start_date, r.end_date)


def _attach(db: DB, items: list[tuple[Any, Decimal]], runs: dict[int, _Run], book: _Rules, rules: BookRules,
            actor: Actor) -> None:
    """Put monthly-average entries costed by a run on that period's cost-of-sales voucher."""
    conn = conn_of(db)
    by_period: dict[int, list[tuple[Any, Decimal]]] = defaultdict(list)
    for e, value in items:
        by_period[e.period_id].append((e, value))
    for period_id, group in sorted(by_period.items()):
        run = runs[period_id]
        voucher_id = run.voucher_id
        if voucher_id is None:
            period = _period_ref(db, period_id)
            voucher_id = insert_generated_voucher(db, period, rules, run.end, f"{period.label}", [], "cost_run",
                                                  period_id, actor)
            conn.execute(update(RUN).where(RUN.c.period_id == period_id).values(voucher_id=voucher_id))
            runs[period_id] = _Run(period_id, run.start, run.end, voucher_id)
            index: dict[tuple[int, int, int | None], int] = {}
            nxt = 1
        else:
            index, nxt = _voucher_index(db, voucher_id)
        layout = _VoucherLayout(nxt, index)
        links = []
        deltas = []
        for e, value in group:
            dp = book.partner_for(e.dr_account_id, e.partner_id)
            cp = book.partner_for(e.cr_account_id, e.partner_id)
            dl = layout.line(1, e.dr_account_id, dp)
            cl = layout.line(-1, e.cr_account_id, cp)
            links.append((voucher_id, dl, cl, e.id))
            amount = value * e.dir
            deltas += [LineDelta(voucher_id, dl, 1, e.dr_account_id, dp, period_id, amount),
                       LineDelta(voucher_id, cl, -1, e.cr_account_id, cp, period_id, amount)]
        append_generated_lines(db, voucher_id, period_id, run.end, nxt,
                               [GenLine(x.account_id, x.partner_id, x.side, ZERO) for x in layout.lines])
        # Through the driver: a costing run attaches a month of issues at once.
        update_many(conn, ENTRY, ("voucher_id", "dr_line", "cr_line"), "id", links)
        adjust_generated_lines(db, deltas)


# --- un-auditing ---------------------------------------------------------------------

_DOC_ENTRIES = select(ENTRY).where(ENTRY.c.doc_id == bindparam("d")).order_by(ENTRY.c.id)
_DEPENDENT_DOCS = (select(DOC.c.no).where(DOC.c.source_id == bindparam("d"), DOC.c.status == "audited")
                   .order_by(DOC.c.no))
_CLEAR_BOOK_QTY = update(LINE).where(LINE.c.doc_id == bindparam("d")).values(book_qty=None)


def _unaudit(db: DB, doc_id: int, actor: Actor, *, for_invoice: bool = False) -> DocRef:
    """Un-audit: entries, voucher and everything costed from them go. A cost adjustment an
    invoice made for its price difference goes only with the invoice (for_invoice)."""
    conn = conn_of(db)
    doc = conn.execute(_DOC_LOCK, {"d": doc_id}).one_or_none()
    if doc is None:
        raise NotFound(entity="stock_doc", key=doc_id)
    if doc.status != DocStatus.AUDITED:
        raise InvalidTransition(document=doc.no, current=doc.status, target=DocStatus.DRAFT.value)
    _, rules = _doc_period(db, doc)
    dependents = list(conn.execute(_DEPENDENT_DOCS, {"d": doc.id}).scalars())
    if dependents:
        raise DependentDocuments(document=doc.no, dependents=", ".join(dependents))
    orderlinks.refuse_if_invoiced(db, doc)
    if not for_invoice and doc.doc_type == DocType.COST_ADJUSTMENT and conn.execute(
            select(LINK.c.id).where(LINK.c.adjust_doc_id == doc.id)).first():
        raise StockDocRefused(document=doc.no, reason="trade.adjustment_of_invoice")
    orderlinks.apply_stock(db, doc, -1, rules)
    entries = list(conn.execute(_DOC_ENTRIES, {"d": doc.id}))
    keys = sorted({(e.product_id, e.warehouse_id, e.batch) for e in entries})
    states = _lock_keys(db, keys, _methods(db, [k[0] for k in keys]), _names(db, keys))
    runs = _run_periods(db)
    first: dict[Key, tuple[date, int]] = {}
    for e in entries:
        k = (e.product_id, e.warehouse_id, e.batch)
        first.setdefault(k, (e.entry_date, e.id - 1))
    # Everything after each key's first entry of this document is given back (FIFO) before the
    # entries go, then costed again without them.
    book = _Rules.of(db, rules)
    deltas = []
    for e in entries:
        if e.voucher_id is not None and e.voucher_id != doc.voucher_id and e.dr_line is not None:
            amount = -e.value * e.dir  # on a run's voucher: take this entry's share off
            deltas += [LineDelta(e.voucher_id, e.dr_line, 1, e.dr_account_id,
                                 book.partner_for(e.dr_account_id, e.partner_id), e.period_id, amount),
                       LineDelta(e.voucher_id, e.cr_line, -1, e.cr_account_id,
                                 book.partner_for(e.cr_account_id, e.partner_id), e.period_id, amount)]
    adjust_generated_lines(db, deltas)
    for k in keys:
        states[k] = _state_at(db, states[k], *first[k])
    if doc.voucher_id is not None:
        void_generated_voucher(db, doc.voucher_id, doc.no)
    conn.execute(delete(ENTRY).where(ENTRY.c.doc_id == doc.id))
    conn.execute(_CLEAR_BOOK_QTY, {"d": doc.id})
    _recost(db, [(k, *first[k]) for k in keys], states, rules, runs, actor)
    conn.execute(_DOC_AUDITED, {"d": doc.id, "s": DocStatus.DRAFT.value, "a": None, "vid": None})
    return DocRef(doc.id, doc.doc_type, doc.no, DocStatus.DRAFT.value)


# --- public services -----------------------------------------------------------------

def create_stock_doc(db: Session, data: StockDocIn, *, actor: Actor, audit: bool = False) -> DocRef:
    """Enter a stock document as a draft, or draft and audit it in one transaction.
    All or nothing; raises BatchInvalid naming every bad field and line, PeriodClosed,
    PeriodMissing, DuplicateCode, Shortfall (audit), PermissionDenied."""
    require(actor, perm.STOCK_CREATE)
    if audit:
        require(actor, perm.STOCK_AUDIT)

    def work() -> DocRef:
        with db.begin():
            created = enter_doc(db.connection(), data, actor)
            ref = _audit(db.connection(), created.id, actor) if audit else created
            # The audit log last: its head is the final lock every writer takes (see common.py).
            entries: list[tuple[str, str, object, dict[str, Any]]] = [
                ("stock_doc.create", "stock_doc", ref.id, {"type": ref.doc_type, "no": ref.no})]
            if audit:
                params: dict[str, Any] = {"type": ref.doc_type, "no": ref.no}
                if ref.warnings:
                    params["warnings"] = [[w.code, w.params] for w in ref.warnings]
                entries.append(("stock_doc.audit", "stock_doc", ref.id, params))
            append_audit_many(db, actor, entries)
            return ref
    return retrying(work)


def audit_stock_doc(db: Session, doc_id: int, *, actor: Actor) -> DocRef:
    """审核: cost the document's lines, write its stock entries and its posted voucher, re-cost
    what it back-dates. Raises NotFound, InvalidTransition, PeriodClosed, Shortfall,
    NothingToAdjust, SameUserAudit, InvalidInput (a return beyond its source), PermissionDenied."""
    require(actor, perm.STOCK_AUDIT)
    return _step(db, doc_id, actor, _audit, "stock_doc.audit")


def unaudit_stock_doc(db: Session, doc_id: int, *, actor: Actor) -> DocRef:
    """反审核: back to draft while its period is open and no audited document returns or
    reverses it; its entries go, its voucher is voided, later entries are re-costed.
    Raises DependentDocuments, Shortfall (later issues would go negative), PeriodClosed."""
    require(actor, perm.STOCK_AUDIT)
    return _step(db, doc_id, actor, _unaudit, "stock_doc.unaudit")


def _step(db: Session, doc_id: int, actor: Actor, step: Callable[[DB, int, Actor], DocRef], action: str) -> DocRef:
    """One lifecycle step in its own transaction, retried on a PostgreSQL deadlock, the audit-log
    entry last."""
    def work() -> DocRef:
        with db.begin():
            ref = step(db.connection(), doc_id, actor)
            params: dict[str, Any] = {"type": ref.doc_type, "no": ref.no}
            if ref.warnings:
                params["warnings"] = [[w.code, w.params] for w in ref.warnings]
            append_audit(db, actor, action, "stock_doc", ref.id, params)
            return ref
    return retrying(work)


def delete_stock_doc(db: Session, doc_id: int, *, actor: Actor) -> None:
    """Delete a draft. Audited documents are never deleted: un-audit first, or reverse them."""
    require(actor, perm.STOCK_CREATE)
    with db.begin():
        conn = db.connection()
        doc = conn.execute(_DOC_LOCK, {"d": doc_id}).one_or_none()
        if doc is None:
            raise NotFound(entity="stock_doc", key=doc_id)
        if doc.status != DocStatus.DRAFT:
            raise InvalidTransition(document=doc.no, current=doc.status, target="deleted")
        open_period_and_rules(conn, doc.doc_date)
        named_by = list(conn.execute(select(DOC.c.no).distinct().join(LINE, LINE.c.doc_id == DOC.c.id).where(
            LINE.c.source_line_id.in_(select(LINE.c.id).where(LINE.c.doc_id == doc_id)))).scalars())
        if named_by:  # drafts that return or reverse it: delete those first
            raise DependentDocuments(document=doc.no, dependents=", ".join(sorted(named_by)))
        conn.execute(delete(LINE).where(LINE.c.doc_id == doc_id))
        conn.execute(delete(DOC).where(DOC.c.id == doc_id))
        append_audit(db, actor, "stock_doc.delete", "stock_doc", doc_id, {"type": doc.doc_type, "no": doc.no})


_REVERSIBLE = {DocType.PURCHASE_RECEIPT, DocType.PURCHASE_RETURN, DocType.SALES_DELIVERY, DocType.SALES_RETURN,
               DocType.OTHER_IN, DocType.OTHER_OUT}


def reverse_stock_doc(db: Session, doc_id: int, day: date, *, actor: Actor, audit: bool = False) -> DocRef:
    """红字冲销: a red-letter copy of an audited document, dated `day` (in an open period), that
    moves every line back at the cost it went at and books the same voucher in red. The way
    to correct a document whose period is closed. Transfers, stocktakes and cost adjustments
    are corrected by a new document of their own kind instead."""
    require(actor, perm.STOCK_CREATE)
    if audit:
        require(actor, perm.STOCK_AUDIT)
    with db.begin():
        conn = db.connection()
        doc = conn.execute(select(DOC).where(DOC.c.id == doc_id)).one_or_none()
        if doc is None:
            raise NotFound(entity="stock_doc", key=doc_id)
        if doc.status != DocStatus.AUDITED or doc.red or DocType(doc.doc_type) not in _REVERSIBLE:
            raise StockDocRefused(document=doc.no, reason="stock.not_reversible")
        # An invoice bills it: a return and a red invoice correct it instead.
        orderlinks.refuse_if_invoiced(conn, doc)
        period, _ = open_period_and_rules(conn, day)
        year, month = int(period.label[:4]), int(period.label[5:])
        no = doc_number(DocType(doc.doc_type), year, month, _next_doc_number(conn, doc.doc_type, period.id))
        new_id = int(conn.execute(_DOC_INSERT, {
            "doc_type": doc.doc_type, "no": no, "doc_date": day, "period_id": period.id, "status": "draft",
            "red": True, "partner_id": doc.partner_id, "warehouse_id": doc.warehouse_id, "to_warehouse_id": None,
            "source_id": doc.id, "counter_account_id": doc.counter_account_id, "reason": doc.reason,
            "memo": doc.no, "created_by": actor.id, "created_at": utcnow(), "audited_by": None, "voucher_id": None,
            "order_id": doc.order_id, "salesperson": doc.salesperson,
        }).scalar_one())
        lines = list(conn.execute(select(LINE).where(LINE.c.doc_id == doc.id).order_by(LINE.c.line_no)))
        conn.execute(_LINE_INSERT, [
            {"doc_id": new_id, "line_no": ln.line_no, "product_id": ln.product_id, "qty": ln.qty,
             "price": ln.price, "tax_rate": ln.tax_rate, "amount": -ln.amount if ln.amount is not None else None,
             "tax": -ln.tax if ln.tax is not None else None, "batch": ln.batch, "expiry": ln.expiry,
             "book_qty": None, "source_line_id": ln.id, "order_line_id": ln.order_line_id} for ln in lines])
        ref = DocRef(new_id, doc.doc_type, no, "draft")
        if audit:
            ref = _audit(conn, new_id, actor)
        append_audit(db, actor, "stock_doc.reverse", "stock_doc", new_id, {"no": no, "reverses": doc.no})
        if audit:
            append_audit(db, actor, "stock_doc.audit", "stock_doc", ref.id, {"type": ref.doc_type, "no": ref.no})
        return ref


def find_doc_id(db: Session, doc_type: str, no: str) -> int:
    """The id of document `no` of `doc_type`. Raises NotFound."""
    found = db.execute(select(DOC.c.id).where(DOC.c.doc_type == doc_type, DOC.c.no == no)).scalar()
    if found is None:
        raise NotFound(entity=doc_type, key=no)
    return int(found)


def find_doc_by_no(db: Session, no: str) -> int:
    """The id of the document numbered `no`, whatever its type (numbers carry the type's
    prefix, so they are unique in practice). Raises NotFound."""
    found = db.execute(select(DOC.c.id).where(DOC.c.no == no)).scalars().all()
    if len(found) != 1:
        raise NotFound(entity="stock_doc", key=no)
    return int(found[0])


@dataclass(frozen=True, slots=True)
class CostRunResult:
    period: str
    keys: int
    entries: int
    cost_of_sales: Decimal


def cost_run(db: Session, period: str, *, actor: Actor) -> CostRunResult:
    """月末一次加权平均 costing run for one open period: cost every issue of a monthly-average
    product at the period's unit cost, the last issue taking the rounding residue, and put the
    cost on the period's cost-of-sales voucher. Idempotent: running it again gives the same
    entries and voucher; documents audited after it re-cost their product at once."""
    require(actor, perm.COST_RUN)
    from jxc.domain.periods import parse_period_label
    from jxc.services.common import PERIOD
    year, month = parse_period_label(period)
    with db.begin():
        conn = db.connection()
        prow = conn.execute(select(PERIOD).where(PERIOD.c.year == year, PERIOD.c.month == month)).one_or_none()
        if prow is None:
            raise NotFound(entity="period", key=period)
        pref, rules = open_period_and_rules(conn, prow.start_date)
        done = run_costing(conn, pref, rules, actor)
        append_audit(db, actor, "stock.cost_run", "period", pref.label, {"keys": done.keys, "entries": done.entries})
        return done


_MONTHLY_LATER = (select(*_AFTER.selected_columns, ENTRY.c.warehouse_id, ENTRY.c.batch)
                  .where(ENTRY.c.entry_date >= bindparam("d"),
                         ENTRY.c.product_id.in_(bindparam("products", expanding=True)))
                  .order_by(ENTRY.c.product_id, ENTRY.c.warehouse_id, ENTRY.c.batch, ENTRY.c.entry_date, ENTRY.c.id))
MAX_PASSES = 50  # a cost that feeds itself through returns and transfers would otherwise never settle
_X = ENTRY.alias("x")
_LAST_BEFORE = (select(_X.c.id).where(_X.c.product_id == BAL.c.product_id, _X.c.warehouse_id == BAL.c.warehouse_id,
                                      _X.c.batch == BAL.c.batch, _X.c.entry_date <= bindparam("d"))
                .order_by(_X.c.entry_date.desc(), _X.c.id.desc()).limit(1).scalar_subquery())
_STATES_AT = (select(BAL.c.product_id, BAL.c.warehouse_id, BAL.c.batch, ENTRY.c.bal_qty, ENTRY.c.bal_value,
                     ENTRY.c.unit_cost)
              .select_from(BAL.outerjoin(ENTRY, ENTRY.c.id == _LAST_BEFORE))
              .where(BAL.c.product_id.in_(bindparam("products", expanding=True))))


def _states_at(db: DB, keys: Sequence[Key], states: dict[Key, _KeyState], day: date) -> None:
    """_state_at(st, day, FAR) for many keys without FIFO layers, a statement per 500 products."""
    wanted = set(keys)
    found: dict[Key, Any] = {}
    for chunk in _chunks(sorted({k[0] for k in wanted})):
        for r in conn_of(db).execute(_STATES_AT, {"d": day, "products": list(chunk)}):
            if (r.product_id, r.warehouse_id, r.batch) in wanted:
                found[(r.product_id, r.warehouse_id, r.batch)] = r
    for key in keys:
        st, last = states[key], found.get(key)
        bal = Balance(last.bal_qty, last.bal_value, last.unit_cost) if last is not None and last.bal_qty is not None \
            else Balance()
        states[key] = _KeyState(key, st.method, bal, st.last_date, st.expiry, st.product, st.warehouse)


def _cost_keys_at_once(db: DB, keys: list[Key], states: dict[Key, _KeyState], pref: PeriodRef,
                       rules: BookRules, runs: dict[int, _Run], actor: Actor) -> None:
    """The costing run's re-costing of every monthly-average key of the period from its start:
    what _recost does key by key, with the entries read in a few queries and written in one
    statement per kind (a month of 500,000 issues: minutes key by key). Entries that take
    their cost from a changed one (returns, transfers' receiving legs) are costed in another
    pass over their keys, until nothing changes."""
    conn = conn_of(db)
    book = _Rules.of(db, rules)
    day = date.fromordinal(pref.start_date.toordinal() - 1)
    pending = sorted(set(keys))
    for _ in range(MAX_PASSES):
        later: dict[Key, list[Any]] = defaultdict(list)
        for chunk in _chunks(sorted({k[0] for k in pending})):
            for row in conn.execute(_MONTHLY_LATER, {"d": pref.start_date, "products": list(chunk)}):
                later[(row.product_id, row.warehouse_id, row.batch)].append(row)
        batch = _Batch(later, _source_entries(db, [e.source_line_id for rows in later.values() for e in rows
                                                   if e.basis == "source"]))
        linked: set[int] = set()
        _states_at(db, pending, states, day)
        for key in pending:
            linked |= _replay(db, states[key], day, FAR, rules, runs, book, actor, batch)
        _flush(db, batch, runs, book, rules, actor)
        dependents: set[Key] = set()
        for chunk in _chunks(sorted(linked)):
            dependents |= {(d.product_id, d.warehouse_id, d.batch)
                           for d in conn.execute(_DEPENDENTS, {"ids": list(chunk)})}
        if not dependents:
            return
        new = sorted(k for k in dependents if k not in states)
        if new:
            states.update(_lock_keys(db, new, _methods(db, [k[0] for k in new]), _names(db, new)))
        others = [k for k in dependents if states[k].method is not Method.MONTHLY_AVERAGE]
        if others:
            _recost(db, [(k, pref.start_date, 0) for k in sorted(others)], states, rules, runs, actor)
        pending = sorted(k for k in dependents if states[k].method is Method.MONTHLY_AVERAGE)
        if not pending:
            return
    raise StockDocRefused(document="", reason="stock.recost_cycle")


def has_cost_run(db: DB, period_id: int) -> bool:
    return conn_of(db).execute(select(RUN.c.period_id).where(RUN.c.period_id == period_id)).first() is not None


def run_costing(db: DB, pref: PeriodRef, rules: BookRules, actor: Actor) -> CostRunResult:
    """The costing run of an open period, in the caller's transaction (the close runs it as its
    first step). No audit entry of its own."""
    conn = conn_of(db)
    run_ins = dialect_insert(conn, RUN).on_conflict_do_nothing()
    conn.execute(run_ins, {"period_id": pref.id, "ran_at": utcnow(), "ran_by": actor.id, "voucher_id": None})
    conn.execute(update(RUN).where(RUN.c.period_id == pref.id).values(ran_at=utcnow(), ran_by=actor.id))
    runs = _run_periods(conn)
    keys = sorted({(r.product_id, r.warehouse_id, r.batch) for r in conn.execute(
        select(ENTRY.c.product_id, ENTRY.c.warehouse_id, ENTRY.c.batch).distinct()
        .join(PRODUCT, PRODUCT.c.id == ENTRY.c.product_id)
        .where(ENTRY.c.period_id == pref.id, PRODUCT.c.costing_method == Method.MONTHLY_AVERAGE.value))})
    states = _lock_keys(conn, keys, _methods(conn, [k[0] for k in keys]), _names(conn, keys)) if keys else {}
    if keys:
        _cost_keys_at_once(conn, keys, states, pref, rules, runs, actor)
    # Cost of sales: what the period's deliveries less sales returns of these products cost.
    count, total = conn.execute(
        select(func.count(), func.sum(ENTRY.c.value))
        .join(PRODUCT, PRODUCT.c.id == ENTRY.c.product_id).join(DOC, DOC.c.id == ENTRY.c.doc_id)
        .where(ENTRY.c.period_id == pref.id, PRODUCT.c.costing_method == Method.MONTHLY_AVERAGE.value,
               DOC.c.doc_type.in_((DocType.SALES_DELIVERY.value, DocType.SALES_RETURN.value)))).one()
    return CostRunResult(pref.label, len(keys), int(count), money(-(total or ZERO)))


# --- opening stock (期初库存) ----------------------------------------------------------

@dataclass(frozen=True, slots=True)
class OpeningStockIn:
    product: str
    warehouse: str
    qty: Decimal
    value: Decimal
    batch: str | None = None
    expiry: date | None = None


def enter_opening_stock(db: DB, items: Sequence[OpeningStockIn], actor: Actor) -> DocRef:
    """Opening stock as one audited document dated the day before the book starts, with no
    voucher: the 1405 opening balance carries its value, and the first posting of the book
    checks that the two agree. No transaction of its own. Raises BatchInvalid, OpeningLocked."""
    from jxc.services.common import PERIOD
    if book_rules(db).opening_locked:
        raise OpeningLocked()
    conn = conn_of(db)
    first = conn.execute(select(PERIOD).order_by(PERIOD.c.start_date).limit(1)).one()
    day = date.fromordinal(first.start_date.toordinal() - 1)
    data = StockDocIn(DocType.OPENING_STOCK.value, day, tuple(
        StockLineIn(x.product, x.qty, None, None, None, x.batch, x.expiry, None) for x in items),
        warehouse=items[0].warehouse if items else None)
    refs = Refs()
    refs.load(db, [StockDocIn(data.doc_type, day, (ln,), warehouse=x.warehouse)
                   for x, ln in zip(items, data.lines, strict=True)] or [data])
    errors: list[JxcError] = []
    rows = []
    for i, x in enumerate(items, start=1):
        f = f"lines[{i}]"
        try:
            _, lines = _validate(db, StockDocIn(DocType.OTHER_IN.value, day, (
                StockLineIn(x.product, x.qty, ZERO, None, ZERO, x.batch, x.expiry),), warehouse=x.warehouse),
                refs, None)
        except BatchInvalid as exc:
            errors += [InvalidInput(field=f"{f}.{e.params.get('field', '')}".replace(".lines[1].", "."),
                                    reason=e.params.get("reason", e.code),
                                    **{k: v for k, v in e.params.items() if k not in ("field", "reason")})
                       if isinstance(e, InvalidInput) else e for e in exc.errors]
            continue
        _check_number(f"{f}.value", x.value, MONEY_PLACES, MAX_MONEY, errors, non_negative=True)
        rows.append((refs.warehouses[x.warehouse].id, lines[0], x.value))
    if not items:
        errors.append(InvalidInput(field="lines", reason="stock.no_lines"))
    if errors:
        raise BatchInvalid(errors)
    number = _next_doc_number(db, DocType.OPENING_STOCK.value, first.id)
    no = doc_number(DocType.OPENING_STOCK, first.year, first.month, number)
    by_wh: dict[int, list[tuple[_LineRow, Decimal]]] = defaultdict(list)
    for wh, line, value in rows:
        by_wh[wh].append((line, value))
    ref = None
    for n, (wh, group) in enumerate(sorted(by_wh.items(), key=lambda kv: kv[0])):
        doc_id = int(conn.execute(_DOC_INSERT, {
            "doc_type": DocType.OPENING_STOCK.value, "no": no if n == 0 else f"{no}-{n + 1}", "doc_date": day,
            "period_id": first.id, "status": DocStatus.DRAFT.value, "red": False, "partner_id": None,
            "warehouse_id": wh, "to_warehouse_id": None, "source_id": None, "counter_account_id": None,
            "reason": "", "memo": "", "created_by": actor.id, "created_at": utcnow(), "audited_by": None,
            "voucher_id": None}).scalar_one())
        conn.execute(_LINE_INSERT, [
            {"doc_id": doc_id, "line_no": i, "product_id": ln.product_id, "qty": ln.qty, "price": None,
             "tax_rate": None, "amount": value, "tax": None, "batch": ln.batch, "expiry": ln.expiry,
             "book_qty": None, "source_line_id": None} for i, (ln, value) in enumerate(group, start=1)])
        ref = _audit(db, doc_id, actor)
    assert ref is not None
    return ref


def set_opening_stock(db: Session, items: Sequence[OpeningStockIn], *, actor: Actor) -> DocRef:
    """Enter opening stock (期初库存) while the opening balances are not yet fixed."""
    require(actor, perm.OPENING_EDIT)
    with db.begin():
        ref = enter_opening_stock(db.connection(), items, actor)
        append_audit(db, actor, "stock.opening", "stock_doc", ref.id, {"no": ref.no, "lines": len(items)})
        return ref


# --- reading documents ----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class DocLineView:
    line_no: int
    product: str
    name: str
    batch: str
    expiry: date | None
    qty: Decimal
    price: Decimal | None
    amount: Decimal | None
    tax: Decimal | None
    book_qty: Decimal | None
    cost: Decimal | None  # the stock value the line moved (leg 0), once audited


@dataclass(frozen=True, slots=True)
class DocView:
    id: int
    doc_type: str
    no: str
    doc_date: date
    status: str
    red: bool
    partner: str | None
    warehouse: str
    to_warehouse: str | None
    source: str | None
    reason: str
    memo: str
    voucher: str | None  # "2026-06 记-0012"
    lines: tuple[DocLineView, ...]


def get_stock_doc(db: Session, doc_id: int, *, actor: Actor) -> DocView:
    """One document with its lines, the cost each line moved, and its voucher."""
    require(actor, perm.STOCK_READ)
    from jxc.services.common import PERIOD, reading
    from jxc.services.vouchers import VOUCHER
    with reading(db):
        d = db.execute(select(DOC).where(DOC.c.id == doc_id)).one_or_none()
        if d is None:
            raise NotFound(entity="stock_doc", key=doc_id)
        codes = dict(db.execute(select(WAREHOUSE.c.id, WAREHOUSE.c.code)).all())
        partner = db.execute(select(PARTNER.c.code).where(PARTNER.c.id == d.partner_id)).scalar()
        source = db.execute(select(DOC.c.no).where(DOC.c.id == d.source_id)).scalar() if d.source_id else None
        voucher = None
        if d.voucher_id:
            v = db.execute(select(VOUCHER.c.word, VOUCHER.c.number, PERIOD.c.year, PERIOD.c.month)
                           .join(PERIOD, PERIOD.c.id == VOUCHER.c.period_id)
                           .where(VOUCHER.c.id == d.voucher_id)).one()
            voucher = f"{v.year:04d}-{v.month:02d} {v.word}-{v.number:04d}"
        # The cost in the line's own direction: positive for what a receipt brought in or a delivery
        # took out; a red-letter line shows it red (negative).
        costs = {r.doc_line_id: r.value * r.dir for r in db.execute(
            select(ENTRY.c.doc_line_id, ENTRY.c.value, ENTRY.c.dir).where(ENTRY.c.doc_id == doc_id, ENTRY.c.leg == 0))}
        lines = tuple(
            DocLineView(r.line_no, r.code, r.name, r.batch, r.expiry, r.qty, r.price, r.amount, r.tax, r.book_qty,
                        costs.get(r.id))
            for r in db.execute(select(LINE, PRODUCT.c.code, PRODUCT.c.name)
                                .join(PRODUCT, PRODUCT.c.id == LINE.c.product_id)
                                .where(LINE.c.doc_id == doc_id).order_by(LINE.c.line_no)))
        return DocView(d.id, d.doc_type, d.no, d.doc_date, d.status, d.red, partner, codes[d.warehouse_id],
                       codes.get(d.to_warehouse_id) if d.to_warehouse_id else None, source, d.reason, d.memo,
                       voucher, lines)


@dataclass(frozen=True, slots=True)
class DocSummary:
    id: int
    doc_type: str
    no: str
    doc_date: date
    status: str
    red: bool
    partner: str | None
    warehouse: str


def list_stock_docs(db: Session, *, date_from: date, date_to: date, doc_type: str | None = None,
                    status: str | None = None, after_id: int | None = None, limit: int = 100,
                    actor: Actor) -> list[DocSummary]:
    """单据序时簿: documents in a date range in (date, id) order, a page at a time (keyset on id
    within the date order: pass the last id shown)."""
    require(actor, perm.STOCK_READ)
    from jxc.services.common import reading
    if not 1 <= limit <= 10_000:
        raise InvalidInput(field="limit", reason="input.range", value=limit, min=1, max=10_000)
    with reading(db):
        stmt = (select(DOC.c.id, DOC.c.doc_type, DOC.c.no, DOC.c.doc_date, DOC.c.status, DOC.c.red,
                       PARTNER.c.code.label("partner"), WAREHOUSE.c.code.label("warehouse"))
                .outerjoin(PARTNER, PARTNER.c.id == DOC.c.partner_id)
                .join(WAREHOUSE, WAREHOUSE.c.id == DOC.c.warehouse_id)
                .where(DOC.c.doc_date >= date_from, DOC.c.doc_date <= date_to)
                .order_by(DOC.c.doc_date, DOC.c.id).limit(limit))
        if doc_type:
            stmt = stmt.where(DOC.c.doc_type == doc_type)
        if status:
            stmt = stmt.where(DOC.c.status == status)
        if after_id is not None:
            last = db.execute(select(DOC.c.doc_date).where(DOC.c.id == after_id)).scalar()
            if last is not None:
                stmt = stmt.where(or_(DOC.c.doc_date > last, and_(DOC.c.doc_date == last, DOC.c.id > after_id)))
        return [DocSummary(r.id, r.doc_type, r.no, r.doc_date, r.status, r.red, r.partner, r.warehouse)
                for r in db.execute(stmt)]


# --- posting rules --------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class PostingRuleView:
    doc_type: str
    category: str
    inventory_account: str
    counter_account: str


def list_posting_rules(db: Session, *, actor: Actor) -> list[PostingRuleView]:
    require(actor, perm.MASTERDATA_READ)
    from jxc.services.common import reading
    inv = ACCOUNT.alias("inv")
    cnt = ACCOUNT.alias("cnt")
    with reading(db):
        return [PostingRuleView(r.doc_type, r.category, r.i, r.c) for r in db.execute(
            select(RULE.c.doc_type, RULE.c.category, inv.c.code.label("i"), cnt.c.code.label("c"))
            .join(inv, inv.c.id == RULE.c.inventory_account_id).join(cnt, cnt.c.id == RULE.c.counter_account_id)
            .order_by(RULE.c.doc_type, RULE.c.category))]


def set_posting_rule(db: Session, doc_type: str, inventory_account: str, counter_account: str, *,
                     category: str = "", actor: Actor) -> None:
    """Set the accounts a document type posts to, for one product category or ('') for all.
    Documents audited later use them; audited ones keep the accounts they were posted with.
    Raises InvalidInput, AccountUnknown/AccountNotLeaf/AccountInactive."""
    require(actor, perm.ACCOUNT_EDIT)
    if doc_type != SETTLEMENT and doc_type not in {t.value for t in DocType}:
        raise InvalidInput(field="doc_type", reason="input.choice", value=doc_type,
                           choices=", ".join([*(t.value for t in DocType), SETTLEMENT]))
    with db.begin():
        conn = db.connection()
        ids = {}
        for field_name, code in (("inventory", inventory_account), ("counter", counter_account)):
            acc = conn.execute(select(ACCOUNT).where(ACCOUNT.c.code == code)).one_or_none()
            if acc is None:
                raise AccountUnknown(account=code)
            if not acc.is_leaf:
                raise AccountNotLeaf(account=code)
            if not acc.active:
                raise AccountInactive(account=code)
            ids[field_name] = acc.id
        if category and conn.execute(select(CATEGORY.c.id).where(CATEGORY.c.code == category)).first() is None:
            raise InvalidInput(field="category", reason="stock.unknown_category", value=category)
        stmt = dialect_insert(conn, RULE)
        stmt = stmt.on_conflict_do_update(index_elements=[RULE.c.doc_type, RULE.c.category], set_={
            "inventory_account_id": stmt.excluded.inventory_account_id,
            "counter_account_id": stmt.excluded.counter_account_id})
        conn.execute(stmt, {"doc_type": doc_type, "category": category, "inventory_account_id": ids["inventory"],
                            "counter_account_id": ids["counter"]})
        # A new random stamp, not a counter: a counter can come back to a value a process has
        # cached rules for, after a rolled-back change.
        conn.execute(update(COMPANY).where(COMPANY.c.id == 1).values(posting_rules_version=secrets.randbits(31)))
        append_audit(db, actor, "posting_rule.set", "posting_rule", f"{doc_type}/{category}",
                     {"inventory": inventory_account, "counter": counter_account})
