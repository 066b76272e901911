"""What every request and response passes on its way in and out: the limit on a request body,
JSON bodies that cannot be decoded, security headers and CORS.

A JSON body that is not UTF-8, not JSON or nested too deeply would otherwise be refused by
FastAPI before the route's dependencies run, so before authentication: a request without a
credential would get 400 instead of 401. Here such a body is replaced by a JSON value no
request model accepts, and its problem is kept in the request's scope; the route then
authenticates as usual, and the validation error handler (alerts.errors) reports the body's
real problem as a 422."""

import json
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kit.config import get_settings

MAX_JSON_DEPTH = 32
"""Arrays and objects in one another; the deepest hexcast body (a MultiPolygon area) has 7."""

BODY_PROBLEM = "hexcast.body_problem"

# A JSON string: every route's body is an object (or nothing), so validation fails on it.
_UNDECODABLE = b'"the body could not be decoded"'

API_CSP = "default-src 'none'; frame-ancestors 'none'"

# The interactive docs FastAPI serves load Swagger UI and ReDoc from jsDelivr, with inline
# script and styles.
DOCS_CSP = (
    "default-src 'none'; script-src 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com; img-src data: https://fastapi.tiangolo.com "
    "https://cdn.redoc.ly; connect-src 'self'; worker-src blob:; frame-ancestors 'none'"
)

DOCS_PATHS = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})

HSTS = "max-age=31536000; includeSubDomains"


def _is_json(headers: Headers) -> bool:
    media_type = headers.get("content-type", "").split(";")[0].strip().lower()
    main, _, sub = media_type.partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


def _depth(value: Any) -> int:
    """How deeply arrays and objects nest in a decoded JSON value, without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in item)
    return deepest


def body_problem(body: bytes) -> dict[str, Any] | None:
    """Why a JSON body cannot be read, as a validation error entry; None when it can."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        message = f"the body is not valid UTF-8 (byte {error.start})"
        return {"type": "body_not_utf8", "loc": ["body"], "msg": message, "input": None}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        message = f"the body is not valid JSON: {error.msg} (character {error.pos})"
        return {"type": "json_invalid", "loc": ["body"], "msg": message, "input": None}
    except RecursionError:
        value = None
        too_deep = True
    else:
        too_deep = _depth(value) > MAX_JSON_DEPTH
    if too_deep:
        message = f"the body nests arrays and objects more than {MAX_JSON_DEPTH} deep"
        return {"type": "json_too_deep", "loc": ["body"], "msg": message, "input": None}
    return None


class BodyGuard:
    """Refuses a body over the size limit with 413 (before reading it when Content-Length
    says so), and sets aside the problem of a JSON body that cannot be decoded."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if len(body) > self.max_body_bytes:
                await self._too_large(send)
                return
            if not message.get("more_body", False):
                break
        data = bytes(body)
        if data and _is_json(headers):
            problem = body_problem(data)
            if problem is not None:
                scope[BODY_PROBLEM] = problem
                data = _UNDECODABLE
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": data, "more_body": False}

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        body = json.dumps(
            {
                "detail": f"a request body may have at most {self.max_body_bytes} bytes",
                "code": "body_too_large",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    """Each header only when the response has not set its own: the HTML pages of the console
    and the app send their own Content-Security-Policy."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.headers = {
            "Content-Security-Policy": API_CSP,
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer",
            **({"Strict-Transport-Security": HSTS} if hsts else {}),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        own = {"Content-Security-Policy": DOCS_CSP} if scope["path"] in DOCS_PATHS else {}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in {**self.headers, **own}.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _document_edge_answers(app: FastAPI) -> None:
    """Every operation can answer 413: the limit applies before routing. A 422 is either
    the body's validation errors (a list) or a domain rule the valid body broke (a sentence,
    as a webhook URL that resolves to a private address gets), always with a `code`."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            invalid = document.get("components", {}).get("schemas", {}).get("HTTPValidationError")
            if invalid is not None:
                detail = invalid["properties"]["detail"]
                invalid["properties"] = {
                    "detail": {"anyOf": [detail, {"type": "string"}], "title": "Detail"},
                    "code": {"type": "string", "title": "Code"},
                }
            for path in document["paths"].values():
                for operation in path.values():
                    unprocessable = operation["responses"].get("422")
                    if unprocessable is not None and invalid is not None:
                        unprocessable["content"] = {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/HTTPValidationError"}
                            }
                        }
                    operation["responses"].setdefault(
                        "413",
                        {
                            "description": "The request body is over the size limit",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/ErrorOut"}
                                }
                            },
                        },
                    )
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_edge(app: FastAPI) -> None:
    """Added innermost first: CORS answers preflights, the guard sees bodies, and the
    security headers go on every answer, a 413 or a CORS refusal included."""
    settings = get_settings()
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "X-API-Key",
                "X-Device-Key",
                "Idempotency-Key",
            ],
        )
    app.add_middleware(BodyGuard, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders, hsts=settings.environment == "production")
    _document_edge_answers(app)
