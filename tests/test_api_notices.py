"""Notices, agencies and devices through the HTTP API: what each audience sees and may do, and
what the database keeps."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text

from geo.regions import device_cell
from kit.db import get_sessionmaker
from kit.models import Agency, Device, Platform
from tests.conftest import Sandbox, wait_until
from tests.helpers import (
    create_agency,
    notice_body,
    place_devices,
    register_device,
    report_location,
)

LONDON = (51.5007, -0.1246)


def _submit(api: httpx.Client, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    response = api.post("/v1/notices", json=notice_body(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _act(
    api: httpx.Client,
    operator: dict[str, str],
    notice_id: str,
    action: str,
    body: dict[str, Any] | None = None,
) -> httpx.Response:
    return api.post(f"/v1/operator/notices/{notice_id}/{action}", json=body, headers=operator)


def _person(name: str) -> dict[str, Any]:
    return {"name": name, "age": 30, "sex": "male", "description": "Grey jacket."}


def _close_to(value: str | None, expected: datetime, tolerance: timedelta) -> bool:
    assert value is not None
    return abs(datetime.fromisoformat(value) - expected) <= tolerance


@pytest.fixture
def other_agency_headers(api: httpx.Client, admin_headers: dict[str, str]) -> dict[str, str]:
    """Its key is another admin's than the operator on duty's, who approves its notices."""
    return create_agency(api, admin_headers, "Other Police")


# --- submitting and reading --------------------------------------------------------------


def test_a_submitted_notice_is_pending_and_echoes_every_field(
    api: httpx.Client, agency_headers: dict[str, str]
) -> None:
    body = notice_body(lat=LONDON[0], lon=LONDON[1], radius_km=7.5)
    before = datetime.now(UTC)

    response = api.post("/v1/notices", json=body, headers=agency_headers)

    assert response.status_code == 201, response.text
    notice = response.json()
    assert uuid.UUID(notice["id"])
    assert notice["status"] == "pending"
    assert notice["person"] == body["person"]
    assert {k: v for k, v in notice["last_seen"].items() if k != "at"} == {
        k: v for k, v in body["last_seen"].items() if k != "at"
    }
    assert datetime.fromisoformat(notice["last_seen"]["at"]) == datetime.fromisoformat(
        body["last_seen"]["at"]
    )
    assert (notice["radius_km"], notice["contact"], notice["language"]) == (
        7.5,
        body["contact"],
        body["language"],
    )
    assert _close_to(notice["created_at"], before, timedelta(seconds=30))
    assert notice["decided_at"] is None
    assert notice["decision_reason"] is None
    assert notice["expires_at"] is None
    assert notice["ended_at"] is None


def test_an_agency_reads_its_own_notice(api: httpx.Client, agency_headers: dict[str, str]) -> None:
    notice = _submit(api, agency_headers)
    response = api.get(f"/v1/notices/{notice['id']}", headers=agency_headers)
    assert response.status_code == 200, response.text
    assert response.json() == notice


def test_an_agency_lists_its_notices_newest_first_with_paging(
    api: httpx.Client, agency_headers: dict[str, str]
) -> None:
    names = [f"Person {i}" for i in range(5)]
    for name in names:
        _submit(api, agency_headers, person=_person(name))
    newest_first = names[::-1]

    def page(query: str) -> tuple[list[str], int]:
        response = api.get(f"/v1/notices{query}", headers=agency_headers)
        assert response.status_code == 200, response.text
        data = response.json()
        return [n["person"]["name"] for n in data["items"]], data["total"]

    assert page("") == (newest_first, 5)
    assert page("?limit=2") == (newest_first[:2], 5)
    assert page("?limit=2&offset=2") == (newest_first[2:4], 5)
    assert page("?limit=2&offset=4") == (newest_first[4:], 5)
    assert page("?offset=5") == ([], 5)


def test_an_agency_cannot_see_another_agencys_notice(
    api: httpx.Client, agency_headers: dict[str, str], other_agency_headers: dict[str, str]
) -> None:
    mine = _submit(api, agency_headers, person=_person("Mine"))
    theirs = _submit(api, other_agency_headers, person=_person("Theirs"))

    response = api.get(f"/v1/notices/{mine['id']}", headers=other_agency_headers)
    assert response.status_code == 404, response.text
    assert response.json() == {"detail": "notice not found", "code": "not_found"}
    missing = api.get(f"/v1/notices/{uuid.uuid4()}", headers=other_agency_headers)
    assert missing.json() == response.json(), "another's notice looks like a missing one"

    listed = api.get("/v1/notices", headers=other_agency_headers).json()
    assert [n["id"] for n in listed["items"]] == [theirs["id"]]
    assert listed["total"] == 1
    own = api.get("/v1/notices", headers=agency_headers).json()
    assert [n["id"] for n in own["items"]] == [mine["id"]]


# --- operator decisions ------------------------------------------------------------------


def test_approval_with_radius_and_lifetime_activates_the_notice(
    api: httpx.Client, agency_headers: dict[str, str], operator_headers: dict[str, str]
) -> None:
    notice = _submit(api, agency_headers, radius_km=5)

    response = _act(
        api, operator_headers, notice["id"], "approve", {"radius_km": 2.5, "lifetime_hours": 6}
    )

    assert response.status_code == 200, response.text
    approved = response.json()
    now = datetime.now(UTC)
    assert approved["status"] == "active"
    assert approved["radius_km"] == 2.5
    assert _close_to(approved["decided_at"], now, timedelta(seconds=30))
    assert _close_to(approved["expires_at"], now + timedelta(hours=6), timedelta(seconds=30))
    seen_by_agency = api.get(f"/v1/notices/{notice['id']}", headers=agency_headers).json()
    assert seen_by_agency == approved


def test_approval_without_a_body_keeps_the_radius_and_lasts_72_hours(
    api: httpx.Client, agency_headers: dict[str, str], operator_headers: dict[str, str]
) -> None:
    notice = _submit(api, agency_headers, radius_km=5)
    approved = _act(api, operator_headers, notice["id"], "approve").json()
    assert approved["status"] == "active"
    assert approved["radius_km"] == 5
    expected = datetime.now(UTC) + timedelta(hours=72)
    assert _close_to(approved["expires_at"], expected, timedelta(seconds=30))


def test_approving_twice_is_409_and_keeps_the_first_approval(
    api: httpx.Client, agency_headers: dict[str, str], operator_headers: dict[str, str]
) -> None:
    notice = _submit(api, agency_headers)
    first = _act(api, operator_headers, notice["id"], "approve", {"lifetime_hours": 2}).json()

    again = _act(api, operator_headers, notice["id"], "approve", {"lifetime_hours": 48})

    assert again.status_code == 409, again.text
    assert again.json() == {
        "detail": "cannot approve a notice that is active",
        "code": "invalid_transition",
    }
    assert api.get(f"/v1/notices/{notice['id']}", headers=agency_headers).json() == first


def test_rejecting_a_pending_notice_records_the_reason(
    api: httpx.Client, agency_headers: dict[str, str], operator_headers: dict[str, str]
) -> None:
    notice = _submit(api, agency_headers)
    response = _act(api, operator_headers, notice["id"], "reject", {"reason": "Duplicate of 4411"})
    assert response.status_code == 200, response.text
    rejected = response.json()
    assert rejected["status"] == "rejected"
    assert rejected["decision_reason"] == "Duplicate of 4411"
    assert _close_to(rejected["decided_at"], datetime.now(UTC), timedelta(seconds=30))
    assert rejected["expires_at"] is None


@pytest.mark.parametrize("approve_first", [False, True], ids=["pending", "active"])
def test_a_pending_or_active_notice_can_be_cancelled(
    api: httpx.Client,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
    approve_first: bool,
) -> None:
    notice = _submit(api, agency_headers)
    if approve_first:
        assert _act(api, operator_headers, notice["id"], "approve").status_code == 200

    response = _act(api, operator_headers, notice["id"], "cancel", {"reason": "Found safe"})

    assert response.status_code == 200, response.text
    cancelled = response.json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["decision_reason"] == "Found safe"
    assert _close_to(cancelled["ended_at"], datetime.now(UTC), timedelta(seconds=30))


@pytest.mark.parametrize(
    ("first", "then"),
    [
        ("reject", "cancel"),
        ("reject", "approve"),
        ("reject", "reject"),
        ("cancel", "cancel"),
        ("cancel", "approve"),
    ],
)
def test_an_ended_notice_cannot_change_again(
    api: httpx.Client,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
    first: str,
    then: str,
) -> None:
    notice = _submit(api, agency_headers)
    ended = _act(api, operator_headers, notice["id"], first, {"reason": "first"}).json()

    response = _act(api, operator_headers, notice["id"], then)

    assert response.status_code == 409, response.text
    assert response.json()["code"] == "invalid_transition"
    assert then in response.json()["detail"]
    assert api.get(f"/v1/notices/{notice['id']}", headers=agency_headers).json() == ended


@pytest.mark.parametrize("action", ["approve", "reject", "cancel"])
def test_an_operator_action_on_an_unknown_notice_is_404(
    api: httpx.Client, operator_headers: dict[str, str], action: str
) -> None:
    response = _act(api, operator_headers, str(uuid.uuid4()), action)
    assert response.status_code == 404, response.text
    assert response.json() == {"detail": "notice not found", "code": "not_found"}


def test_operators_list_every_agencys_notices_filtered_by_status(
    api: httpx.Client,
    agency_headers: dict[str, str],
    other_agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    pending = _submit(api, agency_headers, person=_person("Pending"))
    active = _submit(api, other_agency_headers, person=_person("Active"))
    rejected = _submit(api, agency_headers, person=_person("Rejected"))
    _act(api, operator_headers, active["id"], "approve")
    _act(api, operator_headers, rejected["id"], "reject")

    def ids(query: str) -> tuple[list[str], int]:
        response = api.get(f"/v1/operator/notices{query}", headers=operator_headers)
        assert response.status_code == 200, response.text
        return [n["id"] for n in response.json()["items"]], response.json()["total"]

    assert ids("") == ([rejected["id"], active["id"], pending["id"]], 3)
    assert ids("?status=pending") == ([pending["id"]], 1)
    assert ids("?status=active") == ([active["id"]], 1)
    assert ids("?status=rejected") == ([rejected["id"]], 1)
    assert ids("?status=cancelled") == ([], 0)
    assert ids("?limit=1&offset=1") == ([active["id"]], 3)


def test_delivery_stats_are_404_for_an_unknown_notice_and_zero_before_approval(
    api: httpx.Client, agency_headers: dict[str, str], operator_headers: dict[str, str]
) -> None:
    missing = api.get(f"/v1/operator/notices/{uuid.uuid4()}/deliveries", headers=operator_headers)
    assert missing.status_code == 404, missing.text
    assert missing.json()["code"] == "not_found"

    notice = _submit(api, agency_headers)
    stats = api.get(f"/v1/operator/notices/{notice['id']}/deliveries", headers=operator_headers)
    assert stats.status_code == 200, stats.text
    assert stats.json() == {
        "notice_id": notice["id"],
        "targeted": 0,
        "by_status": {"pending": 0, "sent": 0, "failed": 0, "suppressed": 0},
        "failed_by_reason": {},
        "suppressed_by_reason": {},
        "retrying": 0,
        "complete": False,
        "first_sent_after_s": None,
        "last_sent_after_s": None,
    }


# --- agencies ----------------------------------------------------------------------------


def _agency_count() -> int:
    with get_sessionmaker()() as session:
        return int(session.scalar(select(func.count()).select_from(Agency)) or 0)


@pytest.mark.parametrize("name", ["Test Police", "  Test Police  "])
@pytest.mark.usefixtures("agency_headers")  # creates "Test Police"
def test_an_agency_name_can_be_used_once(
    api: httpx.Client, operator_headers: dict[str, str], name: str
) -> None:
    response = api.post("/v1/operator/agencies", json={"name": name}, headers=operator_headers)
    assert response.status_code == 409, response.text
    assert response.json() == {
        "detail": "an agency named 'Test Police' exists",
        "code": "conflict",
    }
    assert _agency_count() == 1


def test_the_api_key_is_shown_once_and_stored_only_as_a_hash(
    api: httpx.Client, operator_headers: dict[str, str]
) -> None:
    created = api.post(
        "/v1/operator/agencies", json={"name": "Once Police"}, headers=operator_headers
    )
    assert created.status_code == 201, created.text
    agency = created.json()
    api_key = agency["api_key"]
    assert set(agency) == {"id", "name", "api_key"}
    assert api_key.startswith("hxa_") and len(api_key) > 40
    key_headers = {"X-API-Key": api_key}
    notice = _submit(api, key_headers)
    _act(api, operator_headers, notice["id"], "approve")

    later = [
        api.get("/v1/notices", headers=key_headers),
        api.get(f"/v1/notices/{notice['id']}", headers=key_headers),
        api.get("/v1/operator/notices", headers=operator_headers),
        api.get(f"/v1/operator/notices/{notice['id']}/deliveries", headers=operator_headers),
        api.post(f"/v1/operator/notices/{notice['id']}/cancel", headers=operator_headers),
        api.post("/v1/operator/agencies", json={"name": "Once Police"}, headers=operator_headers),
        api.get("/openapi.json"),
    ]
    for response in later:
        assert response.status_code < 500
        assert api_key not in response.text, response.request.url
    with get_sessionmaker()() as session:
        stored = session.scalars(text("SELECT to_jsonb(a)::text FROM agencies a")).all()
    assert len(stored) == 1
    assert api_key not in stored[0]


# --- devices -----------------------------------------------------------------------------


def _devices() -> list[Device]:
    with get_sessionmaker()() as session:
        return list(session.scalars(select(Device)).all())


def _location_status(api: httpx.Client, headers: dict[str, str]) -> int:
    response = api.put(
        "/v1/devices/me/location",
        headers=headers,
        json={"lat": 1.0, "lon": 2.0, "accuracy_m": 5, "at": datetime.now(UTC).isoformat()},
    )
    return response.status_code


def test_registering_a_token_again_updates_the_device_and_replaces_its_key(
    api: httpx.Client,
) -> None:
    first = api.post(
        "/v1/devices", json={"fcm_token": "tok-A", "platform": "android", "locale": "en-GB"}
    )
    assert first.status_code == 201, first.text
    old_key = {"X-Device-Key": first.json()["device_key"]}
    assert _location_status(api, old_key) == 204

    second = api.post(
        "/v1/devices",
        json={"fcm_token": "tok-A", "platform": "ios", "locale": "fr-FR"},
        headers=old_key,  # the app proves it holds the token (tests/test_device_abuse.py)
    )

    assert second.status_code == 200, second.text
    assert second.json()["device_id"] == first.json()["device_id"]
    new_key = {"X-Device-Key": second.json()["device_key"]}
    assert new_key != old_key
    [device] = _devices()
    assert str(device.id) == first.json()["device_id"]
    assert (device.platform, device.locale, device.active) == (Platform.IOS, "fr-FR", True)
    assert device.located_at is not None, "re-registering keeps the last location"
    stale = api.put(
        "/v1/devices/me/location",
        headers=old_key,
        json={"lat": 1.0, "lon": 2.0, "accuracy_m": 5, "at": datetime.now(UTC).isoformat()},
    )
    assert stale.status_code == 401
    assert stale.json()["detail"] == "unknown device key"
    assert _location_status(api, new_key) == 204


def test_different_tokens_are_different_devices(api: httpx.Client) -> None:
    one = api.post("/v1/devices", json={"fcm_token": "a", "platform": "web", "locale": "en"})
    two = api.post("/v1/devices", json={"fcm_token": "b", "platform": "web", "locale": "en"})
    assert (one.status_code, two.status_code) == (201, 201)
    assert one.json()["device_id"] != two.json()["device_id"]
    assert len(_devices()) == 2


def test_a_location_older_than_the_stored_one_is_ignored(api: httpx.Client) -> None:
    headers = register_device(api, "tok-moving")
    report_location(api, headers, *LONDON, age=timedelta(minutes=1))
    [after_newer] = _devices()

    report_location(api, headers, 48.8566, 2.3522, age=timedelta(minutes=10))

    [device] = _devices()
    assert device.located_at == after_newer.located_at
    assert device.h3_cell == after_newer.h3_cell == device_cell(*LONDON)
    assert datetime.now(UTC) - device.located_at < timedelta(minutes=2)


def test_a_newer_location_replaces_the_stored_one(api: httpx.Client) -> None:
    headers = register_device(api, "tok-moving")
    report_location(api, headers, *LONDON, age=timedelta(minutes=10))
    report_location(api, headers, 48.8566, 2.3522, age=timedelta(minutes=1))
    [device] = _devices()
    assert device.h3_cell == device_cell(48.8566, 2.3522)
    assert device.accuracy_m == 10


# --- a broadcast that is cancelled midway ------------------------------------------------


def test_cancelling_an_active_notice_stops_the_sends_not_yet_made(
    api: httpx.Client,
    worker: object,
    sandbox: Sandbox,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    """1,500 devices in one cell: one chunk, sent in three batches of 500. Every FCM send
    takes 1.5 s, so the cancel lands while the first batch is in flight; the rest stop."""
    devices = 1_500
    place_devices(devices, *LONDON)
    sandbox.set_faults(latency_ms=1500)
    notice = _submit(api, agency_headers, lat=LONDON[0], lon=LONDON[1], radius_km=1)
    _act(api, operator_headers, notice["id"], "approve")
    stats_url = f"/v1/operator/notices/{notice['id']}/deliveries"

    wait_until(
        lambda: api.get(stats_url, headers=operator_headers).json()["targeted"] == devices,
        timeout=30,
        what="the chunk to claim its recipients",
    )
    cancelled = _act(api, operator_headers, notice["id"], "cancel")
    assert cancelled.status_code == 200, cancelled.text

    stats: dict[str, Any] = {}

    def settled() -> bool:
        nonlocal stats
        stats = api.get(stats_url, headers=operator_headers).json()
        return bool(stats["by_status"]["pending"] == 0)

    wait_until(settled, timeout=30, what="the cancelled broadcast to settle")
    sent = stats["by_status"]["sent"]
    assert sent <= 500, "at most the batch in flight is sent"
    assert stats["failed_by_reason"] == {"NOTICE_ENDED": devices - sent}
    assert len(sandbox.messages()) == sent


def test_concurrent_creates_of_one_agency_name_give_one_agency_and_409s(
    api: httpx.Client, operator_headers: dict[str, str]
) -> None:
    def create(_: int) -> int:
        return api.post(
            "/v1/operator/agencies", json={"name": "Racing Rescue"}, headers=operator_headers
        ).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = sorted(pool.map(create, range(8)))

    assert codes == [201] + [409] * 7
