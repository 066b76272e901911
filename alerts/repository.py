"""Every query the API and the lifecycle make."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, literal_column, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from kit.models import (
    Agency,
    ChunkStatus,
    Delivery,
    DeliveryStatus,
    Device,
    DispatchChunk,
    Notice,
    NoticeStatus,
    Platform,
)


def agency_by_key_hash(session: Session, key_hash: str) -> Agency | None:
    return session.scalar(select(Agency).where(Agency.api_key_hash == key_hash))


def agency_name_taken(session: Session, name: str) -> bool:
    return bool(session.scalar(select(func.count()).where(Agency.name == name)))


def device_by_credential_hash(session: Session, credential_hash: str) -> Device | None:
    return session.scalar(select(Device).where(Device.credential_hash == credential_hash))


def notice_of_agency(
    session: Session, *, agency_id: uuid.UUID, notice_id: uuid.UUID
) -> Notice | None:
    return session.scalar(
        select(Notice).where(Notice.id == notice_id, Notice.agency_id == agency_id)
    )


def notice_for_update(session: Session, notice_id: uuid.UUID) -> Notice | None:
    return session.get(Notice, notice_id, with_for_update=True)


def list_notices(
    session: Session,
    *,
    agency_id: uuid.UUID | None = None,
    status: NoticeStatus | None = None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Notice], int]:
    query = select(Notice)
    if agency_id is not None:
        query = query.where(Notice.agency_id == agency_id)
    if status is not None:
        query = query.where(Notice.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = session.scalars(
        query.order_by(Notice.created_at.desc(), Notice.id).limit(limit).offset(offset)
    ).all()
    return items, total


def upsert_device(
    session: Session, *, fcm_token: str, platform: Platform, locale: str, credential_hash: str
) -> tuple[uuid.UUID, bool]:
    """Register a token, or update the device that already has it. Returns (id, created):
    PostgreSQL's `xmax` is 0 on a freshly inserted row and set on one the upsert updated."""
    values = insert(Device).values(
        id=uuid.uuid4(),
        fcm_token=fcm_token,
        platform=platform,
        locale=locale,
        credential_hash=credential_hash,
        active=True,
    )
    upsert = values.on_conflict_do_update(
        index_elements=[Device.fcm_token],
        set_={
            "platform": values.excluded.platform,
            "locale": values.excluded.locale,
            "credential_hash": values.excluded.credential_hash,
            "active": True,
            "updated_at": func.now(),
        },
    )
    row: Any = session.execute(upsert.returning(Device.id, literal_column("xmax = 0"))).one()
    return row[0], bool(row[1])


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
    """What the metrics endpoint reports, counted in a few index reads."""

    notices: dict[NoticeStatus, int]
    # (status, error code, count) of the deliveries of active notices
    active_deliveries: list[tuple[DeliveryStatus, str | None, int]]
    in_flight: int  # pending, held by a worker
    waiting_retry: int  # pending, released until a retry time to come
    due: int  # pending, held by nobody and due: the reconciler's backlog
    chunks_queued: int  # pending, their task's deadline to come
    chunks_overdue: int  # pending, past their deadline: the reconciler's backlog


def dispatch_snapshot(session: Session, *, now: datetime) -> DispatchSnapshot:
    notices = {
        status: count
        for status, count in session.execute(
            select(Notice.status, func.count()).group_by(Notice.status)
        )
    }
    active = session.execute(
        select(Delivery.status, Delivery.error_code, func.count())
        .join(Notice, Notice.id == Delivery.notice_id)
        .where(Notice.status == NoticeStatus.ACTIVE)
        .group_by(Delivery.status, Delivery.error_code)
    )
    unheld = or_(Delivery.lease_until.is_(None), Delivery.lease_until < now)
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
        notices=notices,
        active_deliveries=[(r[0], r[1], r[2]) for r in active],
        in_flight=pending[0],
        waiting_retry=pending[1],
        due=pending[2],
        chunks_queued=chunks[0],
        chunks_overdue=chunks[1],
    )


def expire_due(session: Session, *, now: datetime) -> list[uuid.UUID]:
    rows = session.execute(
        update(Notice)
        .where(Notice.status == NoticeStatus.ACTIVE, Notice.expires_at <= now)
        .values(status=NoticeStatus.EXPIRED, ended_at=now)
        .returning(Notice.id)
    )
    return [r[0] for r in rows]
