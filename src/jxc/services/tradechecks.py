"""The receivable/payable and invoicing invariants, re-proved from the stored rows by `jxc verify`.

1. The open items of each AR/AP account (应收/预收/应付/预付) and partner add up to its
   general-ledger balance (opening + posted), and each item's open amount equals its
   amount less the settlements that name it.
2. Every invoice's tax is the sum of its lines' tax (and amount, total likewise), and
   each line's amount + tax equals its tax-inclusive total.
3. Order lines' received/delivered, returned and invoiced quantities equal the sums of
   the audited documents linked to them; stock lines' invoiced quantities equal the sums
   of the audited invoices that bill them.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, type_coerce
from sqlalchemy.orm import Session, aliased

from jxc.db.models import (
    Account,
    ArapItem,
    Invoice,
    InvoiceLine,
    InvoiceLink,
    OpeningBalance,
    Partner,
    PartnerBalance,
    SettlementPair,
    StockDoc,
    StockDocLine,
    TradeOrder,
    TradeOrderLine,
)
from jxc.db.types import Money, Quantity
from jxc.domain.numbers import ZERO
from jxc.domain.stockdocs import DocType
from jxc.domain.trade import ITEM_ACCOUNTS
from jxc.services.checks_base import CheckResult, result


def _m(expr: Any) -> Any:
    return func.coalesce(func.sum(type_coerce(expr, Money())), 0)


def check_arap_items(db: Session) -> CheckResult:
    """Open items equal the GL per account and partner; open = amount − settlements."""
    accounts = {r.id: r.code for r in db.execute(select(Account.id, Account.code).where(
        Account.code.in_(ITEM_ACCOUNTS)))}
    if not accounts:
        return result("arap_items_match_ledger", [], "")
    partners: dict[int, str] = {r.id: r.code for r in db.execute(select(Partner.id, Partner.code))}
    gl: dict[tuple[int, int | None], Decimal] = defaultdict(lambda: ZERO)
    for a, p, d, c in db.execute(select(PartnerBalance.account_id, PartnerBalance.partner_id,
                                        _m(PartnerBalance.debit), _m(PartnerBalance.credit))
                                 .where(PartnerBalance.account_id.in_(list(accounts)))
                                 .group_by(PartnerBalance.account_id, PartnerBalance.partner_id)):
        gl[(a, p)] += Decimal(d) - Decimal(c)
    for a, p, d, c in db.execute(select(OpeningBalance.account_id, OpeningBalance.partner_id, OpeningBalance.debit,
                                        OpeningBalance.credit).where(OpeningBalance.account_id.in_(list(accounts)),
                                                                     OpeningBalance.partner_id.is_not(None))):
        gl[(a, p)] += d - c
    items: dict[tuple[int, int | None], Decimal] = defaultdict(lambda: ZERO)
    for a, p, amount in db.execute(select(ArapItem.account_id, ArapItem.partner_id, _m(ArapItem.amount))
                                   .group_by(ArapItem.account_id, ArapItem.partner_id)):
        items[(a, p)] += Decimal(amount)
    bad = [f"{accounts.get(a, a)}/{partners.get(p or 0, p)}: {items[(a, p)]} ≠ {gl[(a, p)]}"
           for a, p in sorted(set(gl) | set(items)) if items[(a, p)] != gl[(a, p)]]
    settled: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for item, amount in db.execute(select(SettlementPair.debit_item_id, _m(SettlementPair.amount))
                                   .group_by(SettlementPair.debit_item_id)):
        settled[item] -= Decimal(amount)
    for item, amount in db.execute(select(SettlementPair.credit_item_id, _m(SettlementPair.amount))
                                   .group_by(SettlementPair.credit_item_id)):
        settled[item] += Decimal(amount)
    for r in db.execute(select(ArapItem.id, ArapItem.amount, ArapItem.open)):
        if r.open != r.amount + settled[r.id] or (r.amount >= 0 and not 0 <= r.open <= r.amount) \
                or (r.amount < 0 and not r.amount <= r.open <= 0):
            bad.append(f"item #{r.id}: open {r.open}, amount {r.amount}, settled {-settled[r.id]}")
    return result("arap_items_match_ledger", bad, "check.arap_items_mismatch")


def check_invoice_totals(db: Session) -> CheckResult:
    """Header amount/tax/total are the sums of the lines; every line adds up."""
    bad: list[str] = []
    sums = {r[0]: (Decimal(r[1]), Decimal(r[2])) for r in db.execute(
        select(InvoiceLine.invoice_id, _m(InvoiceLine.amount), _m(InvoiceLine.tax)).group_by(InvoiceLine.invoice_id))}
    for inv in db.execute(select(Invoice.id, Invoice.no, Invoice.amount, Invoice.tax, Invoice.total)):
        amount, tax = sums.get(inv.id, (ZERO, ZERO))
        if (inv.amount, inv.tax, inv.total) != (amount, tax, amount + tax):
            bad.append(f"{inv.no}: {inv.amount}+{inv.tax}={inv.total} ≠ Σ {amount}+{tax}")
    for no, line_no, amount, tax, total in db.execute(
            select(Invoice.no, InvoiceLine.line_no, InvoiceLine.amount, InvoiceLine.tax, InvoiceLine.total)
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id).where(InvoiceLine.amount + InvoiceLine.tax
                                                                       != InvoiceLine.total)):
        bad.append(f"{no} #{line_no}: {amount}+{tax}≠{total}")
    return result("invoice_tax_sums", bad, "check.invoice_totals_mismatch")


_LINKED = [t.value for t in (DocType.PURCHASE_RECEIPT, DocType.SALES_DELIVERY, DocType.PURCHASE_RETURN,
                             DocType.SALES_RETURN)]


def _q(expr: Any) -> Any:
    return func.coalesce(func.sum(type_coerce(expr, Quantity())), 0)


def check_linked_quantities(db: Session) -> CheckResult:
    """Order and stock line quantities equal the sums of the audited documents linked to them."""
    bad: list[str] = []
    done: dict[int, Decimal] = defaultdict(lambda: ZERO)
    returned: dict[int, Decimal] = defaultdict(lambda: ZERO)
    returns = (DocType.PURCHASE_RETURN.value, DocType.SALES_RETURN.value)
    for ol, doc_type, red, q in db.execute(
            select(StockDocLine.order_line_id, StockDoc.doc_type, StockDoc.red, _q(StockDocLine.qty))
            .join(StockDoc, StockDoc.id == StockDocLine.doc_id)
            .where(StockDocLine.order_line_id.is_not(None), StockDoc.status == "audited")
            .group_by(StockDocLine.order_line_id, StockDoc.doc_type, StockDoc.red)):
        target = returned if doc_type in returns else done
        target[ol] += -Decimal(q) if red else Decimal(q)
    # What invoices billed, per stock line: blue on a receipt/delivery line, red on a return line.
    billed: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for line_id, _red, q in db.execute(
            select(InvoiceLink.stock_line_id, Invoice.red, _q(InvoiceLink.qty))
            .join(InvoiceLine, InvoiceLine.id == InvoiceLink.invoice_line_id)
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id).where(Invoice.status == "audited")
            .group_by(InvoiceLink.stock_line_id, Invoice.red)):
        billed[line_id] += Decimal(q)
    src = aliased(StockDocLine)
    net: dict[int, Decimal] = defaultdict(lambda: ZERO)  # per receipt/delivery line, net of red invoices
    invoiced: dict[int, Decimal] = defaultdict(lambda: ZERO)  # per order line
    rows = db.execute(select(StockDocLine.id, StockDocLine.inv_qty, StockDocLine.order_line_id, StockDoc.doc_type,
                             StockDoc.no, StockDocLine.line_no, src.id.label("src_id"))
                      .join(StockDoc, StockDoc.id == StockDocLine.doc_id)
                      .outerjoin(src, src.id == StockDocLine.source_line_id)
                      .where(StockDoc.doc_type.in_(_LINKED)))
    lines = list(rows)
    for r in lines:
        if r.doc_type in returns:
            if r.inv_qty != billed[r.id]:
                bad.append(f"{r.no} #{r.line_no}: invoiced {r.inv_qty} ≠ {billed[r.id]}")
            if r.src_id is not None:
                net[r.src_id] -= billed[r.id]
                if r.order_line_id is not None:
                    invoiced[r.order_line_id] -= billed[r.id]
        else:
            net[r.id] += billed[r.id]
            if r.order_line_id is not None:
                invoiced[r.order_line_id] += billed[r.id]
    for r in lines:
        if r.doc_type not in returns and r.inv_qty != net[r.id]:
            bad.append(f"{r.no} #{r.line_no}: invoiced {r.inv_qty} ≠ {net[r.id]}")
    for o in db.execute(select(TradeOrderLine.id, TradeOrderLine.line_no, TradeOrderLine.done_qty,
                               TradeOrderLine.returned_qty, TradeOrderLine.invoiced_qty, TradeOrder.no)
                        .join(TradeOrder, TradeOrder.id == TradeOrderLine.order_id)):
        if (o.done_qty, o.returned_qty, o.invoiced_qty) != (done[o.id], returned[o.id], invoiced[o.id]):
            bad.append(f"{o.no} #{o.line_no}: {o.done_qty}/{o.returned_qty}/{o.invoiced_qty} ≠ "
                       f"{done[o.id]}/{returned[o.id]}/{invoiced[o.id]}")
    return result("linked_quantities_match", bad, "check.linked_quantities_mismatch")


TRADE_CHECKS = [check_arap_items, check_invoice_totals, check_linked_quantities]
