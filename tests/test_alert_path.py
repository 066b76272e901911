"""The whole alert path through the public API, on PostGIS, Redis, a Celery worker process
and the FCM sandbox: every device inside the circle gets exactly one pop-up, none far outside."""

import random
from collections import Counter
from datetime import timedelta

import httpx
import pytest

from geo.sphere import destination
from kit.config import get_settings
from tests.conftest import Sandbox, Service, drain, wait_until
from tests.helpers import notice_body, register_device, report_location, scatter

WEA_OVERSHOOT_M = 161.0  # 0.1 mile, the bound WEA sets for AMBER alerts
CENTRE = (48.8566, 2.3522)
RADIUS_M = 4_000.0


def _wait_for_broadcast(
    api: httpx.Client, operator: dict[str, str], notice_id: str, expected: int, timeout: float = 120
) -> dict:
    stats: dict = {}

    def settled() -> bool:
        nonlocal stats
        stats = api.get(f"/v1/operator/notices/{notice_id}/deliveries", headers=operator).json()
        return stats["targeted"] >= expected and stats["by_status"]["pending"] == 0

    wait_until(settled, timeout=timeout, what=f"{expected} deliveries of {notice_id}")
    return stats


def test_every_device_inside_gets_one_popup_and_none_far_outside(
    api: httpx.Client,
    worker: Service,
    sandbox: Sandbox,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    rng = random.Random(20261123)
    distances: dict[str, float] = {}
    for i in range(2000):
        token = f"scatter-{i}"
        lat, lon, distance = scatter(rng, *CENTRE, 3 * RADIUS_M)
        report_location(api, register_device(api, token), lat, lon)
        distances[token] = distance
    for i in range(60):  # right at the edge, where a cell-sized approximation would fail
        token = f"edge-{i}"
        distance = RADIUS_M + rng.choice([-1, 1]) * rng.uniform(0.5, 60)
        lat, lon = destination(*CENTRE, distance, rng.uniform(0, 360))
        report_location(api, register_device(api, token), lat, lon)
        distances[token] = distance
    for i in range(30):  # inside, but their last location is older than the 72 h window
        lat, lon, _ = scatter(rng, *CENTRE, RADIUS_M / 2)
        report_location(api, register_device(api, f"stale-{i}"), lat, lon, age=timedelta(hours=80))

    submitted = api.post(
        "/v1/notices",
        json=notice_body(lat=CENTRE[0], lon=CENTRE[1], radius_km=RADIUS_M / 1000),
        headers=agency_headers,
    )
    assert submitted.status_code == 201, submitted.text
    notice = submitted.json()
    assert notice["status"] == "pending"
    drain(worker)
    assert sandbox.messages() == [], "nothing is sent before approval"

    approved = api.post(f"/v1/operator/notices/{notice['id']}/approve", headers=operator_headers)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "active"

    inside = {t for t, d in distances.items() if d <= RADIUS_M}
    stats = _wait_for_broadcast(api, operator_headers, notice["id"], len(inside))
    received = Counter(m["message"]["token"] for m in sandbox.messages())

    assert {t for t in inside if received[t] != 1} == set(), "inside: exactly one pop-up each"
    far = {t for t, d in distances.items() if d > RADIUS_M + WEA_OVERSHOOT_M}
    assert far & set(received) == set(), "nothing beyond radius + 161 m"
    assert not any(t.startswith("stale-") for t in received), "stale locations are not targeted"
    assert max(received.values()) == 1
    assert stats["by_status"]["sent"] == len(received) == stats["targeted"]


def test_message_is_high_priority_expiring_and_collapses_per_notice(
    api: httpx.Client,
    worker: Service,
    sandbox: Sandbox,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    report_location(api, register_device(api, "tok-zh", locale="zh-CN"), *CENTRE)
    notice = api.post(
        "/v1/notices", json=notice_body(lat=CENTRE[0], lon=CENTRE[1]), headers=agency_headers
    ).json()
    api.post(
        f"/v1/operator/notices/{notice['id']}/approve",
        headers=operator_headers,
        json={"lifetime_hours": 2},
    )
    _wait_for_broadcast(api, operator_headers, notice["id"], 1)

    [record] = sandbox.messages()
    message = record["message"]
    assert message["token"] == "tok-zh"
    assert message["notification"]["title"] == "寻人启事：Lily Chen"
    assert message["data"] == {
        "type": "missing_person",
        "notice_id": notice["id"],
        "link": f"hexcast://notices/{notice['id']}",
        "view": f"{get_settings().public_base_url}/v1/feed/notices/{notice['id']}",
        "cap_status": "Actual",
    }
    android = message["android"]
    assert android["priority"].lower() == "high"
    assert android["collapse_key"] == notice["id"]
    ttl = float(android["ttl"].rstrip("s"))
    assert 2 * 3600 - 120 < ttl <= 2 * 3600
    assert message["apns"]["headers"]["apns-collapse-id"] == notice["id"]


def test_a_notice_too_long_for_one_fcm_message_still_reaches_everyone(
    api: httpx.Client,
    worker: Service,
    sandbox: Sandbox,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    """Chinese text takes three bytes a character: the longest notice the API accepts is
    larger than FCM's 4,096-byte message, which FCM would refuse for every device."""
    report_location(api, register_device(api, "tok-zh", locale="zh-CN"), *CENTRE)
    body = notice_body(lat=CENTRE[0], lon=CENTRE[1])
    body["person"].update(
        name="王" * 200,
        description="身穿红色外套，背黄色书包，身高一百二十厘米。" * 90,
        photo_url="https://agency.example/photos/" + "p" * 1900 + ".jpg",
    )
    body["last_seen"]["place"] = "人民广场地铁站" * 70
    notice = api.post("/v1/notices", json=body, headers=agency_headers)
    assert notice.status_code == 201, notice.text
    notice_id = notice.json()["id"]
    api.post(f"/v1/operator/notices/{notice_id}/approve", headers=operator_headers)

    stats = _wait_for_broadcast(api, operator_headers, notice_id, 1)

    assert stats["by_status"]["sent"] == 1, stats
    [record] = sandbox.messages()
    notification = record["message"]["notification"]
    assert notification["title"] == "寻人启事：" + "王" * 200
    assert notification["body"].startswith("王" * 200)
    assert notification["body"].endswith("…")
    assert record["message"]["data"]["link"] == f"hexcast://notices/{notice_id}"


def test_a_pending_or_rejected_notice_sends_nothing(
    api: httpx.Client,
    worker: Service,
    sandbox: Sandbox,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    report_location(api, register_device(api, "tok-1"), *CENTRE)
    notice = api.post(
        "/v1/notices", json=notice_body(lat=CENTRE[0], lon=CENTRE[1]), headers=agency_headers
    ).json()
    rejected = api.post(
        f"/v1/operator/notices/{notice['id']}/reject",
        headers=operator_headers,
        json={"reason": "hoax"},
    )
    assert rejected.json()["status"] == "rejected"
    again = api.post(f"/v1/operator/notices/{notice['id']}/approve", headers=operator_headers)
    assert again.status_code == 409
    drain(worker)
    assert sandbox.messages() == []


@pytest.mark.usefixtures("counting_previews")
def test_a_notice_reaches_only_devices_located_within_its_window(
    api: httpx.Client,
    worker: Service,
    sandbox: Sandbox,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    report_location(api, register_device(api, "an-hour-ago"), *CENTRE, age=timedelta(hours=1))
    report_location(api, register_device(api, "3-hours-ago"), *CENTRE, age=timedelta(hours=3))
    body = notice_body(lat=CENTRE[0], lon=CENTRE[1], location_window_hours=2)
    notice = api.post("/v1/notices", json=body, headers=agency_headers).json()
    assert notice["location_window_hours"] == 2
    preview = api.post(
        "/v1/operator/reach",
        headers=operator_headers,
        json={"lat": CENTRE[0], "lon": CENTRE[1], "radii_km": [5], "location_window_hours": 2},
    ).json()
    assert preview["reach"] == [
        {"radius_km": 5, "devices": 1, "fewer_than": None, "tallied_at": None}
    ]

    api.post(f"/v1/operator/notices/{notice['id']}/approve", headers=operator_headers)
    _wait_for_broadcast(api, operator_headers, notice["id"], 1)

    assert [m["message"]["token"] for m in sandbox.messages()] == ["an-hour-ago"]
