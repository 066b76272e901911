"""Agency webhooks end to end: events recorded through the HTTP API, delivered by the real
Celery worker to a real HTTP receiver in this process, signed, retried and recorded."""

import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from alerts.webhooks.signing import verify_signature
from kit.celery import HOUSEKEEPING_QUEUE, celery_app
from tests.conftest import Delivery, Receiver, Service, drain, wait_until
from tests.helpers import create_agency, notice_body, register_device


def _set_webhook(api: httpx.Client, agency: dict[str, str], url: str) -> str:
    response = api.put("/v1/webhook", json={"url": url}, headers=agency)
    assert response.status_code == 200, response.text
    return str(response.json()["secret"])


def _submit(api: httpx.Client, agency: dict[str, str]) -> str:
    response = api.post("/v1/notices", json=notice_body(), headers=agency)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _act(
    api: httpx.Client, operator: dict[str, str], notice_id: str, action: str, body: Any = None
) -> dict[str, Any]:
    response = api.post(f"/v1/operator/notices/{notice_id}/{action}", json=body, headers=operator)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _sighting(api: httpx.Client, device: dict[str, str], notice_id: str) -> dict[str, Any]:
    response = api.post(
        f"/v1/notices/{notice_id}/sightings",
        json={
            "seen_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
            "lat": 51.5055,
            "lon": -0.116,
            "text": "Red coat, yellow backpack, near the bus stop.",
        },
        headers=device,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def _events(api: httpx.Client, agency: dict[str, str]) -> list[dict[str, Any]]:
    response = api.get("/v1/webhook/events", headers=agency)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def _settled_events(
    api: httpx.Client, agency: dict[str, str], count: int, timeout: float = 20
) -> list[dict[str, Any]]:
    """The agency's events once `count` exist and none is pending."""
    events: list[dict[str, Any]] = []

    def settled() -> bool:
        nonlocal events
        events = _events(api, agency)
        return len(events) >= count and all(e["status"] != "pending" for e in events)

    wait_until(settled, timeout=timeout, what=f"{count} settled webhook events")
    return events


def _assert_signed(delivery: Delivery, secret: str) -> None:
    header = delivery.headers["X-Hexcast-Signature"]
    assert verify_signature(secret, header, delivery.body, now=time.time()), header
    assert delivery.headers["Content-Type"] == "application/json"
    assert delivery.headers["X-Hexcast-Event"] == delivery.event["type"]
    assert delivery.headers["X-Hexcast-Delivery"] == delivery.event["id"]


# --- delivery ----------------------------------------------------------------------------


def test_a_sighting_reaches_the_agency_signed_and_retried_after_a_500(
    api: httpx.Client,
    worker: Service,
    receiver: Receiver,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    secret = _set_webhook(api, agency_headers, receiver.url)
    notice_id = _submit(api, agency_headers)
    approved = _act(api, operator_headers, notice_id, "approve")
    [activated] = receiver.wait_for(1)
    receiver.answer(500)

    sighting = _sighting(api, register_device(api, "witness"), notice_id)

    deliveries = receiver.wait_for(3)
    assert len(deliveries) == 3
    _assert_signed(activated, secret)
    assert activated.event["type"] == "notice.activated"
    assert activated.event["data"] == {"notice": approved}
    failed, retried = deliveries[1:]
    assert failed.body == retried.body, "a retry carries the same event, byte for byte"
    _assert_signed(failed, secret)
    _assert_signed(retried, secret)
    event = retried.event
    assert event["type"] == "sighting.created"
    assert uuid.UUID(event["id"])
    assert abs(datetime.fromisoformat(event["created_at"]) - datetime.now(UTC)) < timedelta(
        seconds=60
    )
    assert event["data"] == {"sighting": sighting}
    assert 0.2 <= retried.at - failed.at < 5, "retried after the backoff, not at once"

    events = _settled_events(api, agency_headers, 2)
    by_type = {e["type"]: e for e in events}
    assert by_type["sighting.created"]["status"] == "delivered"
    assert by_type["sighting.created"]["attempts"] == 2
    assert by_type["sighting.created"]["last_status_code"] == 200
    assert by_type["sighting.created"]["payload"] == event
    assert (by_type["notice.activated"]["status"], by_type["notice.activated"]["attempts"]) == (
        "delivered",
        1,
    )
    assert [e["type"] for e in events] == ["sighting.created", "notice.activated"]


def test_each_status_change_is_an_event(
    api: httpx.Client,
    worker: Service,
    receiver: Receiver,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    secret = _set_webhook(api, agency_headers, receiver.url)
    rejected = _submit(api, agency_headers)
    cancelled = _submit(api, agency_headers)
    expiring = _submit(api, agency_headers)
    found = _submit(api, agency_headers)
    _act(api, operator_headers, rejected, "reject", {"reason": "Duplicate of 4411"})
    _act(api, operator_headers, cancelled, "approve")
    _act(api, operator_headers, cancelled, "cancel", {"reason": "Withdrawn by the family"})
    _act(api, operator_headers, found, "approve")
    _act(api, operator_headers, found, "found", {"reason": "Found safe"})
    _act(api, operator_headers, expiring, "approve", {"lifetime_hours": 0.0002})
    receiver.wait_for(6)
    time.sleep(1)
    celery_app.send_task("alerts.expire_notices")  # as beat does every minute

    receiver.wait_for(7)
    for delivery in receiver.deliveries:
        _assert_signed(delivery, secret)
    seen = sorted(
        (d.event["type"], d.event["data"]["notice"]["id"], d.event["data"]["notice"]["status"])
        for d in receiver.deliveries
    )
    assert seen == sorted(
        [
            ("notice.rejected", rejected, "rejected"),
            ("notice.activated", cancelled, "active"),
            ("notice.cancelled", cancelled, "cancelled"),
            ("notice.activated", found, "active"),
            ("notice.found", found, "found"),
            ("notice.activated", expiring, "active"),
            ("notice.expired", expiring, "expired"),
        ]
    )
    [rejection] = receiver.of_type("notice.rejected")
    assert rejection.event["data"]["notice"]["decision_reason"] == "Duplicate of 4411"


def test_a_4xx_answer_is_not_retried(
    api: httpx.Client,
    worker: Service,
    receiver: Receiver,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    _set_webhook(api, agency_headers, receiver.url)
    receiver.answer(400)

    _act(api, operator_headers, _submit(api, agency_headers), "reject")

    [event] = _settled_events(api, agency_headers, 1)
    assert (event["status"], event["attempts"], event["last_status_code"]) == ("failed", 1, 400)
    drain(worker)
    assert len(receiver.deliveries) == 1


def test_a_failing_receiver_is_tried_max_attempts_times_then_the_event_fails(
    api: httpx.Client,
    worker: Service,
    receiver: Receiver,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    _set_webhook(api, agency_headers, receiver.url)
    receiver.answer(503, 502, 500, 500, 500)

    _act(api, operator_headers, _submit(api, agency_headers), "reject")

    [event] = _settled_events(api, agency_headers, 1)
    assert (event["status"], event["attempts"], event["last_status_code"]) == ("failed", 3, 500)
    assert event["next_attempt_at"] is None
    times = [d.at for d in receiver.deliveries]
    assert len(times) == 3, "HEXCAST_WEBHOOK_MAX_ATTEMPTS=3 in the tests"
    assert times[1] - times[0] >= 0.2, "first retry after 0.2-0.4 s"
    assert times[2] - times[1] >= 0.4, "second retry after 0.4-0.8 s: the delay doubles"


def test_429_retry_after_is_honoured(
    api: httpx.Client,
    worker: Service,
    receiver: Receiver,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    _set_webhook(api, agency_headers, receiver.url)
    receiver.answer((429, {"Retry-After": "2"}))

    _act(api, operator_headers, _submit(api, agency_headers), "reject")

    first, second = receiver.wait_for(2)
    assert second.at - first.at >= 2.0
    assert second.body == first.body
    [event] = _settled_events(api, agency_headers, 1)
    assert (event["status"], event["attempts"]) == ("delivered", 2)


def test_an_unreachable_receiver_is_retried_and_the_error_recorded(
    api: httpx.Client,
    worker: Service,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    _set_webhook(api, agency_headers, f"http://127.0.0.1:{closed_port}/hook")

    _act(api, operator_headers, _submit(api, agency_headers), "reject")

    [event] = _settled_events(api, agency_headers, 1)
    assert (event["status"], event["attempts"], event["last_status_code"]) == ("failed", 3, None)
    assert event["last_error"].startswith("ConnectError")


def test_an_event_whose_queued_task_was_lost_is_delivered_by_the_beat_requeue(
    api: httpx.Client,
    worker: Service,
    receiver: Receiver,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    """The worker stops consuming, the queued delivery is purged from Redis (as if the broker
    had lost it), the worker consumes again: only the outbox still knows the event."""
    _set_webhook(api, agency_headers, receiver.url)
    notice_id = _submit(api, agency_headers)
    assert celery_app.control.cancel_consumer(HOUSEKEEPING_QUEUE, reply=True, timeout=10)
    try:
        _act(api, operator_headers, notice_id, "reject")
        assert celery_app.control.purge() >= 1
    finally:
        assert celery_app.control.add_consumer(HOUSEKEEPING_QUEUE, reply=True, timeout=10)
    drain(worker)
    assert receiver.deliveries == []
    assert [e["status"] for e in _events(api, agency_headers)] == ["pending"]

    celery_app.send_task("alerts.requeue_webhooks")  # as beat does every 30 s

    [delivery] = receiver.wait_for(1)
    assert delivery.event["type"] == "notice.rejected"
    assert [e["status"] for e in _settled_events(api, agency_headers, 1)] == ["delivered"]


# --- configuration -----------------------------------------------------------------------


def test_the_secret_is_shown_once_and_rotates_with_each_setting(
    api: httpx.Client, agency_headers: dict[str, str]
) -> None:
    assert api.get("/v1/webhook", headers=agency_headers).status_code == 404

    first = api.put("/v1/webhook", json={"url": "http://127.0.0.1:9/a"}, headers=agency_headers)

    assert first.status_code == 200, first.text
    assert first.json()["url"] == "http://127.0.0.1:9/a"
    assert first.json()["secret"].startswith("whsec_")
    read = api.get("/v1/webhook", headers=agency_headers)
    assert read.status_code == 200
    assert read.json() == {"url": "http://127.0.0.1:9/a", "created_at": read.json()["created_at"]}
    second = api.put("/v1/webhook", json={"url": "http://127.0.0.1:9/b"}, headers=agency_headers)
    assert second.json()["secret"] != first.json()["secret"]
    assert api.get("/v1/webhook", headers=agency_headers).json()["url"] == "http://127.0.0.1:9/b"


def test_after_removal_no_events_are_recorded(
    api: httpx.Client, agency_headers: dict[str, str], operator_headers: dict[str, str]
) -> None:
    _set_webhook(api, agency_headers, "http://127.0.0.1:9/h")
    assert api.delete("/v1/webhook", headers=agency_headers).status_code == 204
    assert api.get("/v1/webhook", headers=agency_headers).status_code == 404
    assert api.delete("/v1/webhook", headers=agency_headers).status_code == 204

    _act(api, operator_headers, _submit(api, agency_headers), "reject")

    assert _events(api, agency_headers) == []


def test_an_operator_sets_an_agencys_webhook(
    api: httpx.Client, agency_headers: dict[str, str], operator_headers: dict[str, str]
) -> None:
    created = api.post(
        "/v1/operator/agencies", json={"name": "Coastguard"}, headers=operator_headers
    ).json()

    response = api.put(
        f"/v1/operator/agencies/{created['id']}/webhook",
        json={"url": "http://127.0.0.1:9/coastguard"},
        headers=operator_headers,
    )

    assert response.status_code == 200, response.text
    assert response.json()["secret"].startswith("whsec_")
    coastguard = {"X-API-Key": created["api_key"]}
    assert api.get("/v1/webhook", headers=coastguard).json()["url"] == (
        "http://127.0.0.1:9/coastguard"
    )
    assert api.get("/v1/webhook", headers=agency_headers).status_code == 404
    unknown = api.put(
        f"/v1/operator/agencies/{uuid.uuid4()}/webhook",
        json={"url": "http://127.0.0.1:9/x"},
        headers=operator_headers,
    )
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "agency not found", "code": "not_found"}


def test_an_agency_sees_only_its_own_events(
    api: httpx.Client, agency_headers: dict[str, str], operator_headers: dict[str, str]
) -> None:
    other = create_agency(api, operator_headers, "Other Police")
    _set_webhook(api, agency_headers, "http://127.0.0.1:9/h")
    _set_webhook(api, other, "http://127.0.0.1:9/other")

    _act(api, operator_headers, _submit(api, agency_headers), "reject")

    assert [e["type"] for e in _events(api, agency_headers)] == ["notice.rejected"]
    assert _events(api, other) == []


def test_only_agencies_manage_their_webhook(
    api: httpx.Client, agency_headers: dict[str, str], operator_headers: dict[str, str]
) -> None:
    device = register_device(api, "nosy-device")
    body = {"url": "http://127.0.0.1:9/x"}
    assert api.put("/v1/webhook", json=body, headers=device).status_code == 403
    assert api.get("/v1/webhook/events", headers=device).status_code == 403
    assert api.put("/v1/webhook", json=body).status_code == 401
    assert api.get("/v1/webhook", headers=operator_headers).status_code == 403
    agency_id = uuid.uuid4()
    route = f"/v1/operator/agencies/{agency_id}/webhook"
    assert api.put(route, json=body, headers=agency_headers).status_code == 403


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ({"url": "not a url"}, "url_parsing"),
        ({"url": "ftp://agency.example/h"}, "url_scheme"),
        ({"url": "https://agency.example/" + "x" * 2048}, "url_too_long"),
        ({"url": "https://agency.example/" + "é" * 400}, "url_too_long"),
        ({"url": "http://127.0.0.1:9/h", "secret": "mine"}, "extra_forbidden"),
        ({}, "missing"),
    ],
    ids=["not a URL", "not http", "too long", "too long once encoded", "own secret", "no URL"],
)
def test_a_bad_webhook_setting_is_422(
    api: httpx.Client, agency_headers: dict[str, str], body: dict[str, str], kind: str
) -> None:
    response = api.put("/v1/webhook", json=body, headers=agency_headers)

    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["type"] == kind
    assert api.get("/v1/webhook", headers=agency_headers).status_code == 404
