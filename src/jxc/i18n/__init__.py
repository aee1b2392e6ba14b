"""Message catalogs: every user-facing text is looked up here by code.

Catalogs are gettext .po files read with Babel at first use (no compile step);
zh_CN is the default language, en the second.
"""

from __future__ import annotations

import os
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from babel.messages.pofile import read_po

from jxc.domain.errors import BatchInvalid, InvalidInput, JxcError, RecordError

DEFAULT_LANGUAGE = "zh_CN"
LANGUAGES = ("zh_CN", "en")


def normalise(lang: str | None) -> str:
    """Map "zh", "zh-CN", "zh_CN.UTF-8", "en_US" ... onto a catalog we ship."""
    if not lang:
        return DEFAULT_LANGUAGE
    base = lang.split(".")[0].replace("-", "_")
    if base.lower().startswith("en"):
        return "en"
    return DEFAULT_LANGUAGE


def current_language(explicit: str | None = None) -> str:
    return normalise(explicit or os.environ.get("JXC_LANG"))


@cache
def catalog(lang: str) -> dict[str, str]:
    path = resources.files("jxc.i18n").joinpath(f"locale/{lang}/LC_MESSAGES/jxc.po")
    with path.open("rb") as fh:
        cat = read_po(fh, locale=lang)
    return {str(m.id): str(m.string) for m in cat if m.id and m.string}


class _Params(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def t(code: str, lang: str | None = None, /, **params: Any) -> str:
    """The text for `code` in `lang`, placeholders filled; the code itself if no catalog has it."""
    lang = current_language(lang)
    text = catalog(lang).get(code) or catalog("en").get(code) or code
    return text.format_map(_Params({k: _show(v) for k, v in params.items()}))


def _show(value: Any) -> Any:
    return value if not isinstance(value, list | tuple) else ", ".join(str(v) for v in value)


def _field_label(field: str, lang: str) -> str:
    """lines[2].debit -> 第 2 行 借方 (the parts that have a catalog entry are translated)."""
    out = []
    for part in field.split("."):
        name, _, rest = part.partition("[")
        label = t(f"field.{name}", lang)
        if label == f"field.{name}":
            label = name
        if rest and name == "lines":
            out.append(t("field.row", lang, row=rest.rstrip("]"), label=label))
        elif rest:  # sources[2], settle[1]: the list's name and the position in it
            out.append(t("field.item", lang, row=rest.rstrip("]"), label=label))
        else:
            out.append(label)
    return " ".join(out)


def describe(error: JxcError, lang: str | None = None) -> str:
    """One readable message for any service error, naming the field, line and value concerned."""
    lang = current_language(lang)
    if isinstance(error, BatchInvalid):
        return "\n".join(describe(e, lang) for e in error.errors)
    if isinstance(error, RecordError):
        return "\n".join(t("import.record", lang, line=error.params["line"], text=part)
                         for part in describe(error.error, lang).split("\n"))
    params: dict[str, Any] = dict(error.params)
    # Codes inside params (an entity, a status) are words the user should read in their language.
    if "entity" in params:
        params["entity"] = t(f"entity.{params['entity']}", lang)
    for key in ("current", "target"):
        if key in params:
            params[key] = t(f"status.{params[key]}", lang)
    if params.get("kind") in ("supplier", "customer", "both"):
        params["kind"] = t(f"partnerkind.{params['kind']}", lang)
    if error.code.startswith("close."):  # the checklist's codes, and a period's status
        for key in ("failed", "warnings"):
            if key in params:
                params[key] = ", ".join(t(f"close.name.{c.strip()}", lang) for c in str(params[key]).split(","))
        if "status" in params:
            params["status"] = t(f"period.status.{params['status']}", lang)
    if params.get("statement") in ("balance_sheet", "income_statement", "cash_flow"):
        params["statement"] = t(f"statement.{params['statement']}", lang)
    if params.get("against") in ("receipt", "order"):  # what a three-way match compared the price with
        params["against"] = t(f"match.{params['against']}", lang)
    for key, value in params.items():  # quantities carry 4 places in the books; people read 99844, 2.5
        if isinstance(value, Decimal) and key in ("shortfall", "available", "qty", "ordered", "done"):
            params[key] = f"{value.normalize():f}"
    if "reason" in params and not isinstance(error, InvalidInput):
        params["reason"] = t(str(params["reason"]), lang, **params)  # a refusal's reason is a message code too
    if isinstance(error, InvalidInput):
        reason = str(params.get("reason", "input.invalid"))
        problem = t(reason, lang, **params)
        if not params.get("field"):
            return problem
        field = _field_label(str(params["field"]), lang)
        return t("input.field_problem", lang, field=field, problem=problem)
    text = t(error.code, lang, **params)
    if "line" in params:
        text = t("field.at_line", lang, line=params["line"], text=text)
    return text
