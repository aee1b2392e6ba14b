"""A first walk through both cycles; the detailed tests are in test_trade_*.py."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from sqlalchemy import select

from jxc.db.models import Account, Voucher, VoucherLine
from jxc.services import cash, invoices, orders, stock
from tests.stock_factories import delivery, ln, receipt, standard_master_data


def voucher_lines(db, voucher_id):
    with db.begin():
        return [(r[0], r[1], r[2]) for r in db.execute(
            select(Account.code, VoucherLine.debit, VoucherLine.credit).join(Account, Account.id == VoucherLine.account_id)
            .where(VoucherLine.voucher_id == voucher_id).order_by(VoucherLine.line_no))]


def test_purchase_and_sales_cycle(db, admin):
    standard_master_data(db, admin)
    po = orders.create_order(db, orders.OrderIn("purchase", "S1", date(2026, 1, 3), (
        orders.OrderLineIn("P1", D(100), D(10)),)), actor=admin, audit=True)
    form = orders.stock_doc_from_order(db, "purchase", po.no, date(2026, 1, 5), "W1", actor=admin)
    rec = stock.create_stock_doc(db, form, actor=admin, audit=True)
    d = stock.create_stock_doc(db, delivery("2026-01-06", ln("P1", 40, 20)), actor=admin, audit=True)
    inv = invoices.create_invoice(db, invoices.InvoiceIn("purchase", "S1", date(2026, 1, 10), (
        invoices.InvoiceLineIn("P1", D(100), D(11)),), sources=(rec.no,)), actor=admin, audit=True,
        override_match=True)
    view = invoices.get_invoice(db, inv.id, actor=admin)
    print(view)
    with db.begin():
        vid = db.execute(select(invoices.INVOICE.c.voucher_id).where(invoices.INVOICE.c.id == inv.id)).scalar()
    print(voucher_lines(db, vid))
    pay = cash.create_cash(db, cash.CashIn("purchase", "S1", "1002", D("1000"), date(2026, 1, 15), (
        cash.SettleLineIn(inv.no, D("1000")),)), actor=admin, audit=True)
    print(cash.get_cash(db, pay.id, actor=admin))
    si = invoices.create_invoice(db, invoices.invoice_from_stock(db, "sales", [d.no], date(2026, 1, 12), actor=admin),
                                 actor=admin, audit=True)
    print(invoices.get_invoice(db, si.id, actor=admin))
    r = cash.create_cash(db, cash.CashIn("sales", "C1", "1002", D("1000"), date(2026, 1, 20), ()), actor=admin, audit=True)
    st = cash.settle(db, cash.SettleIn("sales", "C1", date(2026, 1, 21), (cash.SettleLineIn(si.no, D("904")),), (r.no,)), actor=admin)
    print(st)
    print(orders.get_order(db, po.id, actor=admin))
