"""Decimal money and quantities, built and rounded in one place.

Chinese accounting rounds half-up (四舍五入); Python's default is half-even, so
nothing here ever calls round() on an amount.
"""

from __future__ import annotations

import re
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
RATE_PLACES = 4

# The largest amount a column holds: NUMERIC(18, 2) on PostgreSQL, a scaled
# 64-bit integer on SQLite. 16 integer digits covers any SME's books.
MAX_MONEY = Decimal("9999999999999999.99")
MAX_QTY = Decimal("99999999999999.9999")  # NUMERIC(18, 4)
MAX_RATE = Decimal("9999.9999")  # NUMERIC(8, 4)


def money(x: Decimal | str | int) -> Money:
    """Round half-up to the cent (四舍五入), the only rounding rule for amounts."""
    return (x if type(x) is Decimal else Decimal(x)).quantize(CENT, rounding=ROUND_HALF_UP)


def qty(x: Decimal | str | int) -> Qty:
    """Round half-up to the quantity step (0.0001)."""
    return Decimal(x).quantize(QTY_STEP, rounding=ROUND_HALF_UP)


def unit_cost(x: Decimal | str | int) -> UnitCost:
    """Round half-up to the unit-cost step (0.000001)."""
    return Decimal(x).quantize(UNIT_COST_STEP, rounding=ROUND_HALF_UP)


# A plain number as people type it: optional sign, digits (optionally grouped by commas in
# threes), optional fraction. No exponent, no underscores, no non-ASCII digits: Decimal()
# accepts all of those, and "1,5" read as 15 would be a tenfold error on an amount.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+|\d{1,3}(?:,\d{3})+)?(?:\.\d+)?", re.ASCII)


def parse_decimal(text: object) -> Decimal | None:
    """Parse user or file input into a finite Decimal, or None when it is not one.

    Accepts str and int (and finite Decimal); refuses float outright, because a
    float has already lost the value the user typed. Text must be a plain number;
    thousands separators are accepted only as groups of three ("1,234.50").
    """
    if isinstance(text, bool | float):
        return None
    if isinstance(text, Decimal):
        return text if text.is_finite() else None
    if isinstance(text, int):
        return Decimal(text)
    if not isinstance(text, str):
        return None
    cleaned = text.strip()
    # A plain number always ends in a digit ("5", "5.0", "1,234"), which also rules out "", "+" and ".".
    if not cleaned or not cleaned[-1].isdigit() or not _PLAIN_NUMBER.fullmatch(cleaned):
        return None
    try:
        return Decimal(cleaned.replace(",", ""))
    except InvalidOperation:
        return None


def fits(value: Decimal, places_allowed: int, max_abs: Decimal) -> str | None:
    """Why `value` cannot be stored at `places_allowed` decimals up to `max_abs`, as a message
    code (input.too_many_places / input.too_large), or None when it fits."""
    exponent = value.as_tuple().exponent
    # As typed, most values carry no more places than allowed; only the rest need normalising
    # ("12.50000" has five places as written, one in fact).
    if isinstance(exponent, int) and -exponent > places_allowed and places(value) > places_allowed:
        return "input.too_many_places"
    if abs(value) > max_abs:
        return "input.too_large"
    return None


def places(value: Decimal) -> int:
    """Number of digits after the decimal point that the value actually carries."""
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)
