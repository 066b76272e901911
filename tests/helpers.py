"""Small builders shared by the API tests."""

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from geoalchemy2 import WKTElement
from sqlalchemy import insert

from geo.regions import device_cell
from geo.sphere import destination
from kit.db import session_scope
from kit.models import Device, Platform


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


def place_devices(
    count: int,
    lat: float,
    lon: float,
    *,
    prefix: str = "crowd",
    within_m: float = 0.0,
    seed: int = 0,
    located_at: datetime | None = None,
) -> list[str]:
    """Registered, located devices written straight to the database, for broadcasts too
    large to set up through the API in a test; returns their tokens. They are spread
    uniformly in distance up to `within_m` from (lat, lon), located now unless told."""
    rng = random.Random(seed)
    now = located_at or datetime.now(UTC)
    tokens = [f"{prefix}-{i}" for i in range(count)]
    rows = []
    for token in tokens:
        plat, plon, _ = scatter(rng, lat, lon, within_m)
        rows.append(
            {
                "id": uuid.uuid4(),
                "fcm_token": token,
                "platform": Platform.ANDROID,
                "locale": "en",
                "credential_hash": uuid.uuid4().hex + uuid.uuid4().hex,
                "active": True,
                "location": WKTElement(f"POINT({plon} {plat})", srid=4326),
                "h3_cell": device_cell(plat, plon),
                "accuracy_m": 5.0,
                "located_at": now,
            }
        )
    with session_scope() as session:
        session.execute(insert(Device), rows)
    return tokens


def delivery_stats(api: httpx.Client, operator: dict[str, str], notice_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/operator/notices/{notice_id}/deliveries", headers=operator)
    assert response.status_code == 200, response.text
    return dict(response.json())


def wait_for_dispatch(
    api: httpx.Client, operator: dict[str, str], notice_id: str, *, timeout: float
) -> dict[str, Any]:
    """The notice's delivery stats once its dispatch is complete."""
    from tests.conftest import wait_until

    stats: dict[str, Any] = {}

    def complete() -> bool:
        nonlocal stats
        stats = delivery_stats(api, operator, notice_id)
        return bool(stats["complete"])

    wait_until(complete, timeout=timeout, what=f"the dispatch of {notice_id} to complete")
    return stats


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
