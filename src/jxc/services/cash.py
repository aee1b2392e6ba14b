"""Receipts (收款单) and payments (付款单), and settlement (核销).

A receipt brings a customer's money into a cash or bank account and settles the
invoices it names, fully or partly; what it does not settle is an advance (预收):

    Dr 银行存款/库存现金             the amount
    Dr 财务费用—现金折扣             small differences written off (settings)
        Cr 应收账款 1122             settled + written off, cleared against the invoices
        Cr 预收账款 2203             the rest, an open item applied later

A payment is the mirror image for a supplier (Dr 220201 / Dr 预付 1123 / Cr bank,
Cr 财务费用 for a difference in our favour). DOMAIN.md §2.6.

Applying an advance later, or offsetting a red invoice against a blue one, is a
settlement of its own (HXD-…): moving money from 预收 to 应收 takes a voucher
(Dr 2203 / Cr 1122); offsetting two items of one account takes none. A settlement
is undone while its period is open; a receipt's own settlements go with it when it
is un-audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from jxc.db.base import table_of
from jxc.db.models import CashDoc, CashSettle, Invoice
from jxc.domain import permissions as perm
from jxc.domain.errors import (
    BatchInvalid,
    DuplicateCode,
    InvalidInput,
    InvalidTransition,
    JxcError,
    NotFound,
    SameUserAudit,
)
from jxc.domain.numbers import MAX_MONEY, MONEY_PLACES, ZERO, fits, money
from jxc.domain.permissions import Actor
from jxc.domain.stockdocs import DocStatus
from jxc.domain.trade import (
    ADVANCE_PAID,
    ADVANCE_RECEIVED,
    AP_ACCOUNT,
    AR_ACCOUNT,
    Side,
)
from jxc.services import arap, tradecommon
from jxc.services.arap import ITEM, PAIR, SETTLEMENT
from jxc.services.common import (
    DB,
    BookRules,
    PeriodRef,
    append_audit,
    conn_of,
    deferred_audit,
    insert_unique,
    open_period_and_rules,
    reading,
    retrying,
    utcnow,
)
from jxc.services.tradecommon import parse_side
from jxc.services.vouchers import GenLine, insert_generated_voucher, void_generated_voucher

CASH = table_of(CashDoc)
CSETTLE = table_of(CashSettle)
INVOICE = table_of(Invoice)
CASH_PREFIXES = ("1001", "1002", "1012")  # 库存现金, 银行存款, 其他货币资金


def _accounts(side: Side) -> tuple[str, str]:
    """(the open-item account invoices sit on, the advance account) of a side."""
    return (AR_ACCOUNT, ADVANCE_RECEIVED) if side is Side.SALES else (AP_ACCOUNT, ADVANCE_PAID)


@dataclass(frozen=True, slots=True)
class SettleLineIn:
    invoice: str  # the invoice number
    amount: Decimal  # money applied
    writeoff: Decimal = ZERO  # a small difference written off to the settings' account


@dataclass(frozen=True, slots=True)
class CashIn:
    side: str  # sales: a receipt (收款单); purchase: a payment (付款单)
    partner: str
    account: str  # the cash or bank account
    amount: Decimal
    doc_date: date
    settle: tuple[SettleLineIn, ...] = ()
    no: str | None = None
    memo: str = ""


@dataclass(frozen=True, slots=True)
class CashRef:
    id: int
    side: str
    no: str
    status: str
    amount: Decimal
    advance: Decimal = ZERO  # what was left as 预收/预付


_INVOICE_BY_NO = select(INVOICE.c.id, INVOICE.c.no, INVOICE.c.status, INVOICE.c.partner_id, INVOICE.c.red,
                        INVOICE.c.voucher_id, INVOICE.c.invoice_date).where(
    INVOICE.c.side == bindparam("s"), INVOICE.c.no == bindparam("no"))


# The invoice with its open item on the account invoices of its side sit on, in one read.
_INVOICE_AND_ITEM = (
    select(INVOICE.c.id, INVOICE.c.no, INVOICE.c.status, INVOICE.c.partner_id, INVOICE.c.red, INVOICE.c.voucher_id,
           ITEM.c.id.label("item_id"), ITEM.c.open.label("item_open"))
    .select_from(INVOICE.outerjoin(ITEM, (ITEM.c.voucher_id == INVOICE.c.voucher_id)
                                   & (ITEM.c.account_id == bindparam("a"))))
    .where(INVOICE.c.side == bindparam("s"), INVOICE.c.no == bindparam("no")))


@dataclass(frozen=True, slots=True)
class _Item:
    id: int
    open: Decimal


def _check_amount(name: str, value: Decimal, errors: list[JxcError], *, positive: bool) -> bool:
    problem = fits(value, MONEY_PLACES, MAX_MONEY)
    if problem:
        errors.append(InvalidInput(field=name, reason=problem, value=str(value), places=MONEY_PLACES))
        return False
    if (value <= 0) if positive else (value < 0):
        errors.append(InvalidInput(field=name, reason="input.not_positive" if positive else "input.negative",
                                   value=str(value)))
        return False
    return True


def _check_settle(db: DB, side: Side, partner_id: int | None, lines: Sequence[SettleLineIn], day: date,
                  rules: BookRules, errors: list[JxcError], field: str = "settle") -> list[tuple[Any, Any]]:
    """The invoices a receipt/payment or settlement names: each audited, blue, the partner's,
    open for at least amount + write-off. Returns (invoice, its open item) per line."""
    ids = arap.item_account_ids(db)
    main = ids[_accounts(side)[0]]
    found: list[tuple[Any, Any]] = []
    seen: set[str] = set()
    for i, ln in enumerate(lines, start=1):
        name = f"{field}[{i}]"
        ok = _check_amount(f"{name}.amount", ln.amount, errors, positive=True)
        ok = _check_amount(f"{name}.writeoff", ln.writeoff, errors, positive=False) and ok
        if ok and ln.writeoff > rules.writeoff_limit:
            errors.append(InvalidInput(field=f"{name}.writeoff", reason="trade.writeoff_limit", value=str(ln.writeoff),
                                       limit=str(rules.writeoff_limit)))
            ok = False
        if ok and ln.writeoff and rules.writeoff_account_id is None:
            errors.append(InvalidInput(field=f"{name}.writeoff", reason="trade.no_writeoff_account"))
            ok = False
        inv = conn_of(db).execute(_INVOICE_AND_ITEM, {"s": side.value, "no": ln.invoice, "a": main}).first()
        if inv is None:
            errors.append(InvalidInput(field=f"{name}.invoice", reason="trade.unknown_invoice", value=ln.invoice))
            continue
        if ln.invoice in seen:
            errors.append(InvalidInput(field=f"{name}.invoice", reason="stock.duplicate_line", value=ln.invoice))
            continue
        seen.add(ln.invoice)
        if inv.status != DocStatus.AUDITED or inv.red:
            errors.append(InvalidInput(field=f"{name}.invoice", reason="trade.invoice_not_open", value=ln.invoice))
            continue
        if partner_id is not None and inv.partner_id != partner_id:
            errors.append(InvalidInput(field=f"{name}.invoice", reason="stock.source_other_partner", value=ln.invoice))
            continue
        item = _Item(inv.item_id, inv.item_open) if inv.item_id is not None else None
        open_amount = abs(item.open) if item is not None else ZERO
        if ok and ln.amount + ln.writeoff > open_amount:
            errors.append(InvalidInput(field=f"{name}.amount", reason="trade.settle_exceeds",
                                       amount=str(money(ln.amount + ln.writeoff)), open=str(open_amount)))
            continue
        found.append((inv, item))
    return found


def enter_cash(db: DB, data: CashIn, actor: Actor, *, check_settle: bool = True) -> CashRef:
    side = parse_side(data.side)
    errors: list[JxcError] = []
    partner = tradecommon.partner_row(db, data.partner, side, errors)
    account = tradecommon.account_row(db, data.account, "account", errors)
    if account is not None and not account.code.startswith(CASH_PREFIXES):
        errors.append(InvalidInput(field="account", reason="trade.not_cash_account", value=data.account))
    _check_amount("amount", data.amount, errors, positive=True)
    if len(data.memo) > 200:
        errors.append(InvalidInput(field="memo", reason="input.too_long", max=200))
    period, rules = open_period_and_rules(db, data.doc_date)
    if check_settle:
        _check_settle(db, side, partner.id if partner else None, data.settle, data.doc_date, rules, errors)
    applied = sum((ln.amount for ln in data.settle), ZERO)
    if not errors and applied > data.amount:
        errors.append(InvalidInput(field="settle", reason="trade.settle_above_amount", value=str(applied),
                                   amount=str(data.amount)))
    if errors:
        raise BatchInvalid(errors)
    assert partner is not None and account is not None
    no = tradecommon.number_for(db, "cash", side, period, data.no)
    conn = conn_of(db)
    cash_id = insert_unique(conn, CASH, ("side", "no"), {
        "side": side.value, "no": no, "doc_date": data.doc_date, "period_id": period.id, "partner_id": partner.id,
        "account_id": account.id, "amount": data.amount, "status": DocStatus.DRAFT.value, "memo": data.memo,
        "voucher_id": None, "settlement_id": None, "created_by": actor.id, "created_at": utcnow(),
        "audited_by": None})
    if cash_id is None:
        raise DuplicateCode(entity=f"cash_{side.value}", code=no)
    if data.settle:
        found = {ln.invoice: conn.execute(_INVOICE_BY_NO, {"s": side.value, "no": ln.invoice}).one_or_none()
                 for ln in data.settle}
        if not all(found.values()):  # unchecked so far: say which
            _check_settle(db, side, partner.id, data.settle, data.doc_date, rules, errors)
            raise BatchInvalid(errors)
        ids = {no: row.id for no, row in found.items() if row is not None}
        conn.execute(insert(CSETTLE), [{"cash_doc_id": cash_id, "line_no": i, "invoice_id": ids[ln.invoice],
                                        "amount": ln.amount, "writeoff": ln.writeoff}
                                       for i, ln in enumerate(data.settle, start=1)])
    return CashRef(cash_id, side.value, no, DocStatus.DRAFT.value, data.amount, data.amount - applied)


_LOCK = select(CASH).where(CASH.c.id == bindparam("c")).with_for_update()


def _new_settlement(db: DB, side: Side, partner_id: int, day: date, period: PeriodRef, actor: Actor,
                    voucher_id: int | None) -> tuple[int, str]:
    no = tradecommon.number_for(db, "settle", side, period, None)
    settlement_id = int(conn_of(db).execute(insert(SETTLEMENT).returning(SETTLEMENT.c.id), {
        "no": no, "side": side.value, "settle_date": day, "period_id": period.id, "partner_id": partner_id,
        "voucher_id": voucher_id, "created_by": actor.id, "created_at": utcnow()}).scalar_one())
    return settlement_id, no


_SETTLES = (select(CSETTLE, INVOICE.c.no).join(INVOICE, INVOICE.c.id == CSETTLE.c.invoice_id)
            .where(CSETTLE.c.cash_doc_id == bindparam("c")).order_by(CSETTLE.c.line_no))
_ITEM_OF = select(ITEM.c.id).where(ITEM.c.voucher_id == bindparam("v"), ITEM.c.account_id == bindparam("a"))
_SET_AUDITED = update(CASH).where(CASH.c.id == bindparam("c")).values(
    status=bindparam("s"), voucher_id=bindparam("v"), audited_by=bindparam("a"), settlement_id=bindparam("st"))


def _audit_cash(db: DB, cash_id: int, actor: Actor) -> CashRef:
    conn = conn_of(db)
    doc = conn.execute(_LOCK, {"c": cash_id}).one_or_none()
    if doc is None:
        raise NotFound(entity="cash_doc", key=cash_id)
    if doc.status != DocStatus.DRAFT:
        raise InvalidTransition(document=doc.no, current=doc.status, target=DocStatus.AUDITED.value)
    period, rules = open_period_and_rules(db, doc.doc_date)
    if rules.require_distinct_auditor and doc.created_by == actor.id:
        raise SameUserAudit(voucher=doc.no, user=actor.username)
    side = Side(doc.side)
    settles = list(conn.execute(_SETTLES, {"c": doc.id}))
    lines_in = [SettleLineIn(r.no, r.amount, r.writeoff) for r in settles]
    errors: list[JxcError] = []
    found = _check_settle(db, side, doc.partner_id, lines_in, doc.doc_date, rules, errors)
    if errors:  # another receipt settled the invoice since this draft was made
        raise BatchInvalid(errors)
    ids = arap.item_account_ids(db)
    main, advance = (ids[c] for c in _accounts(side))
    applied = sum((ln.amount for ln in lines_in), ZERO)
    written = sum((ln.writeoff for ln in lines_in), ZERO)
    rest = doc.amount - applied
    # Sales: money in (Dr cash), items credited; purchase: money out, items debited.
    money_side = 1 if side is Side.SALES else -1
    gen = [GenLine(doc.account_id, None, money_side, doc.amount)]
    if written:
        assert rules.writeoff_account_id is not None
        gen.append(GenLine(rules.writeoff_account_id, None, money_side, written))
    if applied + written:
        gen.append(GenLine(main, doc.partner_id, -money_side, applied + written))
    if rest:
        gen.append(GenLine(advance, doc.partner_id, -money_side, rest))
    gen.sort(key=lambda g: -g.side)  # debits first, as a voucher is read
    voucher_id = insert_generated_voucher(db, period, rules, doc.doc_date, doc.no, gen, "cash", doc.id, actor)
    settlement_id = None
    if lines_in:
        own = conn.execute(_ITEM_OF, {"v": voucher_id, "a": main}).scalar_one()
        settlement_id, _ = _new_settlement(db, side, doc.partner_id, doc.doc_date, period, actor, None)
        pairs = []
        for (_, item), ln in zip(found, lines_in, strict=True):
            invoice_item, cash_item = (item.id, own) if side is Side.SALES else (own, item.id)
            pairs.append((invoice_item, cash_item, ln.amount + ln.writeoff))
        arap.settle_pairs(db, settlement_id, doc.no, pairs)
    conn.execute(_SET_AUDITED, {"c": doc.id, "s": DocStatus.AUDITED.value, "v": voucher_id, "a": actor.id,
                                "st": settlement_id})
    return CashRef(doc.id, doc.side, doc.no, DocStatus.AUDITED.value, doc.amount, rest)


def _unaudit_cash(db: DB, cash_id: int, actor: Actor) -> CashRef:
    conn = conn_of(db)
    doc = conn.execute(_LOCK, {"c": cash_id}).one_or_none()
    if doc is None:
        raise NotFound(entity="cash_doc", key=cash_id)
    if doc.status != DocStatus.AUDITED:
        raise InvalidTransition(document=doc.no, current=doc.status, target=DocStatus.DRAFT.value)
    open_period_and_rules(db, doc.doc_date)
    if doc.settlement_id is not None:
        arap.unsettle(db, doc.settlement_id)
        conn.execute(update(CASH).where(CASH.c.id == doc.id).values(settlement_id=None))
        conn.execute(delete(SETTLEMENT).where(SETTLEMENT.c.id == doc.settlement_id))
    if doc.voucher_id is not None:
        void_generated_voucher(db, doc.voucher_id, doc.no)  # refused while a later settlement uses its advance
    conn.execute(update(CASH).where(CASH.c.id == doc.id).values(
        status=DocStatus.DRAFT.value, voucher_id=None, audited_by=None))
    return CashRef(doc.id, doc.side, doc.no, DocStatus.DRAFT.value, doc.amount)


# --- settlement on its own ----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SettleIn:
    """核销: apply credits (receipts'/payments' advances or unapplied money, red invoices) to
    open invoices of one partner. The credits are used in the order given, up to the total of
    the invoice lines."""

    side: str
    partner: str
    settle_date: date
    invoices: tuple[SettleLineIn, ...]
    credits: tuple[str, ...]  # receipt/payment numbers or red invoice numbers


@dataclass(frozen=True, slots=True)
class SettlementRef:
    id: int
    no: str
    amount: Decimal
    voucher_id: int | None


def _credit_items(db: DB, side: Side, partner_id: int, credits: Sequence[str], errors: list[JxcError]) -> list[Any]:
    """The open credit items (for sales; debit items for purchases) the named documents left."""
    conn = conn_of(db)
    ids = arap.item_account_ids(db)
    main, advance = (ids[c] for c in _accounts(side))
    sign = 1 if side is Side.SALES else -1  # sales credits are negative items
    found: list[Any] = []
    for i, no in enumerate(credits, start=1):
        name = f"credits[{i}]"
        cash = conn.execute(select(CASH.c.id, CASH.c.voucher_id, CASH.c.partner_id, CASH.c.status).where(
            CASH.c.side == side.value, CASH.c.no == no)).one_or_none()
        voucher_id = None
        if cash is not None and cash.status == DocStatus.AUDITED and cash.partner_id == partner_id:
            voucher_id = cash.voucher_id
        else:
            inv = conn.execute(_INVOICE_BY_NO, {"s": side.value, "no": no}).one_or_none()
            if inv is not None and inv.red and inv.status == DocStatus.AUDITED and inv.partner_id == partner_id:
                voucher_id = inv.voucher_id
        if voucher_id is None:
            errors.append(InvalidInput(field=name, reason="trade.unknown_credit", value=no))
            continue
        items = [r for r in conn.execute(select(ITEM.c.id, ITEM.c.account_id, ITEM.c.open).where(
            ITEM.c.voucher_id == voucher_id, ITEM.c.account_id.in_([main, advance])).order_by(ITEM.c.id))
            if sign * r.open < 0]
        if not items:
            errors.append(InvalidInput(field=name, reason="trade.credit_used", value=no))
        found += items
    return found


def _settle(db: DB, data: SettleIn, actor: Actor) -> SettlementRef:
    side = parse_side(data.side)
    errors: list[JxcError] = []
    partner = tradecommon.partner_row(db, data.partner, side, errors)
    period, rules = open_period_and_rules(db, data.settle_date)
    if not data.invoices:
        errors.append(InvalidInput(field="invoices", reason="input.required"))
    if not data.credits:
        errors.append(InvalidInput(field="credits", reason="input.required"))
    found = _check_settle(db, side, partner.id if partner else None, data.invoices, data.settle_date, rules, errors,
                          "invoices")
    if any(ln.writeoff for ln in data.invoices):
        errors.append(InvalidInput(field="invoices", reason="trade.writeoff_with_money"))
    credits = _credit_items(db, side, partner.id, data.credits, errors) if partner is not None else []
    if errors:
        raise BatchInvalid(errors)
    assert partner is not None
    ids = arap.item_account_ids(db)
    main, advance = (ids[c] for c in _accounts(side))
    sign = 1 if side is Side.SALES else -1
    wanted = money(sum((ln.amount for ln in data.invoices), ZERO))
    available = sum((-sign * c.open for c in credits), ZERO)
    if available < wanted:
        raise InvalidInput(field="credits", reason="trade.settle_exceeds", amount=str(wanted), open=str(available))
    # Take credits in order; credits on the advance account first move to the main account.
    plan: list[tuple[Any, Decimal]] = []
    need = wanted
    for c in credits:
        if need == 0:
            break
        take = min(need, -sign * c.open)
        plan.append((c, take))
        need -= take
    moved = sum((t for c, t in plan if c.account_id == advance), ZERO)
    settlement_id, no = _new_settlement(db, side, partner.id, data.settle_date, period, actor, None)
    conn = conn_of(db)
    new: dict[int, int] = {}
    if moved:
        # Sales: Dr 预收 / Cr 应收; purchase: Cr 预付 / Dr 应付.
        gen = sorted([GenLine(advance, partner.id, sign, moved), GenLine(main, partner.id, -sign, moved)],
                     key=lambda g: -g.side)
        voucher_id = insert_generated_voucher(db, period, rules, data.settle_date, no, gen, "settlement",
                                              settlement_id, actor)
        conn.execute(update(SETTLEMENT).where(SETTLEMENT.c.id == settlement_id).values(voucher_id=voucher_id))
        new = {r.account_id: r.id for r in conn.execute(select(ITEM.c.id, ITEM.c.account_id).where(
            ITEM.c.voucher_id == voucher_id))}
    else:
        voucher_id = None
    pairs: list[tuple[int, int, Decimal]] = []
    # The credit side of each invoice: same-account credits directly, advances via the new item.
    credit_pool: list[list[Any]] = []
    for c, take in plan:
        if c.account_id == advance:
            # the advance itself is cleared against the voucher's opposite line on the advance account
            adv_pair = (new[advance], c.id) if side is Side.SALES else (c.id, new[advance])
            pairs.append((*adv_pair, take))
            credit_pool.append([new[main], take])
        else:
            credit_pool.append([c.id, take])
    k = 0
    for (_, item), ln in zip(found, data.invoices, strict=True):
        need = ln.amount
        while need > 0:
            credit_id, left = credit_pool[k]
            take = min(need, left)
            pair = (item.id, credit_id) if side is Side.SALES else (credit_id, item.id)
            pairs.append((*pair, take))
            need -= take
            credit_pool[k][1] -= take
            if credit_pool[k][1] == 0:
                k += 1
    arap.settle_pairs(db, settlement_id, no, _merge(pairs))
    return SettlementRef(settlement_id, no, wanted, voucher_id)


def _merge(pairs: list[tuple[int, int, Decimal]]) -> list[tuple[int, int, Decimal]]:
    merged: dict[tuple[int, int], Decimal] = {}
    for d, c, a in pairs:
        merged[(d, c)] = merged.get((d, c), ZERO) + a
    return [(d, c, a) for (d, c), a in merged.items()]


def _undo_settlement(db: DB, settlement_id: int, actor: Actor) -> SettlementRef:
    conn = conn_of(db)
    row = conn.execute(select(SETTLEMENT).where(SETTLEMENT.c.id == settlement_id).with_for_update()).one_or_none()
    if row is None:
        raise NotFound(entity="settlement", key=settlement_id)
    open_period_and_rules(db, row.settle_date)
    owner = conn.execute(select(CASH.c.no).where(CASH.c.settlement_id == settlement_id)).scalar()
    # What it settled on the invoices' account (an applied advance also pairs its own two items).
    main = arap.item_account_ids(db)[_accounts(Side(row.side))[0]]
    amount = conn.execute(select(PAIR.c.amount).join(ITEM, ITEM.c.id == PAIR.c.debit_item_id).where(
        PAIR.c.settlement_id == settlement_id, ITEM.c.account_id == main)).scalars().all()
    arap.unsettle(db, settlement_id)
    if owner is not None:
        # The receipt's money stays, unapplied, on the invoice account: settle it again later.
        conn.execute(update(CASH).where(CASH.c.settlement_id == settlement_id).values(settlement_id=None))
    if row.voucher_id is not None:
        void_generated_voucher(db, row.voucher_id, row.no)
    conn.execute(delete(SETTLEMENT).where(SETTLEMENT.c.id == settlement_id))
    return SettlementRef(settlement_id, row.no, money(sum(amount, ZERO)), row.voucher_id)


# --- public services ------------------------------------------------------------------------------

def create_cash(db: Session, data: CashIn, *, actor: Actor, audit: bool = False) -> CashRef:
    """Enter a receipt/payment as a draft, or draft and audit it in one transaction. Raises
    BatchInvalid naming every bad field (an unknown partner, a settlement above the invoice's
    open amount or above the money), PeriodClosed/PeriodMissing, DuplicateCode."""
    perm.require(actor, perm.CASH_CREATE)
    if audit:
        perm.require(actor, perm.CASH_AUDIT)

    def work() -> CashRef:
        with db.begin():
            conn = db.connection()
            with deferred_audit(conn, actor):  # both entries at the end, in one append
                ref = enter_cash(conn, data, actor, check_settle=not audit)  # the audit checks them, locked
                append_audit(conn, actor, "cash.create", "cash_doc", ref.id,
                             {"no": ref.no, "amount": str(ref.amount)})
                if audit:
                    ref = _audit_cash(conn, ref.id, actor)
                    append_audit(conn, actor, "cash.audit", "cash_doc", ref.id, {"no": ref.no})
            return ref
    return retrying(work)


def audit_cash(db: Session, cash_id: int, *, actor: Actor) -> CashRef:
    perm.require(actor, perm.CASH_AUDIT)

    def work() -> CashRef:
        with db.begin():
            conn = db.connection()
            ref = _audit_cash(conn, cash_id, actor)
            append_audit(conn, actor, "cash.audit", "cash_doc", ref.id, {"no": ref.no})
            return ref
    return retrying(work)


def unaudit_cash(db: Session, cash_id: int, *, actor: Actor) -> CashRef:
    perm.require(actor, perm.CASH_AUDIT)

    def work() -> CashRef:
        with db.begin():
            conn = db.connection()
            ref = _unaudit_cash(conn, cash_id, actor)
            append_audit(conn, actor, "cash.unaudit", "cash_doc", ref.id, {"no": ref.no})
            return ref
    return retrying(work)


def delete_cash(db: Session, cash_id: int, *, actor: Actor) -> None:
    perm.require(actor, perm.CASH_CREATE)
    with db.begin():
        conn = db.connection()
        doc = conn.execute(_LOCK, {"c": cash_id}).one_or_none()
        if doc is None:
            raise NotFound(entity="cash_doc", key=cash_id)
        if doc.status != DocStatus.DRAFT:
            raise InvalidTransition(document=doc.no, current=doc.status, target="deleted")
        conn.execute(delete(CASH).where(CASH.c.id == cash_id))
        append_audit(conn, actor, "cash.delete", "cash_doc", cash_id, {"no": doc.no})


def settle(db: Session, data: SettleIn, *, actor: Actor) -> SettlementRef:
    """核销 open invoices with advances, unapplied money or red invoices of the same partner."""
    perm.require(actor, perm.CASH_AUDIT)

    def work() -> SettlementRef:
        with db.begin():
            conn = db.connection()
            ref = _settle(conn, data, actor)
            append_audit(conn, actor, "settlement.create", "settlement", ref.id,
                         {"no": ref.no, "amount": str(ref.amount), "invoices": [x.invoice for x in data.invoices],
                          "credits": list(data.credits)})
            return ref
    return retrying(work)


def undo_settlement(db: Session, no: str, *, actor: Actor) -> SettlementRef:
    """Undo a settlement while its period is open: the items are open again, and a voucher it
    made (预收 → 应收) is voided."""
    perm.require(actor, perm.CASH_AUDIT)

    def work() -> SettlementRef:
        with db.begin():
            conn = db.connection()
            found = conn.execute(select(SETTLEMENT.c.id).where(SETTLEMENT.c.no == no)).scalar()
            if found is None:
                raise NotFound(entity="settlement", key=no)
            ref = _undo_settlement(conn, int(found), actor)
            append_audit(conn, actor, "settlement.undo", "settlement", ref.id, {"no": ref.no})
            return ref
    return retrying(work)


def find_cash_id(db: Session, side: str, no: str) -> int:
    found = db.execute(select(CASH.c.id).where(CASH.c.side == side, CASH.c.no == no)).scalar()
    if found is None:
        raise NotFound(entity="cash_doc", key=no)
    return int(found)


@dataclass(frozen=True, slots=True)
class CashView:
    id: int
    side: str
    no: str
    doc_date: date
    partner: str
    account: str
    amount: Decimal
    status: str
    settled: tuple[tuple[str, Decimal, Decimal], ...]  # (invoice, amount, write-off)
    advance_open: Decimal  # what is still unapplied


def get_cash(db: Session, cash_id: int, *, actor: Actor) -> CashView:
    perm.require(actor, perm.TRADE_READ)
    with reading(db):
        conn = db.connection()
        doc = conn.execute(select(CASH).where(CASH.c.id == cash_id)).one_or_none()
        if doc is None:
            raise NotFound(entity="cash_doc", key=cash_id)
        partner = conn.execute(select(tradecommon.PARTNER.c.code).where(
            tradecommon.PARTNER.c.id == doc.partner_id)).scalar_one()
        account = conn.execute(select(tradecommon.ACCOUNT.c.code).where(
            tradecommon.ACCOUNT.c.id == doc.account_id)).scalar_one()
        settled = tuple((r.no, r.amount, r.writeoff) for r in conn.execute(
            select(INVOICE.c.no, CSETTLE.c.amount, CSETTLE.c.writeoff)
            .join(INVOICE, INVOICE.c.id == CSETTLE.c.invoice_id)
            .where(CSETTLE.c.cash_doc_id == cash_id).order_by(CSETTLE.c.line_no)))
        left = ZERO
        if doc.voucher_id is not None:
            left = sum((abs(r) for r in conn.execute(select(ITEM.c.open).where(
                ITEM.c.voucher_id == doc.voucher_id)).scalars()), ZERO)
    return CashView(doc.id, doc.side, doc.no, doc.doc_date, partner, account, doc.amount, doc.status, settled, left)

