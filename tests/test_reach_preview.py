"""Operators preview how many devices each radius would reach, counted exactly as a
broadcast selects them, before approving."""

from datetime import timedelta

import httpx

from geo.sphere import destination
from tests.helpers import register_device, report_location

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
