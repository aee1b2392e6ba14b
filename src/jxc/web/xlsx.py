"""Report pages as Excel workbooks (openpyxl): a title and the report's parameters on top, a
bold header row that stays in view (frozen), amounts and quantities as numbers with their
formats (never text), dates as dates, column widths that fit Chinese text, a total row.

Text that a spreadsheet would read as a formula (starting with = + - @, or a tab or carriage
return before one) is written as a string cell with Excel's quote prefix, the same as typing
an apostrophe in front: it shows as typed and is never evaluated (CSV/formula injection).
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from fastapi.responses import Response
from openpyxl import Workbook  # type: ignore[import-untyped]  # no stubs shipped; types-openpyxl not a dependency
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side  # type: ignore[import-untyped]
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]

MONEY_FORMAT = "#,##0.00;[Red]-#,##0.00"
QTY_FORMAT = "#,##0.####"
PCT_FORMAT = "0.00%"
DATE_FORMAT = "yyyy-mm-dd"
INT_FORMAT = "0"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
_HEADER_FILL = PatternFill("solid", fgColor="F2F4F7")
_TOTAL_FILL = PatternFill("solid", fgColor="F9FAFB")
_THIN = Side(style="thin", color="D0D5DD")
_MAX_WIDTH = 60


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    kind: str = "text"  # text | money | qty | pct | date | int
    width: int | None = None  # in characters; None: fit the content


def _display_width(text: str) -> int:
    """Characters a column needs: a CJK (wide) character counts two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def neutralise(cell: Any) -> None:
    """Make a text cell that looks like a formula inert: a string with the quote prefix."""
    if isinstance(cell.value, str) and cell.value.startswith(_FORMULA_START):
        cell.data_type = "s"
        cell.quotePrefix = True


def _put(cell: Any, value: Any, kind: str) -> str:
    """Write one value with its number format; returns the text its width is measured by."""
    if value is None or value == "":
        cell.value = None
        return ""
    if kind in ("money", "qty", "pct", "int") and isinstance(value, Decimal | int) and not isinstance(value, bool):
        cell.value = value
        cell.number_format = {"money": MONEY_FORMAT, "qty": QTY_FORMAT, "pct": PCT_FORMAT, "int": INT_FORMAT}[kind]
        return f"{value:,.2f}" if kind != "int" else str(value)
    if isinstance(value, datetime | date):
        cell.value = value
        cell.number_format = DATE_FORMAT
        return "0000-00-00"
    text = str(value)
    cell.value = text
    neutralise(cell)
    return text


def workbook(title: str, columns: Sequence[Column], rows: Iterable[Sequence[Any]], *,
             params: Sequence[str] = (), totals: Sequence[Any] | None = None, sheet: str | None = None) -> bytes:
    """One sheet: `title`, a line of `params`, the header, the rows, an optional total row."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = (sheet or title)[:31].translate({ord(c): "_" for c in "[]:*?/\\"})
    ws.cell(1, 1, title).font = Font(bold=True, size=14)
    neutralise(ws.cell(1, 1))
    if params:
        ws.cell(2, 1, "    ".join(params)).font = Font(color="667085")
        neutralise(ws.cell(2, 1))
    header_row = 3
    widths = [max(_display_width(c.title), 6) for c in columns]
    for j, col in enumerate(columns, start=1):
        cell = ws.cell(header_row, j, col.title)
        neutralise(cell)
        cell.font = Font(bold=True)
        cell.fill = _HEADER_FILL
        cell.border = Border(bottom=_THIN)
        cell.alignment = Alignment(horizontal="right" if col.kind in ("money", "qty", "pct", "int") else "left",
                                   vertical="center")
    r = header_row
    for row in rows:
        r += 1
        for j, (col, value) in enumerate(zip(columns, row, strict=False), start=1):
            shown = _put(ws.cell(r, j), value, col.kind)
            widths[j - 1] = max(widths[j - 1], _display_width(shown))
    if totals is not None:
        r += 1
        for j, (col, value) in enumerate(zip(columns, totals, strict=False), start=1):
            cell = ws.cell(r, j)
            shown = _put(cell, value, col.kind)
            cell.font = Font(bold=True)
            cell.fill = _TOTAL_FILL
            cell.border = Border(top=_THIN)
            widths[j - 1] = max(widths[j - 1], _display_width(shown))
    for j, col in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(j)].width = col.width or min(widths[j - 1] + 2, _MAX_WIDTH)
    ws.freeze_panes = ws.cell(header_row + 1, 1).coordinate
    ws.sheet_view.showGridLines = True
    ws.print_title_rows = f"{header_row}:{header_row}"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def content_disposition(filename: str) -> str:
    """attachment; with an ASCII fallback and the UTF-8 name (RFC 6266 / RFC 5987)."""
    fallback = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else "_" for ch in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def xlsx_response(data: bytes, filename: str) -> Response:
    if not filename.endswith(".xlsx"):
        filename += ".xlsx"
    return Response(data, media_type=XLSX_TYPE, headers={"Content-Disposition": content_disposition(filename),
                                                         "Cache-Control": "no-store"})
