"""Service errors as HTTP answers: a status, the message code, a readable message in the
user's language, and the field it concerns; never a traceback."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from jxc.domain.errors import (
    AuthenticationFailed,
    BatchInvalid,
    Conflict,
    CsrfRefused,
    DomainError,
    IdempotencyMismatch,
    InvalidInput,
    JxcError,
    LoginThrottled,
    NotFound,
    NotSignedIn,
    PermissionDenied,
    RecordError,
)
from jxc.i18n import describe, t

log = logging.getLogger("jxc.web")


def status_of(error: JxcError) -> int:
    if isinstance(error, NotSignedIn | AuthenticationFailed):
        return 401
    if isinstance(error, PermissionDenied | CsrfRefused):
        return 403
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, LoginThrottled):
        return 429
    if isinstance(error, InvalidInput | BatchInvalid | IdempotencyMismatch | RecordError):
        return 422
    if isinstance(error, Conflict):
        return 409
    if isinstance(error, DomainError):
        return 409  # a business rule refused it
    return 400


def field_errors(error: JxcError, lang: str) -> list[dict[str, Any]]:
    """One entry per problem: the field path (lines[2].qty), the code and the message."""
    if isinstance(error, BatchInvalid):
        return [e for sub in error.errors for e in field_errors(sub, lang)]
    field = str(error.params.get("field", "")) if isinstance(error, InvalidInput) else ""
    if not field and "line" in error.params and not isinstance(error, RecordError):
        field = f"lines[{error.params['line']}]"
    code = str(error.params.get("reason", error.code)) if isinstance(error, InvalidInput) else error.code
    return [{"field": field, "code": code, "message": describe(error, lang)}]


def error_body(error: JxcError, lang: str) -> dict[str, Any]:
    errors = field_errors(error, lang)
    return {"error": {"code": error.code, "message": describe(error, lang),
                      "field": errors[0]["field"] if errors else "", "errors": errors}}


def new_error_id() -> str:
    return uuid.uuid4().hex[:10]


def log_unexpected(error_id: str, method: str, path: str, exc: BaseException) -> None:
    """The traceback goes to the server log under the id the user sees."""
    log.error("error %s on %s %s", error_id, method, path, exc_info=exc)


def apology(error_id: str, lang: str) -> dict[str, Any]:
    return {"error": {"code": "server_error", "message": t("web.error.apology", lang), "id": error_id,
                      "field": "", "errors": []}}
