"""Dispatch state as others may read it: a notice's deliveries and chunks, and the backlog
/metrics shows. The one notifier module alerts reads, so what a lease or a pending delivery
means is defined only here and in notifier.repository."""

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from kit.models import (
    ChunkStatus,
    Delivery,
    DeliveryStatus,
    DispatchChunk,
    Notice,
    NoticeStatus,
)
from notifier.repository import unleased


@dataclass(frozen=True, slots=True)
class DeliveryGroup:
    """A notice's deliveries of one status and error code."""

    status: DeliveryStatus
    error_code: str | None
    count: int
    first_sent_at: datetime | None
    last_sent_at: datetime | None


def delivery_groups(session: Session, notice_id: uuid.UUID) -> list[DeliveryGroup]:
    rows = session.execute(
        select(
            Delivery.status,
            Delivery.error_code,
            func.count(),
            func.min(Delivery.sent_at),
            func.max(Delivery.sent_at),
        )
        .where(Delivery.notice_id == notice_id)
        .group_by(Delivery.status, Delivery.error_code)
    )
    return [DeliveryGroup(*row) for row in rows]


def last_delivery_id(session: Session, notice_id: uuid.UUID) -> int:
    """The notice's newest delivery so far (0 if none): an update's follow-up goes to the
    deliveries up to it, those made before the update."""
    newest = session.scalar(select(func.max(Delivery.id)).where(Delivery.notice_id == notice_id))
    return int(newest or 0)


def chunk_counts(session: Session, notice_id: uuid.UUID) -> tuple[int, int]:
    """(chunks, pending chunks) of every broadcast round of the notice."""
    row = session.execute(
        select(
            func.count(), func.count().filter(DispatchChunk.status == ChunkStatus.PENDING)
        ).where(DispatchChunk.notice_id == notice_id)
    ).one()
    return int(row[0]), int(row[1])


@dataclass(frozen=True, slots=True)
class DispatchSnapshot:
    """The dispatch backlog the metrics endpoint reports, counted in a few index reads."""

    # (status, error code, count) of the deliveries of active notices
    active_deliveries: list[tuple[DeliveryStatus, str | None, int]]
    in_flight: int  # pending, held by a worker
    waiting_retry: int  # pending, released until a retry time to come
    due: int  # pending, held by nobody and due: the reconciler's backlog
    chunks_queued: int  # pending, their task's deadline to come
    chunks_overdue: int  # pending, past their deadline: the reconciler's backlog


def dispatch_snapshot(session: Session, *, now: datetime) -> DispatchSnapshot:
    active = session.execute(
        select(Delivery.status, Delivery.error_code, func.count())
        .join(Notice, Notice.id == Delivery.notice_id)
        .where(Notice.status == NoticeStatus.ACTIVE)
        .group_by(Delivery.status, Delivery.error_code)
    )
    unheld = unleased(now)
    pending = session.execute(
        select(
            func.count().filter(Delivery.lease_until >= now),
            func.count().filter(unheld, Delivery.next_attempt_at > now),
            func.count().filter(
                unheld, or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now)
            ),
        ).where(Delivery.status == DeliveryStatus.PENDING)
    ).one()
    chunks = session.execute(
        select(
            func.count().filter(DispatchChunk.lease_until >= now),
            func.count().filter(DispatchChunk.lease_until < now),
        ).where(DispatchChunk.status == ChunkStatus.PENDING)
    ).one()
    return DispatchSnapshot(
        active_deliveries=[(r[0], r[1], r[2]) for r in active],
        in_flight=pending[0],
        waiting_retry=pending[1],
        due=pending[2],
        chunks_queued=chunks[0],
        chunks_overdue=chunks[1],
    )
