"""`jxc serve`: the FastAPI application, the JSON API under /api (OpenAPI at /api/docs) and
the web UI, over one database."""

from __future__ import annotations

import logging
import os
import time
from functools import partial
from importlib import resources
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine, select
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jxc.db.models import Company
from jxc.db.session import make_engine, session_factory
from jxc.domain.errors import JxcError, NotSignedIn
from jxc.i18n import t
from jxc.web import errors
from jxc.web.deps import request_language
from jxc.web.templating import render


def create_app(url: str | None = None, *, engine: Engine | None = None) -> FastAPI:
    """The application for the database at `url` (default: JXC_DATABASE_URL or ./jxc.db)."""
    engine = engine or make_engine(url)
    app = FastAPI(title="JXC", version="0.1.0", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    app.state.company_name = partial(_company_name, app)
    app.mount("/static", StaticFiles(directory=str(resources.files("jxc.web").joinpath("static"))), name="static")

    app.add_middleware(_ServerTiming)

    @app.get("/api/docs", include_in_schema=False)
    def api_docs() -> Response:
        """Swagger UI from the vendored files: the docs work without internet access."""
        return get_swagger_ui_html(openapi_url="/api/openapi.json", title="JXC API",
                                   swagger_js_url="/static/vendor/swagger-ui-bundle.js",
                                   swagger_css_url="/static/vendor/swagger-ui.css",
                                   swagger_favicon_url="/static/favicon.svg")

    app.add_exception_handler(JxcError, _jxc_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)

    from jxc.web.api import routes as api_routes
    from jxc.web.ui import routes as ui_routes
    app.include_router(api_routes.router)
    app.include_router(ui_routes.router)
    return app


_SECURITY_HEADERS = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"),
                     (b"x-frame-options", b"DENY"))


class _ServerTiming:
    """The app's own time per response (Server-Timing, read by the load benchmark) and the
    security headers. Plain ASGI: Starlette's BaseHTTPMiddleware costs a task per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"server-timing", f"app;dur={(time.perf_counter() - started) * 1000:.1f}".encode()))
                present = {k.lower() for k, _ in headers}
                headers.extend(h for h in _SECURITY_HEADERS if h[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, timed_send)


def _company_name(app: FastAPI) -> str:
    cached = getattr(app.state, "_company", None)
    if cached is None:
        with app.state.sessions() as db:
            cached = db.execute(select(Company.name).where(Company.id == 1)).scalar() or "JXC"
        app.state._company = cached
    return str(cached)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api")


def _lang(request: Request) -> str:
    viewer = getattr(request.state, "viewer", None)
    return viewer.lang if viewer else request_language(request)


async def _jxc_error(request: Request, exc: JxcError) -> Response:
    lang = _lang(request)
    if not _is_api(request):
        if isinstance(exc, NotSignedIn):
            target = "/login?next=" + quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
            if request.headers.get("hx-request"):
                return Response(status_code=204, headers={"HX-Redirect": target})
            return RedirectResponse(target, status_code=303)
        from jxc.i18n import describe
        return render(request, "error.html", getattr(request.state, "viewer", None),
                      status_code=errors.status_of(exc), message=describe(exc, lang), error_id=None)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, NotSignedIn) else None
    return JSONResponse(errors.error_body(exc, lang), status_code=errors.status_of(exc), headers=headers)


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    """FastAPI's own parameter checks, in the same shape as the services' InvalidInput."""
    lang = _lang(request)
    items = []
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path", "header")]
        field = ".".join(loc)
        kind = str(e.get("type", "invalid"))
        problem = (t("input.required", lang) if kind == "missing"
                   else t("input.invalid_value", lang, value=str(e.get("input", ""))[:60], detail=e.get("msg", "")))
        items.append({"field": field, "code": f"input.{kind}",
                      "message": t("input.field_problem", lang, field=field or "-", problem=problem)})
    first = items[0] if items else {"field": "", "message": t("input.invalid", lang)}
    return JSONResponse({"error": {"code": "input.invalid", "message": first["message"], "field": first["field"],
                                   "errors": items}}, status_code=422)


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    lang = _lang(request)
    code = "not_found" if exc.status_code == 404 else "http_error"
    message = t("web.error.not_found", lang) if exc.status_code == 404 else str(exc.detail)
    if _is_api(request):
        return JSONResponse({"error": {"code": code, "message": message, "field": "", "errors": []}},
                            status_code=exc.status_code)
    return render(request, "error.html", getattr(request.state, "viewer", None), status_code=exc.status_code,
                  message=message, error_id=None)


async def _unexpected(request: Request, exc: Exception) -> Response:
    error_id = errors.new_error_id()
    errors.log_unexpected(error_id, request.method, request.url.path, exc)
    lang = _lang(request)
    if _is_api(request):
        return JSONResponse(errors.apology(error_id, lang), status_code=500)
    return render(request, "error.html", getattr(request.state, "viewer", None), status_code=500,
                  message=None, error_id=error_id)


def app_from_env() -> FastAPI:
    """For `uvicorn --factory` and worker processes: the database from JXC_DATABASE_URL."""
    _configure_logging()
    return create_app()


def _configure_logging() -> None:
    """Server errors (with their id and traceback) to stderr and, with JXC_LOG, to that file."""
    log = logging.getLogger("jxc")
    if log.handlers:
        return
    log.setLevel(logging.INFO)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if os.environ.get("JXC_LOG"):
        handlers.append(logging.FileHandler(os.environ["JXC_LOG"], encoding="utf-8"))
    for handler in handlers:
        handler.setFormatter(fmt)
        log.addHandler(handler)
