"""Every query of the audit log."""

import uuid
from collections.abc import Sequence

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
