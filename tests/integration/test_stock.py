"""Stock documents through the services, on SQLite and PostgreSQL.

Each scenario checks the stock entries, the balances and the generated voucher; the `db`
fixture then re-proves the whole book (stock ledger = general ledger, vouchers = entries)
on what the scenario left behind.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from jxc.db.models import StockDoc, StockEntry, Voucher
from jxc.domain.costing import Shortfall
from jxc.domain.errors import (
    BatchInvalid,
    InvalidInput,
    InvalidTransition,
    OpeningLocked,
    OpeningStockMismatch,
    PeriodClosed,
    PermissionDenied,
)
from jxc.domain.stockdocs import DependentDocuments, StockDocRefused
from jxc.i18n import describe
from jxc.services import opening, stock, users
from tests import stock_factories as sf
from tests.stock_factories import (
    D,
    cost_adjustment,
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


@pytest.fixture(autouse=True)
def md(db, admin) -> None:
    sf.standard_master_data(db, admin)


def mk(db, admin, data, *, audit: bool = True) -> stock.DocRef:
    return stock.create_stock_doc(db, data, actor=admin, audit=audit)


def fields(err: BatchInvalid) -> list[tuple[str, str]]:
    return [(e.params.get("field"), e.params.get("reason")) for e in err.errors]


# --- 1. every document type ---------------------------------------------------------

def test_purchase_receipt(db, admin):
    ref = mk(db, admin, receipt("2026-06-03", ln("P1", 100, "12.50")))
    assert (ref.doc_type, ref.no, ref.status) == ("purchase_receipt", "CGRK-202606-0001", "audited")
    assert sf.moves(db, ref.id) == [(D(100), D("1250.00"))]
    e = sf.entries(db, ref.id)[0]
    assert (e.product, e.warehouse, e.bal_qty, e.bal_value, e.adjust) == ("P1", "W1", D(100), D("1250.00"), 0)
    assert sf.balance(db, "P1") == (D(100), D("1250.00"))
    line = sf.doc_lines(db, ref.id)[0]
    assert (line.price, line.tax_rate, line.amount, line.tax) == (D("12.50"), D("0.13"), D("1250.00"), D("162.50"))
    assert sf.doc_voucher_lines(db, ref.id) == [("1405", D("1250.00"), 0, None),
                                                ("220202", 0, D("1250.00"), "S1")]
    assert sf.account_movement(db, "1405", "2026-06") == D("1250.00")


def test_purchase_return_without_source_goes_at_moving_average(db, admin):
    mk(db, admin, receipt("2026-06-01", ln("P1", 100, "12.50")))
    mk(db, admin, receipt("2026-06-02", ln("P1", 50, "14.00")))
    ref = mk(db, admin, purchase_return("2026-06-05", ln("P1", 30)))
    assert ref.no == "CGTH-202606-0001"
    assert sf.moves(db, ref.id) == [(D(-30), D("-390.00"))]  # 30 × 1950 / 150
    assert sf.balance(db, "P1") == (D(120), D("1560.00"))
    assert sf.doc_voucher_lines(db, ref.id) == [("220202", D("390.00"), 0, "S1"), ("1405", 0, D("390.00"), None)]


def test_purchase_return_with_source_goes_at_the_receipts_cost(db, admin):
    mk(db, admin, receipt("2026-06-01", ln("P1", 100, "12.50")))
    second = mk(db, admin, receipt("2026-06-02", ln("P1", 50, "14.00")))
    ref = mk(db, admin, purchase_return("2026-06-05", ln("P1", 30), source=second.no))
    assert sf.moves(db, ref.id) == [(D(-30), D("-420.00"))]  # 30 of the 50 @ 14.00
    assert sf.balance(db, "P1") == (D(120), D("1530.00"))
    assert sf.doc_voucher_lines(db, ref.id) == [("220202", D("420.00"), 0, "S1"), ("1405", 0, D("420.00"), None)]
    # what is left of the source line may still go back, not more
    with pytest.raises(InvalidInput) as err:
        mk(db, admin, purchase_return("2026-06-06", ln("P1", 21), source=second.no))
    assert err.value.params["field"] == "lines[1].qty" and err.value.params["reason"] == "stock.return_exceeds"
    mk(db, admin, purchase_return("2026-06-06", ln("P1", 20), source=second.no))
    assert sf.balance(db, "P1") == (D(100), D("1250.00"))


def test_purchase_return_source_must_be_the_same_supplier_and_name_its_products(db, admin):
    src = mk(db, admin, receipt("2026-06-01", ln("P1", 10, "1.00")))
    with pytest.raises(InvalidInput) as err:
        mk(db, admin, purchase_return("2026-06-05", ln("P1", 1), source=src.no, supplier="S2"))
    assert err.value.params["reason"] == "stock.source_other_partner"
    with pytest.raises(BatchInvalid) as err2:
        mk(db, admin, purchase_return("2026-06-05", ln("P2", 1), source=src.no))
    assert fields(err2.value) == [("lines[1].product", "stock.not_in_source")]
    with pytest.raises(InvalidInput) as err3:
        mk(db, admin, purchase_return("2026-06-05", ln("P1", 1), source="CGRK-202606-0099"))
    assert err3.value.params["reason"] == "stock.unknown_source"


def test_sales_delivery(db, admin):
    mk(db, admin, receipt("2026-06-01", ln("P1", 100, "12.50")))
    ref = mk(db, admin, delivery("2026-06-05", ln("P1", 40)))
    assert ref.no == "XSCK-202606-0001"
    assert sf.moves(db, ref.id) == [(D(-40), D("-500.00"))]
    assert sf.balance(db, "P1") == (D(60), D("750.00"))
    assert sf.doc_voucher_lines(db, ref.id) == [("5401", D("500.00"), 0, None), ("1405", 0, D("500.00"), None)]
    assert sf.account_movement(db, "5401", "2026-06") == D("500.00")


def test_sales_return_with_source_comes_back_at_the_cost_it_went_out_at(db, admin):
    mk(db, admin, receipt("2026-06-01", ln("P1", 100, "10.00")))
    out = mk(db, admin, delivery("2026-06-05", ln("P1", 40)))
    mk(db, admin, receipt("2026-06-06", ln("P1", 100, "16.00")))
    assert sf.balance(db, "P1") == (D(160), D("2200.00"))  # unit now 13.75
    ref = mk(db, admin, sales_return("2026-06-10", ln("P1", 10), source=out.no))
    assert ref.no == "XSTH-202606-0001"
    assert sf.moves(db, ref.id) == [(D(10), D("100.00"))]  # at 10.00, not 13.75
    assert sf.balance(db, "P1") == (D(170), D("2300.00"))
    assert sf.doc_voucher_lines(db, ref.id) == [("1405", D("100.00"), 0, None), ("5401", 0, D("100.00"), None)]


def test_sales_return_without_source_comes_back_at_the_current_unit_cost(db, admin):
    mk(db, admin, receipt("2026-06-01", ln("P1", 100, "10.00")))
    mk(db, admin, delivery("2026-06-05", ln("P1", 40)))
    mk(db, admin, receipt("2026-06-06", ln("P1", 100, "16.00")))
    ref = mk(db, admin, sales_return("2026-06-10", ln("P1", 10)))
    assert sf.moves(db, ref.id) == [(D(10), D("137.50"))]
    assert sf.balance(db, "P1") == (D(170), D("2337.50"))


def test_transfer_moves_stock_at_cost_and_posts_nothing(db, admin):
    mk(db, admin, receipt("2026-06-01", ln("P1", 100, "12.50"), ln("P2", 3, "3.33")))
    before = len(sf.vouchers(db, "stock_doc"))
    ref = mk(db, admin, transfer("2026-06-05", ln("P1", 40), ln("P2", 1)))
    assert ref.no == "DB-202606-0001"
    got = [(e.product, e.warehouse, e.qty, e.value) for e in sf.entries(db, ref.id)]
    assert got == [("P1", "W1", D(-40), D("-500.00")), ("P1", "W2", D(40), D("500.00")),
                   ("P2", "W1", D(-1), D("-3.33")), ("P2", "W2", D(1), D("3.33"))]
    assert sf.balance(db, "P1", "W1") == (D(60), D("750.00"))
    assert sf.balance(db, "P1", "W2") == (D(40), D("500.00"))
    assert sf.balance(db, "P2", "W1") == (D(2), D("6.66"))
    assert sf.voucher_of(db, ref.id) is None
    assert len(sf.vouchers(db, "stock_doc")) == before
    # goods then delivered from the receiving warehouse carry the transferred cost
    out = mk(db, admin, delivery("2026-06-06", ln("P1", 40), wh="W2"))
    assert sf.moves(db, out.id) == [(D(-40), D("-500.00"))]


def test_monthly_average_transfer_of_everything_leaves_nothing_behind(db, admin):
    mk(db, admin, receipt("2026-06-01", ln("PM", 100, "10.00")))
    mk(db, admin, receipt("2026-06-02", ln("PM", 50, "13.00")))
    mk(db, admin, transfer("2026-06-03", ln("PM", 150)))
    # Until the run a monthly-average transfer moves at the last known unit cost (13.00 here) ...
    assert sf.balance(db, "PM", "W2") == (D(150), D("1950.00"))
    # ... and the run, the period ending empty, lets it take everything that was there.
    stock.cost_run(db, "2026-06", actor=admin)
    assert sf.balance(db, "PM", "W1") == (0, 0)
    assert sf.balance(db, "PM", "W2") == (D(150), D("1650.00"))


def test_other_in_priced_and_unpriced(db, admin):
    ref = mk(db, admin, other_in("2026-06-01", ln("P1", 10, "5.00")))
    assert ref.no == "QTRK-202606-0001"
    assert sf.moves(db, ref.id) == [(D(10), D("50.00"))]
    assert sf.doc_voucher_lines(db, ref.id) == [("1405", D("50.00"), 0, None), ("5301", 0, D("50.00"), None)]
    free = mk(db, admin, other_in("2026-06-02", ln("P1", 4)))  # no price: at the current unit cost
    assert sf.moves(db, free.id) == [(D(4), D("20.00"))]
    assert sf.balance(db, "P1") == (D(14), D("70.00"))


def test_other_out_to_the_default_or_a_named_account(db, admin):
    mk(db, admin, receipt("2026-06-01", ln("P1", 100, "12.50")))
    ref = mk(db, admin, other_out("2026-06-05", ln("P1", 4)))
    assert ref.no == "QTCK-202606-0001"
    assert sf.moves(db, ref.id) == [(D(-4), D("-50.00"))]
    assert sf.doc_voucher_lines(db, ref.id) == [("5602", D("50.00"), 0, None), ("1405", 0, D("50.00"), None)]
    named = mk(db, admin, other_out("2026-06-06", ln("P1", 2), account="5711"))
    assert sf.doc_voucher_lines(db, named.id) == [("5711", D("25.00"), 0, None), ("1405", 0, D("25.00"), None)]
    assert sf.balance(db, "P1") == (D(94), D("1175.00"))


def test_stocktake_gain_loss_and_unchanged_line(db, admin):
    mk(db, admin, receipt("2026-06-01", ln("P1", 100, "12.50"), ln("P2", 50, "4.00"), ln("P3", 20, "3.00")))
    ref = mk(db, admin, stocktake("2026-06-30", ln("P1", 103), ln("P2", 45), ln("P3", 20)))
    assert ref.no == "PD-202606-0001"
    got = [(e.product, e.qty, e.value) for e in sf.entries(db, ref.id)]
    assert got == [("P1", D(3), D("37.50")), ("P2", D(-5), D("-20.00"))]  # P3: nothing moved
    assert [(x.qty, x.book_qty) for x in sf.doc_lines(db, ref.id)] == [(D(103), D(100)), (D(45), D(50)),
                                                                      (D(20), D(20))]
    assert sf.balance(db, "P1") == (D(103), D("1287.50"))
    assert sf.balance(db, "P2") == (D(45), D("180.00"))
    assert sf.balance(db, "P3") == (D(20), D("60.00"))
    assert sf.doc_voucher_lines(db, ref.id) == [("1405", D("37.50"), 0, None), ("190101", 0, D("37.50"), None),
                                                ("190101", D("20.00"), 0, None), ("1405", 0, D("20.00"), None)]


def test_stocktake_finding_exactly_the_book_quantity_moves_nothing(db, admin):
    mk(db, admin, receipt("2026-06-01", ln("P1", 10, "1.00")))
    ref = mk(db, admin, stocktake("2026-06-30", ln("P1", 10)))
    assert sf.entries(db, ref.id) == [] and sf.voucher_of(db, ref.id) is None
    assert sf.stock_doc(db, ref.id).status == "audited"
    assert sf.doc_lines(db, ref.id)[0].book_qty == D(10)


def test_unaudit_of_a_stocktake_that_moved_nothing(db, admin):
    mk(db, admin, receipt("2026-06-01", ln("P1", 10, "1.00")))
    ref = mk(db, admin, stocktake("2026-06-30", ln("P1", 10)))
    assert stock.unaudit_stock_doc(db, ref.id, actor=admin).status == "draft"
    assert sf.doc_lines(db, ref.id)[0].book_qty is None


def test_cost_adjustment_up_and_down(db, admin):
    mk(db, admin, receipt("2026-06-01", ln("P1", 100, "12.50")))
    up = mk(db, admin, cost_adjustment("2026-06-10", ln("P1", amount="50.00")))
    assert up.no == "CBTZ-202606-0001"
    assert sf.moves(db, up.id) == [(D(0), D("50.00"))]
    assert sf.balance(db, "P1") == (D(100), D("1300.00"))
    assert sf.doc_voucher_lines(db, up.id) == [("1405", D("50.00"), 0, None), ("5401", 0, D("50.00"), None)]
    down = mk(db, admin, cost_adjustment("2026-06-11", ln("P1", amount="-30.00")))
    assert sf.moves(db, down.id) == [(D(0), D("-30.00"))]
    assert sf.balance(db, "P1") == (D(100), D("1270.00"))
    assert sf.doc_voucher_lines(db, down.id) == [("1405", D("-30.00"), 0, None), ("5401", 0, D("-30.00"), None)]
    # the next issue carries the adjusted cost
    out = mk(db, admin, delivery("2026-06-12", ln("P1", 10)))
    assert sf.moves(db, out.id) == [(D(-10), D("-127.00"))]


def test_cost_adjustment_without_stock_is_refused(db, admin):
    from jxc.domain.costing import NothingToAdjust

    with pytest.raises(NothingToAdjust) as err:
        mk(db, admin, cost_adjustment("2026-06-10", ln("P1", amount="5.00")))
    assert err.value.params == {"product": "P1", "warehouse": "W1"}


def test_opening_stock_agrees_with_the_1405_opening_balance(db, admin):
    opening.set_opening_balance(db, opening.OpeningIn("1405", D("1250.00"), D(0)), actor=admin)
    opening.set_opening_balance(db, opening.OpeningIn("3001", D(0), D("1250.00")), actor=admin)
    ref = stock.set_opening_stock(db, [stock.OpeningStockIn("P1", "W1", D(100), D("1250.00"))], actor=admin)
    assert (ref.doc_type, ref.no, ref.status) == ("opening_stock", "QCKC-202601-0001", "audited")
    assert sf.stock_doc(db, ref.id).doc_date == date(2025, 12, 31)
    assert sf.moves(db, ref.id) == [(D(100), D("1250.00"))]
    assert sf.voucher_of(db, ref.id) is None
    assert sf.balance(db, "P1") == (D(100), D("1250.00"))
    out = mk(db, admin, delivery("2026-01-05", ln("P1", 40)))  # the first posting of the book
    assert sf.moves(db, out.id) == [(D(-40), D("-500.00"))]
    with pytest.raises(OpeningLocked):
        stock.set_opening_stock(db, [stock.OpeningStockIn("P2", "W1", D(1), D("1.00"))], actor=admin)


def test_opening_stock_must_match_the_ledger_before_the_first_posting(db, admin):
    opening.set_opening_balance(db, opening.OpeningIn("1405", D("1000.00"), D(0)), actor=admin)
    opening.set_opening_balance(db, opening.OpeningIn("3001", D(0), D("1000.00")), actor=admin)
    stock.set_opening_stock(db, [stock.OpeningStockIn("P1", "W1", D(100), D("1250.00"))], actor=admin)
    before = sf.counts(db)
    with pytest.raises(OpeningStockMismatch) as err:
        mk(db, admin, delivery("2026-01-05", ln("P1", 40)))
    assert (err.value.params["stock"], err.value.params["ledger"]) == (D("1250.00"), D("1000.00"))
    assert sf.counts(db) == before
    opening.set_opening_balance(db, opening.OpeningIn("1405", D("1250.00"), D(0)), actor=admin)
    opening.set_opening_balance(db, opening.OpeningIn("3001", D(0), D("1250.00")), actor=admin)
    mk(db, admin, delivery("2026-01-05", ln("P1", 40)))
    assert sf.balance(db, "P1") == (D(60), D("750.00"))


def test_fifo_cost_adjustment_goes_to_the_newest_layer(db, admin):
    mk(db, admin, receipt("2026-06-01", ln("PF", 10, "10.00")))
    mk(db, admin, receipt("2026-06-02", ln("PF", 10, "12.00")))
    adj = mk(db, admin, cost_adjustment("2026-06-03", ln("PF", amount="5.00")))
    assert sf.balance(db, "PF") == (D(20), D("225.00"))
    out = None
    try:
        out = mk(db, admin, delivery("2026-06-04", ln("PF", 15)))
        assert sf.moves(db, out.id) == [(D(-15), D("-162.50"))]  # 10 @ 10 + 5 of the adjusted 10 @ 12.50
        sf.assert_books_ok(db)
    finally:  # leave the book as the bug found it consistent, so only the assertion above fails
        for ref in (out, adj):
            if ref is not None:
                stock.unaudit_stock_doc(db, ref.id, actor=admin)


def test_fifo_issues_oldest_first_and_a_return_leaves_from_its_own_layer(db, admin):
    mk(db, admin, receipt("2026-06-01", ln("PF", 10, "10.00")))
    b = mk(db, admin, receipt("2026-06-02", ln("PF", 10, "12.00")))
    back = mk(db, admin, purchase_return("2026-06-03", ln("PF", 3), source=b.no))
    assert sf.moves(db, back.id) == [(D(-3), D("-36.00"))]
    out = mk(db, admin, delivery("2026-06-04", ln("PF", 12)))
    assert sf.moves(db, out.id) == [(D(-12), D("-124.00"))]  # 10 @ 10 + 2 @ 12
    assert sf.balance(db, "PF") == (D(5), D("60.00"))


# --- 2. numbers ---------------------------------------------------------------------

def test_numbers_per_type_and_period(db, admin):
    a = mk(db, admin, receipt("2026-06-03", ln("P1", 1, "1.00")), audit=False)
    b = mk(db, admin, receipt("2026-06-28", ln("P1", 1, "1.00")))
    d = mk(db, admin, delivery("2026-06-29", ln("P1", 1)))
    e = mk(db, admin, receipt("2026-06-30", ln("P1", 1, "1.00")))
    c = mk(db, admin, receipt("2026-07-01", ln("P1", 1, "1.00")))
    assert [x.no for x in (a, b, c, d, e)] == ["CGRK-202606-0001", "CGRK-202606-0002", "CGRK-202607-0001",
                                               "XSCK-202606-0001", "CGRK-202606-0003"]
    with db.begin():
        assert stock.find_doc_id(db, "purchase_receipt", "CGRK-202606-0002") == b.id


def test_a_given_number_is_kept_and_must_be_unique(db, admin):
    from jxc.domain.errors import DuplicateCode

    ref = mk(db, admin, receipt("2026-06-03", ln("P1", 1, "1.00"), no="PO-778"))
    assert ref.no == "PO-778"
    with pytest.raises(DuplicateCode):
        mk(db, admin, receipt("2026-06-04", ln("P1", 1, "1.00"), no="PO-778"))


# --- 3. lifecycle -------------------------------------------------------------------

def test_draft_audit_unaudit_audit_again(db, admin):
    ref = mk(db, admin, receipt("2026-06-03", ln("P1", 100, "12.50")), audit=False)
    assert ref.status == "draft"
    assert sf.entries(db, ref.id) == [] and sf.voucher_of(db, ref.id) is None
    assert sf.balance(db, "P1") == (0, 0)

    assert stock.audit_stock_doc(db, ref.id, actor=admin).status == "audited"
    first = sf.voucher_of(db, ref.id)
    assert first is not None and first.status == "posted"
    assert sf.balance(db, "P1") == (D(100), D("1250.00"))
    assert sf.account_movement(db, "1405") == D("1250.00")

    assert stock.unaudit_stock_doc(db, ref.id, actor=admin).status == "draft"
    assert sf.entries(db, ref.id) == []
    assert sf.voucher_of(db, ref.id) is None
    with db.begin():
        assert db.scalar(select(Voucher.status).where(Voucher.id == first.id)) == "void"
    assert sf.balance(db, "P1") == (0, 0)
    assert sf.account_movement(db, "1405") == 0 and sf.account_movement(db, "220202") == 0
    sf.assert_books_ok(db)

    stock.audit_stock_doc(db, ref.id, actor=admin)
    again = sf.voucher_of(db, ref.id)
    assert again.id != first.id and again.status == "posted"
    assert sf.doc_voucher_lines(db, ref.id) == [("1405", D("1250.00"), 0, None),
                                                ("220202", 0, D("1250.00"), "S1")]
    assert sf.balance(db, "P1") == (D(100), D("1250.00"))


def test_delete_a_draft_but_not_an_audited_document(db, admin):
    draft = mk(db, admin, receipt("2026-06-03", ln("P1", 1, "1.00"), ln("P2", 2, "2.00")), audit=False)
    audited = mk(db, admin, receipt("2026-06-03", ln("P1", 1, "1.00")))
    stock.delete_stock_doc(db, draft.id, actor=admin)
    assert sf.stock_doc(db, draft.id) is None and sf.doc_lines(db, draft.id) == []
    with pytest.raises(InvalidTransition):
        stock.delete_stock_doc(db, audited.id, actor=admin)
    assert sf.stock_doc(db, audited.id).status == "audited"


def test_audit_twice_and_unaudit_a_draft_are_refused(db, admin):
    ref = mk(db, admin, receipt("2026-06-03", ln("P1", 1, "1.00")))
    before = sf.counts(db)
    with pytest.raises(InvalidTransition) as err:
        stock.audit_stock_doc(db, ref.id, actor=admin)
    assert err.value.params == {"document": ref.no, "current": "audited", "target": "audited"}
    assert sf.counts(db) == before
    draft = mk(db, admin, receipt("2026-06-03", ln("P1", 1, "1.00")), audit=False)
    with pytest.raises(InvalidTransition):
        stock.unaudit_stock_doc(db, draft.id, actor=admin)


def test_unaudit_is_refused_while_an_audited_return_names_the_document(db, admin):
    src = mk(db, admin, receipt("2026-06-01", ln("P1", 10, "2.00")))
    back = mk(db, admin, purchase_return("2026-06-02", ln("P1", 4), source=src.no))
    before = sf.counts(db)
    with pytest.raises(DependentDocuments) as err:
        stock.unaudit_stock_doc(db, src.id, actor=admin)
    assert err.value.params == {"document": src.no, "dependents": back.no}
    assert sf.counts(db) == before
    stock.unaudit_stock_doc(db, back.id, actor=admin)
    stock.unaudit_stock_doc(db, src.id, actor=admin)
    assert sf.balance(db, "P1") == (0, 0)


def test_unaudit_refused_when_later_issues_would_go_negative(db, admin):
    src = mk(db, admin, receipt("2026-06-01", ln("P1", 10, "2.00")))
    mk(db, admin, delivery("2026-06-02", ln("P1", 8)))
    before = sf.balances_snapshot(db)
    with pytest.raises(Shortfall) as err:
        stock.unaudit_stock_doc(db, src.id, actor=admin)
    assert (err.value.params["product"], err.value.params["shortfall"]) == ("P1", D(8))
    assert sf.balances_snapshot(db) == before
    assert sf.stock_doc(db, src.id).status == "audited"


def test_red_letter_reverse_of_a_receipt_cancels_it(db, admin):
    src = mk(db, admin, receipt("2026-06-01", ln("P1", 100, "12.50"), ln("P2", 3, "1.11")))
    red = stock.reverse_stock_doc(db, src.id, date(2026, 6, 10), actor=admin, audit=True)
    assert (red.doc_type, red.no, red.status) == ("purchase_receipt", "CGRK-202606-0002", "audited")
    row = sf.stock_doc(db, red.id)
    assert row.red and row.source_id == src.id
    assert sf.moves(db, red.id) == [(-q, -v) for q, v in sf.moves(db, src.id)]
    assert sf.moves(db, red.id) == [(D(-100), D("-1250.00")), (D(-3), D("-3.33"))]
    assert sf.doc_voucher_lines(db, red.id) == [("1405", D("-1253.33"), 0, None),
                                                ("220202", 0, D("-1253.33"), "S1")]
    assert [(x.amount, x.tax) for x in sf.doc_lines(db, red.id)] == [(D("-1250.00"), D("-162.50")),
                                                                     (D("-3.33"), D("-0.43"))]
    assert sf.balance(db, "P1") == (0, 0) and sf.balance(db, "P2") == (0, 0)
    assert sf.account_movement(db, "1405") == 0 and sf.account_movement(db, "220202") == 0
    with pytest.raises(StockDocRefused):  # a red-letter document is not reversed again
        stock.reverse_stock_doc(db, red.id, date(2026, 6, 11), actor=admin)
    with pytest.raises(DependentDocuments):
        stock.unaudit_stock_doc(db, src.id, actor=admin)


def test_red_letter_reverse_of_a_delivery_brings_goods_back_at_their_cost(db, admin):
    mk(db, admin, receipt("2026-06-01", ln("P1", 100, "12.50")))
    out = mk(db, admin, delivery("2026-06-02", ln("P1", 40)))
    mk(db, admin, receipt("2026-06-03", ln("P1", 100, "15.00")))
    red = stock.reverse_stock_doc(db, out.id, date(2026, 6, 4), actor=admin)
    assert red.status == "draft" and red.no == "XSCK-202606-0002"
    stock.audit_stock_doc(db, red.id, actor=admin)
    assert sf.moves(db, red.id) == [(D(40), D("500.00"))]
    assert sf.doc_voucher_lines(db, red.id) == [("5401", D("-500.00"), 0, None), ("1405", 0, D("-500.00"), None)]
    assert sf.balance(db, "P1") == (D(200), D("2750.00"))
    assert sf.account_movement(db, "5401") == 0


def test_reversing_a_return_makes_the_goods_returnable_again(db, admin):
    src = mk(db, admin, receipt("2026-06-01", ln("P1", 10, "10.00")))
    back = mk(db, admin, purchase_return("2026-06-02", ln("P1", 4), source=src.no))
    red = stock.reverse_stock_doc(db, back.id, date(2026, 6, 3), actor=admin, audit=True)
    assert sf.moves(db, red.id) == [(D(4), D("40.00"))]
    assert sf.doc_voucher_lines(db, red.id) == [("220202", D("-40.00"), 0, "S1"), ("1405", 0, D("-40.00"), None)]
    assert sf.balance(db, "P1") == (D(10), D("100.00"))
    again = mk(db, admin, purchase_return("2026-06-04", ln("P1", 10), source=src.no))
    assert sf.moves(db, again.id) == [(D(-10), D("-100.00"))]


def test_only_audited_documents_of_reversible_kinds_are_reversed(db, admin):
    draft = mk(db, admin, receipt("2026-06-01", ln("P1", 1, "1.00")), audit=False)
    mk(db, admin, receipt("2026-06-01", ln("P1", 5, "1.00")))
    moved = mk(db, admin, transfer("2026-06-02", ln("P1", 1)))
    for ref in (draft, moved):
        with pytest.raises(StockDocRefused) as err:
            stock.reverse_stock_doc(db, ref.id, date(2026, 6, 5), actor=admin)
        assert err.value.params["reason"] == "stock.not_reversible"


# --- 4. back-dated documents ------------------------------------------------------------

def test_back_dated_receipt_recosts_later_deliveries_of_that_key_only(db, admin):
    mk(db, admin, receipt("2026-06-01", ln("P1", 100, "10.00"), ln("P2", 100, "10.00")))
    mk(db, admin, receipt("2026-06-01", ln("P1", 100, "10.00"), wh="W2"))
    d1 = mk(db, admin, delivery("2026-06-10", ln("P1", 50), ln("P2", 50)))
    d2 = mk(db, admin, delivery("2026-06-20", ln("P1", 30)))
    other_wh = mk(db, admin, delivery("2026-06-20", ln("P1", 30), wh="W2"))
    numbers = {v.id: v.number for v in sf.vouchers(db, "stock_doc")}
    assert sf.account_movement(db, "5401", "2026-06") == D("1600.00")

    early = mk(db, admin, receipt("2026-06-05", ln("P1", 100, "13.00")))
    # at 06-05: 200 units worth 2300 (11.50 each)
    assert sf.moves(db, d1.id) == [(D(-50), D("-575.00")), (D(-50), D("-500.00"))]
    assert [(e.bal_qty, e.bal_value) for e in sf.entries(db, d1.id)] == [(D(150), D("1725.00")),
                                                                        (D(50), D("500.00"))]
    assert sf.moves(db, d2.id) == [(D(-30), D("-345.00"))]
    assert sf.moves(db, other_wh.id) == [(D(-30), D("-300.00"))]
    assert sf.doc_voucher_lines(db, d1.id) == [("5401", D("1075.00"), 0, None), ("1405", 0, D("1075.00"), None)]
    assert sf.doc_voucher_lines(db, d2.id) == [("5401", D("345.00"), 0, None), ("1405", 0, D("345.00"), None)]
    assert sf.doc_voucher_lines(db, other_wh.id) == [("5401", D("300.00"), 0, None),
                                                     ("1405", 0, D("300.00"), None)]
    assert sf.account_movement(db, "5401", "2026-06") == D("1720.00")
    assert sf.balance(db, "P1") == (D(120), D("1380.00"))
    assert {v.id: v.number for v in sf.vouchers(db, "stock_doc")} == numbers | {sf.voucher_of(db, early.id).id:
                                                                                   max(numbers.values()) + 1}
    sf.assert_books_ok(db)

    # un-auditing the early receipt costs them back as they were
    stock.unaudit_stock_doc(db, early.id, actor=admin)
    assert sf.moves(db, d1.id) == [(D(-50), D("-500.00")), (D(-50), D("-500.00"))]
    assert sf.moves(db, d2.id) == [(D(-30), D("-300.00"))]
    assert sf.doc_voucher_lines(db, d2.id) == [("5401", D("300.00"), 0, None), ("1405", 0, D("300.00"), None)]
    assert sf.account_movement(db, "5401", "2026-06") == D("1600.00")
    assert sf.balance(db, "P1") == (D(20), D("200.00"))


def test_back_dated_receipt_recosts_across_periods(db, admin):
    mk(db, admin, receipt("2026-05-01", ln("P1", 10, "10.00")))
    later = mk(db, admin, delivery("2026-07-01", ln("P1", 10)))
    assert sf.account_movement(db, "5401", "2026-07") == D("100.00")
    mk(db, admin, receipt("2026-06-01", ln("P1", 10, "20.00")))
    assert sf.moves(db, later.id) == [(D(-10), D("-150.00"))]
    assert sf.account_movement(db, "5401", "2026-07") == D("150.00")
    assert sf.balance(db, "P1") == (D(10), D("150.00"))


def test_unaudit_of_an_earlier_receipt_recosts_later_issues(db, admin):
    mk(db, admin, receipt("2026-06-01", ln("P1", 100, "10.00")))
    early = mk(db, admin, receipt("2026-06-05", ln("P1", 100, "13.00")))
    out = mk(db, admin, delivery("2026-06-10", ln("P1", 50)))
    assert sf.moves(db, out.id) == [(D(-50), D("-575.00"))]
    stock.unaudit_stock_doc(db, early.id, actor=admin)
    assert sf.moves(db, out.id) == [(D(-50), D("-500.00"))]
    assert sf.doc_voucher_lines(db, out.id) == [("5401", D("500.00"), 0, None), ("1405", 0, D("500.00"), None)]
    assert sf.balance(db, "P1") == (D(50), D("500.00"))


def test_back_dated_receipt_recosts_a_transfer_and_what_left_the_other_warehouse(db, admin):
    mk(db, admin, receipt("2026-06-01", ln("P1", 10, "10.00")))
    move = mk(db, admin, transfer("2026-06-10", ln("P1", 10)))
    out = mk(db, admin, delivery("2026-06-20", ln("P1", 10), wh="W2"))
    mk(db, admin, receipt("2026-06-05", ln("P1", 10, "20.00")))
    assert sf.moves(db, move.id) == [(D(-10), D("-150.00")), (D(10), D("150.00"))]
    assert sf.moves(db, out.id) == [(D(-10), D("-150.00"))]
    assert sf.doc_voucher_lines(db, out.id) == [("5401", D("150.00"), 0, None), ("1405", 0, D("150.00"), None)]
    assert sf.balance(db, "P1", "W1") == (D(10), D("150.00"))
    assert sf.balance(db, "P1", "W2") == (0, 0)


def test_back_dated_fifo_receipt_gives_back_and_retakes_layers(db, admin):
    mk(db, admin, receipt("2026-06-01", ln("PF", 10, "10.00")))
    mk(db, admin, receipt("2026-06-15", ln("PF", 10, "20.00")))
    out = mk(db, admin, delivery("2026-06-20", ln("PF", 15)))
    assert sf.moves(db, out.id) == [(D(-15), D("-200.00"))]  # 10 @ 10 + 5 @ 20
    mk(db, admin, receipt("2026-06-10", ln("PF", 10, "14.00")))
    assert sf.moves(db, out.id) == [(D(-15), D("-170.00"))]  # 10 @ 10 + 5 @ 14
    assert sf.balance(db, "PF") == (D(15), D("270.00"))  # 5 @ 14 + 10 @ 20; verify checks the layers


def test_back_dated_receipt_recosts_a_return_that_names_a_recosted_delivery(db, admin):
    mk(db, admin, receipt("2026-06-01", ln("P1", 10, "10.00")))
    out = mk(db, admin, delivery("2026-06-10", ln("P1", 10)))
    back = mk(db, admin, sales_return("2026-06-20", ln("P1", 4), source=out.no))
    assert sf.moves(db, back.id) == [(D(4), D("40.00"))]
    mk(db, admin, receipt("2026-06-05", ln("P1", 10, "16.00")))
    assert sf.moves(db, out.id) == [(D(-10), D("-130.00"))]
    assert sf.moves(db, back.id) == [(D(4), D("52.00"))]
    assert sf.doc_voucher_lines(db, back.id) == [("1405", D("52.00"), 0, None), ("5401", 0, D("52.00"), None)]
    assert sf.balance(db, "P1") == (D(14), D("182.00"))


def test_back_dated_delivery_making_a_later_point_negative_is_refused(db, admin):
    mk(db, admin, receipt("2026-06-01", ln("P1", 100, "10.00")))
    mk(db, admin, delivery("2026-06-20", ln("P1", 80)))
    before, snap = sf.counts(db), sf.balances_snapshot(db)
    with pytest.raises(Shortfall) as err:
        mk(db, admin, delivery("2026-06-10", ln("P1", 30)))
    p = err.value.params
    assert (p["product"], p["warehouse"], p["date"], p["shortfall"]) == ("P1", "W1", "2026-06-20", D(10))
    assert sf.counts(db) == before and sf.balances_snapshot(db) == snap
    # as a draft it is entered; its audit is refused the same way
    draft = mk(db, admin, delivery("2026-06-10", ln("P1", 30)), audit=False)
    with pytest.raises(Shortfall):
        stock.audit_stock_doc(db, draft.id, actor=admin)
    assert sf.stock_doc(db, draft.id).status == "draft" and sf.entries(db, draft.id) == []
    assert sf.balances_snapshot(db) == snap


# --- 5. negative stock ----------------------------------------------------------------

def test_negative_stock_is_forbidden_by_default(db, admin):
    mk(db, admin, receipt("2026-06-01", ln("P1", 3, "2.00")))
    before = sf.counts(db)
    with pytest.raises(Shortfall) as err:
        mk(db, admin, delivery("2026-06-02", ln("P1", 5)))
    p = err.value.params
    assert (p["product"], p["warehouse"], p["shortfall"], p["available"]) == ("P1", "W1", D(2), D(3))
    text = describe(err.value, "zh_CN")
    assert "P1" in text and "W1" in text and "2" in text
    assert "P1" in describe(err.value, "en")
    assert sf.counts(db) == before


def test_negative_stock_allowed_issues_at_last_cost_and_the_next_receipt_settles(db, admin):
    sf.allow_negative_stock(db)
    mk(db, admin, receipt("2026-06-01", ln("P1", 10, "10.00")))
    out = mk(db, admin, delivery("2026-06-02", ln("P1", 15)))
    assert sf.moves(db, out.id) == [(D(-15), D("-150.00"))]  # 10 on hand + 5 at the last unit cost 10.00
    assert sf.balance(db, "P1") == (D(-5), D("-50.00"))
    sf.assert_books_ok(db)
    settle = mk(db, admin, receipt("2026-06-03", ln("P1", 10, "12.00")))
    e = sf.entries(db, settle.id)[0]
    assert (e.qty, e.value, e.adjust) == (D(10), D("120.00"), D("10.00"))  # 5 × (12 - 10)
    assert (e.bal_qty, e.bal_value) == (D(5), D("60.00"))
    assert sf.balance(db, "P1") == (D(5), D("60.00"))
    assert sf.doc_voucher_lines(db, settle.id) == [("1405", D("120.00"), 0, None), ("220202", 0, D("120.00"), "S1"),
                                                   ("5401", D("10.00"), 0, None), ("1405", 0, D("10.00"), None)]
    assert sf.account_movement(db, "5401") == D("160.00")  # every unit sold at its actual cost
    assert sf.account_movement(db, "1405") == D("60.00")
    sf.assert_books_ok(db)


def test_negative_stock_settlement_follows_a_back_dated_change(db, admin):
    sf.allow_negative_stock(db)
    mk(db, admin, receipt("2026-06-01", ln("P1", 10, "10.00")))
    mk(db, admin, delivery("2026-06-10", ln("P1", 15)))
    settle = mk(db, admin, receipt("2026-06-20", ln("P1", 10, "12.00")))
    # a back-dated receipt removes the debt: nothing is left to settle
    mk(db, admin, receipt("2026-06-05", ln("P1", 10, "10.00")))
    e = sf.entries(db, settle.id)[0]
    assert (e.value, e.adjust) == (D("120.00"), 0)
    assert sf.balance(db, "P1") == (D(15), D("170.00"))
    assert sf.account_movement(db, "5401") == D("150.00")
    sf.assert_books_ok(db)


# --- 6. batches ------------------------------------------------------------------------

def test_batches_are_required_kept_apart_and_keep_their_expiry(db, admin):
    ref = mk(db, admin, receipt("2026-06-01", ln("PB", 10, "5.00", batch="B1", expiry="2027-03-31"),
                                ln("PB", 20, "6.00", batch="B2", expiry="2027-06-30")))
    assert [(e.batch, e.qty, e.value) for e in sf.entries(db, ref.id)] == [("B1", D(10), D("50.00")),
                                                                           ("B2", D(20), D("120.00"))]
    assert sf.balance(db, "PB", batch="B1") == (D(10), D("50.00"))
    assert sf.balance(db, "PB", batch="B2") == (D(20), D("120.00"))
    assert sf.balance_row(db, "PB", batch="B1").expiry == date(2027, 3, 31)
    assert sf.balance_row(db, "PB", batch="B2").expiry == date(2027, 6, 30)
    with db.begin():
        assert db.scalar(select(StockEntry.expiry).where(StockEntry.doc_id == ref.id, StockEntry.batch == "B1")) \
            == date(2027, 3, 31)
    # one batch cannot lend to another
    with pytest.raises(Shortfall) as err:
        mk(db, admin, delivery("2026-06-02", ln("PB", 15, batch="B1")))
    assert (err.value.params["batch"], err.value.params["shortfall"]) == ("B1", D(5))
    out = mk(db, admin, delivery("2026-06-02", ln("PB", 5, batch="B2")))
    assert sf.moves(db, out.id) == [(D(-5), D("-30.00"))]
    assert sf.balance(db, "PB", batch="B1") == (D(10), D("50.00"))
    assert sf.balance(db, "PB", batch="B2") == (D(15), D("90.00"))


def test_batch_tracked_product_without_a_batch_and_plain_product_with_one(db, admin):
    before = sf.counts(db)
    with pytest.raises(BatchInvalid) as err:
        mk(db, admin, receipt("2026-06-01", ln("PB", 10, "5.00")))
    assert fields(err.value) == [("lines[1].batch", "stock.batch_required")]
    with pytest.raises(BatchInvalid) as err:
        mk(db, admin, receipt("2026-06-01", ln("P1", 1, "1.00"), ln("P1", 10, "5.00", batch="X1")))
    assert fields(err.value) == [("lines[2].batch", "stock.batch_not_tracked")]
    with pytest.raises(BatchInvalid) as err:
        mk(db, admin, receipt("2026-06-01", ln("P1", 10, "5.00", expiry="2027-01-01")))
    assert fields(err.value) == [("lines[1].expiry", "stock.batch_not_tracked")]
    assert sf.counts(db) == before


# --- 7. monthly average ---------------------------------------------------------------

def _monthly_month(db, admin):
    mk(db, admin, receipt("2026-06-01", ln("PM", 100, "10.00")))
    d1 = mk(db, admin, delivery("2026-06-05", ln("PM", 30)))
    mk(db, admin, receipt("2026-06-10", ln("PM", 50, "13.00")))
    d2 = mk(db, admin, delivery("2026-06-20", ln("PM", 40)))
    return d1, d2


def _run_voucher(db) -> list[sf.VLine]:
    found = sf.vouchers(db, "cost_run")
    assert len(found) == 1 and found[0].status == "posted"
    return sf.voucher_lines_of(db, found[0].id)


def test_monthly_average_issues_wait_for_the_cost_run(db, admin):
    d1, d2 = _monthly_month(db, admin)
    assert sf.moves(db, d1.id) == [(D(-30), 0)] and sf.moves(db, d2.id) == [(D(-40), 0)]
    assert sf.voucher_of(db, d1.id) is None and sf.vouchers(db, "cost_run") == []
    assert sf.balance(db, "PM") == (D(80), D("1650.00"))

    result = stock.cost_run(db, "2026-06", actor=admin)
    assert result == stock.CostRunResult("2026-06", 1, 2, D("770.00"))  # unit 1650 / 150 = 11
    assert sf.moves(db, d1.id) == [(D(-30), D("-330.00"))] and sf.moves(db, d2.id) == [(D(-40), D("-440.00"))]
    assert sf.balance(db, "PM") == (D(80), D("880.00"))
    run = sf.vouchers(db, "cost_run")[0]
    with db.begin():
        period_id = db.scalar(select(StockDoc.period_id).where(StockDoc.id == d1.id))
    assert run.source_id == period_id and run.voucher_date == date(2026, 6, 30)
    assert _run_voucher(db) == [("5401", D("770.00"), 0, None), ("1405", 0, D("770.00"), None)]
    sf.assert_books_ok(db)

    again = stock.cost_run(db, "2026-06", actor=admin)
    assert again == result
    assert sf.moves(db, d1.id) == [(D(-30), D("-330.00"))] and sf.moves(db, d2.id) == [(D(-40), D("-440.00"))]
    assert _run_voucher(db) == [("5401", D("770.00"), 0, None), ("1405", 0, D("770.00"), None)]
    assert len(sf.vouchers(db, "cost_run", include_void=True)) == 1


def _assert_recosted_with_the_late_receipt(db, d1, d2) -> None:
    # unit = 1970 / 170; the last issue absorbs the residue
    assert sf.moves(db, d1.id) == [(D(-30), D("-347.65"))] and sf.moves(db, d2.id) == [(D(-40), D("-463.53"))]
    assert sf.balance(db, "PM") == (D(100), D("1158.82"))
    assert _run_voucher(db) == [("5401", D("811.18"), 0, None), ("1405", 0, D("811.18"), None)]
    assert sf.account_movement(db, "5401", "2026-06") == D("811.18")


def test_monthly_average_back_dated_receipt_after_the_run_recosts_and_unaudit_puts_it_back(db, admin):
    d1, d2 = _monthly_month(db, admin)
    stock.cost_run(db, "2026-06", actor=admin)
    late = mk(db, admin, receipt("2026-06-15", ln("PM", 20, "16.00")))
    _assert_recosted_with_the_late_receipt(db, d1, d2)
    sf.assert_books_ok(db)
    stock.unaudit_stock_doc(db, late.id, actor=admin)
    assert sf.moves(db, d1.id) == [(D(-30), D("-330.00"))] and sf.moves(db, d2.id) == [(D(-40), D("-440.00"))]
    assert _run_voucher(db) == [("5401", D("770.00"), 0, None), ("1405", 0, D("770.00"), None)]
    assert sf.balance(db, "PM") == (D(80), D("880.00"))


def test_monthly_average_receipt_after_the_run_and_the_last_entry_recosts_at_once(db, admin):
    d1, d2 = _monthly_month(db, admin)
    stock.cost_run(db, "2026-06", actor=admin)
    mk(db, admin, receipt("2026-06-25", ln("PM", 20, "16.00")))  # after every entry of the period
    _assert_recosted_with_the_late_receipt(db, d1, d2)


def test_monthly_average_unaudit_of_a_delivery_after_the_run(db, admin):
    d1, d2 = _monthly_month(db, admin)
    stock.cost_run(db, "2026-06", actor=admin)
    stock.unaudit_stock_doc(db, d2.id, actor=admin)
    assert sf.entries(db, d2.id) == []
    assert sf.moves(db, d1.id) == [(D(-30), D("-330.00"))]
    assert sf.balance(db, "PM") == (D(120), D("1320.00"))
    assert _run_voucher(db) == [("5401", D("330.00"), 0, None), ("1405", 0, D("330.00"), None)]
    # and a delivery audited after the run goes straight onto the run's voucher
    d3 = mk(db, admin, delivery("2026-06-28", ln("PM", 60)))
    assert sf.moves(db, d3.id) == [(D(-60), D("-660.00"))]
    assert sf.voucher_of(db, d3.id) is None
    assert _run_voucher(db) == [("5401", D("990.00"), 0, None), ("1405", 0, D("990.00"), None)]
    assert sf.balance(db, "PM") == (D(60), D("660.00"))


def test_monthly_average_returns_and_red_letter_copies_are_costed_by_the_run(db, admin):
    mk(db, admin, receipt("2026-06-01", ln("PM", 100, "10.00")))
    mk(db, admin, receipt("2026-06-02", ln("PM", 50, "13.00")))
    d1 = mk(db, admin, delivery("2026-06-03", ln("PM", 30)))
    d2 = mk(db, admin, delivery("2026-06-04", ln("PM", 20)))
    back = mk(db, admin, sales_return("2026-06-05", ln("PM", 10), source=d1.no))
    red = stock.reverse_stock_doc(db, d2.id, date(2026, 6, 6), actor=admin, audit=True)
    assert [sf.moves(db, x.id)[0][1] for x in (d1, d2, back, red)] == [0, 0, 0, 0]
    stock.cost_run(db, "2026-06", actor=admin)
    assert [sf.moves(db, x.id)[0][1] for x in (d1, d2, back, red)] == [D("-330.00"), D("-220.00"), D("110.00"),
                                                                      D("220.00")]
    assert sf.balance(db, "PM") == (D(130), D("1430.00"))
    assert sf.account_movement(db, "5401", "2026-06") == D("220.00")  # 330 + 220 - 110 - 220


def test_monthly_average_back_dated_receipt_recosts_this_and_the_following_period(db, admin):
    mk(db, admin, receipt("2026-06-01", ln("PM", 100, "10.00")))
    june = mk(db, admin, delivery("2026-06-03", ln("PM", 30)))
    july = mk(db, admin, delivery("2026-07-03", ln("PM", 30)))
    mk(db, admin, receipt("2026-07-05", ln("PM", 40, "17.00")))
    stock.cost_run(db, "2026-06", actor=admin)
    stock.cost_run(db, "2026-07", actor=admin)
    assert sf.moves(db, june.id)[0][1] == D("-300.00") and sf.moves(db, july.id)[0][1] == D("-376.36")
    mk(db, admin, receipt("2026-06-10", ln("PM", 30, "20.00")))
    # June: 1600 / 130; July: (1230.77 + 680) / 140
    assert sf.moves(db, june.id)[0][1] == D("-369.23") and sf.moves(db, july.id)[0][1] == D("-409.45")
    assert sf.balance(db, "PM") == (D(110), D("1501.32"))
    assert [sf.voucher_lines_of(db, v.id)[0][1] for v in sf.vouchers(db, "cost_run")] == [D("369.23"),
                                                                                        D("409.45")]


def test_cost_run_needs_its_permission(db, admin):
    users.add_user(db, "keeper", "keeper-pass-1", roles=["warehouse"], actor=admin)
    keeper = users.load_actor(db, "keeper")
    db.rollback()
    with pytest.raises(PermissionDenied) as err:
        stock.cost_run(db, "2026-06", actor=keeper)
    assert err.value.params["permission"] == "cost.run"


# --- 8. bad input -------------------------------------------------------------------------

BAD = [
    pytest.param(receipt("2026-06-01", ln("NOPE", 1, "1.00")), [("lines[1].product", "stock.unknown_product")],
                 id="unknown-product"),
    pytest.param(receipt("2026-06-01", ln("P1", 1, "1.00"), wh="W9"), [("warehouse", "stock.unknown_warehouse")],
                 id="unknown-warehouse"),
    pytest.param(receipt("2026-06-01", ln("P1", 0, "1.00")), [("lines[1].qty", "input.not_positive")], id="qty-0"),
    pytest.param(delivery("2026-06-01", ln("P1", 1), ln("P1", -5)), [("lines[2].qty", "input.not_positive")],
                 id="qty-negative"),
    pytest.param(receipt("2026-06-01", ln("P1", None, "1.00")), [("lines[1].qty", "input.required")], id="qty-missing"),
    pytest.param(receipt("2026-06-01", ln("P1", "1.00001", "1.00")), [("lines[1].qty", "input.too_many_places")],
                 id="qty-places"),
    pytest.param(receipt("2026-06-01", ln("P1", 1)), [("lines[1].price", "input.required")], id="price-missing"),
    pytest.param(receipt("2026-06-01", ln("P1", 1, "-1.00")), [("lines[1].price", "input.negative")],
                 id="price-negative"),
    pytest.param(receipt("2026-06-01", ln("PB", 1, "1.00")), [("lines[1].batch", "stock.batch_required")],
                 id="missing-batch"),
    pytest.param(transfer("2026-06-01", ln("P1", 1), to="W1"), [("to_warehouse", "stock.same_warehouse")],
                 id="same-warehouse"),
    pytest.param(delivery("2026-06-01", ln("P1", 1), customer="S1"), [("partner", "stock.partner_kind")],
                 id="supplier-on-delivery"),
    pytest.param(receipt("2026-06-01", ln("P1", 1, "1.00"), supplier=None), [("partner", "input.required")],
                 id="no-supplier"),
    pytest.param(receipt("2026-06-01", ln("P1", 1, "1.00", incl="1.13")), [("lines[1].price", "stock.two_prices")],
                 id="two-prices"),
    pytest.param(stocktake("2026-06-01", ln("P1", 1), ln("P1", 2)), [("lines[2].product", "stock.duplicate_line")],
                 id="stocktake-duplicate"),
    pytest.param(stocktake("2026-06-01", ln("P1", -1)), [("lines[1].counted_qty", "input.negative")],
                 id="stocktake-negative"),
    pytest.param(cost_adjustment("2026-06-01", ln("P1")), [("lines[1].amount", "input.required")],
                 id="adjustment-no-amount"),
    pytest.param(other_out("2026-06-01", ln("P1", 1, "2.00")), [("lines[1].price", "input.not_allowed")],
                 id="price-on-other-out"),
    pytest.param(receipt("2026-06-01"), [("lines", "stock.no_lines")], id="no-lines"),
    pytest.param(receipt("2026-06-01", ln("P1", 1, "1.00"), ln("P1", 0, "1.00"), ln("NOPE", 1, "1.00"), wh=None),
                 [("warehouse", "input.required"), ("lines[2].qty", "input.not_positive"),
                  ("lines[3].product", "stock.unknown_product")], id="several-at-once"),
]


@pytest.mark.parametrize(("data", "expected"), BAD)
def test_bad_input_names_the_field_and_writes_nothing(db, admin, data, expected):
    mk(db, admin, receipt("2026-06-01", ln("P1", 10, "1.00")))
    before, snap = sf.counts(db), sf.balances_snapshot(db)
    with pytest.raises(BatchInvalid) as err:
        mk(db, admin, data)
    assert fields(err.value) == expected
    assert len(describe(err.value, "zh_CN").splitlines()) == len(expected)
    assert sf.counts(db) == before and sf.balances_snapshot(db) == snap


def test_messages_name_the_line_and_field_in_chinese(db, admin):
    with pytest.raises(BatchInvalid) as err:
        mk(db, admin, receipt("2026-06-01", ln("P1", 1, "1.00"), ln("P1", 0, "1.00")))
    text = describe(err.value, "zh_CN")
    assert "第 2 " in text and "数量" in text and "0" in text
    with pytest.raises(BatchInvalid) as err:
        mk(db, admin, receipt("2026-06-01", ln("PB", 1, "1.00")))
    text = describe(err.value, "zh_CN")
    assert "第 1 " in text and "PB" in text and "批号" in text
    with pytest.raises(BatchInvalid) as err:
        mk(db, admin, transfer("2026-06-01", ln("P1", 1), to="W1"))
    assert "调入仓库" in describe(err.value, "zh_CN")
    with pytest.raises(BatchInvalid) as err:
        mk(db, admin, receipt("2026-06-01", ln("P1", 1, "1.00", incl="1.13")))
    text = describe(err.value, "zh_CN")
    assert "第 1 " in text and "单价" in text and "含税单价" in text
    with pytest.raises(BatchInvalid) as err:
        mk(db, admin, receipt("2026-06-01", ln("NOPE", 1, "1.00")))
    assert describe(err.value, "zh_CN").startswith("第 1 ") and "NOPE" in describe(err.value, "zh_CN")
    assert "1" in describe(err.value, "en") and "NOPE" in describe(err.value, "en")


def test_delivery_beyond_stock_writes_nothing(db, admin):
    mk(db, admin, receipt("2026-06-01", ln("P1", 10, "1.00"), ln("P2", 10, "1.00")))
    before, snap = sf.counts(db), sf.balances_snapshot(db)
    with pytest.raises(Shortfall) as err:
        mk(db, admin, delivery("2026-06-02", ln("P2", 5), ln("P1", 11)))
    assert (err.value.params["product"], err.value.params["shortfall"]) == ("P1", D(1))
    assert sf.counts(db) == before and sf.balances_snapshot(db) == snap


def test_closed_period_refuses_create_audit_unaudit_and_delete(db, admin):
    audited = mk(db, admin, receipt("2026-03-10", ln("P1", 10, "1.00")))
    draft = mk(db, admin, receipt("2026-03-11", ln("P1", 10, "1.00")), audit=False)
    sf.close_period(db, "2026-03")
    before, snap = sf.counts(db), sf.balances_snapshot(db)
    with pytest.raises(PeriodClosed) as err:
        mk(db, admin, receipt("2026-03-12", ln("P1", 1, "1.00")))
    assert err.value.params["period"] == "2026-03"
    with pytest.raises(PeriodClosed):
        stock.audit_stock_doc(db, draft.id, actor=admin)
    with pytest.raises(PeriodClosed):
        stock.unaudit_stock_doc(db, audited.id, actor=admin)
    with pytest.raises(PeriodClosed):
        stock.delete_stock_doc(db, draft.id, actor=admin)
    assert sf.counts(db) == before and sf.balances_snapshot(db) == snap
    # the way to correct it: a red-letter document in an open period
    red = stock.reverse_stock_doc(db, audited.id, date(2026, 4, 1), actor=admin, audit=True)
    assert sf.moves(db, red.id) == [(D(-10), D("-10.00"))]
    with pytest.raises(PeriodClosed):
        stock.reverse_stock_doc(db, audited.id, date(2026, 3, 31), actor=admin)


def test_a_back_dated_document_may_not_reach_into_a_closed_period(db, admin):
    mk(db, admin, receipt("2026-02-01", ln("P1", 10, "1.00")))
    sf.close_period(db, "2026-02")
    with pytest.raises(PeriodClosed):
        mk(db, admin, receipt("2026-02-15", ln("P1", 10, "2.00")))


# --- 9. permissions ------------------------------------------------------------------------

def test_warehouse_role_creates_and_audits_an_auditor_cannot(db, admin):
    users.add_user(db, "keeper", "keeper-pass-1", roles=["warehouse"], actor=admin)
    users.add_user(db, "viewer", "viewer-pass-1", roles=["auditor"], actor=admin)
    keeper = users.load_actor(db, "keeper")
    viewer = users.load_actor(db, "viewer")
    db.rollback()
    ref = stock.create_stock_doc(db, receipt("2026-06-01", ln("P1", 10, "1.00")), actor=keeper, audit=True)
    assert ref.status == "audited"
    draft = stock.create_stock_doc(db, delivery("2026-06-02", ln("P1", 1)), actor=keeper)
    stock.audit_stock_doc(db, draft.id, actor=keeper)
    stock.unaudit_stock_doc(db, draft.id, actor=keeper)

    before = sf.counts(db)
    with pytest.raises(PermissionDenied) as err:
        stock.create_stock_doc(db, receipt("2026-06-03", ln("P1", 1, "1.00")), actor=viewer)
    assert err.value.params == {"user": "viewer", "permission": "stock.create"}
    with pytest.raises(PermissionDenied) as err:
        stock.audit_stock_doc(db, draft.id, actor=viewer)
    assert err.value.params["permission"] == "stock.audit"
    with pytest.raises(PermissionDenied):
        stock.delete_stock_doc(db, draft.id, actor=viewer)
    with pytest.raises(PermissionDenied):
        stock.reverse_stock_doc(db, ref.id, date(2026, 6, 5), actor=viewer)
    assert sf.counts(db) == before


def test_a_creator_without_audit_rights_cannot_create_audited(db, admin):
    users.add_user(db, "buyer", "buyer-pass-1", roles=["purchasing"], actor=admin)
    buyer = users.load_actor(db, "buyer")
    db.rollback()
    before = sf.counts(db)
    with pytest.raises(PermissionDenied) as err:
        stock.create_stock_doc(db, receipt("2026-06-01", ln("P1", 1, "1.00")), actor=buyer, audit=True)
    assert err.value.params["permission"] == "stock.audit"
    assert sf.counts(db) == before
    assert stock.create_stock_doc(db, receipt("2026-06-01", ln("P1", 1, "1.00")), actor=buyer).status == "draft"


# --- 10. prices including tax -------------------------------------------------------------

def test_price_including_tax_is_split(db, admin):
    ref = mk(db, admin, receipt("2026-06-01", ln("P1", 1, incl="113.00"), ln("P2", 3, incl="10.00", tax_rate="0.13"),
                                ln("P3", 2, incl="50.00", tax_rate="0")))
    got = [(x.price, x.tax_rate, x.amount, x.tax) for x in sf.doc_lines(db, ref.id)]
    assert got[0] == (D("100.00"), D("0.13"), D("100.00"), D("13.00"))
    assert got[1][2:] == (D("26.55"), D("3.45"))  # 30.00 = 26.55 + 3.45 exactly
    assert got[2] == (D("50.00"), D(0), D("100.00"), D(0))
    assert sf.moves(db, ref.id) == [(D(1), D("100.00")), (D(3), D("26.55")), (D(2), D("100.00"))]
    assert sf.doc_voucher_lines(db, ref.id) == [("1405", D("226.55"), 0, None), ("220202", 0, D("226.55"), "S1")]


def test_monthly_average_red_copy_of_an_unpriced_receipt_is_costed_by_the_run(db, admin):
    """Found by the state machine: reversing an unpriced receipt (costed by the run) at the
    original's cost made the period's unit depend on itself, and re-costing never settled."""
    stock.cost_run(db, "2026-06", actor=admin)
    first = mk(db, admin, other_in("2026-06-01", ln("PM", 1)))
    mk(db, admin, other_in("2026-06-01", ln("PM", 1)))
    red = stock.reverse_stock_doc(db, first.id, date(2026, 6, 5), actor=admin, audit=True)
    mk(db, admin, other_in("2026-06-20", ln("PM", 2, "0.4467")))
    assert sf.moves(db, red.id)[0][0] == D(-1)
    # the run now costs the reversal with the rest, at the period unit
    stock.cost_run(db, "2026-06", actor=admin)
    assert sf.balance(db, "PM")[0] == D(3)
