"""The edge's pure parts: which JSON bodies cannot be decoded, which headers every response
gets (and which a page may set itself), and CORS only for the origins configured."""

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient

from alerts import edge
from kit.config import get_settings


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b'{"a": "\xc3"}', "body_not_utf8"),
        (b"{'a': 1}", "json_invalid"),
        (b"[" * 33 + b"]" * 33, "json_too_deep"),
        (b'{"a":' * 33 + b"1" + b"}" * 33, "json_too_deep"),
        (b"[" * 50_000 + b"]" * 50_000, "json_too_deep"),
    ],
)
def test_bodies_that_cannot_be_decoded(body: bytes, kind: str) -> None:
    problem = edge.body_problem(body)
    assert problem is not None and problem["type"] == kind and problem["loc"] == ["body"]


@pytest.mark.parametrize(
    "body", [b"[" * 32 + b"]" * 32, b'{"name": "Am\xc3\xa9lie", "n": [1, {"x": null}]}', b"7"]
)
def test_bodies_that_can(body: bytes) -> None:
    assert edge.body_problem(body) is None


def _app(*, hsts: bool) -> TestClient:
    app = FastAPI()

    @app.get("/api")
    def api() -> dict[str, str]:
        return {}

    @app.get("/console", response_class=HTMLResponse)
    def console() -> HTMLResponse:
        return HTMLResponse(
            "<p>console</p>", headers={"Content-Security-Policy": "default-src 'self'"}
        )

    app.add_middleware(edge.SecurityHeaders, hsts=hsts)
    return TestClient(app)


def test_a_page_keeps_its_own_content_security_policy() -> None:
    client = _app(hsts=False)
    assert client.get("/api").headers["content-security-policy"] == edge.API_CSP
    page = client.get("/console")
    assert page.headers["content-security-policy"] == "default-src 'self'"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"


def test_the_interactive_docs_may_load_swagger_ui() -> None:
    app = FastAPI()
    app.add_middleware(edge.SecurityHeaders, hsts=False)
    policy = TestClient(app).get("/docs").headers["content-security-policy"]
    assert "script-src 'unsafe-inline' https://cdn.jsdelivr.net" in policy
    assert "frame-ancestors 'none'" in policy


def test_hsts_only_when_asked() -> None:
    assert "strict-transport-security" not in _app(hsts=False).get("/api").headers
    assert _app(hsts=True).get("/api").headers["strict-transport-security"] == edge.HSTS


@pytest.fixture
def cors_for_app_example(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HEXCAST_CORS_ORIGINS", '["https://app.example"]')
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def test_cors_answers_only_the_origins_configured(cors_for_app_example: None) -> None:
    app = FastAPI()
    app.get("/v1/x")(lambda: {})
    edge.install_edge(app)
    client = TestClient(app)

    def preflight(origin: str) -> dict[str, str]:
        return dict(
            client.options(
                "/v1/x", headers={"Origin": origin, "Access-Control-Request-Method": "GET"}
            ).headers
        )

    assert preflight("https://app.example")["access-control-allow-origin"] == (
        "https://app.example"
    )
    assert "access-control-allow-origin" not in preflight("https://evil.example")
    answer = client.get("/v1/x", headers={"Origin": "https://app.example"})
    assert answer.headers["access-control-allow-origin"] == "https://app.example"
    assert answer.headers["x-frame-options"] == "DENY"
