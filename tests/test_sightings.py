"""Sightings through the HTTP API: devices report them for active notices only, the notice's
agency and operators read them, nobody else does, and each device is rate-limited."""

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from kit.db import session_scope
from kit.models import Sighting
from tests.helpers import create_agency, notice_body, register_device


def _notice(api: httpx.Client, agency: dict[str, str], **overrides: Any) -> str:
    response = api.post("/v1/notices", json=notice_body(**overrides), headers=agency)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _active_notice(
    api: httpx.Client,
    agency: dict[str, str],
    operator: dict[str, str],
    approval: dict[str, Any] | None = None,
) -> str:
    notice_id = _notice(api, agency)
    response = api.post(
        f"/v1/operator/notices/{notice_id}/approve", json=approval, headers=operator
    )
    assert response.status_code == 200, response.text
    return notice_id


def sighting_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "seen_at": (datetime.now(UTC) - timedelta(minutes=10)).isoformat(),
        "lat": 51.5055,
        "lon": -0.1160,
        "accuracy_m": 15,
        "text": "Girl in a red coat with a yellow backpack, walking east.",
        "contact": "+44 7700 900123",
    }
    body.update(overrides)
    return body


def _report(
    api: httpx.Client, device: dict[str, str], notice: str, **overrides: Any
) -> httpx.Response:
    return api.post(
        f"/v1/notices/{notice}/sightings", json=sighting_body(**overrides), headers=device
    )


def _stored() -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(Sighting)) or 0


@pytest.fixture
def device(api: httpx.Client) -> dict[str, str]:
    return register_device(api, "sighting-device")


@pytest.fixture
def active(
    api: httpx.Client, agency_headers: dict[str, str], operator_headers: dict[str, str]
) -> str:
    return _active_notice(api, agency_headers, operator_headers)


# --- reporting and reading -----------------------------------------------------------------


def test_a_device_reports_a_sighting_and_the_agency_reads_it(
    api: httpx.Client, agency_headers: dict[str, str], device: dict[str, str], active: str
) -> None:
    body = sighting_body()
    before = datetime.now(UTC)

    response = api.post(f"/v1/notices/{active}/sightings", json=body, headers=device)

    assert response.status_code == 201, response.text
    sighting = response.json()
    assert uuid.UUID(sighting["id"])
    assert sighting["notice_id"] == active
    assert uuid.UUID(sighting["device_id"])
    assert datetime.fromisoformat(sighting["seen_at"]) == datetime.fromisoformat(body["seen_at"])
    assert (sighting["lat"], sighting["lon"], sighting["accuracy_m"]) == (51.5055, -0.1160, 15)
    assert (sighting["text"], sighting["contact"]) == (body["text"], body["contact"])
    assert abs(datetime.fromisoformat(sighting["received_at"]) - before) < timedelta(seconds=30)

    listed = api.get(f"/v1/notices/{active}/sightings", headers=agency_headers)
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"items": [sighting], "total": 1}


def test_accuracy_and_contact_are_optional(
    api: httpx.Client, device: dict[str, str], active: str
) -> None:
    body = sighting_body()
    del body["accuracy_m"], body["contact"]
    response = api.post(f"/v1/notices/{active}/sightings", json=body, headers=device)
    assert response.status_code == 201, response.text
    assert (response.json()["accuracy_m"], response.json()["contact"]) == (None, None)


def test_the_agency_lists_sightings_newest_first_with_paging(
    api: httpx.Client, agency_headers: dict[str, str], active: str
) -> None:
    texts = [f"Seen near stop {i}" for i in range(4)]
    for i, text in enumerate(texts):
        assert _report(api, register_device(api, f"d{i}"), active, text=text).status_code == 201
    newest_first = texts[::-1]

    def page(query: str) -> tuple[list[str], int]:
        response = api.get(f"/v1/notices/{active}/sightings{query}", headers=agency_headers)
        assert response.status_code == 200, response.text
        return [s["text"] for s in response.json()["items"]], response.json()["total"]

    assert page("") == (newest_first, 4)
    assert page("?limit=2") == (newest_first[:2], 4)
    assert page("?limit=2&offset=2") == (newest_first[2:], 4)
    assert page("?offset=4") == ([], 4)
    assert (
        api.get(f"/v1/notices/{active}/sightings?limit=0", headers=agency_headers).status_code
        == 422
    )


def test_operators_read_the_sightings_of_any_notice(
    api: httpx.Client, operator_headers: dict[str, str], device: dict[str, str], active: str
) -> None:
    reported = _report(api, device, active).json()

    response = api.get(f"/v1/operator/notices/{active}/sightings", headers=operator_headers)

    assert response.status_code == 200, response.text
    assert response.json() == {"items": [reported], "total": 1}
    missing = api.get(f"/v1/operator/notices/{uuid.uuid4()}/sightings", headers=operator_headers)
    assert missing.status_code == 404


# --- which notices take sightings ----------------------------------------------------------


def _rejected(api: httpx.Client, agency: dict[str, str], operator: dict[str, str]) -> str:
    notice_id = _notice(api, agency)
    assert api.post(f"/v1/operator/notices/{notice_id}/reject", headers=operator).is_success
    return notice_id


def _cancelled(api: httpx.Client, agency: dict[str, str], operator: dict[str, str]) -> str:
    notice_id = _active_notice(api, agency, operator)
    assert api.post(f"/v1/operator/notices/{notice_id}/cancel", headers=operator).is_success
    return notice_id


def _expired(api: httpx.Client, agency: dict[str, str], operator: dict[str, str]) -> str:
    from alerts.notices.tasks import expire_notices

    notice_id = _active_notice(api, agency, operator, {"lifetime_hours": 0.0001})
    time.sleep(0.5)
    assert expire_notices() >= 1
    return notice_id


@pytest.mark.parametrize(
    "make",
    [
        lambda api, agency, operator: _notice(api, agency),
        _rejected,
        _cancelled,
        _expired,
        lambda api, agency, operator: str(uuid.uuid4()),
    ],
    ids=["pending", "rejected", "cancelled", "expired", "unknown"],
)
def test_a_notice_that_is_not_active_is_404_to_devices(
    api: httpx.Client,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
    device: dict[str, str],
    make: Any,
) -> None:
    notice_id = make(api, agency_headers, operator_headers)

    response = _report(api, device, notice_id)

    assert response.status_code == 404, response.text
    assert response.json() == {"detail": "notice not found", "code": "not_found"}
    assert _stored() == 0


# --- who may do what -----------------------------------------------------------------------


def test_another_agency_cannot_list_the_sightings_of_a_notice_not_its_own(
    api: httpx.Client,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
    device: dict[str, str],
    active: str,
) -> None:
    other = create_agency(api, operator_headers, "Other Police")
    _report(api, device, active)

    response = api.get(f"/v1/notices/{active}/sightings", headers=other)

    assert response.status_code == 404, response.text
    missing = api.get(f"/v1/notices/{uuid.uuid4()}/sightings", headers=other)
    assert missing.json() == response.json(), "another's notice looks like a missing one"


def test_a_device_cannot_read_sightings_and_an_agency_cannot_report_them(
    api: httpx.Client, agency_headers: dict[str, str], device: dict[str, str], active: str
) -> None:
    _report(api, device, active)

    assert api.get(f"/v1/notices/{active}/sightings", headers=device).status_code == 403
    operator_route = api.get(f"/v1/operator/notices/{active}/sightings", headers=device)
    assert operator_route.status_code == 403
    assert _report(api, agency_headers, active).status_code == 403
    assert api.get(f"/v1/notices/{active}/sightings").status_code == 401
    assert _report(api, {}, active).status_code == 401
    assert _stored() == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("device_id", str(uuid.uuid4())),
        ("notice_id", str(uuid.uuid4())),
        ("status", "verified"),
        ("id", str(uuid.uuid4())),
        ("received_at", "2026-11-23T09:00:00Z"),
    ],
)
def test_server_owned_fields_in_the_body_are_refused(
    api: httpx.Client, device: dict[str, str], active: str, field: str, value: str
) -> None:
    response = _report(api, device, active, **{field: value})

    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", field]
    assert response.json()["detail"][0]["type"] == "extra_forbidden"
    assert _stored() == 0


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"seen_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}, "seen_at"),
        ({"seen_at": "2026-11-23T09:00:00"}, "seen_at"),
        ({"lat": 91}, "lat"),
        ({"lon": -181}, "lon"),
        ({"accuracy_m": -1}, "accuracy_m"),
        ({"text": ""}, "text"),
        ({"text": "x" * 2001}, "text"),
        ({"text": "nul\x00"}, "text"),
        ({"contact": "c" * 201}, "contact"),
    ],
    ids=[
        "future",
        "no time zone",
        "latitude",
        "longitude",
        "accuracy",
        "empty text",
        "long text",
        "NUL",
        "long contact",
    ],
)
def test_bad_sighting_input_is_422_naming_the_field(
    api: httpx.Client, device: dict[str, str], active: str, overrides: dict, field: str
) -> None:
    response = _report(api, device, active, **overrides)

    assert response.status_code == 422, response.text
    assert [e["loc"] for e in response.json()["detail"]] == [["body", field]]
    assert _stored() == 0


# --- rate limits ---------------------------------------------------------------------------


def test_a_device_may_send_five_sightings_an_hour_about_one_notice(
    api: httpx.Client,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
    device: dict[str, str],
    active: str,
) -> None:
    for i in range(5):
        assert _report(api, device, active, text=f"report {i}").status_code == 201

    refused = _report(api, device, active)

    assert refused.status_code == 429, refused.text
    assert refused.json() == {
        "detail": "at most 5 sightings per hour about one notice",
        "code": "rate_limited",
    }
    assert 3590 <= int(refused.headers["retry-after"]) <= 3600
    assert _stored() == 5
    other_device = register_device(api, "another-device")
    assert _report(api, other_device, active).status_code == 201, "the limit is per device"
    other_notice = _active_notice(api, agency_headers, operator_headers)
    assert _report(api, device, other_notice).status_code == 201, "and per notice"


def test_a_device_may_send_twenty_sightings_an_hour_over_all_notices(
    api: httpx.Client,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
    device: dict[str, str],
) -> None:
    notices = [_active_notice(api, agency_headers, operator_headers) for _ in range(5)]
    for notice_id in notices[:4]:
        for _ in range(5):
            assert _report(api, device, notice_id).status_code == 201

    refused = _report(api, device, notices[4])

    assert refused.status_code == 429, refused.text
    assert refused.json()["detail"] == "at most 20 sightings per hour from one device"
    assert 3590 <= int(refused.headers["retry-after"]) <= 3600
    assert _stored() == 20


def test_concurrent_sightings_of_one_device_never_exceed_the_limit(
    api: httpx.Client, device: dict[str, str], active: str
) -> None:
    body = sighting_body()

    def report(_: int) -> int:
        return api.post(f"/v1/notices/{active}/sightings", json=body, headers=device).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = sorted(pool.map(report, range(12)))

    assert codes == [201] * 5 + [429] * 7
    assert _stored() == 5
