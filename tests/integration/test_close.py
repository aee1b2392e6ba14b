"""Month-end close (结账), reverse close (反结账) and lock through the services, on SQLite and
PostgreSQL (DESIGN.md §4–5, user guide §9).

A month of business through every document type is closed and checked figure by figure
against hand-worked values (the arithmetic is in the comments); close → reopen → close gives
the same vouchers, balances and seal; every refusal changes nothing; a closed period cannot be
written, neither through the services nor (on PostgreSQL) by direct SQL, and on SQLite the
seal catches what direct SQL changed; the year end carries 本年利润 to 未分配利润 and opens the
next fiscal year; a locked period is final. The `db` fixture re-proves the whole book
(`jxc verify`, seals and snapshots included) after each test.

The book starts 2026-01 (fiscal year 2026-01..2026-12). VAT is 13% throughout.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, aliased

from jxc.db.models import (
    Account,
    AccountBalance,
    AccountSnapshot,
    AuditLog,
    CashDoc,
    CostRun,
    FiscalYear,
    Invoice,
    Partner,
    PartnerBalance,
    Period,
    PeriodClose,
    Product,
    Settlement,
    StockDoc,
    StockDocLine,
    StockEntry,
    StockSnapshot,
    Voucher,
    VoucherLine,
    Warehouse,
)
from jxc.domain.closing import CheckStatus
from jxc.domain.errors import (
    CloseBlocked,
    CloseNotNext,
    CloseWarnings,
    InvalidInput,
    NotFound,
    PeriodAlreadyClosed,
    PeriodClosed,
    PeriodLocked,
    PeriodMissing,
    PeriodNotClosed,
    PermissionDenied,
    ReopenNotLatest,
)
from jxc.domain.status import VoucherStatus
from jxc.i18n import describe
from jxc.services import cash, checks, closing, invoices, opening, orders, stock, users, vouchers
from tests import stock_factories as sf
from tests.factories import cr, dr, voucher
from tests.stock_factories import (
    delivery,
    ln,
    other_in,
    other_out,
    purchase_return,
    receipt,
    sales_return,
    stocktake,
    transfer,
)

D = Decimal
VLine = tuple[str, str | None, Decimal, Decimal]


@pytest.fixture(autouse=True)
def md(db: Session, admin: Any) -> None:
    sf.standard_master_data(db, admin)  # P1 P2 P3 moving average, PF FIFO, PM monthly average; W1 W2; S1 S2 C1


# --- reading the book ---------------------------------------------------------------------

def period_id(db: Session, label: str) -> int:
    with db.begin():
        return int(db.scalar(select(Period.id).where(Period.year == int(label[:4]), Period.month == int(label[5:]))))


def period_status(db: Session, label: str) -> str:
    with db.begin():
        return str(db.scalar(select(Period.status).where(Period.year == int(label[:4]),
                                                         Period.month == int(label[5:]))))


def lines_of(db: Session, voucher_id: int) -> list[VLine]:
    """(account code, partner code or None, debit, credit) of a voucher's lines, in line order."""
    p = aliased(Partner)
    with db.begin():
        rows = db.execute(select(Account.code, p.code, VoucherLine.debit, VoucherLine.credit)
                          .join(Account, Account.id == VoucherLine.account_id)
                          .outerjoin(p, p.id == VoucherLine.partner_id)
                          .where(VoucherLine.voucher_id == voucher_id).order_by(VoucherLine.line_no)).all()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def voucher_id(db: Session, period: str, label: str) -> int:
    pid = period_id(db, period)
    with db.begin():
        return int(db.scalar(select(Voucher.id).where(Voucher.period_id == pid,
                                                      Voucher.number == int(label.split("-")[1]))))


@dataclass(frozen=True)
class Generated:
    label: str
    source_type: str | None
    voucher_date: date
    total: Decimal
    lines: tuple[VLine, ...]


def generated(db: Session, period: str) -> list[Generated]:
    """The vouchers of a period that no one entered by hand: the costing run's and the close's."""
    pid = period_id(db, period)
    with db.begin():
        found = db.execute(select(Voucher.id, Voucher.word, Voucher.number, Voucher.source_type, Voucher.voucher_date,
                                  Voucher.total)
                           .where(Voucher.period_id == pid,
                                  Voucher.source_type.in_(("cost_run", "period_close", "year_end")))
                           .order_by(Voucher.number)).all()
    return [Generated(f"{r.word}-{r.number:04d}", r.source_type, r.voucher_date, r.total, tuple(lines_of(db, r.id)))
            for r in found]


def closing_balance(db: Session, code: str, partner: str | None = None) -> Decimal:
    """Posted debit − credit on one account (and partner) over every period."""
    with db.begin():
        if partner is None:
            q = (select(func.coalesce(func.sum(AccountBalance.debit), 0),
                        func.coalesce(func.sum(AccountBalance.credit), 0))
                 .join(Account, Account.id == AccountBalance.account_id).where(Account.code == code))
        else:
            q = (select(func.coalesce(func.sum(PartnerBalance.debit), 0),
                        func.coalesce(func.sum(PartnerBalance.credit), 0))
                 .join(Account, Account.id == PartnerBalance.account_id)
                 .join(Partner, Partner.id == PartnerBalance.partner_id)
                 .where(Account.code == code, Partner.code == partner))
        d, c = db.execute(q).one()
    return D(d) - D(c)


def account_snapshot(db: Session, period: str) -> dict[tuple[str, str | None], tuple[Decimal, Decimal, Decimal]]:
    """(account code, partner code or None) → (debit, credit, balance) of a closed period's snapshot."""
    pid = period_id(db, period)
    p = aliased(Partner)
    with db.begin():
        rows = db.execute(select(Account.code, p.code, AccountSnapshot.debit, AccountSnapshot.credit,
                                 AccountSnapshot.balance)
                          .join(Account, Account.id == AccountSnapshot.account_id)
                          .outerjoin(p, p.id == AccountSnapshot.partner_id)
                          .where(AccountSnapshot.period_id == pid)).all()
    return {(r[0], r[1]): (r[2], r[3], r[4]) for r in rows}


def stock_snapshot(db: Session, period: str) -> dict[tuple[str, str, str], tuple[Decimal, Decimal]]:
    pid = period_id(db, period)
    with db.begin():
        rows = db.execute(select(Product.code, Warehouse.code, StockSnapshot.batch, StockSnapshot.qty,
                                 StockSnapshot.value)
                          .join(Product, Product.id == StockSnapshot.product_id)
                          .join(Warehouse, Warehouse.id == StockSnapshot.warehouse_id)
                          .where(StockSnapshot.period_id == pid)).all()
    return {(r[0], r[1], r[2]): (r[3], r[4]) for r in rows}


def pl_movements(db: Session, period: str) -> dict[str, tuple[Decimal, Decimal]]:
    """Each profit-and-loss account's posted (debit, credit) in a period."""
    pid = period_id(db, period)
    with db.begin():
        rows = db.execute(select(Account.code, AccountBalance.debit, AccountBalance.credit)
                          .join(Account, Account.id == AccountBalance.account_id)
                          .where(AccountBalance.period_id == pid, Account.category == "profit_loss")).all()
    return {r[0]: (r[1], r[2]) for r in rows}


def audit_entries(db: Session, action: str) -> list[dict[str, Any]]:
    with db.begin():
        rows = db.execute(select(AuditLog.entity_id, AuditLog.username, AuditLog.detail)
                          .where(AuditLog.action == action).order_by(AuditLog.seq)).all()
    return [{"period": r[0], "user": r[1], **json.loads(r[2])} for r in rows]


_COUNTED = (Voucher, VoucherLine, AccountBalance, PartnerBalance, AccountSnapshot, StockSnapshot, PeriodClose, CostRun,
            StockDoc, StockEntry, Invoice, CashDoc, Settlement, FiscalYear, Period, AuditLog)


def book_state(db: Session) -> dict[str, Any]:
    """Everything a close, reopen or lock could change: row counts, period statuses, balance
    rows, stock entry values and the costing runs. Equal before and after a refused step."""
    with db.begin():
        return {
            "counts": {m.__tablename__: db.scalar(select(func.count()).select_from(m)) for m in _COUNTED},
            "periods": [tuple(r) for r in db.execute(select(Period.year, Period.month, Period.status)
                                                     .order_by(Period.start_date))],
            "balances": sorted(tuple(r) for r in db.execute(select(AccountBalance.period_id, AccountBalance.account_id,
                                                                   AccountBalance.debit, AccountBalance.credit))),
            "partners": sorted(tuple(r) for r in db.execute(select(PartnerBalance.period_id, PartnerBalance.account_id,
                                                                   PartnerBalance.partner_id, PartnerBalance.debit,
                                                                   PartnerBalance.credit))),
            "entries": sorted(tuple(r) for r in db.execute(select(StockEntry.id, StockEntry.value, StockEntry.bal_value,
                                                                  StockEntry.voucher_id))),
            "runs": sorted(tuple(r) for r in db.execute(select(CostRun.period_id, CostRun.voucher_id))),
            "closes": sorted(tuple(r) for r in db.execute(select(PeriodClose.period_id, PeriodClose.seal))),
        }


def whole_state(db: Session) -> dict[str, Any]:
    """book_state plus every voucher line and snapshot row, ids left out: what close → reopen →
    close must reproduce exactly."""
    state = book_state(db)
    with db.begin():
        state["lines"] = sorted(tuple(r) for r in db.execute(
            select(Voucher.period_id, Voucher.word, Voucher.number, Voucher.source_type, Voucher.status,
                   VoucherLine.line_no, VoucherLine.account_id, VoucherLine.partner_id, VoucherLine.debit,
                   VoucherLine.credit).join(VoucherLine, VoucherLine.voucher_id == Voucher.id)))
        state["asnap"] = sorted(tuple(r) for r in db.execute(
            select(AccountSnapshot.period_id, AccountSnapshot.account_id, AccountSnapshot.partner_id,
                   AccountSnapshot.debit, AccountSnapshot.credit, AccountSnapshot.balance)))
        state["ssnap"] = sorted(tuple(r) for r in db.execute(
            select(StockSnapshot.period_id, StockSnapshot.product_id, StockSnapshot.warehouse_id, StockSnapshot.batch,
                   StockSnapshot.qty, StockSnapshot.value)))
    del state["counts"]["audit_log"]
    return state


def failed_checks(db: Session) -> set[str]:
    return {c.name for c in checks.verify_books(db).checks if not c.ok}


# --- making things ---------------------------------------------------------------------------

def mk_doc(db: Session, admin: Any, data: stock.StockDocIn, *, audit: bool = True) -> stock.DocRef:
    return stock.create_stock_doc(db, data, actor=admin, audit=audit)


def from_order(db: Session, admin: Any, side: str, order: orders.OrderRef, day: date,
               qty: dict[str, int] | None = None) -> stock.DocRef:
    """A receipt/delivery of what is open on an order; qty: only these products, this much."""
    form = orders.stock_doc_from_order(db, side, order.no, day, "W1", actor=admin)
    if qty is not None:
        form = replace(form, lines=tuple(replace(x, qty=D(qty[x.product])) for x in form.lines if x.product in qty))
    return stock.create_stock_doc(db, form, actor=admin, audit=True)


def invoice_stock(db: Session, admin: Any, side: str, sources: list[str], day: date) -> invoices.InvoiceRef:
    form = invoices.invoice_from_stock(db, side, sources, day, actor=admin)
    return invoices.create_invoice(db, form, actor=admin, audit=True)


def pay(db: Session, admin: Any, side: str, partner: str, inv: invoices.InvoiceRef, day: date) -> cash.CashRef:
    return cash.create_cash(db, cash.CashIn(side, partner, "1002", inv.total, day,
                                            (cash.SettleLineIn(inv.no, inv.total),)), actor=admin, audit=True)


def post(db: Session, admin: Any, day: str, *lines: Any) -> vouchers.VoucherRef:
    return vouchers.create_voucher(db, voucher(day, *lines), actor=admin, advance_to=VoucherStatus.POSTED)


def close_through(db: Session, admin: Any, last: str, **kw: Any) -> list[closing.CloseResult]:
    """Close every period from the earliest open one up to and including `last`."""
    done = []
    while True:
        first = next(p for p in closing.period_closes(db, actor=admin) if p.status == "open")
        done.append(closing.close_period(db, first.label, actor=admin, **kw))
        if first.label == last:
            return done


def user(db: Session, admin: Any, name: str, role: str) -> Any:
    users.add_user(db, name, f"{name}-secret-1", roles=[role], actor=admin)
    actor = users.load_actor(db, name)
    db.rollback()
    return actor


def feb(day: int) -> date:
    return date(2026, 2, day)


@dataclass(frozen=True)
class Month:
    """February's three deliveries of the monthly-average product PM."""

    d1: stock.DocRef
    d2: stock.DocRef
    d3: stock.DocRef


def january_pm(db: Session, admin: Any) -> None:
    """January: 10 PM received at 8.00 = 80.00 and invoiced (80.00 + 10.40 = 90.40, left unpaid):
    the monthly-average product's opening stock for February."""
    r0 = mk_doc(db, admin, receipt(date(2026, 1, 5), ln("PM", 10, 8)))
    invoice_stock(db, admin, "purchase", [r0.no], date(2026, 1, 6))


def february(db: Session, admin: Any) -> Month:
    """A month of business through every document type (figures worked out in
    test_month_of_business_closed_figure_by_figure)."""
    po = orders.create_order(db, orders.OrderIn("purchase", "S1", feb(1), (
        orders.OrderLineIn("P1", D(100), D(10)), orders.OrderLineIn("PM", D(20), D("9.10")))), actor=admin, audit=True)
    r1 = from_order(db, admin, "purchase", po, feb(2))
    mk_doc(db, admin, purchase_return(feb(3), ln("P1", 10), source=r1.no))
    pinv = invoice_stock(db, admin, "purchase", [r1.no], feb(4))
    pay(db, admin, "purchase", "S1", pinv, feb(5))
    so = orders.create_order(db, orders.OrderIn("sales", "C1", feb(6), (
        orders.OrderLineIn("P1", D(60), D(20)), orders.OrderLineIn("PM", D(6), D(15)))), actor=admin, audit=True)
    d1 = from_order(db, admin, "sales", so, feb(10), {"P1": 60, "PM": 2})
    d2 = from_order(db, admin, "sales", so, feb(11), {"PM": 2})
    d3 = from_order(db, admin, "sales", so, feb(12), {"PM": 2})
    mk_doc(db, admin, sales_return(feb(13), ln("P1", 5), source=d1.no))
    sinv = invoice_stock(db, admin, "sales", [d1.no, d2.no, d3.no], feb(14))
    pay(db, admin, "sales", "C1", sinv, feb(15))
    mk_doc(db, admin, transfer(feb(16), ln("P1", 10)))
    mk_doc(db, admin, other_in(feb(17), ln("P2", 5, 4)))
    mk_doc(db, admin, other_out(feb(18), ln("P1", 3)))
    mk_doc(db, admin, stocktake(feb(20), ln("P1", 20), ln("P2", 6)))
    post(db, admin, "2026-02-25", dr("5711", "20.00"), cr("5301", "4.00"), cr("190101", "16.00"))
    post(db, admin, "2026-02-26", dr("5602", "50.00"), cr("1002", "50.00"))
    return Month(d1, d2, d3)


# --- 1. a month of business, closed and checked figure by figure ---------------------------------

def test_month_of_business_closed_figure_by_figure(db, admin):
    january_pm(db, admin)
    # January: no profit-and-loss movement, so no 结转损益 voucher and no profit.
    (jan,) = close_through(db, admin, "2026-01")
    assert (jan.vouchers, jan.profit, jan.cost_of_sales, jan.year_end, jan.next_year) == ((), 0, 0, False, None)
    assert stock_snapshot(db, "2026-01") == {("PM", "W1", ""): (10, D("80.00"))}

    m = february(db, admin)
    # The vouchers the documents posted, worked out by hand:
    #  PO P1 100 @ 10.00, PM 20 @ 9.10; receipt R1 of all of it: Dr 1405 1182.00 / Cr 220202 S1 1182.00.
    #  Purchase return of 10 P1 at their cost 10.00: Dr 220202 S1 100.00 / Cr 1405 100.00.
    #  Special invoice of what R1 kept: 90 × 10.00 + 20 × 9.10 = 900.00 + 182.00 = 1082.00, tax 117.00 + 23.66
    #    = 140.66, total 1222.66: Dr 220202 S1 1082.00 / Dr 22210102 140.66 / Cr 220201 S1 1222.66; paid in full.
    #  SO P1 60 @ 20.00, PM 6 @ 15.00. D1: P1 60 (at 10.00 → Dr 5401 600.00 / Cr 1405 600.00) + PM 2;
    #    D2: PM 2; D3: PM 2 (monthly average: no cost until the run).
    #  Sales return of 5 P1 of D1 at 10.00: Dr 1405 50.00 / Cr 5401 50.00.
    #  Sales invoice of D1–D3: 55 × 20.00 + 6 × 15.00 = 1100.00 + 90.00 = 1190.00, tax 143.00 + 3 × 3.90 = 154.70,
    #    total 1344.70: Dr 1122 C1 1344.70 / Cr 5001 1190.00 / Cr 22210101 154.70; received in full.
    #  Transfer of 10 P1 W1 → W2 (1405 to 1405: no voucher).
    #  Other-in P2 5 @ 4.00: Dr 1405 20.00 / Cr 5301 20.00. Other-out P1 3 at 10.00: Dr 5602 30.00 / Cr 1405 30.00.
    #  Stocktake W1: P1 22 on hand (100 − 10 − 60 + 5 − 10 − 3), 20 counted → loss 2 × 10.00 = 20.00
    #    (Dr 190101 / Cr 1405); P2 5 on hand, 6 counted → gain 1 × 4.00 = 4.00 (Dr 1405 / Cr 190101).
    #  Manual voucher clearing 190101 (20.00 − 4.00 = 16.00): Dr 5711 20.00 / Cr 5301 4.00 / Cr 190101 16.00.
    #  Manual expense: Dr 5602 50.00 / Cr 1002 50.00.
    # Monthly average PM: opening 10 worth 80.00 (January), received 20 worth 182.00:
    #   unit = (80.00 + 182.00) / (10 + 20) = 262.00 / 30 = 8.7333…; each issue of 2: round(2 × 8.7333…) =
    #   round(17.4667) = 17.47; closing 24 must be round(24 × 8.7333…) = 209.60, and 262.00 − 3 × 17.47 = 209.59,
    #   so the last issue (D3) takes the residue: 17.47 − 0.01 = 17.46. Cost of sales 17.47 + 17.47 + 17.46 = 52.40,
    #   on the run's voucher: Dr 5401 52.40 / Cr 1405 52.40.
    steps: list[str] = []
    res = closing.close_period(db, "2026-02", actor=admin, progress=steps.append)
    assert steps == ["costing", "checklist", "carry", "snapshot", "seal"]
    assert res.checklist.ok and res.checklist.warnings == () and res.checklist.failures == ()
    assert res.cost_of_sales == D("52.40")
    assert [sf.moves(db, d.id)[-1] for d in (m.d1, m.d2, m.d3)] == [(-2, D("-17.47")), (-2, D("-17.47")),
                                                                     (-2, D("-17.46"))]
    assert sf.balance(db, "PM") == (24, D("209.60"))

    # 结转损益, from the period's movement on each profit-and-loss account:
    #   5001 主营业务收入 credit 1190.00                        → Dr 5001 1190.00
    #   5301 营业外收入 credit 20.00 (other-in) + 4.00 (gain)  → Dr 5301   24.00
    #   5401 主营业务成本 debit 600.00 + 52.40, credit 50.00   → Cr 5401  602.40
    #   5602 管理费用 debit 30.00 + 50.00                      → Cr 5602   80.00
    #   5711 营业外支出 debit 20.00                            → Cr 5711   20.00
    #   3103 credited with the revenue 1190.00 + 24.00 = 1214.00 and debited with the expenses
    #   602.40 + 80.00 + 20.00 = 702.40. Profit 1214.00 − 702.40 = 511.60. Total 1214.00 + 702.40 = 1916.40.
    # Voucher 记-0014 is the costing run's (the close made the run, so it names it); the 结转损益
    # voucher is the next one, 记-0015.
    assert res.vouchers == ("记-0014", "记-0015")
    assert res.profit == D("511.60")
    made = generated(db, "2026-02")
    assert [(g.label, g.source_type, g.voucher_date, g.total) for g in made] == [
        ("记-0014", "cost_run", feb(28), D("52.40")),
        ("记-0015", "period_close", feb(28), D("1916.40")),
    ]
    assert made[0].lines == (("5401", None, D("52.40"), 0), ("1405", None, 0, D("52.40")))
    assert made[1].lines == (
        ("5001", None, D("1190.00"), 0),
        ("5301", None, D("24.00"), 0),
        ("5401", None, 0, D("602.40")),
        ("5602", None, 0, D("80.00")),
        ("5711", None, 0, D("20.00")),
        ("3103", None, 0, D("1214.00")),
        ("3103", None, D("702.40"), 0),
    )
    # 3103's balance is the profit (a credit balance); every P&L account is back at zero.
    assert closing_balance(db, "3103") == -res.profit == D("-511.60")
    pl = pl_movements(db, "2026-02")
    assert set(pl) == {"5001", "5301", "5401", "5602", "5711"}
    assert all(d == c for d, c in pl.values()), pl
    assert pl["5401"] == (D("652.40"), D("652.40"))  # 600.00 + 52.40 on the debit side; 50.00 + 602.40 credited

    # Snapshots at the end of February.
    snap = account_snapshot(db, "2026-02")
    # 1405: 80.00 from January; debit 1182.00 + 50.00 + 20.00 + 4.00 = 1256.00; credit 100.00 + 600.00 + 30.00
    # + 20.00 + 52.40 = 802.40; balance 80.00 + 1256.00 − 802.40 = 533.60 = the stock below
    # (209.60 + 200.00 + 100.00 + 24.00).
    assert snap[("1405", None)] == (D("1256.00"), D("802.40"), D("533.60"))
    assert snap[("3103", None)] == (D("702.40"), D("1214.00"), D("-511.60"))
    assert snap[("5001", None)] == (D("1190.00"), D("1190.00"), 0)
    # 1002: debit 1344.70 (receipt); credit 1222.66 (payment) + 50.00 (expense); balance 72.04.
    assert snap[("1002", None)] == (D("1344.70"), D("1272.66"), D("72.04"))
    # 220201 S1: January's 90.40 still owed; February invoiced and paid 1222.66.
    assert snap[("220201", "S1")] == (D("1222.66"), D("1222.66"), D("-90.40"))
    assert snap[("1122", "C1")] == (D("1344.70"), D("1344.70"), 0)
    # 190101: the stocktake's loss 20.00 on the debit side; its gain 4.00 and the clearing 16.00 credited.
    assert snap[("190101", None)] == (D("20.00"), D("20.00"), 0)
    assert stock_snapshot(db, "2026-02") == {
        ("PM", "W1", ""): (24, D("209.60")),
        ("P1", "W1", ""): (20, D("200.00")),
        ("P1", "W2", ""): (10, D("100.00")),
        ("P2", "W1", ""): (6, D("24.00")),
    }
    # The close's record, and the audit log.
    (info,) = [p for p in closing.period_closes(db, actor=admin) if p.label == "2026-02"]
    assert (info.status, info.closed_by, info.seal, info.profit) == ("closed", "admin", res.seal, D("511.60"))
    assert period_status(db, "2026-02") == "closed" and period_status(db, "2026-03") == "open"
    logged = audit_entries(db, "period.close")[-1]
    assert (logged["period"], logged["seal"], logged["vouchers"], logged["profit"], logged["cost_of_sales"],
            logged["costing_run"]) == ("2026-02", res.seal, ["记-0014", "记-0015"], "511.60", "52.40", "made")
    sf.assert_books_ok(db)

    statements = pytest.importorskip("jxc.services.statements")
    if not hasattr(statements, "income_statement") or not hasattr(statements, "balance_sheet"):
        pytest.skip("statements not there yet")
    # 利润表, 本月金额: 营业收入 1190.00, 营业成本 602.40, 净利润 511.60 (the close's vouchers left out).
    inc = statements.income_statement(db, "2026-02", actor=admin)
    month = {r.line_no: r.amounts[inc.columns.index("month")] for r in inc.rows}
    assert (month[1], month[2], month[32]) == (D("1190.00"), D("602.40"), D("511.60"))
    bs = statements.balance_sheet(db, "2026-02", actor=admin)
    assert bs.balanced is True


def test_a_month_of_returns_carries_in_red(db, admin):
    # February gives back more than it earns: a refund to a customer (Dr 5001 100.00 / Cr 1002 100.00)
    # and a refund from a supplier of an expense (Dr 1002 30.00 / Cr 5602 30.00). 5001 moved to the debit
    # side, 5602 to the credit side, so both are emptied in red on their usual sides:
    #   Dr 5001 −100.00 / Cr 5602 −30.00 / Cr 3103 −100.00 / Dr 3103 −30.00 (balanced: −130.00 each side).
    # Profit −100.00 − (−30.00) = −70.00, a debit balance on 3103.
    post(db, admin, "2026-01-10", dr("1002", "500.00"), cr("4001", "500.00"))  # paid-in capital, no P&L
    post(db, admin, "2026-02-10", dr("5001", "100.00"), cr("1002", "100.00"))
    post(db, admin, "2026-02-11", dr("1002", "30.00"), cr("5602", "30.00"))
    jan, res = close_through(db, admin, "2026-02")
    assert jan.vouchers == ()
    assert res.profit == D("-70.00")
    (made,) = generated(db, "2026-02")
    assert made.lines == (("5001", None, D("-100.00"), 0), ("5602", None, 0, D("-30.00")),
                          ("3103", None, 0, D("-100.00")), ("3103", None, D("-30.00"), 0))
    assert made.total == D("-130.00")
    assert closing_balance(db, "3103") == D("70.00")
    assert all(d == c for d, c in pl_movements(db, "2026-02").values())


def test_first_close_starts_from_the_opening_balances_and_opening_stock(db, admin):
    # 期初: PM 10 on hand worth 85.00 (1405), C1 owes 500.00 (1122), paid-in capital 585.00 (3001).
    for code, debit, credit, partner in (("1405", "85.00", "0", None), ("1122", "500.00", "0", "C1"),
                                         ("3001", "0", "585.00", None)):
        opening.set_opening_balance(db, opening.OpeningIn(code, D(debit), D(credit), partner), actor=admin)
    stock.set_opening_stock(db, [stock.OpeningStockIn("PM", "W1", D(10), D("85.00"))], actor=admin)
    # January: 5 PM received at 9.00 = 45.00 (not invoiced: a warning), 12 delivered.
    # unit = (85.00 + 45.00) / (10 + 5) = 130.00 / 15 = 8.6667; 12 issued = 12 × 130.00 / 15 = 104.00;
    # 3 left worth 26.00.
    mk_doc(db, admin, receipt(date(2026, 1, 5), ln("PM", 5, 9)))
    mk_doc(db, admin, delivery(date(2026, 1, 6), ln("PM", 12, 20)))
    jan, feb_ = close_through(db, admin, "2026-02", acknowledge_warnings=True)
    assert jan.cost_of_sales == D("104.00") and jan.profit == D("-104.00")  # nothing invoiced yet
    assert {i.code for i in jan.checklist.items if i.status is CheckStatus.PASS} >= {
        "opening_balanced", "subledger_inventory", "subledger_arap", "trial_balance"}
    for label in ("2026-01", "2026-02"):  # February carries January's snapshot forward
        snap = account_snapshot(db, label)
        assert snap[("1405", None)][2] == D("26.00")
        assert snap[("1122", "C1")][2] == D("500.00") and snap[("1122", None)][2] == D("500.00")
        assert snap[("3001", None)][2] == D("-585.00")
        assert stock_snapshot(db, label) == {("PM", "W1", ""): (3, D("26.00"))}
    assert (feb_.vouchers, feb_.profit, feb_.cost_of_sales) == ((), 0, 0)


# --- 2. close → reopen → close gives the same result -----------------------------------------

def test_close_reopen_close_gives_identical_results(db, admin):
    january_pm(db, admin)
    february(db, admin)
    close_through(db, admin, "2026-01")
    first = closing.close_period(db, "2026-02", actor=admin)
    made = generated(db, "2026-02")
    closed_state = whole_state(db)

    reason = "2月28日费用凭证漏记，重新结账"
    undone = closing.reopen_period(db, "2026-02", actor=admin, reason=f"  {reason}\n")
    # The close's 结转损益 voucher goes (its number given back); the costing run's voucher stays.
    assert (undone.period, undone.removed_vouchers, undone.removed_year) == ("2026-02", ("记-0015",), None)
    assert period_status(db, "2026-02") == "open"
    assert [g.label for g in generated(db, "2026-02")] == ["记-0014"]
    assert account_snapshot(db, "2026-02") == {} and stock_snapshot(db, "2026-02") == {}
    assert closing_balance(db, "3103") == 0
    assert pl_movements(db, "2026-02")["5001"] == (0, D("1190.00"))
    assert [p.seal for p in closing.period_closes(db, actor=admin) if p.label == "2026-02"] == [None]
    (logged,) = audit_entries(db, "period.reopen")
    assert (logged["period"], logged["user"], logged["reason"], logged["seal"], logged["vouchers"],
            logged["removed_year"]) == ("2026-02", "admin", reason, first.seal, ["记-0015"], None)

    again = closing.close_period(db, "2026-02", actor=admin)
    assert (again.seal, again.vouchers, again.profit, again.cost_of_sales) == (
        first.seal, first.vouchers, first.profit, first.cost_of_sales)
    assert generated(db, "2026-02") == made
    assert whole_state(db) == closed_state
    assert audit_entries(db, "period.close")[-1]["costing_run"] == "kept"


def test_reopen_then_correct_then_close_again(db, admin):
    post(db, admin, "2026-01-10", dr("1002", "1000.00"), cr("5001", "1000.00"))
    first = closing.close_period(db, "2026-01", actor=admin)
    assert (first.vouchers, first.profit) == (("记-0002",), D("1000.00"))
    closing.reopen_period(db, "2026-01", actor=admin, reason="漏记管理费用")
    # The forgotten expense takes the number the 结转损益 voucher gave back; the new 结转 is 记-0003.
    fix = post(db, admin, "2026-01-31", dr("5602", "120.00"), cr("1002", "120.00"))
    assert fix.label == "记-0002"
    second = closing.close_period(db, "2026-01", actor=admin)
    assert (second.vouchers, second.profit) == (("记-0003",), D("880.00"))
    assert second.seal != first.seal
    assert generated(db, "2026-01")[0].lines == (("5001", None, D("1000.00"), 0), ("5602", None, 0, D("120.00")),
                                                 ("3103", None, 0, D("1000.00")), ("3103", None, D("120.00"), 0))
    assert closing_balance(db, "3103") == D("-880.00")


# --- 3. bad input changes nothing ------------------------------------------------------------

def test_close_refuses_a_period_that_is_not_the_earliest_open(db, admin):
    post(db, admin, "2026-01-10", dr("1002", "10.00"), cr("5001", "10.00"))
    before = book_state(db)
    with pytest.raises(CloseNotNext) as exc:
        closing.close_period(db, "2026-03", actor=admin)
    assert exc.value.params == {"period": "2026-03", "expected": "2026-01"}
    assert "2026-01" in describe(exc.value, "zh_CN") and "2026-01" in describe(exc.value, "en")
    with pytest.raises(NotFound):
        closing.close_period(db, "2031-01", actor=admin)
    with pytest.raises(InvalidInput):
        closing.close_period(db, "2026-13", actor=admin)
    assert book_state(db) == before
    closing.close_period(db, "2026-01", actor=admin)
    with pytest.raises(CloseNotNext) as exc:
        closing.close_period(db, "2026-03", actor=admin)
    assert exc.value.params == {"period": "2026-03", "expected": "2026-02"}


def test_close_blocked_by_a_draft_document_and_unposted_vouchers(db, admin):
    # PM: 10 received at 8.00 and 4 delivered: the delivery has no cost until the costing run,
    # which the close runs first, inside its transaction.
    mk_doc(db, admin, receipt(date(2026, 1, 5), ln("PM", 10, 8)))
    dlv = mk_doc(db, admin, delivery(date(2026, 1, 6), ln("PM", 4, 20)))
    draft = mk_doc(db, admin, other_in(date(2026, 1, 7), ln("P1", 1, 5)), audit=False)
    v_draft = vouchers.create_voucher(db, voucher("2026-01-08", dr("5602", "5.00"), cr("1002", "5.00")), actor=admin)
    v_audited = vouchers.create_voucher(db, voucher("2026-01-09", dr("5602", "6.00"), cr("1002", "6.00")),
                                        actor=admin, advance_to=VoucherStatus.AUDITED)
    checklist = closing.close_checklist(db, "2026-01", actor=admin)
    assert checklist.failures == ("unaudited_documents", "unposted_vouchers") and not checklist.ok
    items = {i.code: i for i in checklist.items}
    assert items["unaudited_documents"].items == (draft.no,)
    # 记-0001 is the receipt's; the PM issue has no voucher until the run.
    assert items["unposted_vouchers"].items == (v_draft.label, v_audited.label) == ("记-0002", "记-0003")
    assert items["unposted_vouchers"].count == 2
    assert items["zero_cost_entries"].status is CheckStatus.PASS  # the uncosted PM issue awaits the run
    assert set(checklist.warnings) == {"uninvoiced_deliveries", "uninvoiced_receipts", "estimated_payables"}

    before = book_state(db)
    for acknowledge in (False, True):
        with pytest.raises(CloseBlocked) as exc:
            closing.close_period(db, "2026-01", actor=admin, acknowledge_warnings=acknowledge)
        assert exc.value.params == {"period": "2026-01", "failed": "unaudited_documents, unposted_vouchers",
                                    "count": 2}
    # Nothing is left of the attempt: the period is open, no costing run, the PM issue still uncosted,
    # no voucher, no snapshot, no audit entry.
    assert book_state(db) == before
    assert sf.moves(db, dlv.id) == [(-4, 0)]
    assert period_status(db, "2026-01") == "open"

    # Dealt with, the close goes through and costs the issue: 4 × 80.00 / 10 = 32.00.
    stock.audit_stock_doc(db, draft.id, actor=admin)
    vouchers.post_voucher(db, v_audited.id, actor=admin)
    vouchers.void_voucher(db, v_draft.id, actor=admin)
    done = closing.close_period(db, "2026-01", actor=admin, acknowledge_warnings=True)
    assert done.cost_of_sales == D("32.00")
    assert sf.moves(db, dlv.id) == [(-4, D("-32.00"))]


def test_closed_with_warnings_only_when_acknowledged(db, admin):
    rec = mk_doc(db, admin, receipt(date(2026, 1, 5), ln("P1", 100, 10)))  # 1000.00 in 暂估, not invoiced
    checklist = closing.close_checklist(db, "2026-01", actor=admin)
    assert checklist.ok and checklist.warnings == ("uninvoiced_receipts", "estimated_payables")
    items = {i.code: i for i in checklist.items}
    assert (items["uninvoiced_receipts"].items, items["uninvoiced_receipts"].params) == ((rec.no,),
                                                                                         {"value": "1000.00"})
    assert (items["estimated_payables"].items, items["estimated_payables"].params) == ((rec.no,),
                                                                                       {"amount": "1000.00"})
    before = book_state(db)
    with pytest.raises(CloseWarnings) as exc:
        closing.close_period(db, "2026-01", actor=admin)
    assert exc.value.params == {"period": "2026-01", "warnings": "uninvoiced_receipts, estimated_payables"}
    assert book_state(db) == before
    done = closing.close_period(db, "2026-01", actor=admin, acknowledge_warnings=True)
    assert done.checklist.warnings == ("uninvoiced_receipts", "estimated_payables")
    assert audit_entries(db, "period.close")[-1]["warnings"] == ["uninvoiced_receipts", "estimated_payables"]


def test_close_refusals_read_in_the_users_language(db, admin):
    draft = mk_doc(db, admin, other_in(date(2026, 1, 7), ln("P1", 1, 5)), audit=False)
    with pytest.raises(CloseBlocked) as blocked:
        closing.close_period(db, "2026-01", actor=admin)
    with pytest.raises(PeriodNotClosed) as not_closed:
        closing.reopen_period(db, "2026-01", actor=admin, reason="x")
    stock.delete_stock_doc(db, draft.id, actor=admin)
    mk_doc(db, admin, receipt(date(2026, 1, 5), ln("P1", 1, 10)))
    with pytest.raises(CloseWarnings) as warned:
        closing.close_period(db, "2026-01", actor=admin)
    zh = " ".join(describe(e.value, "zh_CN") for e in (blocked, not_closed, warned))
    # Today: "2026-01 不能结账：1 项检查未通过（unaudited_documents）…", "…未结账（状态：open）。",
    # "…的检查清单有提示（uninvoiced_receipts, estimated_payables）…".
    assert not any(code in zh for code in ("unaudited_documents", "uninvoiced_receipts", "open")), zh


def test_reopen_needs_the_reverse_close_right(db, admin):
    clerk = user(db, admin, "clerk", "accountant")
    boss = user(db, admin, "boss", "manager")
    post(db, admin, "2026-01-10", dr("1002", "10.00"), cr("5001", "10.00"))
    closing.close_period(db, "2026-01", actor=clerk)  # an accountant closes (period.close) ...
    before = book_state(db)
    with pytest.raises(PermissionDenied) as exc:  # ... but may not reopen
        closing.reopen_period(db, "2026-01", actor=clerk, reason="改错")
    assert exc.value.params["permission"] == "period.reopen"
    with pytest.raises(PermissionDenied):
        closing.lock_period(db, "2026-01", actor=clerk, reason="已报税")
    with pytest.raises(PermissionDenied):  # a manager reviews, but does not close
        closing.close_period(db, "2026-02", actor=boss)
    assert book_state(db) == before
    closing.reopen_period(db, "2026-01", actor=boss, reason="改错")
    assert period_status(db, "2026-01") == "open"
    assert audit_entries(db, "period.reopen")[-1]["user"] == "boss"


def test_reopen_needs_a_reason(db, admin):
    close_through(db, admin, "2026-01")
    before = book_state(db)
    for blank in ("", "   ", "\t\n"):
        with pytest.raises(InvalidInput) as exc:
            closing.reopen_period(db, "2026-01", actor=admin, reason=blank)
        assert (exc.value.params["field"], exc.value.params["reason"]) == ("reason", "input.required")
        assert "事由" in describe(exc.value, "zh_CN")
    with pytest.raises(InvalidInput) as exc:
        closing.reopen_period(db, "2026-01", actor=admin, reason="长" * 501)
    assert (exc.value.params["field"], exc.value.params["reason"]) == ("reason", "input.too_long")
    with pytest.raises(InvalidInput):
        closing.lock_period(db, "2026-01", actor=admin, reason=" ")
    assert book_state(db) == before
    closing.reopen_period(db, "2026-01", actor=admin, reason="长" * 500)


def test_reopen_only_the_latest_closed_period(db, admin):
    close_through(db, admin, "2026-03")
    before = book_state(db)
    with pytest.raises(ReopenNotLatest) as exc:
        closing.reopen_period(db, "2026-01", actor=admin, reason="改错")
    assert exc.value.params == {"period": "2026-01", "later": "2026-02, 2026-03"}
    assert "2026-02, 2026-03" in describe(exc.value, "zh_CN")
    with pytest.raises(ReopenNotLatest) as exc:
        closing.reopen_period(db, "2026-02", actor=admin, reason="改错")
    assert exc.value.params["later"] == "2026-03"
    with pytest.raises(PeriodNotClosed) as exc:
        closing.reopen_period(db, "2026-04", actor=admin, reason="改错")
    assert exc.value.params == {"period": "2026-04", "status": "open"}
    with pytest.raises(NotFound):
        closing.reopen_period(db, "2031-01", actor=admin, reason="改错")
    assert book_state(db) == before
    for label in ("2026-03", "2026-02", "2026-01"):
        closing.reopen_period(db, label, actor=admin, reason="改错")
    assert {p.status for p in closing.period_closes(db, actor=admin)} == {"open"}


def test_close_an_already_closed_period(db, admin):
    close_through(db, admin, "2026-02")
    before = book_state(db)
    for label in ("2026-01", "2026-02"):
        with pytest.raises(PeriodAlreadyClosed) as exc:
            closing.close_period(db, label, actor=admin)
        assert exc.value.params == {"period": label}
    assert book_state(db) == before


def test_services_refuse_to_write_into_a_closed_period(db, admin):
    jan = date(2026, 1, 20)
    rec = mk_doc(db, admin, receipt(date(2026, 1, 5), ln("P1", 100, 10)))
    pinv = invoice_stock(db, admin, "purchase", [rec.no], date(2026, 1, 6))
    payment = cash.create_cash(db, cash.CashIn("purchase", "S1", "1002", D("500.00"), date(2026, 1, 7),
                                               (cash.SettleLineIn(pinv.no, D("500.00")),)), actor=admin, audit=True)
    dlv = mk_doc(db, admin, delivery(date(2026, 1, 8), ln("P1", 30, 20)))
    sinv = invoice_stock(db, admin, "sales", [dlv.no], date(2026, 1, 9))
    manual = post(db, admin, "2026-01-10", dr("5602", "5.00"), cr("1002", "5.00"))
    draft_feb = mk_doc(db, admin, other_in(feb(2), ln("P2", 1, 3)), audit=False)
    close_through(db, admin, "2026-01")
    before = book_state(db)

    attempts = {
        "voucher": lambda: post(db, admin, "2026-01-31", dr("5602", "1.00"), cr("1002", "1.00")),
        "draft voucher": lambda: vouchers.create_voucher(db, voucher("2026-01-31", dr("5602", "1.00"),
                                                                     cr("1002", "1.00")), actor=admin),
        "unpost voucher": lambda: vouchers.unpost_voucher(db, manual.id, actor=admin),
        "void voucher": lambda: vouchers.void_voucher(db, manual.id, actor=admin),
        "stock doc": lambda: mk_doc(db, admin, receipt(jan, ln("P1", 1, 10))),
        "draft stock doc": lambda: mk_doc(db, admin, receipt(jan, ln("P1", 1, 10)), audit=False),
        "unaudit stock doc": lambda: stock.unaudit_stock_doc(db, dlv.id, actor=admin),
        "invoice": lambda: invoices.create_invoice(db, invoices.InvoiceIn(
            "sales", "C1", jan, (invoices.InvoiceLineIn("P1", D(1), D(20)),)), actor=admin, audit=True),
        "unaudit invoice": lambda: invoices.unaudit_invoice(db, sinv.id, actor=admin),
        "receipt": lambda: cash.create_cash(db, cash.CashIn("sales", "C1", "1002", D("100.00"), jan,
                                                            (cash.SettleLineIn(sinv.no, D("100.00")),)),
                                            actor=admin, audit=True),
        "unaudit payment": lambda: cash.unaudit_cash(db, payment.id, actor=admin),
        "cost run": lambda: stock.cost_run(db, "2026-01", actor=admin),
    }
    for what, attempt in attempts.items():
        with pytest.raises(PeriodClosed) as exc:
            attempt()
        assert exc.value.params.get("period") == "2026-01", what
    assert book_state(db) == before
    # The open month still takes documents: a draft of February is audited as usual.
    stock.audit_stock_doc(db, draft_feb.id, actor=admin)


def test_corrections_are_red_documents_in_the_first_open_period(db, admin):
    # The user guide's way to correct a closed month without reopening it.
    rec = mk_doc(db, admin, receipt(date(2026, 1, 5), ln("P1", 10, 10)))
    manual = post(db, admin, "2026-01-10", dr("5602", "5.00"), cr("1002", "5.00"))
    (jan,) = close_through(db, admin, "2026-01", acknowledge_warnings=True)
    red = stock.reverse_stock_doc(db, rec.id, feb(3), actor=admin, audit=True)
    assert sf.moves(db, red.id) == [(-10, D("-100.00"))]
    red_voucher = vouchers.reverse_voucher(db, manual.id, feb(3), actor=admin)
    assert (red_voucher.period, red_voucher.status) == ("2026-02", "draft")
    assert lines_of(db, red_voucher.id) == [("5602", None, D("-5.00"), 0), ("1002", None, 0, D("-5.00"))]
    # The close's own vouchers are undone by a reverse close, never by a red copy.
    carry = voucher_id(db, "2026-01", jan.vouchers[0])
    with pytest.raises(InvalidInput) as exc:
        vouchers.reverse_voucher(db, carry, feb(3), actor=admin)
    assert exc.value.params["reason"] == "voucher.not_reversible"
    with pytest.raises(PeriodClosed):
        stock.reverse_stock_doc(db, rec.id, date(2026, 1, 31), actor=admin)
    sf.assert_books_ok(db)  # January's seal untouched


def test_checklist_names_stocktake_differences_left_in_suspense(db, admin):
    mk_doc(db, admin, receipt(date(2026, 1, 5), ln("P1", 10, 10)))
    counted = mk_doc(db, admin, stocktake(date(2026, 1, 20), ln("P1", 8)))  # loss 2 × 10.00 into 190101
    draft = mk_doc(db, admin, stocktake(date(2026, 1, 21), ln("P1", 8)), audit=False)
    item = {i.code: i for i in closing.close_checklist(db, "2026-01", actor=admin).items}["stocktake_pending"]
    assert item.status is CheckStatus.FAIL
    assert item.items == (draft.no, "1901: 20.00", counted.no)
    assert item.params == {"suspense": "20.00"}
    with pytest.raises(CloseBlocked) as exc:
        closing.close_period(db, "2026-01", actor=admin, acknowledge_warnings=True)
    assert exc.value.params["failed"] == "unaudited_documents, stocktake_pending"
    stock.delete_stock_doc(db, draft.id, actor=admin)
    post(db, admin, "2026-01-31", dr("5711", "20.00"), cr("190101", "20.00"))
    done = closing.close_period(db, "2026-01", actor=admin, acknowledge_warnings=True)
    assert done.profit == D("-20.00")


# --- 4. direct SQL against a closed period -----------------------------------------------------

def small_closed_january(db: Session, admin: Any) -> int:
    """January with a receipt, a delivery, a sales invoice and a manual voucher, closed; its id."""
    mk_doc(db, admin, receipt(date(2026, 1, 5), ln("P1", 100, 10)))
    dlv = mk_doc(db, admin, delivery(date(2026, 1, 8), ln("P1", 30, 20)))
    invoice_stock(db, admin, "sales", [dlv.no], date(2026, 1, 9))
    post(db, admin, "2026-01-10", dr("5602", "5.00"), cr("1002", "5.00"))
    close_through(db, admin, "2026-01", acknowledge_warnings=True)
    return period_id(db, "2026-01")


def _insert_copy(table: str, columns: list[str]) -> str:
    cols = ", ".join(c for c in columns if c != "id")
    return f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {table} WHERE period_id = :p LIMIT 1"


def test_direct_sql_against_a_closed_period(db, admin, backend_name):
    """PostgreSQL refuses the write itself (a trigger on every ledger table); on SQLite the write goes
    through and `verify` names the period whose seal no longer matches."""
    pid = small_closed_january(db, admin)
    if backend_name == "postgresql":
        _postgresql_refuses(db, admin, pid)
    else:
        _sqlite_seal_catches(db, pid)


def _postgresql_refuses(db: Session, admin: Any, pid: int) -> None:
    refused = [
        "UPDATE voucher_line SET debit = debit + 1 WHERE period_id = :p",
        "UPDATE voucher SET memo = 'changed' WHERE period_id = :p",
        _insert_copy("stock_entry", list(StockEntry.__table__.columns.keys())),
        "DELETE FROM account_balance WHERE period_id = :p",
        "DELETE FROM account_snapshot WHERE period_id = :p",
        "DELETE FROM period_close WHERE period_id = :p",
        "UPDATE stock_entry SET value = value + 1 WHERE period_id = :p",
        "UPDATE stock_doc SET status = 'draft' WHERE period_id = :p",
        "UPDATE invoice SET amount = amount + 1 WHERE period_id = :p",
        "UPDATE period SET end_date = end_date + 1 WHERE id = :p",
        "DELETE FROM period WHERE id = :p",
    ]
    before = book_state(db)
    with db.begin():
        for sql in refused:
            with pytest.raises(DBAPIError) as exc, db.begin_nested():
                db.execute(text(sql), {"p": pid})
            assert "refused" in str(exc.value) and "JX001" in str(exc.value.orig.sqlstate), sql
        # Columns that legitimately change while the period is closed (a return in an open period
        # marks its source entry linked) stay writable.
        with db.begin_nested():
            changed = db.execute(text("UPDATE stock_entry SET linked = linked WHERE period_id = :p"), {"p": pid})
            assert changed.rowcount == 2
        # A closed period may be set open again (that is how a reverse close starts) — by direct SQL too;
        # what is changed then is still caught by the seal.
        with db.begin_nested() as tamper:
            db.execute(text("UPDATE period SET status = 'open' WHERE id = :p"), {"p": pid})
            db.execute(text("UPDATE voucher_line SET debit = debit + 1 WHERE period_id = :p AND debit > 0"),
                       {"p": pid})
            db.execute(text("UPDATE period SET status = 'closed' WHERE id = :p"), {"p": pid})
            assert {"period_seals", "period_snapshots"} <= failed_checks(db)
            tamper.rollback()
        assert failed_checks(db) == set()
    assert book_state(db) == before
    # A locked period cannot even be set open.
    closing.lock_period(db, "2026-01", actor=admin, reason="已报税")
    with db.begin():
        for sql in ("UPDATE period SET status = 'open' WHERE id = :p",
                    "UPDATE period SET status = 'closed' WHERE id = :p"):
            with pytest.raises(DBAPIError) as exc, db.begin_nested():
                db.execute(text(sql), {"p": pid})
            assert "locked" in str(exc.value)


def _sqlite_seal_catches(db: Session, pid: int) -> None:
    with db.begin():
        tamper = db.begin_nested()
        changed = db.execute(text("UPDATE voucher_line SET debit = debit + 1 WHERE period_id = :p AND debit > 0"),
                             {"p": pid})
        assert changed.rowcount > 0
        failed = failed_checks(db)
        assert {"period_seals", "period_snapshots", "vouchers_balanced", "balances_match_lines"} <= failed
        seals = next(c for c in checks.verify_books(db).checks if c.name == "period_seals")
        assert seals.items == ["2026-01: seal mismatch"]
        tamper.rollback()
        # A balance row deleted behind JXC's back: the seal again (and the balance check).
        tamper = db.begin_nested()
        db.execute(text("DELETE FROM account_balance WHERE period_id = :p"), {"p": pid})
        assert {"period_seals", "balances_match_lines"} <= failed_checks(db)
        tamper.rollback()
        # A stock entry revalued: the seal and the stock checks.
        tamper = db.begin_nested()
        db.execute(text("UPDATE stock_entry SET value = value + 100 WHERE period_id = :p"), {"p": pid})
        assert "period_seals" in failed_checks(db)
        tamper.rollback()
        assert failed_checks(db) == set()


def test_direct_sql_on_a_closed_periods_document_lines(db, admin):
    rec = mk_doc(db, admin, receipt(date(2026, 1, 5), ln("P1", 10, 5)))
    close_through(db, admin, "2026-01", acknowledge_warnings=True)
    with db.begin():
        tamper = db.begin_nested()
        try:
            db.execute(update(StockDocLine).where(StockDocLine.doc_id == rec.id).values(qty=D(11)))
        except DBAPIError:
            tamper.rollback()
            return  # refused by the database, like the document's entries and voucher
        # Today nothing notices, and a February invoice of the receipt bills 11 (55.00 + 7.15 tax).
        caught = failed_checks(db)
        tamper.rollback()
    assert caught, "a receipt line of a closed period was changed and verify saw nothing"


# --- 5. year end ---------------------------------------------------------------------------------

def business_of_2026(db: Session, admin: Any) -> None:
    # Profit of the year: 1000.00 (January sale) − 300.00 (March expense) − 50.00 (December expense) = 650.00.
    post(db, admin, "2026-01-10", dr("1002", "1000.00"), cr("5001", "1000.00"))
    post(db, admin, "2026-03-10", dr("5602", "300.00"), cr("1002", "300.00"))
    post(db, admin, "2026-12-10", dr("5602", "50.00"), cr("1002", "50.00"))


def test_year_end_carries_the_profit_and_opens_the_next_year(db, admin):
    business_of_2026(db, admin)
    close_through(db, admin, "2026-11")
    assert closing_balance(db, "3103") == D("-700.00")  # 1000.00 − 300.00 carried so far
    steps: list[str] = []
    dec = closing.close_period(db, "2026-12", actor=admin, progress=steps.append)
    assert steps == ["costing", "checklist", "carry", "year_end", "snapshot", "seal"]
    # December: 记-0001 the expense; 记-0002 结转损益 (Dr 3103 50.00 / Cr 5602 50.00); 记-0003 the year end:
    # 3103 holds 1000.00 − 300.00 − 50.00 = 650.00 on the credit side → Dr 3103 650.00 / Cr 310404 650.00.
    assert (dec.year_end, dec.next_year, dec.vouchers, dec.profit) == (True, "2027-01", ("记-0002", "记-0003"),
                                                                       D("-50.00"))
    made = generated(db, "2026-12")
    assert [(g.source_type, g.voucher_date) for g in made] == [("period_close", date(2026, 12, 31)),
                                                               ("year_end", date(2026, 12, 31))]
    assert made[0].lines == (("5602", None, 0, D("50.00")), ("3103", None, D("50.00"), 0))
    assert made[1].lines == (("3103", None, D("650.00"), 0), ("310404", None, 0, D("650.00")))
    assert closing_balance(db, "3103") == 0
    assert closing_balance(db, "310404") == D("-650.00")
    snap = account_snapshot(db, "2026-12")
    assert snap[("3103", None)] == (D("700.00"), 0, 0)  # 50.00 + 650.00 debited, nothing credited, empty
    assert snap[("310404", None)] == (0, D("650.00"), D("-650.00"))
    assert snap[("1002", None)][2] == D("650.00")
    # Fiscal year 2027: twelve open periods; documents can be dated there.
    labels = [p.label for p in closing.period_closes(db, actor=admin)]
    assert labels[12:] == [f"2027-{m:02d}" for m in range(1, 13)]
    assert all(p.status == "open" for p in closing.period_closes(db, actor=admin)[12:])
    sale = post(db, admin, "2027-01-05", dr("1002", "200.00"), cr("5001", "200.00"))
    assert (sale.period, sale.label) == ("2027-01", "记-0001")
    mk_doc(db, admin, receipt(date(2027, 1, 6), ln("P1", 5, 10)))
    jan27 = closing.close_period(db, "2027-01", actor=admin, acknowledge_warnings=True)
    assert (jan27.profit, jan27.year_end, jan27.next_year) == (D("200.00"), False, None)
    assert closing_balance(db, "3103") == D("-200.00") and closing_balance(db, "310404") == D("-650.00")


def test_a_loss_year_is_carried_the_other_way(db, admin):
    post(db, admin, "2026-06-10", dr("5602", "80.00"), cr("1002", "80.00"))
    dec = close_through(db, admin, "2026-12")[-1]
    (transfer,) = [g for g in generated(db, "2026-12") if g.source_type == "year_end"]
    assert transfer.lines == (("310404", None, D("80.00"), 0), ("3103", None, 0, D("80.00")))
    assert dec.vouchers == ("记-0001",)  # December had no P&L: only the year-end transfer
    assert closing_balance(db, "310404") == D("80.00") and closing_balance(db, "3103") == 0


def test_reopen_year_end_removes_the_new_year_when_nothing_is_dated_there(db, admin):
    business_of_2026(db, admin)
    dec = close_through(db, admin, "2026-12")[-1]
    undone = closing.reopen_period(db, "2026-12", actor=admin, reason="年终结转有误")
    assert (undone.removed_vouchers, undone.removed_year) == (("记-0002", "记-0003"), "2027")
    assert [p.label for p in closing.period_closes(db, actor=admin)][-1] == "2026-12"
    with db.begin():
        assert db.scalar(select(func.count()).select_from(FiscalYear)) == 1
    assert closing_balance(db, "3103") == D("-700.00") and closing_balance(db, "310404") == 0
    with pytest.raises(PeriodMissing):  # no period for the date any more
        post(db, admin, "2027-01-05", dr("1002", "1.00"), cr("5001", "1.00"))
    again = closing.close_period(db, "2026-12", actor=admin)
    assert (again.seal, again.vouchers, again.next_year) == (dec.seal, dec.vouchers, "2027-01")


def test_reopen_year_end_keeps_a_new_year_already_in_use(db, admin):
    business_of_2026(db, admin)
    dec = close_through(db, admin, "2026-12")[-1]
    post(db, admin, "2027-01-05", dr("1002", "200.00"), cr("5001", "200.00"))
    before_2027 = [p for p in closing.period_closes(db, actor=admin) if p.label.startswith("2027")]
    undone = closing.reopen_period(db, "2026-12", actor=admin, reason="年终结转有误")
    assert (undone.removed_vouchers, undone.removed_year) == (("记-0002", "记-0003"), None)
    assert [p for p in closing.period_closes(db, actor=admin) if p.label.startswith("2027")] == before_2027
    assert generated(db, "2026-12") == []
    assert closing_balance(db, "310404") == 0
    assert closing_balance(db, "3103") == D("-700.00")  # January–November carried; December open again
    again = closing.close_period(db, "2026-12", actor=admin)
    # The same vouchers and seal; the year exists already, so none is created.
    assert (again.seal, again.vouchers, again.year_end, again.next_year) == (dec.seal, dec.vouchers, True, None)
    assert closing_balance(db, "310404") == D("-650.00")
    # Reopened again, the year stays (this close did not create it).
    assert closing.reopen_period(db, "2026-12", actor=admin, reason="再核对").removed_year is None


# --- 6. lock ---------------------------------------------------------------------------------------

def test_lock_is_final(db, admin):
    boss = user(db, admin, "boss", "manager")
    post(db, admin, "2026-02-10", dr("1002", "10.00"), cr("5001", "10.00"))
    close_through(db, admin, "2026-02")
    with pytest.raises(PeriodNotClosed):
        closing.lock_period(db, "2026-03", actor=admin, reason="已报税")
    locked = closing.lock_period(db, "2026-02", actor=boss, reason="2026年2月已报税")
    assert locked == ["2026-01", "2026-02"]
    assert [period_status(db, p) for p in ("2026-01", "2026-02", "2026-03")] == ["locked", "locked", "open"]
    (logged,) = audit_entries(db, "period.lock")
    assert (logged["period"], logged["user"], logged["reason"], logged["periods"]) == (
        "2026-02", "boss", "2026年2月已报税", ["2026-01", "2026-02"])
    before = book_state(db)
    for label in ("2026-01", "2026-02"):
        with pytest.raises(PeriodLocked) as exc:
            closing.reopen_period(db, label, actor=admin, reason="改错")
        assert exc.value.params == {"period": label}
        with pytest.raises(PeriodLocked):
            closing.close_period(db, label, actor=admin)
    with pytest.raises(PeriodClosed):
        post(db, admin, "2026-02-27", dr("1002", "1.00"), cr("5001", "1.00"))
    assert book_state(db) == before
    # The next month closes and reopens as usual; locking again locks only what is newly closed.
    mar = closing.close_period(db, "2026-03", actor=admin)
    assert mar.vouchers == ()
    closing.reopen_period(db, "2026-03", actor=admin, reason="核对")
    closing.close_period(db, "2026-03", actor=admin)
    assert closing.lock_period(db, "2026-03", actor=admin, reason="一季度已报税") == ["2026-03"]
    assert [(p.label, p.status) for p in closing.period_closes(db, actor=admin)][:4] == [
        ("2026-01", "locked"), ("2026-02", "locked"), ("2026-03", "locked"), ("2026-04", "open")]


# --- a book started during the year: the fiscal year is the calendar year --------------------

def test_a_book_started_in_october_closes_its_year_in_december(fresh_url):
    from jxc.db.session import make_engine
    from jxc.services import books
    engine = make_engine(fresh_url)
    created = books.init_book(engine, books.BookSettings("Mid-year Co", "2026-10", "admin", "admin-pass-1"))
    # 2026-10..2026-12 (fiscal year 2026, three months) and all of 2027, so documents can be
    # dated a full year ahead
    assert created.periods == 3 + 12
    with Session(engine, expire_on_commit=False) as db:
        admin = users.load_actor(db, "admin")
        db.rollback()
        assert [p.label for p in books.list_periods(db, actor=admin)][:4] == ["2026-10", "2026-11", "2026-12",
                                                                             "2027-01"]
        post(db, admin, "2026-11-05", dr("1002", "500.00"), cr("5001", "500.00"))
        results = [closing.close_period(db, p, actor=admin, acknowledge_warnings=True)
                   for p in ("2026-10", "2026-11", "2026-12")]
        assert [r.year_end for r in results] == [False, False, True]
        assert results[2].next_year is None  # 2027 was there already
        # 本年利润 went to 未分配利润 at December's close
        assert closing_balance(db, "3103") == D(0)
        assert closing_balance(db, "310404") == D("-500.00")  # a credit balance (debit positive)
        assert checks.verify_books(db).ok
    engine.dispose()
