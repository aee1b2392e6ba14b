"""Printing: Rich tables on a terminal, JSON for machines. Decimals leave as strings."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, is_dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from jxc.i18n import t

# Piped output (files, tests, CI logs) gets a wide fixed width so ledger tables never fold;
# a terminal uses its own width.
_WIDTH = None if sys.stdout.isatty() else 200
out = Console(highlight=False, soft_wrap=True, width=_WIDTH)
err = Console(stderr=True, highlight=False, soft_wrap=True, width=_WIDTH)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def print_json(data: Any) -> None:
    out.print_json(json.dumps(_plain(data), ensure_ascii=False))


def amount(value: Decimal | None, *, blank_zero: bool = True) -> str:
    if value is None or (blank_zero and value == 0):
        return ""
    return f"{value:,.2f}"


def table(title: str, columns: Sequence[tuple[str, bool]], rows: Sequence[Sequence[str]],
          lang: str | None, footer: Sequence[str] | None = None) -> None:
    """columns: (message code, right-aligned?)."""
    tbl = Table(title=title, show_footer=footer is not None, header_style="bold")
    for i, (code, right) in enumerate(columns):
        tbl.add_column(t(code, lang), justify="right" if right else "left",
                       footer=(footer[i] if footer else ""), no_wrap=right)
    for row in rows:
        tbl.add_row(*row)
    if not rows:
        out.print(t("cli.no_rows", lang))
    out.print(tbl)
