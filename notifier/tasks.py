"""Celery tasks of a broadcast: they take ids, open their own sessions, are safe to run twice.

`notifier.broadcast` writes a round's chunks, `notifier.send_chunk` claims a chunk's
recipients and sends to them, `notifier.send_deliveries` sends one batch the reconciler
leased again, and `notifier.reconcile` (Celery beat) finds the work a lost task or a dead
worker left behind. No task carries tokens, and none waits on another.
"""

import dataclasses
import gc
import logging
import random
import uuid
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from celery.signals import worker_process_init
from sqlalchemy import select

from geo.regions import CellRange, Region, cover_region, target_region
from kit.celery import celery_app
from kit.config import get_settings
from kit.db import after_commit, session_scope
from kit.models import ChunkStatus, DeviceClaim, Notice, NoticeStatus
from notifier import repository
from notifier.channel import Push, PushChannel, PushOutcome
from notifier.dispatch import cut_ranges, decode_ranges, encode_ranges
from notifier.fcm_http import fcm_channel
from notifier.firebase import fcm_send_url, make_firebase_app
from notifier.payload import NoticeText, PushKind, build_pushes, load_data
from notifier.preview import notice_text
from notifier.ratelimit import SharedRateLimit
from notifier.retry import QUOTA_EXCEEDED, Backoff, retry_at

log = logging.getLogger(__name__)


def _target(notice: Notice) -> Region:
    return target_region(
        notice.target_areas,
        lat=notice.last_seen_lat,
        lon=notice.last_seen_lon,
        radius_km=notice.radius_km,
    )


@lru_cache
def get_channel() -> PushChannel:
    """One channel per worker process, created on first use (after the fork): its libcurl
    handles and connections belong to the process. Every process shares one send-rate cap per
    Firebase project, kept in the broker's Redis."""
    settings = get_settings()
    return fcm_channel(
        make_firebase_app(
            project_id=settings.fcm_project_id,
            credentials_file=settings.fcm_credentials_file,
            endpoint=settings.fcm_endpoint,
        ),
        send_url=fcm_send_url(settings.fcm_endpoint, settings.fcm_project_id),
        max_concurrency=settings.fcm_max_concurrency,
        timeout_s=settings.fcm_timeout_s,
        rate_limit=SharedRateLimit(
            settings.broker_url,
            key=f"hexcast:send-rate:{settings.fcm_project_id}",
            rate_per_s=settings.send_rate_per_second,
        ),
    )


@worker_process_init.connect
def _ready_for_the_first_alert(**_: object) -> None:
    """Each worker process opens what an alert needs as it starts: its FCM channel (curl
    handles, access token), the time zone and locale data pop-ups are written with, and a
    database connection with SQLAlchemy's mappers configured. The
    first alert after a start then does not wait for them (0.5-1 s on a busy 2-core machine).
    If this fails (credentials missing, say), the first task tries again and fails visibly.

    Then everything allocated so far (modules, mappers, the channel) is moved out of the
    garbage collector's sight: it lives as long as the process, and full collections
    traversing it were a third of a sending worker's CPU."""
    try:
        get_channel()
        load_data()
        with session_scope() as session:
            session.execute(select(Notice.id).limit(1))
    except Exception:
        log.exception("notifier.worker.warm_up_failed")
    gc.freeze()


def _now() -> datetime:
    return datetime.now(UTC)


def _lease() -> timedelta:
    return timedelta(seconds=get_settings().lease_seconds)


def _cover(notice: Notice) -> list[CellRange]:
    """The notice's target area as cell ranges: the one place dispatch asks geo for it."""
    return cover_region(_target(notice))


def _fresh_since(notice: Notice, now: datetime) -> datetime:
    return now - timedelta(hours=notice.location_window_hours)


def _text(notice: Notice) -> NoticeText:
    assert notice.expires_at is not None
    return notice_text(notice)


def _queue_chunks(chunk_ids: Sequence[int]) -> None:
    for chunk_id in chunk_ids:
        send_chunk.delay(chunk_id)


@celery_app.task(name="notifier.broadcast")
def broadcast(notice_id: str, round_number: int = 1) -> int:
    """Write round `round_number` of the notice's dispatch as chunk rows, then queue one task
    per chunk. A round is written once: approval and the reconciler may both ask for it."""
    settings = get_settings()
    now = _now()
    with session_scope() as session:
        notice = repository.lock_notice(session, uuid.UUID(notice_id))
        if notice is None or notice.status != NoticeStatus.ACTIVE:
            log.info("notifier.broadcast.skipped notice=%s", notice_id)
            return 0
        if repository.round_exists(session, notice.id, round_number):
            return 0
        ranges = _cover(notice)
        cuts = repository.recipient_cuts(
            session,
            _target(notice),
            ranges,
            fresh_since=_fresh_since(notice, now),
            # The first chunk is one batch: its claim is quick, so the first push leaves soon.
            first=settings.send_batch_size,
            every=settings.chunk_recipients,
        )
        chunk_ids = repository.create_round(
            session,
            notice_id=notice.id,
            round_number=round_number,
            chunks=[encode_ranges(chunk) for chunk in cut_ranges(ranges, cuts)],
            cover=encode_ranges(ranges),
            lease_until=now + _lease(),
        )
        after_commit(session, lambda: _queue_chunks(chunk_ids))
    log.info(
        "notifier.broadcast.queued notice=%s round=%d chunks=%d",
        notice_id,
        round_number,
        len(chunk_ids),
    )
    return len(chunk_ids)


@celery_app.task(name="notifier.send_chunk")
def send_chunk(chunk_id: int) -> int:
    """Claim the chunk's recipients (a leased pending delivery each), mark the chunk claimed
    in the same transaction, then send to them. A round's sweep does nothing while another
    chunk of its round is pending: each chunk's claim queues the sweep once it has
    committed, so the last one's finds them all committed and the sweep claims every device
    inside that they missed (a lost task is queued again by the reconciler, as any chunk)."""
    now = _now()
    lease_until = now + _lease()
    with session_scope() as session:
        chunk = repository.lock_pending_chunk(session, chunk_id)
        if chunk is None:
            return 0
        notice = session.get(Notice, chunk.notice_id)
        assert notice is not None
        if notice.status != NoticeStatus.ACTIVE:
            chunk.finished_at = now
            chunk.status = ChunkStatus.DROPPED
            return 0
        if chunk.sweep and repository.round_still_claiming(session, chunk):
            return 0
        if not chunk.sweep:
            sweep_id = repository.sweep_of_round(session, chunk)
            if sweep_id is not None:
                after_commit(session, lambda: send_chunk.delay(sweep_id))
        chunk.finished_at = now
        claims = repository.claim_recipients(
            session,
            notice_id=notice.id,
            region=_target(notice),
            ranges=decode_ranges(chunk.ranges),
            fresh_since=_fresh_since(notice, now),
            lease_until=lease_until,
            daily_cap=get_settings().daily_alert_cap,
            test_devices_only=notice.cap_status.test_devices_only,
        )
        chunk.status = ChunkStatus.CLAIMED
        notice_id = notice.id
        claimed = _Claimed(claims={c.delivery_id: c for c in claims}, text=_text(notice))
    sent = _send(notice_id, [c.delivery_id for c in claims], lease_until, claimed=claimed)
    log.info("notifier.chunk.done chunk=%d claimed=%d sent=%d", chunk_id, len(claims), sent)
    return sent


@celery_app.task(name="notifier.send_deliveries")
def send_deliveries(notice_id: str, delivery_ids: list[int], lease_until: str) -> int:
    """Send deliveries the reconciler leased until `lease_until` (ISO 8601)."""
    return _send(uuid.UUID(notice_id), delivery_ids, datetime.fromisoformat(lease_until))


@dataclass(frozen=True, slots=True)
class _Taken:
    """A batch taken for one send attempt: its claims, now held under `lease_until`, and what
    its pop-up says."""

    claims: list[repository.Claim]
    lease_until: datetime
    text: NoticeText


@dataclass(frozen=True, slots=True)
class _Claimed:
    """What a chunk task learnt as it claimed its deliveries: their tokens and locales, and
    the notice's text."""

    claims: dict[int, repository.Claim]
    text: NoticeText


def _take(
    notice_id: uuid.UUID,
    batch: Sequence[int],
    held_until: datetime,
    claimed: _Claimed | None = None,
) -> _Taken | None:
    """Take `batch` under a fresh lease, or None (taking nothing) if the notice has ended.

    Deliveries a chunk task claimed go out under the claim's own lease, without a write,
    while more than half of it is left: nobody else may take them before it runs out, and
    a chunk's batches usually all leave within seconds. That was a third of the database's
    work a push. The caller checks that the notice is still active."""
    now = _now()
    if claimed is not None and held_until - now > _lease() / 2:
        claims = [claimed.claims[i] for i in batch if i in claimed.claims]
        return _Taken(claims=claims, lease_until=held_until, text=claimed.text)
    renewed_until = now + _lease()
    with session_scope() as session:
        notice = session.get(Notice, notice_id)
        if notice is None or notice.status != NoticeStatus.ACTIVE:
            return None
        claims = repository.take_deliveries(
            session, batch, lease_until=held_until, renewed_until=renewed_until
        )
        return _Taken(claims=claims, lease_until=renewed_until, text=_text(notice))


def _still_active(notice_id: uuid.UUID) -> bool:
    with session_scope() as session:
        status = session.scalar(select(Notice.status).where(Notice.id == notice_id))
    return status == NoticeStatus.ACTIVE


def _settle(
    taken: _Taken,
    outcomes: Sequence[PushOutcome],
    retry_times: Sequence[datetime | None],
    done: datetime,
) -> None:
    with session_scope() as session:
        repository.record_outcomes(
            session, taken.claims, outcomes, retry_times, lease_until=taken.lease_until, now=done
        )


def _abandon(batches: Sequence[tuple[Sequence[int], datetime]]) -> int:
    """Close held deliveries of a notice that ended: (ids, the lease they are held under)."""
    with session_scope() as session:
        return sum(repository.abandon(session, ids, lease_until=held) for ids, held in batches)


def _send(
    notice_id: uuid.UUID,
    delivery_ids: Sequence[int],
    lease_until: datetime,
    *,
    claimed: _Claimed | None = None,
) -> int:
    """Send held deliveries in batches, each taken just before it goes out (under a fresh
    lease, or a chunk's own claim while it is young: see `_take`), and settle every outcome.

    The database work runs on its own thread, next to the sends: while one batch is on the
    wire, the batch before it is settled and the one after it taken, so a worker's
    connections are not left idle for it (it was a quarter of a worker's time). The notice is
    checked once more right before each batch goes out, and the sends stop there once it has
    ended. When FCM answers that the project's quota is exhausted, the rest is left for later.
    """
    settings = get_settings()
    backoff = Backoff(base_s=settings.retry_base_seconds, cap_s=settings.retry_cap_seconds)
    channel = get_channel()
    size = settings.send_batch_size
    batches = [delivery_ids[start : start + size] for start in range(0, len(delivery_ids), size)]
    sent = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="notifier-db") as database:
        settling: Future[None] | None = None
        taking = (
            database.submit(_take, notice_id, batches[0], lease_until, claimed) if batches else None
        )
        for number, batch in enumerate(batches):
            assert taking is not None
            taken = taking.result()
            later = batches[number + 1 :]
            if taken is None:
                unsent = [(ids, lease_until) for ids in batches[number:]]
            elif number > 0 and not _still_active(notice_id):
                unsent = [(batch, taken.lease_until), *((ids, lease_until) for ids in later)]
            else:
                unsent = []
            if unsent:
                closed = _abandon(unsent)
                log.info("notifier.send.stopped notice=%s unsent=%d", notice_id, closed)
                break
            assert taken is not None
            if later:
                taking = database.submit(_take, notice_id, later[0], lease_until, claimed)
            claims, text = taken.claims, taken.text
            now = _now()
            pushes = build_pushes(text, [(c.token, c.locale) for c in claims], now=now)
            outcomes = channel.send(pushes)
            done = _now()
            retry_times = [
                retry_at(
                    outcome,
                    attempts=claim.attempts,
                    now=done,
                    expires_at=text.expires_at,
                    backoff=backoff,
                    draw=random.random,
                )
                for claim, outcome in zip(claims, outcomes, strict=True)
            ]
            if settling is not None:
                settling.result()
            settling = database.submit(_settle, taken, outcomes, retry_times, done)
            sent += sum(outcome.ok for outcome in outcomes)
            quota_waits = [
                at
                for outcome, at in zip(outcomes, retry_times, strict=True)
                if outcome.error_code == QUOTA_EXCEEDED and at is not None
            ]
            if quota_waits and later:
                _defer_rest(notice_id, taking.result(), later, lease_until, max(quota_waits))
                break
        if settling is not None:
            settling.result()
    return sent


def _defer_rest(
    notice_id: uuid.UUID,
    next_batch: _Taken | None,
    later: Sequence[Sequence[int]],
    lease_until: datetime,
    until: datetime,
) -> None:
    """Leave the batches after one FCM throttled for the reconciler, not before `until`,
    the next one (already taken) under the lease it was taken with."""
    with session_scope() as session:
        deferred = 0
        if next_batch is not None:
            deferred += repository.defer(
                session,
                [c.delivery_id for c in next_batch.claims],
                lease_until=next_batch.lease_until,
                until=until,
            )
        deferred += sum(
            repository.defer(session, ids, lease_until=lease_until, until=until)
            for ids in later[1 if next_batch is not None else 0 :]
        )
    log.info("notifier.send.deferred notice=%s deliveries=%d", notice_id, deferred)


@celery_app.task(name="notifier.reconcile")
def reconcile() -> None:
    """Find work whose task or worker was lost, and queue it again: broadcasts that never
    wrote their chunks, chunks nobody claimed in time, deliveries whose lease ran out or
    whose retry is due. Closes what is left of notices that ended."""
    settings = get_settings()
    now = _now()
    lease_until = now + _lease()
    with session_scope() as session:
        dropped, closed = repository.close_ended(session, now=now)
        lost = repository.rounds_without_chunks(
            session,
            approved_before=now - _lease(),
            failures_allowed=settings.task_failures_allowed,
        )
        chunk_ids = repository.requeue_stale_chunks(session, now=now, lease_until=lease_until)
        due = repository.lease_due_deliveries(
            session, now=now, lease_until=lease_until, limit=settings.reconcile_limit
        )
        by_notice: dict[uuid.UUID, list[int]] = {}
        for notice_id, delivery_id in due:
            by_notice.setdefault(notice_id, []).append(delivery_id)

        def queue() -> None:
            for notice_id, round_number in lost:
                broadcast.delay(str(notice_id), round_number)
            _queue_chunks(chunk_ids)
            for notice_id, ids in by_notice.items():
                for start in range(0, len(ids), settings.send_batch_size):
                    batch = ids[start : start + settings.send_batch_size]
                    send_deliveries.delay(str(notice_id), batch, lease_until.isoformat())

        after_commit(session, queue)
    if dropped or closed or lost or chunk_ids or due:
        log.info(
            "notifier.reconcile dropped_chunks=%d closed=%d broadcasts=%d chunks=%d due=%d",
            dropped,
            closed,
            len(lost),
            len(chunk_ids),
            len(due),
        )


# A found message outlives the alert it replaces: a phone offline until after the notice's
# expiry still learns the person was found.
FOUND_MESSAGE_TTL = timedelta(days=3)


@celery_app.task(name="notifier.follow_up")
def follow_up(notice_id: str, kind: str, reached_up_to: int | None = None) -> int:
    """Push an update, or the found message, to every device the notice's alert reached
    (an update: through delivery `reached_up_to`, those alerted before it; the devices its
    own new round alerts get the new text in their alert, not a second push), under the
    alert's collapse key so it takes the alert's place on the phone.

    Follow-ups are sent once, best effort: they are not retried per device, and a worker that
    dies mid-way leaves the rest unsent (a re-run sends the whole list again; the collapse key
    makes a repeat replace the earlier pop-up)."""
    push_kind = PushKind(kind)
    settings = get_settings()
    channel = get_channel()
    with session_scope() as session:
        notice = session.get(Notice, uuid.UUID(notice_id))
        if notice is None or notice.expires_at is None:
            return 0
        text = _text(notice)
    if push_kind == PushKind.FOUND:
        text = dataclasses.replace(
            text, expires_at=max(text.expires_at, _now() + FOUND_MESSAGE_TTL)
        )
    sent, after = 0, 0
    while True:
        with session_scope() as session:
            batch = repository.reached_devices(
                session,
                uuid.UUID(notice_id),
                after=after,
                limit=settings.send_batch_size,
                up_to=reached_up_to,
            )
        if not batch:
            break
        now = _now()
        outcomes = channel.send(
            build_pushes(text, [(c.token, c.locale) for c in batch], now=now, kind=push_kind)
        )
        with session_scope() as session:
            repository.deactivate_tokens(
                session, [c.token for c, o in zip(batch, outcomes, strict=True) if o.token_invalid]
            )
        sent += sum(o.ok for o in outcomes)
        after = batch[-1].delivery_id
    log.info("notifier.follow_up.done notice=%s kind=%s sent=%d", notice_id, kind, sent)
    return sent


DEVICE_CLAIM_TITLE = "Confirm this app"
DEVICE_CLAIM_BODY = "This app was registered again for missing-person alerts."


@celery_app.task(name="notifier.send_device_claim")
def send_device_claim(claim_id: str, code: str) -> bool:
    """Send a device claim's code to its token, as data the app answers with (see
    alerts.devices.service.register_device); a claim that expired or is gone is not sent.
    Sent once: a lost one is asked for again by registering again."""
    with session_scope() as session:
        claim = session.get(DeviceClaim, uuid.UUID(claim_id))
        if claim is None or claim.expires_at <= _now():
            return False
        token, expires_at = claim.fcm_token, claim.expires_at
    push = Push(
        token=token,
        title=DEVICE_CLAIM_TITLE,
        body=DEVICE_CLAIM_BODY,
        data={"type": "device_claim", "code": code, "expires_at": expires_at.isoformat()},
        collapse_key=f"device-claim-{claim_id}",
        ttl_seconds=max(1, int((expires_at - _now()).total_seconds())),
    )
    [outcome] = get_channel().send([push])
    log.info("notifier.device_claim.sent claim=%s ok=%s", claim_id, outcome.ok)
    return outcome.ok
