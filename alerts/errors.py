"""Domain errors carry their HTTP status; one handler renders them. Services never raise
HTTPException."""

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from alerts.edge import BODY_PROBLEM

log = logging.getLogger(__name__)

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}


class DomainError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Unauthenticated(DomainError):
    status_code = 401
    code = "unauthenticated"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class RateLimited(DomainError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, detail: str, *, retry_after_s: int) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


def _json_safe(value: Any) -> Any:
    """NaN and infinity (a body may say `NaN` or `1e400`) as strings: JSON has no such numbers;
    a lone surrogate (a body may say `\\ud800`) escaped: UTF-8 cannot carry it."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_json_safe(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def _without_echoed_structures(errors: Any) -> list[dict[str, Any]]:
    """Validation errors without the inputs that are lists or objects: `loc` says where the
    problem is, and echoing a refused structure would send a large body (20 polygons of
    5,000 vertices: 4 MB) straight back, at the cost the limit was there to avoid."""
    return [
        {k: v for k, v in error.items() if k != "input" or not isinstance(v, list | dict)}
        for error in errors
    ]


# The database went away (stopped, restarting, unreachable, out of connections): the request
# changed nothing (its transaction never committed) and may be sent again shortly.
DATABASE_RETRY_AFTER_SECONDS = 5


def install_error_handler(app: FastAPI) -> None:
    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(DisconnectionError)
    @app.exception_handler(PoolTimeout)
    async def _database_unavailable(request: Request, error: Exception) -> JSONResponse:
        log.warning(
            "alerts.database_unavailable path=%s error=%s",
            request.url.path,
            str(error).splitlines()[0][:300],
        )
        return JSONResponse(
            {
                "detail": "the database is unavailable; nothing was changed, try again shortly",
                "code": "database_unavailable",
            },
            status_code=503,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )

    @app.exception_handler(RequestValidationError)
    async def _render_invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        """FastAPI's own handler, with a `code` like every other error, except that an echoed
        non-finite input cannot make it fail, and that a body the edge could not decode is
        reported as such (the route saw a stand-in, see alerts.edge)."""
        problem = request.scope.get(BODY_PROBLEM)
        errors = (
            [problem]
            if problem is not None
            else jsonable_encoder(_without_echoed_structures(error.errors()))
        )
        return JSONResponse(
            {"detail": _json_safe(errors), "code": "invalid_request"}, status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def _render_http(_: Request, error: StarletteHTTPException) -> JSONResponse:
        """Routing's own errors (no such path, a method the path does not take) in the
        same shape as the domain's."""
        return JSONResponse(
            {"detail": error.detail, "code": _HTTP_CODES.get(error.status_code, "http_error")},
            status_code=error.status_code,
            headers=error.headers,
        )

    @app.exception_handler(DomainError)
    async def _render(_: Request, error: DomainError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if error.status_code == 401 else None
        if isinstance(error, RateLimited):
            headers = {"Retry-After": str(error.retry_after_s)}
        return JSONResponse(
            {"detail": error.detail, "code": error.code},
            status_code=error.status_code,
            headers=headers,
        )
