"""Test and Exercise notices through the HTTP API, a Celery worker and the FCM sandbox: they
reach only devices registered as test devices and say so in the pop-up; Actual notices reach
every device, test devices included (as WEA test messages reach only opted-in phones)."""

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from geo.regions import Circle, cover_region
from geo.selection import select_recipients
from kit.db import get_engine
from kit.models import Device
from tests.conftest import Sandbox, wait_until
from tests.helpers import notice_body, report_location

# These tests count a handful of devices; tests/test_reach_privacy.py keeps the limits.
pytestmark = pytest.mark.usefixtures("counting_previews")

CENTRE = (52.5200, 13.4050)


def _register(
    api: httpx.Client, token: str, *, test_device: bool, key: dict[str, str] | None = None
) -> dict[str, str]:
    """`key`: the device's current key, which proves the app holds a registered token."""
    response = api.post(
        "/v1/devices",
        json={
            "fcm_token": token,
            "platform": "android",
            "locale": "en-GB",
            "test_device": test_device,
        },
        headers=key,
    )
    assert response.status_code in (200, 201), response.text
    return {"X-Device-Key": response.json()["device_key"]}


def _place(api: httpx.Client, token: str, *, test_device: bool) -> None:
    report_location(api, _register(api, token, test_device=test_device), *CENTRE)


def _broadcast(
    api: httpx.Client,
    agency: dict[str, str],
    operator: dict[str, str],
    cap_status: str,
    expected: int,
) -> dict[str, Any]:
    body = notice_body(lat=CENTRE[0], lon=CENTRE[1], radius_km=2, cap_status=cap_status)
    notice = api.post("/v1/notices", json=body, headers=agency).json()
    approved = api.post(f"/v1/operator/notices/{notice['id']}/approve", headers=operator)
    assert approved.status_code == 200, approved.text
    url = f"/v1/operator/notices/{notice['id']}/deliveries"

    def settled() -> bool:
        stats = api.get(url, headers=operator).json()
        return bool(stats["targeted"] >= expected and stats["by_status"]["pending"] == 0)

    wait_until(settled, timeout=60, what=f"{expected} deliveries of a {cap_status} notice")
    return dict(notice)


@pytest.mark.parametrize(("cap_status", "mark"), [("Exercise", "EXERCISE"), ("Test", "TEST")])
def test_a_drill_reaches_only_test_devices_and_is_marked(
    api: httpx.Client,
    worker: object,
    sandbox: Sandbox,
    agency_headers: dict[str, str],
    reviewer_headers: dict[str, str],
    cap_status: str,
    mark: str,
) -> None:
    _place(api, "tester", test_device=True)
    _place(api, "public-1", test_device=False)
    _place(api, "public-2", test_device=False)

    notice = _broadcast(api, agency_headers, reviewer_headers, cap_status, expected=1)

    [record] = sandbox.messages()
    message = record["message"]
    assert message["token"] == "tester"
    assert message["notification"]["title"] == f"[{mark}] Missing person: Lily Chen"
    assert message["data"]["cap_status"] == cap_status
    stats = api.get(
        f"/v1/operator/notices/{notice['id']}/deliveries", headers=reviewer_headers
    ).json()
    assert stats["targeted"] == 1


def test_an_actual_notice_reaches_test_devices_too_and_is_not_marked(
    api: httpx.Client,
    worker: object,
    sandbox: Sandbox,
    agency_headers: dict[str, str],
    reviewer_headers: dict[str, str],
) -> None:
    _place(api, "tester", test_device=True)
    _place(api, "public", test_device=False)

    _broadcast(api, agency_headers, reviewer_headers, "Actual", expected=2)

    received = Counter(m["message"]["token"] for m in sandbox.messages())
    assert received == {"tester": 1, "public": 1}
    titles = {m["message"]["notification"]["title"] for m in sandbox.messages()}
    assert titles == {"Missing person: Lily Chen"}


def test_the_reach_preview_counts_the_audience_of_each_cap_status(
    api: httpx.Client, reviewer_headers: dict[str, str]
) -> None:
    for i in range(3):
        _place(api, f"tester-{i}", test_device=True)
    for i in range(5):
        _place(api, f"public-{i}", test_device=False)

    def reach(cap_status: str) -> int:
        response = api.post(
            "/v1/operator/reach",
            json={"lat": CENTRE[0], "lon": CENTRE[1], "radii_km": [1], "cap_status": cap_status},
            headers=reviewer_headers,
        )
        assert response.status_code == 200, response.text
        return int(response.json()["reach"][0]["devices"])

    assert (reach("Actual"), reach("Test"), reach("Exercise")) == (8, 3, 3)


def test_registering_again_without_the_flag_leaves_the_test_audience(
    api: httpx.Client, reviewer_headers: dict[str, str]
) -> None:
    key = _register(api, "phone", test_device=True)
    report_location(api, key, *CENTRE)
    body = {"lat": CENTRE[0], "lon": CENTRE[1], "radii_km": [1], "cap_status": "Test"}
    assert (
        api.post("/v1/operator/reach", json=body, headers=reviewer_headers).json()["reach"][0][
            "devices"
        ]
        == 1
    )

    _register(api, "phone", test_device=False, key=key)

    assert (
        api.post("/v1/operator/reach", json=body, headers=reviewer_headers).json()["reach"][0][
            "devices"
        ]
        == 0
    )


@pytest.mark.parametrize("test_devices_only", [False, True])
def test_selection_reads_the_covering_index_alone_for_either_audience(
    api: httpx.Client, test_devices_only: bool
) -> None:
    """Selection stays an index-only scan: the covering index includes the test flag and the
    pause flag, and every other column a claim reads."""
    for i in range(20):
        _place(api, f"device-{i}", test_device=i % 2 == 0)
    region = (Circle(CENTRE[0], CENTRE[1], 1_000),)
    query = select_recipients(
        region,
        cover_region(region),
        columns=[Device.id, Device.fcm_token, Device.locale, Device.alerts_paused],
        fresh_since=datetime.now(UTC) - timedelta(hours=1),
        test_devices_only=test_devices_only,
    )
    compiled = query.compile(get_engine(), compile_kwargs={"literal_binds": True})
    with get_engine().connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE devices"))
        conn.execute(text("SET enable_seqscan = off"))
        conn.execute(text("SET enable_bitmapscan = off"))
        plan = conn.execute(text(f"EXPLAIN (FORMAT JSON) {compiled}")).scalar_one()
        found = conn.execute(text(str(compiled))).all()

    assert len(found) == (10 if test_devices_only else 20)
    scans = _scans(plan[0]["Plan"])
    assert ("Index Only Scan", "ix_devices_h3_cell") in scans, scans
    assert not any(node == "Index Scan" for node, _ in scans), scans


def _scans(node: dict[str, Any]) -> list[tuple[str, str | None]]:
    here = [(node["Node Type"], node.get("Index Name"))] if "Scan" in node["Node Type"] else []
    return here + [scan for child in node.get("Plans", []) for scan in _scans(child)]
