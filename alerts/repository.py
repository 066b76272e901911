"""Every query the API and the lifecycle make."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from kit.models import (
    Agency,
    Delivery,
    DeliveryStatus,
    Device,
    IdempotencyKey,
    Notice,
    NoticeStatus,
    Platform,
    Sighting,
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


def delivery_counts(
    session: Session, notice_id: uuid.UUID
) -> list[tuple[DeliveryStatus, str | None, int]]:
    rows = session.execute(
        select(Delivery.status, Delivery.error_code, func.count())
        .where(Delivery.notice_id == notice_id)
        .group_by(Delivery.status, Delivery.error_code)
    )
    return [(r[0], r[1], r[2]) for r in rows]


def expire_due(session: Session, *, now: datetime) -> list[uuid.UUID]:
    rows = session.execute(
        update(Notice)
        .where(Notice.status == NoticeStatus.ACTIVE, Notice.expires_at <= now)
        .values(status=NoticeStatus.EXPIRED, ended_at=now)
        .returning(Notice.id)
    )
    return [r[0] for r in rows]


def claim_idempotency_key(
    session: Session,
    *,
    agency_id: uuid.UUID,
    key: str,
    request_hash: str,
    notice_id: uuid.UUID,
    expired_before: datetime,
) -> tuple[uuid.UUID, str]:
    """Bind the key to `notice_id` unless it is bound already; returns the stored (notice id,
    request hash). A concurrent request holding the same key makes the insert wait until it
    commits (then its row is returned) or rolls back (then this one is stored)."""
    session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.agency_id == agency_id,
            IdempotencyKey.key == key,
            IdempotencyKey.created_at < expired_before,
        )
    )
    claim = (
        insert(IdempotencyKey)
        .values(agency_id=agency_id, key=key, request_hash=request_hash, notice_id=notice_id)
        .on_conflict_do_nothing()
        .returning(IdempotencyKey.notice_id, IdempotencyKey.request_hash)
    )
    row: Any = (
        session.execute(claim).first()
        or session.execute(
            select(IdempotencyKey.notice_id, IdempotencyKey.request_hash).where(
                IdempotencyKey.agency_id == agency_id, IdempotencyKey.key == key
            )
        ).one()
    )
    return row[0], row[1]


def purge_idempotency_keys(session: Session, *, before: datetime) -> int:
    result: Any = session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < before))
    return int(result.rowcount)


def active_notice(session: Session, notice_id: uuid.UUID) -> Notice | None:
    return session.scalar(
        select(Notice).where(Notice.id == notice_id, Notice.status == NoticeStatus.ACTIVE)
    )


def lock_device(session: Session, device_id: uuid.UUID) -> datetime:
    """Serialize one device's writes until commit; returns the database's transaction time.
    FOR NO KEY UPDATE does not block rows that merely reference the device (deliveries)."""
    session.execute(select(Device.id).where(Device.id == device_id).with_for_update(key_share=True))
    now = session.scalar(select(func.now()))
    assert now is not None
    return now


def recent_sighting_times(
    session: Session,
    *,
    device_id: uuid.UUID,
    since: datetime,
    limit: int,
    notice_id: uuid.UUID | None = None,
) -> list[datetime]:
    """Receive times of the device's newest sightings after `since`, newest first."""
    query = select(Sighting.created_at).where(
        Sighting.device_id == device_id, Sighting.created_at > since
    )
    if notice_id is not None:
        query = query.where(Sighting.notice_id == notice_id)
    return list(session.scalars(query.order_by(Sighting.created_at.desc()).limit(limit)))


def list_sightings(
    session: Session, *, notice_id: uuid.UUID, limit: int, offset: int
) -> tuple[Sequence[Sighting], int]:
    total = session.scalar(select(func.count()).where(Sighting.notice_id == notice_id)) or 0
    items = session.scalars(
        select(Sighting)
        .where(Sighting.notice_id == notice_id)
        .order_by(Sighting.created_at.desc(), Sighting.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return items, total
