"""Document lists and document pages over HTTP, on the demo books (SQLite and PostgreSQL):
search, filters and keyset pages; a document's lines, stock entries, voucher and links; the
action buttons, their refusals, CSRF and permissions; the by-entity redirect."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from jxc.services.documents import KINDS

Web = Callable[[str], TestClient]
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

NEXT = re.compile(r'<a href="([^"]+)" rel="next">')
FIRST = re.compile(r'<a href="([^"]+)" rel="first">')


def numbers(html: str, kind: str) -> list[str]:
    return re.findall(rf'<a href="/docs/{kind}/\d+">([^<]+)</a>', html)


def doc_id(client: TestClient, kind: str, no: str) -> int:
    r = client.get(f"/docs/{kind}", params={"q": no})
    assert r.status_code == 200, r.text
    found = re.search(rf'<a href="/docs/{kind}/(\d+)">{re.escape(no)}</a>', r.text)
    assert found, f"{no} is in the {kind} list"
    return int(found.group(1))


def badge(html: str) -> str:
    """The status badge in the page heading."""
    found = re.search(r'<h1>.*?<span class="badge (\w+)">', html, re.S)
    assert found
    return found.group(1)


def action_forms(html: str) -> list[str]:
    return re.findall(r'<form method="post" action="/docs/[a-z_]+/\d+/([a-z_]+)"', html)


# --- lists ----------------------------------------------------------------------------

def test_every_kind_lists_with_demo_data(web: Web) -> None:
    c = web("admin")
    expect = {"purchase_receipt": "CGRK-202601-0001", "sales_delivery": "XSCK-202601-0001",
              "sales_return": "XSTH-202602-0001", "transfer": "DB-202601-0001", "other_out": "QTCK-202602-0001",
              "stocktake": "PD-202603-0001", "purchase_order": "CGDD-202603-0001",
              "sales_order": "XSDD-202603-0001", "purchase_invoice": "CGFP-202601-0001",
              "sales_invoice": "XSFP-202601-0001", "payment": "FKD-", "receipt": "SKD-", "voucher": "记-0001"}
    for kind in KINDS:
        r = c.get(f"/docs/{kind}")
        assert r.status_code == 200, (kind, r.text[-500:])
        assert 'type="search" name="q"' in r.text
        assert 'hx-get="/docs/' in r.text and 'hx-push-url="true"' in r.text
        if kind in expect:
            assert expect[kind] in r.text, kind
            assert numbers(r.text, kind), kind
        else:  # purchase_return, other_in, cost_adjustment: none in the demo
            assert 'class="empty' in r.text, kind
    # newest first
    listed = numbers(c.get("/docs/sales_delivery").text, "sales_delivery")
    assert listed[0] == "XSCK-202603-0004" and listed[-1] == "XSCK-202601-0001"
    assert c.get("/docs/nonsense").status_code == 404


def test_new_button_only_for_who_may_create(web: Web) -> None:
    assert 'href="/docs/sales_delivery/new"' in web("warehouse").get("/docs/sales_delivery").text
    assert 'href="/docs/sales_delivery/new"' not in web("viewer").get("/docs/sales_delivery").text
    assert 'href="/docs/voucher/new"' in web("accountant").get("/docs/voucher").text
    assert web("sales").get("/docs/voucher").status_code == 403  # no ledger.read


def test_search_by_number_partner_and_filters(web: Web) -> None:
    c = web("admin")
    by_no = numbers(c.get("/docs/sales_delivery", params={"q": "XSCK-202602"}).text, "sales_delivery")
    assert sorted(by_no) == ["XSCK-202602-0001", "XSCK-202602-0002", "XSCK-202602-0003"]
    by_name = numbers(c.get("/docs/sales_delivery", params={"q": "明远"}).text, "sales_delivery")  # C002's name
    assert "XSCK-202601-0002" in by_name and "XSCK-202601-0001" not in by_name
    by_code = numbers(c.get("/docs/sales_delivery", params={"partner": "C003"}).text, "sales_delivery")
    assert "XSCK-202601-0001" in by_code and "XSCK-202601-0002" not in by_code
    dated = numbers(c.get("/docs/sales_delivery", params={"date_from": "2026-03-01", "date_to": "2026-03-31"}).text,
                    "sales_delivery")
    assert dated and all(n.startswith("XSCK-202603") for n in dated)
    drafts = c.get("/docs/sales_delivery", params={"status": "draft"})
    assert numbers(drafts.text, "sales_delivery") == [] and 'class="empty' in drafts.text
    memo = numbers(c.get("/docs/voucher", params={"q": "XSCK-202601-0001"}).text, "voucher")
    assert len(memo) == 1
    bad = c.get("/docs/sales_delivery", params={"date_from": "2026-13-01"})
    assert bad.status_code == 200 and 'class="alert error"' in bad.text


def test_keyset_pages_walk_every_document_once(web: Web) -> None:
    c = web("admin")
    everything = numbers(c.get("/docs/voucher", params={"limit": "200"}).text, "voucher")
    seen: list[str] = []
    url: str | None = "/docs/voucher?limit=3"
    pages = 0
    while url:
        r = c.get(url.replace("&amp;", "&"))
        assert r.status_code == 200
        seen += numbers(r.text, "voucher")
        pages += 1
        if pages > 1:
            assert FIRST.search(r.text), "a later page links back to the first"
        found = NEXT.search(r.text)
        url = found.group(1) if found else None
    assert pages > 2
    assert len(seen) == len(set(seen)) == len(everything)
    assert seen == everything
    # a hand-edited cursor starts again from the top, with a message
    r = c.get("/docs/voucher", params={"cursor": "garbage"})
    assert r.status_code == 200 and 'class="alert error"' in r.text and numbers(r.text, "voucher")


def test_filter_change_by_htmx_answers_the_table_only(web: Web) -> None:
    c = web("admin")
    r = c.get("/docs/sales_delivery", params={"q": "XSCK-202603"},
              headers={"HX-Request": "true", "HX-Target": "doc-table"})
    assert r.status_code == 200
    assert r.text.lstrip().startswith("<div id=\"doc-table\">") and "<html" not in r.text
    assert sorted(numbers(r.text, "sales_delivery"))[0] == "XSCK-202603-0001"


def test_vouchers_redirects_to_the_voucher_list(web: Web) -> None:
    r = web("accountant").get("/vouchers")
    assert r.status_code == 303 and r.headers["location"] == "/docs/voucher"


# --- document pages -------------------------------------------------------------------

def test_delivery_page_shows_lines_entries_voucher_and_invoice(web: Web) -> None:
    c = web("admin")
    ident = doc_id(c, "sales_delivery", "XSCK-202601-0001")
    r = c.get(f"/docs/sales_delivery/{ident}")
    assert r.status_code == 200
    html = r.text
    assert 'id="lines"' in html and 'id="entries"' in html and 'id="voucher"' in html and 'id="links"' in html
    entries = html.split('id="entries"')[1].split("</section>")[0]
    assert "P001" in entries and "WH01" in entries
    assert re.search(r'href="/docs/voucher/\d+"', html.split('id="voucher"')[1])
    assert "5401" in html.split('id="voucher"')[1]  # cost of sales
    links = html.split('id="links"')[1]
    invoice = re.search(r'href="/docs/sales_invoice/(\d+)">XSFP-202601-0001<', links)
    assert invoice
    assert "window.print()" in html
    # and back: the invoice shows the delivery it bills and the receipt that settled it
    page = c.get(f"/docs/sales_invoice/{invoice.group(1)}").text
    back = page.split('id="links"')[1]
    assert f'href="/docs/sales_delivery/{ident}">XSCK-202601-0001<' in back
    assert re.search(r'href="/docs/receipt/\d+">SKD-', back)


def test_order_page_shows_its_delivery_and_the_delivery_its_order(web: Web) -> None:
    c = web("admin")
    order = doc_id(c, "sales_order", "XSDD-202603-0001")
    html = c.get(f"/docs/sales_order/{order}").text
    made = re.search(r'href="/docs/sales_delivery/(\d+)">(XSCK-[^<]+)<', html.split('id="links"')[1])
    assert made
    assert f'href="/docs/sales_delivery/from-order/{order}"' in html  # audited: make a delivery
    back = c.get(f"/docs/sales_delivery/{made.group(1)}").text
    assert f'href="/docs/sales_order/{order}">XSDD-202603-0001<' in back
    purchase = doc_id(c, "purchase_order", "CGDD-202603-0001")
    html = c.get(f"/docs/purchase_order/{purchase}").text
    assert re.search(r'href="/docs/purchase_receipt/\d+">CGRK-', html.split('id="links"')[1])


def test_return_receipt_and_voucher_pages_link_both_ways(web: Web) -> None:
    c = web("admin")
    ret = doc_id(c, "sales_return", "XSTH-202602-0001")
    html = c.get(f"/docs/sales_return/{ret}").text
    links = html.split('id="links"')[1]
    original = re.search(r'href="/docs/sales_delivery/(\d+)">XSCK-202602-0001<', links)
    assert original and "XSFP-202602-0002" in links
    assert f'href="/docs/sales_return/{ret}"' in c.get(f"/docs/sales_delivery/{original.group(1)}").text
    receipt = c.get("/docs/receipt", params={"q": "SKD-202603"}).text
    rid = re.search(r'href="/docs/receipt/(\d+)"', receipt)
    assert rid
    page = c.get(f"/docs/receipt/{rid.group(1)}").text
    assert re.search(r'href="/docs/sales_invoice/\d+">XSFP-', page.split('id="links"')[1])
    voucher = re.search(r'href="/docs/voucher/(\d+)"', page.split('id="voucher"')[1])
    assert voucher
    vpage = c.get(f"/docs/voucher/{voucher.group(1)}").text
    assert f'href="/docs/receipt/{rid.group(1)}"' in vpage.split('id="links"')[1]


def test_by_entity_redirects_to_the_page(web: Web) -> None:
    c = web("admin")
    ident = doc_id(c, "sales_delivery", "XSCK-202601-0001")
    r = c.get(f"/docs/by-entity/stock_doc/{ident}")
    assert r.status_code == 303 and r.headers["location"] == f"/docs/sales_delivery/{ident}"
    inv = doc_id(c, "purchase_invoice", "CGFP-202601-0001")
    assert c.get(f"/docs/by-entity/invoice/{inv}").headers["location"] == f"/docs/purchase_invoice/{inv}"
    order = doc_id(c, "sales_order", "XSDD-202603-0001")
    assert c.get(f"/docs/by-entity/order/{order}").headers["location"] == f"/docs/sales_order/{order}"
    pay = re.search(r'href="/docs/payment/(\d+)"', c.get("/docs/payment").text)
    assert pay
    loc = f"/docs/payment/{pay.group(1)}"
    assert c.get(f"/docs/by-entity/cash_doc/{pay.group(1)}").headers["location"] == loc
    assert c.get(f"/docs/by-entity/cash/{pay.group(1)}").headers["location"] == loc
    vid = re.search(r'href="/docs/voucher/(\d+)"', c.get("/docs/voucher").text)
    assert vid
    assert c.get(f"/docs/by-entity/voucher/{vid.group(1)}").headers["location"] == f"/docs/voucher/{vid.group(1)}"
    assert c.get("/docs/by-entity/stock_doc/999999").status_code == 404
    assert c.get("/docs/by-entity/nonsense/1").status_code == 422


def test_wrong_kind_or_missing_document_is_404(web: Web) -> None:
    c = web("admin")
    ident = doc_id(c, "sales_delivery", "XSCK-202601-0001")
    assert c.get(f"/docs/purchase_receipt/{ident}").status_code == 404
    assert c.get("/docs/sales_delivery/999999").status_code == 404
    assert c.post(f"/docs/purchase_receipt/{ident}/unaudit").status_code == 404


def test_warehouse_user_sees_no_voucher(web: Web) -> None:
    c = web("warehouse")
    ident = doc_id(c, "sales_delivery", "XSCK-202601-0001")
    html = c.get(f"/docs/sales_delivery/{ident}").text
    assert 'id="entries"' in html and 'id="voucher"' not in html and "/docs/voucher/" not in html
    assert "unaudit" in action_forms(html)  # warehouse may audit stock documents


# --- actions --------------------------------------------------------------------------

def test_unaudit_and_audit_through_the_page(web: Web) -> None:
    c = web("admin")
    ident = doc_id(c, "sales_delivery", "XSCK-202603-0004")
    page = c.get(f"/docs/sales_delivery/{ident}").text
    assert badge(page) == "audited" and "unaudit" in action_forms(page)
    r = c.post(f"/docs/sales_delivery/{ident}/unaudit")
    assert r.status_code == 303 and r.headers["location"] == f"/docs/sales_delivery/{ident}?done=unaudit"
    page = c.get(r.headers["location"]).text
    assert badge(page) == "draft" and 'class="alert flash ok"' in page
    assert {"audit", "delete"} <= set(action_forms(page))
    assert "P00" not in page.split('id="entries"')[1].split("</section>")[0]  # no entries while a draft
    r = c.post(f"/docs/sales_delivery/{ident}/audit")
    assert r.status_code == 303
    page = c.get(r.headers["location"]).text
    assert badge(page) == "audited" and "P00" in page.split('id="entries"')[1].split("</section>")[0]


def test_unaudit_in_a_closed_month_is_refused_on_the_page(web: Web) -> None:
    c = web("admin")
    ident = doc_id(c, "sales_delivery", "XSCK-202601-0002")
    before = c.get(f"/docs/sales_delivery/{ident}").text
    r = c.post(f"/docs/sales_delivery/{ident}/unaudit")
    assert r.status_code in (409, 422)
    assert '<div class="alert error" role="alert">' in r.text and "Traceback" not in r.text
    assert badge(r.text) == "audited"
    message = r.text.split('<div class="alert error" role="alert">')[1].split("</div>")[0]
    assert message.strip() and "stock." not in message  # a sentence, not a code
    after = c.get(f"/docs/sales_delivery/{ident}").text
    assert badge(after) == "audited"
    assert after.split('id="entries"')[1].split("</section>")[0] == before.split('id="entries"')[1].split(
        "</section>")[0]


def test_red_letter_reversal_then_delete_the_draft(web: Web) -> None:
    c = web("admin")
    ident = doc_id(c, "sales_delivery", "XSCK-202603-0004")
    assert "reverse" in action_forms(c.get(f"/docs/sales_delivery/{ident}").text)
    r = c.post(f"/docs/sales_delivery/{ident}/reverse", data={"day": "2026-03-30"})
    assert r.status_code == 303, r.text[-800:]
    red_url = r.headers["location"].split("?")[0]
    red_id = int(red_url.rsplit("/", 1)[1])
    page = c.get(red_url).text
    assert badge(page) == "draft" and 'class="badge void"' in page  # the red mark
    assert f'href="/docs/sales_delivery/{ident}">XSCK-202603-0004<' in page.split('id="links"')[1]
    original = c.get(f"/docs/sales_delivery/{ident}").text
    assert f'href="/docs/sales_delivery/{red_id}"' in original.split('id="links"')[1]
    bad_day = c.post(f"/docs/sales_delivery/{ident}/reverse", data={"day": "not a date"})
    assert bad_day.status_code == 422 and 'class="alert error"' in bad_day.text
    r = c.post(f"/docs/sales_delivery/{red_id}/delete")
    assert r.status_code == 303 and r.headers["location"] == "/docs/sales_delivery?done=delete"
    assert c.get(red_url).status_code == 404


def test_post_without_csrf_token_is_refused(web: Web) -> None:
    c = web("admin")
    ident = doc_id(c, "sales_delivery", "XSCK-202603-0004")
    r = c.post(f"/docs/sales_delivery/{ident}/unaudit", headers={"X-CSRF-Token": ""})
    assert r.status_code == 403
    r = c.post(f"/docs/sales_delivery/{ident}/unaudit", headers={"X-CSRF-Token": ""}, data={"csrf_token": "forged"})
    assert r.status_code == 403
    assert badge(c.get(f"/docs/sales_delivery/{ident}").text) == "audited"


def test_a_viewer_has_no_buttons_and_is_refused(web: Web) -> None:
    c = web("viewer")
    ident = doc_id(c, "sales_delivery", "XSCK-202603-0004")
    html = c.get(f"/docs/sales_delivery/{ident}").text
    assert action_forms(html) == [] and "window.print()" in html
    assert "/docs/sales_invoice/from-stock" not in html
    r = c.post(f"/docs/sales_delivery/{ident}/unaudit")
    assert r.status_code == 403 and 'class="alert error"' in r.text
    assert badge(web("admin").get(f"/docs/sales_delivery/{ident}").text) == "audited"
    order = doc_id(c, "sales_order", "XSDD-202603-0001")
    assert action_forms(c.get(f"/docs/sales_order/{order}").text) == []
    assert c.post(f"/docs/sales_order/{order}/close").status_code == 403


def test_voucher_actions_follow_status_and_source(web: Web) -> None:
    c = web("accountant")
    vlist = c.get("/docs/voucher", params={"limit": "200"}).text
    ids = [int(i) for i in re.findall(r'href="/docs/voucher/(\d+)"', vlist)]
    generated = manual_open = None
    for i in ids:
        html = c.get(f"/docs/voucher/{i}").text
        has_source = 'id="links"' in html and "/docs/sales_" in html.split('id="links"')[1]
        if has_source and generated is None:
            generated = html
        if (not has_source and "2026-03" in html.split("<h1>")[1].split("</h1>")[0] and badge(html) == "posted"
                and manual_open is None):
            manual_open = html
    assert generated is not None and action_forms(generated) == []
    assert manual_open is not None and {"unpost", "reverse"} <= set(action_forms(manual_open))


def test_invoice_three_way_match_override(web: Web, api: Callable[[str], TestClient]) -> None:
    made = api("purchasing").post("/api/documents/purchase_invoice", json={
        "date": "2026-03-20", "partner": "S001", "invoice_kind": "special", "source": ["CGRK-202603-0002"],
        "lines": [{"product": "P003", "qty": "20", "price": "990.0000", "tax_rate": "0.13"},
                  {"product": "P002", "qty": "30", "price": "178.0000", "tax_rate": "0.13"}]})
    assert made.status_code == 201, made.text
    ident = made.json()["id"]
    url = f"/docs/purchase_invoice/{ident}"
    assert action_forms(web("purchasing").get(url).text) == ["delete"]
    c = web("accountant")
    page = c.get(url).text
    assert badge(page) == "draft" and {"audit", "audit_override", "delete"} <= set(action_forms(page))
    assert "CGRK-202603-0002" in page.split('id="links"')[1]
    refused = c.post(f"{url}/audit")
    assert refused.status_code in (409, 422) and 'class="alert error"' in refused.text
    assert badge(refused.text) == "draft"
    r = c.post(f"{url}/audit_override")
    assert r.status_code == 303 and r.headers["location"] == f"{url}?done=audit_override"
    page = c.get(url).text
    assert badge(page) == "audited" and 'class="alert warn"' in page
    assert re.search(r'href="/docs/voucher/\d+"', page.split('id="voucher"')[1])
    receipt = doc_id(c, "purchase_receipt", "CGRK-202603-0002")
    assert f'href="{url}"' in c.get(f"/docs/purchase_receipt/{receipt}").text.split('id="links"')[1]
    assert c.post(f"{url}/unaudit").status_code == 303
    assert c.post(f"{url}/delete").status_code == 303
    assert c.get(url).status_code == 404

