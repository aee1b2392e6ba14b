"""Trade reports on small hand-made books, on SQLite and PostgreSQL.

The aging scenarios make their open items with posted manual vouchers (any voucher line
on an AR/AP account is an item) and settle them with arap.settle_pairs, so the dates of
items and settlements can be chosen freely; one scenario does the same through invoices,
receipts and a settlement. Everything else goes through the services (stock documents,
orders, invoices, receipts), so the `db` fixture's `verify` holds on what each test leaves.
Each scenario says which figures it expects and why.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from jxc.db.models import Account, ArapItem, Partner, Period, Settlement
from jxc.domain.errors import InvalidInput, JxcError, PartnerUnknown, PermissionDenied
from jxc.domain.permissions import Actor
from jxc.domain.status import VoucherStatus
from jxc.services import arap, cash, invoices, opening, orders, stock, tradereports, vouchers
from tests import stock_factories as sf
from tests.factories import cr, dr, voucher
from tests.stock_factories import D, delivery, ln, other_in, purchase_return, receipt, sales_return

AS_OF = date(2026, 8, 31)


@pytest.fixture(autouse=True)
def md(db: Session, admin: Any) -> None:
    sf.standard_master_data(db, admin)  # P1 P2 P3 PF PM PB, W1 W2, S1 S2 C1
    sf.product(db, admin, "P4")
    for code in ("C2", "C3", "C4", "C5"):
        sf.partner(db, admin, code, "customer")


# --- builders ------------------------------------------------------------------------

def post(db: Session, admin: Any, day: date | str, *lines: Any) -> int:
    """A posted manual voucher; returns its id."""
    return vouchers.create_voucher(db, voucher(day, *lines), actor=admin, advance_to=VoucherStatus.POSTED).id


def sale(db: Session, admin: Any, day: date | str, customer: str, amount: str) -> int:
    """借 应收 / 贷 主营业务收入: an invoice-like debit item. Returns the item id."""
    return item_of(db, post(db, admin, day, dr("1122", amount, customer), cr("5001", amount)), "1122")


def receipt_money(db: Session, admin: Any, day: date | str, customer: str, amount: str,
                  account: str = "1122") -> int:
    """借 银行存款 / 贷 应收 (or 预收): a credit item. Returns the item id."""
    return item_of(db, post(db, admin, day, dr("1002", amount), cr(account, amount, customer)), account)


def item_of(db: Session, voucher_id: int, account: str) -> int:
    with db.begin():
        return int(db.execute(select(ArapItem.id).join(Account, Account.id == ArapItem.account_id)
                              .where(ArapItem.voucher_id == voucher_id, Account.code == account)).scalar_one())


def _period_id(db: Session, day: date) -> int:
    return int(db.execute(select(Period.id).where(Period.start_date <= day, Period.end_date >= day)).scalar_one())


def _partner_id(db: Session, code: str) -> int:
    return int(db.execute(select(Partner.id).where(Partner.code == code)).scalar_one())


_numbers = iter(range(1, 10_000))


def settle(db: Session, admin: Any, day: str, partner: str, *pairs: tuple[int, int, str]) -> int:
    """A settlement dated `day` of (debit item, credit item, amount) pairs, as the services make one."""
    when = date.fromisoformat(day)
    with db.begin():
        conn = db.connection()
        no = f"HXD-{when:%Y%m}-{next(_numbers):04d}"
        sid = int(conn.execute(insert(Settlement).values(
            no=no, side="sales", settle_date=when, period_id=_period_id(db, when),
            partner_id=_partner_id(db, partner), created_by=admin.id, created_at=datetime.now(UTC),
        ).returning(Settlement.id)).scalar_one())
        arap.settle_pairs(conn, sid, no, [(d, c, D(a)) for d, c, a in pairs])
    return sid


def days_before(n: int) -> date:
    return AS_OF - timedelta(days=n)


def buckets(r: Any) -> tuple[Decimal, ...]:
    return (r.total, r.d0_30, r.d31_60, r.d61_90, r.d91_180, r.d180_plus, r.advance)


# --- 1. aging --------------------------------------------------------------------------

def test_aging_bucket_boundaries(db, admin):
    # Powers of two, so each sum shows which items landed in the bucket.
    for days, amount in ((0, "1.00"), (30, "2.00"), (31, "4.00"), (60, "8.00"), (61, "16.00"), (90, "32.00"),
                         (91, "64.00"), (180, "128.00"), (181, "256.00")):
        sale(db, admin, days_before(days), "C1", amount)
    sale(db, admin, AS_OF + timedelta(days=1), "C1", "1000.00")  # after the date: not aged, not counted
    report = tradereports.ar_aging(db, actor=admin, as_of=AS_OF)
    assert report.side == "sales" and report.as_of == AS_OF
    assert [r.partner for r in report.rows] == ["C1"]
    r = report.rows[0]
    assert r.name == "单位C1"
    assert buckets(r) == (D("511.00"), D("3.00"), D("12.00"), D("48.00"), D("192.00"), D("256.00"), D("0.00"))
    assert buckets(report.totals) == buckets(r)
    # One day later, every item moves on by a day: 30→31, 60→61, 90→91, 180→181.
    later = tradereports.ar_aging(db, actor=admin, as_of=AS_OF + timedelta(days=1)).rows[0]
    assert buckets(later) == (D("1511.00"), D("1001.00"), D("6.00"), D("24.00"), D("96.00"), D("384.00"), 0)


def test_aging_credit_items_reduce_the_oldest_buckets_first(db, admin):
    sale(db, admin, days_before(200), "C2", "100.00")  # over 180
    sale(db, admin, days_before(100), "C2", "50.00")  # 91-180
    sale(db, admin, days_before(10), "C2", "30.00")  # 0-30
    receipt_money(db, admin, days_before(5), "C2", "120.00")  # unapplied: clears the 100, then 20 of the 50
    r = tradereports.ar_aging(db, actor=admin, as_of=AS_OF).rows[0]
    assert r.partner == "C2"
    assert buckets(r) == (D("60.00"), D("30.00"), 0, 0, D("30.00"), 0, 0)


def test_aging_more_credit_than_debt_shows_in_the_newest_bucket(db, admin):
    sale(db, admin, days_before(40), "C2", "100.00")
    receipt_money(db, admin, days_before(3), "C2", "150.00")
    r = tradereports.ar_aging(db, actor=admin, as_of=AS_OF).rows[0]
    assert buckets(r) == (D("-50.00"), D("-50.00"), 0, 0, 0, 0, 0)


def test_aging_as_of_a_date_ignores_later_settlements(db, admin):
    # Settled on the 20th (before the date): 50 of the 200 left, 82 days old.
    old = sale(db, admin, "2026-06-10", "C3", "200.00")
    paid = receipt_money(db, admin, "2026-08-20", "C3", "150.00")
    settle(db, admin, "2026-08-20", "C3", (old, paid, "150.00"))
    # Invoiced 2026-07-15, paid and settled 2026-09-05: still open at the end of August.
    inv = sale(db, admin, "2026-07-15", "C3", "500.00")
    cash = receipt_money(db, admin, "2026-09-05", "C3", "500.00")
    settle(db, admin, "2026-09-05", "C3", (inv, cash, "500.00"))
    # A receipt dated before the date, settled after it against the newer invoice: at the date it
    # is an unapplied credit that clears the oldest bucket; today it has cleared the newer invoice.
    first = sale(db, admin, "2026-05-01", "C4", "100.00")  # 122 days: 91-180
    newer = sale(db, admin, "2026-08-20", "C4", "40.00")  # 11 days
    money_in = receipt_money(db, admin, "2026-08-10", "C4", "80.00")
    settle(db, admin, "2026-09-02", "C4", (newer, money_in, "40.00"))
    # Settled in full before the date: nothing open, no advance, so no row.
    gone = sale(db, admin, "2026-04-01", "C5", "70.00")
    back = receipt_money(db, admin, "2026-04-05", "C5", "70.00")
    settle(db, admin, "2026-04-05", "C5", (gone, back, "70.00"))
    with db.begin():
        assert db.execute(select(ArapItem.open).where(ArapItem.id == inv)).scalar_one() == 0
        assert db.execute(select(ArapItem.open).where(ArapItem.id == first)).scalar_one() == D("100.00")

    report = tradereports.ar_aging(db, actor=admin, as_of=AS_OF)
    assert [r.partner for r in report.rows] == ["C3", "C4"]
    assert buckets(report.rows[0]) == (D("550.00"), 0, D("500.00"), D("50.00"), 0, 0, 0)
    assert buckets(report.rows[1]) == (D("60.00"), D("40.00"), 0, 0, D("20.00"), 0, 0)
    assert buckets(report.totals) == (D("610.00"), D("40.00"), D("500.00"), D("50.00"), D("20.00"), 0, 0)
    # At the end of September every settlement counts: C3's 50 is 112 days old; C4 owes
    # 100 less the 40 still unapplied.
    sept = tradereports.ar_aging(db, actor=admin, as_of=date(2026, 9, 30))
    assert [(r.partner, buckets(r)) for r in sept.rows] == [
        ("C3", (D("50.00"), 0, 0, 0, D("50.00"), 0, 0)),
        ("C4", (D("60.00"), 0, 0, 0, D("60.00"), 0, 0))]
    # Before anything was settled or received.
    june = tradereports.ar_aging(db, actor=admin, as_of=date(2026, 6, 30))
    assert [(r.partner, r.total) for r in june.rows] == [("C3", D("200.00")), ("C4", D("100.00"))]
    april = tradereports.ar_aging(db, actor=admin, as_of=date(2026, 4, 3))
    assert [(r.partner, r.total, r.d0_30) for r in april.rows] == [("C5", D("70.00"), D("70.00"))]


def test_aging_advance_and_partner_filter(db, admin):
    sale(db, admin, days_before(45), "C1", "100.00")
    receipt_money(db, admin, "2026-08-01", "C1", "300.00", account="2203")  # 预收 held
    receipt_money(db, admin, "2026-09-01", "C1", "999.00", account="2203")  # after the date
    receipt_money(db, admin, "2026-08-02", "C2", "25.00", account="2203")  # only an advance: still a row
    sale(db, admin, days_before(1), "C3", "7.00")
    rows = tradereports.ar_aging(db, actor=admin, as_of=AS_OF).rows
    assert [(r.partner, r.total, r.d31_60, r.advance) for r in rows] == [
        ("C1", D("100.00"), D("100.00"), D("300.00")), ("C2", 0, 0, D("25.00")), ("C3", D("7.00"), 0, 0)]
    only = tradereports.ar_aging(db, actor=admin, as_of=AS_OF, partner="C1")
    assert [r.partner for r in only.rows] == ["C1"] and only.totals.advance == D("300.00")
    assert tradereports.ar_aging(db, actor=admin, as_of=AS_OF, partner="S1").rows == []
    with pytest.raises(PartnerUnknown):
        tradereports.ar_aging(db, actor=admin, as_of=AS_OF, partner="NOPE")


def test_ap_aging_shows_what_we_owe_positive(db, admin):
    post(db, admin, "2026-08-20", dr("5602", "1000.00"), cr("220201", "1000.00", "S1"))  # 11 days
    post(db, admin, "2026-05-15", dr("5602", "600.00"), cr("220201", "600.00", "S1"))  # 108 days
    post(db, admin, "2026-08-25", dr("220201", "250.00", "S1"), cr("1002", "250.00"))  # paid, unapplied
    post(db, admin, "2026-07-01", dr("1123", "400.00", "S1"), cr("1002", "400.00"))  # 预付
    post(db, admin, "2026-07-02", dr("5602", "80.00"), cr("220201", "80.00", "S2"))  # 60 days
    sale(db, admin, days_before(5), "C1", "9.00")  # receivable: not on the payables report
    report = tradereports.ap_aging(db, actor=admin, as_of=AS_OF)
    assert report.side == "purchase"
    assert [(r.partner, buckets(r)) for r in report.rows] == [
        ("S1", (D("1350.00"), D("1000.00"), 0, 0, D("350.00"), 0, D("400.00"))),
        ("S2", (D("80.00"), 0, D("80.00"), 0, 0, 0, 0))]
    assert buckets(report.totals) == (D("1430.00"), D("1000.00"), D("80.00"), 0, D("350.00"), 0, D("400.00"))


# --- 1b. aging of documents made by the services ------------------------------------------------

def invoice(db: Session, admin: Any, day: str, partner: str, *lines: tuple[str, str, str], side: str = "sales",
            red: bool = False, sources: tuple[str, ...] = (), audit: bool = True) -> invoices.InvoiceRef:
    """An invoice of (product, qty, price excluding tax) lines, at the product's 13%."""
    return invoices.create_invoice(db, invoices.InvoiceIn(
        side, partner, date.fromisoformat(day),
        tuple(invoices.InvoiceLineIn(p, D(q), D(price)) for p, q, price in lines), sources=sources, red=red),
        actor=admin, audit=audit)


def money_in(db: Session, admin: Any, day: str, partner: str, amount: str,
             *settles: tuple[str, str]) -> cash.CashRef:
    """A receipt into the bank, settling (invoice no, amount) now; the rest stays as 预收."""
    return cash.create_cash(db, cash.CashIn("sales", partner, "1002", D(amount), date.fromisoformat(day),
                                            tuple(cash.SettleLineIn(no, D(a)) for no, a in settles)),
                            actor=admin, audit=True)


def test_aging_of_invoices_receipts_and_settlements(db, admin):
    a = invoice(db, admin, "2026-05-01", "C1", ("P3", "1", "100.00"))  # 113.00, 122 days
    b = invoice(db, admin, "2026-08-20", "C1", ("P3", "1", "40.00"))  # 45.20, 11 days
    invoice(db, admin, "2026-08-25", "C1", ("P3", "1", "10.00"), red=True)  # 红字 11.30: off the oldest
    adv = money_in(db, admin, "2026-08-10", "C1", "50.00")  # unapplied: 预收
    cash.settle(db, cash.SettleIn("sales", "C1", date(2026, 9, 2), (cash.SettleLineIn(b.no, D("45.20")),),
                                  (adv.no,)), actor=admin)
    money_in(db, admin, "2026-09-05", "C1", "113.00", (a.no, "113.00"))
    august = tradereports.ar_aging(db, actor=admin, as_of=AS_OF)
    assert [(r.partner, buckets(r)) for r in august.rows] == [
        ("C1", (D("146.90"), D("45.20"), 0, 0, D("101.70"), 0, D("50.00")))]
    # A month later both invoices are settled; the red invoice is an open credit and 4.80 of the
    # advance is left.
    september = tradereports.ar_aging(db, actor=admin, as_of=date(2026, 9, 30))
    assert [(r.partner, buckets(r)) for r in september.rows] == [
        ("C1", (D("-11.30"), D("-11.30"), 0, 0, 0, 0, D("4.80")))]


# --- 2. statement ------------------------------------------------------------------------

def test_statement(db, admin):
    opening.set_opening_balance(db, opening.OpeningIn("1122", D("1000.00"), D(0), "C1"), actor=admin)
    opening.set_opening_balance(db, opening.OpeningIn("3001", D(0), D("1000.00")), actor=admin)
    sale(db, admin, "2026-02-15", "C1", "300.00")  # before the range
    first = invoice(db, admin, "2026-03-10", "C1", ("P3", "1", "500.00"))  # 565.00
    paid = money_in(db, admin, "2026-03-20", "C1", "800.00", (first.no, "565.00"))  # 235.00 left as 预收
    second = invoice(db, admin, "2026-04-01", "C1", ("P3", "1", "200.00"))  # 226.00
    applied = cash.settle(db, cash.SettleIn("sales", "C1", date(2026, 4, 5), (cash.SettleLineIn(second.no,
                                                                                                   D("226.00")),),
                                            (paid.no,)), actor=admin)  # 预收 → 应收
    sale(db, admin, "2026-04-10", "C1", "100.00")
    sale(db, admin, "2026-05-01", "C1", "50.00")  # after the range
    sale(db, admin, "2026-03-11", "C2", "77.00")  # another partner

    st = tradereports.statement(db, actor=admin, partner="C1", date_from=date(2026, 3, 1),
                                date_to=date(2026, 4, 30))
    assert (st.partner, st.name, st.opening) == ("C1", "单位C1", D("1300.00"))
    assert [(r.date, r.account, r.document, r.source_type, r.debit, r.credit, r.balance) for r in st.rows] == [
        (date(2026, 3, 10), "1122", first.no, "invoice", D("565.00"), 0, D("1865.00")),
        (date(2026, 3, 20), "1122", paid.no, "cash", 0, D("565.00"), D("1300.00")),
        (date(2026, 3, 20), "2203", paid.no, "cash", 0, D("235.00"), D("1065.00")),
        (date(2026, 4, 1), "1122", second.no, "invoice", D("226.00"), 0, D("1291.00")),
        (date(2026, 4, 5), "2203", applied.no, "settlement", D("226.00"), 0, D("1517.00")),
        (date(2026, 4, 5), "1122", applied.no, "settlement", 0, D("226.00"), D("1291.00")),
        (date(2026, 4, 10), "1122", "2026-04 记-0003", "voucher", D("100.00"), 0, D("1391.00")),
    ]
    assert (first.no, paid.no, applied.no) == ("XSFP-202603-0001", "SKD-202603-0001", "HXD-202604-0001")
    assert (st.debit, st.credit, st.closing) == (D("1117.00"), D("1026.00"), D("1391.00"))
    # From the start: the opening balance is an item dated the day before the books begin.
    start = tradereports.statement(db, actor=admin, partner="C1", date_from=date(2025, 12, 1),
                                   date_to=date(2026, 2, 28))
    assert start.opening == 0
    assert [(r.date, r.document, r.source_type, r.debit, r.balance) for r in start.rows] == [
        (date(2025, 12, 31), "", "opening", D("1000.00"), D("1000.00")),
        (date(2026, 2, 15), "2026-02 记-0001", "voucher", D("300.00"), D("1300.00"))]
    with pytest.raises(PartnerUnknown):
        tradereports.statement(db, actor=admin, partner="X", date_from=date(2026, 3, 1), date_to=date(2026, 3, 2))
    with pytest.raises(InvalidInput):
        tradereports.statement(db, actor=admin, partner="C1", date_from=date(2026, 3, 2), date_to=date(2026, 3, 1))


# --- 3. open orders ----------------------------------------------------------------------

def order(db: Session, admin: Any, side: str, partner: str, *lines: tuple[str, str, str, date | None],
          delivery_date: date | None = None, audit: bool = True) -> orders.OrderRef:
    """An order of (product, qty, price, line delivery date) lines, dated 2026-06-01."""
    return orders.create_order(db, orders.OrderIn(
        side, partner, date(2026, 6, 1), tuple(orders.OrderLineIn(p, D(q), D(price), delivery_date=when)
                                               for p, q, price, when in lines),
        delivery_date=delivery_date), actor=admin, audit=audit)


def mk(db: Session, admin: Any, data: Any) -> stock.DocRef:
    return stock.create_stock_doc(db, data, actor=admin, audit=True)


def test_open_orders(db, admin):
    mk(db, admin, other_in("2026-06-01", ln("P3", 100, "10.00"), ln("P4", 50, "20.00")))
    one = order(db, admin, "sales", "C1", ("P3", "10", "15.00", None), ("P4", "5", "30.00", None),
                ("P3", "4", "15.00", date(2026, 7, 15)), delivery_date=date(2026, 6, 30))
    out = mk(db, admin, delivery("2026-06-05", ln("P3", 10, "15.00"), ln("P4", 5, "30.00"), order=one.no))
    mk(db, admin, sales_return("2026-06-06", ln("P3", 2), source=out.no))  # 2 back: owed again
    invoice(db, admin, "2026-06-07", "C1", ("P3", "8", "15.00"), sources=(out.no,))
    two = order(db, admin, "sales", "C2", ("P3", "3", "15.00", None))
    mk(db, admin, delivery("2026-06-05", ln("P3", 3, "15.00"), customer="C2", order=two.no))  # done
    order(db, admin, "sales", "C1", ("P3", "3", "15.00", None), audit=False)  # draft
    closed = order(db, admin, "sales", "C1", ("P3", "3", "15.00", None))
    orders.order_action(db, closed.id, "close", actor=admin)
    bought = order(db, admin, "purchase", "S1", ("P1", "20", "10.50", None))
    mk(db, admin, receipt("2026-06-02", ln("P1", 5, "10.50"), order=bought.no))

    sales = tradereports.open_orders(db, actor=admin, side="sales")
    assert [(r.order, r.line_no, r.partner, r.product, r.ordered, r.done, r.returned, r.open_qty, r.invoiced,
             r.open_amount, r.delivery_date) for r in sales.rows] == [
        (one.no, 1, "C1", "P3", D(10), D(10), D(2), D(2), D(8), D("30.00"), date(2026, 6, 30)),
        (one.no, 3, "C1", "P3", D(4), 0, 0, D(4), 0, D("60.00"), date(2026, 7, 15))]
    assert sales.open_amount == D("90.00")
    assert tradereports.open_orders(db, actor=admin, side="sales", partner="C2").rows == []
    purchase = tradereports.open_orders(db, actor=admin, side="purchase")
    assert [(r.order, r.partner_name, r.product_name, r.open_qty, r.open_amount) for r in purchase.rows] == [
        (bought.no, "单位S1", "商品P1", D(15), D("157.50"))]
    with pytest.raises(InvalidInput):
        tradereports.open_orders(db, actor=admin, side="both")


# --- 4-6. documents: a month of purchases and sales ------------------------------------------

@pytest.fixture
def purchases(db: Session, admin: Any) -> None:
    """June: receipts R1 (S1: P1 100 @ 10, P2 50 @ 20) and R2 (S2: P1 10 @ 11, reversed in red on
    the 7th); PR1 returns P1 10 of R1 without a price on the 4th (reversed in red on the 9th).
    Invoiced on the 5th: 90 P1 and 48 P2 of R1. PR2 returns P2 5 of R1 at its own price 19 on
    the 6th, which leaves P2 billed 3 more than was kept: a red invoice of 3 on the 25th. In
    July R3 brings 7 P1. (PR2, red-invoiced, can no longer be reversed in red.)"""
    r1 = mk(db, admin, receipt("2026-06-01", ln("P1", 100, "10.00"), ln("P2", 50, "20.00")))
    r2 = mk(db, admin, receipt("2026-06-03", ln("P1", 10, "11.00"), supplier="S2"))
    pr1 = mk(db, admin, purchase_return("2026-06-04", ln("P1", 10), source=r1.no))
    invoice(db, admin, "2026-06-05", "S1", ("P1", "90", "10.00"), ("P2", "48", "20.00"), side="purchase",
            sources=(r1.no,))
    pr2 = mk(db, admin, purchase_return("2026-06-06", ln("P2", 5, "19.00"), source=r1.no))
    stock.reverse_stock_doc(db, r2.id, date(2026, 6, 7), actor=admin, audit=True)
    stock.reverse_stock_doc(db, pr1.id, date(2026, 6, 9), actor=admin, audit=True)
    stock.create_stock_doc(db, receipt("2026-06-15", ln("P1", 3, "10.00")), actor=admin)  # draft
    invoice(db, admin, "2026-06-25", "S1", ("P2", "3", "19.00"), side="purchase", red=True, sources=(pr2.no,))
    invoice(db, admin, "2026-06-26", "S1", ("P1", "1", "10.00"), side="purchase", audit=False)  # draft
    mk(db, admin, receipt("2026-07-01", ln("P1", 7, "10.00")))
    invoice(db, admin, "2026-07-02", "S2", ("P1", "1", "10.00"), side="purchase")  # bills no receipt
    with pytest.raises(JxcError):  # the red invoice bills it
        stock.reverse_stock_doc(db, pr2.id, date(2026, 7, 3), actor=admin, audit=True)


def test_purchase_summary_by_supplier_and_product(db, admin, purchases):
    june = {"date_from": date(2026, 6, 1), "date_to": date(2026, 6, 30)}
    by_supplier = tradereports.purchase_summary(db, actor=admin, by="supplier", **june)
    # S1: 150 received, PR1's 10 back and un-returned in red, PR2's 5 back at 19.00.
    # Invoiced 900 + 960, less the red 3 × 19.
    assert [(r.key, r.name, r.qty, r.amount, r.tax, r.total, r.invoiced) for r in by_supplier.rows] == [
        ("S1", "单位S1", D(145), D("1905.00"), D("247.65"), D("2152.65"), D("1803.00")),
        ("S2", "单位S2", 0, 0, 0, 0, 0)]
    t = by_supplier.totals
    assert (t.qty, t.amount, t.tax, t.total, t.invoiced) == (D(145), D("1905.00"), D("247.65"), D("2152.65"),
                                                             D("1803.00"))
    by_product = tradereports.purchase_summary(db, actor=admin, by="product", **june)
    assert [(r.key, r.qty, r.amount, r.tax, r.invoiced) for r in by_product.rows] == [
        ("P1", D(100), D("1000.00"), D("130.00"), D("900.00")),
        ("P2", D(45), D("905.00"), D("117.65"), D("903.00"))]
    # July: R3.
    july = tradereports.purchase_summary(db, actor=admin, by="supplier", date_from=date(2026, 7, 1),
                                         date_to=date(2026, 7, 31))
    assert [(r.key, r.qty, r.amount, r.tax, r.invoiced) for r in july.rows] == [
        ("S1", D(7), D("70.00"), D("9.10"), 0), ("S2", 0, 0, 0, D("10.00"))]
    with pytest.raises(InvalidInput):
        tradereports.purchase_summary(db, actor=admin, by="warehouse", **june)


def test_uninvoiced_receipts(db, admin, purchases):
    now = tradereports.uninvoiced(db, actor=admin, side="purchase")
    # R1/P1: 100 − 0 returned (PR1 reversed) − 90; R1/P2: 50 − 5 returned − 45 (48 less the red
    # 3): nothing left. R2 was reversed in red: nothing left. R3 is not invoiced at all.
    assert [(r.document, r.line_no, r.product, r.qty, r.returned, r.invoiced, r.uninvoiced, r.value)
            for r in now.rows] == [
        ("CGRK-202606-0001", 1, "P1", D(100), 0, D(90), D(10), D("100.00")),
        ("CGRK-202607-0001", 1, "P1", D(7), 0, 0, D(7), D("70.00"))]
    t = now.totals
    assert (t.qty, t.returned, t.invoiced, t.uninvoiced, t.value) == (D(107), 0, D(90), D(17), D("170.00"))
    # Rebuilt from the invoice links as of a date after everything, the figures agree with inv_qty.
    assert tradereports.uninvoiced(db, actor=admin, side="purchase", as_of=date(2026, 7, 31)).rows == now.rows
    # At the end of June PR2 still stood: P2 is 50 − 5 − 45, nothing left to invoice.
    june = tradereports.uninvoiced(db, actor=admin, side="purchase", as_of=date(2026, 6, 30))
    assert june.rows == now.rows[:1]
    # On the 5th: invoiced but PR2 not yet made; R2 not yet reversed.
    fifth = tradereports.uninvoiced(db, actor=admin, side="purchase", as_of=date(2026, 6, 5))
    assert [(r.document, r.product, r.returned, r.invoiced, r.uninvoiced, r.value) for r in fifth.rows] == [
        ("CGRK-202606-0001", "P2", 0, D(48), D(2), D("40.00")),
        ("CGRK-202606-0002", "P1", 0, 0, D(10), D("110.00"))]
    # On the 4th: PR1 out and not yet reversed, nothing invoiced.
    fourth = tradereports.uninvoiced(db, actor=admin, side="purchase", as_of=date(2026, 6, 4))
    assert [(r.document, r.product, r.returned, r.uninvoiced, r.value) for r in fourth.rows] == [
        ("CGRK-202606-0001", "P1", D(10), D(90), D("900.00")),
        ("CGRK-202606-0001", "P2", 0, D(50), D("1000.00")),
        ("CGRK-202606-0002", "P1", 0, D(10), D("110.00"))]
    assert fourth.totals.value == D("2010.00")
    assert tradereports.uninvoiced(db, actor=admin, side="purchase", partner="S2").rows == []


@pytest.fixture
def sales(db: Session, admin: Any) -> None:
    """June: P3 (cost 10) and P4 (cost 20) taken in; D1 to C1 (P3 30 @ 15, P4 10 @ 30), D2 to C2
    (P3 20 @ 16, reversed in red on the 12th); SR1 returns 5 P3 of D1 without a price (reversed
    in red on the 15th), SR2 2 P4 of D1 at 28; 20 P3 of D1 invoiced on the 25th."""
    mk(db, admin, other_in("2026-06-01", ln("P3", 100, "10.00"), ln("P4", 50, "20.00")))
    d1 = mk(db, admin, delivery("2026-06-05", ln("P3", 30, "15.00"), ln("P4", 10, "30.00"), salesperson="张三"))
    d2 = mk(db, admin, delivery("2026-06-08", ln("P3", 20, "16.00"), customer="C2", salesperson="李四"))
    sr1 = mk(db, admin, sales_return("2026-06-10", ln("P3", 5), source=d1.no, salesperson="张三"))
    mk(db, admin, sales_return("2026-06-11", ln("P4", 2, "28.00"), source=d1.no, salesperson="张三"))
    stock.reverse_stock_doc(db, d2.id, date(2026, 6, 12), actor=admin, audit=True)
    stock.reverse_stock_doc(db, sr1.id, date(2026, 6, 15), actor=admin, audit=True)
    invoice(db, admin, "2026-06-25", "C1", ("P3", "20", "15.00"), sources=(d1.no,))
    mk(db, admin, delivery("2026-07-01", ln("P3", 10, "15.00"), salesperson="张三"))  # July
    stock.create_stock_doc(db, delivery("2026-06-20", ln("P3", 1, "15.00")), actor=admin)  # draft


def test_gross_profit(db, admin, sales):
    june = {"date_from": date(2026, 6, 1), "date_to": date(2026, 6, 30)}
    by_product = tradereports.gross_profit(db, actor=admin, by="product", **june)
    # P3: 30 + 20 − 5 − 20 + 5; revenue 450 + 320 − 75 − 320 + 75; cost at 10 each.
    # P4: 10 − 2; revenue 300 − 56; cost 200 − 40.
    assert [(r.key, r.name, r.qty, r.revenue, r.cost, r.profit, r.margin) for r in by_product.rows] == [
        ("P3", "商品P3", D(30), D("450.00"), D("300.00"), D("150.00"), D("0.3333")),
        ("P4", "商品P4", D(8), D("244.00"), D("160.00"), D("84.00"), D("0.3443"))]
    t = by_product.totals
    assert (t.qty, t.revenue, t.cost, t.profit, t.margin) == (D(38), D("694.00"), D("460.00"), D("234.00"),
                                                              D("0.3372"))
    by_customer = tradereports.gross_profit(db, actor=admin, by="customer", **june)
    assert [(r.key, r.qty, r.revenue, r.cost, r.profit, r.margin) for r in by_customer.rows] == [
        ("C1", D(38), D("694.00"), D("460.00"), D("234.00"), D("0.3372")),
        ("C2", 0, 0, 0, 0, None)]
    by_person = tradereports.gross_profit(db, actor=admin, by="salesperson", **june)
    assert [(r.key, r.revenue, r.cost) for r in by_person.rows] == [("张三", D("694.00"), D("460.00")),
                                                                    ("李四", 0, 0)]
    first_week = tradereports.gross_profit(db, actor=admin, by="product", date_from=date(2026, 6, 1),
                                           date_to=date(2026, 6, 7))
    assert [(r.key, r.revenue, r.cost) for r in first_week.rows] == [("P3", D("450.00"), D("300.00")),
                                                                     ("P4", D("300.00"), D("200.00"))]
    with pytest.raises(InvalidInput):
        tradereports.gross_profit(db, actor=admin, by="region", **june)
    with pytest.raises(InvalidInput):
        tradereports.gross_profit(db, actor=admin, by="product", date_from=date(2026, 7, 1),
                                  date_to=date(2026, 6, 1))


def test_uninvoiced_deliveries(db, admin, sales):
    report = tradereports.uninvoiced(db, actor=admin, side="sales")
    assert [(r.document, r.partner, r.product, r.qty, r.returned, r.invoiced, r.uninvoiced, r.price, r.value)
            for r in report.rows] == [
        ("XSCK-202606-0001", "C1", "P3", D(30), 0, D(20), D(10), D("15.00"), D("150.00")),
        ("XSCK-202606-0001", "C1", "P4", D(10), D(2), 0, D(8), D("30.00"), D("240.00")),
        ("XSCK-202607-0001", "C1", "P3", D(10), 0, 0, D(10), D("15.00"), D("150.00"))]
    assert report.totals.value == D("540.00")
    june = tradereports.uninvoiced(db, actor=admin, side="sales", as_of=date(2026, 6, 30))
    assert june.rows == report.rows[:2]
    before = tradereports.uninvoiced(db, actor=admin, side="sales", as_of=date(2026, 6, 24))
    assert [(r.product, r.returned, r.uninvoiced) for r in before.rows] == [("P3", 0, D(30)), ("P4", D(2), D(8))]
    assert tradereports.uninvoiced(db, actor=admin, side="sales", partner="C2").rows == []


def test_reports_need_trade_read(db, admin):
    nobody = Actor(admin.id, "nobody", frozenset({"stock.read"}))
    calls = [
        lambda: tradereports.ar_aging(db, actor=nobody, as_of=AS_OF),
        lambda: tradereports.ap_aging(db, actor=nobody, as_of=AS_OF),
        lambda: tradereports.statement(db, actor=nobody, partner="C1", date_from=AS_OF, date_to=AS_OF),
        lambda: tradereports.open_orders(db, actor=nobody, side="sales"),
        lambda: tradereports.uninvoiced(db, actor=nobody, side="sales"),
        lambda: tradereports.gross_profit(db, actor=nobody, date_from=AS_OF, date_to=AS_OF, by="product"),
        lambda: tradereports.purchase_summary(db, actor=nobody, date_from=AS_OF, date_to=AS_OF, by="product"),
    ]
    for call in calls:
        with pytest.raises(PermissionDenied):
            call()


def test_empty_book(db, admin):
    assert tradereports.ar_aging(db, actor=admin, as_of=AS_OF).rows == []
    assert tradereports.ap_aging(db, actor=admin, as_of=AS_OF).totals.total == 0
    empty = tradereports.gross_profit(db, actor=admin, date_from=AS_OF, date_to=AS_OF, by="customer")
    assert empty.rows == [] and empty.totals.margin is None
