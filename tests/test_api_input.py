"""Bad input to the HTTP API gets a clear 4xx that names the problem, never a 500, and writes
nothing: every table is compared row by row before and after each rejected request."""

import copy
import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from kit.db import get_sessionmaker
from kit.models import Base
from tests.helpers import notice_body, register_device, report_location

# The device tally is beat's, not a request's: it changes every second in the tests.
TABLES = [
    table.name
    for table in Base.metadata.sorted_tables
    if table.name not in {"device_tallies", "device_tally_state"}
]
JSON = {"content-type": "application/json"}
LOCATION = {"lat": 51.5033, "lon": -0.1196, "accuracy_m": 12}


def _table_contents() -> dict[str, list[Any]]:
    with get_sessionmaker()() as session:
        return {
            table: list(session.scalars(text(f"SELECT to_jsonb(t) FROM {table} t ORDER BY 1")))
            for table in TABLES
        }


@contextmanager
def writes_nothing() -> Iterator[None]:
    before = _table_contents()
    yield
    assert _table_contents() == before, "a rejected request changed the database"


def assert_unauthenticated(response: httpx.Response, detail: str) -> None:
    assert response.status_code == 401, response.text
    assert response.json() == {"detail": detail, "code": "unauthenticated"}
    assert response.headers["www-authenticate"] == "Bearer"


def assert_forbidden(response: httpx.Response, role: str) -> None:
    assert response.status_code == 403, response.text
    assert response.json() == {
        "detail": f"this endpoint is for the {role} role",
        "code": "forbidden",
    }


def assert_invalid(response: httpx.Response, *loc: str | int, kind: str | None = None) -> dict:
    """A 422 whose detail points at `loc` with a readable message; returns that error."""
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert isinstance(errors, list) and errors
    assert all(error["msg"] for error in errors)
    matching = [error for error in errors if tuple(error["loc"]) == ("body", *loc)]
    assert matching, f"no error at {loc}: {errors}"
    if kind is not None:
        assert matching[0]["type"] == kind, matching[0]
    return dict(matching[0])


def _without(body: dict[str, Any], dotted: str) -> dict[str, Any]:
    body = copy.deepcopy(body)
    *parents, leaf = dotted.split(".")
    target = body
    for key in parents:
        target = target[key]
    del target[leaf]
    return body


def _with(body: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    body = copy.deepcopy(body)
    *parents, leaf = dotted.split(".")
    target = body
    for key in parents:
        target = target[key]
    target[leaf] = value
    return body


@pytest.fixture
def device_headers(api: httpx.Client) -> dict[str, str]:
    headers = register_device(api, "input-device")
    report_location(api, headers, 51.5, -0.12, age=timedelta(minutes=5))
    return headers


@pytest.fixture
def pending_id(api: httpx.Client, agency_headers: dict[str, str]) -> str:
    response = api.post("/v1/notices", json=notice_body(), headers=agency_headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


# --- credentials -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/notices"),
        ("GET", "/v1/notices"),
        ("POST", "/v1/operator/agencies"),
        ("GET", "/v1/operator/notices"),
        ("PUT", "/v1/devices/me/location"),
    ],
)
@pytest.mark.usefixtures("pending_id")
def test_a_request_without_credentials_is_401(api: httpx.Client, method: str, path: str) -> None:
    body = {
        "/v1/notices": notice_body(),
        "/v1/operator/agencies": {"name": "Sneaky Agency"},
        "/v1/devices/me/location": {**LOCATION, "at": datetime.now(UTC).isoformat()},
    }.get(path)
    with writes_nothing():
        response = api.request(method, path, json=body)
    assert_unauthenticated(response, "credentials required")


@pytest.mark.usefixtures("agency_headers")
def test_an_unknown_api_key_is_401_and_submits_nothing(api: httpx.Client) -> None:
    with writes_nothing():
        response = api.post(
            "/v1/notices", json=notice_body(), headers={"X-API-Key": "hxa_not-a-real-key"}
        )
    assert_unauthenticated(response, "unknown API key")


def test_an_unknown_operator_token_is_401(api: httpx.Client, pending_id: str) -> None:
    with writes_nothing():
        response = api.post(
            f"/v1/operator/notices/{pending_id}/approve",
            headers={"Authorization": "Bearer not-the-operator-token"},
        )
    assert_unauthenticated(response, "unknown operator credential")


@pytest.mark.usefixtures("device_headers")
def test_an_unknown_device_key_is_401(api: httpx.Client) -> None:
    with writes_nothing():
        response = api.put(
            "/v1/devices/me/location",
            headers={"X-Device-Key": "hxd_not-a-real-key"},
            json={**LOCATION, "at": datetime.now(UTC).isoformat()},
        )
    assert_unauthenticated(response, "unknown device key")


def test_a_device_key_cannot_submit_a_notice(
    api: httpx.Client, device_headers: dict[str, str]
) -> None:
    with writes_nothing():
        response = api.post("/v1/notices", json=notice_body(), headers=device_headers)
    assert_forbidden(response, "agency")


def test_an_agency_key_cannot_approve_its_own_notice(
    api: httpx.Client, agency_headers: dict[str, str], pending_id: str
) -> None:
    with writes_nothing():
        response = api.post(f"/v1/operator/notices/{pending_id}/approve", headers=agency_headers)
    assert_forbidden(response, "operator")


def test_an_agency_key_cannot_create_agencies(
    api: httpx.Client, agency_headers: dict[str, str]
) -> None:
    with writes_nothing():
        response = api.post(
            "/v1/operator/agencies", json={"name": "Second Police"}, headers=agency_headers
        )
    assert_forbidden(response, "operator")


@pytest.mark.usefixtures("agency_headers")
def test_the_operator_token_cannot_submit_a_notice(
    api: httpx.Client, operator_headers: dict[str, str]
) -> None:
    with writes_nothing():
        response = api.post("/v1/notices", json=notice_body(), headers=operator_headers)
    assert_forbidden(response, "agency")


@pytest.mark.usefixtures("device_headers")
def test_an_agency_key_cannot_report_a_device_location(
    api: httpx.Client, agency_headers: dict[str, str]
) -> None:
    with writes_nothing():
        response = api.put(
            "/v1/devices/me/location",
            headers=agency_headers,
            json={**LOCATION, "at": datetime.now(UTC).isoformat()},
        )
    assert_forbidden(response, "device")


# --- notice bodies -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [
        ("last_seen.lat", 91, "less_than_equal"),
        ("last_seen.lat", -91, "greater_than_equal"),
        ("last_seen.lon", 181, "less_than_equal"),
        ("last_seen.lon", -181, "greater_than_equal"),
        ("radius_km", 0, "greater_than_equal"),
        ("radius_km", 0.05, "greater_than_equal"),
        ("radius_km", 10_000, "less_than_equal"),
        ("person.age", -1, "greater_than_equal"),
        ("person.sex", "robot", "enum"),
        ("person.photo_url", "not a url", "url_parsing"),
        ("person.photo_url", "https://agency.example/" + "p" * 2050, "url_too_long"),
        ("person.photo_url", "https://agency.example/" + "照" * 300, "url_too_long"),
        ("person.name", "   ", "string_too_short"),
        ("language", "English!", "string_pattern_mismatch"),
    ],
)
def test_an_out_of_range_notice_field_is_422_and_names_the_field(
    api: httpx.Client, agency_headers: dict[str, str], field: str, value: Any, kind: str
) -> None:
    with writes_nothing():
        response = api.post(
            "/v1/notices", json=_with(notice_body(), field, value), headers=agency_headers
        )
    assert_invalid(response, *field.split("."), kind=kind)


@pytest.mark.parametrize(
    "field",
    [
        "person.name",
        "person.sex",
        "person.description",
        "last_seen.lat",
        "last_seen.lon",
        "last_seen.at",
        "last_seen.place",
        "contact",
        "language",
    ],
)
def test_a_notice_missing_a_required_field_is_422(
    api: httpx.Client, agency_headers: dict[str, str], field: str
) -> None:
    with writes_nothing():
        response = api.post(
            "/v1/notices", json=_without(notice_body(), field), headers=agency_headers
        )
    error = assert_invalid(response, *field.split("."), kind="missing")
    assert error["msg"] == "Field required"


def test_a_notice_without_a_target_is_422(
    api: httpx.Client, agency_headers: dict[str, str]
) -> None:
    with writes_nothing():
        response = api.post(
            "/v1/notices", json=_without(notice_body(), "radius_km"), headers=agency_headers
        )
    error = assert_invalid(response)
    assert "either radius_km or areas" in error["msg"]


def test_a_malformed_json_body_is_422(api: httpx.Client, agency_headers: dict[str, str]) -> None:
    with writes_nothing():
        response = api.post(
            "/v1/notices",
            content=b'{"person": {"name": "Lily", ',
            headers={**agency_headers, **JSON},
        )
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["type"] == "json_invalid"
    assert error["msg"].startswith("the body is not valid JSON: Expecting property name")


def test_a_json_body_that_is_not_an_object_is_422(
    api: httpx.Client, agency_headers: dict[str, str]
) -> None:
    with writes_nothing():
        response = api.post("/v1/notices", json=[notice_body()], headers=agency_headers)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("status", "active"),
        ("agency_id", "6f1c2a0e-5b7d-4c1e-9a43-1b2f3c4d5e6f"),
        ("person.nickname", "Lil"),
        ("last_seen.alt", 30),
    ],
)
def test_an_unknown_field_is_422_not_silently_dropped(
    api: httpx.Client, agency_headers: dict[str, str], field: str, value: Any
) -> None:
    with writes_nothing():
        response = api.post(
            "/v1/notices", json=_with(notice_body(), field, value), headers=agency_headers
        )
    assert_invalid(response, *field.split("."), kind="extra_forbidden")


def test_a_time_without_timezone_is_422(api: httpx.Client, agency_headers: dict[str, str]) -> None:
    naive = (datetime.now(UTC) - timedelta(hours=1)).replace(tzinfo=None).isoformat()
    with writes_nothing():
        response = api.post(
            "/v1/notices", json=_with(notice_body(), "last_seen.at", naive), headers=agency_headers
        )
    assert_invalid(response, "last_seen", "at", kind="timezone_aware")


def test_a_last_seen_time_in_the_future_is_422(
    api: httpx.Client, agency_headers: dict[str, str]
) -> None:
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    with writes_nothing():
        response = api.post(
            "/v1/notices", json=_with(notice_body(), "last_seen.at", future), headers=agency_headers
        )
    error = assert_invalid(response, "last_seen", "at")
    assert "future" in error["msg"]


def test_a_last_seen_time_before_year_one_in_utc_is_422_not_500(
    api: httpx.Client, agency_headers: dict[str, str]
) -> None:
    """0001-01-01T00:00+14:00 is 1 BC in UTC: PostgreSQL stores it, Python cannot read it."""
    with writes_nothing():
        response = api.post(
            "/v1/notices",
            json=_with(notice_body(), "last_seen.at", "0001-01-01T00:00:00+14:00"),
            headers=agency_headers,
        )
    error = assert_invalid(response, "last_seen", "at")
    assert "1900" in error["msg"]


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
@pytest.mark.parametrize("field", ["last_seen.lat", "radius_km"])
def test_a_non_finite_number_is_422_not_500(
    api: httpx.Client, agency_headers: dict[str, str], field: str, number: str
) -> None:
    """Python's JSON parser reads NaN, Infinity and 1e400 (which overflows to infinity)."""
    raw = json.dumps(_with(notice_body(), field, "<number>")).replace('"<number>"', number)
    with writes_nothing():
        response = api.post("/v1/notices", content=raw, headers={**agency_headers, **JSON})
    error = assert_invalid(response, *field.split("."))
    assert error["input"] in ("nan", "inf", "-inf")


@pytest.mark.parametrize("field", ["person.name", "person.description", "contact"])
def test_a_nul_character_in_text_is_422_not_500(
    api: httpx.Client, agency_headers: dict[str, str], field: str
) -> None:
    with writes_nothing():
        response = api.post(
            "/v1/notices", json=_with(notice_body(), field, "Lily\x00Chen"), headers=agency_headers
        )
    error = assert_invalid(response, *field.split("."))
    assert "NUL" in error["msg"]


# --- operator input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"radius_km": 0.05}, ("radius_km",)),
        ({"radius_km": 10_000}, ("radius_km",)),
        ({"lifetime_hours": 0}, ("lifetime_hours",)),
        ({"lifetime_hours": 24 * 365}, ("lifetime_hours",)),
        ({"status": "active"}, ("status",)),
    ],
)
def test_a_bad_approval_is_422_and_leaves_the_notice_pending(
    api: httpx.Client,
    operator_headers: dict[str, str],
    pending_id: str,
    body: dict[str, Any],
    loc: tuple[str, ...],
) -> None:
    with writes_nothing():
        response = api.post(
            f"/v1/operator/notices/{pending_id}/approve", json=body, headers=operator_headers
        )
    assert_invalid(response, *loc)


def test_a_malformed_notice_id_is_422(api: httpx.Client, operator_headers: dict[str, str]) -> None:
    response = api.post("/v1/operator/notices/not-a-uuid/cancel", headers=operator_headers)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["path", "notice_id"]


@pytest.mark.parametrize(
    "query", ["status=approved", "limit=0", "limit=201", "offset=-1", "offset=9223372036854775808"]
)
def test_a_bad_list_query_is_422(
    api: httpx.Client, operator_headers: dict[str, str], query: str
) -> None:
    response = api.get(f"/v1/operator/notices?{query}", headers=operator_headers)
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"][0] == "query"


@pytest.mark.parametrize("name", ["", "   ", "x" * 201, "Police\x00"])
def test_a_bad_agency_name_is_422(
    api: httpx.Client, operator_headers: dict[str, str], name: str
) -> None:
    with writes_nothing():
        response = api.post("/v1/operator/agencies", json={"name": name}, headers=operator_headers)
    assert_invalid(response, "name")


# --- devices -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [
        ("lat", 91, "less_than_equal"),
        ("lon", -181, "greater_than_equal"),
        ("accuracy_m", -1, "greater_than_equal"),
    ],
)
def test_an_out_of_range_location_report_is_422_and_keeps_the_last_location(
    api: httpx.Client, device_headers: dict[str, str], field: str, value: float, kind: str
) -> None:
    body = {**LOCATION, "at": datetime.now(UTC).isoformat(), field: value}
    with writes_nothing():
        response = api.put("/v1/devices/me/location", headers=device_headers, json=body)
    assert_invalid(response, field, kind=kind)


@pytest.mark.parametrize(
    ("at", "message"),
    [
        ("2026-01-01T10:00:00", "timezone"),
        ((datetime.now(UTC) + timedelta(hours=1)).isoformat(), "future"),
        # 1 BC in UTC: stored, it would break every later request of this device.
        ("0001-01-01T00:00:00+14:00", "1900"),
    ],
)
def test_a_location_report_at_a_bad_time_is_422(
    api: httpx.Client, device_headers: dict[str, str], at: str, message: str
) -> None:
    with writes_nothing():
        response = api.put(
            "/v1/devices/me/location", headers=device_headers, json={**LOCATION, "at": at}
        )
    error = assert_invalid(response, "at")
    assert message in error["msg"]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"fcm_token": "", "platform": "android", "locale": "en"}, "fcm_token"),
        ({"fcm_token": "tok\x00en", "platform": "android", "locale": "en"}, "fcm_token"),
        # A unique B-tree index entry holds at most 2704 bytes.
        ({"fcm_token": "é" * 1500, "platform": "android", "locale": "en"}, "fcm_token"),
        ({"fcm_token": "t", "platform": "blackberry", "locale": "en"}, "platform"),
        ({"fcm_token": "t", "platform": "ios", "locale": "not a locale"}, "locale"),
        ({"fcm_token": "t", "platform": "ios"}, "locale"),
        ({"fcm_token": "t", "platform": "ios", "locale": "en", "user": "x"}, "user"),
    ],
)
@pytest.mark.usefixtures("device_headers")
def test_a_bad_device_registration_is_422(
    api: httpx.Client, body: dict[str, Any], loc: str
) -> None:
    with writes_nothing():
        response = api.post("/v1/devices", json=body)
    assert_invalid(response, loc)


def test_the_longest_accepted_fcm_token_registers(api: httpx.Client) -> None:
    """The byte limit sits below PostgreSQL's index-entry limit, so the upper edge stores."""
    token = secrets.token_hex(1024)  # 2048 random bytes: the index cannot compress them
    response = api.post("/v1/devices", json={"fcm_token": token, "platform": "web", "locale": "en"})
    assert response.status_code == 201, response.text
