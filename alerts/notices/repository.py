"""Every query of notices and their idempotency keys.

Lock order: whatever changes a notice, or its expansion steps, locks the notice row first
(`notice_for_update`) and reads its status under that lock; only then does it touch the
notice's steps. Beat's expansion does the same, notice by notice, in id order, as does its
expiry, so no two transactions wait for each other's notices or steps in a cycle: locking
the steps first had beat deadlock with an operator's re-plan, and widen a notice that had
ended between its read and its write. The notifier's chunk rows are locked only with SKIP
LOCKED, which never waits, so a chunk task may hold its chunk while it takes the notice.
"""

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
    """The notice, locked, as it is now: an instance the session had already loaded is
    refreshed, so its status is the one the lock protects (see the lock order above)."""
    return session.scalar(
        select(Notice)
        .where(Notice.id == notice_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


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
    """End the active notices past their expiry. They are locked in id order first, as
    beat's expansion locks them, and one that ended meanwhile is left alone."""
    due = session.scalars(
        select(Notice.id)
        .where(Notice.status == NoticeStatus.ACTIVE, Notice.expires_at <= now)
        .order_by(Notice.id)
        .with_for_update()
    ).all()
    if not due:
        return []
    rows = session.execute(
        update(Notice)
        .where(Notice.id.in_(due), Notice.status == NoticeStatus.ACTIVE)
        .values(status=NoticeStatus.EXPIRED, ended_at=now)
        .returning(Notice.id)
    )
    return sorted(r[0] for r in rows)


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
    """The notice if it is active, share-locked until commit: an end waits for what is
    stored under it (a sighting), or this waits for the end and finds the notice ended.
    KEY SHARE does not wait for a broadcast, which holds the notice FOR NO KEY UPDATE."""
    return session.scalar(
        select(Notice)
        .where(Notice.id == notice_id, Notice.status == NoticeStatus.ACTIVE)
        .with_for_update(read=True, key_share=True)
        .execution_options(populate_existing=True)
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
