"""Accounting periods (jxc.domain.periods): no database."""

from __future__ import annotations

import itertools
from datetime import date

import pytest

from jxc.domain.errors import InvalidInput, PeriodClosed
from jxc.domain.periods import PeriodStatus, ensure_open, fiscal_year_periods, month_span, parse_period_label


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-06", (2026, 6)),
        ("2026-6", (2026, 6)),
        ("202606", (2026, 6)),
        ("2026/06", (2026, 6)),
        (" 2026-12 ", (2026, 12)),
        ("1900-01", (1900, 1)),
        ("9999-12", (9999, 12)),
    ],
)
def test_parse_period_label_good(text, expected):
    assert parse_period_label(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "2026", "2026-13", "2026-00", "2026-1-1", "26-06", "1899-12", "abcd-ef", "2026-06-01", "2026_06", "20266",
     "2026--6", "-2026-06"],
)
def test_parse_period_label_bad(text):
    with pytest.raises(InvalidInput) as err:
        parse_period_label(text, field="start")
    assert err.value.params == {"field": "start", "reason": "input.period_format", "value": text}


def test_calendar_fiscal_year():
    spans = fiscal_year_periods(2026)
    assert [s.label for s in spans] == [f"2026-{m:02d}" for m in range(1, 13)]
    assert spans[0].start_date == date(2026, 1, 1)
    assert spans[-1].end_date == date(2026, 12, 31)


def test_fiscal_year_starting_in_april_crosses_new_year():
    spans = fiscal_year_periods(2026, first_month=4)
    assert len(spans) == 12
    assert spans[0].label == "2026-04" and spans[0].start_date == date(2026, 4, 1)
    assert spans[8].label == "2026-12"
    assert spans[9].label == "2027-01" and spans[9].year == 2027
    assert spans[-1].label == "2027-03" and spans[-1].end_date == date(2027, 3, 31)


def test_periods_tile_the_year_without_gaps_or_overlaps():
    spans = fiscal_year_periods(2027, first_month=7)
    for before, after in itertools.pairwise(spans):
        assert (after.start_date - before.end_date).days == 1


@pytest.mark.parametrize(("year", "last_day"), [(2024, 29), (2028, 29), (2026, 28), (2100, 28), (2000, 29)])
def test_february_end_follows_leap_years(year, last_day):
    feb = next(s for s in fiscal_year_periods(year) if s.month == 2)
    assert feb.end_date == date(year, 2, last_day)
    assert month_span(year, 2) == feb


def test_ensure_open_allows_only_open():
    assert ensure_open("open", "2026-05") is None
    assert ensure_open(PeriodStatus.OPEN, "2026-05") is None


@pytest.mark.parametrize("status", [PeriodStatus.CLOSED, PeriodStatus.LOCKED, "closed", "locked"])
def test_ensure_open_refuses_closed_and_locked(status):
    with pytest.raises(PeriodClosed) as err:
        ensure_open(status, "2026-05")
    assert err.value.params == {"period": "2026-05"}


def test_ensure_open_refuses_an_unknown_status():
    with pytest.raises(ValueError):
        ensure_open("half-open", "2026-05")
