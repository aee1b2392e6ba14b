"""Master data over real HTTP: products, partners, warehouses (keyset lists with search, read,
create, change, disable/enable), accounts, the entry grids' product lookup."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

Api = Callable[[str], TestClient]


def test_list_read_and_search(api: Api) -> None:
    viewer = api("viewer")
    products = viewer.get("/api/products").json()
    assert [p["code"] for p in products["items"]] == ["P001", "P002", "P003", "P004", "P005"]
    assert products["next_after"] is None
    p1 = viewer.get("/api/products/P001").json()
    assert p1 == {**p1, "name": "无线鼠标", "unit": "个", "tax_rate": "0.1300", "barcode": "6901234567892",
                  "batch_tracked": False, "costing_method": "moving_average", "active": True}
    assert viewer.get("/api/products/P005").json()["shelf_life_days"] == 1095
    assert viewer.get("/api/products", params={"q": "键盘"}).json()["items"][0]["code"] == "P002"
    assert [p["code"] for p in viewer.get("/api/products", params={"q": "6901234567915"}).json()["items"]] == ["P003"]
    partners = viewer.get("/api/partners", params={"q": "C"}).json()["items"]
    assert [p["code"] for p in partners] == ["C001", "C002", "C003"]
    assert partners[0]["kind"] == "customer" and partners[0]["credit_limit"] == "100000.00"
    assert [w["code"] for w in viewer.get("/api/warehouses").json()["items"]] == ["WH01", "WH02"]
    missing = viewer.get("/api/products/NOPE")
    assert missing.status_code == 404 and missing.json()["error"]["code"]


def test_keyset_pages(api: Api) -> None:
    seen: list[str] = []
    after = None
    while True:
        page = api("sales").get("/api/products", params={"limit": 2, **({"after": after} if after else {})}).json()
        seen += [p["code"] for p in page["items"]]
        after = page["next_after"]
        if not after:
            break
    assert seen == sorted(set(seen)) and {"P001", "P005"} <= set(seen)
    assert api("sales").get("/api/products", params={"limit": 0}).status_code == 422


def test_create_change_disable_product(api: Api) -> None:
    clerk = api("purchasing")
    body = {"code": "P100", "name": "蓝牙耳机", "unit": "副", "tax_rate": "0.13", "category": "电脑外设",
            "barcode": "6901234560001", "min_qty": "5", "max_qty": "200"}
    made = clerk.post("/api/products", json=body)
    assert made.status_code == 201, made.text
    assert made.headers["location"] == "/api/products/P100"
    assert made.json()["name"] == "蓝牙耳机" and made.json()["max_qty"] == "200.0000"
    dup = clerk.post("/api/products", json=body)
    assert dup.status_code == 409 and dup.json()["error"]["code"]

    bad = clerk.post("/api/products", json={**body, "code": "P101", "tax_rate": 0.13})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "tax_rate"
    rate = clerk.post("/api/products", json={**body, "code": "P101", "tax_rate": "1.5"})
    assert rate.status_code == 422 and rate.json()["error"]["field"] == "tax_rate"
    assert clerk.get("/api/products/P101").status_code == 404

    changed = clerk.patch("/api/products/P100", json={"name": "蓝牙耳机 Pro", "spec": "黑色", "max_qty": "300"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "蓝牙耳机 Pro" and changed.json()["spec"] == "黑色"
    assert changed.json()["max_qty"] == "300.0000" and changed.json()["min_qty"] == "5.0000"
    fixed = clerk.patch("/api/products/P001", json={"costing_method": "fifo"})
    assert fixed.status_code == 422 and fixed.json()["error"]["field"] == "costing_method"

    off = clerk.post("/api/products/P100/deactivate")
    assert off.status_code == 200 and off.json()["active"] is False
    assert "P100" not in [p["code"] for p in clerk.get("/api/products").json()["items"]]
    assert "P100" in [p["code"] for p in clerk.get("/api/products", params={"include_inactive": True}).json()["items"]]
    held = clerk.post("/api/products/P001/deactivate")
    assert held.status_code == 422, "a product with stock on hand stays active"
    assert clerk.post("/api/products/P100/activate").json()["active"] is True


def test_partners_and_warehouses(api: Api) -> None:
    clerk = api("sales")
    made = clerk.post("/api/partners", json={"code": "C100", "name": "杭州新客户", "kind": "customer",
                                             "credit_limit": "20000"})
    assert made.status_code == 201, made.text
    assert made.json()["credit_limit"] == "20000.00"
    assert clerk.post("/api/partners", json={"code": "C101", "name": "x", "kind": "friend"}).status_code == 422
    renamed = clerk.patch("/api/partners/C100", json={"name": "杭州新客户有限公司"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "杭州新客户有限公司"
    assert clerk.post("/api/partners/C100/deactivate").json()["active"] is False
    assert clerk.patch("/api/partners/NOPE", json={"name": "x"}).status_code == 404

    admin = api("admin")
    wh = admin.post("/api/warehouses", json={"code": "WH09", "name": "退货仓"})
    assert wh.status_code == 201 and wh.json() == {"code": "WH09", "name": "退货仓", "active": True}
    assert admin.patch("/api/warehouses/WH09", json={"name": "退货暂存仓"}).json()["name"] == "退货暂存仓"
    assert admin.post("/api/warehouses/WH01/deactivate").status_code == 422  # stock on hand
    assert admin.post("/api/warehouses", json={"code": "", "name": "x"}).status_code == 422


def test_accounts(api: Api) -> None:
    items = api("accountant").get("/api/accounts").json()["items"]
    codes = [a["code"] for a in items]
    assert {"1001", "1002", "1122", "1405", "220201", "5001"} <= set(codes)
    assert codes == sorted(codes)


def test_product_lookup_for_entry_grids(api: Api) -> None:
    clerk = api("warehouse")
    scan = clerk.get("/api/lookup/products", params={"q": "6901234567915"}).json()["items"]
    assert [(p["code"], p["exact"]) for p in scan] == [("P003", True)]
    by_code = clerk.get("/api/lookup/products", params={"q": "P00"}).json()["items"]
    assert [p["code"] for p in by_code][:5] == ["P001", "P002", "P003", "P004", "P005"]
    exact_first = clerk.get("/api/lookup/products", params={"q": "P005"}).json()["items"]
    assert exact_first[0]["code"] == "P005" and exact_first[0]["exact"] is True
    assert exact_first[0]["batch_tracked"] is True and exact_first[0]["unit"] == "卡"
    by_name = clerk.get("/api/lookup/products", params={"q": "无线"}).json()["items"]
    assert [p["code"] for p in by_name] == ["P001"]
    assert [p["code"] for p in clerk.get("/api/lookup/products", params={"q": "鼠标"}).json()["items"]] == ["P001"]
    assert clerk.get("/api/lookup/products", params={"q": "  "}).json()["items"] == []
    limited = clerk.get("/api/lookup/products", params={"q": "P", "limit": 2}).json()["items"]
    assert len(limited) == 2
    assert clerk.get("/api/lookup/products", params={"q": "P", "limit": 11}).status_code == 200
    assert clerk.get("/api/lookup/products", params={"q": "P", "limit": 51}).status_code == 422
