"""Domain errors carry their HTTP status; one handler renders them. Services never raise
HTTPException."""

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


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
    """NaN and infinity (a body may say `NaN` or `1e400`) as strings: JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
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


def install_error_handler(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _render_invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler, except that an echoed non-finite input cannot make it fail.
        errors = _without_echoed_structures(error.errors())
        return JSONResponse({"detail": _json_safe(jsonable_encoder(errors))}, status_code=422)

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
