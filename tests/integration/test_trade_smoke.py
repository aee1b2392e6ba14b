"""A first walk through both cycles, one step each; the detailed flows are in test_trade_cycles.py."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jxc.db.models import Account, VoucherLine
from jxc.domain.trade import Execution
from jxc.services import cash, invoices, orders, stock
from tests.stock_factories import delivery, ln, standard_master_data

D = Decimal


def voucher_lines(db: Session, voucher_id: int) -> list[tuple[str, D, D]]:
    with db.begin():
        return [(r[0], r[1], r[2]) for r in db.execute(
            select(Account.code, VoucherLine.debit, VoucherLine.credit)
            .join(Account, Account.id == VoucherLine.account_id)
            .where(VoucherLine.voucher_id == voucher_id).order_by(VoucherLine.line_no))]


def invoice_voucher(db: Session, invoice_id: int) -> int:
    with db.begin():
        return int(db.execute(select(invoices.INVOICE.c.voucher_id).where(invoices.INVOICE.c.id == invoice_id))
                   .scalar_one())


def test_purchase_and_sales_cycle(db: Session, admin: Any) -> None:
    standard_master_data(db, admin)
    po = orders.create_order(db, orders.OrderIn("purchase", "S1", date(2026, 1, 3), (
        orders.OrderLineIn("P1", D(100), D(10)),)), actor=admin, audit=True)
    assert orders.get_order(db, po.id, actor=admin).execution is Execution.NOT_STARTED
    form = orders.stock_doc_from_order(db, "purchase", po.no, date(2026, 1, 5), "W1", actor=admin)
    rec = stock.create_stock_doc(db, form, actor=admin, audit=True)
    d = stock.create_stock_doc(db, delivery("2026-01-06", ln("P1", 40, 20)), actor=admin, audit=True)
    # Billed at 11 instead of 10: 100 of difference, 60 units still held on the 10th.
    inv = invoices.create_invoice(db, invoices.InvoiceIn("purchase", "S1", date(2026, 1, 10), (
        invoices.InvoiceLineIn("P1", D(100), D(11)),), sources=(rec.no,)), actor=admin, audit=True,
        override_match=True)
    assert voucher_lines(db, invoice_voucher(db, inv.id)) == [
        ("220202", D("1060.00"), D("0.00")),  # 1,000 暂估 + 60 carried into stock
        ("5401", D("40.00"), D("0.00")),  # the 40 sold
        ("22210102", D("143.00"), D("0.00")),
        ("220201", D("0.00"), D("1243.00"))]
    view = invoices.get_invoice(db, inv.id, actor=admin)
    assert view.match_override == "1:receipt:10:11; 1:order:10:11"
    assert orders.get_order(db, po.id, actor=admin).execution is Execution.DONE
    pay = cash.create_cash(db, cash.CashIn("purchase", "S1", "1002", D("1000"), date(2026, 1, 15), (
        cash.SettleLineIn(inv.no, D("1000")),)), actor=admin, audit=True)
    assert cash.get_cash(db, pay.id, actor=admin).advance_open == 0
    assert invoices.get_invoice(db, inv.id, actor=admin).open == D("243.00")

    si = invoices.create_invoice(db, invoices.invoice_from_stock(db, "sales", [d.no], date(2026, 1, 12), actor=admin),
                                 actor=admin, audit=True)
    assert invoices.get_invoice(db, si.id, actor=admin).total == D("904.00")
    r = cash.create_cash(db, cash.CashIn("sales", "C1", "1002", D("1000"), date(2026, 1, 20), ()), actor=admin,
                         audit=True)
    assert r.advance == D("1000")
    st = cash.settle(db, cash.SettleIn("sales", "C1", date(2026, 1, 21), (cash.SettleLineIn(si.no, D("904")),),
                                       (r.no,)), actor=admin)
    assert st.voucher_id is not None
    assert voucher_lines(db, st.voucher_id) == [("2203", D("904.00"), D("0.00")), ("1122", D("0.00"), D("904.00"))]
    assert invoices.get_invoice(db, si.id, actor=admin).open == 0
    cash.undo_settlement(db, st.no, actor=admin)
    assert invoices.get_invoice(db, si.id, actor=admin).open == D("904.00")
