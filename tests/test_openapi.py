"""The interactive docs and the OpenAPI document: every route is described, with a summary,
and every request body comes with an example that the API itself accepts."""

import importlib
import importlib.util
import pkgutil
from types import ModuleType
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute
from pydantic import BaseModel

import alerts
from alerts.api import create_app

# What clients are built against; adding routes is fine, losing one of these is not.
PUBLIC_ROUTES = {
    ("POST", "/v1/notices"),
    ("GET", "/v1/notices"),
    ("GET", "/v1/notices/{notice_id}"),
    ("POST", "/v1/operator/agencies"),
    ("GET", "/v1/operator/notices"),
    ("POST", "/v1/operator/notices/{notice_id}/approve"),
    ("POST", "/v1/operator/notices/{notice_id}/reject"),
    ("POST", "/v1/operator/notices/{notice_id}/cancel"),
    ("GET", "/v1/operator/notices/{notice_id}/deliveries"),
    ("POST", "/v1/devices"),
    ("PUT", "/v1/devices/me/location"),
    ("POST", "/v1/notices/{notice_id}/sightings"),
    ("GET", "/v1/notices/{notice_id}/sightings"),
    ("GET", "/v1/operator/notices/{notice_id}/sightings"),
    ("PUT", "/v1/webhook"),
    ("GET", "/v1/webhook"),
    ("DELETE", "/v1/webhook"),
    ("GET", "/v1/webhook/events"),
    ("PUT", "/v1/operator/agencies/{agency_id}/webhook"),
    ("GET", "/healthz"),
    ("PATCH", "/v1/notices/{notice_id}"),
    ("POST", "/v1/notices/{notice_id}/cancel"),
    ("GET", "/v1/notices/{notice_id}/cap"),
    ("POST", "/v1/cap/alerts"),
    ("GET", "/v1/feed/active.atom"),
    ("GET", "/v1/feed/notices/{notice_id}/cap"),
}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return create_app().openapi()


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    ]


def _body_schema_names(operation: dict[str, Any]) -> list[str]:
    """The JSON body's schema names; none for a body of another type (CAP XML)."""
    json_body = operation["requestBody"]["content"].get("application/json")
    if json_body is None:
        return []
    schema = json_body["schema"]
    refs = [schema.get("$ref")] + [option.get("$ref") for option in schema.get("anyOf", [])]
    return [ref.rsplit("/", 1)[-1] for ref in refs if ref]


def _subject_modules(name: str) -> list[ModuleType]:
    """Each subject package's module of that name (alerts/<subject>/<name>.py)."""
    return [
        importlib.import_module(f"alerts.{package.name}.{name}")
        for package in pkgutil.iter_modules(alerts.__path__)
        if package.ispkg and importlib.util.find_spec(f"alerts.{package.name}.{name}")
    ]


# The operator console's pages (alerts/console) and the reference in-app client (alerts/app)
# are HTML for browsers, not API operations.
PAGE_PREFIXES = ("/console", "/app")


def _served_routes() -> set[tuple[str, str]]:
    """The app's own routes and those of every router in a subject's endpoints module, but
    the pages for browsers."""
    routes = list(create_app().routes)
    for module in _subject_modules("endpoints"):
        routers = [r for r in vars(module).values() if isinstance(r, APIRouter)]
        assert routers, module.__name__
        for router in routers:
            routes += router.routes
    return {
        (method, route.path)
        for route in routes
        if isinstance(route, APIRoute) and not route.path.startswith(PAGE_PREFIXES)
        for method in route.methods
    }


def test_the_docs_page_is_served(api: httpx.Client) -> None:
    response = api.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "swagger-ui" in response.text
    assert "/openapi.json" in response.text


def test_the_openapi_document_lists_every_route(api: httpx.Client) -> None:
    response = api.get("/openapi.json")
    assert response.status_code == 200
    documented = {(method, path) for method, path, _ in _operations(response.json())}
    assert documented == _served_routes()
    assert documented >= PUBLIC_ROUTES


def test_every_operation_has_a_summary(spec: dict[str, Any]) -> None:
    missing = [
        f"{method} {path}" for method, path, op in _operations(spec) if not op.get("summary")
    ]
    assert missing == []


def test_every_request_body_has_an_example_the_api_accepts(spec: dict[str, Any]) -> None:
    bodies = {
        name
        for method, _, operation in _operations(spec)
        if method in ("POST", "PUT", "PATCH") and "requestBody" in operation
        for name in _body_schema_names(operation)
    }
    assert {
        "NoticeCreate",
        "AgencyCreate",
        "DeviceRegistration",
        "LocationReport",
        "SightingCreate",
        "WebhookConfig",
        "NoticeUpdate",
    } <= bodies
    for name in sorted(bodies):
        examples = spec["components"]["schemas"][name].get("examples")
        assert examples, f"{name} has no example"
        [model] = [
            vars(module)[name] for module in _subject_modules("schemas") if name in vars(module)
        ]
        assert issubclass(model, BaseModel)
        for example in examples:
            model.model_validate(example)  # raises if the documented example is rejected


def test_each_audience_has_its_credential_scheme(spec: dict[str, Any]) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert sorted((s["type"], s.get("name") or s["scheme"]) for s in schemes.values()) == [
        ("apiKey", "X-API-Key"),
        ("apiKey", "X-Device-Key"),
        ("http", "bearer"),
    ]


def test_the_cap_example_is_a_document_the_api_imports(
    spec: dict[str, Any], api: httpx.Client, agency_headers: dict[str, str]
) -> None:
    body = spec["paths"]["/v1/cap/alerts"]["post"]["requestBody"]["content"]
    example = body["application/cap+xml"]["example"]
    response = api.post(
        "/v1/cap/alerts",
        content=example.encode(),
        headers={**agency_headers, "Content-Type": "application/cap+xml"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["person"]["name"] == "Lily Chen"
