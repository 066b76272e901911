"""Dispatch through the public API, on PostGIS, Redis, a Celery worker with beat and the FCM
sandbox: chunks, FCM errors as FCM documents them, delivery stats and the metrics endpoint."""

import json
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert, select, text, update

from geo.regions import CellRange
from kit.celery import celery_app
from kit.db import get_sessionmaker, session_scope
from kit.models import Delivery, DeliveryStatus, Device, DispatchChunk, Notice
from notifier import repository
from notifier.channel import PushOutcome
from notifier.dispatch import decode_ranges
from tests.conftest import Sandbox, Service, drain, wait_for_runs, wait_until
from tests.helpers import (
    delivery_stats,
    notice_body,
    place_devices,
    register_device,
    report_location,
    wait_for_dispatch,
)

CENTRE = (52.5200, 13.4050)


def _notice(
    api: httpx.Client,
    agency: dict[str, str],
    operator: dict[str, str],
    *,
    radius_km: float = 3.0,
    approval: dict[str, Any] | None = None,
) -> str:
    body = notice_body(lat=CENTRE[0], lon=CENTRE[1], radius_km=radius_km)
    submitted = api.post("/v1/notices", json=body, headers=agency)
    assert submitted.status_code == 201, submitted.text
    notice_id = str(submitted.json()["id"])
    approved = api.post(
        f"/v1/operator/notices/{notice_id}/approve", json=approval, headers=operator
    )
    assert approved.status_code == 200, approved.text
    return notice_id


def _devices_via_api(api: httpx.Client, tokens: list[str]) -> None:
    for token in tokens:
        report_location(api, register_device(api, token), *CENTRE)


def _chunks(notice_id: str) -> list[DispatchChunk]:
    with get_sessionmaker()() as session:
        return list(
            session.scalars(
                select(DispatchChunk)
                .where(DispatchChunk.notice_id == uuid.UUID(notice_id))
                .order_by(DispatchChunk.id)
            )
        )


def _attempts(notice_id: str) -> dict[str, int]:
    with get_sessionmaker()() as session:
        rows = session.execute(
            select(Device.fcm_token, Delivery.attempts)
            .join(Device, Device.id == Delivery.device_id)
            .where(Delivery.notice_id == uuid.UUID(notice_id))
        )
        return {token: attempts for token, attempts in rows}


def _active(tokens: list[str]) -> dict[str, bool]:
    with get_sessionmaker()() as session:
        rows = session.execute(
            select(Device.fcm_token, Device.active).where(Device.fcm_token.in_(tokens))
        )
        return {token: active for token, active in rows}


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _metrics(api: httpx.Client) -> Samples:
    """Every sample GET /metrics serves, parsed as Prometheus parses it."""
    response = api.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _sample(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def _in(cell: int, ranges: list[CellRange]) -> bool:
    return any(r.lo <= cell <= r.hi for r in ranges)


def test_a_broadcast_is_cut_into_balanced_chunks_and_reaches_each_device_once(
    api: httpx.Client,
    worker: Service,
    sandbox: Sandbox,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    """9,000 devices, with the defaults: a first chunk of one batch (500), so that the first
    push leaves soon, then 4,000 expected recipients a chunk. Four chunks (500, 4,000, 4,000
    and the other 500), none much larger than asked, which together hold every device
    exactly once, and the round's sweep over the whole area, which finds nobody left."""
    tokens = place_devices(9_000, *CENTRE, within_m=2_000)
    notice_id = _notice(api, agency_headers, operator_headers)

    stats = wait_for_dispatch(api, operator_headers, notice_id, timeout=90)

    assert stats["targeted"] == stats["by_status"]["sent"] == 9_000
    assert (stats["by_status"]["pending"], stats["by_status"]["failed"]) == (0, 0)
    assert stats["retrying"] == 0
    assert 0 < stats["first_sent_after_s"] <= stats["last_sent_after_s"] < 90
    assert Counter(m["message"]["token"] for m in sandbox.messages()) == Counter(tokens)
    *chunks, sweep = _chunks(notice_id)
    assert [(c.round, c.status, c.sweep) for c in chunks] == [(1, "claimed", False)] * 4
    assert (sweep.round, sweep.status, sweep.sweep) == (1, "claimed", True)
    with get_sessionmaker()() as session:
        cells = [cell for cell in session.scalars(select(Device.h3_cell)) if cell is not None]
    per_chunk = [sum(_in(cell, decode_ranges(c.ranges)) for cell in cells) for c in chunks]
    assert sum(per_chunk) == 9_000
    assert all(_in(cell, decode_ranges(sweep.ranges)) for cell in cells)
    # Devices sharing a cell stay together, so a chunk can end a few devices late.
    assert per_chunk[0] <= 510 and max(per_chunk[1:]) <= 4_010, per_chunk


def test_a_round_is_written_once_and_a_later_round_reaches_only_new_devices(
    api: httpx.Client,
    worker: Service,
    sandbox: Sandbox,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    """What an expansion of the area will do: round 2 of the broadcast over a wider circle
    claims the devices round 1 did not reach, and nobody twice."""
    near = place_devices(40, *CENTRE, prefix="near", within_m=900)
    notice_id = _notice(api, agency_headers, operator_headers, radius_km=1)
    wait_for_dispatch(api, operator_headers, notice_id, timeout=30)
    far = place_devices(30, CENTRE[0] + 0.02, CENTRE[1], prefix="far", within_m=200, seed=1)

    celery_app.send_task("notifier.broadcast", args=[notice_id, 1])
    drain(worker)
    assert len(_chunks(notice_id)) == 2, "round 1 exists: asking again writes nothing"
    assert len(sandbox.messages()) == 40

    with session_scope() as session:
        session.execute(update(Notice).where(Notice.id == uuid.UUID(notice_id)).values(radius_km=4))
    celery_app.send_task("notifier.broadcast", args=[notice_id, 2])
    wait_until(
        lambda: delivery_stats(api, operator_headers, notice_id)["targeted"] == 70,
        timeout=30,
        what="round 2 to claim the devices further out",
    )
    stats = wait_for_dispatch(api, operator_headers, notice_id, timeout=30)

    assert stats["by_status"]["sent"] == 70
    assert [(c.round, c.sweep) for c in _chunks(notice_id)] == [
        (1, False),
        (1, True),
        (2, False),
        (2, True),
    ]
    assert Counter(m["message"]["token"] for m in sandbox.messages()) == Counter(near + far)


def test_unregistered_tokens_are_deactivated_and_not_targeted_by_the_next_notice(
    api: httpx.Client,
    worker: Service,
    sandbox: Sandbox,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    tokens = [f"tok-{i}" for i in range(6)]
    gone = tokens[:2]
    _devices_via_api(api, tokens)
    sandbox.set_faults(unregistered_tokens=gone)

    first = _notice(api, agency_headers, operator_headers)
    stats = wait_for_dispatch(api, operator_headers, first, timeout=30)

    assert stats["by_status"] == {"pending": 0, "sent": 4, "failed": 2, "suppressed": 0}
    assert stats["failed_by_reason"] == {"UNREGISTERED": 2}
    assert _active(tokens) == {t: t not in gone for t in tokens}
    assert _attempts(first) == dict.fromkeys(tokens, 1), "UNREGISTERED is not retried"
    metrics = _metrics(api)
    deliveries = "hexcast_active_notice_deliveries"
    assert _sample(metrics, deliveries, status="failed", error_code="UNREGISTERED") == 2
    assert _sample(metrics, deliveries, status="sent", error_code="") == 4
    assert _sample(metrics, "hexcast_notices", status="active") == 1
    assert _sample(metrics, "hexcast_pending_deliveries", state="due") == 0
    assert _sample(metrics, "hexcast_pending_chunks", state="overdue") == 0

    second = _notice(api, agency_headers, operator_headers)
    stats = wait_for_dispatch(api, operator_headers, second, timeout=30)

    assert stats["targeted"] == stats["by_status"]["sent"] == 4
    assert sandbox.stats()["rejected"] == {"UNREGISTERED": 2}, "no new attempt at a dead token"
    assert set(_attempts(second)) == set(tokens) - set(gone)


@pytest.mark.parametrize("code", ["INVALID_ARGUMENT", "THIRD_PARTY_AUTH_ERROR"])
def test_a_final_error_is_recorded_not_retried_and_keeps_the_token(
    api: httpx.Client,
    worker: Service,
    sandbox: Sandbox,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
    code: str,
) -> None:
    tokens = ["tok-a", "tok-b", "tok-c"]
    _devices_via_api(api, tokens)
    sandbox.set_faults(error_rate=1.0, error_code=code)

    notice_id = _notice(api, agency_headers, operator_headers)
    stats = wait_for_dispatch(api, operator_headers, notice_id, timeout=30)
    rejected = sandbox.stats()["rejected"][code]
    wait_for_runs(worker, "notifier.reconcile", runs=2)  # none may try again

    assert stats["failed_by_reason"] == {code: 3}
    assert stats["retrying"] == 0
    assert _attempts(notice_id) == dict.fromkeys(tokens, 1)
    assert sandbox.stats()["rejected"][code] == rejected
    assert _active(tokens) == dict.fromkeys(tokens, True)
    metrics = _metrics(api)
    assert (
        _sample(metrics, "hexcast_active_notice_deliveries", status="failed", error_code=code) == 3
    )


def test_retries_stop_when_the_notice_would_have_expired(
    api: httpx.Client,
    worker: Service,
    sandbox: Sandbox,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    """A 429 without Retry-After waits at least a minute; a notice that expires within
    seconds fails the delivery with that error rather than wait past its end."""
    _devices_via_api(api, ["tok-a", "tok-b"])
    sandbox.set_faults(error_rate=1.0, error_code="QUOTA_EXCEEDED")

    notice_id = _notice(
        api, agency_headers, operator_headers, approval={"lifetime_hours": 30 / 3600}
    )
    stats = wait_for_dispatch(api, operator_headers, notice_id, timeout=30)

    assert stats["failed_by_reason"] == {"QUOTA_EXCEEDED": 2}
    assert _attempts(notice_id) == {"tok-a": 1, "tok-b": 1}


def test_settling_looks_each_delivery_up_by_key_while_the_table_has_no_statistics(
    clean_db: None,
) -> None:
    """A young deliveries table has no statistics: the planner then hashed the whole table
    for every batch settled, and the first broadcast after a start crawled. The settle must
    look each delivery up by its primary key whatever the statistics say."""
    outcomes = json.dumps(
        [{"id": i, "status": "sent", "sent_at": "2026-01-01T00:00:00Z"} for i in range(500)]
    )
    with session_scope() as session:
        session.execute(repository._LOOKUPS_BY_KEY)
        plan = session.execute(
            text(f"EXPLAIN (FORMAT JSON) {repository._SETTLE.text}"),
            {"outcomes": outcomes, "lease_until": datetime.now(UTC), "now": datetime.now(UTC)},
        ).scalar_one()

    scans = _scans(plan[0]["Plan"])
    assert ("Index Scan", "deliveries", "pk_deliveries") in scans, scans
    assert not any(node == "Seq Scan" for node, _, _ in scans), scans


def test_a_worker_whose_deliveries_were_taken_over_records_only_what_it_sent(
    api: httpx.Client, agency_headers: dict[str, str]
) -> None:
    """Worker A's lease ran out mid-batch and the reconciler gave its deliveries to B. A's
    pushes that went out are recorded; its retry times and failures are not, since writing
    them would clear B's lease while B sends and let a third worker take the deliveries."""
    notice = api.post("/v1/notices", json=notice_body(), headers=agency_headers).json()
    tokens = place_devices(3, *CENTRE)
    now = datetime.now(UTC)
    first_lease, second_lease = now - timedelta(seconds=1), now + timedelta(seconds=60)
    with session_scope() as session:
        devices = session.execute(
            select(Device.fcm_token, Device.id).where(Device.fcm_token.in_(tokens))
        ).all()
        delivery_of = {
            device_id: delivery_id
            for delivery_id, device_id in session.execute(
                insert(Delivery)
                .values(
                    [
                        {
                            "notice_id": notice["id"],
                            "device_id": device_id,
                            "attempts": 1,
                            "lease_until": second_lease,
                        }
                        for _, device_id in devices
                    ]
                )
                .returning(Delivery.id, Delivery.device_id)
            )
        }
    claims = [
        repository.Claim(delivery_id=delivery_of[device_id], token=token, locale="en", attempts=2)
        for token, device_id in devices
    ]
    sent = PushOutcome(message_id="projects/p/messages/1")
    retry = PushOutcome(error_code="UNAVAILABLE", retryable=True)
    failed = PushOutcome(error_code="INVALID_ARGUMENT")

    with session_scope() as session:
        repository.record_outcomes(
            session,
            claims,
            [sent, retry, failed],
            [None, now, None],
            lease_until=first_lease,
            now=now,
        )

    with session_scope() as session:
        rows = session.execute(
            select(Delivery.id, Delivery.status, Delivery.lease_until, Delivery.attempts)
        ).all()
    by_id = {row[0]: row[1:] for row in rows}
    sent_id, retry_id, failed_id = (claim.delivery_id for claim in claims)
    assert by_id[sent_id][0] == DeliveryStatus.SENT
    assert by_id[retry_id] == (DeliveryStatus.PENDING, second_lease, 1), "still B's"
    assert by_id[failed_id] == (DeliveryStatus.PENDING, second_lease, 1), "still B's"


def _scans(node: dict[str, Any]) -> list[tuple[str, str | None, str | None]]:
    here = (
        [(node["Node Type"], node.get("Relation Name"), node.get("Index Name"))]
        if "Scan" in node["Node Type"]
        else []
    )
    return here + [scan for child in node.get("Plans", []) for scan in _scans(child)]
