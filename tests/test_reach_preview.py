"""Operators preview how many devices each radius would reach, counted as a broadcast
selects them, before approving; a large area's middle is counted from the device tally
that beat takes every minute."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from geo.sphere import destination
from kit.config import get_settings
from tests.conftest import wait_until
from tests.helpers import register_device, report_location

# These tests count a handful of devices; tests/test_reach_privacy.py keeps the limits.
pytestmark = pytest.mark.usefixtures("counting_previews")

CENTRE = (-33.8688, 151.2093)


def test_reach_counts_fresh_devices_within_each_radius(
    api: httpx.Client, operator_headers: dict[str, str]
) -> None:
    for i, distance_m in enumerate([60, 900, 1_100, 4_900, 5_100, 19_000, 25_000]):
        lat, lon = destination(*CENTRE, distance_m, bearing_deg=i * 50)
        report_location(api, register_device(api, f"reach-{i}"), lat, lon)
    report_location(api, register_device(api, "reach-stale"), *CENTRE, age=timedelta(hours=73))

    response = api.post(
        "/v1/operator/reach",
        headers=operator_headers,
        json={"lat": CENTRE[0], "lon": CENTRE[1], "radii_km": [1, 5, 20, 0.1]},
    )

    assert response.status_code == 200, response.text
    assert [(r["radius_km"], r["devices"]) for r in response.json()["reach"]] == [
        (1, 2),
        (5, 4),
        (20, 6),
        (0.1, 1),
    ]


def test_reach_is_for_operators_and_validates_radii(
    api: httpx.Client, operator_headers: dict[str, str], agency_headers: dict[str, str]
) -> None:
    body = {"lat": CENTRE[0], "lon": CENTRE[1], "radii_km": [5]}
    assert api.post("/v1/operator/reach", json=body).status_code == 401
    assert api.post("/v1/operator/reach", json=body, headers=agency_headers).status_code == 403
    for radii in ([], [0], [501]):
        response = api.post(
            "/v1/operator/reach", headers=operator_headers, json={**body, "radii_km": radii}
        )
        assert response.status_code == 422, radii


@pytest.fixture
def tally_from_three_devices(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Large areas, as far as the preview is concerned, from three devices up."""
    monkeypatch.setenv("HEXCAST_REACH_TALLY_MIN_DEVICES", "3")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.mark.usefixtures("tally_from_three_devices", "worker")
def test_a_large_areas_middle_is_counted_from_the_tally_beat_keeps_and_its_edge_now(
    api: httpx.Client, operator_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    middle = []
    for i, distance_m in enumerate([80, 400, 900, 1_500, 2_500]):
        headers = register_device(api, f"tally-middle-{i}")
        report_location(api, headers, *destination(*CENTRE, distance_m, bearing_deg=i * 70))
        middle.append(headers)
    for name, distance_m in [("in", 49_850), ("out", 50_150)]:
        report_location(
            api, register_device(api, f"tally-edge-{name}"), *destination(*CENTRE, distance_m, 10)
        )
    report_location(api, register_device(api, "tally-stale"), *CENTRE, age=timedelta(hours=73))
    reported = datetime.now(UTC)

    def reach() -> dict[float, dict]:
        response = api.post(
            "/v1/operator/reach",
            headers=operator_headers,
            json={"lat": CENTRE[0], "lon": CENTRE[1], "radii_km": [50, 1]},
        )
        assert response.status_code == 200, response.text
        return {r["radius_km"]: r for r in response.json()["reach"]}

    def tallied_after_the_reports() -> bool:
        tallied_at = reach()[50]["tallied_at"]
        return tallied_at is not None and datetime.fromisoformat(tallied_at) > reported

    # Beat tallies every second, so a tally may be taken while the devices report; only one
    # started after the last report has seen them all.
    wait_until(tallied_after_the_reports, timeout=30, what="beat to tally the devices reported")
    first = reach()
    assert first[50]["devices"] == 6, "the five in the middle and the one just inside the edge"
    assert first[1] == {"radius_km": 1, "devices": 3, "fewer_than": None, "tallied_at": None}, (
        "a small area holds no whole tally cell: counted device by device"
    )

    report_location(
        api, register_device(api, "tally-edge-late"), *destination(*CENTRE, 49_900, 200)
    )
    assert reach()[50]["devices"] == 7, "a device near the edge counts at once, without a tally"

    for headers in middle[:2]:
        report_location(api, headers, *destination(*CENTRE, 300_000, 90))
    wait_until(
        lambda: reach()[50]["devices"] == 5,
        timeout=30,
        what="the next tally to see the two devices that left",
    )
    assert reach()[50]["tallied_at"] > first[50]["tallied_at"]
    metrics = api.get("/metrics").text
    age = next(
        float(line.split()[1])
        for line in metrics.splitlines()
        if line.startswith("hexcast_device_tally_age_seconds ")
    )
    assert 0 <= age < 30, "the tally's age, for an alert when beat stops"

    # The API process's settings only: beat, in its own process, goes on tallying every second.
    monkeypatch.setenv("HEXCAST_TALLY_INTERVAL_SECONDS", "0.0001")
    monkeypatch.setenv("HEXCAST_REACH_TALLY_MAX_AGE_SECONDS", "0.001")
    get_settings.cache_clear()
    assert reach()[50] == {"radius_km": 50, "devices": 5, "fewer_than": None, "tallied_at": None}, (
        "a tally older than the limit (beat stopped) is not used: every device counted now"
    )
