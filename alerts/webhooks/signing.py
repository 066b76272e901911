"""Webhook events as agencies receive them: the JSON envelope, the signature and the retry
policy. Pure functions, so the rules are tested without servers and a receiver can copy
`verify_signature`.

A delivery is signed like Stripe's: `X-Hexcast-Signature: t=<unix seconds>,v1=<hex>`, where
the hex is HMAC-SHA256, keyed with the agency's secret, of `<t>.` followed by the raw body.
The timestamp is signed too, so a captured delivery cannot be replayed later than the
receiver's tolerance."""

import hashlib
import hmac
import json
import random
import uuid
from datetime import datetime
from typing import Any

from kit.models import NoticeStatus, WebhookEventStatus

SIGNATURE_HEADER = "X-Hexcast-Signature"

EVENT_HEADER = "X-Hexcast-Event"

DELIVERY_HEADER = "X-Hexcast-Delivery"

SIGNATURE_TOLERANCE_S = 300.0

SIGHTING_CREATED = "sighting.created"


def status_event(status: NoticeStatus) -> str:
    """The event a notice's new status announces: `notice.activated` when approval makes it
    active (and broadcasting), otherwise `notice.<status>` (rejected, cancelled, expired, and
    any status added later, such as found)."""
    if status == NoticeStatus.ACTIVE:
        return "notice.activated"
    return f"notice.{status.value}"


def event_body(
    *, event_id: uuid.UUID, event_type: str, created_at: datetime, data: dict[str, Any]
) -> str:
    """The JSON document every delivery of one event carries, byte for byte."""
    return json.dumps(
        {
            "id": str(event_id),
            "type": event_type,
            "created_at": created_at.isoformat(),
            "data": data,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, *, timestamp: int) -> str:
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def verify_signature(
    secret: str,
    header: str,
    body: bytes,
    *,
    now: float,
    tolerance_s: float = SIGNATURE_TOLERANCE_S,
) -> bool:
    """Whether `header` signs `body` with `secret` at a time within `tolerance_s` of `now`.
    Several `v1=` entries are accepted, so a sender may sign with two secrets while they
    are rotated."""
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            signatures.append(value)
    if timestamp is None or abs(now - timestamp) > tolerance_s:
        return False
    expected = _digest(secret, timestamp, body)
    return any(hmac.compare_digest(expected, signature) for signature in signatures)


def is_retryable(status_code: int | None) -> bool:
    """Network errors (no status), 429 and 5xx are worth another attempt; any other answer
    (a 4xx, or a redirect, which is not followed) would be the same the next time."""
    return status_code is None or status_code == 429 or status_code >= 500


def attempt_outcome(
    status_code: int | None, *, attempts: int, max_attempts: int
) -> WebhookEventStatus:
    """What an attempt's answer makes of the event: delivered on a 2xx, pending (to be
    retried) on a retryable failure while attempts remain, failed otherwise."""
    if status_code is not None and 200 <= status_code < 300:
        return WebhookEventStatus.DELIVERED
    if is_retryable(status_code) and attempts < max_attempts:
        return WebhookEventStatus.PENDING
    return WebhookEventStatus.FAILED


def retry_delay(
    failed_attempts: int,
    *,
    base_s: float,
    cap_s: float,
    retry_after_s: float | None,
    rng: random.Random,
) -> float:
    """Seconds to wait after the `failed_attempts`-th failure: exponential (base, 2 base,
    4 base, …) with equal jitter, so receivers that failed together are not all retried
    together yet every retry still backs off; at least the receiver's Retry-After; at most
    the cap."""
    ceiling = min(cap_s, base_s * 2.0 ** min(failed_attempts - 1, 62))
    delay = ceiling / 2 + rng.uniform(0, ceiling / 2)
    if retry_after_s is not None:
        delay = max(delay, retry_after_s)
    return min(delay, cap_s)
