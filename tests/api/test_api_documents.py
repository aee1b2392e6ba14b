"""Documents over real HTTP: every kind created, read, listed, audited, un-audited and deleted;
keyset pagination; idempotency keys; 422 with field paths; 409 refusals that write nothing;
documents from orders and receipts; settlements; red-letter reversal; FEFO batches."""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from jxc.services.documents import KINDS, entity_of
from tests.api.samples import RECORDS

Api = Callable[[str], TestClient]


def every(client: TestClient, kind: str, **params: Any) -> list[dict[str, Any]]:
    """The whole list of a kind, walked page by page."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        r = client.get(f"/api/documents/{kind}", params={**params, "cursor": cursor} if cursor else params)
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if not cursor:
            return items


def count(client: TestClient, kind: str) -> int:
    return len(every(client, kind, limit=200))


@pytest.mark.parametrize("kind", KINDS)
def test_create_read_list_audit_unaudit_delete(api: Api, kind: str) -> None:
    admin = api("admin")
    before = count(admin, kind)
    r = admin.post(f"/api/documents/{kind}", json=RECORDS[kind])
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["kind"] == kind and made["status"] == "draft" and made["entity"] == entity_of(kind)
    assert r.headers["location"] == f"/api/documents/{kind}/{made['id']}"

    doc = admin.get(r.headers["location"])
    assert doc.status_code == 200, doc.text
    assert doc.json()["id"] == made["id"] and doc.json()["status"] == "draft"
    assert doc.json().get("memo", RECORDS[kind]["memo"]) == RECORDS[kind]["memo"]  # invoices show no memo
    by_no = admin.get(f"/api/documents/{kind}/by-no/{made['no']}")
    assert by_no.status_code == 200 and by_no.json()["id"] == made["id"]

    listed = every(admin, kind)
    assert len(listed) == before + 1
    row = next(x for x in listed if x["id"] == made["id"])
    assert row["no"] == made["no"] and row["status"] == "draft" and row["date"] == RECORDS[kind]["date"]
    assert row["amount"] is None or isinstance(row["amount"], str)  # decimals are strings
    assert [x["id"] for x in every(admin, kind, status="draft")].count(made["id"]) == 1

    audited = admin.post(f"/api/documents/{kind}/{made['id']}/audit")
    assert audited.status_code == 200, audited.text
    assert audited.json()["status"] == "audited"
    again = admin.post(f"/api/documents/{kind}/{made['id']}/audit")
    assert again.status_code == 409, again.text
    assert again.json()["error"]["code"] and again.json()["error"]["message"]
    undone = admin.post(f"/api/documents/{kind}/{made['id']}/unaudit")
    assert undone.status_code == 200, undone.text
    assert undone.json()["status"] == "draft"

    if kind == "voucher":  # vouchers are voided, never deleted
        assert admin.delete(f"/api/documents/{kind}/{made['id']}").status_code == 422
        voided = admin.post(f"/api/documents/{kind}/{made['id']}/void")
        assert voided.status_code == 200 and voided.json()["status"] == "void", voided.text
        return
    assert admin.delete(f"/api/documents/{kind}/{made['id']}").status_code == 204
    assert admin.get(f"/api/documents/{kind}/{made['id']}").status_code == 404
    assert count(admin, kind) == before


def test_create_audited_in_one_go(api: Api) -> None:
    r = api("admin").post("/api/documents/sales_delivery", json=RECORDS["sales_delivery"], params={"audit": True})
    assert r.status_code == 201 and r.json()["status"] == "audited", r.text
    doc = api("admin").get(r.headers["location"]).json()
    assert doc["voucher"], "an audited delivery has its voucher"
    v = api("admin").post("/api/documents/voucher", json=RECORDS["voucher"], params={"audit": True})
    assert v.status_code == 201 and v.json()["status"] == "posted", v.text


def test_an_id_of_another_kind_is_not_found(api: Api) -> None:
    receipt = api("admin").post("/api/documents/purchase_receipt", json=RECORDS["purchase_receipt"]).json()
    assert api("admin").get(f"/api/documents/sales_delivery/{receipt['id']}").status_code == 404
    assert api("admin").post(f"/api/documents/purchase_return/{receipt['id']}/audit").status_code == 404
    r = api("admin").get("/api/documents/bogus_kind")
    assert r.status_code == 422 and r.json()["error"]["field"] == "type"
    r = api("admin").post(f"/api/documents/purchase_receipt/{receipt['id']}/explode")
    assert r.status_code == 422 and r.json()["error"]["field"] == "action"


def test_keyset_pagination_walks_every_page_once(api: Api) -> None:
    admin = api("admin")
    for day in ("2026-03-02", "2026-03-02", "2026-03-09", "2026-03-15"):
        assert admin.post("/api/documents/other_in", json={**RECORDS["other_in"], "date": day}).status_code == 201
    whole = admin.get("/api/documents/other_in", params={"limit": 200}).json()
    assert whole["next_cursor"] is None
    expected = [x["id"] for x in whole["items"]]
    assert len(expected) >= 4
    for size in (1, 2, 3):
        seen: list[int] = []
        cursor = None
        pages = 0
        while True:
            params: dict[str, Any] = {"limit": size, **({"cursor": cursor} if cursor else {})}
            page = admin.get("/api/documents/other_in", params=params).json()
            assert len(page["items"]) <= size
            seen += [x["id"] for x in page["items"]]
            pages += 1
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == expected, f"page size {size}: no repeats, no gaps, newest first"
        assert pages >= len(expected) // size
    dates = [x["date"] for x in whole["items"]]
    assert dates == sorted(dates, reverse=True)
    bad = admin.get("/api/documents/other_in", params={"cursor": "yesterday"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "cursor"


def test_list_filters(api: Api) -> None:
    admin = api("admin")
    by_partner = every(admin, "sales_invoice", partner="C002")
    assert by_partner and all(x["partner"] == "C002" for x in by_partner)
    march = every(admin, "sales_invoice", date_from="2026-03-01", date_to="2026-03-31")
    assert march and all(x["date"].startswith("2026-03") for x in march)
    numbered = every(admin, "sales_invoice", q="XSFP-202601")
    assert numbered and all(x["no"].startswith("XSFP-202601") for x in numbered)


def test_idempotency_key_gives_one_document(api: Api) -> None:
    admin = api("admin")
    key = uuid.uuid4().hex
    body = {**RECORDS["purchase_order"], "memo": f"idem {key}"}
    before = count(admin, "purchase_order")
    first = admin.post("/api/documents/purchase_order", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    second = admin.post("/api/documents/purchase_order", json=body, headers={"Idempotency-Key": key})
    assert second.status_code == 200, second.text
    assert second.headers["idempotent-replayed"] == "true"
    assert second.json()["id"] == first.json()["id"] and second.json()["no"] == first.json()["no"]
    assert count(admin, "purchase_order") == before + 1

    other = admin.post("/api/documents/purchase_order", json={**body, "memo": "another body"},
                       headers={"Idempotency-Key": key})
    assert other.status_code == 422, other.text
    assert other.json()["error"]["code"] == "idempotency.mismatch"
    assert count(admin, "purchase_order") == before + 1
    # The key is the user's own: another user with the same key makes their own document.
    theirs = api("purchasing").post("/api/documents/purchase_order", json=body, headers={"Idempotency-Key": key})
    assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]


def test_concurrent_requests_with_one_key_make_one_document(api: Api, demo_url: str) -> None:
    admin = api("admin")
    key = uuid.uuid4().hex
    body = {**RECORDS["sales_order"], "memo": f"race {key}"}
    before = count(admin, "sales_order")
    clients = [TestClient(admin.app, raise_server_exceptions=False) for _ in range(4)]
    for c in clients:
        c.headers["Authorization"] = admin.headers["Authorization"]
    barrier = threading.Barrier(len(clients))
    results: list[Any] = [None] * len(clients)

    def post(i: int) -> None:
        barrier.wait()
        results[i] = clients[i].post("/api/documents/sales_order", json=body, headers={"Idempotency-Key": key})
    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 200, 200, 201], [r.text for r in results]
    assert len({r.json()["id"] for r in results}) == 1
    assert count(admin, "sales_order") == before + 1


def test_invalid_bodies_are_422_with_field_paths_and_write_nothing(api: Api) -> None:
    admin = api("admin")
    before = count(admin, "purchase_receipt")

    def refused(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        body = copy.deepcopy(RECORDS["purchase_receipt"])
        body["lines"].append({"product": "P002", "qty": "4", "price": "180.0000", "tax_rate": "0.13"})
        change(body)
        r = admin.post("/api/documents/purchase_receipt", json=body)
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["message"] and all(e["message"] for e in error["errors"])
        return dict(error)

    def bad_date(b: dict[str, Any]) -> None:
        b["date"] = "2026-02-30"
    assert refused(bad_date)["field"] == "date"

    def no_lines(b: dict[str, Any]) -> None:
        del b["lines"]
    assert refused(no_lines)["field"] == "lines"

    def unknown_product(b: dict[str, Any]) -> None:
        b["lines"][1]["product"] = "NO-SUCH"
    error = refused(unknown_product)
    assert error["field"] == "lines[2].product"
    assert "NO-SUCH" in error["message"]

    def bad_qty(b: dict[str, Any]) -> None:
        b["lines"][2]["qty"] = "a dozen"
    assert refused(bad_qty)["field"] == "lines[3].qty"

    def number_not_text(b: dict[str, Any]) -> None:
        b["lines"][0]["qty"] = 12  # a JSON number: decimals travel as strings
    assert refused(number_not_text)["field"] == "lines[1].qty"

    def unknown_field(b: dict[str, Any]) -> None:
        b["colour"] = "red"
    assert refused(unknown_field)["field"] == "colour"

    def several(b: dict[str, Any]) -> None:
        b["date"] = "soon"
        b["lines"][1]["qty"] = 3
    fields = {e["field"] for e in refused(several)["errors"]}
    assert {"date", "lines[2].qty"} <= fields

    english = admin.post("/api/documents/purchase_receipt", json={**RECORDS["purchase_receipt"], "date": "x"},
                         headers={"Accept-Language": "en"})
    assert english.status_code == 422 and "YYYY-MM-DD" in english.json()["error"]["message"]
    assert count(admin, "purchase_receipt") == before


def test_business_refusals_are_409_and_write_nothing(api: Api) -> None:
    admin = api("admin")
    before = count(admin, "sales_delivery")
    january = admin.post("/api/documents/sales_delivery", json={**RECORDS["sales_delivery"], "date": "2026-01-20"})
    assert january.status_code == 409, january.text
    assert january.json()["error"]["code"] == "period.closed"
    audited_jan = admin.post("/api/documents/sales_delivery", params={"audit": True},
                             json={**RECORDS["sales_delivery"], "date": "2026-01-20"})
    assert audited_jan.status_code == 409
    too_many = copy.deepcopy(RECORDS["sales_delivery"])
    too_many["lines"][0]["qty"] = "99999"
    short = admin.post("/api/documents/sales_delivery", json=too_many, params={"audit": True})
    assert short.status_code in (409, 422), short.text
    assert count(admin, "sales_delivery") == before
    # An audited document of a closed month cannot be un-audited.
    old = admin.get("/api/documents/sales_delivery/by-no/XSCK-202601-0001").json()
    r = admin.post(f"/api/documents/sales_delivery/{old['id']}/unaudit")
    assert r.status_code == 409, r.text
    assert admin.get(f"/api/documents/sales_delivery/{old['id']}").json()["status"] == "audited"


def test_receipt_from_an_order(api: Api) -> None:
    admin = api("admin")
    preview = admin.post("/api/orders/purchase/CGDD-202603-0001/receive",
                         json={"date": "2026-03-28", "warehouse": "WH01"})
    assert preview.status_code == 200, preview.text
    assert preview.json()["kind"] == "purchase_receipt"
    record = preview.json()["record"]
    assert record["order"] == "CGDD-202603-0001" and record["partner"] == "S001"
    assert {ln["product"] for ln in record["lines"]} == {"P001", "P003"}
    made = admin.post("/api/documents/purchase_receipt", json=record, params={"audit": True})
    assert made.status_code == 201, made.text
    nothing_left = admin.post("/api/orders/purchase/CGDD-202603-0001/receive",
                              json={"date": "2026-03-28", "warehouse": "WH01"})
    assert nothing_left.status_code == 422 and nothing_left.json()["error"]["field"] == "order"

    delivered = admin.post("/api/orders/sales/XSDD-202603-0001/deliver",
                           json={"date": "2026-03-28", "warehouse": "WH01", "create": True})
    assert delivered.status_code == 201, delivered.text
    assert delivered.json()["kind"] == "sales_delivery" and delivered.json()["status"] == "draft"
    assert admin.get(delivered.headers["location"]).json()["partner"] == "C002"


def test_invoice_from_a_receipt(api: Api) -> None:
    admin = api("admin")
    receipt = admin.post("/api/documents/purchase_receipt", json=RECORDS["purchase_receipt"],
                         params={"audit": True}).json()
    r = admin.post("/api/invoices/purchase/from-stock", json={"sources": [receipt["no"]], "date": "2026-03-29",
                                                               "create": True, "audit": True})
    assert r.status_code == 201, r.text
    assert r.json()["kind"] == "purchase_invoice" and r.json()["status"] == "audited"
    assert r.json()["record"]["source"] == [receipt["no"]]
    invoice = admin.get(r.headers["location"]).json()
    assert invoice["total"] == "1672.40"  # (20 × 45 + 5 × 116) × 1.13
    again = admin.post("/api/invoices/purchase/from-stock", json={"sources": [receipt["no"]], "date": "2026-03-29"})
    assert again.status_code == 200 and again.json()["record"]["lines"] == [], "nothing left to bill"
    unknown = admin.post("/api/invoices/purchase/from-stock", json={"sources": ["NOPE"], "date": "2026-03-29"})
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "sources[1]"


def test_settle_and_undo(api: Api) -> None:
    admin = api("admin")
    invoice = admin.post("/api/documents/sales_invoice", params={"audit": True},
                         json={**RECORDS["sales_invoice"], "partner": "C001"}).json()
    receipt = admin.post("/api/documents/receipt", params={"audit": True},
                         json={**RECORDS["receipt"], "partner": "C001", "amount": "30.00"}).json()
    r = admin.post("/api/settlements", json={"side": "sales", "partner": "C001", "date": "2026-03-30",
                                             "invoices": [{"invoice": invoice["no"], "amount": "30.00"}],
                                             "credits": [receipt["no"]]})
    assert r.status_code == 201, r.text
    assert r.json()["amount"] == "30.00"
    float_amount = admin.post("/api/settlements", json={"side": "sales", "partner": "C001", "date": "2026-03-30",
                                                        "invoices": [{"invoice": invoice["no"], "amount": 2}],
                                                        "credits": [receipt["no"]]})
    assert float_amount.status_code == 422
    undone = admin.delete(f"/api/settlements/{r.json()['no']}")
    assert undone.status_code == 200, undone.text
    assert admin.delete(f"/api/settlements/{r.json()['no']}").status_code in (404, 409, 422)


def test_reverse_a_stock_document_and_a_voucher(api: Api) -> None:
    admin = api("admin")
    old = admin.get("/api/documents/other_out/by-no/QTCK-202602-0001").json()  # in closed February
    r = admin.post(f"/api/documents/other_out/{old['id']}/reverse", json={"date": "2026-03-30", "audit": True})
    assert r.status_code == 201, r.text
    red = admin.get(f"/api/documents/other_out/{r.json()['id']}").json()
    assert red["red"] is True and red["status"] == "audited" and red["doc_date"] == "2026-03-30"

    posted = admin.post("/api/documents/voucher", json=RECORDS["voucher"], params={"audit": True}).json()
    v = admin.post(f"/api/documents/voucher/{posted['id']}/reverse", json={"date": "2026-03-30"})
    assert v.status_code == 201, v.text
    assert v.json()["status"] == "draft"
    lines = admin.get(f"/api/documents/voucher/{v.json()['id']}").json()["lines"]
    assert lines[0]["debit"] == "-120.00"
    order = admin.get("/api/documents/purchase_order/by-no/CGDD-202603-0001").json()
    no = admin.post(f"/api/documents/purchase_order/{order['id']}/reverse", json={"date": "2026-03-30"})
    assert no.status_code == 422 and no.json()["error"]["field"] == "kind"


def test_a_stock_document_is_reversed_only_once(api: Api) -> None:
    admin = api("admin")
    out = admin.post("/api/documents/other_out", json=RECORDS["other_out"], params={"audit": True}).json()
    first = admin.post(f"/api/documents/other_out/{out['id']}/reverse", json={"date": "2026-03-30", "audit": True})
    assert first.status_code == 201, first.text
    twice = admin.post(f"/api/documents/other_out/{out['id']}/reverse", json={"date": "2026-03-30", "audit": True})
    assert twice.status_code == 422, "a second reversal would put the stock back twice"
    assert twice.json()["error"]["errors"][0]["code"] == "stock.return_exceeds"


def test_fefo_batches(api: Api) -> None:
    r = api("warehouse").get("/api/stock/batches", params={"product": "P005", "warehouse": "WH01", "qty": "20"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["qty"] == "20" and body["available"] == "20"
    assert body["batches"] and all(isinstance(b["qty"], str) for b in body["batches"])
    expiries = [b["expiry"] for b in body["batches"]]
    assert expiries == sorted(expiries)
    bad = api("warehouse").get("/api/stock/batches", params={"product": "P005", "warehouse": "WH01", "qty": "lots"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "qty"
    more = api("warehouse").get("/api/stock/batches", params={"product": "P005", "warehouse": "WH01",
                                                              "qty": "100000"}).json()
    assert Decimal(0) < Decimal(more["available"]) < Decimal(100000)


def test_openapi_documents_the_api(app: Any, api: Api) -> None:
    client = TestClient(app)
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    assert "/static/vendor/swagger-ui-bundle.js" in docs.text and "cdn" not in docs.text.lower()
    spec = client.get("/api/openapi.json").json()
    assert "/api/documents/{kind}" in spec["paths"]
    post = spec["paths"]["/api/documents/{kind}"]["post"]
    assert post["summary"] and post["tags"] == ["documents"]
    assert {"documents", "master data", "reports", "close", "users"} <= {
        t for p in spec["paths"].values() for op in p.values() for t in op.get("tags", [])}
