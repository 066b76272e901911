"""Every query of the audit log."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kit.models import (
    AuditEvent,
)


def audit_events(
    session: Session,
    *,
    notice_id: uuid.UUID | None = None,
    actor_id: uuid.UUID | None = None,
    action: str | None = None,
    newest_first: bool = True,
    limit: int,
    offset: int,
) -> tuple[Sequence[AuditEvent], int]:
    query = select(AuditEvent)
    if notice_id is not None:
        query = query.where(AuditEvent.notice_id == notice_id)
    if actor_id is not None:
        query = query.where(AuditEvent.actor_id == actor_id)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    order = AuditEvent.id.desc() if newest_first else AuditEvent.id
    items = session.scalars(query.order_by(order).limit(limit).offset(offset)).all()
    return items, total


def lock_actions(session: Session, *, actor_id: uuid.UUID | None, action: str) -> datetime:
    """One actor's `action`s wait for each other until the transaction ends, so that a limit
    counted from the log sees the ones before; returns the database's now()."""
    key = f"audit:{action}:{actor_id}"
    session.execute(select(func.pg_advisory_xact_lock(func.hashtext(key))))
    now = session.scalar(select(func.now()))
    assert now is not None
    return now


def recent_action_times(
    session: Session, *, actor_id: uuid.UUID | None, action: str, since: datetime, limit: int
) -> list[datetime]:
    """When the actor's newest `action`s after `since` were recorded, newest first."""
    query = select(AuditEvent.at).where(
        AuditEvent.actor_id == actor_id, AuditEvent.action == action, AuditEvent.at > since
    )
    return list(session.scalars(query.order_by(AuditEvent.at.desc()).limit(limit)))
