"""Master data pages: products, partners and warehouses — search, keyset pages, create and
edit with errors next to their fields, enable/disable, and the links to their reports."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient

from jxc.db.session import session_factory
from jxc.services import masterdata, users

Web = Callable[[str], TestClient]


def _codes(page: str, entity: str) -> list[str]:
    return re.findall(rf'<td class="mono"><a href="/master/{entity}/([^"]+)">', page)


def _count(app: FastAPI, entity: str) -> int:
    db = session_factory(app.state.engine)()
    try:
        actor = users.load_actor(db, "admin")
        db.rollback()
        return len(masterdata.list_master(db, entity, include_inactive=True, actor=actor))
    finally:
        db.close()


def test_lists_search_and_keyset_pages(web: Web) -> None:
    c = web("viewer")
    for entity in ("product", "partner", "warehouse"):
        r = c.get(f"/master/{entity}")
        assert r.status_code == 200 and _codes(r.text, entity)
    everything = _codes(c.get("/master/product").text, "product")
    assert everything == sorted(everything)
    found = _codes(c.get("/master/product", params={"q": everything[0]}).text, "product")
    assert found == [everything[0]]
    after = _codes(c.get("/master/product", params={"after": everything[1]}).text, "product")
    assert after == everything[2:]
    none = c.get("/master/product", params={"q": "no-such-thing"})
    assert "没有找到" in none.text
    assert 'href="/master/product/new"' not in c.get("/master/product").text  # the auditor may not edit


def test_reports_linked(web: Web) -> None:
    c = web("viewer")
    assert 'href="/reports/stock-ledger?product=P001"' in c.get("/master/product/P001").text
    assert 'href="/reports/statement?partner=C001"' in c.get("/master/partner/C001").text


def test_edit_needs_masterdata_edit(web: Web) -> None:
    assert web("warehouse").get("/master/product/new").status_code == 403
    r = web("viewer").post("/master/warehouse/new", data={"code": "WHX", "name": "x"})
    assert r.status_code == 403
    assert web("viewer").post("/master/partner/C001", data={"name": "x", "kind": "customer"}).status_code == 403


def test_create_product_and_duplicate_code(app: FastAPI, web: Web) -> None:
    c = web("sales")
    r = c.post("/master/product/new", data={"code": "T-100", "name": "测试商品", "unit": "个", "tax_rate": "0.13",
                                            "barcode": "6900000000100", "min_qty": "5", "max_qty": "50",
                                            "shelf_life_days": "365", "costing_method": "moving_average"})
    assert r.status_code == 303 and r.headers["location"] == "/master/product/T-100?saved=created"
    page = c.get(r.headers["location"]).text
    assert "已创建 T-100" in page and 'value="6900000000100"' in page and 'value="365"' in page
    before = _count(app, "product")
    dup = c.post("/master/product/new", data={"code": "T-100", "name": "again", "unit": "个", "tax_rate": "0.13"})
    assert dup.status_code == 409
    assert re.search(r'<div class="field invalid">\s*<label for="f-code">', dup.text)
    assert "T-100 已存在" in dup.text and 'value="again"' in dup.text
    assert _count(app, "product") == before
    bad = c.post("/master/product/new", data={"code": "T-101", "name": "x", "unit": "个", "tax_rate": "0.13",
                                              "min_qty": "abc"})
    assert bad.status_code == 422 and 'id="f-min_qty-error"' in bad.text
    assert _count(app, "product") == before


def test_duplicate_partner_and_warehouse(app: FastAPI, web: Web) -> None:
    c = web("admin")
    before = (_count(app, "partner"), _count(app, "warehouse"))
    r = c.post("/master/partner/new", data={"code": "C001", "name": "dup", "kind": "customer"})
    assert r.status_code == 409 and 'id="f-code-error"' in r.text
    r = c.post("/master/warehouse/new", data={"code": "WH01", "name": "dup"})
    assert r.status_code == 409 and 'id="f-code-error"' in r.text
    assert (_count(app, "partner"), _count(app, "warehouse")) == before


def test_edit_product(web: Web) -> None:
    c = web("admin")
    r = c.post("/master/product/T-100", data={"name": "测试商品二", "unit": "箱", "tax_rate": "0.09",
                                              "barcode": "", "min_qty": "1", "max_qty": "10", "shelf_life_days": ""})
    assert r.status_code == 303
    page = c.get("/master/product/T-100").text
    assert "测试商品二" in page and 'value="0.09" selected' in page
    assert 'name="barcode" type="text" value=""' in page  # cleared
    bad = c.post("/master/product/T-100", data={"name": "x", "unit": "箱", "tax_rate": "0.09",
                                                "min_qty": "20", "max_qty": "10"})
    assert bad.status_code == 422 and 'id="f-max_qty-error"' in bad.text
    assert "测试商品二" in c.get("/master/product/T-100").text  # nothing changed


def test_edit_partner_and_warehouse(web: Web) -> None:
    c = web("admin")
    assert c.post("/master/partner/new", data={"code": "S-900", "name": "新供应商", "kind": "supplier",
                                               "credit_limit": ""}).status_code == 303
    r = c.post("/master/partner/S-900", data={"name": "新供应商有限公司", "kind": "both", "credit_limit": "1,000.50"})
    assert r.status_code == 303
    page = c.get("/master/partner/S-900").text
    assert "新供应商有限公司" in page and 'value="both" selected' in page and 'value="1000.5"' in page
    bad = c.post("/master/partner/S-900", data={"name": "x", "kind": "both", "credit_limit": "abc"})
    assert bad.status_code == 422 and 'id="f-credit_limit-error"' in bad.text
    assert c.post("/master/warehouse/new", data={"code": "WH-T", "name": "临时仓"}).status_code == 303
    assert c.post("/master/warehouse/WH-T", data={"name": "临时仓库"}).status_code == 303
    assert "临时仓库" in c.get("/master/warehouse/WH-T").text


def test_disable_and_enable(web: Web) -> None:
    c = web("admin")
    r = c.post("/master/warehouse/WH-T/active", data={"active": "0"})
    assert r.status_code == 303
    assert "badge void" in c.get("/master/warehouse/WH-T").text
    assert c.post("/master/warehouse/WH-T/active", data={"active": "1"}).status_code == 303
    held = c.post("/master/product/P001/active", data={"active": "0"})  # has stock
    assert held.status_code == 422 and "仍有库存" in held.text
