"""Document entry pages: the forms for every type, saving (draft and audited) through the
documents service, errors next to their cell, one document per idempotency key, live VAT
amounts from the server, FEFO batches, and documents made from orders and receipts."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jxc.db.models import Invoice, StockDoc
from jxc.db.session import session_factory
from jxc.services import documents, users

Web = Callable[[str], TestClient]

KINDS = ("purchase_receipt", "purchase_return", "sales_delivery", "sales_return", "transfer", "other_in",
         "other_out", "stocktake", "purchase_order", "sales_order", "purchase_invoice", "sales_invoice", "payment",
         "receipt", "voucher")


@pytest.fixture
def db(app: FastAPI) -> Iterator[Session]:
    session = session_factory(app.state.engine)()
    try:
        yield session
    finally:
        session.close()


def _count(db: Session, model: Any, **where: Any) -> int:
    stmt = select(func.count()).select_from(model)
    for name, value in where.items():
        stmt = stmt.where(getattr(model, name) == value)
    n = db.execute(stmt).scalar_one()
    db.rollback()
    return int(n)


def _receipt_form(key: str, lines: list[dict[str, str]], **head: str) -> dict[str, str]:
    data = {"idempotency_key": key, "date": "2026-03-28", "partner": "S001", "warehouse": "WH01",
            "memo": "web entry test", "action": "save", **head}
    for i, line in enumerate(lines, start=1):
        for name, value in line.items():
            data[f"lines[{i}].{name}"] = value
    return data


def _doc_id(response: Any, kind: str) -> int:
    assert response.status_code == 303, response.text[:2000]
    m = re.fullmatch(rf"/docs/{kind}/(\d+)", response.headers["location"])
    assert m, response.headers["location"]
    return int(m.group(1))


def _status(db: Session, kind: str, doc_id: int) -> str:
    admin = users.load_actor(db, "admin")
    db.rollback()
    return str(documents.get_document(db, kind, doc_id, actor=admin).status)


@pytest.mark.parametrize("kind", KINDS)
def test_the_form_renders_for_every_kind(web: Web, kind: str) -> None:
    r = web("admin").get(f"/docs/{kind}/new")
    assert r.status_code == 200, r.text[:2000]
    assert 'class="entry"' in r.text and 'name="idempotency_key"' in r.text
    assert 'id="line-template"' in r.text and "entry.js" in r.text
    assert "<kbd>Ctrl+S</kbd>" in r.text


def test_each_render_has_its_own_idempotency_key(web: Web) -> None:
    keys = {re.search(r'name="idempotency_key" value="([^"]+)"', web("admin").get(
        "/docs/purchase_receipt/new").text).group(1) for _ in range(2)}  # type: ignore[union-attr]
    assert len(keys) == 2


def test_saving_a_purchase_receipt_makes_a_draft(web: Web, db: Session) -> None:
    form = _receipt_form(uuid.uuid4().hex, [
        {"product": "P001", "qty": "10", "price": "45.5", "tax_rate": "0.13"},
        {"product": "", "qty": "", "price": "", "tax_rate": "0.13"},  # blank lines are left out
        {"product": "P002", "qty": "2", "price": "199", "tax_rate": ""},
        {"product": "", "qty": "", "price": ""},
    ])
    r = web("purchasing").post("/docs/purchase_receipt/new", data=form)
    doc_id = _doc_id(r, "purchase_receipt")
    assert _status(db, "purchase_receipt", doc_id) == "draft"
    admin = users.load_actor(db, "admin")
    db.rollback()
    view = documents.get_document(db, "purchase_receipt", doc_id, actor=admin)
    assert [ln.product for ln in view.lines] == ["P001", "P002"]


def test_save_and_audit_audits_it(web: Web, db: Session) -> None:
    form = _receipt_form(uuid.uuid4().hex, [{"product": "P002", "qty": "4", "price": "199", "tax_rate": "0.13"},
                                            {"product": "P005", "qty": "20", "price": "12.8", "batch": "T-AUDIT",
                                             "expiry": "2028-12-31"}], action="audit")
    r = web("warehouse").post("/docs/purchase_receipt/new", data=form)
    doc_id = _doc_id(r, "purchase_receipt")
    assert _status(db, "purchase_receipt", doc_id) == "audited"


def test_a_bad_line_comes_back_next_to_its_cell_and_nothing_is_saved(web: Web, db: Session) -> None:
    before = _count(db, StockDoc, doc_type="purchase_receipt")
    form = _receipt_form(uuid.uuid4().hex, [{"product": "P001", "qty": "10", "price": "45.5"},
                                            {"product": "P002", "qty": "abc", "price": "199"}])
    r = web("admin").post("/docs/purchase_receipt/new", data=form)
    assert r.status_code == 422
    row2 = re.search(r'<tr class="line[^"]*" data-row="2">(.*?)</tr>', r.text, re.S)
    assert row2, r.text[:3000]
    assert re.search(r'<td class="num qty invalid"[^>]*><input name="lines\[2\]\.qty" value="abc"', row2.group(1))
    assert 'class="cell-error"' in row2.group(1)
    assert 'value="P001"' in r.text and 'value="web entry test"' in r.text  # what was typed is kept
    assert form["idempotency_key"] in r.text
    assert _count(db, StockDoc, doc_type="purchase_receipt") == before


def test_header_and_general_errors(web: Web, db: Session) -> None:
    form = _receipt_form(uuid.uuid4().hex, [{"product": "P001", "qty": "1", "price": "1"}], partner="NOPE",
                         date="2026-02-10")
    r = web("admin").post("/docs/purchase_receipt/new", data=form)
    assert r.status_code == 422
    assert re.search(r'<div class="field required invalid[^"]*">\s*<label for="f-partner"', r.text)
    form = _receipt_form(uuid.uuid4().hex, [{"product": "P001", "qty": "1", "price": "1"}], date="2026-02-10")
    r = web("admin").post("/docs/purchase_receipt/new", data=form)
    assert r.status_code == 422 and 'class="alert error"' in r.text  # February is closed


def test_the_same_key_twice_makes_one_document(web: Web, db: Session) -> None:
    before = _count(db, StockDoc, doc_type="purchase_receipt")
    form = _receipt_form(uuid.uuid4().hex, [{"product": "P003", "qty": "2", "price": "870"}])
    first = web("admin").post("/docs/purchase_receipt/new", data=form)
    second = web("admin").post("/docs/purchase_receipt/new", data=form)
    assert _doc_id(first, "purchase_receipt") == _doc_id(second, "purchase_receipt")
    assert _count(db, StockDoc, doc_type="purchase_receipt") == before + 1


def test_a_warehouse_clerk_cannot_open_a_purchase_order_form(web: Web) -> None:
    r = web("warehouse").get("/docs/purchase_order/new")
    assert r.status_code == 403
    assert "<html" in r.text
    assert web("warehouse").get("/docs/purchase_receipt/new").status_code == 200


def test_an_unknown_kind_is_not_found(web: Web) -> None:
    assert web("admin").get("/docs/opening_stock/new").status_code == 404


def test_preview_splits_vat_from_a_price_including_tax(web: Web) -> None:
    data = {"price_incl_tax": "1", "lines[1].product": "P001", "lines[1].qty": "3", "lines[1].price": "10.01",
            "lines[1].tax_rate": "0.13", "lines[2].product": "P002", "lines[2].qty": "2", "lines[2].price": "100",
            "lines[3].product": "", "lines[3].qty": "", "lines[3].price": ""}
    r = web("sales").post("/docs/sales_order/preview", data=data)
    assert r.status_code == 200, r.text
    body = r.json()
    # 3 × 10.01 = 30.03 incl. VAT; 30.03 / 1.13 = 26.575… -> 26.58, VAT the rest: 3.45.
    assert body["lines"][0]["amount"] == "26.58" and body["lines"][0]["tax"] == "3.45"
    assert body["lines"][0]["total"] == "30.03"
    # The second line takes its product's rate (13%): 200.00 -> 176.99 + 23.01.
    assert body["lines"][1]["amount"] == "176.99" and body["lines"][1]["tax_rate"] == "0.13"
    assert body["lines"][2]["amount"] == ""
    assert body["totals"] == {"qty": "5", "amount": "203.57", "tax": "26.46", "total": "230.03"}


def test_preview_of_a_voucher_shows_its_balance(web: Web) -> None:
    r = web("accountant").post("/docs/voucher/preview", data={
        "lines[1].account": "5602", "lines[1].debit": "1,200.50", "lines[2].account": "1001",
        "lines[2].credit": "1000"})
    totals = r.json()["totals"]
    assert totals["debit"] == "1,200.50" and totals["credit"] == "1,000.00" and not totals["balanced"]
    assert totals["fill_credit"] == "200.50"


def test_lookup_resolves_a_scanned_barcode(web: Web) -> None:
    items = web("warehouse").get("/ui/lookup/products", params={"q": "6901234567939"}).json()["items"]
    assert items[0]["code"] == "P005" and items[0]["exact"] and items[0]["batch"] is True
    names = web("warehouse").get("/ui/lookup/products", params={"q": "键盘"}).json()["items"]
    assert [i["code"] for i in names] == ["P002"] and not names[0]["exact"]
    partners = web("sales").get("/ui/lookup/partners", params={"q": "", "kind": "customer"}).json()["items"]
    assert {p["code"] for p in partners} == {"C001", "C002", "C003"}
    cash = web("accountant").get("/ui/lookup/accounts", params={"q": "100", "cash": "1"}).json()["items"]
    assert {a["code"] for a in cash} >= {"1001", "1002"}


def test_fefo_suggests_the_batch_expiring_first(web: Web) -> None:
    form = _receipt_form(uuid.uuid4().hex, [{"product": "P005", "qty": "5", "price": "12.8", "batch": "T-EARLY",
                                             "expiry": "2026-06-30"}], warehouse="WH02", action="audit")
    _doc_id(web("admin").post("/docs/purchase_receipt/new", data=form), "purchase_receipt")
    r = web("warehouse").get("/ui/fefo", params={"product": "P005", "warehouse": "WH02", "qty": "8"})
    picks = r.json()["picks"]
    assert picks[0] == {"batch": "T-EARLY", "qty": "5", "expiry": "2026-06-30"}
    assert picks[1]["batch"] == "B20260115" and picks[1]["qty"] == "3"
    assert r.json()["short"] == ""
    huge = web("warehouse").get("/ui/fefo", params={"product": "P005", "warehouse": "WH02", "qty": "100000"})
    assert huge.json()["short"]


def test_open_invoices_for_a_receipt(web: Web) -> None:
    items = web("accountant").get("/ui/lookup/invoices", params={"side": "sales", "partner": "C001"}).json()["items"]
    assert items and all(i["code"].startswith("XSFP-") for i in items)


def test_a_receipt_from_an_order(web: Web, db: Session) -> None:
    admin = users.load_actor(db, "admin")
    db.rollback()
    order_id = documents.find_document(db, "purchase_order", "CGDD-202603-0001", actor=admin)
    page = web("purchasing").get(f"/docs/purchase_receipt/from-order/{order_id}")
    assert page.status_code == 200 and "CGDD-202603-0001" in page.text
    r = web("purchasing").post(f"/docs/purchase_receipt/from-order/{order_id}",
                               data={"date": "2026-03-29", "warehouse": "WH01", "idempotency_key": uuid.uuid4().hex})
    doc_id = _doc_id(r, "purchase_receipt")
    view = documents.get_document(db, "purchase_receipt", doc_id, actor=admin)
    assert view.status == "draft" and {ln.product for ln in view.lines} == {"P001", "P003"}


def test_an_invoice_from_receipts(web: Web, db: Session) -> None:
    page = web("purchasing").get("/docs/purchase_invoice/from-stock", params={"source": "CGRK-202603-0002"})
    assert page.status_code == 200 and "CGRK-202603-0002" in page.text
    before = _count(db, Invoice)
    r = web("purchasing").post("/docs/purchase_invoice/from-stock?source=CGRK-202603-0002",
                               data={"date": "2026-03-30", "invoice_kind": "special",
                                     "idempotency_key": uuid.uuid4().hex})
    _doc_id(r, "purchase_invoice")
    assert _count(db, Invoice) == before + 1


def test_from_stock_with_an_unknown_source_says_so(web: Web) -> None:
    r = web("purchasing").post("/docs/purchase_invoice/from-stock",
                               data={"source": "CGRK-NOPE", "date": "2026-03-30", "invoice_kind": "special"})
    assert r.status_code == 422 and 'class="alert error"' in r.text


def test_saving_a_voucher(web: Web, db: Session) -> None:
    r = web("accountant").post("/docs/voucher/new", data={
        "idempotency_key": uuid.uuid4().hex, "date": "2026-03-31", "memo": "差旅费", "action": "save",
        "lines[1].memo": "报销差旅费", "lines[1].account": "5602", "lines[1].debit": "1200",
        "lines[2].memo": "付现金", "lines[2].account": "1001", "lines[2].credit": "1200",
        "lines[3].memo": "", "lines[3].account": "", "lines[3].debit": "", "lines[3].credit": ""})
    _doc_id(r, "voucher")
