"""Celery tasks of a broadcast: they take ids, open their own sessions, are safe to run twice."""

import logging
import uuid
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from celery.signals import worker_process_init
from sqlalchemy import select

from geo.regions import Circle, cover_circle
from kit.celery import celery_app
from kit.config import get_settings
from kit.db import session_scope
from kit.models import Notice, NoticeStatus
from notifier import repository
from notifier.channel import PushChannel
from notifier.dispatch import decode_ranges, encode_ranges, split_ranges
from notifier.fcm_http import fcm_channel
from notifier.firebase import fcm_send_url, make_firebase_app
from notifier.payload import NoticeText, build_push
from notifier.ratelimit import SharedRateLimit

log = logging.getLogger(__name__)


@lru_cache
def get_channel() -> PushChannel:
    """One channel per worker process, created on first use (after the fork): its event loop
    thread and connections belong to the process. Every process shares one send-rate cap per
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
    """Each worker process opens what an alert needs as it starts: its FCM channel (event
    loop, access token) and a database connection with SQLAlchemy's mappers configured. The
    first alert after a start then does not wait for them (0.5-1 s on a busy 2-core machine).
    If this fails (credentials missing, say), the first task tries again and fails visibly."""
    try:
        get_channel()
        with session_scope() as session:
            session.execute(select(Notice.id).limit(1))
    except Exception:
        log.exception("notifier.worker.warm_up_failed")


def _circle(notice: Notice) -> Circle:
    return Circle(notice.last_seen_lat, notice.last_seen_lon, notice.radius_km * 1000.0)


def _text(notice: Notice) -> NoticeText:
    assert notice.expires_at is not None
    return NoticeText(
        notice_id=str(notice.id),
        person_name=notice.person_name,
        person_age=notice.person_age,
        description=notice.person_description,
        last_seen_place=notice.last_seen_place,
        last_seen_at=notice.last_seen_at,
        photo_url=notice.photo_url,
        expires_at=notice.expires_at,
    )


@celery_app.task(name="notifier.broadcast")
def broadcast(notice_id: str) -> int:
    """Cut the notice's target area into chunks and queue one task per chunk."""
    with session_scope() as session:
        notice = session.get(Notice, uuid.UUID(notice_id))
        if notice is None or notice.status != NoticeStatus.ACTIVE:
            log.info("notifier.broadcast.skipped notice=%s", notice_id)
            return 0
        circle = _circle(notice)
    chunks = split_ranges(cover_circle(circle))
    for chunk in chunks:
        send_chunk.delay(notice_id, encode_ranges(chunk))
    log.info("notifier.broadcast.queued notice=%s chunks=%d", notice_id, len(chunks))
    return len(chunks)


@celery_app.task(name="notifier.send_chunk")
def send_chunk(notice_id: str, ranges: list[list[int]]) -> int:
    """Claim this chunk's recipients, then send in batches, recording each outcome."""
    settings = get_settings()
    now = datetime.now(UTC)
    with session_scope() as session:
        notice = session.get(Notice, uuid.UUID(notice_id))
        if notice is None or notice.status != NoticeStatus.ACTIVE:
            return 0
        text = _text(notice)
        claims = repository.claim_recipients(
            session,
            notice_id=notice.id,
            circle=_circle(notice),
            ranges=decode_ranges(ranges),
            fresh_since=now - timedelta(hours=notice.location_window_hours),
        )
    sent = 0
    channel = get_channel()
    for start in range(0, len(claims), settings.send_batch_size):
        batch = claims[start : start + settings.send_batch_size]
        with session_scope() as session:
            current = session.get(Notice, uuid.UUID(notice_id), populate_existing=True)
            if current is None or current.status != NoticeStatus.ACTIVE:
                repository.abandon_claims(session, claims[start:], reason="NOTICE_ENDED")
                log.info(
                    "notifier.chunk.stopped notice=%s unsent=%d", notice_id, len(claims) - start
                )
                return sent
        pushes = [build_push(text, token=c.token, locale=c.locale, now=now) for c in batch]
        outcomes = channel.send(pushes)
        with session_scope() as session:
            repository.record_outcomes(session, batch, outcomes)
        sent += sum(o.ok for o in outcomes)
    log.info("notifier.chunk.done notice=%s claimed=%d sent=%d", notice_id, len(claims), sent)
    return sent
