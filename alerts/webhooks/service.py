"""Agencies' webhooks: their configuration, and the outbox of events recorded in the same
transaction as the change they describe."""

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from alerts.accounts.credentials import new_secret
from alerts.errors import DomainError, NotFound
from alerts.notices.schemas import NoticeOut
from alerts.webhooks import destinations, repository
from alerts.webhooks.schemas import WebhookConfig
from alerts.webhooks.signing import event_body, status_event
from kit.celery import celery_app
from kit.db import after_commit
from kit.models import (
    Agency,
    AgencyWebhook,
    Notice,
    WebhookEvent,
)

log = logging.getLogger(__name__)

WEBHOOK_TASK = "alerts.deliver_webhook"


class WebhookUrlRefused(DomainError):
    status_code = 422
    code = "webhook_url_refused"


def set_webhook(
    session: Session, *, agency_id: uuid.UUID, data: WebhookConfig
) -> tuple[AgencyWebhook, str]:
    """Point the agency's events at `data.url` with a new signing secret, which is returned
    here only. The previous secret stops signing at once. A URL whose host resolves to an
    address that is not public is refused (see `destinations`)."""
    if session.get(Agency, agency_id) is None:
        raise NotFound("agency not found")
    try:
        destinations.checked_address(data.url.host or "", data.url.port or 443)
    except destinations.DestinationRefused as refused:
        raise WebhookUrlRefused(f"url: {refused}") from None
    secret, _ = new_secret("whsec")
    webhook = repository.upsert_webhook(
        session, agency_id=agency_id, url=str(data.url), secret=secret
    )
    log.info("alerts.webhook.set agency=%s", agency_id)
    return webhook, secret


def get_webhook(session: Session, *, agency_id: uuid.UUID) -> AgencyWebhook:
    webhook = session.get(AgencyWebhook, agency_id)
    if webhook is None:
        raise NotFound("no webhook configured")
    return webhook


def remove_webhook(session: Session, *, agency_id: uuid.UUID) -> None:
    """No more events are recorded; pending ones fail at their next attempt."""
    repository.delete_webhook(session, agency_id)
    log.info("alerts.webhook.removed agency=%s", agency_id)


def record_status_event(session: Session, notice: Notice) -> None:
    record_event(
        session,
        agency_id=notice.agency_id,
        event_type=status_event(notice.status),
        data={"notice": NoticeOut.from_notice(notice).model_dump(mode="json")},
    )


def record_event(
    session: Session, *, agency_id: uuid.UUID, event_type: str, data: dict[str, Any]
) -> None:
    """Write the event to the outbox in the caller's transaction, if the agency has a webhook,
    and queue its delivery once that transaction commits. If the broker is down then, beat's
    `alerts.requeue_webhooks` queues it later."""
    if session.get(AgencyWebhook, agency_id) is None:
        return
    event_id = uuid.uuid4()
    now = datetime.now(UTC)
    body = event_body(event_id=event_id, event_type=event_type, created_at=now, data=data)
    session.add(
        WebhookEvent(
            id=event_id,
            agency_id=agency_id,
            event_type=event_type,
            body=body,
            created_at=now,
        )
    )
    session.flush()
    after_commit(session, lambda: queue_webhook(event_id))


def queue_webhook(event_id: uuid.UUID) -> None:
    try:
        celery_app.send_task(WEBHOOK_TASK, args=[str(event_id)])
    except Exception:
        log.exception("alerts.webhook.enqueue_failed event=%s", event_id)
