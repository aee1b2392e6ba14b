"""Accounting periods: monthly, grouped in fiscal years; rules for what may be dated in them."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from jxc.domain.errors import InvalidInput, PeriodClosed


class PeriodStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"  # 已结账: a reverse close can reopen it
    LOCKED = "locked"  # 永久锁定: tax filed or audit signed; terminal


@dataclass(frozen=True, slots=True)
class PeriodSpan:
    """One monthly period: `label` is "YYYY-MM"."""

    year: int
    month: int
    start_date: date
    end_date: date

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def month_span(year: int, month: int) -> PeriodSpan:
    last = calendar.monthrange(year, month)[1]
    return PeriodSpan(year, month, date(year, month, 1), date(year, month, last))


def parse_period_label(text: str, *, field: str = "period") -> tuple[int, int]:
    """Parse "YYYY-MM" (also "YYYYMM") into (year, month) or raise InvalidInput naming the field."""
    cleaned = text.strip().replace("/", "-")
    if len(cleaned) == 6 and cleaned.isdigit():
        cleaned = f"{cleaned[:4]}-{cleaned[4:]}"
    parts = cleaned.split("-")
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        year, month = int(parts[0]), int(parts[1])
        if 1900 <= year <= 9999 and 1 <= month <= 12:
            return year, month
    raise InvalidInput(field=field, reason="input.period_format", value=text)


def fiscal_year_periods(year: int, first_month: int = 1) -> list[PeriodSpan]:
    """The twelve monthly periods of a fiscal year that starts in `first_month` of `year`."""
    spans = []
    y, m = year, first_month
    for _ in range(12):
        spans.append(month_span(y, m))
        m += 1
        if m == 13:
            y, m = y + 1, 1
    return spans


def calendar_year_periods(year: int, first_month: int = 1) -> list[PeriodSpan]:
    """The monthly periods of fiscal year `year` from `first_month` to December: the Chinese
    会计年度 is the calendar year (会计法 第十一条), so a book that starts in April has a
    first fiscal year of nine months, and its year-end close is December's."""
    return [month_span(year, m) for m in range(first_month, 13)]


def ensure_open(status: str, label: str) -> None:
    """Raise PeriodClosed unless the period takes postings (only an open period does)."""
    if PeriodStatus(status) is not PeriodStatus.OPEN:
        raise PeriodClosed(period=label)
