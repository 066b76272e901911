"""Small builders shared by the API tests."""

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from geo.sphere import destination


def notice_body(
    *, lat: float = 51.5007, lon: float = -0.1246, radius_km: float = 5.0, **overrides: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "person": {
            "name": "Lily Chen",
            "age": 7,
            "sex": "female",
            "description": "Red coat, yellow backpack.",
            "photo_url": "https://agency.example/photos/lily.jpg",
        },
        "last_seen": {
            "lat": lat,
            "lon": lon,
            "at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
            "place": "Westminster Bridge",
        },
        "radius_km": radius_km,
        "contact": "Police 101, case 4411",
        "language": "en-GB",
    }
    body.update(overrides)
    return body


def create_agency(api: httpx.Client, operator_headers: dict[str, str], name: str) -> dict[str, str]:
    """A new agency through the admin API; returns the headers its key goes in."""
    response = api.post("/v1/operator/agencies", json={"name": name}, headers=operator_headers)
    assert response.status_code == 201, response.text
    return {"X-API-Key": response.json()["api_key"]}


def register_device(api: httpx.Client, token: str, *, locale: str = "en-GB") -> dict[str, str]:
    response = api.post(
        "/v1/devices", json={"fcm_token": token, "platform": "android", "locale": locale}
    )
    assert response.status_code in (200, 201), response.text
    return {"X-Device-Key": response.json()["device_key"]}


def report_location(
    api: httpx.Client,
    headers: dict[str, str],
    lat: float,
    lon: float,
    *,
    age: timedelta = timedelta(minutes=1),
) -> None:
    response = api.put(
        "/v1/devices/me/location",
        headers=headers,
        json={
            "lat": lat,
            "lon": lon,
            "accuracy_m": 10,
            "at": (datetime.now(UTC) - age).isoformat(),
        },
    )
    assert response.status_code == 204, response.text


def scatter(rng: random.Random, lat: float, lon: float, max_m: float) -> tuple[float, float, float]:
    """A point at a uniform random distance in [0, max_m] and bearing; returns (lat, lon, d)."""
    distance = rng.uniform(0, max_m)
    plat, plon = destination(lat, lon, distance, rng.uniform(0, 360))
    return plat, plon, distance


PASSWORD = "correct horse battery staple"


def create_operator(
    api: httpx.Client,
    admin_headers: dict[str, str],
    email: str,
    *,
    role: str = "reviewer",
    password: str = PASSWORD,
) -> dict[str, Any]:
    """A new operator account through the admin API; returns the account."""
    response = api.post(
        "/v1/operator/accounts",
        json={
            "email": email,
            "display_name": email.split("@")[0],
            "role": role,
            "password": password,
        },
        headers=admin_headers,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def log_in(api: httpx.Client, email: str, password: str = PASSWORD) -> dict[str, str]:
    """Logs in through the API; returns the headers the session token goes in."""
    response = api.post("/v1/operator/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}
