"""Every query of notices and their idempotency keys."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from kit.models import (
    IdempotencyKey,
    Notice,
    NoticeStatus,
)


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


def notice_status_counts(
    session: Session, *, approved_only: bool = False
) -> dict[NoticeStatus, int]:
    """Notices by status: all of them, or only those an operator approved (`decided_at`
    of a notice that is not rejected), which are the ones that were broadcast."""
    query = select(Notice.status, func.count()).group_by(Notice.status)
    if approved_only:
        query = query.where(Notice.decided_at.is_not(None), Notice.status != NoticeStatus.REJECTED)
    return {row[0]: row[1] for row in session.execute(query)}


def seconds_to_found(session: Session) -> list[float]:
    """From approval to found, for every found notice."""
    return [
        float(seconds)
        for seconds in session.scalars(
            select(func.extract("epoch", Notice.ended_at - Notice.decided_at)).where(
                Notice.status == NoticeStatus.FOUND
            )
        )
    ]
