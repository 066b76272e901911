"""Serves the reference in-app client at /app: plain HTML and ES modules, no build step.

Its own Content-Security-Policy rides on each response: scripts and styles only from this
origin (no inline script anywhere), photos from the agencies' HTTPS hosts."""

from pathlib import Path
from typing import Final

from fastapi import APIRouter, Response
from fastapi.responses import RedirectResponse

from alerts.errors import NotFound
from alerts.fields import error_responses

STATIC: Final = Path(__file__).parent / "static"
MEDIA_TYPES: Final = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "geo.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
CONTENT_SECURITY_POLICY: Final = "default-src 'self'; img-src 'self' https:; base-uri 'none'"
_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}

# Pages for browsers, not API operations: left out of the OpenAPI document.
router = APIRouter(tags=["app users"], include_in_schema=False)


@router.get("/app", status_code=308, summary="Redirect to the in-app client")
def app_root() -> RedirectResponse:
    return RedirectResponse("/app/", status_code=308)


@router.get(
    "/app/",
    response_class=Response,
    responses={200: {"content": {"text/html": {}}, "description": "The client's page"}},
    summary="The reference in-app client (open an alert at /app/#/notices/<id>)",
)
def app_page() -> Response:
    return app_file("index.html")


@router.get(
    "/app/{name}",
    response_class=Response,
    responses={
        200: {"content": {"text/javascript": {}, "text/css": {}}, "description": "A file"},
        **error_responses(404),
    },
    summary="One of the in-app client's scripts or styles",
)
def app_file(name: str) -> Response:
    """Only the client's own files, by name: nothing else under the directory is served."""
    media_type = MEDIA_TYPES.get(name)
    if media_type is None:
        raise NotFound("no such file")
    return Response((STATIC / name).read_bytes(), media_type=media_type, headers=_HEADERS)
