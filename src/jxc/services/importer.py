"""`jxc import FILE.jsonl`: the interchange format of shared/INTERCHANGE.md.

Two passes. First every line is parsed and shape-checked; then the records that
parsed are applied in file order inside one transaction, each in a savepoint so a
bad record is reported and the rest still checked against the real rules (the
same service code as manual entry, no second validator).
Any problem rolls the whole transaction back: nothing is imported until the
whole file is valid.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jxc.domain import permissions as perm
from jxc.domain.errors import BatchInvalid, ImportFailed, InvalidInput, JxcError, RecordError
from jxc.domain.numbers import parse_decimal
from jxc.domain.permissions import Actor, require
from jxc.domain.status import VoucherStatus
from jxc.domain.voucher import VoucherLine
from jxc.services import cash, invoices, masterdata, opening, orders, stock, stockbulk, vouchers
from jxc.services.common import append_audit, deferred_audit

STOCK_DOCS = ("purchase_receipt", "purchase_return", "sales_delivery", "sales_return", "transfer", "other_in",
              "other_out", "stocktake", "cost_adjustment")
ORDERS = ("purchase_order", "sales_order")
INVOICES = ("purchase_invoice", "sales_invoice")
CASH_DOCS = ("payment", "receipt")
TRADE_DOCS = (*ORDERS, *INVOICES, *CASH_DOCS)
SUPPORTED = ("warehouse", "partner", "product", "opening_balance", "voucher", "opening_stock", *STOCK_DOCS,
             *TRADE_DOCS)
# Known to the format but not imported by this version (none at present).
LATER: tuple[str, ...] = ()
# Documents that may name a salesperson (an extension of the format).
SALES_DOCS = ("sales_delivery", "sales_return", "sales_order", "sales_invoice")

Text = Annotated[StrictStr, Field(max_length=200)]
Day = date  # a date field's type inside a record that also has a field named `date`
DecimalText = StrictStr  # decimals travel as JSON strings, never numbers


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WarehouseRec(_Record):
    type: Literal["warehouse"]
    code: Text
    name: Text


class PartnerRec(_Record):
    type: Literal["partner"]
    code: Text
    name: Text
    kind: StrictStr
    credit_limit: DecimalText | None = None


class ProductRec(_Record):
    type: Literal["product"]
    code: Text
    name: Text
    unit: Text
    tax_rate: DecimalText
    category: Text | None = None
    costing_method: StrictStr = "moving_average"
    barcode: Text | None = None
    batch_tracked: StrictBool = False
    shelf_life_days: StrictInt | None = None
    min_qty: DecimalText | None = None
    max_qty: DecimalText | None = None


class OpeningRec(_Record):
    type: Literal["opening_balance"]
    account: StrictStr
    partner: StrictStr | None = None
    debit: DecimalText = "0"
    credit: DecimalText = "0"


class OpeningStockRec(_Record):
    type: Literal["opening_stock"]
    product: StrictStr
    warehouse: StrictStr
    qty: DecimalText
    value: DecimalText
    batch: StrictStr | None = None
    expiry: date | None = None


class StockLineRec(_Record):
    product: StrictStr
    qty: DecimalText | None = None
    counted_qty: DecimalText | None = None
    price: DecimalText | None = None
    price_incl_tax: DecimalText | None = None
    tax_rate: DecimalText | None = None
    batch: StrictStr | None = None
    expiry: date | None = None
    amount: DecimalText | None = None  # cost_adjustment only (an extension of the format)


class StockDocRec(_Record):
    type: Literal["purchase_receipt", "purchase_return", "sales_delivery", "sales_return", "transfer", "other_in",
                  "other_out", "stocktake", "cost_adjustment"]
    no: Annotated[StrictStr, Field(max_length=40)] | None = None
    date: date
    memo: Text = ""
    partner: StrictStr | None = None
    warehouse: StrictStr | None = None
    from_warehouse: StrictStr | None = None
    to_warehouse: StrictStr | None = None
    source: StrictStr | None = None
    order: StrictStr | None = None  # a receipt/delivery made from this order
    salesperson: Annotated[StrictStr, Field(max_length=60)] = ""  # sales documents (an extension)
    reason: Text = ""
    account: StrictStr | None = None
    lines: list[StockLineRec]


class TradeLineRec(_Record):
    product: StrictStr
    qty: DecimalText
    price: DecimalText | None = None
    price_incl_tax: DecimalText | None = None
    tax_rate: DecimalText | None = None


class OrderLineRec(TradeLineRec):
    delivery_date: date | None = None


class OrderRec(_Record):
    type: Literal["purchase_order", "sales_order"]
    no: Annotated[StrictStr, Field(max_length=40)] | None = None
    date: date
    memo: Text = ""
    partner: StrictStr
    delivery_date: Day | None = None
    salesperson: Annotated[StrictStr, Field(max_length=60)] = ""
    lines: list[OrderLineRec]


class InvoiceRec(_Record):
    type: Literal["purchase_invoice", "sales_invoice"]
    no: Annotated[StrictStr, Field(max_length=40)] | None = None
    date: date
    memo: Text = ""
    partner: StrictStr
    invoice_kind: StrictStr
    source: list[StrictStr] = []
    red: StrictBool = False  # a red invoice billing returns (an extension)
    salesperson: Annotated[StrictStr, Field(max_length=60)] = ""
    lines: list[TradeLineRec]


class SettleRec(_Record):
    invoice: StrictStr
    amount: DecimalText
    writeoff: DecimalText | None = None


class CashRec(_Record):
    type: Literal["payment", "receipt"]
    no: Annotated[StrictStr, Field(max_length=40)] | None = None
    date: date
    memo: Text = ""
    partner: StrictStr
    account: StrictStr
    amount: DecimalText
    settle: list[SettleRec] = []


class VoucherLineRec(_Record):
    account: StrictStr
    partner: StrictStr | None = None
    debit: DecimalText = "0"
    credit: DecimalText = "0"
    memo: StrictStr = ""


class VoucherRec(_Record):
    type: Literal["voucher"]
    no: StrictStr | None = None
    date: date
    memo: StrictStr = ""
    lines: list[VoucherLineRec]


MODELS: dict[str, type[_Record]] = {
    "warehouse": WarehouseRec, "partner": PartnerRec, "product": ProductRec,
    "opening_balance": OpeningRec, "voucher": VoucherRec, "opening_stock": OpeningStockRec,
    **{t: StockDocRec for t in STOCK_DOCS},
    **{t: OrderRec for t in ORDERS}, **{t: InvoiceRec for t in INVOICES}, **{t: CashRec for t in CASH_DOCS},
}

_PYDANTIC_REASONS = {
    "missing": "input.required",
    "extra_forbidden": "input.unknown_field",
    "string_type": "input.expect_string",
    "list_type": "input.expect_list",
    "bool_type": "input.expect_bool",
    "int_type": "input.expect_int",
    "date_from_datetime_parsing": "input.date_format",
    "date_parsing": "input.date_format",
    "date_type": "input.date_format",
    "string_too_long": "input.too_long",
    "model_type": "input.not_object",
}


def _field_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part + 1}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _dec(value: str | None, field: str) -> Decimal | None:
    if value is None:
        return None
    parsed = parse_decimal(value)
    if parsed is None:
        raise InvalidInput(field=field, reason="input.not_decimal", value=value)
    return parsed


def _req_dec(value: str, field: str) -> Decimal:
    parsed = _dec(value, field)
    assert parsed is not None
    return parsed


def parse_record(text: str) -> _Record:
    """One JSONL line to a typed record, or InvalidInput naming the field and the problem."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(field="", reason="input.not_json", detail=exc.msg) from exc
    return parse_object(raw)


def parse_object(raw: Any, *, every_error: bool = False) -> _Record:
    """A decoded JSON object to a typed record. InvalidInput names the field and the problem;
    with `every_error`, several problems come together as BatchInvalid (a form shows them all)."""
    if not isinstance(raw, dict):
        raise InvalidInput(field="", reason="input.not_object")
    kind = raw.get("type")
    if kind in LATER:
        raise InvalidInput(field="type", reason="input.unsupported_record", value=kind)
    model = MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise InvalidInput(field="type", reason="input.unknown_record", value=str(kind))
    try:
        rec = model.model_validate(raw)
    except ValidationError as exc:
        problems = [_invalid(e) for e in exc.errors()]
        if every_error and len(problems) > 1:
            raise BatchInvalid(list(problems)) from exc
        raise problems[0] from exc
    _check_decimals(rec)
    return rec


def _invalid(error: Any) -> InvalidInput:
    reason = _PYDANTIC_REASONS.get(error["type"], "input.invalid_value")
    ctx = error.get("ctx") or {}
    return InvalidInput(field=_field_path(error["loc"]), reason=reason, detail=error["msg"],
                        value=str(error.get("input", ""))[:60], max=ctx.get("max_length", ""))


def _check_decimals(rec: _Record) -> None:
    """Refuse malformed decimals while still in the parse pass, so they are reported with the rest."""
    if isinstance(rec, VoucherRec):
        for i, ln in enumerate(rec.lines, start=1):
            _dec(ln.debit, f"lines[{i}].debit")
            _dec(ln.credit, f"lines[{i}].credit")
        return
    if isinstance(rec, StockDocRec | OrderRec | InvoiceRec):
        if rec.salesperson and rec.type not in SALES_DOCS:
            raise InvalidInput(field="salesperson", reason="input.not_allowed")
        for i, sl in enumerate(rec.lines, start=1):
            for name in ("qty", "counted_qty", "price", "price_incl_tax", "tax_rate", "amount"):
                if name in type(sl).model_fields:
                    _dec(getattr(sl, name), f"lines[{i}].{name}")
        return
    if isinstance(rec, CashRec):
        _dec(rec.amount, "amount")
        for i, st in enumerate(rec.settle, start=1):
            _dec(st.amount, f"settle[{i}].amount")
            _dec(st.writeoff, f"settle[{i}].writeoff")
        return
    for name in ("credit_limit", "tax_rate", "min_qty", "max_qty", "debit", "credit", "qty", "value"):
        if name in type(rec).model_fields:
            _dec(getattr(rec, name), name)


def _checked(text: str | None) -> Decimal | None:
    """A decimal _check_decimals has already accepted, read again without the checks."""
    # parse_decimal accepted it, so it is a plain number, maybe with thousands separators.
    return None if text is None else Decimal(text.strip().replace(",", ""))


def stock_doc_in(rec: StockDocRec) -> stock.StockDocIn:
    """An interchange record as the stock service's input (transfers name from_warehouse).
    Its decimals were checked when the record was parsed (_check_decimals)."""
    lines = []
    for ln in rec.lines:
        qty = ln.counted_qty if rec.type == "stocktake" else ln.qty
        lines.append(stock.StockLineIn(
            ln.product, _checked(qty), _checked(ln.price), _checked(ln.price_incl_tax), _checked(ln.tax_rate),
            ln.batch, ln.expiry, _checked(ln.amount)))
    return stock.StockDocIn(rec.type, rec.date, tuple(lines), warehouse=rec.from_warehouse or rec.warehouse,
                            partner=rec.partner, to_warehouse=rec.to_warehouse, source=rec.source,
                            account=rec.account, no=rec.no, reason=rec.reason, memo=rec.memo, order=rec.order,
                            salesperson=rec.salesperson)


def _side(rec_type: str) -> str:
    return "sales" if rec_type in ("sales_order", "sales_invoice", "receipt") else "purchase"


def order_in(rec: OrderRec) -> orders.OrderIn:
    lines = tuple(orders.OrderLineIn(ln.product, _checked(ln.qty), _checked(ln.price), _checked(ln.price_incl_tax),
                                     _checked(ln.tax_rate), ln.delivery_date) for ln in rec.lines)
    return orders.OrderIn(_side(rec.type), rec.partner, rec.date, lines, delivery_date=rec.delivery_date, no=rec.no,
                          memo=rec.memo, salesperson=rec.salesperson)


def invoice_in(rec: InvoiceRec) -> invoices.InvoiceIn:
    lines = tuple(invoices.InvoiceLineIn(ln.product, _checked(ln.qty), _checked(ln.price),
                                         _checked(ln.price_incl_tax), _checked(ln.tax_rate)) for ln in rec.lines)
    return invoices.InvoiceIn(_side(rec.type), rec.partner, rec.date, lines, invoice_kind=rec.invoice_kind,
                              sources=tuple(rec.source), red=rec.red, no=rec.no, memo=rec.memo,
                              salesperson=rec.salesperson)


def cash_in(rec: CashRec) -> cash.CashIn:
    settle = tuple(cash.SettleLineIn(st.invoice, _req_dec(st.amount, "amount"),
                                     _checked(st.writeoff) or Decimal(0)) for st in rec.settle)
    return cash.CashIn(_side(rec.type), rec.partner, rec.account, _req_dec(rec.amount, "amount"), rec.date, settle,
                       no=rec.no, memo=rec.memo)


@dataclass(frozen=True, slots=True)
class Created:
    """What a record became: the entity (stock_doc, order, invoice, cash_doc, voucher), its id,
    number and status."""

    entity: str
    id: int
    no: str
    status: str


def _apply_trade(db: Session, rec: OrderRec | InvoiceRec | CashRec, actor: Actor, audit: bool,
                 event: str = "import") -> Created:
    """An order, invoice or receipt/payment entered as a draft and, with `audit`, audited, in the
    caller's transaction (the same steps as create_order/create_invoice/create_cash). A purchase
    invoice that fails the three-way match is refused: an import does not override it."""
    conn = db.connection()
    params: dict[str, Any]
    if isinstance(rec, OrderRec):
        oref = orders.enter_order(conn, order_in(rec), actor)
        if audit:
            oref = orders._step(conn, oref.id, "audit", actor)
        entity, ref_id, params = "order", oref.id, {"no": oref.no, "side": oref.side, "status": oref.status}
        if oref.warnings:
            params["warnings"] = [[w.code, w.params] for w in oref.warnings]
    elif isinstance(rec, InvoiceRec):
        iref = invoices.enter_invoice(conn, invoice_in(rec), actor)
        if audit:
            iref = invoices._audit(conn, iref.id, actor, False)
        entity, ref_id, params = "invoice", iref.id, {"no": iref.no, "side": iref.side, "status": iref.status}
    else:
        cref = cash.enter_cash(conn, cash_in(rec), actor)
        if audit:
            cref = cash._audit_cash(conn, cref.id, actor)
        entity, ref_id, params = "cash_doc", cref.id, {"no": cref.no, "side": cref.side, "status": cref.status}
    append_audit(conn, actor, f"{entity}.{event}", entity, ref_id, params)
    return Created(entity, ref_id, params["no"], params["status"])


def _apply(db: Session, rec: _Record, actor: Actor, advance_to: VoucherStatus,
           refs: stock.Refs | None = None, event: str = "import") -> Created | None:
    """Apply one record in the caller's transaction; documents return what they became."""
    if isinstance(rec, OrderRec | InvoiceRec | CashRec):
        return _apply_trade(db, rec, actor, advance_to is not VoucherStatus.DRAFT, event)
    elif isinstance(rec, StockDocRec):
        conn = db.connection()
        ref = stock.enter_doc(conn, stock_doc_in(rec), actor, refs)
        if advance_to is not VoucherStatus.DRAFT:
            ref = stock.audit_doc(conn, ref.id, actor)
        append_audit(conn, actor, f"stock_doc.{event}", "stock_doc", ref.id,
                     {"type": ref.doc_type, "no": ref.no, "status": ref.status})
        return Created("stock_doc", ref.id, ref.no, ref.status)
    elif isinstance(rec, OpeningStockRec):
        ref = stock.enter_opening_stock(db.connection(), [stock.OpeningStockIn(
            rec.product, rec.warehouse, _req_dec(rec.qty, "qty"), _req_dec(rec.value, "value"), rec.batch,
            rec.expiry)], actor)
        append_audit(db, actor, "stock.opening", "stock_doc", ref.id, {"no": ref.no, "lines": 1})
    elif isinstance(rec, WarehouseRec):
        masterdata.add_warehouse_row(db, masterdata.WarehouseIn(rec.code, rec.name), actor)
    elif isinstance(rec, PartnerRec):
        masterdata.add_partner_row(db, masterdata.PartnerIn(
            rec.code, rec.name, rec.kind, _dec(rec.credit_limit, "credit_limit")), actor)
    elif isinstance(rec, ProductRec):
        masterdata.add_product_row(db, masterdata.ProductIn(
            rec.code, rec.name, rec.unit, _req_dec(rec.tax_rate, "tax_rate"), rec.category, rec.costing_method,
            rec.barcode, rec.batch_tracked, rec.shelf_life_days, _dec(rec.min_qty, "min_qty"),
            _dec(rec.max_qty, "max_qty")), actor)
    elif isinstance(rec, OpeningRec):
        opening.set_opening_row(db, opening.OpeningIn(
            rec.account, _req_dec(rec.debit, "debit"), _req_dec(rec.credit, "credit"), rec.partner), actor)
    elif isinstance(rec, VoucherRec):
        lines = tuple(VoucherLine(ln.account, _req_dec(ln.debit, f"lines[{i}].debit"),
                                  _req_dec(ln.credit, f"lines[{i}].credit"), ln.partner, ln.memo)
                      for i, ln in enumerate(rec.lines, start=1))
        vref = vouchers.enter_voucher(db, vouchers.VoucherIn(rec.date, lines, rec.memo), actor, advance_to,
                                      expected_label=rec.no)
        return Created("voucher", vref.id, f"{vref.period} {vref.label}", vref.status)
    return None


def _import_fast(db: Session, parsed: list[tuple[int, _Record]], actor: Actor,
                 progress: Callable[[int, int], None] | None) -> None:
    refs = stock.Refs()
    bulk = stockbulk.BulkAuditor(db.connection(), actor, refs)
    opening_run: list[stock.OpeningStockIn] = []

    def end_opening_run() -> None:
        if opening_run:
            ref = stock.enter_opening_stock(db.connection(), opening_run, actor)
            append_audit(db, actor, "stock.opening", "stock_doc", ref.id, {"no": ref.no, "lines": len(opening_run)})
            opening_run.clear()

    for done, (_, rec) in enumerate(parsed, start=1):
        if isinstance(rec, StockDocRec):
            end_opening_run()
            bulk.add(stock_doc_in(rec))
        elif isinstance(rec, OpeningStockRec):
            bulk.flush()
            opening_run.append(stock.OpeningStockIn(rec.product, rec.warehouse, _req_dec(rec.qty, "qty"),
                                                    _req_dec(rec.value, "value"), rec.batch, rec.expiry))
        else:
            bulk.flush()
            end_opening_run()
            _apply(db, rec, actor, VoucherStatus.POSTED, refs)
            if isinstance(rec, InvoiceRec | OrderRec | CashRec):
                # The careful path wrote rows of its own (a purchase invoice's cost adjustment moves
                # stock values): the bulk auditor reads balances and hands out ids afresh.
                bulk.states.clear()
                bulk.ids.reset()
        if progress and (done % 1000 == 0 or done == len(parsed)):
            progress(done, len(parsed))
    end_opening_run()
    bulk.finish()


def _permissions_for(kinds: Iterable[str], audit: bool) -> list[str]:
    need = set()
    for kind in kinds:
        if kind in ("warehouse", "partner", "product"):
            need.add(perm.MASTERDATA_EDIT)
        elif kind == "opening_balance" or kind in ("opening_balance", "opening_stock"):
            need.add(perm.OPENING_EDIT)
        elif kind == "voucher":
            need.add(perm.VOUCHER_CREATE)
            if audit:
                need |= {perm.VOUCHER_AUDIT, perm.VOUCHER_POST}
        elif kind in STOCK_DOCS:
            need.add(perm.STOCK_CREATE)
            if audit:
                need.add(perm.STOCK_AUDIT)
        elif kind in ORDERS:
            need.add(perm.ORDER_CREATE)
            if audit:
                need.add(perm.ORDER_AUDIT)
        elif kind in INVOICES:
            need.add(perm.INVOICE_CREATE)
            if audit:
                need.add(perm.INVOICE_AUDIT)
        elif kind in CASH_DOCS:
            need.add(perm.CASH_CREATE)
            if audit:
                need.add(perm.CASH_AUDIT)
    return sorted(need)


def import_records(db: Session, lines: Iterable[str], *, actor: Actor, audit: bool = False,
                   progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Import JSON Lines records all or nothing; returns the count per record type.

    With `audit`, each voucher is also audited and posted, and each stock document, order,
    invoice and receipt/payment audited, as it is created, one audit-log entry per record.
    Raises ImportFailed listing every bad line (file line numbers), PermissionDenied before
    reading anything the user may not write.
    """
    parsed: list[tuple[int, _Record]] = []
    problems: list[JxcError] = []
    for n, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            parsed.append((n, parse_record(text)))
        except JxcError as exc:
            problems.append(RecordError(n, exc))
    counts = Counter(getattr(rec, "type", "") for _, rec in parsed)
    for permission in _permissions_for(counts, audit):
        require(actor, permission)
    advance_to = VoucherStatus.POSTED if audit else VoucherStatus.DRAFT
    refs = stock.Refs()
    if audit and not problems:
        # The fast path: batched writes, no savepoint per record. If the rules refuse anything,
        # it is rolled back and the careful path below runs to report every problem.
        try:
            with db.begin(), deferred_audit(db, actor):
                _import_fast(db, parsed, actor, progress)
            return dict(counts)
        except (JxcError, IntegrityError):
            db.rollback()
    refs = stock.Refs()
    with db.begin(), deferred_audit(db, actor):
        for done, (n, rec) in enumerate(parsed, start=1):
            try:
                with db.begin_nested():
                    _apply(db, rec, actor, advance_to, refs)
            except JxcError as exc:
                problems.append(RecordError(n, exc))
            if progress:
                progress(done, len(parsed))
        if problems:
            # Lines that did not parse and records the rules refused, in file order, in one report.
            raise ImportFailed(sorted(problems, key=lambda e: int(str(e.params["line"]))))
    return dict(counts)
