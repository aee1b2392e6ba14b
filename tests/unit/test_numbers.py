"""Money rounding and decimal parsing (jxc.domain.numbers): no database."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jxc.domain.numbers import CENT, MAX_MONEY, money, parse_decimal, places, qty, unit_cost

D = Decimal


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2.665", "2.67"),  # half-up; round(Decimal("2.665"), 2) would give 2.66 (half-even)
        ("2.675", "2.68"),
        ("2.664999", "2.66"),
        ("2.625", "2.63"),  # half-even would keep the even 2.62
        ("-2.665", "-2.67"),  # away from zero for negatives too (红字)
        ("0.005", "0.01"),
        ("0.004", "0.00"),
        ("100", "100.00"),
        (7, "7.00"),
        (D("1.10"), "1.10"),
    ],
)
def test_money_rounds_half_up_to_the_cent(raw, expected):
    result = money(raw)
    assert result == D(expected)
    assert str(result) == expected  # always exactly two places


def test_money_differs_from_builtin_round():
    assert round(D("2.665"), 2) == D("2.66")
    assert money(D("2.665")) == D("2.67")


@pytest.mark.parametrize(
    ("fn", "raw", "expected"),
    [
        (qty, "1.23455", "1.2346"),
        (qty, "3", "3.0000"),
        (unit_cost, "12.3456785", "12.345679"),
        (unit_cost, "0.0000004", "0.000000"),
    ],
)
def test_quantity_and_unit_cost_steps(fn, raw, expected):
    assert str(fn(raw)) == expected


@given(st.decimals(min_value=-MAX_MONEY, max_value=MAX_MONEY, places=6, allow_nan=False, allow_infinity=False))
def test_money_is_idempotent_and_within_half_a_cent(value):
    once = money(value)
    assert money(once) == once
    assert abs(once - value) <= CENT / 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12.50", D("12.50")),
        ("  12 ", D("12")),
        ("-0.01", D("-0.01")),
        ("+5", D("5")),
        ("1,234.50", D("1234.50")),
        ("1,234,567.89", D("1234567.89")),
        (5, D("5")),
        (D("3.30"), D("3.30")),
    ],
)
def test_parse_decimal_accepts(text, expected):
    parsed = parse_decimal(text)
    assert isinstance(parsed, Decimal)
    assert parsed == expected


def test_parse_decimal_keeps_the_places_typed():
    assert str(parse_decimal("1,234.50")) == "1234.50"


@pytest.mark.parametrize(
    "text",
    [
        1.5,  # a float has already lost the typed value
        0.1,
        float("nan"),
        True,  # bool is an int subclass, but never an amount
        None,
        "NaN",
        "nan",
        "sNaN",
        "Infinity",
        "-Infinity",
        "inf",
        "+inf",
        D("NaN"),
        D("Infinity"),
        "",
        "   ",
        "abc",
        "12.3.4",
        "0x10",
        "1e3",  # plain numbers only: no exponent
        "1_000",  # Decimal() would take the underscore
        "\u0661\u0660",  # Arabic-Indic digits
        "1.",
        "1.2e",
        [],
    ],
)
def test_parse_decimal_refuses(text):
    assert parse_decimal(text) is None


@pytest.mark.parametrize("text", ["1,5", "1,2,3", "12,34.5", ",100"])
def test_parse_decimal_refuses_misplaced_thousands_separators(text):
    """Only thousands grouping is a separator: "1,5" (a European decimal comma) must not turn
    into 15, a tenfold error on an amount."""
    assert parse_decimal(text) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [(D("1.500"), 1), (D("100"), 0), (D("1E+3"), 0), (D("0.01"), 2), (D("-0.001"), 3), (D("12.340000"), 2)],
)
def test_places_counts_significant_decimals(value, expected):
    assert places(value) == expected
