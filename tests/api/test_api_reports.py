"""Reports over real HTTP, in the INTERCHANGE.md "Reports out" shapes, the same JSON as
`jxc report NAME --format json` prints, on the demo books (January and February closed)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from tests.cli.test_cli import as_json, run

Api = Callable[[str], TestClient]
D = Decimal
MARCH = {"date_from": "2026-03-01", "date_to": "2026-03-31"}


def get(client: TestClient, name: str, **params: Any) -> Any:
    r = client.get(f"/api/reports/{name}", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_trial_balance(api: Api) -> None:
    tb = get(api("accountant"), "trial-balance", period="2026-03")
    assert tb["period"] == "2026-03" and tb["balanced"] is True
    keys = {"account", "name", "opening_debit", "opening_credit", "debit", "credit", "closing_debit",
            "closing_credit"}
    assert tb["rows"] and all(keys <= set(r) for r in tb["rows"])
    totals = tb["totals"]
    assert D(totals["closing_debit"]) == D(totals["closing_credit"]) > 0
    assert all(isinstance(v, str) for v in totals.values())  # decimals are strings
    cash = next(r for r in tb["rows"] if r["account"] == "1002")
    assert D(cash["opening_debit"]) + D(cash["debit"]) - D(cash["credit"]) == D(cash["closing_debit"])
    assert api("accountant").get("/api/reports/trial-balance", params={"period": "2026-13"}).status_code == 422
    assert api("accountant").get("/api/reports/trial-balance", params={"period": "2030-01"}).status_code == 404


def test_ledgers(api: Api) -> None:
    gl = get(api("viewer"), "general-ledger", account="1122")
    assert gl["account"] == "1122" and [r["period"] for r in gl["rows"]][:3] == ["2026-01", "2026-02", "2026-03"]
    dl = get(api("viewer"), "detail-ledger", account="1002", **MARCH, limit=3)
    assert len(dl["rows"]) == 3 and dl["next_cursor"]
    rest = get(api("viewer"), "detail-ledger", account="1002", **MARCH, limit=3, cursor=dl["next_cursor"])
    assert rest["rows"] and rest["rows"][0] != dl["rows"][-1]
    assert api("viewer").get("/api/reports/detail-ledger", params={"account": "1002"}).status_code == 422


def test_stock_reports(api: Api) -> None:
    clerk = api("warehouse")
    s = get(clerk, "stock-summary", **MARCH)
    numbers = ("opening_qty", "opening_value", "in_qty", "in_value", "out_qty", "out_value", "closing_qty",
               "closing_value")
    assert s["rows"] and all({"product", "warehouse", *numbers} <= set(r) for r in s["rows"])
    for r in s["rows"]:
        assert D(r["opening_qty"]) + D(r["in_qty"]) - D(r["out_qty"]) == D(r["closing_qty"])
    assert set(s["totals"]) == set(numbers)
    wh2 = get(clerk, "stock-summary", **MARCH, warehouse="WH02")
    assert {r["warehouse"] for r in wh2["rows"]} == {"WH02"}

    led = get(clerk, "stock-ledger", product="P001", **MARCH)
    row_keys = {"date", "document", "in_qty", "in_value", "out_qty", "out_value", "balance_qty", "balance_value",
                "unit_cost"}
    assert led["rows"] and all(row_keys <= set(r) for r in led["rows"])
    closing = sum((D(r["closing_qty"]) for r in s["rows"] if r["product"] == "P001"), D(0))
    assert D(led["rows"][-1]["balance_qty"]) == closing

    bal = get(clerk, "stock-balance", date="2026-03-31")
    assert D(bal["total_value"]) == sum((D(r["value"]) for r in bal["rows"]), D(0))
    assert D(bal["total_value"]) == D(s["totals"]["closing_value"])
    alerts = get(clerk, "stock-alerts", date="2029-01-01", days=30)
    assert alerts["date"] == "2029-01-01" and {a["kind"] for a in alerts["alerts"]} & {"expiring", "expired"}


def test_receivables_payables_and_trade(api: Api) -> None:
    clerk = api("sales")
    ar = get(clerk, "ar-aging", date="2026-03-31")
    buckets = ("d0_30", "d31_60", "d61_90", "d91_180", "d180_plus")
    assert ar["date"] == "2026-03-31" and ar["rows"]
    for r in ar["rows"]:
        assert {"partner", "name", "total", *buckets} <= set(r)
        assert D(r["total"]) == sum((D(r[b]) for b in buckets), D(0)) - D(r.get("advance") or 0)
    ap = get(clerk, "ap-aging", date="2026-03-31")
    assert {r["partner"] for r in ap["rows"]} <= {"S001", "S002"}

    st = get(clerk, "partner-statement", partner="C001", date_from="2026-01-01", date_to="2026-03-31")
    assert st["partner"] == "C001" and st["opening"] == "30000.00" and st["rows"]
    c001 = next(r for r in ar["rows"] if r["partner"] == "C001")
    assert D(st["closing"]) == D(c001["total"]) - D(c001.get("advance") or 0)

    opened = get(clerk, "open-orders", side="sales")
    assert {r["order"] for r in opened["rows"]} == {"XSDD-202603-0001"}
    assert get(clerk, "uninvoiced", side="purchase")["side"] == "purchase"
    gp = get(clerk, "gross-profit", **MARCH, by="customer")
    assert gp["by"] == "customer" and gp["rows"]
    assert D(gp["totals"]["revenue"]) - D(gp["totals"]["cost"]) == D(gp["totals"]["profit"])
    ps = get(api("purchasing"), "purchase-summary", **MARCH)
    assert ps["by"] == "supplier" and ps["rows"]
    assert clerk.get("/api/reports/gross-profit", params={**MARCH, "by": "colour"}).status_code == 422


def test_financial_statements(api: Api) -> None:
    bs = get(api("manager"), "balance-sheet", period="2026-03")
    assert bs["statement"] == "balance_sheet" and bs["balanced"] is True
    assert bs["columns"] == ["closing", "year_start"]
    assert all({"line_no", "label", "label_en", "closing", "year_start"} <= set(r) for r in bs["rows"])
    inc = get(api("manager"), "income-statement", period="2026-03")
    assert inc["columns"] and all(isinstance(r["line_no"], int) for r in inc["rows"])
    cf = get(api("manager"), "cash-flow", period="2026-03")
    assert cf["statement"] == "cash_flow" and cf["rows"]


@pytest.mark.parametrize(("report", "cli"), [
    ("trial-balance?period=2026-03", ["trial-balance", "--period", "2026-03"]),
    ("stock-summary?date_from=2026-03-01&date_to=2026-03-31", ["stock-summary", "--from", "2026-03-01",
                                                               "--to", "2026-03-31"]),
    ("ar-aging?date=2026-03-31", ["ar-aging", "--date", "2026-03-31"]),
    ("balance-sheet?period=2026-03", ["balance-sheet", "--period", "2026-03"]),
])
def test_same_json_as_the_cli(api: Api, demo_url: str, report: str, cli: list[str]) -> None:
    if make_url(demo_url).get_backend_name() != "sqlite":
        pytest.skip("one backend is enough to compare the shapes (a subprocess each)")
    ours = api("admin").get(f"/api/reports/{report}").json()
    theirs = as_json(run(demo_url, "report", *cli, "--format", "json"))
    assert ours == theirs
