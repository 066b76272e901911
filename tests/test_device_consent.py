"""The app user's control over their device: paused alerts and the daily cap hold pop-ups
back (and the stats count them as suppressed), erasure leaves nothing of the device but
anonymous counts, and beat erases last known locations older than any notice may use."""

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text

from geo.sphere import destination
from geo.tallies import MAX_WINDOW_HOURS
from kit.db import session_scope
from kit.models import Base
from tests.conftest import Sandbox, Service, celery_worker, wait_for_runs, wait_until
from tests.helpers import (
    notice_body,
    register_device,
    report_location,
    wait_for_dispatch,
)

ZURICH = (47.3769, 8.5417)
BASEL = (47.5596, 7.5886)


def _alert(
    api: httpx.Client,
    agency: dict[str, str],
    operator: dict[str, str],
    centre: tuple[float, float],
) -> str:
    notice = api.post(
        "/v1/notices", json=notice_body(lat=centre[0], lon=centre[1], radius_km=2), headers=agency
    ).json()
    approved = api.post(f"/v1/operator/notices/{notice['id']}/approve", headers=operator)
    assert approved.status_code == 200, approved.text
    return str(notice["id"])


def _alerted(sandbox: Sandbox, notice_id: str, kind: str = "missing_person") -> list[str]:
    return [
        m["message"]["token"]
        for m in sandbox.messages()
        if m["message"]["data"]["notice_id"] == notice_id and m["message"]["data"]["type"] == kind
    ]


def test_paused_and_capped_devices_get_no_popup_and_are_counted_as_suppressed(
    api: httpx.Client,
    worker: Service,
    sandbox: Sandbox,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    worker.stop()
    capped_worker = celery_worker("celery-capped", HEXCAST_DAILY_ALERT_CAP="2")
    capped_worker.start()
    try:
        busy = register_device(api, "busy")
        report_location(api, busy, *BASEL, age=timedelta(minutes=5))
        earlier = [_alert(api, agency_headers, operator_headers, BASEL) for _ in range(2)]
        for notice_id in earlier:
            wait_for_dispatch(api, operator_headers, notice_id, timeout=30)
            assert _alerted(sandbox, notice_id) == ["busy"]

        report_location(api, busy, *ZURICH)
        keys = {}
        for i, token in enumerate(["free-1", "free-2", "paused"]):
            keys[token] = register_device(api, token)
            report_location(api, keys[token], *destination(*ZURICH, 200 * i, 90))
        paused_headers = keys["paused"]
        set_paused = api.patch(
            "/v1/devices/me", json={"alerts_paused": True}, headers=paused_headers
        )
        assert set_paused.status_code == 200, set_paused.text
        assert set_paused.json()["alerts_paused"] is True

        notice_id = _alert(api, agency_headers, operator_headers, ZURICH)
        stats = wait_for_dispatch(api, operator_headers, notice_id, timeout=30)
        assert sorted(_alerted(sandbox, notice_id)) == ["free-1", "free-2"]
        assert stats["targeted"] == 4
        assert stats["by_status"]["sent"] == 2
        assert stats["by_status"]["suppressed"] == 2
        assert stats["suppressed_by_reason"] == {"PAUSED": 1, "DAILY_CAP": 1}

        # An update of a notice the capped device already got is not a new alert.
        changed = api.patch(
            f"/v1/notices/{earlier[0]}",
            json={"description": "Blue raincoat."},
            headers=agency_headers,
        )
        # A new description of an active Actual notice waits for a second person.
        assert changed.status_code == 202, changed.text
        approved = api.post(
            f"/v1/operator/notices/{earlier[0]}/changes/{changed.json()['id']}/approve",
            headers=operator_headers,
        )
        assert approved.status_code == 200, approved.text
        wait_until(
            lambda: _alerted(sandbox, earlier[0], "missing_person_update") == ["busy"],
            timeout=30,
            what="the update to reach the capped device",
        )

        resumed = api.patch("/v1/devices/me", json={"alerts_paused": False}, headers=paused_headers)
        assert resumed.json()["alerts_paused"] is False
        later = _alert(api, agency_headers, operator_headers, ZURICH)
        wait_for_dispatch(api, operator_headers, later, timeout=30)
        assert "paused" in _alerted(sandbox, later), "a resumed device is alerted again"
    finally:
        capped_worker.stop()
        worker.start()


def _rows_naming(values: list[str]) -> dict[str, int]:
    """Rows of any table whose text holds one of `values`."""
    found: dict[str, int] = {}
    with session_scope() as session:
        for table in Base.metadata.sorted_tables:
            for value in values:
                count = session.scalar(
                    text(f"SELECT count(*) FROM {table.name} AS t WHERE t::text LIKE :v"),
                    {"v": f"%{value}%"},
                )
                if count:
                    found[f"{table.name}:{value}"] = int(count or 0)
    return found


def test_an_erased_device_leaves_only_anonymous_counts_and_its_token_starts_afresh(
    api: httpx.Client,
    worker: Service,
    sandbox: Sandbox,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    token = "erase-me-5f2c9a"
    headers = register_device(api, token)
    device_id = api.get("/v1/devices/me", headers=headers).json()["device_id"]
    report_location(api, headers, *ZURICH)
    notice_id = _alert(api, agency_headers, operator_headers, ZURICH)
    wait_for_dispatch(api, operator_headers, notice_id, timeout=30)
    sighting = api.post(
        f"/v1/notices/{notice_id}/sightings",
        json={"seen_at": "2026-01-01T10:00:00Z", "lat": 47.37, "lon": 8.54, "text": "At the lake"},
        headers=headers,
    )
    assert sighting.status_code == 201, sighting.text
    assert _rows_naming([device_id, token]) != {}

    erased = api.delete("/v1/devices/me", headers=headers)
    assert erased.status_code == 204, erased.text
    assert api.get("/v1/devices/me", headers=headers).status_code == 401
    # The outbox event sent to the agency's webhook when the sighting came in names the
    # device; it is the agency's copy of what it was sent, delivered or failed.
    assert {
        k for k in _rows_naming([device_id, token]) if not k.startswith("webhook_events")
    } == set()

    stats = api.get(f"/v1/operator/notices/{notice_id}/deliveries", headers=operator_headers)
    assert stats.json()["by_status"]["sent"] == 1, "the delivery stays, anonymous"
    listed = api.get(f"/v1/notices/{notice_id}/sightings", headers=agency_headers).json()
    assert [(s["text"], s["device_id"]) for s in listed["items"]] == [("At the lake", None)]

    again = api.post(
        "/v1/devices", json={"fcm_token": token, "platform": "android", "locale": "de"}
    )
    assert again.status_code == 201, "a new device"
    fresh = api.get("/v1/devices/me", headers={"X-Device-Key": again.json()["device_key"]}).json()
    assert fresh["device_id"] != device_id
    assert fresh["located_at"] is None and fresh["alerts_paused"] is False


@pytest.mark.usefixtures("clean_db")
def test_beat_erases_a_location_older_than_the_longest_window_within_one_period(
    api: httpx.Client, worker: Service
) -> None:
    stale = register_device(api, "stale")
    report_location(api, stale, *ZURICH, age=timedelta(hours=MAX_WINDOW_HOURS, minutes=1))
    fresh = register_device(api, "fresh")
    report_location(api, fresh, *ZURICH, age=timedelta(hours=MAX_WINDOW_HOURS, minutes=-5))
    assert api.get("/v1/devices/me", headers=stale).json()["located_at"] is not None

    wait_for_runs(worker, "alerts.erase_stale_locations", runs=1, timeout=10)
    assert api.get("/v1/devices/me", headers=stale).json()["located_at"] is None
    assert api.get("/v1/devices/me", headers=fresh).json()["located_at"] is not None
    with session_scope() as session:
        row = session.execute(
            text("SELECT location, h3_cell, accuracy_m FROM devices WHERE fcm_token = 'stale'")
        ).one()
    assert tuple(row) == (None, None, None)
