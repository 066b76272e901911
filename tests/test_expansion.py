"""A notice widens by planned steps, as Tuanyuan widens alerts with time: each step reaches
the devices not notified yet, and no device is ever notified twice for a notice."""

from collections import Counter
from datetime import UTC, datetime

import httpx

from geo.sphere import destination
from kit.celery import celery_app
from tests.conftest import Sandbox, Service, drain, wait_until
from tests.helpers import notice_body, register_device, report_location

CENTRE = (52.52, 13.405)
# token -> distance from the last-seen place in metres
DEVICES = {"at-1km": 1_000, "at-3km": 3_000, "at-7km": 7_000, "at-12km": 12_000}


def _expand_now() -> None:
    """What Celery beat does every 30 s."""
    celery_app.send_task("alerts.expand_notices")


def test_each_step_reaches_only_devices_not_yet_notified(
    api: httpx.Client,
    worker: Service,
    sandbox: Sandbox,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    for i, (token, distance) in enumerate(DEVICES.items()):
        report_location(api, register_device(api, token), *destination(*CENTRE, distance, i * 90))
    notice = api.post(
        "/v1/notices",
        json=notice_body(lat=CENTRE[0], lon=CENTRE[1], radius_km=2),
        headers=agency_headers,
    ).json()
    url = f"/v1/operator/notices/{notice['id']}"
    planned = api.put(
        f"{url}/expansion",
        headers=operator_headers,
        json={
            "steps": [
                {"after_minutes": 0.05, "radius_km": 5},
                # Far enough behind the first that a slow machine does not apply both at once.
                {"after_minutes": 0.3, "radius_km": 10},
            ]
        },
    )
    assert planned.status_code == 200, planned.text
    assert [s["due_at"] for s in planned.json()["steps"]] == [None, None], "not approved yet"

    assert api.post(f"{url}/approve", headers=operator_headers).status_code == 200
    received = lambda: Counter(m["message"]["token"] for m in sandbox.messages())  # noqa: E731
    wait_until(lambda: received() == {"at-1km": 1}, timeout=30, what="the first circle")

    due = [
        datetime.fromisoformat(s["due_at"])
        for s in api.get(f"{url}/expansion", headers=operator_headers).json()["steps"]
    ]
    wait_until(lambda: datetime.now(UTC) >= due[0], timeout=30, what="the first step's time")
    _expand_now()
    wait_until(lambda: "at-3km" in received(), timeout=30, what="the first step")
    schedule = api.get(f"{url}/expansion", headers=operator_headers).json()
    assert schedule["radius_km"] == 5
    assert [s["applied_at"] is not None for s in schedule["steps"]] == [True, False]

    wait_until(
        lambda: (_expand_now(), "at-7km" in received())[1],
        timeout=30,
        what="the second step",
    )
    # Beat and a repeated broadcast after the last step change nothing.
    _expand_now()
    celery_app.send_task("notifier.broadcast", args=[notice["id"], 99])
    drain(worker)

    assert received() == {"at-1km": 1, "at-3km": 1, "at-7km": 1}
    stats = api.get(f"{url}/deliveries", headers=operator_headers).json()
    assert stats["targeted"] == 3


def test_a_schedule_must_widen_the_circle(
    api: httpx.Client, agency_headers: dict[str, str], operator_headers: dict[str, str]
) -> None:
    notice = api.post("/v1/notices", json=notice_body(radius_km=5), headers=agency_headers).json()
    url = f"/v1/operator/notices/{notice['id']}/expansion"

    def plan(*steps: tuple[float, float]) -> httpx.Response:
        body = {"steps": [{"after_minutes": m, "radius_km": r} for m, r in steps]}
        return api.put(url, headers=operator_headers, json=body)

    assert plan((60, 3)).status_code == 409, "narrower than the current 5 km"
    assert plan((60, 20), (30, 50)).status_code == 422, "out of order"
    assert plan((60, 20), (120, 10)).status_code == 422, "a later step narrows"
    assert plan((0, 20)).status_code == 422
    assert plan((60, 501)).status_code == 422
    assert plan((60, 20), (120, 50)).status_code == 200
    assert plan().json()["steps"] == [], "an empty plan clears the pending steps"
    assert api.put(url, headers=agency_headers, json={"steps": []}).status_code == 403

    missing = "/v1/operator/notices/00000000-0000-0000-0000-000000000000/expansion"
    assert api.get(missing, headers=operator_headers).status_code == 404
    api.post(f"/v1/operator/notices/{notice['id']}/reject", headers=operator_headers)
    assert plan((60, 20)).status_code == 409, "a rejected notice does not expand"
