"""Logs carry no coordinates and no tokens: a whole broadcast, from registration and
location reports to the pushes and a sighting, leaves neither in any line any process of
the stack wrote (the API server, the worker, beat and the FCM sandbox)."""

import re
import uuid

import httpx

from tests.conftest import RUN_DIR, Sandbox, Service, drain
from tests.helpers import notice_body, wait_for_dispatch

# Digits that appear nowhere else: any log line holding them holds a coordinate.
DEVICES = [(46.948123 + i * 0.000731, 7.447417 + i * 0.000617) for i in range(5)]
LAST_SEEN = (46.951583, 7.438637)


def _log_sizes() -> dict[str, int]:
    return {log.name: log.stat().st_size for log in RUN_DIR.glob("*.log")}


def _new_lines(since: dict[str, int]) -> list[tuple[str, str]]:
    lines = []
    for log in sorted(RUN_DIR.glob("*.log")):
        with log.open("rb") as file:
            file.seek(since.get(log.name, 0))
            text = file.read().decode(errors="replace")
        lines += [(log.name, line) for line in text.splitlines()]
    return lines


def _coordinate_digits(lat: float, lon: float) -> list[str]:
    """What any rendering of the point to 3 decimals or more starts with."""
    return [f"{lat:.3f}", f"{lon:.3f}"]


def test_a_whole_broadcast_logs_no_coordinates_and_no_tokens(
    live_api: httpx.Client,
    live_server: str,
    worker: Service,
    beat: Service,
    sandbox: Sandbox,
    operator_headers: dict[str, str],
    admin_headers: dict[str, str],
) -> None:
    before = _log_sizes()
    api = live_api
    agency = api.post(
        "/v1/operator/agencies", json={"name": "Bern Police"}, headers=admin_headers
    ).json()
    agency_headers = {"X-API-Key": agency["api_key"]}
    tokens = [f"logscan-{uuid.uuid4().hex}" for _ in DEVICES]
    keys = []
    for token, (lat, lon) in zip(tokens, DEVICES, strict=True):
        registered = api.post(
            "/v1/devices", json={"fcm_token": token, "platform": "android", "locale": "de-CH"}
        )
        assert registered.status_code == 201, registered.text
        headers = {"X-Device-Key": registered.json()["device_key"]}
        keys.append(registered.json()["device_key"])
        moved = api.put(
            "/v1/devices/me/location",
            json={"lat": lat, "lon": lon, "accuracy_m": 8, "at": "2026-12-05T00:00:00Z"},
            headers=headers,
        )
        assert moved.status_code == 204, moved.text
    notice = api.post(
        "/v1/notices",
        json=notice_body(lat=LAST_SEEN[0], lon=LAST_SEEN[1], radius_km=3),
        headers=agency_headers,
    ).json()
    approved = api.post(f"/v1/operator/notices/{notice['id']}/approve", headers=operator_headers)
    assert approved.status_code == 200, approved.text
    wait_for_dispatch(api, operator_headers, notice["id"], timeout=60)
    assert {m["message"]["token"] for m in sandbox.messages()} == set(tokens)
    sighting = api.post(
        f"/v1/notices/{notice['id']}/sightings",
        json={"seen_at": "2026-12-05T00:10:00Z", "lat": 46.9501, "lon": 7.4401, "text": "Bus"},
        headers={"X-Device-Key": keys[0]},
    )
    assert sighting.status_code == 201, sighting.text
    assert api.get(f"/v1/feed/notices/{notice['id']}").status_code == 200
    drain(worker)

    lines = _new_lines(before)
    assert {name for name, _ in lines} >= {"api.log", "celery-worker.log"}, "logs were read"
    assert any(notice["id"] in line for _, line in lines), "the broadcast was logged"
    secrets = [*tokens, *keys]
    for lat, lon in [*DEVICES, LAST_SEEN, (46.9501, 7.4401)]:
        secrets += _coordinate_digits(lat, lon)
    pattern = re.compile("|".join(re.escape(s) for s in secrets))
    leaks = [(name, line) for name, line in lines if pattern.search(line)]
    assert leaks == []
