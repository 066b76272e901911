"""Dispatch under faults, each bounded in time: a worker SIGKILLed mid-dispatch, Redis
restarted mid-dispatch or down at approval, FCM answering 429 with Retry-After. Every
targeted device still ends with exactly one delivery, and it is `sent`.

These tests run workers of their own, with short leases and small batches, while the
session's worker rests; the session's Celery beat keeps running the reconciler."""

import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from kit.db import get_sessionmaker
from kit.models import Delivery, DeliveryStatus, Device
from tests.conftest import Sandbox, Service, celery_worker, supervised, wait_until
from tests.helpers import delivery_stats, notice_body, place_devices, wait_for_dispatch

CENTRE = (45.4642, 9.1900)
# Small batches and chunks make many units of work to interrupt; a short lease makes the
# reconciler hand a dead worker's work to a live one within seconds.
FAULT_SETTINGS = {
    "HEXCAST_LEASE_SECONDS": "3",
    "HEXCAST_SEND_BATCH_SIZE": "50",
    "HEXCAST_CHUNK_RECIPIENTS": "200",
}
CONCURRENCY = 2

StartWorker = Callable[..., Service]


@pytest.fixture
def own_workers(worker: Service, beat: Service, broker: Service) -> Iterator[StartWorker]:
    """Starts workers of the test's own (settings as HEXCAST_* keywords) while the session's
    worker is stopped; afterwards kills them and brings the session's worker back.

    They and beat run supervised, as a deployment runs them: Celery's Redis transport can
    exit when the connection drops at an unlucky moment (kombu's restore of unacknowledged
    messages on close fails with AttributeError), and the supervisor starts it again."""
    from kit.celery import celery_app

    worker.stop()
    started: list[Service] = [beat]

    def start(name: str, **settings: str) -> Service:
        service = celery_worker(name, concurrency=CONCURRENCY, **settings)
        service.start()
        started.append(service)
        return service

    with supervised(started):
        yield start
    for service in started[1:]:
        service.kill()
    if not broker.running:
        broker.start()
    beat.revive_if_exited()
    celery_app.control.purge()
    worker.start()


def _approve(api: httpx.Client, agency: dict[str, str], operator: dict[str, str]) -> str:
    body = notice_body(lat=CENTRE[0], lon=CENTRE[1], radius_km=3)
    submitted = api.post("/v1/notices", json=body, headers=agency)
    assert submitted.status_code == 201, submitted.text
    notice_id = str(submitted.json()["id"])
    approved = api.post(f"/v1/operator/notices/{notice_id}/approve", headers=operator)
    assert approved.status_code == 200, approved.text
    return notice_id


def _sent(api: httpx.Client, operator: dict[str, str], notice_id: str) -> int:
    return int(delivery_stats(api, operator, notice_id)["by_status"]["sent"])


def _deliveries_per_device(notice_id: str) -> dict[str, list[DeliveryStatus]]:
    with get_sessionmaker()() as session:
        rows = session.execute(
            select(Device.fcm_token, func.array_agg(Delivery.status))
            .join(Device, Device.id == Delivery.device_id)
            .where(Delivery.notice_id == uuid.UUID(notice_id))
            .group_by(Device.fcm_token)
        )
        return {token: list(statuses) for token, statuses in rows}


def _assert_each_device_sent_once(notice_id: str, stats: dict[str, Any], tokens: list[str]):  # type: ignore[no-untyped-def]
    assert stats["targeted"] == stats["by_status"]["sent"] == len(tokens)
    assert _deliveries_per_device(notice_id) == {t: [DeliveryStatus.SENT] for t in tokens}


def test_a_worker_killed_mid_dispatch_loses_no_device(
    api: httpx.Client,
    own_workers: StartWorker,
    sandbox: Sandbox,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    """FCM sees every device at least once, not exactly once: a batch that was in flight
    when the worker died reached FCM, but its outcomes were never recorded, so after the
    lease the reconciler sends those deliveries again. The database, which decides what
    counts as delivered, holds exactly one `sent` delivery per device."""
    tokens = place_devices(1_000, *CENTRE, within_m=2_500)
    sandbox.set_faults(latency_ms=200)
    doomed = own_workers("doomed-worker", **FAULT_SETTINGS)
    notice_id = _approve(api, agency_headers, operator_headers)
    wait_until(
        lambda: _sent(api, operator_headers, notice_id) >= 100,
        timeout=60,
        what="the dispatch to be under way",
    )

    doomed.kill()
    assert _sent(api, operator_headers, notice_id) < len(tokens), "killed mid-dispatch"
    own_workers("rescue-worker", **FAULT_SETTINGS)
    stats = wait_for_dispatch(api, operator_headers, notice_id, timeout=120)

    _assert_each_device_sent_once(notice_id, stats, tokens)
    received = Counter(m["message"]["token"] for m in sandbox.messages())
    assert set(received) == set(tokens), "FCM received every device at least once"
    resent = sum(count - 1 for count in received.values())
    batch = int(FAULT_SETTINGS["HEXCAST_SEND_BATCH_SIZE"])
    assert resent <= CONCURRENCY * batch, "only the batches in flight at the kill went twice"


def test_a_redis_restart_mid_dispatch_loses_no_device(
    api: httpx.Client,
    own_workers: StartWorker,
    broker: Service,
    sandbox: Sandbox,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    """The restarted Redis has no persistence: every queued task is gone, and the chunks and
    deliveries they stood for are found again in the database by the reconciler."""
    tokens = place_devices(1_000, *CENTRE, within_m=2_500)
    sandbox.set_faults(latency_ms=200)
    own_workers("worker", **FAULT_SETTINGS)
    notice_id = _approve(api, agency_headers, operator_headers)
    wait_until(
        lambda: _sent(api, operator_headers, notice_id) >= 100,
        timeout=60,
        what="the dispatch to be under way",
    )

    broker.stop()
    assert _sent(api, operator_headers, notice_id) < len(tokens), "restarted mid-dispatch"
    broker.start()
    stats = wait_for_dispatch(api, operator_headers, notice_id, timeout=120)

    _assert_each_device_sent_once(notice_id, stats, tokens)
    assert {m["message"]["token"] for m in sandbox.messages()} == set(tokens)


def test_a_broadcast_lost_while_redis_was_down_at_approval_is_sent(
    api: httpx.Client,
    own_workers: StartWorker,
    broker: Service,
    sandbox: Sandbox,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    """The approval commits and answers 200 although its broadcast task could not be queued;
    the reconciler finds an active notice without chunks and broadcasts it."""
    tokens = place_devices(30, *CENTRE, within_m=1_000)
    own_workers("worker", **FAULT_SETTINGS)

    broker.stop()
    notice_id = _approve(api, agency_headers, operator_headers)
    broker.start()
    stats = wait_for_dispatch(api, operator_headers, notice_id, timeout=60)

    _assert_each_device_sent_once(notice_id, stats, tokens)
    assert Counter(m["message"]["token"] for m in sandbox.messages()) == Counter(tokens)


def _outbox_tasks(api: httpx.Client) -> float:
    """hexcast_outbox_tasks from /metrics: task sends waiting for Redis."""
    [line] = [
        line
        for line in api.get("/metrics").text.splitlines()
        if line.startswith("hexcast_outbox_tasks ")
    ]
    return float(line.split()[1])


def test_what_was_done_while_redis_was_down_goes_out_when_it_returns(
    api: httpx.Client,
    own_workers: StartWorker,
    broker: Service,
    sandbox: Sandbox,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    """With Redis stopped, submission, approval and a found report answer as usual; the
    tasks they could not queue wait in the outbox and go out once Redis is back: the
    broadcast reaches every device, and so does the found message, which no sweep would
    send again."""
    tokens = place_devices(30, *CENTRE, within_m=1_000)
    own_workers("worker", **FAULT_SETTINGS)

    broker.stop()
    notice_id = _approve(api, agency_headers, operator_headers)
    assert _outbox_tasks(api) >= 1
    broker.start()
    stats = wait_for_dispatch(api, operator_headers, notice_id, timeout=60)
    _assert_each_device_sent_once(notice_id, stats, tokens)

    broker.stop()
    found = api.post(
        f"/v1/notices/{notice_id}/found", json={"reason": "Home"}, headers=agency_headers
    )
    assert found.status_code == 200, found.text
    assert _outbox_tasks(api) >= 1
    broker.start()

    def found_messages() -> Counter[str]:
        return Counter(
            m["message"]["token"]
            for m in sandbox.messages()
            if m["message"]["data"]["type"] == "missing_person_found"
        )

    wait_until(lambda: found_messages() == Counter(tokens), timeout=60, what="every found message")
    wait_until(lambda: _outbox_tasks(api) == 0, timeout=10, what="an empty outbox")


def test_a_429_with_retry_after_is_retried_no_sooner_and_everything_is_delivered(
    api: httpx.Client,
    own_workers: StartWorker,
    sandbox: Sandbox,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    """Every first attempt is answered 429 with Retry-After: 2. The sandbox records the
    messages it accepts, with the time it received them; each arrives at least 2 s after
    its first attempt's answer came back (recorded on the delivery)."""
    tokens = place_devices(20, *CENTRE, within_m=1_000)
    sandbox.set_faults(error_rate=1.0, error_code="QUOTA_EXCEEDED", retry_after_s=2)
    own_workers("worker", HEXCAST_LEASE_SECONDS="30")
    notice_id = _approve(api, agency_headers, operator_headers)

    first_answers: dict[str, datetime] = {}

    def all_refused_once() -> bool:
        with get_sessionmaker()() as session:
            rows = session.execute(
                select(Device.fcm_token, Delivery.last_attempt_at, Delivery.error_code)
                .join(Device, Device.id == Delivery.device_id)
                .where(Delivery.notice_id == uuid.UUID(notice_id))
            ).all()
        answered = {token: at for token, at, code in rows if code == "QUOTA_EXCEEDED" and at}
        first_answers.update(answered)
        return len(answered) == len(tokens)

    wait_until(all_refused_once, timeout=60, what="every first attempt to be refused")
    assert delivery_stats(api, operator_headers, notice_id)["retrying"] == len(tokens)
    sandbox.set_faults()
    stats = wait_for_dispatch(api, operator_headers, notice_id, timeout=60)

    _assert_each_device_sent_once(notice_id, stats, tokens)
    assert sandbox.stats()["rejected"]["QUOTA_EXCEEDED"] >= len(tokens)
    accepted = {m["message"]["token"]: m["received_at"] for m in sandbox.messages()}
    assert set(accepted) == set(tokens)
    waits = {t: datetime.fromisoformat(accepted[t]) - first_answers[t] for t in tokens}
    assert min(w.total_seconds() for w in waits.values()) >= 2.0, waits


def test_a_retry_after_beyond_the_notice_fails_the_deliveries_instead_of_stalling(
    api: httpx.Client,
    worker: object,
    sandbox: Sandbox,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    """Retry-After: 10**12 seconds, past any date: no retry can come before the notice
    expires, so each delivery fails at once with FCM's error, and the dispatch completes."""
    tokens = place_devices(5, *CENTRE, within_m=1_000)
    sandbox.set_faults(error_rate=1.0, error_code="UNAVAILABLE", retry_after_s=10**12)
    notice_id = _approve(api, agency_headers, operator_headers)

    stats = wait_for_dispatch(api, operator_headers, notice_id, timeout=30)

    assert stats["by_status"]["failed"] == len(tokens), stats
    assert stats["failed_by_reason"] == {"UNAVAILABLE": len(tokens)}


def test_a_429_defers_the_rest_of_the_chunk_without_counting_attempts_not_made(
    api: httpx.Client,
    own_workers: StartWorker,
    sandbox: Sandbox,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    """40 devices in batches of 10: a first chunk of one batch, then one of 30. FCM refuses
    the first batch of each with 429 and Retry-After: 3. The second chunk's other 20 (its
    next batch was already taken while the first was on the wire) wait for the reconciler:
    none is sent before then, and each is sent once, on its first counted attempt."""
    tokens = place_devices(40, *CENTRE, within_m=1_000)
    sandbox.set_faults(error_rate=1.0, error_code="QUOTA_EXCEEDED", retry_after_s=3)
    own_workers(
        "worker",
        HEXCAST_LEASE_SECONDS="30",
        HEXCAST_SEND_BATCH_SIZE="10",
        HEXCAST_CHUNK_RECIPIENTS="1000",
    )
    notice_id = _approve(api, agency_headers, operator_headers)

    def attempts() -> Counter[int]:
        with get_sessionmaker()() as session:
            return Counter(
                session.scalars(
                    select(Delivery.attempts).where(Delivery.notice_id == uuid.UUID(notice_id))
                )
            )

    wait_until(
        lambda: sandbox.stats()["rejected"].get("QUOTA_EXCEEDED") == 20,
        timeout=30,
        what="the first batch of each chunk to be refused",
    )
    sandbox.set_faults()
    stats = wait_for_dispatch(api, operator_headers, notice_id, timeout=60)

    _assert_each_device_sent_once(notice_id, stats, tokens)
    assert sandbox.stats()["rejected"] == {"QUOTA_EXCEEDED": 20}, "the rest waited"
    assert attempts() == Counter({2: 20, 1: 20})
