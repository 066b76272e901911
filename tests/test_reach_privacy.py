"""The reach preview is no location oracle, with the production limits: small counts are
"fewer than N", areas and location windows too small for an alert are refused, previews are
limited per operator, and every one is in the audit log."""

import httpx

from geo.sphere import destination
from kit.config import Settings
from tests.helpers import register_device, report_location

HOME = (52.3702, 4.8952)
PRODUCTION = Settings.model_fields


def _square(lat: float, lon: float, half_side_deg: float) -> dict:
    ring = [
        [lon - half_side_deg, lat - half_side_deg],
        [lon + half_side_deg, lat - half_side_deg],
        [lon + half_side_deg, lat + half_side_deg],
        [lon - half_side_deg, lat + half_side_deg],
        [lon - half_side_deg, lat - half_side_deg],
    ]
    return {"type": "polygon", "geometry": {"type": "Polygon", "coordinates": [ring]}}


def _preview(api: httpx.Client, headers: dict[str, str], body: dict) -> httpx.Response:
    return api.post("/v1/operator/reach", headers=headers, json=body)


def test_a_preview_around_one_fresh_device_says_fewer_than_n(
    api: httpx.Client, reviewer_headers: dict[str, str]
) -> None:
    shown_from = PRODUCTION["reach_min_devices_shown"].default
    report_location(api, register_device(api, "the-phone"), *HOME)

    tiny = _preview(api, reviewer_headers, {"areas": [_square(*HOME, 0.0005)]})
    assert tiny.status_code == 422, "a 100 m square around a home is no alert"
    assert tiny.json()["detail"][0]["loc"][-1] == "areas"
    assert "km2" in tiny.json()["detail"][0]["msg"]

    smallest = _preview(api, reviewer_headers, {"areas": [_square(*HOME, 0.006)]})
    assert smallest.status_code == 200, smallest.text
    assert smallest.json()["reach"] == [
        {"radius_km": None, "devices": None, "fewer_than": shown_from, "tallied_at": None}
    ]

    for i in range(shown_from):
        lat, lon = destination(*HOME, 50 + 10 * i, bearing_deg=36 * i)
        report_location(api, register_device(api, f"neighbour-{i}"), lat, lon)
    crowded = _preview(api, reviewer_headers, {"lat": HOME[0], "lon": HOME[1], "radii_km": [1]})
    assert crowded.json()["reach"][0]["devices"] == shown_from + 1


def test_small_radii_and_short_windows_are_refused(
    api: httpx.Client, reviewer_headers: dict[str, str]
) -> None:
    small = _preview(api, reviewer_headers, {"lat": HOME[0], "lon": HOME[1], "radii_km": [5, 0.2]})
    short = _preview(
        api,
        reviewer_headers,
        {"lat": HOME[0], "lon": HOME[1], "radii_km": [5], "location_window_hours": 0.01},
    )

    assert small.status_code == 422 and small.json()["detail"][0]["loc"][-1] == "radii_km"
    assert short.status_code == 422
    assert short.json()["detail"][0]["loc"][-1] == "location_window_hours"


def test_previews_are_limited_per_operator_and_audited(
    api: httpx.Client, reviewer_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    limit = PRODUCTION["reach_previews_per_minute"].default
    body = {"lat": HOME[0], "lon": HOME[1], "radii_km": [2]}
    answers = [_preview(api, reviewer_headers, body).status_code for _ in range(limit + 1)]

    assert answers == [200] * limit + [429]
    refused = _preview(api, reviewer_headers, body)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert _preview(api, admin_headers, body).status_code == 200, "another operator's own limit"

    audit = api.get(
        "/v1/operator/audit", params={"action": "reach.previewed"}, headers=admin_headers
    ).json()
    assert audit["total"] == limit + 1
    newest = audit["items"][0]["details"]
    assert newest["query"]["radii_km"] == [2]
    assert newest["reach"] == [{"radius_km": 2, "devices": None, "fewer_than": 10}]
