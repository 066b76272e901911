"""Location reports: what a device may assume of a 204, through the public API and through a
real server whose process is killed mid-stream."""

import random
import sys
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from geo.regions import Circle, cover_region, device_cell, target_region
from geo.sphere import destination
from kit.celery import celery_app
from kit.db import get_engine, session_scope
from tests.conftest import (
    Sandbox,
    Service,
    _free_port,
    received_tasks,
    wait_for_runs,
    wait_until,
)
from tests.helpers import notice_body, register_device, wait_for_dispatch

PATH = "/v1/devices/me/location"


def _body(lat: float, lon: float, at: datetime, accuracy_m: float = 10) -> dict[str, Any]:
    return {"lat": lat, "lon": lon, "accuracy_m": accuracy_m, "at": at.isoformat()}


def _chunk_status(chunk_id: int) -> str:
    with get_engine().connect() as conn:
        return str(
            conn.execute(
                text("SELECT status FROM dispatch_chunks WHERE id = :id"), {"id": chunk_id}
            ).scalar_one()
        )


def _stored(token: str) -> dict[str, Any]:
    with get_engine().connect() as conn:
        row = conn.execute(
            text(
                "SELECT ST_Y(location::geometry) AS lat, ST_X(location::geometry) AS lon, "
                "h3_cell, accuracy_m, located_at FROM devices WHERE fcm_token = :token"
            ),
            {"token": token},
        ).one()
    return dict(row._mapping)


def test_a_report_answered_204_is_stored(api: httpx.Client) -> None:
    headers = register_device(api, "ingest-stored")
    at = datetime.now(UTC) - timedelta(seconds=30)
    response = api.put(PATH, headers=headers, json=_body(48.8584, 2.2945, at, accuracy_m=7.5))
    assert response.status_code == 204, response.text
    assert _stored("ingest-stored") == {
        "lat": pytest.approx(48.8584),
        "lon": pytest.approx(2.2945),
        "h3_cell": device_cell(48.8584, 2.2945),
        "accuracy_m": 7.5,
        "located_at": at,
    }


def test_an_older_report_is_accepted_and_keeps_the_newer_location(api: httpx.Client) -> None:
    headers = register_device(api, "ingest-order")
    newer = datetime.now(UTC) - timedelta(minutes=1)
    assert api.put(PATH, headers=headers, json=_body(51.5, -0.12, newer)).status_code == 204
    older = newer - timedelta(minutes=5)
    assert api.put(PATH, headers=headers, json=_body(40.7, -74.0, older)).status_code == 204
    same_time = api.put(PATH, headers=headers, json=_body(35.7, 139.7, newer))
    assert same_time.status_code == 204
    stored = _stored("ingest-order")
    assert (stored["lat"], stored["lon"], stored["located_at"]) == (
        pytest.approx(51.5),
        pytest.approx(-0.12),
        newer,
    )


def test_reports_arriving_together_keep_each_devices_newest(
    live_api: httpx.Client,
) -> None:
    """Many reports of a few devices at once, in shuffled order: they share batches and
    compete for rows, and each device ends at its newest report."""
    devices = [register_device(live_api, f"ingest-race-{i}") for i in range(4)]
    start = datetime.now(UTC) - timedelta(hours=1)
    reports = [
        (d, _body(10 + n / 100, 20 + d, start + timedelta(seconds=n)))
        for n in range(40)
        for d in range(len(devices))
    ]
    random.Random(19).shuffle(reports)

    def send(report: tuple[int, dict[str, Any]]) -> int:
        return live_api.put(PATH, headers=devices[report[0]], json=report[1]).status_code

    with ThreadPoolExecutor(16) as pool:
        assert set(pool.map(send, reports)) == {204}
    for d in range(len(devices)):
        stored = _stored(f"ingest-race-{d}")
        assert stored["located_at"] == start + timedelta(seconds=39)
        assert stored["lat"] == pytest.approx(10.39)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"lat": 91, "lon": 0, "accuracy_m": 1, "at": "2026-01-01T00:00:00Z"}', None),
        (b'{"lat": 1, "lon": 0, "accuracy_m": 1}', None),
        (b'{"lat": 1, "lon": 0, "accuracy_m": 1, "at": "2026-01-01T00:00:00Z"', None),
        (b'{"lat": 1, "lon": 0, "accuracy_m": 1, "at": "2026-01-01T00:00:00Z", "x": 1}', None),
        (b'{"lat": "north", "lon": 0, "accuracy_m": 1, "at": "2026-01-01T00:00:00Z"}', None),
    ],
    ids=["out-of-range", "missing-field", "not-json", "unknown-field", "wrong-type"],
)
def test_a_bad_report_is_422_and_keeps_the_stored_location(
    api: httpx.Client, body: bytes, content_type: str | None
) -> None:
    headers = register_device(api, "ingest-bad")
    at = datetime.now(UTC) - timedelta(minutes=1)
    assert api.put(PATH, headers=headers, json=_body(51.5, -0.12, at)).status_code == 204
    response = api.put(PATH, headers={**headers, "Content-Type": "application/json"}, content=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][0] == "body"
    assert _stored("ingest-bad")["located_at"] == at


def test_the_key_of_an_erased_device_is_401(api: httpx.Client) -> None:
    headers = register_device(api, "ingest-erased")
    at = datetime.now(UTC) - timedelta(minutes=1)
    assert api.put(PATH, headers=headers, json=_body(51.5, -0.12, at)).status_code == 204
    with get_engine().begin() as conn:
        conn.execute(text("DELETE FROM devices WHERE fcm_token = 'ingest-erased'"))
    response = api.put(PATH, headers=headers, json=_body(51.5, -0.12, at + timedelta(seconds=1)))
    assert response.status_code == 401
    assert response.json() == {"detail": "unknown device key", "code": "unauthenticated"}


def test_a_new_registration_retires_the_old_device_key(api: httpx.Client) -> None:
    """The app that holds the token registers it again, proving it with its current key."""
    old = register_device(api, "ingest-rekeyed")
    again = api.post(
        "/v1/devices",
        json={"fcm_token": "ingest-rekeyed", "platform": "android", "locale": "en-GB"},
        headers=old,
    )
    assert again.status_code in (200, 201), again.text
    new = {"X-Device-Key": again.json()["device_key"]}
    at = datetime.now(UTC) - timedelta(minutes=1)
    assert api.put(PATH, headers=old, json=_body(1, 1, at)).status_code == 401
    assert api.put(PATH, headers=new, json=_body(1, 1, at)).status_code == 204


def test_a_killed_api_process_loses_no_report_it_answered_204(api: httpx.Client) -> None:
    """SIGKILL to a two-process API while 8 clients stream reports: every report answered
    204 is in the database afterwards."""
    port = _free_port()
    server = Service(
        "api-kill",
        [
            sys.executable,
            "-m",
            "uvicorn",
            "alerts.api:app",
            "--port",
            str(port),
            "--workers",
            "2",
            "--no-access-log",
        ],
        ready=lambda log: log.count(b"Application startup complete") >= 2,
    )
    devices = {f"ingest-kill-{i}": register_device(api, f"ingest-kill-{i}") for i in range(40)}
    server.start()
    start = datetime.now(UTC) - timedelta(hours=1)
    answered: dict[str, datetime] = {}
    count = [0]
    answered_lock = threading.Lock()
    killed = threading.Event()

    def stream(tokens: list[str]) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            n = 0
            while not killed.is_set():
                for token in tokens:
                    at = start + timedelta(milliseconds=n)
                    n += 1
                    try:
                        response = client.put(PATH, headers=devices[token], json=_body(1, 2, at))
                    except httpx.TransportError:
                        return
                    assert response.status_code == 204, response.text
                    with answered_lock:
                        answered[token] = at
                        count[0] += 1

    tokens = sorted(devices)
    with ThreadPoolExecutor(8) as pool:
        streams = [pool.submit(stream, tokens[i::8]) for i in range(8)]
        wait_until(lambda: count[0] >= 1000, timeout=60, what="1,000 reports answered")
        server.kill()
        killed.set()
        for s in streams:
            s.result()
    assert len(answered) == len(tokens)
    for token, at in answered.items():
        assert _stored(token)["located_at"] >= at, token


def test_a_claim_takes_each_devices_location_as_it_was_when_its_chunk_was_claimed(
    api: httpx.Client, live_api: httpx.Client, agency_headers: dict[str, str]
) -> None:
    """During a broadcast a device's location is the one stored when the chunk holding it
    was claimed: moving out afterwards does not take the push back, and reports are not held
    up by the claim meanwhile. A later claim of the same cells (a re-run, a wider round)
    sees the new locations, and still pushes no device twice."""
    from notifier.repository import claim_recipients

    notice = api.post("/v1/notices", json=notice_body(), headers=agency_headers)
    assert notice.status_code == 201, notice.text
    notice_id = uuid.UUID(notice.json()["id"])
    region = (Circle(51.5007, -0.1246, 2_000.0),)
    now = datetime.now(UTC)
    leaving = register_device(api, "claim-leaving")
    arriving = register_device(api, "claim-arriving")
    assert api.put(PATH, headers=leaving, json=_body(51.5007, -0.1246, now)).status_code == 204
    assert api.put(PATH, headers=arriving, json=_body(48.8584, 2.2945, now)).status_code == 204

    def claim() -> list[str]:
        with session_scope() as session:
            claims = claim_recipients(
                session,
                notice_id=notice_id,
                region=region,
                ranges=cover_region(region),
                fresh_since=now - timedelta(hours=1),
                lease_until=now + timedelta(minutes=1),
                daily_cap=1000,
            )
            tokens = [c.token for c in claims]
            if tokens:  # the claim's transaction is still open: its deliveries lock devices
                later = now + timedelta(seconds=1)
                moves = [(leaving, 48.8584, 2.2945), (arriving, 51.5007, -0.1246)]
                for headers, lat, lon in moves:
                    response = live_api.put(
                        PATH, headers=headers, json=_body(lat, lon, later), timeout=10
                    )
                    assert response.status_code == 204
        return tokens

    assert claim() == ["claim-leaving"]
    assert _stored("claim-leaving")["lat"] == pytest.approx(48.8584)
    assert claim() == ["claim-arriving"]
    assert claim() == []


def test_a_device_that_moved_between_chunks_while_they_were_claimed_is_found_by_the_sweep(
    api: httpx.Client,
    worker: Service,
    sandbox: Sandbox,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    """A device inside the area the whole time, but in the cells of the chunk not yet
    claimed when the first was, and in the first's cells when the second was: neither chunk
    reaches it. The round's sweep waits while a chunk of its round is pending, then pushes
    that device, once."""
    from notifier import repository
    from notifier.dispatch import cut_ranges, encode_ranges

    centre = (64.1466, -21.9426)  # Reykjavík: no other test's devices
    notice = api.post(
        "/v1/notices",
        json=notice_body(lat=centre[0], lon=centre[1], radius_km=2),
        headers=agency_headers,
    ).json()
    approved = api.post(f"/v1/operator/notices/{notice['id']}/approve", headers=operator_headers)
    assert approved.status_code == 200, approved.text
    wait_for_dispatch(api, operator_headers, notice["id"], timeout=60)  # round 1: nobody there
    notice_id = uuid.UUID(notice["id"])
    region = target_region([], lat=centre[0], lon=centre[1], radius_km=2)
    cover = cover_region(region)
    places = [destination(*centre, d, b) for d in (400.0, 1_200.0) for b in range(0, 360, 20)]
    by_cell = sorted((device_cell(lat, lon), (lat, lon)) for lat, lon in places)
    cut = by_cell[len(by_cell) // 2][0]
    first, second = cut_ranges(cover, [cut])
    in_first, in_second = by_cell[0][1], by_cell[-1][1]
    now = datetime.now(UTC)
    with session_scope() as session:
        first_id, second_id, sweep_id = repository.create_round(
            session,
            notice_id=notice_id,
            round_number=2,
            chunks=[encode_ranges(first), encode_ranges(second)],
            cover=encode_ranges(cover),
            lease_until=now + timedelta(minutes=5),
        )
    mover = register_device(api, "sweep-mover")
    assert api.put(PATH, headers=mover, json=_body(*in_second, now)).status_code == 204

    def claim(chunk_id: int) -> None:
        """The chunk's task, on the worker; it queues the sweep once its claim committed."""
        celery_app.send_task("notifier.send_chunk", args=[chunk_id])
        wait_until(lambda: _chunk_status(chunk_id) == "claimed", timeout=30, what="a claim")

    before = received_tasks(worker)
    claim(first_id)
    later = now + timedelta(seconds=1)
    assert api.put(PATH, headers=mover, json=_body(*in_first, later)).status_code == 204
    # The first chunk's run, and the run of the sweep it queued once its claim committed.
    wait_for_runs(worker, "notifier.send_chunk", runs=2, before=before)
    assert _chunk_status(sweep_id) == "pending", "the sweep waits for the second chunk"
    assert sandbox.messages() == []
    claim(second_id)

    wait_until(lambda: _chunk_status(sweep_id) == "claimed", timeout=30, what="the sweep")
    wait_until(lambda: sandbox.messages(), timeout=30, what="the sweep's push")
    assert [m["message"]["token"] for m in sandbox.messages()] == ["sweep-mover"]


def test_a_broadcast_and_previews_stay_exact_while_reports_stream_in(
    api: httpx.Client,
    live_api: httpx.Client,
    worker: Service,
    sandbox: Sandbox,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    """Devices keep reporting (inside ones move about inside the circle, outside ones
    outside it) while previews are taken and a broadcast runs: every preview counts the
    devices inside, each of them gets exactly one push, no outside one any."""
    centre, radius_m = (52.52, 13.405), 5_000.0
    rng = random.Random(1919)
    inside = {f"stream-in-{i}": register_device(api, f"stream-in-{i}") for i in range(300)}
    outside = {f"stream-out-{i}": register_device(api, f"stream-out-{i}") for i in range(60)}
    start = datetime.now(UTC) - timedelta(minutes=30)
    sent = [0]
    stop = threading.Event()

    def place(token: str, n: int) -> dict[str, Any]:
        near = token in inside
        distance = rng.uniform(0, radius_m - 500) if near else rng.uniform(8_000, 20_000)
        lat, lon = destination(*centre, distance, rng.uniform(0, 360))
        return _body(lat, lon, start + timedelta(milliseconds=n))

    devices = {**inside, **outside}
    for token, headers in devices.items():
        assert api.put(PATH, headers=headers, json=place(token, 0)).status_code == 204

    def stream(tokens: list[str]) -> None:
        n = 1
        while not stop.is_set():
            for token in tokens:
                response = live_api.put(PATH, headers=devices[token], json=place(token, n))
                assert response.status_code == 204, response.text
                sent[0] += 1
            n += 1

    reach = {"lat": centre[0], "lon": centre[1], "radii_km": [radius_m / 1000]}
    tokens = sorted(devices)
    with ThreadPoolExecutor(4) as pool:
        streams = [pool.submit(stream, tokens[i::4]) for i in range(4)]
        try:
            wait_until(lambda: sent[0] >= 200, timeout=60, what="reports streaming")
            for _ in range(3):
                preview = api.post("/v1/operator/reach", json=reach, headers=operator_headers)
                assert preview.json()["reach"][0]["devices"] == len(inside)
            notice = api.post(
                "/v1/notices",
                json=notice_body(lat=centre[0], lon=centre[1], radius_km=radius_m / 1000),
                headers=agency_headers,
            ).json()
            sent_at_approval = sent[0]
            approved = api.post(
                f"/v1/operator/notices/{notice['id']}/approve", headers=operator_headers
            )
            assert approved.status_code == 200, approved.text
            wait_for_dispatch(api, operator_headers, notice["id"], timeout=120)
            streamed_during_broadcast = sent[0] - sent_at_approval
        finally:
            stop.set()
        for s in streams:
            s.result()
    received = Counter(m["message"]["token"] for m in sandbox.messages())
    assert {t for t in inside if received[t] != 1} == set()
    assert set(received) & set(outside) == set()
    assert streamed_during_broadcast > 0
