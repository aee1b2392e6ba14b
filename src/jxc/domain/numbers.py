"""Decimal money and quantities, built and rounded in one place.

Chinese accounting rounds half-up (四舍五入); Python's default is half-even, so
nothing here ever calls round() on an amount.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

Money = Decimal  # yuan, 2 places
Qty = Decimal  # base-unit quantity, 4 places
UnitCost = Decimal  # 6 places: cost is carried more precisely than money

ZERO = Decimal("0")
MONEY_ZERO = Decimal("0.00")  # a zero amount as reports show it
CENT = Decimal("0.01")
QTY_STEP = Decimal("0.0001")
UNIT_COST_STEP = Decimal("0.000001")

MONEY_PLACES = 2
QTY_PLACES = 4
UNIT_COST_PLACES = 6

# The largest amount a column holds: NUMERIC(18, 2) on PostgreSQL, a scaled
# 64-bit integer on SQLite. 16 integer digits covers any SME's books.
MAX_MONEY = Decimal("9999999999999999.99")


def money(x: Decimal | str | int) -> Money:
    """Round half-up to the cent (四舍五入), the only rounding rule for amounts."""
    return Decimal(x).quantize(CENT, rounding=ROUND_HALF_UP)


def qty(x: Decimal | str | int) -> Qty:
    """Round half-up to the quantity step (0.0001)."""
    return Decimal(x).quantize(QTY_STEP, rounding=ROUND_HALF_UP)


def unit_cost(x: Decimal | str | int) -> UnitCost:
    """Round half-up to the unit-cost step (0.000001)."""
    return Decimal(x).quantize(UNIT_COST_STEP, rounding=ROUND_HALF_UP)


def parse_decimal(text: object) -> Decimal | None:
    """Parse user or file input into a finite Decimal, or None when it is not one.

    Accepts str and int (and Decimal); refuses float outright, because a float
    has already lost the value the user typed. Thousands separators are
    accepted ("1,234.50"); anything else that is not a plain number is refused.
    """
    if isinstance(text, (bool, float)):
        return None
    if isinstance(text, Decimal):
        value = text
    elif isinstance(text, int):
        value = Decimal(text)
    elif isinstance(text, str):
        cleaned = text.strip().replace(",", "")
        if not cleaned or cleaned.lower() in {"nan", "inf", "-inf", "+inf", "infinity", "-infinity"}:
            return None
        try:
            value = Decimal(cleaned)
        except InvalidOperation:
            return None
    else:
        return None
    if not value.is_finite():
        return None
    return value


def places(value: Decimal) -> int:
    """Number of digits after the decimal point that the value actually carries."""
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)
