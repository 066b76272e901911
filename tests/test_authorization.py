"""The authorization matrix, through the HTTP API.

- Agency against agency: on every route of one notice, another agency gets the same 404 as
  for a notice that does not exist, and the notice is left as it was; lists show only the
  caller's own notices.
- Audience and role against every route: no credential or an unknown one is 401; an agency,
  device or operator credential on another audience's route is 403, and so is a reviewer on
  an admin route; the least privileged allowed caller succeeds.
- Bodies: fields the server owns (status, agency, ids, hashes) are refused with 422.

Every route of the app must appear in exactly one table below: a new route is one line."""

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from alerts.api import create_app
from alerts.cap.endpoints import EXAMPLE as CAP_EXAMPLE
from alerts.cap.signatures import development_identity
from kit.db import session_scope
from kit.models import Notice, NoticeStatus
from tests.helpers import create_operator, log_in, notice_body, register_device
from tests.test_api_input import writes_nothing

LOCATION = {"lat": 51.5, "lon": -0.12, "accuracy_m": 10, "at": "2026-01-01T00:00:00Z"}
REACH = {"lat": 51.5, "lon": -0.12, "radii_km": [1]}
SIGHTING = {"seen_at": "2026-01-01T00:00:00Z", "lat": 51.5, "lon": -0.12, "text": "Red coat"}
WEBHOOK = {"url": "http://127.0.0.1:9/hexcast/events"}
CERTIFICATE = development_identity("Agency A").cert_pem.decode()


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: dict[str, Any] | None = None
    ok: int = 200
    cap_xml: str | None = None

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


# Routes on one notice of the calling agency ({notice} is active).
AGENCY_NOTICE_ROUTES = [
    Call("GET", "/v1/notices/{notice}"),
    Call("POST", "/v1/notices/{notice}/cancel", {"reason": "withdrawn"}),
    Call("POST", "/v1/notices/{notice}/found", {"reason": "home safe"}),
    # New text for an approved Actual notice waits for a second person: 202.
    Call("PATCH", "/v1/notices/{notice}", {"description": "Now in a blue coat."}, ok=202),
    Call("GET", "/v1/notices/{notice}/sightings"),
]
AGENCY_ROUTES = [
    *AGENCY_NOTICE_ROUTES,
    Call("POST", "/v1/notices", notice_body(), ok=201),
    Call("GET", "/v1/notices"),
    Call("POST", "/v1/cap/alerts", ok=201, cap_xml=CAP_EXAMPLE),
    Call("PUT", "/v1/webhook", WEBHOOK),
    Call("GET", "/v1/webhook"),
    Call("DELETE", "/v1/webhook", ok=204),
    Call("GET", "/v1/webhook/events"),
]
# The notice's agency, or any operator.
AGENCY_OR_OPERATOR_ROUTES = [
    Call("GET", "/v1/notices/{notice}/cap"),
    Call("GET", "/v1/notices/{notice}/changes"),
]
DEVICE_ROUTES = [
    Call("PUT", "/v1/devices/me/location", LOCATION, ok=204),
    Call("POST", "/v1/notices/{notice}/sightings", SIGHTING, ok=201),
    Call("GET", "/v1/devices/me"),
    Call("PATCH", "/v1/devices/me", {"alerts_paused": True}),
    Call("DELETE", "/v1/devices/me", ok=204),
]
# Any operator: reviewers and admins. {pending} and {notice} belong to agency A.
REVIEWER_ROUTES = [
    Call("GET", "/v1/operator/notices"),
    Call("POST", "/v1/operator/notices", {**notice_body(), "agency_id": "{agency}"}, ok=201),
    Call("POST", "/v1/operator/notices/{pending}/approve"),
    Call("POST", "/v1/operator/notices/{pending}/reject", {"reason": "hoax"}),
    Call("POST", "/v1/operator/notices/{pending}/cancel"),
    Call("POST", "/v1/operator/notices/{notice}/found"),
    Call("GET", "/v1/operator/notices/{notice}/deliveries"),
    Call("GET", "/v1/operator/notices/{notice}/audit"),
    Call("GET", "/v1/operator/notices/{notice}/sightings"),
    Call("GET", "/v1/operator/notices/{notice}/expansion"),
    Call(
        "PUT",
        "/v1/operator/notices/{notice}/expansion",
        {"steps": [{"after_minutes": 60, "radius_km": 20}]},
        ok=202,
    ),
    Call("POST", "/v1/operator/notices/{notice}/changes/{change}/approve"),
    Call("POST", "/v1/operator/notices/{notice}/changes/{change}/reject", {"reason": "no"}),
    Call("POST", "/v1/operator/reach", REACH),
    Call("GET", "/v1/operator/stats/outcomes"),
    Call("GET", "/v1/operator/agencies"),
    Call("GET", "/v1/operator/me"),
    Call(
        "PUT",
        "/v1/operator/me/password",
        {"current_password": "correct horse battery staple", "new_password": "x" * 16},
        ok=204,
    ),
    Call("POST", "/v1/operator/logout", ok=204),
]
ADMIN_ROUTES = [
    Call("POST", "/v1/operator/agencies", {"name": "Third Police"}, ok=201),
    Call("GET", "/v1/operator/accounts"),
    Call(
        "POST",
        "/v1/operator/accounts",
        {
            "email": "new@hexcast.example",
            "display_name": "New",
            "role": "reviewer",
            "password": "y" * 16,
        },
        ok=201,
    ),
    Call("PATCH", "/v1/operator/accounts/{reviewer}", {"display_name": "Renamed"}),
    Call("GET", "/v1/operator/agencies/{agency}/keys"),
    Call("POST", "/v1/operator/agencies/{agency}/keys", {"scopes": ["notices:read"]}, ok=201),
    Call("POST", "/v1/operator/agencies/{agency}/keys/{key}/rotate", ok=201),
    Call("POST", "/v1/operator/agencies/{agency}/keys/{key}/revoke"),
    Call("GET", "/v1/operator/audit"),
    Call("PUT", "/v1/operator/agencies/{agency}/webhook", WEBHOOK),
    Call("PUT", "/v1/operator/agencies/{agency}/cap-certificate", {"certificate": CERTIFICATE}),
    Call("DELETE", "/v1/operator/agencies/{agency}/cap-certificate", ok=204),
]
PUBLIC_ROUTES = {
    ("POST", "/v1/devices"),
    ("POST", "/v1/operator/login"),
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/v1/feed/active.atom"),
    ("GET", "/v1/feed/notices/{notice_id}/cap"),
    ("GET", "/v1/cap/signing-certificate"),
    ("GET", "/v1/feed/notices/{notice_id}"),
}


@dataclass
class World:
    """Two agencies, a reviewer, an admin, a device; agency A has an active and a pending
    notice."""

    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)


@pytest.fixture
def world(
    api: httpx.Client, operator_headers: dict[str, str], admin_headers: dict[str, str]
) -> World:
    world = World()
    for name in ("a", "b"):
        created = api.post(
            "/v1/operator/agencies", json={"name": f"Agency {name}"}, headers=operator_headers
        ).json()
        world.headers[name] = {"X-API-Key": created["api_key"]}
        world.ids[f"agency_{name}"] = created["id"]
    world.ids["agency"] = world.ids["agency_a"]
    [key] = api.get(
        f"/v1/operator/agencies/{world.ids['agency']}/keys", headers=operator_headers
    ).json()
    world.ids["key"] = key["id"]
    world.ids["reviewer"] = create_operator(api, operator_headers, "rev@hexcast.example")["id"]
    world.headers["reviewer"] = log_in(api, "rev@hexcast.example")
    world.headers["admin"] = admin_headers
    world.headers["device"] = register_device(api, "matrix-device")
    api.put("/v1/webhook", json=WEBHOOK, headers=world.headers["a"]).raise_for_status()
    for name in ("notice", "pending"):
        notice = api.post("/v1/notices", json=notice_body(), headers=world.headers["a"]).json()
        world.ids[name] = notice["id"]
    # Active without an approval, so that no broadcast writes while the matrix compares tables.
    with session_scope() as session:
        session.execute(
            update(Notice)
            .where(Notice.id == uuid.UUID(world.ids["notice"]))
            .values(status=NoticeStatus.ACTIVE, expires_at=datetime.now(UTC) + timedelta(hours=1))
        )
    change = api.patch(
        f"/v1/notices/{world.ids['notice']}", json={"radius_km": 50}, headers=world.headers["a"]
    )
    assert change.status_code == 202, change.text
    world.ids["change"] = change.json()["id"]
    return world


def _fill(body: dict[str, Any] | None, ids: dict[str, str]) -> dict[str, Any] | None:
    if body is None:
        return None
    return {k: v.format(**ids) if isinstance(v, str) else v for k, v in body.items()}


def _send(api: httpx.Client, call: Call, world: World, headers: dict[str, str]) -> httpx.Response:
    if call.cap_xml is not None:
        return api.request(
            call.method,
            call.path.format(**world.ids),
            content=call.cap_xml,
            headers={**headers, "Content-Type": "application/cap+xml"},
        )
    return api.request(
        call.method,
        call.path.format(**world.ids),
        json=_fill(call.body, world.ids),
        headers=headers,
    )


def _id(call: Call) -> str:
    return str(call)


# --- agency against agency ---------------------------------------------------------------


@pytest.mark.parametrize("call", AGENCY_NOTICE_ROUTES, ids=_id)
def test_another_agencys_notice_is_404_like_a_missing_one_and_stays_as_it_was(
    api: httpx.Client, world: World, call: Call
) -> None:
    own = world.headers["a"]
    before = api.get(f"/v1/notices/{world.ids['notice']}", headers=own).json()
    missing = _send(
        api, call, World(world.headers, {**world.ids, "notice": str(uuid.uuid4())}), own
    )
    assert missing.status_code == 404, missing.text

    with writes_nothing():
        foreign = _send(api, call, world, world.headers["b"])

    assert foreign.status_code == 404, foreign.text
    assert foreign.json() == missing.json() == {"detail": "notice not found", "code": "not_found"}
    assert api.get(f"/v1/notices/{world.ids['notice']}", headers=own).json() == before
    mine = _send(api, call, world, own)
    assert mine.status_code == call.ok, mine.text


def test_each_agency_lists_only_its_own_notices(api: httpx.Client, world: World) -> None:
    theirs = api.post("/v1/notices", json=notice_body(), headers=world.headers["b"]).json()

    def listed(agency: str) -> tuple[set[str], int]:
        page = api.get("/v1/notices", headers=world.headers[agency]).json()
        return {n["id"] for n in page["items"]}, page["total"]

    assert listed("a") == ({world.ids["notice"], world.ids["pending"]}, 2)
    assert listed("b") == ({theirs["id"]}, 1)


# --- audiences and roles -----------------------------------------------------------------

UNKNOWN_CREDENTIALS = {
    "X-API-Key": "hxa_unknown",
    "X-Device-Key": "hxd_unknown",
    "Authorization": "Bearer hxo_unknown",
}
# Who may call each table's routes; the first is the least privileged.
TABLES: list[tuple[list[Call], list[str]]] = [
    (AGENCY_ROUTES, ["a"]),
    (AGENCY_OR_OPERATOR_ROUTES, ["a", "reviewer", "admin"]),
    (DEVICE_ROUTES, ["device"]),
    (REVIEWER_ROUTES, ["reviewer", "admin"]),
    (ADMIN_ROUTES, ["admin"]),
]
CALLERS = ["anonymous", "unknown", "a", "device", "reviewer", "admin"]
MATRIX = [(call, allowed) for calls, allowed in TABLES for call in calls]


def _headers(world: World, caller: str, call: Call) -> dict[str, str]:
    if caller == "anonymous":
        return {}
    if caller == "unknown":  # a credential of the route's own audience, but not a known one
        audience = "/".join(call.path.split("/")[:3])
        header = {"/v1/notices": "X-API-Key", "/v1/devices": "X-Device-Key"}.get(
            audience, "Authorization"
        )
        return {header: UNKNOWN_CREDENTIALS[header]}
    return world.headers[caller]


@pytest.mark.parametrize(("call", "allowed"), MATRIX, ids=[str(c) for c, _ in MATRIX])
def test_only_the_allowed_audience_and_role_get_through(
    api: httpx.Client, world: World, call: Call, allowed: list[str]
) -> None:
    """Every refused caller is tried first (401 or 403, nothing written), then the least
    privileged allowed one succeeds."""
    refused = {}
    for caller in CALLERS:
        if caller in allowed:
            continue
        with writes_nothing():
            response = _send(api, call, world, _headers(world, caller, call))
        refused[caller] = (response.status_code, response.json().get("code"))
    expected = {
        caller: (401, "unauthenticated")
        if caller in ("anonymous", "unknown")
        else (403, "forbidden")
        for caller in CALLERS
        if caller not in allowed
    }
    assert refused == expected

    response = _send(api, call, world, world.headers[allowed[0]])
    assert response.status_code == call.ok, response.text


def test_every_route_is_in_the_matrix() -> None:
    served = {
        (method.upper(), path)
        for path, operations in create_app().openapi()["paths"].items()
        for method in operations
    }
    placeholders = {
        "{notice}": "{notice_id}",
        "{pending}": "{notice_id}",
        "{agency}": "{agency_id}",
        "{key}": "{key_id}",
        "{reviewer}": "{operator_id}",
        "{change}": "{change_id}",
    }
    tabled = []
    for call, _ in MATRIX:
        path = call.path
        for placeholder, name in placeholders.items():
            path = path.replace(placeholder, name)
        tabled.append((call.method, path))
    assert len(tabled) == len(set(tabled)), "a route is in two tables"
    assert served - PUBLIC_ROUTES == set(tabled)


# --- fields the server owns --------------------------------------------------------------

OWNED_FIELDS: list[tuple[Call, str, list[str]]] = [
    (
        Call("POST", "/v1/notices", notice_body()),
        "a",
        ["status", "agency_id", "id", "submitted_by_operator_id", "created_at", "expires_at"],
    ),
    (
        Call("POST", "/v1/operator/notices", {**notice_body(), "agency_id": "{agency}"}),
        "reviewer",
        ["status", "id", "submitted_by_operator_id"],
    ),
    (
        Call("POST", "/v1/operator/notices/{pending}/approve", {}),
        "reviewer",
        ["status", "cap_status", "agency_id", "decided_at"],
    ),
    (Call("POST", "/v1/notices/{notice}/cancel", {}), "a", ["status", "agency_id"]),
    (Call("POST", "/v1/notices/{notice}/found", {}), "a", ["status", "agency_id"]),
    (
        Call("POST", "/v1/devices", {"fcm_token": "t", "platform": "ios", "locale": "en"}),
        "anonymous",
        ["id", "active", "credential_hash"],
    ),
    (Call("PUT", "/v1/devices/me/location", LOCATION), "device", ["device_id", "h3_cell"]),
    (Call("POST", "/v1/operator/agencies", {"name": "Fourth"}), "admin", ["id", "api_key"]),
]


@pytest.mark.parametrize(
    ("call", "caller", "names"), OWNED_FIELDS, ids=[str(c) for c, _, _ in OWNED_FIELDS]
)
def test_a_body_with_a_field_the_server_owns_is_422_and_changes_nothing(
    api: httpx.Client, world: World, call: Call, caller: str, names: list[str]
) -> None:
    for name in names:
        smuggled = Call(call.method, call.path, {**(call.body or {}), name: "active"})
        with writes_nothing():
            response = _send(api, smuggled, world, _headers(world, caller, call))
        assert response.status_code == 422, (name, response.text)
        errors = response.json()["detail"]
        assert [(e["loc"], e["type"]) for e in errors] == [(["body", name], "extra_forbidden")]
