"""The Jinja2 environment: every page gets the translator, the viewer's permissions, the CSRF
token and number formatting, so templates never build text or check rules themselves."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from jxc.i18n import t as translate
from jxc.web.deps import Viewer, request_language

TEMPLATES = Jinja2Templates(directory=str(resources.files("jxc.web").joinpath("templates")))


@dataclass(frozen=True, slots=True)
class Flash:
    kind: str  # ok | warn | error | info
    text: str


def fmt_money(value: Decimal | None) -> str:
    if value is None:
        return ""
    return f"{value:,.2f}"


def fmt_qty(value: Decimal | None) -> str:
    if value is None:
        return ""
    text = f"{value.normalize():,f}"
    return text


def doc_url(kind: str, doc_id: int) -> str:
    """The page of a document of `kind` (purchase_receipt, sales_order, voucher, ...)."""
    return f"/docs/{kind}/{doc_id}"


def entity_url(entity: str, doc_id: int) -> str:
    """The page of a document known only by its table (stock_doc, order, invoice, cash_doc,
    voucher): a redirect finds its kind."""
    return f"/docs/by-entity/{entity}/{doc_id}"


def render(request: Request, template: str, viewer: Viewer | None, status_code: int = 200,
           **context: Any) -> HTMLResponse:
    lang = viewer.lang if viewer else request_language(request)

    def t(code: str, /, **params: Any) -> str:
        return translate(code, lang, **params)

    base = {
        "request": request, "t": t, "lang": lang, "user": viewer,
        # "a|b": any of them (a menu entry several roles reach through different rights)
        "can": (lambda p: viewer is not None and any(viewer.can(x) for x in p.split("|"))),
        "csrf_token": viewer.csrf_token if viewer else request.cookies.get("jxc_login_csrf", ""),
        "company_name": request.app.state.company_name(),
        "static": lambda path: f"/static/{path}",
        "fmt_money": fmt_money, "fmt_qty": fmt_qty, "doc_url": doc_url, "entity_url": entity_url,
        "flashes": context.pop("flashes", []),
        "status_code": status_code,
    }
    base.update(context)
    return TEMPLATES.TemplateResponse(request, template, base, status_code=status_code)
