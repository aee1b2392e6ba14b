"""What orders, invoices and receipts/payments share: numbers, partners, VAT lines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, or_, select

from jxc.db.base import table_of
from jxc.db.models import Account, Partner, Product, TaxRate
from jxc.domain.errors import InvalidInput, JxcError
from jxc.domain.numbers import MAX_QTY, MAX_RATE, QTY_PLACES, RATE_PLACES, UNIT_COST_PLACES, fits
from jxc.domain.stockdocs import partner_fits
from jxc.domain.trade import PREFIXES, LineAmounts, Side, line_amounts
from jxc.services.common import DB, PeriodRef, conn_of
from jxc.services.stock import _next_doc_number, raise_doc_sequence

PARTNER = table_of(Partner)
PRODUCT = table_of(Product)
ACCOUNT = table_of(Account)
RATE = table_of(TaxRate)
MAX_PRICE = Decimal("999999999999.999999")

# Built once: building a statement per call costs more in SQLAlchemy than SQLite takes to run it.
_PARTNER_BY_CODE = select(PARTNER.c.id, PARTNER.c.code, PARTNER.c.kind, PARTNER.c.active,
                          PARTNER.c.credit_limit).where(PARTNER.c.code == bindparam("c"))
_PRODUCTS_BY_CODE = select(PRODUCT.c.id, PRODUCT.c.code, PRODUCT.c.name, PRODUCT.c.active, PRODUCT.c.tax_rate).where(
    PRODUCT.c.code.in_(bindparam("c", expanding=True)))
_RATES_ON = select(RATE.c.rate).where(RATE.c.valid_from <= bindparam("d"),
                                      or_(RATE.c.valid_to.is_(None), RATE.c.valid_to >= bindparam("d")))
_ACCOUNT_BY_CODE = select(ACCOUNT.c.id, ACCOUNT.c.code, ACCOUNT.c.is_leaf, ACCOUNT.c.active).where(
    ACCOUNT.c.code == bindparam("c"))


def parse_side(value: str, field: str = "side") -> Side:
    try:
        return Side(value)
    except ValueError:
        raise InvalidInput(field=field, reason="input.choice", value=value,
                           choices=", ".join(s.value for s in Side)) from None


def number_for(db: DB, kind: str, side: Side, period: PeriodRef, given: str | None) -> str:
    """The document's number: the one given (an import keeps its numbers, and a number of our
    own pattern moves the sequence past it) or the next of PREFIX-YYYYMM-NNNN."""
    prefix = PREFIXES[(kind, side)]
    key = f"{kind}_{side.value}" if kind != "settle" else "settle"
    head = f"{prefix}-{period.label[:4]}{period.label[5:]}-"
    if given:
        no = given.strip()
        tail = no[len(head):] if no.startswith(head) else ""
        if tail.isascii() and tail.isdigit():
            raise_doc_sequence(db, key, period.id, int(tail))
        return no
    return f"{head}{_next_doc_number(db, key, period.id):04d}"


def partner_row(db: DB, code: str | None, side: Side, errors: list[JxcError], field: str = "partner") -> Any:
    """The partner named by `code`, if it exists, is active and fits the side (supplier for
    purchasing, customer for sales); otherwise an error naming the field."""
    if not code:
        errors.append(InvalidInput(field=field, reason="input.required"))
        return None
    row = conn_of(db).execute(_PARTNER_BY_CODE, {"c": code}).one_or_none()
    wanted = "supplier" if side is Side.PURCHASE else "customer"
    if row is None:
        errors.append(InvalidInput(field=field, reason="stock.unknown_partner", value=code))
    elif not row.active:
        errors.append(InvalidInput(field=field, reason="masterdata.inactive", value=code))
    elif not partner_fits(row.kind, wanted):
        errors.append(InvalidInput(field=field, reason="stock.partner_kind", value=code, kind=wanted))
    else:
        return row
    return None


def products(db: DB, codes: set[str]) -> dict[str, Any]:
    if not codes:
        return {}
    return {r.code: r for r in conn_of(db).execute(_PRODUCTS_BY_CODE, {"c": sorted(codes)})}


def allowed_rates(db: DB, day: date) -> set[Decimal]:
    return set(conn_of(db).execute(_RATES_ON, {"d": day}).scalars())


@dataclass(frozen=True, slots=True)
class PricedLine:
    product_id: int
    qty: Decimal
    rate: Decimal
    price_incl_tax: Decimal | None
    amounts: LineAmounts


def priced_line(i: int, product: str, qty: Decimal | None, price: Decimal | None, price_incl_tax: Decimal | None,
                tax_rate: Decimal | None, prods: dict[str, Any], rates: set[Decimal],
                errors: list[JxcError]) -> PricedLine | None:
    """Check one line of an order or invoice and compute its 金额/税额/价税合计; problems go to
    `errors` named lines[i].field."""
    before = len(errors)
    prod = prods.get(product)
    if prod is None:
        errors.append(InvalidInput(field=f"lines[{i}].product", reason="stock.unknown_product", value=product))
    elif not prod.active:
        errors.append(InvalidInput(field=f"lines[{i}].product", reason="masterdata.inactive", value=product))
    if qty is None:
        errors.append(InvalidInput(field=f"lines[{i}].qty", reason="input.required"))
    else:
        problem = fits(qty, QTY_PLACES, MAX_QTY)
        if problem:
            errors.append(InvalidInput(field=f"lines[{i}].qty", reason=problem, value=str(qty), places=QTY_PLACES))
        elif qty <= 0:
            errors.append(InvalidInput(field=f"lines[{i}].qty", reason="input.not_positive", value=str(qty)))
    if price is not None and price_incl_tax is not None:
        errors.append(InvalidInput(field=f"lines[{i}].price", reason="stock.two_prices"))
    elif price is None and price_incl_tax is None:
        errors.append(InvalidInput(field=f"lines[{i}].price", reason="input.required"))
    for name, value in (("price", price), ("price_incl_tax", price_incl_tax)):
        if value is None:
            continue
        problem = fits(value, UNIT_COST_PLACES, MAX_PRICE)
        if problem:
            errors.append(InvalidInput(field=f"lines[{i}].{name}", reason=problem, value=str(value),
                                       places=UNIT_COST_PLACES))
        elif value < 0:
            errors.append(InvalidInput(field=f"lines[{i}].{name}", reason="input.negative", value=str(value)))
    rate = tax_rate if tax_rate is not None else (prod.tax_rate if prod is not None else None)
    if rate is None:
        errors.append(InvalidInput(field=f"lines[{i}].tax_rate", reason="input.required"))
    elif fits(rate, RATE_PLACES, MAX_RATE) or rate not in rates:
        errors.append(InvalidInput(field=f"lines[{i}].tax_rate", reason="trade.tax_rate_not_allowed",
                                   value=str(rate), allowed=", ".join(str(r.normalize()) for r in sorted(rates))))
    if len(errors) > before or prod is None or qty is None or rate is None:
        return None
    amounts = line_amounts(qty, rate, price=price, price_incl_tax=price_incl_tax)
    return PricedLine(prod.id, qty, rate, price_incl_tax, amounts)


def account_row(db: DB, code: str | None, field: str, errors: list[JxcError]) -> Any:
    if not code:
        errors.append(InvalidInput(field=field, reason="input.required"))
        return None
    row = conn_of(db).execute(_ACCOUNT_BY_CODE, {"c": code}).one_or_none()
    if row is None:
        errors.append(InvalidInput(field=field, reason="account.unknown", account=code))
    elif not row.is_leaf:
        errors.append(InvalidInput(field=field, reason="account.not_leaf", account=code))
    elif not row.active:
        errors.append(InvalidInput(field=field, reason="masterdata.inactive", value=code))
    else:
        return row
    return None


def account_id(db: DB, code: str) -> int:
    return int(conn_of(db).execute(select(ACCOUNT.c.id).where(ACCOUNT.c.code == code)).scalar_one())
