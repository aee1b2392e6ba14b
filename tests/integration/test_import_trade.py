"""`import_records` with the trade records of shared/INTERCHANGE.md: orders, receipts and
deliveries made from them (`order`), invoices billing them (`source`), payments and receipts
settling the invoices (`settle`); all or nothing, every problem with its file line, on SQLite
and PostgreSQL."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jxc.db.models import AuditLog, CashDoc, Invoice, StockDoc, TradeOrder
from jxc.domain.errors import BatchInvalid, InvalidInput, PermissionDenied
from jxc.domain.trade import Execution
from jxc.i18n import describe
from jxc.services import cash, importer, invoices, orders, stock, users
from tests.integration.test_import import failure, problem

D = Decimal
TRADE_TABLES = (TradeOrder, StockDoc, Invoice, CashDoc)


def rec(**fields: object) -> str:
    return json.dumps(fields, ensure_ascii=False)


def line(product: str, qty: str, price: str, **more: str) -> dict[str, str]:
    return {"product": product, "qty": qty, "price": price, "tax_rate": "0.13", **more}


MASTER = [
    rec(type="warehouse", code="WH01", name="主仓"),
    rec(type="partner", code="S001", name="华东电子", kind="supplier"),
    rec(type="partner", code="C001", name="星海商贸", kind="customer", credit_limit="50000.00"),
    rec(type="partner", code="C002", name="零售客户", kind="customer"),
    rec(type="product", code="P001", name="无线鼠标", unit="个", tax_rate="0.13"),
]

CYCLE = [
    *MASTER,
    rec(type="purchase_order", no="CGDD-202606-0001", date="2026-06-01", partner="S001", delivery_date="2026-06-10",
        lines=[line("P001", "100", "12.5000")]),
    rec(type="purchase_receipt", no="CGRK-202606-0001", date="2026-06-03", partner="S001", warehouse="WH01",
        order="CGDD-202606-0001", lines=[line("P001", "100", "12.5000")]),
    # Without an order: the bulk path, which now holds the balance of P001 in WH01 in memory.
    rec(type="purchase_receipt", no="CGRK-202606-0002", date="2026-06-04", partner="S001", warehouse="WH01",
        lines=[line("P001", "10", "12.5000")]),
    # Billed at 12.60 (within the match tolerance): the 10.00 difference goes to the stock still
    # held, through a cost adjustment the bulk path knows nothing of.
    rec(type="purchase_invoice", no="CGFP-202606-0001", date="2026-06-05", partner="S001", invoice_kind="special",
        source=["CGRK-202606-0001"], lines=[line("P001", "100", "12.6000")]),
    rec(type="payment", no="FKD-202606-0001", date="2026-06-08", partner="S001", account="1002", amount="1500.00",
        settle=[{"invoice": "CGFP-202606-0001", "amount": "1423.80"}]),
    # Bulk again, costed against the adjusted balance (a customer without a credit limit).
    rec(type="sales_delivery", no="XSCK-202606-0002", date="2026-06-06", partner="C002", warehouse="WH01",
        lines=[line("P001", "11", "30.0000")]),
    rec(type="sales_order", no="XSDD-202606-0001", date="2026-06-04", partner="C001", salesperson="王五",
        lines=[{"product": "P001", "qty": "30", "price_incl_tax": "28.25", "tax_rate": "0.13",
                "delivery_date": "2026-06-06"}]),
    rec(type="sales_delivery", no="XSCK-202606-0001", date="2026-06-06", partner="C001", warehouse="WH01",
        order="XSDD-202606-0001", salesperson="王五", lines=[line("P001", "30", "25.0000")]),
    rec(type="sales_invoice", no="XSFP-202606-0001", date="2026-06-09", partner="C001", invoice_kind="ordinary",
        source=["XSCK-202606-0001"], lines=[line("P001", "30", "25.0000")]),
    rec(type="receipt", no="SKD-202606-0001", date="2026-06-10", partner="C001", account="1002", amount="500.00",
        settle=[{"invoice": "XSFP-202606-0001", "amount": "500.00"}]),
]
CYCLE_COUNTS = {"warehouse": 1, "partner": 3, "product": 1, "purchase_order": 1, "purchase_receipt": 2,
                "purchase_invoice": 1, "payment": 1, "sales_order": 1, "sales_delivery": 2, "sales_invoice": 1,
                "receipt": 1}


def trade_counts(db: Session) -> dict[str, int]:
    with db.begin():
        return {m.__tablename__: db.scalar(select(func.count()).select_from(m)) for m in TRADE_TABLES}


def found(db: Session, find, *args: str) -> int:  # type: ignore[no-untyped-def]
    """A document id by number, the read ended so the next service can begin its own."""
    doc_id = find(db, *args)
    db.rollback()
    return int(doc_id)


def test_a_whole_cycle_imports_audited_and_settled(db, admin):
    log_before = trade_counts(db), db.scalar(select(func.max(AuditLog.seq))) or 0
    db.rollback()
    assert importer.import_records(db, CYCLE, actor=admin, audit=True) == CYCLE_COUNTS

    po = orders.get_order(db, found(db, orders.find_order_id, "purchase", "CGDD-202606-0001"), actor=admin)
    assert (po.status, po.execution, po.delivery_date.isoformat()) == ("audited", Execution.DONE, "2026-06-10")
    assert [(ln.done, ln.invoiced) for ln in po.lines] == [(100, 100)]
    so = orders.get_order(db, found(db, orders.find_order_id, "sales", "XSDD-202606-0001"), actor=admin)
    assert (so.execution, so.salesperson, so.lines[0].delivery_date.isoformat()) == (Execution.DONE, "王五",
                                                                                     "2026-06-06")
    assert (so.amount, so.tax) == (D("750.00"), D("97.50"))  # 30 × 28.25 including tax

    receipt = stock.get_stock_doc(db, found(db, stock.find_doc_id, "purchase_receipt", "CGRK-202606-0001"), actor=admin)
    assert receipt.status == "audited"

    # The purchase invoice billed the receipt and is settled in full by the payment.
    pinv = invoices.get_invoice(db, found(db, invoices.find_invoice_id, "purchase", "CGFP-202606-0001"), actor=admin)
    assert (pinv.status, pinv.total, pinv.open) == ("audited", D("1423.80"), D("0.00"))
    assert pinv.lines[0].billed == (("CGRK-202606-0001", D(100)),)
    payment = cash.get_cash(db, found(db, cash.find_cash_id, "purchase", "FKD-202606-0001"), actor=admin)
    assert (payment.status, payment.settled, payment.advance_open) == (
        "audited", (("CGFP-202606-0001", D("1423.80"), D("0.00")),), D("76.20"))

    # The sales invoice is settled in part.
    sinv = invoices.get_invoice(db, found(db, invoices.find_invoice_id, "sales", "XSFP-202606-0001"), actor=admin)
    assert (sinv.invoice_kind, sinv.total, sinv.open) == ("ordinary", D("847.50"), D("347.50"))

    after = trade_counts(db)
    assert {k: after[k] - log_before[0][k] for k in after} == {"trade_order": 2, "stock_doc": 5, "invoice": 2,
                                                                "cash_doc": 2}
    with db.begin():
        logged = sorted(db.scalars(select(AuditLog.action).where(AuditLog.seq > log_before[1],
                                                                 AuditLog.action.in_(["order.import",
                                                                                      "invoice.import",
                                                                                      "cash_doc.import"]))))
    assert logged == ["cash_doc.import"] * 2 + ["invoice.import"] * 2 + ["order.import"] * 2
    # The db fixture re-proves every whole-book invariant (stock values, open items, linked
    # quantities) after the test.


def test_without_audit_documents_are_drafts(db, admin):
    lines = [*MASTER,
             rec(type="purchase_order", date="2026-06-01", partner="S001", lines=[line("P001", "5", "10")]),
             rec(type="sales_invoice", date="2026-06-02", partner="C002", invoice_kind="special",
                 lines=[line("P001", "1", "20")]),
             rec(type="receipt", date="2026-06-03", partner="C002", account="1002", amount="22.60")]
    assert importer.import_records(db, lines, actor=admin) == {"warehouse": 1, "partner": 3, "product": 1,
                                                              "purchase_order": 1, "sales_invoice": 1, "receipt": 1}
    with db.begin():
        assert set(db.scalars(select(TradeOrder.status))) == {"draft"}
        assert set(db.scalars(select(Invoice.status))) == {"draft"}
        assert set(db.scalars(select(CashDoc.status))) == {"draft"}
        assert db.scalar(select(TradeOrder.no)) == "CGDD-202606-0001"  # numbered like an entered one


BAD_RULES = [
    *MASTER,  # lines 1-5
    rec(type="purchase_order", no="CGDD-202606-0001", date="2026-06-01", partner="S001",
        lines=[line("P001", "100", "12.50")]),  # 6
    rec(type="purchase_receipt", date="2026-06-03", partner="S001", warehouse="WH01", order="CGDD-202606-0001",
        lines=[line("P001", "150", "12.50")]),  # 7: more than ordered
    rec(type="purchase_receipt", no="CGRK-202606-0002", date="2026-06-03", partner="S001", warehouse="WH01",
        lines=[line("P001", "10", "12.50")]),  # 8
    rec(type="purchase_invoice", date="2026-06-05", partner="S001", invoice_kind="special",
        source=["CGRK-202606-0099"], lines=[line("P001", "10", "12.50")]),  # 9: unknown source
    rec(type="purchase_invoice", no="CGFP-202606-0001", date="2026-06-05", partner="S001", invoice_kind="special",
        source=["CGRK-202606-0002"], lines=[line("P001", "10", "12.50")]),  # 10
    rec(type="payment", date="2026-06-08", partner="S001", account="1002", amount="999.00",
        settle=[{"invoice": "CGFP-202606-0001", "amount": "999.00"}]),  # 11: above the invoice's 141.25
]
BAD_SHAPES = [
    json.dumps({"type": "receipt", "date": "2026-06-08", "partner": "C001", "account": "1002",
                "amount": 100}),  # 12: a JSON number
    rec(type="purchase_order", date="2026-06-01", partner="S001", salesperson="王五",
        lines=[line("P001", "1", "1")]),  # 13: salesperson on a purchase document
    rec(type="sales_invoice", date="2026-06-05", partner="C001", lines=[line("P001", "1", "1")]),  # 14: no kind
]
RULE_PROBLEMS = [
    (7, InvalidInput, ("lines[1].qty", "trade.over_order")),
    (9, BatchInvalid, [InvalidInput]),
    (11, BatchInvalid, [InvalidInput]),
]
SHAPE_PROBLEMS = [
    (12, InvalidInput, ("amount", "input.expect_string")),
    (13, InvalidInput, ("salesperson", "input.not_allowed")),
    (14, InvalidInput, ("invoice_kind", "input.required")),
]


@pytest.mark.parametrize("shapes", [False, True], ids=["rules only (fast path first)", "with parse problems"])
def test_a_bad_file_reports_every_line_and_imports_nothing(db, admin, shapes):
    lines = BAD_RULES + (BAD_SHAPES if shapes else [])
    before = trade_counts(db)
    errors = failure(db, lines, admin, audit=True)
    assert [problem(e) for e in errors] == RULE_PROBLEMS + (SHAPE_PROBLEMS if shapes else [])
    assert trade_counts(db) == before
    inner = [errors[1].error.errors[0], errors[2].error.errors[0]]
    assert [(e.params["field"], e.params["reason"]) for e in inner] == [
        ("sources[1]", "stock.unknown_source"), ("settle[1].amount", "trade.settle_exceeds")]
    text = describe(errors[2], "zh_CN")
    assert text.startswith("文件第 11 行") and "核销金额 999.00 超过未核销金额 141.25" in text
    assert "超过订单" in describe(errors[0], "zh_CN") and "{" not in describe(errors[0], "en")


def test_import_needs_the_trade_permissions(db, admin):
    users.add_user(db, "keeper", "keeper-pass", roles=["warehouse"], actor=admin)
    keeper = users.load_actor(db, "keeper")
    db.rollback()
    with pytest.raises(PermissionDenied) as err:
        importer.import_records(db, [CYCLE[5]], actor=keeper)
    assert err.value.params["permission"] == "order.create"
    assert importer._permissions_for(["purchase_invoice", "receipt", "sales_order"], True) == [
        "cash.audit", "cash.create", "invoice.audit", "invoice.create", "order.audit", "order.create"]
