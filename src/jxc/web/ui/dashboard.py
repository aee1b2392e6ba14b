"""首页看板: KPI tiles, charts (ECharts, drawn by static/dashboard.js from JSON embedded in the
page) and the lists that need attention, each for whoever may see it. The figures are
services.dashboard's; this module only picks labels and links."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from jxc.domain import permissions as perm
from jxc.i18n import t as translate
from jxc.services import dashboard as service
from jxc.web.deps import DbDep, ViewerDep
from jxc.web.jsonout import plain
from jxc.web.templating import fmt_money, render
from jxc.web.ui.reports import url

router = APIRouter(include_in_schema=False)


def _chart_data(d: service.Dashboard, lang: str) -> dict[str, Any]:
    """What the charts draw: labels in the user's language, amounts as decimal strings."""
    def t(code: str, **params: Any) -> str:
        return translate(code, lang, **params)

    out: dict[str, Any] = {"labels": {"sales": t("web.dash.sales"), "amount": t("web.dash.amount")}}
    if d.sales is not None:
        out["daily"] = {"days": [x.day.isoformat() for x in d.sales.daily],
                        "amounts": [plain(x.amount) for x in d.sales.daily]}
        out["top"] = {"names": [f"{p.name}" for p in d.sales.top_products],
                      "codes": [p.code for p in d.sales.top_products],
                      "amounts": [plain(p.amount) for p in d.sales.top_products]}
    if d.receivables is not None:
        out["aging"] = {"buckets": [t("web.rep.bucket." + b) for b, _ in d.receivables.buckets],
                        "amounts": [plain(v) for _, v in d.receivables.buckets]}
    if d.stock is not None:
        out["warehouses"] = [{"name": w.name, "code": w.code, "value": plain(w.value)} for w in d.stock.by_warehouse]
    return out


@router.get("/")
def dashboard(request: Request, viewer: ViewerDep, db: DbDep) -> Response:
    raw = (request.query_params.get("date") or "").strip()
    today = date.today()
    day, error = today, None
    if raw:
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            error = translate("input.date_format", viewer.lang, value=raw)
    if not (viewer.can(perm.TRADE_READ) or viewer.can(perm.STOCK_READ)):
        return render(request, "dashboard.html", viewer, d=None, error=error, day=day, today=today)
    d = service.dashboard(db, day, actor=viewer.actor)
    links: dict[str, str] = {}
    shown, start = d.day, d.month_start
    if viewer.can(perm.TRADE_READ):
        links["today"] = url("/reports/gross-profit", by="product", date_from=shown, date_to=shown)
        links["month"] = url("/reports/gross-profit", by="product", date_from=start, date_to=shown)
        links["aging"] = url("/reports/ar-aging", as_of=shown)
        # The margin is the ledger's (主营业务收入 - 主营业务成本): the income statement shows it.
        links["margin"] = (url("/reports/income-statement", period=d.month) if viewer.can(perm.LEDGER_READ)
                           else links["month"])
    if viewer.can(perm.STOCK_READ):
        links["stock"] = url("/reports/stock-summary", date_from=start, date_to=max(shown, today))
    alerts = []
    if d.stock is not None:
        for a in d.stock.alert_lines:
            alerts.append((a, url("/reports/stock-ledger", product=a.product, warehouse=a.warehouse or None,
                                  date_from=shown - timedelta(days=90), date_to=max(shown, today))))
    overdue = []
    if d.receivables is not None:
        for o in d.receivables.top_overdue:
            overdue.append((o, url("/reports/statement", partner=o.partner, date_from=shown - timedelta(days=365),
                                   date_to=shown, via=f"sales:{shown.isoformat()}")))
    computed = d.computed_at.astimezone().strftime("%H:%M:%S")
    return render(request, "dashboard.html", viewer, d=d, error=error, day=day, today=today, links=links,
                  alerts=alerts, overdue=overdue, computed=computed, chart_data=_chart_data(d, viewer.lang),
                  fmt_pct=lambda v: "" if v is None else f"{v * 100:.1f}%", fmt_money=fmt_money)
