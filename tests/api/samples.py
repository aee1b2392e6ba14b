"""Realistic INTERCHANGE records (without `type`) for every document kind, on the demo books'
codes (products P001–P005, warehouses WH01/WH02, suppliers S001/S002, customers C001–C003),
dated in open March 2026. Shared by the API tests and the role matrix."""

from __future__ import annotations

from typing import Any

DAY = "2026-03-20"


def line(product: str, qty: str, price: str, **extra: str) -> dict[str, str]:
    return {"product": product, "qty": qty, "price": price, "tax_rate": "0.13", **extra}


RECORDS: dict[str, dict[str, Any]] = {
    "purchase_receipt": {"date": DAY, "partner": "S001", "warehouse": "WH01", "memo": "API receipt",
                         "lines": [line("P001", "20", "45.0000"), line("P004", "5", "116.0000")]},
    "purchase_return": {"date": DAY, "partner": "S002", "warehouse": "WH01", "memo": "API return",
                        "lines": [line("P001", "2", "44.0000")]},
    "sales_delivery": {"date": DAY, "partner": "C001", "warehouse": "WH01", "memo": "API delivery",
                       "lines": [line("P001", "3", "79.0000"), line("P002", "1", "299.0000")]},
    "sales_return": {"date": DAY, "partner": "C001", "warehouse": "WH01", "memo": "API sales return",
                     "lines": [line("P001", "1", "79.0000")]},
    "transfer": {"date": DAY, "from_warehouse": "WH01", "to_warehouse": "WH02", "memo": "API transfer",
                 "lines": [{"product": "P001", "qty": "2"}]},
    "other_in": {"date": DAY, "warehouse": "WH01", "reason": "sample", "memo": "API other in",
                 "lines": [{"product": "P004", "qty": "1", "price": "100.0000"}]},
    "other_out": {"date": DAY, "warehouse": "WH01", "reason": "sample", "account": "5601", "memo": "API other out",
                  "lines": [{"product": "P004", "qty": "1"}]},
    "stocktake": {"date": DAY, "warehouse": "WH01", "memo": "API stocktake",
                  "lines": [{"product": "P003", "counted_qty": "1"}]},
    "cost_adjustment": {"date": DAY, "warehouse": "WH01", "memo": "API cost adjustment",
                        "lines": [{"product": "P003", "amount": "10.00"}]},
    "purchase_order": {"date": DAY, "partner": "S002", "memo": "API purchase order",
                       "lines": [line("P004", "10", "115.0000")]},
    "sales_order": {"date": DAY, "partner": "C003", "memo": "API sales order",
                    "lines": [line("P001", "5", "79.0000")]},
    "purchase_invoice": {"date": DAY, "partner": "S002", "invoice_kind": "ordinary", "memo": "API purchase invoice",
                         "lines": [line("P004", "1", "116.0000")]},
    "sales_invoice": {"date": DAY, "partner": "C003", "invoice_kind": "special", "memo": "API sales invoice",
                      "lines": [line("P001", "1", "79.0000")]},
    "payment": {"date": DAY, "partner": "S002", "account": "1002", "amount": "500.00", "memo": "API payment"},
    "receipt": {"date": DAY, "partner": "C002", "account": "1002", "amount": "800.00", "memo": "API receipt"},
    "voucher": {"date": DAY, "memo": "API voucher", "lines": [
        {"account": "5602", "debit": "120.00", "credit": "0"},
        {"account": "1001", "debit": "0", "credit": "120.00"}]},
}
