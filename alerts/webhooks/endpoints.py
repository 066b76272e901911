"""Agencies set, read and remove their webhook and list its events; admins set one for an
agency."""

import uuid

from fastapi import APIRouter, Query, status

from alerts.deps import AdminOnly, CurrentAgency, SessionDep, WebhookManager
from alerts.fields import MAX_OFFSET, error_responses
from alerts.webhooks import repository, service
from alerts.webhooks.schemas import (
    WebhookConfig,
    WebhookCreated,
    WebhookEventOut,
    WebhookEventPage,
    WebhookOut,
)

router = APIRouter(tags=["webhooks"])


def _created(session: SessionDep, agency_id: uuid.UUID, data: WebhookConfig) -> WebhookCreated:
    webhook, secret = service.set_webhook(session, agency_id=agency_id, data=data)
    return WebhookCreated(url=webhook.url, created_at=webhook.created_at, secret=secret)


@router.put(
    "/v1/webhook",
    response_model=WebhookCreated,
    responses=error_responses(401, 403),
    summary="Set the agency's webhook URL and issue a new signing secret",
)
def set_webhook(data: WebhookConfig, session: SessionDep, key: WebhookManager) -> WebhookCreated:
    """The secret is shown in this response only; setting the webhook again rotates it. Needs
    a key with the `webhook:write` scope."""
    return _created(session, key.agency_id, data)


@router.get(
    "/v1/webhook",
    response_model=WebhookOut,
    responses=error_responses(401, 403, 404),
    summary="Read the agency's webhook (without its secret)",
)
def read_webhook(session: SessionDep, agency: CurrentAgency) -> WebhookOut:
    return WebhookOut.from_webhook(service.get_webhook(session, agency_id=agency.id))


@router.delete(
    "/v1/webhook",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403),
    summary="Stop sending the agency events",
)
def remove_webhook(session: SessionDep, key: WebhookManager) -> None:
    """Needs a key with the `webhook:write` scope."""
    service.remove_webhook(session, agency_id=key.agency_id)


@router.get(
    "/v1/webhook/events",
    response_model=WebhookEventPage,
    responses=error_responses(401, 403),
    summary="List the agency's webhook events and their delivery, newest first",
)
def list_webhook_events(
    session: SessionDep,
    agency: CurrentAgency,
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> WebhookEventPage:
    items, total = repository.list_webhook_events(
        session, agency_id=agency.id, limit=limit, offset=offset
    )
    return WebhookEventPage(items=[WebhookEventOut.from_event(e) for e in items], total=total)


@router.put(
    "/v1/operator/agencies/{agency_id}/webhook",
    response_model=WebhookCreated,
    responses=error_responses(401, 403, 404),
    dependencies=[AdminOnly],
    summary="Set an agency's webhook URL and issue a new signing secret (admins)",
)
def set_agency_webhook(
    agency_id: uuid.UUID, data: WebhookConfig, session: SessionDep
) -> WebhookCreated:
    """The secret is shown in this response only; pass it on to the agency."""
    return _created(session, agency_id, data)
