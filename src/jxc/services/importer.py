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
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError
from sqlalchemy.orm import Session

from jxc.domain import permissions as perm
from jxc.domain.errors import ImportFailed, InvalidInput, JxcError, RecordError
from jxc.domain.numbers import parse_decimal
from jxc.domain.permissions import Actor, require
from jxc.domain.status import VoucherStatus
from jxc.domain.voucher import VoucherLine
from jxc.services import masterdata, opening, vouchers

SUPPORTED = ("warehouse", "partner", "product", "opening_balance", "voucher")
# Known to the format, imported once the issue that owns them lands.
LATER = (
    "opening_stock", "purchase_order", "sales_order", "purchase_receipt", "purchase_return",
    "sales_delivery", "sales_return", "purchase_invoice", "sales_invoice", "payment", "receipt",
    "transfer", "other_in", "other_out", "stocktake",
)

Text = Annotated[StrictStr, Field(max_length=200)]
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
    "opening_balance": OpeningRec, "voucher": VoucherRec,
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
        first = exc.errors()[0]
        reason = _PYDANTIC_REASONS.get(first["type"], "input.invalid_value")
        ctx = first.get("ctx") or {}
        raise InvalidInput(field=_field_path(first["loc"]), reason=reason, detail=first["msg"],
                           value=str(first.get("input", ""))[:60], max=ctx.get("max_length", "")) from exc
    _check_decimals(rec)
    return rec


def _check_decimals(rec: _Record) -> None:
    """Refuse malformed decimals while still in the parse pass, so they are reported with the rest."""
    if isinstance(rec, VoucherRec):
        for i, ln in enumerate(rec.lines, start=1):
            _dec(ln.debit, f"lines[{i}].debit")
            _dec(ln.credit, f"lines[{i}].credit")
        return
    for name in ("credit_limit", "tax_rate", "min_qty", "max_qty", "debit", "credit"):
        if name in type(rec).model_fields:
            _dec(getattr(rec, name), name)


def _apply(db: Session, rec: _Record, actor: Actor, advance_to: VoucherStatus) -> None:
    if isinstance(rec, WarehouseRec):
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
        vouchers.enter_voucher(db, vouchers.VoucherIn(rec.date, lines, rec.memo), actor, advance_to,
                               expected_label=rec.no)


def _permissions_for(kinds: Iterable[str], audit: bool) -> list[str]:
    need = set()
    for kind in kinds:
        if kind in ("warehouse", "partner", "product"):
            need.add(perm.MASTERDATA_EDIT)
        elif kind == "opening_balance":
            need.add(perm.OPENING_EDIT)
        elif kind == "voucher":
            need.add(perm.VOUCHER_CREATE)
            if audit:
                need |= {perm.VOUCHER_AUDIT, perm.VOUCHER_POST}
    return sorted(need)


def import_records(db: Session, lines: Iterable[str], *, actor: Actor, audit: bool = False,
                   progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Import JSON Lines records all or nothing; returns the count per record type.

    With `audit`, each voucher is also audited and posted as it is created, one
    audit-log entry per voucher. Raises ImportFailed listing every bad line (file line numbers),
    PermissionDenied before reading anything the user may not write.
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
    with db.begin():
        for done, (n, rec) in enumerate(parsed, start=1):
            try:
                with db.begin_nested():
                    _apply(db, rec, actor, advance_to)
            except JxcError as exc:
                problems.append(RecordError(n, exc))
            if progress:
                progress(done, len(parsed))
        if problems:
            # Lines that did not parse and records the rules refused, in file order, in one report.
            raise ImportFailed(sorted(problems, key=lambda e: int(str(e.params["line"]))))
    return dict(counts)
