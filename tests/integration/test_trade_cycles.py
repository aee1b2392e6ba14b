"""Purchase and sales cycles end to end through the service layer, on SQLite and PostgreSQL.

Order → receipt/delivery → invoice → receipt/payment and settlement, with returns,
price differences, write-offs, credit control and un-audit round trips. Every generated
voucher is asserted line by line as (account code, partner code or None, debit, credit),
with the figures worked out by hand in a comment next to it (DOMAIN.md §2.1–2.6, §6.2–6.3;
the vouchers each service posts are described in its module docstring). The `db` fixture
re-proves the whole book (`jxc verify`) after each test.

All documents are dated January 2026, the book's first period. VAT is 13% throughout.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import aliased

from jxc.db.models import (
    Account,
    ArapItem,
    AuditLog,
    CashDoc,
    CashSettle,
    Company,
    FifoLayer,
    Invoice,
    InvoiceLine,
    InvoiceLink,
    Partner,
    PartnerBalance,
    Product,
    Settlement,
    SettlementPair,
    StockBalance,
    StockDoc,
    StockDocLine,
    StockEntry,
    TradeOrder,
    TradeOrderLine,
    Voucher,
    VoucherLine,
    Warehouse,
)
from jxc.domain.errors import BatchInvalid, InvalidInput
from jxc.domain.stockdocs import DependentDocuments
from jxc.domain.trade import CreditLimitExceeded, Execution, MatchMismatch, SettleRefused
from jxc.services import cash, invoices, orders, reports, stock
from tests import stock_factories as sf
from tests.stock_factories import delivery, ln, purchase_return, receipt, sales_return

D = Decimal
VLine = tuple[str, str | None, Decimal, Decimal]


def jan(day: int) -> date:
    return date(2026, 1, day)


@pytest.fixture(autouse=True)
def md(db, admin) -> None:
    sf.standard_master_data(db, admin)


# --- reading what the services wrote ----------------------------------------------------

def lines_of(db, voucher_id: int | None) -> list[VLine]:
    """(account code, partner code or None, debit, credit) of a voucher's lines, in line order."""
    assert voucher_id is not None, "no voucher"
    p = aliased(Partner)
    with db.begin():
        rows = db.execute(select(Account.code, p.code, VoucherLine.debit, VoucherLine.credit)
                          .join(Account, Account.id == VoucherLine.account_id)
                          .outerjoin(p, p.id == VoucherLine.partner_id)
                          .where(VoucherLine.voucher_id == voucher_id).order_by(VoucherLine.line_no)).all()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def voucher_id_of(db, kind: str, key: int | str) -> int | None:
    """The voucher of an invoice (id), a cash doc (id), a stock doc (id) or a settlement (number)."""
    table, col = {"invoice": (Invoice, Invoice.id), "cash": (CashDoc, CashDoc.id), "stock": (StockDoc, StockDoc.id),
                  "settlement": (Settlement, Settlement.no)}[kind]
    with db.begin():
        return db.scalar(select(table.voucher_id).where(col == key))


def voucher_lines(db, kind: str, key: int | str) -> list[VLine]:
    """The lines of the posted voucher an invoice/cash doc/stock doc/settlement points at."""
    vid = voucher_id_of(db, kind, key)
    assert vid is not None, f"{kind} {key} has no voucher"
    assert voucher_status(db, vid) == "posted"
    return lines_of(db, vid)


def voucher_status(db, voucher_id: int) -> str:
    with db.begin():
        return str(db.scalar(select(Voucher.status).where(Voucher.id == voucher_id)))


def inv_view(db, admin, ref) -> invoices.InvoiceView:
    return invoices.get_invoice(db, ref.id, actor=admin)


def open_of(db, admin, ref) -> Decimal | None:
    return inv_view(db, admin, ref).open


def order_line(db, admin, ref, n: int = 1) -> orders.OrderLineView:
    return orders.get_order(db, ref.id, actor=admin).lines[n - 1]


def execution_of(db, admin, ref) -> Execution:
    return orders.get_order(db, ref.id, actor=admin).execution


def partner_net(db, code: str, partner: str) -> Decimal:
    """Posted debit − credit on an account for one partner."""
    with db.begin():
        d, c = db.execute(select(func.coalesce(func.sum(VoucherLine.debit), 0),
                                 func.coalesce(func.sum(VoucherLine.credit), 0))
                          .join(Voucher, Voucher.id == VoucherLine.voucher_id)
                          .join(Account, Account.id == VoucherLine.account_id)
                          .join(Partner, Partner.id == VoucherLine.partner_id)
                          .where(Account.code == code, Partner.code == partner, Voucher.status == "posted")).one()
    return D(d) - D(c)


def adjust_docs_of(db, invoice_id: int) -> list[int]:
    """The cost adjustments an invoice's audit made (one per warehouse)."""
    with db.begin():
        return sorted(set(db.execute(
            select(InvoiceLink.adjust_doc_id).join(InvoiceLine, InvoiceLine.id == InvoiceLink.invoice_line_id)
            .where(InvoiceLine.invoice_id == invoice_id, InvoiceLink.adjust_doc_id.is_not(None))).scalars()))


def layer_of(db, doc_id: int) -> tuple[Decimal, Decimal]:
    """(qty, value) left of the FIFO layer a receipt's first line made."""
    with db.begin():
        line_id = db.scalar(select(StockDocLine.id).where(StockDocLine.doc_id == doc_id, StockDocLine.line_no == 1))
        row = db.execute(select(FifoLayer.qty, FifoLayer.value).where(FifoLayer.ident == stock.ident(line_id, 0))).one()
    return row[0], row[1]


_WRITTEN = (TradeOrder, TradeOrderLine, Invoice, InvoiceLine, InvoiceLink, CashDoc, CashSettle, Settlement,
            SettlementPair, ArapItem, Voucher, VoucherLine, StockDoc, StockDocLine, StockEntry, AuditLog)


def written(db) -> dict[str, int]:
    """Row counts of everything a trade step writes, to prove a refused step wrote nothing."""
    with db.begin():
        return {m.__tablename__: db.scalar(select(func.count()).select_from(m)) or 0 for m in _WRITTEN}


def books_state(db, admin) -> dict[str, Any]:
    """Trial balance, partner balances, stock balances, FIFO layers and open items, zero rows left
    out: what an audit followed by its un-audit must leave as it found it."""
    tb = reports.trial_balance(db, "2026-01", actor=admin)
    with db.begin():
        partners = sorted((a, p, d, c) for a, p, d, c in db.execute(
            select(Account.code, Partner.code, func.sum(PartnerBalance.debit), func.sum(PartnerBalance.credit))
            .join(Account, Account.id == PartnerBalance.account_id)
            .join(Partner, Partner.id == PartnerBalance.partner_id)
            .group_by(Account.code, Partner.code)) if d or c)
        stock_rows = sorted((p, w, b, q, v) for p, w, b, q, v in db.execute(
            select(Product.code, Warehouse.code, StockBalance.batch, StockBalance.qty, StockBalance.value)
            .join(Product, Product.id == StockBalance.product_id)
            .join(Warehouse, Warehouse.id == StockBalance.warehouse_id)) if q or v)
        layers = sorted((i, q, v) for i, q, v in db.execute(select(FifoLayer.ident, FifoLayer.qty, FifoLayer.value))
                        if q or v)
        items = sorted((a, p, am, op) for a, p, am, op in db.execute(
            select(Account.code, Partner.code, ArapItem.amount, ArapItem.open)
            .join(Account, Account.id == ArapItem.account_id).join(Partner, Partner.id == ArapItem.partner_id)))
    return {"trial_balance": tb.rows, "totals": tb.totals, "partners": partners, "stock": stock_rows,
            "layers": layers, "items": items}


def fields(err: BatchInvalid) -> list[tuple[str, str]]:
    return [(e.params.get("field"), e.params.get("reason")) for e in err.errors]


def set_company(db, **values: Any) -> None:
    with db.begin():
        db.execute(update(Company).values(**values))


def set_credit_limit(db, partner: str, limit: str | None) -> None:
    with db.begin():
        db.execute(update(Partner).where(Partner.code == partner).values(
            credit_limit=D(limit) if limit is not None else None))


# --- making documents ------------------------------------------------------------------------

def mk_order(db, admin, side: str, partner: str, *lines: tuple[str, int | str, int | str], day: int = 2,
             audit: bool = True) -> orders.OrderRef:
    return orders.create_order(db, orders.OrderIn(side, partner, jan(day), tuple(
        orders.OrderLineIn(p, D(str(q)), D(str(price))) for p, q, price in lines)), actor=admin, audit=audit)


def from_order(db, admin, side: str, order: orders.OrderRef, day: int, *, qty: int | str | None = None,
               wh: str = "W1") -> stock.DocRef:
    """A receipt/delivery of what is open on an order (qty: only this much of its one line)."""
    form = orders.stock_doc_from_order(db, side, order.no, jan(day), wh, actor=admin)
    if qty is not None:
        form = replace(form, lines=(replace(form.lines[0], qty=D(str(qty))),))
    return stock.create_stock_doc(db, form, actor=admin, audit=True)


def mk_doc(db, admin, data: stock.StockDocIn) -> stock.DocRef:
    return stock.create_stock_doc(db, data, actor=admin, audit=True)


def mk_invoice(db, admin, side: str, partner: str, day: int, *lines: tuple[str, int | str, int | str],
               sources: tuple[str, ...] = (), kind: str = "special", red: bool = False, audit: bool = True,
               override: bool = False) -> invoices.InvoiceRef:
    data = invoices.InvoiceIn(side, partner, jan(day), tuple(
        invoices.InvoiceLineIn(p, D(str(q)), D(str(price))) for p, q, price in lines),
        invoice_kind=kind, sources=sources, red=red)
    return invoices.create_invoice(db, data, actor=admin, audit=audit, override_match=override)


def invoice_stock(db, admin, side: str, sources: list[str], day: int, *, red: bool = False,
                  kind: str = "special") -> invoices.InvoiceRef:
    """An invoice of what is left to bill of these receipts/deliveries (red: returns), audited."""
    form = invoices.invoice_from_stock(db, side, sources, jan(day), actor=admin, red=red, invoice_kind=kind)
    return invoices.create_invoice(db, form, actor=admin, audit=True)


def mk_cash(db, admin, side: str, partner: str, amount: str, day: int,
            *settle: tuple[str, str] | tuple[str, str, str], account: str = "1002",
            audit: bool = True) -> cash.CashRef:
    lines = tuple(cash.SettleLineIn(s[0], D(s[1]), D(s[2]) if len(s) > 2 else D(0)) for s in settle)
    return cash.create_cash(db, cash.CashIn(side, partner, account, D(amount), jan(day), lines), actor=admin,
                            audit=audit)


def stock_p1(db, admin, qty: int = 100, price: str = "10", day: int = 1) -> stock.DocRef:
    """P1 in W1 from S1, not invoiced: the goods the sales tests sell."""
    return mk_doc(db, admin, receipt(jan(day), ln("P1", qty, price)))


# --- 1. purchase cycle, special invoice at the receipt price ----------------------------------

def test_purchase_cycle_special_invoice_at_receipt_price(db, admin):
    # PO: P1 100 @ 10.00 → amount 1000.00, tax 130.00, total 1130.00.
    po = mk_order(db, admin, "purchase", "S1", ("P1", 100, 10))
    assert po.total == D("1130.00")
    assert execution_of(db, admin, po) is Execution.NOT_STARTED

    # Receipt A from the order, 60 of the 100: Dr 1405 600.00 / Cr 220202 S1 600.00 (60 × 10).
    ra = from_order(db, admin, "purchase", po, 5, qty=60)
    assert voucher_lines(db, "stock", ra.id) == [("1405", None, D("600.00"), 0), ("220202", "S1", 0, D("600.00"))]
    assert execution_of(db, admin, po) is Execution.PARTIAL
    assert order_line(db, admin, po).done == 60

    # Receipt B from the order: what is left, 40 × 10 = 400.00.
    rb = from_order(db, admin, "purchase", po, 6)
    assert voucher_lines(db, "stock", rb.id) == [("1405", None, D("400.00"), 0), ("220202", "S1", 0, D("400.00"))]
    assert execution_of(db, admin, po) is Execution.DONE
    assert sf.balance(db, "P1") == (100, D("1000.00"))

    # One special invoice line, 100 @ 10.00, spread over both receipts (60 + 40):
    # amount 1000.00, tax round(1000 × 0.13) = 130.00, total 1130.00. No price difference, so
    # Dr 220202 S1 1000.00 (the 暂估 cleared) / Dr 22210102 130.00 / Cr 220201 S1 1130.00.
    inv = mk_invoice(db, admin, "purchase", "S1", 8, ("P1", 100, 10), sources=(ra.no, rb.no))
    assert inv.total == D("1130.00")
    assert voucher_lines(db, "invoice", inv.id) == [
        ("220202", "S1", D("1000.00"), 0),
        ("22210102", None, D("130.00"), 0),
        ("220201", "S1", 0, D("1130.00")),
    ]
    view = inv_view(db, admin, inv)
    assert view.open == D("1130.00") and view.match_override == ""
    assert view.lines[0].billed == ((ra.no, 60), (rb.no, 40))
    assert adjust_docs_of(db, inv.id) == []
    assert order_line(db, admin, po).invoiced == 100
    assert partner_net(db, "220202", "S1") == 0  # -600 - 400 + 1000

    # Payment of 1130.00 settling it fully: Cr 1002 1130.00 / Dr 220201 S1 1130.00.
    pay = mk_cash(db, admin, "purchase", "S1", "1130.00", 15, (inv.no, "1130.00"))
    assert pay.advance == 0
    assert voucher_lines(db, "cash", pay.id) == [("220201", "S1", D("1130.00"), 0), ("1002", None, 0, D("1130.00"))]
    assert open_of(db, admin, inv) == 0
    assert cash.get_cash(db, pay.id, actor=admin).advance_open == 0
    assert partner_net(db, "220201", "S1") == 0
    assert sf.account_movement(db, "1405") == D("1000.00")
    assert sf.account_movement(db, "22210102") == D("130.00")
    assert sf.account_movement(db, "1002") == D("-1130.00")
    assert execution_of(db, admin, po) is Execution.DONE


# --- 2. the same with an ordinary invoice ------------------------------------------------------

def test_purchase_cycle_ordinary_invoice_tax_is_cost(db, admin):
    # PO: P2 10 @ 100.00 → 1000.00 + 130.00.
    po = mk_order(db, admin, "purchase", "S1", ("P2", 10, 100))
    rec = from_order(db, admin, "purchase", po, 5)
    assert voucher_lines(db, "stock", rec.id) == [("1405", None, D("1000.00"), 0), ("220202", "S1", 0, D("1000.00"))]

    # Ordinary invoice 10 @ 100.00: amount 1000.00, tax 130.00, total 1130.00. The tax is not
    # deductible, so the cost is the total 1130.00; the receipt booked 1000.00, the difference
    # 130.00 is a price difference, all of it for goods still in stock (10 on hand):
    #   Dr 220202 S1 1000.00 + 130.00 = 1130.00 / Cr 220201 S1 1130.00 (no 22210102 line),
    #   and a cost adjustment Dr 1405 130.00 / Cr 220202 S1 130.00.
    inv = mk_invoice(db, admin, "purchase", "S1", 8, ("P2", 10, 100), sources=(rec.no,), kind="ordinary")
    assert voucher_lines(db, "invoice", inv.id) == [("220202", "S1", D("1130.00"), 0),
                                                    ("220201", "S1", 0, D("1130.00"))]
    (adj,) = adjust_docs_of(db, inv.id)
    assert voucher_lines(db, "stock", adj) == [("1405", None, D("130.00"), 0), ("220202", "S1", 0, D("130.00"))]
    adj_doc = sf.stock_doc(db, adj)
    assert adj_doc is not None and adj_doc.doc_type == "cost_adjustment" and adj_doc.status == "audited"
    assert adj_doc.memo == inv.no
    # 10 on hand worth 1130.00: unit cost 113.00, tax included in cost.
    assert sf.balance(db, "P2") == (10, D("1130.00"))
    assert partner_net(db, "220202", "S1") == 0  # -1000 + 1130 - 130
    assert sf.account_movement(db, "22210102") == 0

    pay = mk_cash(db, admin, "purchase", "S1", "1130.00", 15, (inv.no, "1130.00"))
    assert voucher_lines(db, "cash", pay.id) == [("220201", "S1", D("1130.00"), 0), ("1002", None, 0, D("1130.00"))]
    assert open_of(db, admin, inv) == 0
    assert execution_of(db, admin, po) is Execution.DONE
    # The 10 go out at the new unit cost: Dr 5401 1130.00 / Cr 1405 1130.00.
    d = mk_doc(db, admin, delivery(jan(20), ln("P2", 10, 150)))
    assert voucher_lines(db, "stock", d.id) == [("5401", None, D("1130.00"), 0), ("1405", None, 0, D("1130.00"))]


# --- 3. price differences between receipt and invoice ---------------------------------------

def test_price_difference_moving_average_all_in_stock(db, admin):
    # Receipt P1 100 @ 10.00 = 1000.00. Invoice 100 @ 10.50: amount 1050.00, tax 136.50, total
    # 1186.50 (within the 5% match tolerance: 0.50 ≤ 10 × 0.05). Difference 50.00, all 100 still
    # in stock → all to inventory:
    #   Dr 220202 S1 1000.00 + 50.00 = 1050.00 / Dr 22210102 136.50 / Cr 220201 S1 1186.50;
    #   cost adjustment Dr 1405 50.00 / Cr 220202 S1 50.00.
    rec = mk_doc(db, admin, receipt(jan(5), ln("P1", 100, 10)))
    inv = mk_invoice(db, admin, "purchase", "S1", 8, ("P1", 100, "10.50"), sources=(rec.no,))
    assert voucher_lines(db, "invoice", inv.id) == [
        ("220202", "S1", D("1050.00"), 0),
        ("22210102", None, D("136.50"), 0),
        ("220201", "S1", 0, D("1186.50")),
    ]
    (adj,) = adjust_docs_of(db, inv.id)
    assert voucher_lines(db, "stock", adj) == [("1405", None, D("50.00"), 0), ("220202", "S1", 0, D("50.00"))]
    assert sf.stock_doc(db, adj).reason == f"invoice:{inv.no}"
    # Stock value 1050.00, unit cost 10.50.
    assert sf.balance(db, "P1") == (100, D("1050.00"))
    assert partner_net(db, "220202", "S1") == 0
    assert sf.account_movement(db, "5401") == 0
    # The next issue is costed at 10.50: 30 × 10.50 = 315.00.
    d = mk_doc(db, admin, delivery(jan(9), ln("P1", 30, 20)))
    assert voucher_lines(db, "stock", d.id) == [("5401", None, D("315.00"), 0), ("1405", None, 0, D("315.00"))]


def test_price_difference_moving_average_part_sold(db, admin):
    # Receipt 100 @ 10.00; 40 delivered at 10.00 (Dr 5401 400.00); 60 left worth 600.00.
    # Invoice 100 @ 10.50: difference 50.00 over 100 billed, 60 still on hand:
    #   to stock round(50 × 60 / 100) = 30.00, to cost of sales 20.00.
    #   Dr 220202 S1 1000.00 + 30.00 = 1030.00 / Dr 5401 20.00 / Dr 22210102 136.50 / Cr 220201 S1 1186.50;
    #   cost adjustment Dr 1405 30.00 / Cr 220202 S1 30.00.
    rec = mk_doc(db, admin, receipt(jan(5), ln("P1", 100, 10)))
    d1 = mk_doc(db, admin, delivery(jan(6), ln("P1", 40, 20)))
    assert voucher_lines(db, "stock", d1.id) == [("5401", None, D("400.00"), 0), ("1405", None, 0, D("400.00"))]
    inv = mk_invoice(db, admin, "purchase", "S1", 8, ("P1", 100, "10.50"), sources=(rec.no,))
    assert voucher_lines(db, "invoice", inv.id) == [
        ("220202", "S1", D("1030.00"), 0),
        ("5401", None, D("20.00"), 0),
        ("22210102", None, D("136.50"), 0),
        ("220201", "S1", 0, D("1186.50")),
    ]
    (adj,) = adjust_docs_of(db, inv.id)
    assert voucher_lines(db, "stock", adj) == [("1405", None, D("30.00"), 0), ("220202", "S1", 0, D("30.00"))]
    # 60 worth 630.00 (10.50 each); cost of sales 400 + 20 = 420.00 = 40 × 10.50.
    assert sf.balance(db, "P1") == (60, D("630.00"))
    assert sf.account_movement(db, "5401") == D("420.00")
    assert partner_net(db, "220202", "S1") == 0  # -1000 + 1030 - 30
    d2 = mk_doc(db, admin, delivery(jan(9), ln("P1", 60, 20)))
    assert voucher_lines(db, "stock", d2.id) == [("5401", None, D("630.00"), 0), ("1405", None, 0, D("630.00"))]
    assert sf.balance(db, "P1") == (0, 0)


def test_price_difference_moving_average_all_sold(db, admin):
    # Receipt 100 @ 10.00, all 100 delivered (Dr 5401 1000.00); invoice 100 @ 10.50: the whole
    # difference 50.00 goes to cost of sales, no cost adjustment:
    #   Dr 220202 S1 1000.00 / Dr 5401 50.00 / Dr 22210102 136.50 / Cr 220201 S1 1186.50.
    rec = mk_doc(db, admin, receipt(jan(5), ln("P1", 100, 10)))
    mk_doc(db, admin, delivery(jan(6), ln("P1", 100, 20)))
    inv = mk_invoice(db, admin, "purchase", "S1", 8, ("P1", 100, "10.50"), sources=(rec.no,))
    assert voucher_lines(db, "invoice", inv.id) == [
        ("220202", "S1", D("1000.00"), 0),
        ("5401", None, D("50.00"), 0),
        ("22210102", None, D("136.50"), 0),
        ("220201", "S1", 0, D("1186.50")),
    ]
    assert adjust_docs_of(db, inv.id) == []
    assert sf.balance(db, "P1") == (0, 0)
    assert sf.account_movement(db, "5401") == D("1050.00")
    assert partner_net(db, "220202", "S1") == 0


def test_price_difference_fifo_revalues_the_receipts_own_layer(db, admin):
    # PF (FIFO): R1 50 @ 8.00 = 400.00, R2 100 @ 10.00 = 1000.00.
    r1 = mk_doc(db, admin, receipt(jan(5), ln("PF", 50, 8)))
    r2 = mk_doc(db, admin, receipt(jan(6), ln("PF", 100, 10)))
    # D1 70: R1's 50 (400.00) + 20 of R2 (200.00) = 600.00. R2's layer: 80 worth 800.00.
    d1 = mk_doc(db, admin, delivery(jan(7), ln("PF", 70, 15)))
    assert voucher_lines(db, "stock", d1.id) == [("5401", None, D("600.00"), 0), ("1405", None, 0, D("600.00"))]
    assert layer_of(db, r2.id) == (80, D("800.00"))
    # R3 100 @ 11.00 = 1100.00 arrives before the invoice: the product holds 180, but only 80 of
    # R2's own units are left, so the split follows the layer, not the product balance.
    r3 = mk_doc(db, admin, receipt(jan(8), ln("PF", 100, 11)))
    # Invoice R2 100 @ 10.50: amount 1050.00, tax 136.50, total 1186.50; difference 50.00;
    # in stock round(50 × 80 / 100) = 40.00, to cost of sales 10.00:
    #   Dr 220202 S1 1000.00 + 40.00 = 1040.00 / Dr 5401 10.00 / Dr 22210102 136.50 / Cr 220201 S1 1186.50;
    #   cost adjustment Dr 1405 40.00 / Cr 220202 S1 40.00 on R2's layer.
    inv = mk_invoice(db, admin, "purchase", "S1", 10, ("PF", 100, "10.50"), sources=(r2.no,))
    assert voucher_lines(db, "invoice", inv.id) == [
        ("220202", "S1", D("1040.00"), 0),
        ("5401", None, D("10.00"), 0),
        ("22210102", None, D("136.50"), 0),
        ("220201", "S1", 0, D("1186.50")),
    ]
    (adj,) = adjust_docs_of(db, inv.id)
    assert voucher_lines(db, "stock", adj) == [("1405", None, D("40.00"), 0), ("220202", "S1", 0, D("40.00"))]
    # R2's layer: 80 worth 840.00 (10.50 each); R3's untouched; stock 180 worth 840 + 1100.
    assert layer_of(db, r2.id) == (80, D("840.00"))
    assert layer_of(db, r3.id) == (100, D("1100.00"))
    assert sf.balance(db, "PF") == (180, D("1940.00"))
    # D2 80 takes exactly R2's revalued layer: 840.00.
    d2 = mk_doc(db, admin, delivery(jan(12), ln("PF", 80, 15)))
    assert voucher_lines(db, "stock", d2.id) == [("5401", None, D("840.00"), 0), ("1405", None, 0, D("840.00"))]
    assert sf.balance(db, "PF") == (100, D("1100.00"))
    # Cost of sales: 600 + 10 + 840 = 1450.00 = 50 × 8 + 100 × 10.50.
    assert sf.account_movement(db, "5401") == D("1450.00")
    # Invoicing R1 and R3 at their receipt prices clears the rest of the 暂估:
    # R1 400.00 + 52.00 tax; R3 1100.00 + 143.00 tax; 220202 S1 ends at zero.
    inv1 = mk_invoice(db, admin, "purchase", "S1", 13, ("PF", 50, 8), sources=(r1.no,))
    assert voucher_lines(db, "invoice", inv1.id) == [("220202", "S1", D("400.00"), 0),
                                                     ("22210102", None, D("52.00"), 0),
                                                     ("220201", "S1", 0, D("452.00"))]
    mk_invoice(db, admin, "purchase", "S1", 13, ("PF", 100, 11), sources=(r3.no,))
    assert partner_net(db, "220202", "S1") == 0
    assert sf.balance(db, "PF") == (100, D("1100.00"))


def test_price_difference_fifo_all_in_layer(db, admin):
    # PF: R1 100 @ 10.00 untouched; invoice 100 @ 9.60 (4% below: within tolerance).
    # amount 960.00, tax round(960 × 0.13) = 124.80, total 1084.80; difference −40.00, all in stock:
    #   Dr 220202 S1 1000.00 − 40.00 = 960.00 / Dr 22210102 124.80 / Cr 220201 S1 1084.80;
    #   cost adjustment Dr 1405 −40.00 / Cr 220202 S1 −40.00 (a decrease, in red).
    r1 = mk_doc(db, admin, receipt(jan(5), ln("PF", 100, 10)))
    inv = mk_invoice(db, admin, "purchase", "S1", 8, ("PF", 100, "9.60"), sources=(r1.no,))
    assert voucher_lines(db, "invoice", inv.id) == [
        ("220202", "S1", D("960.00"), 0),
        ("22210102", None, D("124.80"), 0),
        ("220201", "S1", 0, D("1084.80")),
    ]
    (adj,) = adjust_docs_of(db, inv.id)
    adj_lines = voucher_lines(db, "stock", adj)
    # The stock engine books a value decrease either in red on the same sides or in blue on swapped
    # sides; both leave 1405 −40.00 and 220202 S1 +40.00.
    assert adj_lines in ([("1405", None, D("-40.00"), 0), ("220202", "S1", 0, D("-40.00"))],
                         [("220202", "S1", D("40.00"), 0), ("1405", None, 0, D("40.00"))])
    assert layer_of(db, r1.id) == (100, D("960.00"))
    assert sf.balance(db, "PF") == (100, D("960.00"))
    assert partner_net(db, "220202", "S1") == 0


def test_price_difference_monthly_average_invoice_before_issue(db, admin):
    # PM (monthly average): receipt 100 @ 10.00; invoice 100 @ 10.50 before anything went out:
    # difference 50.00 all to stock (Dr 220202 S1 1050.00 / Dr 22210102 136.50 / Cr 220201 S1 1186.50,
    # cost adjustment Dr 1405 50.00 / Cr 220202 S1 50.00). 40 delivered; the run costs them at
    # 1050 / 100 = 10.50 → 420.00; 60 left worth 630.00.
    rec = mk_doc(db, admin, receipt(jan(5), ln("PM", 100, 10)))
    inv = mk_invoice(db, admin, "purchase", "S1", 6, ("PM", 100, "10.50"), sources=(rec.no,))
    assert voucher_lines(db, "invoice", inv.id) == [("220202", "S1", D("1050.00"), 0),
                                                    ("22210102", None, D("136.50"), 0),
                                                    ("220201", "S1", 0, D("1186.50"))]
    (adj,) = adjust_docs_of(db, inv.id)
    assert voucher_lines(db, "stock", adj) == [("1405", None, D("50.00"), 0), ("220202", "S1", 0, D("50.00"))]
    mk_doc(db, admin, delivery(jan(9), ln("PM", 40, 20)))
    assert stock.cost_run(db, "2026-01", actor=admin).cost_of_sales == D("420.00")
    assert sf.balance(db, "PM") == (60, D("630.00"))
    assert sf.account_movement(db, "5401") == D("420.00")
    assert partner_net(db, "220202", "S1") == 0


def test_price_difference_monthly_average_invoice_after_issue(db, admin):
    # PM: receipt 100 @ 10.00, 40 delivered (costed by the run), invoice 100 @ 10.50 (difference 50.00).
    # The month's unit cost is (1000 + 50) / 100 = 10.50: cost of sales 420.00, stock 60 worth 630.00.
    rec = mk_doc(db, admin, receipt(jan(5), ln("PM", 100, 10)))
    mk_doc(db, admin, delivery(jan(6), ln("PM", 40, 20)))
    mk_invoice(db, admin, "purchase", "S1", 8, ("PM", 100, "10.50"), sources=(rec.no,))
    stock.cost_run(db, "2026-01", actor=admin)
    assert sf.balance(db, "PM") == (60, D("630.00"))
    assert sf.account_movement(db, "5401") == D("420.00")


def test_price_difference_batch_goes_to_the_receipts_batch(db, admin):
    # PB (batch-tracked, moving average per batch): B1 100 @ 10.00, B2 100 @ 12.00 on separate receipts.
    # Invoice of B1's receipt 100 @ 10.50 → difference 50.00 on batch B1 only.
    r1 = mk_doc(db, admin, receipt(jan(5), ln("PB", 100, 10, batch="B1")))
    mk_doc(db, admin, receipt(jan(5), ln("PB", 100, 12, batch="B2")))
    inv = mk_invoice(db, admin, "purchase", "S1", 8, ("PB", 100, "10.50"), sources=(r1.no,))
    (adj,) = adjust_docs_of(db, inv.id)
    assert voucher_lines(db, "stock", adj) == [("1405", None, D("50.00"), 0), ("220202", "S1", 0, D("50.00"))]
    assert sf.balance(db, "PB", batch="B1") == (100, D("1050.00"))
    assert sf.balance(db, "PB", batch="B2") == (100, D("1200.00"))


def test_price_difference_over_two_warehouses(db, admin):
    # R1 W1 60 @ 10.00 = 600.00, R2 W2 40 @ 10.00 = 400.00; one invoice line 100 @ 10.50 = 1050.00
    # + 136.50 over both. Per link: W1 cost 1050 × 60/100 = 630.00, booked 600.00, +30.00;
    # W2 420.00 − 400.00 = +20.00. One voucher, one cost adjustment per warehouse.
    r1 = mk_doc(db, admin, receipt(jan(5), ln("P1", 60, 10)))
    r2 = mk_doc(db, admin, receipt(jan(5), ln("P1", 40, 10), wh="W2"))
    inv = mk_invoice(db, admin, "purchase", "S1", 8, ("P1", 100, "10.50"), sources=(r1.no, r2.no))
    assert voucher_lines(db, "invoice", inv.id) == [("220202", "S1", D("1050.00"), 0),
                                                    ("22210102", None, D("136.50"), 0),
                                                    ("220201", "S1", 0, D("1186.50"))]
    a1, a2 = adjust_docs_of(db, inv.id)
    assert {sf.stock_doc(db, a).warehouse_id for a in (a1, a2)} == {sf.stock_doc(db, r1.id).warehouse_id,
                                                                    sf.stock_doc(db, r2.id).warehouse_id}
    by_wh = {sf.stock_doc(db, a).warehouse_id: voucher_lines(db, "stock", a) for a in (a1, a2)}
    assert by_wh[sf.stock_doc(db, r1.id).warehouse_id] == [("1405", None, D("30.00"), 0),
                                                           ("220202", "S1", 0, D("30.00"))]
    assert by_wh[sf.stock_doc(db, r2.id).warehouse_id] == [("1405", None, D("20.00"), 0),
                                                           ("220202", "S1", 0, D("20.00"))]
    assert sf.balance(db, "P1", "W1") == (60, D("630.00"))
    assert sf.balance(db, "P1", "W2") == (40, D("420.00"))
    assert partner_net(db, "220202", "S1") == 0


def test_invoice_dated_before_a_later_issue_recosts_it(db, admin):
    # Receipt 5 Jan 100 @ 10.00; all 100 delivered 9 Jan (1000.00); the invoice, dated 8 Jan, finds
    # 100 on hand that day: +50.00 to stock on 8 Jan, so the 9 Jan delivery is re-costed to 1050.00.
    rec = mk_doc(db, admin, receipt(jan(5), ln("P1", 100, 10)))
    d = mk_doc(db, admin, delivery(jan(9), ln("P1", 100, 20)))
    inv = mk_invoice(db, admin, "purchase", "S1", 8, ("P1", 100, "10.50"), sources=(rec.no,))
    assert voucher_lines(db, "invoice", inv.id) == [("220202", "S1", D("1050.00"), 0),
                                                    ("22210102", None, D("136.50"), 0),
                                                    ("220201", "S1", 0, D("1186.50"))]
    assert voucher_lines(db, "stock", d.id) == [("5401", None, D("1050.00"), 0), ("1405", None, 0, D("1050.00"))]
    assert sf.balance(db, "P1") == (0, 0)
    assert sf.account_movement(db, "5401") == D("1050.00")
    # Un-audited, the delivery is back at 1000.00.
    invoices.unaudit_invoice(db, inv.id, actor=admin)
    assert voucher_lines(db, "stock", d.id) == [("5401", None, D("1000.00"), 0), ("1405", None, 0, D("1000.00"))]
    assert sf.account_movement(db, "5401") == D("1000.00")


def test_return_after_a_price_difference_and_its_red_invoice(db, admin):
    # Receipt 100 @ 10.00; invoice 100 @ 10.50 → +50.00 to stock (100 worth 1050.00).
    rec = mk_doc(db, admin, receipt(jan(5), ln("P1", 100, 10)))
    mk_invoice(db, admin, "purchase", "S1", 6, ("P1", 100, "10.50"), sources=(rec.no,))
    # 20 returned at the receipt's booked cost 20 × 10.00 = 200.00: Dr 220202 S1 200.00 / Cr 1405 200.00.
    ret = mk_doc(db, admin, purchase_return(jan(8), ln("P1", 20), source=rec.no))
    assert voucher_lines(db, "stock", ret.id) == [("220202", "S1", D("200.00"), 0), ("1405", None, 0, D("200.00"))]
    assert sf.balance(db, "P1") == (80, D("850.00"))
    # Red invoice 20 @ 10.50 → 210.00 + 27.30 = 237.30. It gives back the 200.00 the return took
    # off the 暂估 and the 10.00 price difference of the 20 (still in stock terms: 80 on hand ≥ 20):
    #   Dr 220202 S1 −210.00 / Dr 22210102 −27.30 / Cr 220201 S1 −237.30; adjustment 1405 −10.00.
    # (The form from the return would carry the receipt's price 10.00; the supplier's red invoice
    # is at the invoiced 10.50, so it is entered as such.)
    red = mk_invoice(db, admin, "purchase", "S1", 9, ("P1", 20, "10.50"), sources=(ret.no,), red=True)
    assert [(x.qty, x.price, x.amount, x.tax) for x in inv_view(db, admin, red).lines] == [
        (20, D("10.50"), D("210.00"), D("27.30"))]
    assert voucher_lines(db, "invoice", red.id) == [("220202", "S1", D("-210.00"), 0),
                                                    ("22210102", None, D("-27.30"), 0),
                                                    ("220201", "S1", 0, D("-237.30"))]
    (adj,) = adjust_docs_of(db, red.id)
    assert voucher_lines(db, "stock", adj) in ([("1405", None, D("-10.00"), 0), ("220202", "S1", 0, D("-10.00"))],
                                               [("220202", "S1", D("10.00"), 0), ("1405", None, 0, D("10.00"))])
    # 80 at 10.50 = 840.00; 220202: −1000 + 1050 − 50 + 200 − 210 + 10 = 0.
    assert sf.balance(db, "P1") == (80, D("840.00"))
    assert partner_net(db, "220202", "S1") == 0
    assert partner_net(db, "220201", "S1") == D("-949.20")  # 1186.50 − 237.30


# --- 4. sales cycle --------------------------------------------------------------------------

def test_sales_cycle(db, admin):
    set_company(db, credit_control="block")
    set_credit_limit(db, "C1", "10000")
    stock_p1(db, admin)  # 100 @ 10.00
    # SO: P1 30 @ 20.00 → amount 600.00, tax 78.00, total 678.00; exposure 0 + 678 ≤ 10000.
    so = mk_order(db, admin, "sales", "C1", ("P1", 30, 20), day=3)
    assert so.total == D("678.00") and so.warnings == ()
    assert execution_of(db, admin, so) is Execution.NOT_STARTED

    # Delivery from the order: 30 at cost 10.00 → Dr 5401 300.00 / Cr 1405 300.00.
    d = from_order(db, admin, "sales", so, 5)
    assert d.warnings == ()
    assert voucher_lines(db, "stock", d.id) == [("5401", None, D("300.00"), 0), ("1405", None, 0, D("300.00"))]
    assert execution_of(db, admin, so) is Execution.DONE
    assert order_line(db, admin, so).done == 30

    # Invoice from the delivery: 30 @ 20.00 → Dr 1122 C1 678.00 / Cr 5001 600.00 / Cr 22210101 78.00.
    inv = invoice_stock(db, admin, "sales", [d.no], 6)
    assert inv.total == D("678.00")
    assert voucher_lines(db, "invoice", inv.id) == [
        ("1122", "C1", D("678.00"), 0),
        ("5001", None, 0, D("600.00")),
        ("22210101", None, 0, D("78.00")),
    ]
    assert open_of(db, admin, inv) == D("678.00")
    assert order_line(db, admin, so).invoiced == 30

    # Receipt of 678.00 settling it: Dr 1002 678.00 / Cr 1122 C1 678.00.
    r = mk_cash(db, admin, "sales", "C1", "678.00", 10, (inv.no, "678.00"))
    assert voucher_lines(db, "cash", r.id) == [("1002", None, D("678.00"), 0), ("1122", "C1", 0, D("678.00"))]
    assert open_of(db, admin, inv) == 0
    assert partner_net(db, "1122", "C1") == 0
    assert sf.account_movement(db, "5001") == D("-600.00")
    assert sf.account_movement(db, "22210101") == D("-78.00")
    assert sf.balance(db, "P1") == (70, D("700.00"))


def test_sales_invoice_vat_per_line_and_price_including_tax(db, admin):
    # 价税分离 per line (DOMAIN.md §6.2), standalone invoices (nothing billed in stock):
    # P1 7 @ 1.15 → 8.05, tax round(1.0465) = 1.05; P2 3 @ 2.35 → 7.05, tax round(0.9165) = 0.92.
    # Header = Σ lines: 15.10 + 1.97 = 17.07 (not round(15.10 × 0.13) = 1.96).
    inv = mk_invoice(db, admin, "sales", "C1", 5, ("P1", 7, "1.15"), ("P2", 3, "2.35"))
    view = inv_view(db, admin, inv)
    assert (view.amount, view.tax, view.total) == (D("15.10"), D("1.97"), D("17.07"))
    assert voucher_lines(db, "invoice", inv.id) == [("1122", "C1", D("17.07"), 0), ("5001", None, 0, D("15.10")),
                                                    ("22210101", None, 0, D("1.97"))]
    # Price including tax: 1 @ 100.00 → total 100.00, amount round(100 / 1.13) = 88.50, tax 11.50.
    inv2 = invoices.create_invoice(db, invoices.InvoiceIn("sales", "C1", jan(5), (
        invoices.InvoiceLineIn("P1", D(1), price_incl_tax=D(100)),)), actor=admin, audit=True)
    assert voucher_lines(db, "invoice", inv2.id) == [("1122", "C1", D("100.00"), 0), ("5001", None, 0, D("88.50")),
                                                     ("22210101", None, 0, D("11.50"))]


def test_order_close_reopen_cancel(db, admin):
    po = mk_order(db, admin, "purchase", "S1", ("P1", 100, 10))
    from_order(db, admin, "purchase", po, 5, qty=40)
    # Something was received: un-audit and cancel are refused.
    for action in ("unaudit", "cancel"):
        with pytest.raises(InvalidInput) as exc:
            orders.order_action(db, po.id, action, actor=admin)
        assert exc.value.params["reason"] == "trade.order_in_use"
    # Closed: 已关闭, nothing more received from it.
    assert orders.order_action(db, po.id, "close", actor=admin).status == "closed"
    assert execution_of(db, admin, po) is Execution.CLOSED
    with pytest.raises(InvalidInput) as exc:
        orders.stock_doc_from_order(db, "purchase", po.no, jan(6), "W1", actor=admin)
    assert exc.value.params["reason"] == "trade.order_not_open"
    before = written(db)
    with pytest.raises(InvalidInput) as exc:
        mk_doc(db, admin, receipt(jan(6), ln("P1", 10, 10), order=po.no))
    assert (exc.value.params["field"], exc.value.params["reason"]) == ("order", "trade.order_not_open")
    assert written(db) == before
    # Reopened: the 60 left come in.
    orders.order_action(db, po.id, "reopen", actor=admin)
    assert execution_of(db, admin, po) is Execution.PARTIAL
    rec = from_order(db, admin, "purchase", po, 6)
    assert sf.doc_lines(db, rec.id)[0].qty == 60
    assert execution_of(db, admin, po) is Execution.DONE
    # An untouched order may be un-audited, and a draft cancelled.
    po2 = mk_order(db, admin, "purchase", "S1", ("P2", 5, 100))
    assert orders.order_action(db, po2.id, "unaudit", actor=admin).status == "draft"
    assert orders.order_action(db, po2.id, "cancel", actor=admin).status == "cancelled"
    assert execution_of(db, admin, po2) is Execution.CLOSED


# --- 5. partial settlements ------------------------------------------------------------------------

def test_partial_settlements_and_over_settlement(db, admin):
    stock_p1(db, admin)
    d = mk_doc(db, admin, delivery(jan(5), ln("P1", 30, 20)))
    inv = invoice_stock(db, admin, "sales", [d.no], 6)  # 678.00
    # First receipt 300.00 → open 678 − 300 = 378.00. Dr 1002 300.00 / Cr 1122 C1 300.00.
    r1 = mk_cash(db, admin, "sales", "C1", "300.00", 10, (inv.no, "300.00"))
    assert voucher_lines(db, "cash", r1.id) == [("1002", None, D("300.00"), 0), ("1122", "C1", 0, D("300.00"))]
    assert open_of(db, admin, inv) == D("378.00")

    # 400.00 against the 378.00 left is refused, naming settle[1].amount; nothing is written.
    before, state = written(db), books_state(db, admin)
    with pytest.raises(BatchInvalid) as exc:
        mk_cash(db, admin, "sales", "C1", "400.00", 11, (inv.no, "400.00"))
    assert fields(exc.value) == [("settle[1].amount", "trade.settle_exceeds")]
    assert D(exc.value.errors[0].params["open"]) == D("378.00")
    assert written(db) == before and books_state(db, admin) == state

    # Second receipt 378.00 → open 0.
    r2 = mk_cash(db, admin, "sales", "C1", "378.00", 12, (inv.no, "378.00"))
    assert voucher_lines(db, "cash", r2.id) == [("1002", None, D("378.00"), 0), ("1122", "C1", 0, D("378.00"))]
    assert open_of(db, admin, inv) == 0
    # Anything more is refused, even 0.01.
    with pytest.raises(BatchInvalid) as exc:
        mk_cash(db, admin, "sales", "C1", "0.01", 13, (inv.no, "0.01"))
    assert fields(exc.value) == [("settle[1].amount", "trade.settle_exceeds")]
    assert partner_net(db, "1122", "C1") == 0


def test_receipt_larger_than_what_it_settles_leaves_an_advance(db, admin):
    stock_p1(db, admin)
    d = mk_doc(db, admin, delivery(jan(5), ln("P1", 30, 20)))
    inv = invoice_stock(db, admin, "sales", [d.no], 6)  # 678.00
    # 1000.00 received, 678.00 applied: Dr 1002 1000.00 / Cr 1122 C1 678.00 / Cr 2203 C1 322.00.
    r = mk_cash(db, admin, "sales", "C1", "1000.00", 10, (inv.no, "678.00"))
    assert r.advance == D("322.00")
    assert voucher_lines(db, "cash", r.id) == [("1002", None, D("1000.00"), 0), ("1122", "C1", 0, D("678.00")),
                                               ("2203", "C1", 0, D("322.00"))]
    assert open_of(db, admin, inv) == 0
    assert cash.get_cash(db, r.id, actor=admin).advance_open == D("322.00")
    # Applying more money than the receipt brings is refused, naming settle.
    with pytest.raises(BatchInvalid) as exc:
        mk_cash(db, admin, "sales", "C1", "100.00", 11, (inv.no, "100.00"))
    assert fields(exc.value) == [("settle[1].amount", "trade.settle_exceeds")]


# --- 6. prepayment applied later -----------------------------------------------------------------

def test_prepayment_applied_later_and_undone(db, admin):
    stock_p1(db, admin)
    # An advance: 1000.00, nothing settled → Dr 1002 1000.00 / Cr 2203 C1 1000.00.
    r = mk_cash(db, admin, "sales", "C1", "1000.00", 3)
    assert r.advance == D("1000.00")
    assert voucher_lines(db, "cash", r.id) == [("1002", None, D("1000.00"), 0), ("2203", "C1", 0, D("1000.00"))]
    d = mk_doc(db, admin, delivery(jan(5), ln("P1", 30, 20)))
    inv = invoice_stock(db, admin, "sales", [d.no], 6)  # 678.00
    state = books_state(db, admin)

    # settle(): 678.00 of the advance moves from 预收 to 应收 → Dr 2203 C1 678.00 / Cr 1122 C1 678.00.
    st = cash.settle(db, cash.SettleIn("sales", "C1", jan(8), (cash.SettleLineIn(inv.no, D("678.00")),), (r.no,)),
                     actor=admin)
    assert st.amount == D("678.00") and st.voucher_id is not None
    assert voucher_lines(db, "settlement", st.no) == [("2203", "C1", D("678.00"), 0), ("1122", "C1", 0, D("678.00"))]
    assert open_of(db, admin, inv) == 0
    assert cash.get_cash(db, r.id, actor=admin).advance_open == D("322.00")
    assert partner_net(db, "2203", "C1") == D("-322.00")
    assert partner_net(db, "1122", "C1") == 0

    # Undone: the voucher is void, the invoice and the whole advance are open again.
    cash.undo_settlement(db, st.no, actor=admin)
    assert voucher_status(db, st.voucher_id) == "void"
    assert open_of(db, admin, inv) == D("678.00")
    assert cash.get_cash(db, r.id, actor=admin).advance_open == D("1000.00")
    assert books_state(db, admin) == state
    with db.begin():
        assert db.scalar(select(func.count()).select_from(Settlement).where(Settlement.no == st.no)) == 0

    # Applied again, in two goes (300.00, then the rest): each moves its own amount.
    st1 = cash.settle(db, cash.SettleIn("sales", "C1", jan(9), (cash.SettleLineIn(inv.no, D("300.00")),), (r.no,)),
                      actor=admin)
    assert voucher_lines(db, "settlement", st1.no) == [("2203", "C1", D("300.00"), 0), ("1122", "C1", 0, D("300.00"))]
    assert open_of(db, admin, inv) == D("378.00")
    # More than is open on the invoice is refused, naming invoices[1].amount.
    with pytest.raises(BatchInvalid) as exc:
        cash.settle(db, cash.SettleIn("sales", "C1", jan(9), (cash.SettleLineIn(inv.no, D("400.00")),), (r.no,)),
                    actor=admin)
    assert fields(exc.value) == [("invoices[1].amount", "trade.settle_exceeds")]
    cash.settle(db, cash.SettleIn("sales", "C1", jan(9), (cash.SettleLineIn(inv.no, D("378.00")),), (r.no,)),
                actor=admin)
    assert open_of(db, admin, inv) == 0
    assert cash.get_cash(db, r.id, actor=admin).advance_open == D("322.00")


def test_purchase_prepayment_applied_later(db, admin):
    # 付款 in advance 500.00 → Cr 1002 500.00 / Dr 1123 S1 500.00.
    pay = mk_cash(db, admin, "purchase", "S1", "500.00", 3)
    assert voucher_lines(db, "cash", pay.id) == [("1123", "S1", D("500.00"), 0), ("1002", None, 0, D("500.00"))]
    rec = mk_doc(db, admin, receipt(jan(5), ln("P1", 40, 10)))
    inv = mk_invoice(db, admin, "purchase", "S1", 6, ("P1", 40, 10), sources=(rec.no,))  # 400 + 52 = 452.00
    # Applying 452.00 of it: Cr 1123 S1 452.00 / Dr 220201 S1 452.00.
    st = cash.settle(db, cash.SettleIn("purchase", "S1", jan(8), (cash.SettleLineIn(inv.no, D("452.00")),),
                                       (pay.no,)), actor=admin)
    assert sorted(voucher_lines(db, "settlement", st.no)) == sorted([("1123", "S1", 0, D("452.00")),
                                                                     ("220201", "S1", D("452.00"), 0)])
    assert open_of(db, admin, inv) == 0
    assert partner_net(db, "1123", "S1") == D("48.00")
    assert partner_net(db, "220201", "S1") == 0


def test_settle_two_invoices_with_a_red_invoice_and_an_advance(db, admin):
    stock_p1(db, admin)
    d1 = mk_doc(db, admin, delivery(jan(5), ln("P1", 30, 20)))
    inv1 = invoice_stock(db, admin, "sales", [d1.no], 6)  # 678.00
    d2 = mk_doc(db, admin, delivery(jan(5), ln("P1", 10, 20)))
    inv2 = invoice_stock(db, admin, "sales", [d2.no], 6)  # 226.00
    ret = mk_doc(db, admin, sales_return(jan(7), ln("P1", 10), source=d1.no))
    red = invoice_stock(db, admin, "sales", [ret.no], 7, red=True)  # −226.00 on 1122
    r = mk_cash(db, admin, "sales", "C1", "1000.00", 8)  # 2203 C1 credit 1000.00
    # 904.00 to settle: the red invoice's 226.00 first (same account, no voucher), then 678.00 of
    # the advance, moved from 预收 to 应收: Dr 2203 C1 678.00 / Cr 1122 C1 678.00.
    st = cash.settle(db, cash.SettleIn("sales", "C1", jan(9), (cash.SettleLineIn(inv1.no, D("678.00")),
                                                                cash.SettleLineIn(inv2.no, D("226.00"))),
                                       (red.no, r.no)), actor=admin)
    assert st.amount == D("904.00")
    assert voucher_lines(db, "settlement", st.no) == [("2203", "C1", D("678.00"), 0), ("1122", "C1", 0, D("678.00"))]
    assert [open_of(db, admin, x) for x in (inv1, inv2, red)] == [0, 0, 0]
    assert cash.get_cash(db, r.id, actor=admin).advance_open == D("322.00")
    assert partner_net(db, "1122", "C1") == 0 and partner_net(db, "2203", "C1") == D("-322.00")
    # Nothing left to use: the red invoice is spent.
    with pytest.raises(BatchInvalid) as exc:
        cash.settle(db, cash.SettleIn("sales", "C1", jan(9), (cash.SettleLineIn(inv1.no, D("1.00")),), (red.no,)),
                    actor=admin)
    assert ("credits[1]", "trade.credit_used") in fields(exc.value)


def test_undo_a_receipts_own_settlement_and_settle_again(db, admin):
    stock_p1(db, admin)
    d = mk_doc(db, admin, delivery(jan(5), ln("P1", 30, 20)))
    inv = invoice_stock(db, admin, "sales", [d.no], 6)  # 678.00
    r = mk_cash(db, admin, "sales", "C1", "678.00", 8, (inv.no, "678.00"))
    with db.begin():
        no = db.scalar(select(Settlement.no).join(CashDoc, CashDoc.settlement_id == Settlement.id)
                       .where(CashDoc.id == r.id))
    # Undone: the money stays, unapplied, as a credit on 1122; the invoice is open again.
    ref = cash.undo_settlement(db, no, actor=admin)
    assert ref.voucher_id is None
    assert open_of(db, admin, inv) == D("678.00")
    assert cash.get_cash(db, r.id, actor=admin).advance_open == D("678.00")
    assert partner_net(db, "1122", "C1") == 0  # the ledger did not move
    # Settled again from the receipt: same account, no voucher.
    st = cash.settle(db, cash.SettleIn("sales", "C1", jan(9), (cash.SettleLineIn(inv.no, D("678.00")),), (r.no,)),
                     actor=admin)
    assert st.voucher_id is None
    assert open_of(db, admin, inv) == 0
    # The receipt's item is used by that settlement: un-auditing the receipt is refused.
    with pytest.raises(SettleRefused):
        cash.unaudit_cash(db, r.id, actor=admin)


# --- 7. returns ---------------------------------------------------------------------------------

def test_purchase_return_of_invoiced_receipt_and_red_invoice(db, admin):
    po = mk_order(db, admin, "purchase", "S1", ("P1", 100, 10))
    rec = from_order(db, admin, "purchase", po, 5)  # Dr 1405 1000.00 / Cr 220202 S1 1000.00
    inv = invoice_stock(db, admin, "purchase", [rec.no], 8)  # 1000.00 + 130.00 = 1130.00
    assert voucher_lines(db, "invoice", inv.id) == [("220202", "S1", D("1000.00"), 0),
                                                    ("22210102", None, D("130.00"), 0),
                                                    ("220201", "S1", 0, D("1130.00"))]
    # 20 go back at their original cost 10.00 → Dr 220202 S1 200.00 / Cr 1405 200.00.
    ret = mk_doc(db, admin, purchase_return(jan(10), ln("P1", 20), source=rec.no))
    assert voucher_lines(db, "stock", ret.id) == [("220202", "S1", D("200.00"), 0), ("1405", None, 0, D("200.00"))]
    line = order_line(db, admin, po)
    assert (line.done, line.returned, line.invoiced) == (100, 20, 100)
    assert execution_of(db, admin, po) is Execution.PARTIAL  # 100 − 20 < 100: 20 are owed again

    # Red invoice of the return: 20 @ 10.00 → 200.00 + 26.00 = 226.00, posted in red:
    #   Dr 220202 S1 −200.00 / Dr 22210102 −26.00 / Cr 220201 S1 −226.00.
    red = invoice_stock(db, admin, "purchase", [ret.no], 11, red=True)
    assert red.red and red.total == D("226.00")
    view = inv_view(db, admin, red)
    assert [(x.product, x.qty, x.price, x.amount, x.tax) for x in view.lines] == [
        ("P1", 20, 10, D("200.00"), D("26.00"))]
    assert voucher_lines(db, "invoice", red.id) == [("220202", "S1", D("-200.00"), 0),
                                                    ("22210102", None, D("-26.00"), 0),
                                                    ("220201", "S1", 0, D("-226.00"))]
    assert order_line(db, admin, po).invoiced == 80  # net of the red invoice
    # 220202 S1: −1000 + 1000 + 200 − 200 = 0; 1405 800.00; input VAT 130 − 26 = 104.00.
    assert partner_net(db, "220202", "S1") == 0
    assert sf.account_movement(db, "1405") == D("800.00")
    assert sf.account_movement(db, "22210102") == D("104.00")
    assert partner_net(db, "220201", "S1") == D("-904.00")

    # The red invoice offsets the blue one (same account: no voucher); 904.00 is left to pay.
    st = cash.settle(db, cash.SettleIn("purchase", "S1", jan(12), (cash.SettleLineIn(inv.no, D("226.00")),),
                                       (red.no,)), actor=admin)
    assert st.voucher_id is None
    assert open_of(db, admin, inv) == D("904.00") and open_of(db, admin, red) == 0
    pay = mk_cash(db, admin, "purchase", "S1", "904.00", 15, (inv.no, "904.00"))
    assert voucher_lines(db, "cash", pay.id) == [("220201", "S1", D("904.00"), 0), ("1002", None, 0, D("904.00"))]
    assert open_of(db, admin, inv) == 0
    assert partner_net(db, "220201", "S1") == 0
    # A second red invoice for the same return bills nothing more.
    with pytest.raises(BatchInvalid) as exc:
        mk_invoice(db, admin, "purchase", "S1", 16, ("P1", 1, 10), sources=(ret.no,), red=True)
    assert fields(exc.value) == [("lines[1].qty", "trade.invoice_exceeds")]


def test_sales_return_and_red_sales_invoice(db, admin):
    stock_p1(db, admin)  # 100 @ 10.00
    so = mk_order(db, admin, "sales", "C1", ("P1", 30, 20), day=3)
    d = from_order(db, admin, "sales", so, 5)  # Dr 5401 300.00 / Cr 1405 300.00
    inv = invoice_stock(db, admin, "sales", [d.no], 6)  # 678.00
    # 10 come back at their original issue cost 10.00 → Dr 1405 100.00 / Cr 5401 100.00.
    ret = mk_doc(db, admin, sales_return(jan(8), ln("P1", 10), source=d.no))
    assert voucher_lines(db, "stock", ret.id) == [("1405", None, D("100.00"), 0), ("5401", None, 0, D("100.00"))]
    line = order_line(db, admin, so)
    assert (line.done, line.returned, line.invoiced) == (30, 10, 30)
    assert execution_of(db, admin, so) is Execution.PARTIAL

    # Red sales invoice: 10 @ 20.00 → 200.00 + 26.00 = 226.00, in red:
    #   Dr 1122 C1 −226.00 / Cr 5001 −200.00 / Cr 22210101 −26.00.
    red = invoice_stock(db, admin, "sales", [ret.no], 9, red=True)
    assert voucher_lines(db, "invoice", red.id) == [("1122", "C1", D("-226.00"), 0),
                                                    ("5001", None, 0, D("-200.00")),
                                                    ("22210101", None, 0, D("-26.00"))]
    assert order_line(db, admin, so).invoiced == 20
    assert sf.account_movement(db, "5001") == D("-400.00")
    assert sf.account_movement(db, "22210101") == D("-52.00")
    assert sf.account_movement(db, "5401") == D("200.00")
    assert partner_net(db, "1122", "C1") == D("452.00")

    # Offset, then the customer pays the 452.00 left.
    cash.settle(db, cash.SettleIn("sales", "C1", jan(10), (cash.SettleLineIn(inv.no, D("226.00")),), (red.no,)),
                actor=admin)
    assert open_of(db, admin, inv) == D("452.00") and open_of(db, admin, red) == 0
    r = mk_cash(db, admin, "sales", "C1", "452.00", 12, (inv.no, "452.00"))
    assert voucher_lines(db, "cash", r.id) == [("1002", None, D("452.00"), 0), ("1122", "C1", 0, D("452.00"))]
    assert partner_net(db, "1122", "C1") == 0


def test_purchase_return_before_invoicing(db, admin):
    po = mk_order(db, admin, "purchase", "S1", ("P1", 100, 10))
    rec = from_order(db, admin, "purchase", po, 5)  # 1000.00 in 暂估
    # 30 go back before the invoice → Dr 220202 S1 300.00 / Cr 1405 300.00.
    ret = mk_doc(db, admin, purchase_return(jan(6), ln("P1", 30), source=rec.no))
    assert voucher_lines(db, "stock", ret.id) == [("220202", "S1", D("300.00"), 0), ("1405", None, 0, D("300.00"))]
    # The invoice form bills the 70 kept.
    form = invoices.invoice_from_stock(db, "purchase", [rec.no], jan(8), actor=admin)
    assert [(x.product, x.qty, x.price) for x in form.lines] == [("P1", 70, 10)]
    # 71 is more than was kept.
    with pytest.raises(BatchInvalid) as exc:
        mk_invoice(db, admin, "purchase", "S1", 8, ("P1", 71, 10), sources=(rec.no,))
    assert fields(exc.value) == [("lines[1].qty", "trade.invoice_exceeds")]
    # 70 @ 10.00 → 700.00 + 91.00 = 791.00: Dr 220202 S1 700.00 / Dr 22210102 91.00 / Cr 220201 S1 791.00.
    inv = invoices.create_invoice(db, form, actor=admin, audit=True)
    assert voucher_lines(db, "invoice", inv.id) == [("220202", "S1", D("700.00"), 0),
                                                    ("22210102", None, D("91.00"), 0),
                                                    ("220201", "S1", 0, D("791.00"))]
    assert partner_net(db, "220202", "S1") == 0  # −1000 + 300 + 700
    line = order_line(db, admin, po)
    assert (line.done, line.returned, line.invoiced) == (100, 30, 70)
    assert execution_of(db, admin, po) is Execution.PARTIAL
    # The return was never billed, so there is nothing for a red invoice to give back.
    with pytest.raises(BatchInvalid) as exc:
        mk_invoice(db, admin, "purchase", "S1", 8, ("P1", 1, 10), sources=(ret.no,), red=True)
    assert fields(exc.value) == [("lines[1].qty", "trade.invoice_exceeds")]
    # The 30 owed again can be received from the order.
    rec2 = from_order(db, admin, "purchase", po, 9)
    assert sf.doc_lines(db, rec2.id)[0].qty == 30
    assert execution_of(db, admin, po) is Execution.DONE


def test_sales_return_before_invoicing(db, admin):
    stock_p1(db, admin)
    so = mk_order(db, admin, "sales", "C1", ("P1", 30, 20), day=3)
    d = from_order(db, admin, "sales", so, 5)
    ret = mk_doc(db, admin, sales_return(jan(6), ln("P1", 10), source=d.no))
    assert voucher_lines(db, "stock", ret.id) == [("1405", None, D("100.00"), 0), ("5401", None, 0, D("100.00"))]
    # The invoice bills the 20 kept: 400.00 + 52.00 = 452.00.
    inv = invoice_stock(db, admin, "sales", [d.no], 8)
    assert voucher_lines(db, "invoice", inv.id) == [("1122", "C1", D("452.00"), 0),
                                                    ("5001", None, 0, D("400.00")),
                                                    ("22210101", None, 0, D("52.00"))]
    line = order_line(db, admin, so)
    assert (line.done, line.returned, line.invoiced) == (30, 10, 20)


def test_return_beyond_what_is_left_to_invoice(db, admin):
    # Receipt 100 @ 10.00 (1000.00 暂估); invoice A bills 60 (600.00 cleared, 400.00 left).
    rec = mk_doc(db, admin, receipt(jan(5), ln("P1", 100, 10)))
    mk_invoice(db, admin, "purchase", "S1", 6, ("P1", 60, 10), sources=(rec.no,))
    # 50 returned: 40 of them never billed, 10 billed already.
    # Dr 220202 S1 500.00 / Cr 1405 500.00; 暂估 left: 400 − 500 = −100.00 (a debit for S1).
    ret = mk_doc(db, admin, purchase_return(jan(8), ln("P1", 50), source=rec.no))
    assert voucher_lines(db, "stock", ret.id) == [("220202", "S1", D("500.00"), 0), ("1405", None, 0, D("500.00"))]
    assert partner_net(db, "220202", "S1") == D("100.00")
    # Nothing is left to bill on the receipt.
    with pytest.raises(BatchInvalid) as exc:
        mk_invoice(db, admin, "purchase", "S1", 9, ("P1", 1, 10), sources=(rec.no,))
    assert fields(exc.value) == [("lines[1].qty", "trade.invoice_exceeds")]
    assert invoices.invoice_from_stock(db, "purchase", [rec.no], jan(9), actor=admin).lines == ()
    # A red invoice may bill only the 10 billed-then-returned: 11 is refused.
    with pytest.raises(BatchInvalid) as exc:
        mk_invoice(db, admin, "purchase", "S1", 9, ("P1", 11, 10), sources=(ret.no,), red=True)
    assert fields(exc.value) == [("lines[1].qty", "trade.invoice_exceeds")]
    # Red 10 @ 10.00 = 100.00 + 13.00: Dr 220202 S1 −100.00 / Dr 22210102 −13.00 / Cr 220201 S1 −113.00.
    form = invoices.invoice_from_stock(db, "purchase", [ret.no], jan(9), actor=admin, red=True)
    assert [(x.product, x.qty, x.price) for x in form.lines] == [("P1", 10, 10)]
    red = invoices.create_invoice(db, form, actor=admin, audit=True)
    assert voucher_lines(db, "invoice", red.id) == [("220202", "S1", D("-100.00"), 0),
                                                    ("22210102", None, D("-13.00"), 0),
                                                    ("220201", "S1", 0, D("-113.00"))]
    # 220202: −1000 + 600 + 500 − 100 = 0; 50 left worth 500.00; AP 678.00 − 113.00 = 565.00 = 50 × 11.30.
    assert partner_net(db, "220202", "S1") == 0
    assert sf.balance(db, "P1") == (50, D("500.00"))
    assert partner_net(db, "220201", "S1") == D("-565.00")
    # Un-audit round trip of the red invoice.
    state = books_state(db, admin)
    invoices.unaudit_invoice(db, red.id, actor=admin)
    assert partner_net(db, "220202", "S1") == D("100.00")
    invoices.audit_invoice(db, red.id, actor=admin)
    assert books_state(db, admin) == state


def test_standalone_purchase_invoice_goes_to_goods_in_transit(db, admin):
    # No receipt named (goods not received yet): 在途物资 1402.
    # Special P2 2 @ 50.00 = 100.00 + 13.00: Dr 1402 100.00 / Dr 22210102 13.00 / Cr 220201 S1 113.00.
    inv = mk_invoice(db, admin, "purchase", "S1", 6, ("P2", 2, 50))
    assert voucher_lines(db, "invoice", inv.id) == [("1402", None, D("100.00"), 0), ("22210102", None, D("13.00"), 0),
                                                    ("220201", "S1", 0, D("113.00"))]
    # Ordinary P3 10 @ 10.00: the tax is cost too. Dr 1402 113.00 / Cr 220201 S2 113.00.
    inv2 = mk_invoice(db, admin, "purchase", "S2", 6, ("P3", 10, 10), kind="ordinary")
    assert voucher_lines(db, "invoice", inv2.id) == [("1402", None, D("113.00"), 0), ("220201", "S2", 0, D("113.00"))]
    # With sources named, every line must bill one of them: P2 is not on the receipt.
    rec = mk_doc(db, admin, receipt(jan(5), ln("P1", 10, 10)))
    with pytest.raises(BatchInvalid) as exc:
        mk_invoice(db, admin, "purchase", "S1", 6, ("P1", 10, 10), ("P2", 2, 50), sources=(rec.no,))
    assert fields(exc.value) == [("lines[2].qty", "trade.invoice_exceeds")]


# --- 8. write-offs --------------------------------------------------------------------------------

def test_writeoff_small_difference_on_receipt(db, admin):
    stock_p1(db, admin)
    d = mk_doc(db, admin, delivery(jan(5), ln("P1", 50, 20)))
    inv = invoice_stock(db, admin, "sales", [d.no], 6)  # 1000.00 + 130.00 = 1130.00
    assert inv.total == D("1130.00")
    # 1129.98 received, 0.02 written off (limit 10.00, account 560303):
    #   Dr 1002 1129.98 / Dr 560303 0.02 / Cr 1122 C1 1130.00.
    r = mk_cash(db, admin, "sales", "C1", "1129.98", 10, (inv.no, "1129.98", "0.02"))
    assert r.advance == 0
    assert voucher_lines(db, "cash", r.id) == [("1002", None, D("1129.98"), 0), ("560303", None, D("0.02"), 0),
                                               ("1122", "C1", 0, D("1130.00"))]
    assert open_of(db, admin, inv) == 0
    assert cash.get_cash(db, r.id, actor=admin).settled == ((inv.no, D("1129.98"), D("0.02")),)


def test_writeoff_small_difference_on_payment(db, admin):
    rec = mk_doc(db, admin, receipt(jan(5), ln("P1", 100, 10)))
    inv = mk_invoice(db, admin, "purchase", "S1", 6, ("P1", 100, 10), sources=(rec.no,))  # 1130.00
    # 1129.98 paid, 0.02 written off in our favour:
    #   Dr 220201 S1 1130.00 / Cr 1002 1129.98 / Cr 560303 0.02 (debits first).
    pay = mk_cash(db, admin, "purchase", "S1", "1129.98", 10, (inv.no, "1129.98", "0.02"))
    assert voucher_lines(db, "cash", pay.id) == [("220201", "S1", D("1130.00"), 0), ("1002", None, 0, D("1129.98")),
                                                 ("560303", None, 0, D("0.02"))]
    assert open_of(db, admin, inv) == 0
    # Un-audited, the write-off goes with the money.
    cash.unaudit_cash(db, pay.id, actor=admin)
    assert open_of(db, admin, inv) == D("1130.00")
    assert sf.account_movement(db, "560303") == 0 and sf.account_movement(db, "1002") == 0


def test_writeoff_above_the_limit_refused(db, admin):
    stock_p1(db, admin)
    d = mk_doc(db, admin, delivery(jan(5), ln("P1", 50, 20)))
    inv = invoice_stock(db, admin, "sales", [d.no], 6)  # 1130.00
    before = written(db)
    # The default limit is 10.00: 10.01 is refused.
    with pytest.raises(BatchInvalid) as exc:
        mk_cash(db, admin, "sales", "C1", "1119.99", 10, (inv.no, "1119.99", "10.01"))
    assert fields(exc.value) == [("settle[1].writeoff", "trade.writeoff_limit")]
    assert D(exc.value.errors[0].params["limit"]) == D("10.00")
    # Lowered to 0.01, even 0.02 is refused.
    set_company(db, writeoff_limit=D("0.01"))
    with pytest.raises(BatchInvalid) as exc:
        mk_cash(db, admin, "sales", "C1", "1129.98", 10, (inv.no, "1129.98", "0.02"))
    assert fields(exc.value) == [("settle[1].writeoff", "trade.writeoff_limit")]
    assert written(db) == before
    assert open_of(db, admin, inv) == D("1130.00")
    # Within the limit it goes through: 0.01.
    mk_cash(db, admin, "sales", "C1", "1129.99", 10, (inv.no, "1129.99", "0.01"))
    assert open_of(db, admin, inv) == 0


# --- 9. bad input -------------------------------------------------------------------------------

def test_invoice_qty_beyond_received_refused(db, admin):
    rec = mk_doc(db, admin, receipt(jan(5), ln("P1", 100, 10), ln("P2", 5, 100)))
    before = written(db)
    with pytest.raises(BatchInvalid) as exc:
        mk_invoice(db, admin, "purchase", "S1", 8, ("P2", 5, 100), ("P1", 120, 10), sources=(rec.no,))
    assert fields(exc.value) == [("lines[2].qty", "trade.invoice_exceeds")]
    assert D(exc.value.errors[0].params["available"]) == 100
    assert written(db) == before
    # A product the receipt does not have: nothing to bill.
    with pytest.raises(BatchInvalid) as exc:
        mk_invoice(db, admin, "purchase", "S1", 8, ("P3", 1, 10), sources=(rec.no,))
    assert fields(exc.value) == [("lines[1].qty", "trade.invoice_exceeds")]
    # Two drafts may each ask for the 100; the second to be audited finds them billed.
    a = mk_invoice(db, admin, "purchase", "S1", 8, ("P1", 100, 10), sources=(rec.no,), audit=False)
    b = mk_invoice(db, admin, "purchase", "S1", 8, ("P1", 100, 10), sources=(rec.no,), audit=False)
    invoices.audit_invoice(db, a.id, actor=admin)
    with pytest.raises(InvalidInput) as exc2:
        invoices.audit_invoice(db, b.id, actor=admin)
    assert exc2.value.params["field"] == "lines[1].qty"
    assert inv_view(db, admin, b).status == "draft"


def test_settlement_above_open_amount_refused(db, admin):
    rec = mk_doc(db, admin, receipt(jan(5), ln("P1", 100, 10)))
    inv = mk_invoice(db, admin, "purchase", "S1", 6, ("P1", 100, 10), sources=(rec.no,))  # 1130.00
    before = written(db)
    with pytest.raises(BatchInvalid) as exc:
        mk_cash(db, admin, "purchase", "S1", "2000.00", 10, (inv.no, "1130.01"))
    assert fields(exc.value) == [("settle[1].amount", "trade.settle_exceeds")]
    assert D(exc.value.errors[0].params["open"]) == D("1130.00")
    # Amount + write-off together count.
    with pytest.raises(BatchInvalid) as exc:
        mk_cash(db, admin, "purchase", "S1", "1130.00", 10, (inv.no, "1130.00", "0.01"))
    assert fields(exc.value) == [("settle[1].amount", "trade.settle_exceeds")]
    # An unknown invoice, and one of another supplier.
    with pytest.raises(BatchInvalid) as exc:
        mk_cash(db, admin, "purchase", "S2", "10.00", 10, ("CGFP-NONE", "5.00"), (inv.no, "5.00"))
    assert fields(exc.value) == [("settle[1].invoice", "trade.unknown_invoice"),
                                 ("settle[2].invoice", "stock.source_other_partner")]
    assert written(db) == before


def test_payment_to_unknown_partner_refused(db, admin):
    before = written(db)
    with pytest.raises(BatchInvalid) as exc:
        mk_cash(db, admin, "purchase", "NOPE", "100.00", 10)
    assert fields(exc.value) == [("partner", "stock.unknown_partner")]
    assert exc.value.errors[0].params["value"] == "NOPE"
    # A customer is not a supplier; a non-cash account is refused too.
    with pytest.raises(BatchInvalid) as exc:
        mk_cash(db, admin, "purchase", "C1", "100.00", 10, account="1122")
    assert fields(exc.value) == [("partner", "stock.partner_kind"), ("account", "trade.not_cash_account")]
    assert written(db) == before


def test_tax_rate_not_allowed_refused(db, admin):
    rec = mk_doc(db, admin, receipt(jan(5), ln("P1", 100, 10)))
    before = written(db)
    with pytest.raises(BatchInvalid) as exc:
        orders.create_order(db, orders.OrderIn("purchase", "S1", jan(3), (
            orders.OrderLineIn("P1", D(10), D(10)),
            orders.OrderLineIn("P2", D(10), D(10), tax_rate=D("0.17")))), actor=admin)
    assert fields(exc.value) == [("lines[2].tax_rate", "trade.tax_rate_not_allowed")]
    assert exc.value.errors[0].params["value"] == "0.17"
    with pytest.raises(BatchInvalid) as exc:
        invoices.create_invoice(db, invoices.InvoiceIn("purchase", "S1", jan(8), (
            invoices.InvoiceLineIn("P1", D(100), D(10), tax_rate=D("0.17")),), sources=(rec.no,)),
            actor=admin, audit=True)
    assert fields(exc.value) == [("lines[1].tax_rate", "trade.tax_rate_not_allowed")]
    assert written(db) == before


def test_delivery_over_credit_limit_blocked(db, admin):
    stock_p1(db, admin)
    set_company(db, credit_control="block")
    set_credit_limit(db, "C1", "1000")
    # D1 30 @ 20.00 = 678.00 incl. tax: exposure 678.00 ≤ 1000.
    d1 = mk_doc(db, admin, delivery(jan(5), ln("P1", 30, 20)))
    inv = invoice_stock(db, admin, "sales", [d1.no], 6)  # open AR 678.00
    # D2 10 @ 20.00 = 226.00: 678 + 226 = 904.00 ≤ 1000.
    d2 = mk_doc(db, admin, delivery(jan(7), ln("P1", 10, 20)))
    assert d2.warnings == ()
    # D3 5 @ 20.00 = 113.00: open AR 678 + uninvoiced 226 + 113 = 1017.00 > 1000 → blocked.
    before, state = written(db), books_state(db, admin)
    with pytest.raises(CreditLimitExceeded) as exc:
        mk_doc(db, admin, delivery(jan(8), ln("P1", 5, 20)))
    assert exc.value.params["partner"] == "C1"
    assert D(exc.value.params["limit"]) == D("1000")
    assert D(exc.value.params["exposure"]) == D("1017.00")
    assert written(db) == before and books_state(db, admin) == state
    # A sales order over the limit is refused too, at audit (the whole create is undone).
    with pytest.raises(CreditLimitExceeded) as exc:
        mk_order(db, admin, "sales", "C1", ("P1", 5, 20), day=8)
    assert D(exc.value.params["exposure"]) == D("1017.00")
    assert written(db) == before
    # 500.00 received on the invoice: exposure 178 + 226 + 113 = 517.00 → D3 goes through.
    mk_cash(db, admin, "sales", "C1", "500.00", 8, (inv.no, "500.00"))
    d3 = mk_doc(db, admin, delivery(jan(9), ln("P1", 5, 20)))
    assert d3.warnings == ()
    # An unapplied advance lowers the exposure as well. D4 20 @ 20.00 = 452.00 → 517 + 452 = 969.00
    # ≤ 1000 passes; D5 5 → 969 + 113 = 1082.00 > 1000 is blocked, but after 100.00 received in
    # advance (an open 2203 credit) 1082 − 100 = 982.00 ≤ 1000 passes.
    mk_doc(db, admin, delivery(jan(10), ln("P1", 20, 20)))
    with pytest.raises(CreditLimitExceeded) as exc:
        mk_doc(db, admin, delivery(jan(11), ln("P1", 5, 20)))
    assert D(exc.value.params["exposure"]) == D("1082.00")
    mk_cash(db, admin, "sales", "C1", "100.00", 11)
    mk_doc(db, admin, delivery(jan(11), ln("P1", 5, 20)))


def test_delivery_over_credit_limit_warns(db, admin):
    stock_p1(db, admin)
    set_company(db, credit_control="warn")
    set_credit_limit(db, "C1", "500")
    # 30 @ 20.00 = 678.00 > 500: delivered, with a warning (and the warning in the audit log).
    d = mk_doc(db, admin, delivery(jan(5), ln("P1", 30, 20)))
    assert [w.code for w in d.warnings] == ["trade.credit_warning"]
    assert D(d.warnings[0].params["exposure"]) == D("678.00")
    so = mk_order(db, admin, "sales", "C1", ("P1", 1, 20), day=6)
    # 678.00 uninvoiced + 22.60 = 700.60.
    assert [(w.code, D(w.params["exposure"])) for w in so.warnings] == [("trade.credit_warning", D("700.60"))]
    # Off: nothing is checked.
    set_company(db, credit_control="off")
    d2 = mk_doc(db, admin, delivery(jan(7), ln("P1", 30, 20)))
    assert d2.warnings == ()


def test_over_receipt_beyond_tolerance_refused(db, admin):
    set_company(db, order_tolerance=D("0.05"))
    po = mk_order(db, admin, "purchase", "S1", ("P1", 100, 10))
    before = written(db)
    # 100 × 1.05 = 105 is the most: 106 is refused, naming the line.
    with pytest.raises(InvalidInput) as exc:
        from_order(db, admin, "purchase", po, 5, qty=106)
    assert exc.value.params["field"] == "lines[1].qty"
    assert exc.value.params["reason"] == "trade.over_order"
    assert written(db) == before
    # 60 then 46 (total 106) is refused on the second receipt too.
    from_order(db, admin, "purchase", po, 5, qty=60)
    with pytest.raises(InvalidInput) as exc:
        from_order(db, admin, "purchase", po, 6, qty=46)
    assert exc.value.params["field"] == "lines[1].qty"
    # 45 more (105 in all) is within the tolerance.
    from_order(db, admin, "purchase", po, 6, qty=45)
    line = order_line(db, admin, po)
    assert line.done == 105 and line.open == 0
    assert execution_of(db, admin, po) is Execution.DONE
    # Nothing open: no form to start from.
    with pytest.raises(InvalidInput) as exc:
        orders.stock_doc_from_order(db, "purchase", po.no, jan(7), "W1", actor=admin)
    assert exc.value.params["reason"] == "trade.order_nothing_open"


def test_unaudit_invoiced_receipt_refused(db, admin):
    po = mk_order(db, admin, "purchase", "S1", ("P1", 100, 10))
    rec = from_order(db, admin, "purchase", po, 5)
    inv = invoice_stock(db, admin, "purchase", [rec.no], 8)
    state = books_state(db, admin)
    with pytest.raises(DependentDocuments) as exc:
        stock.unaudit_stock_doc(db, rec.id, actor=admin)
    assert exc.value.params["document"] == rec.no
    assert inv.no in exc.value.params["dependents"]
    assert books_state(db, admin) == state
    assert order_line(db, admin, po).done == 100
    # Once the invoice is un-audited and deleted the receipt may go back to draft.
    invoices.unaudit_invoice(db, inv.id, actor=admin)
    invoices.delete_invoice(db, inv.id, actor=admin)
    stock.unaudit_stock_doc(db, rec.id, actor=admin)
    assert order_line(db, admin, po).done == 0
    assert execution_of(db, admin, po) is Execution.NOT_STARTED


def test_unaudit_settled_invoice_refused(db, admin):
    rec = mk_doc(db, admin, receipt(jan(5), ln("P1", 100, 10)))
    inv = mk_invoice(db, admin, "purchase", "S1", 6, ("P1", 100, 10), sources=(rec.no,))
    pay = mk_cash(db, admin, "purchase", "S1", "100.00", 10, (inv.no, "100.00"))
    state = books_state(db, admin)
    with pytest.raises(SettleRefused) as exc:
        invoices.unaudit_invoice(db, inv.id, actor=admin)
    assert exc.value.params["reason"] == "trade.items_settled"
    assert exc.value.params["document"] == inv.no
    assert books_state(db, admin) == state
    assert inv_view(db, admin, inv).status == "audited"
    # The payment un-audited first, the invoice follows.
    cash.unaudit_cash(db, pay.id, actor=admin)
    invoices.unaudit_invoice(db, inv.id, actor=admin)
    assert inv_view(db, admin, inv).status == "draft"


def test_three_way_match_mismatch(db, admin):
    po = mk_order(db, admin, "purchase", "S1", ("P1", 100, 10))
    rec = from_order(db, admin, "purchase", po, 5)
    before, state = written(db), books_state(db, admin)
    # 11.00 against 10.00 on the receipt and on the order: 10% off, beyond the 5% tolerance.
    with pytest.raises(MatchMismatch) as exc:
        mk_invoice(db, admin, "purchase", "S1", 8, ("P1", 100, 11), sources=(rec.no,))
    p = exc.value.params
    assert p["invoice"].startswith("CGFP-")
    assert (p["line_no"], p["against"], D(p["expected"]), D(p["actual"]), p["count"]) == (
        "1", "receipt", D(10), D(11), 2)
    assert written(db) == before and books_state(db, admin) == state
    # A draft, audited later without the override: refused, still a draft.
    draft = mk_invoice(db, admin, "purchase", "S1", 8, ("P1", 100, 11), sources=(rec.no,), audit=False)
    with pytest.raises(MatchMismatch):
        invoices.audit_invoice(db, draft.id, actor=admin)
    assert inv_view(db, admin, draft).status == "draft"
    # With the override: accepted, the problems kept on the invoice and in the audit log.
    # Difference 1100 − 1000 = 100.00, all in stock:
    #   Dr 220202 S1 1100.00 / Dr 22210102 143.00 / Cr 220201 S1 1243.00; adjustment Dr 1405 100.00.
    invoices.audit_invoice(db, draft.id, actor=admin, override_match=True)
    view = inv_view(db, admin, draft)
    assert view.status == "audited"
    assert view.match_override == "1:receipt:10:11; 1:order:10:11"
    assert voucher_lines(db, "invoice", draft.id) == [("220202", "S1", D("1100.00"), 0),
                                                      ("22210102", None, D("143.00"), 0),
                                                      ("220201", "S1", 0, D("1243.00"))]
    assert sf.balance(db, "P1") == (100, D("1100.00"))
    with db.begin():
        detail = db.scalar(select(AuditLog.detail).where(AuditLog.action == "invoice.audit",
                                                         AuditLog.entity_id == str(draft.id)))
    assert json.loads(detail)["match_override"] == "1:receipt:10:11; 1:order:10:11"
    # Un-audited, the acceptance goes with it.
    invoices.unaudit_invoice(db, draft.id, actor=admin)
    assert inv_view(db, admin, draft).match_override == ""


# --- 10. un-audit round trips -----------------------------------------------------------------

def test_unaudit_round_trip_purchase_invoice_with_price_difference(db, admin):
    po = mk_order(db, admin, "purchase", "S1", ("P1", 100, 10))
    rec = from_order(db, admin, "purchase", po, 5)
    mk_doc(db, admin, delivery(jan(6), ln("P1", 40, 20)))
    draft = mk_invoice(db, admin, "purchase", "S1", 8, ("P1", 100, "10.50"), sources=(rec.no,), audit=False)
    state, line = books_state(db, admin), order_line(db, admin, po)
    invoices.audit_invoice(db, draft.id, actor=admin)
    # Difference 50.00: 30.00 to stock (60 of 100 on hand), 20.00 to cost of sales.
    (adj,) = adjust_docs_of(db, draft.id)
    assert sf.balance(db, "P1") == (60, D("630.00"))
    assert order_line(db, admin, po).invoiced == 100
    invoices.unaudit_invoice(db, draft.id, actor=admin)
    assert books_state(db, admin) == state
    assert order_line(db, admin, po) == line
    assert adjust_docs_of(db, draft.id) == []
    assert sf.stock_doc(db, adj) is None  # the cost adjustment went with it
    with db.begin():
        assert db.scalar(select(StockDocLine.inv_qty).where(StockDocLine.doc_id == rec.id)) == 0
    # And audited again, the same voucher as the first time.
    invoices.audit_invoice(db, draft.id, actor=admin)
    assert voucher_lines(db, "invoice", draft.id) == [("220202", "S1", D("1030.00"), 0),
                                                      ("5401", None, D("20.00"), 0),
                                                      ("22210102", None, D("136.50"), 0),
                                                      ("220201", "S1", 0, D("1186.50"))]
    assert sf.balance(db, "P1") == (60, D("630.00"))


def test_unaudit_round_trip_fifo_invoice(db, admin):
    r1 = mk_doc(db, admin, receipt(jan(5), ln("PF", 50, 8)))
    mk_doc(db, admin, delivery(jan(6), ln("PF", 20, 15)))
    draft = mk_invoice(db, admin, "purchase", "S1", 8, ("PF", 50, "8.20"), sources=(r1.no,), audit=False)
    state = books_state(db, admin)
    invoices.audit_invoice(db, draft.id, actor=admin)
    # 410.00 − 400.00 = 10.00; 30 of 50 left in the layer → 6.00 to stock, 4.00 to cost.
    assert layer_of(db, r1.id) == (30, D("246.00"))
    invoices.unaudit_invoice(db, draft.id, actor=admin)
    assert books_state(db, admin) == state
    assert layer_of(db, r1.id) == (30, D("240.00"))


def test_unaudit_round_trip_receipt(db, admin):
    po = mk_order(db, admin, "purchase", "S1", ("P1", 100, 10))
    stock_p1(db, admin, 10, "12")
    state = books_state(db, admin)
    rec = from_order(db, admin, "purchase", po, 5)
    assert sf.balance(db, "P1") == (110, D("1120.00"))
    stock.unaudit_stock_doc(db, rec.id, actor=admin)
    assert books_state(db, admin) == state
    assert order_line(db, admin, po).done == 0
    assert execution_of(db, admin, po) is Execution.NOT_STARTED
    assert voucher_id_of(db, "stock", rec.id) is None


def test_unaudit_round_trip_payment_and_receipt(db, admin):
    rec = mk_doc(db, admin, receipt(jan(5), ln("P1", 100, 10)))
    inv = mk_invoice(db, admin, "purchase", "S1", 6, ("P1", 100, 10), sources=(rec.no,))
    state = books_state(db, admin)
    # A payment settling 1000.00 of the 1130.00 and leaving 200.00 as 预付.
    pay = mk_cash(db, admin, "purchase", "S1", "1200.00", 10, (inv.no, "1000.00"))
    assert voucher_lines(db, "cash", pay.id) == [("220201", "S1", D("1000.00"), 0), ("1123", "S1", D("200.00"), 0),
                                                 ("1002", None, 0, D("1200.00"))]
    assert open_of(db, admin, inv) == D("130.00")
    vid = voucher_id_of(db, "cash", pay.id)
    cash.unaudit_cash(db, pay.id, actor=admin)
    assert voucher_status(db, vid) == "void"
    assert books_state(db, admin) == state
    assert open_of(db, admin, inv) == D("1130.00")
    # Audited again: the same voucher, the settlement again.
    cash.audit_cash(db, pay.id, actor=admin)
    assert open_of(db, admin, inv) == D("130.00")

    # Sales side.
    d = mk_doc(db, admin, delivery(jan(11), ln("P1", 10, 20)))
    sinv = invoice_stock(db, admin, "sales", [d.no], 12)  # 226.00
    state = books_state(db, admin)
    r = mk_cash(db, admin, "sales", "C1", "226.00", 13, (sinv.no, "226.00"))
    assert open_of(db, admin, sinv) == 0
    cash.unaudit_cash(db, r.id, actor=admin)
    assert books_state(db, admin) == state
    assert open_of(db, admin, sinv) == D("226.00")


def test_unaudit_round_trip_sales_invoice_and_delivery(db, admin):
    stock_p1(db, admin)
    so = mk_order(db, admin, "sales", "C1", ("P1", 30, 20), day=3)
    state, line = books_state(db, admin), order_line(db, admin, so)
    d = from_order(db, admin, "sales", so, 5)
    inv = invoice_stock(db, admin, "sales", [d.no], 6)
    invoices.unaudit_invoice(db, inv.id, actor=admin)
    invoices.delete_invoice(db, inv.id, actor=admin)
    stock.unaudit_stock_doc(db, d.id, actor=admin)
    assert books_state(db, admin) == state
    assert order_line(db, admin, so) == line


def test_unaudit_advance_used_by_a_settlement_refused(db, admin):
    stock_p1(db, admin)
    r = mk_cash(db, admin, "sales", "C1", "1000.00", 3)
    d = mk_doc(db, admin, delivery(jan(5), ln("P1", 30, 20)))
    inv = invoice_stock(db, admin, "sales", [d.no], 6)
    st = cash.settle(db, cash.SettleIn("sales", "C1", jan(8), (cash.SettleLineIn(inv.no, D("678.00")),), (r.no,)),
                     actor=admin)
    state = books_state(db, admin)
    # The receipt's advance is used by the settlement: un-auditing the receipt is refused.
    with pytest.raises(SettleRefused):
        cash.unaudit_cash(db, r.id, actor=admin)
    assert books_state(db, admin) == state
    # The invoice is settled: un-auditing it is refused too.
    with pytest.raises(SettleRefused):
        invoices.unaudit_invoice(db, inv.id, actor=admin)
    cash.undo_settlement(db, st.no, actor=admin)
    cash.unaudit_cash(db, r.id, actor=admin)
    invoices.unaudit_invoice(db, inv.id, actor=admin)
    assert partner_net(db, "2203", "C1") == 0 and partner_net(db, "1122", "C1") == 0
