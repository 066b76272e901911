"""Every query of webhooks and their events."""

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from kit.models import (
    AgencyWebhook,
    WebhookEvent,
    WebhookEventStatus,
)


def upsert_webhook(
    session: Session, *, agency_id: uuid.UUID, url: str, secret: str
) -> AgencyWebhook:
    values = insert(AgencyWebhook).values(agency_id=agency_id, url=url, secret=secret)
    upsert = values.on_conflict_do_update(
        index_elements=[AgencyWebhook.agency_id],
        set_={
            "url": values.excluded.url,
            "secret": values.excluded.secret,
            "created_at": func.now(),
        },
    )
    webhook = session.scalars(
        upsert.returning(AgencyWebhook), execution_options={"populate_existing": True}
    ).one()
    return webhook


def delete_webhook(session: Session, agency_id: uuid.UUID) -> None:
    session.execute(delete(AgencyWebhook).where(AgencyWebhook.agency_id == agency_id))


def list_webhook_events(
    session: Session, *, agency_id: uuid.UUID, limit: int, offset: int
) -> tuple[Sequence[WebhookEvent], int]:
    total = session.scalar(select(func.count()).where(WebhookEvent.agency_id == agency_id)) or 0
    items = session.scalars(
        select(WebhookEvent)
        .where(WebhookEvent.agency_id == agency_id)
        .order_by(WebhookEvent.created_at.desc(), WebhookEvent.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return items, total


def claim_webhook_event(
    session: Session, event_id: uuid.UUID, *, lease: timedelta
) -> WebhookEvent | None:
    """Take a due, pending event for one attempt: counts the attempt and moves its due time
    past the lease, so no one else attempts it meanwhile and a crashed attempt is retried."""
    return session.scalars(
        update(WebhookEvent)
        .where(
            WebhookEvent.id == event_id,
            WebhookEvent.status == WebhookEventStatus.PENDING,
            WebhookEvent.next_attempt_at <= func.now(),
        )
        .values(attempts=WebhookEvent.attempts + 1, next_attempt_at=func.now() + lease)
        .returning(WebhookEvent),
        execution_options={"populate_existing": True},
    ).one_or_none()


def record_webhook_attempt(
    session: Session,
    event_id: uuid.UUID,
    *,
    status: WebhookEventStatus,
    status_code: int | None,
    error: str | None,
    retry_in: timedelta | None = None,
) -> None:
    """The answer of the event's latest attempt; a pending event is due again `retry_in`
    from now, by the database's clock, which the claim compares with."""
    values: dict[str, Any] = {
        "status": status,
        "last_status_code": status_code,
        "last_error": error,
    }
    if retry_in is not None:
        values["next_attempt_at"] = func.now() + retry_in
    if status == WebhookEventStatus.DELIVERED:
        values["delivered_at"] = func.now()
    session.execute(update(WebhookEvent).where(WebhookEvent.id == event_id).values(**values))


def due_webhook_events(session: Session, *, limit: int) -> list[uuid.UUID]:
    return list(
        session.scalars(
            select(WebhookEvent.id)
            .where(
                WebhookEvent.status == WebhookEventStatus.PENDING,
                WebhookEvent.next_attempt_at <= func.now(),
            )
            .order_by(WebhookEvent.next_attempt_at)
            .limit(limit)
        )
    )
