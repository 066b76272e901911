"""Webhook delivery: one signed POST an attempt, retried with backoff, and beat's requeue of
events the broker lost."""

import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import httpx

from alerts.webhooks import destinations, repository, signing
from kit.celery import celery_app
from kit.config import get_settings
from kit.db import session_scope
from kit.http import retry_after_seconds
from kit.models import AgencyWebhook, WebhookEventStatus

log = logging.getLogger(__name__)

_jitter = random.Random()

REQUEUE_BATCH = 1000

_DEFAULT_PORTS = {"http": 80, "https": 443}


@lru_cache
def _http_client() -> httpx.Client:
    """One pooled client per worker process; redirects are answers, not followed."""
    return httpx.Client(
        timeout=get_settings().webhook_timeout_seconds,
        follow_redirects=False,
        headers={"User-Agent": "hexcast-webhooks/1"},
    )


@dataclass(frozen=True)
class _Answer:
    status_code: int | None
    retry_after_s: float | None = None
    error: str | None = None


def _post(webhook: AgencyWebhook, event_id: uuid.UUID, event_type: str, body: bytes) -> _Answer:
    """One signed POST to the address the URL's host resolves to, if that is one webhooks may
    go to (see `destinations`). The response body is never read: only its status matters."""
    headers = {
        "Content-Type": "application/json",
        signing.EVENT_HEADER: event_type,
        signing.DELIVERY_HEADER: str(event_id),
        signing.SIGNATURE_HEADER: signing.signature_header(
            webhook.secret, body, timestamp=int(time.time())
        ),
    }
    url = httpx.URL(webhook.url)
    try:
        address = destinations.checked_address(url.host, url.port or _DEFAULT_PORTS[url.scheme])
    except destinations.DestinationRefused as refused:
        return _Answer(None, error=f"refused: {refused}"[:500])
    # Connect to the address just checked; the name still goes in Host and in TLS (SNI and
    # the certificate's check).
    headers["Host"] = url.netloc.decode("ascii")
    try:
        with _http_client().stream(
            "POST",
            url.copy_with(host=str(address)),
            content=body,
            headers=headers,
            extensions={"sni_hostname": url.host},
        ) as answer:
            retry_after = retry_after_seconds(
                answer.headers.get("Retry-After"), now=datetime.now(UTC)
            )
            return _Answer(answer.status_code, retry_after)
    except httpx.HTTPError as error:
        return _Answer(None, error=f"{type(error).__name__}: {error}"[:500])


@celery_app.task(name="alerts.deliver_webhook")
def deliver_webhook(event_id: str) -> str:
    """Attempt one event if it is pending and due, record the answer and schedule the retry a
    failure earns. Safe to run twice: the claim lets one attempt through per due time."""
    settings = get_settings()
    lease = timedelta(seconds=2 * settings.webhook_timeout_seconds + 30)
    with session_scope() as session:
        event = repository.claim_webhook_event(session, uuid.UUID(event_id), lease=lease)
        if event is None:
            return "not due"
        webhook = session.get(AgencyWebhook, event.agency_id)
    if webhook is None:
        answer = _Answer(None, error="no webhook configured")
        status = WebhookEventStatus.FAILED
    else:
        answer = _post(webhook, event.id, event.event_type, event.body.encode())
        status = signing.attempt_outcome(
            answer.status_code, attempts=event.attempts, max_attempts=settings.webhook_max_attempts
        )
    retry_in = None
    if status == WebhookEventStatus.PENDING:
        retry_in = timedelta(
            seconds=signing.retry_delay(
                event.attempts,
                base_s=settings.webhook_retry_base_seconds,
                cap_s=settings.webhook_retry_cap_seconds,
                retry_after_s=answer.retry_after_s,
                rng=_jitter,
            )
        )
    with session_scope() as session:
        repository.record_webhook_attempt(
            session,
            event.id,
            status=status,
            status_code=answer.status_code,
            error=answer.error,
            retry_in=retry_in,
        )
    if retry_in is not None:
        deliver_webhook.apply_async(args=[event_id], countdown=retry_in.total_seconds())
    log.info(
        "alerts.webhook.attempt event=%s type=%s attempt=%d http=%s error=%s outcome=%s",
        event_id,
        event.event_type,
        event.attempts,
        answer.status_code,
        answer.error,
        status,
    )
    return status.value


@celery_app.task(name="alerts.requeue_webhooks")
def requeue_webhooks() -> int:
    """Queue every due pending event: those whose queued task was lost (broker down at
    commit, worker killed mid-attempt) are delivered this way."""
    with session_scope() as session:
        due = repository.due_webhook_events(session, limit=REQUEUE_BATCH)
    for event_id in due:
        deliver_webhook.delay(str(event_id))
    if due:
        log.info("alerts.webhook.requeued events=%d", len(due))
    return len(due)
