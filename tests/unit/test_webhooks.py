"""Webhook signing, the event envelope and the retry policy, as pure functions: a receiver
checks signatures exactly as `verify_signature` does, and a failed delivery backs off."""

import hashlib
import hmac
import json
import random
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.webhooks.signing import (
    attempt_outcome,
    event_body,
    is_retryable,
    retry_delay,
    signature_header,
    status_event,
    verify_signature,
)
from kit.models import NoticeStatus, WebhookEventStatus

SECRET = "whsec_test-secret"
BODY = b'{"id":"e1","type":"sighting.created","data":{"text":"caf\xc3\xa9"}}'
T = 1_795_000_000


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert signature_header(SECRET, BODY, timestamp=T) == f"t={T},v1={expected}"


def test_a_signature_verifies_within_the_tolerance() -> None:
    header = signature_header(SECRET, BODY, timestamp=T)
    assert verify_signature(SECRET, header, BODY, now=T)
    assert verify_signature(SECRET, header, BODY, now=T + 299)
    assert verify_signature(SECRET, header, BODY, now=T - 299)


@pytest.mark.parametrize(
    ("secret", "body", "now"),
    [
        ("whsec_other", BODY, T),
        (SECRET, BODY + b" ", T),
        (SECRET, BODY.replace(b"sighting", b"notice"), T),
        (SECRET, BODY, T + 301),
        (SECRET, BODY, T - 301),
    ],
    ids=["wrong secret", "body changed", "type changed", "too old", "from the future"],
)
def test_anything_else_fails_verification(secret: str, body: bytes, now: float) -> None:
    assert not verify_signature(secret, signature_header(SECRET, BODY, timestamp=T), body, now=now)


def test_a_replayed_body_under_a_new_timestamp_fails() -> None:
    old = signature_header(SECRET, BODY, timestamp=T)
    forged = old.replace(f"t={T}", f"t={T + 600}")
    assert not verify_signature(SECRET, forged, BODY, now=T + 600)


def test_any_of_several_v1_signatures_may_match() -> None:
    good = signature_header(SECRET, BODY, timestamp=T).split(",")[1]
    assert verify_signature(SECRET, f"t={T},v1={'0' * 64},{good}", BODY, now=T)


@given(st.text(max_size=200))
def test_a_malformed_header_is_rejected_without_raising(header: str) -> None:
    assert not verify_signature(SECRET, header, BODY, now=T)


def test_the_event_body_is_compact_json_with_id_type_time_and_data() -> None:
    event_id = uuid.uuid4()
    created = datetime(2026, 11, 23, 9, 6, 12, tzinfo=UTC)
    body = event_body(
        event_id=event_id, event_type="sighting.created", created_at=created, data={"text": "é"}
    )
    assert json.loads(body) == {
        "id": str(event_id),
        "type": "sighting.created",
        "created_at": "2026-11-23T09:06:12+00:00",
        "data": {"text": "é"},
    }
    assert " " not in body and "é" in body


@pytest.mark.parametrize(
    ("status", "event"),
    [
        (NoticeStatus.ACTIVE, "notice.activated"),
        (NoticeStatus.REJECTED, "notice.rejected"),
        (NoticeStatus.CANCELLED, "notice.cancelled"),
        (NoticeStatus.EXPIRED, "notice.expired"),
    ],
)
def test_each_status_change_has_its_event(status: NoticeStatus, event: str) -> None:
    assert status_event(status) == event


@pytest.mark.parametrize(
    ("status_code", "retryable"),
    [
        (None, True),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (400, False),
        (401, False),
        (404, False),
        (410, False),
        (301, False),
    ],
)
def test_network_errors_429_and_5xx_are_retried_other_answers_are_not(
    status_code: int | None, retryable: bool
) -> None:
    assert is_retryable(status_code) is retryable


def test_an_attempt_is_delivered_retried_or_failed() -> None:
    assert attempt_outcome(204, attempts=1, max_attempts=3) == WebhookEventStatus.DELIVERED
    assert attempt_outcome(500, attempts=2, max_attempts=3) == WebhookEventStatus.PENDING
    assert attempt_outcome(None, attempts=2, max_attempts=3) == WebhookEventStatus.PENDING
    assert attempt_outcome(500, attempts=3, max_attempts=3) == WebhookEventStatus.FAILED
    assert attempt_outcome(400, attempts=1, max_attempts=3) == WebhookEventStatus.FAILED


def test_retry_delays_grow_exponentially_with_jitter_up_to_the_cap() -> None:
    rng = random.Random(7)
    for attempt, ceiling in [(1, 10), (2, 20), (3, 40), (4, 80), (9, 1800), (500, 1800)]:
        delays = [
            retry_delay(attempt, base_s=10, cap_s=1800, retry_after_s=None, rng=rng)
            for _ in range(200)
        ]
        assert all(ceiling / 2 <= d <= ceiling for d in delays), (attempt, min(delays))
        assert len(set(delays)) > 100, "jittered"


def test_retry_after_is_a_floor_within_the_cap() -> None:
    rng = random.Random(7)
    assert retry_delay(1, base_s=10, cap_s=1800, retry_after_s=120, rng=rng) == 120
    assert retry_delay(1, base_s=10, cap_s=1800, retry_after_s=86_400, rng=rng) == 1800
    assert 5 <= retry_delay(1, base_s=10, cap_s=1800, retry_after_s=1, rng=rng) <= 10


def test_production_sends_events_to_https_urls_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from alerts.webhooks.schemas import WebhookConfig
    from kit.config import get_settings

    assert WebhookConfig(url="http://127.0.0.1:9000/hook")  # type: ignore[arg-type]
    monkeypatch.setenv("HEXCAST_ENVIRONMENT", "production")
    monkeypatch.setenv("HEXCAST_OPERATOR_TOKEN", "a-production-operator-token-of-40-chars")
    monkeypatch.setenv("HEXCAST_FCM_ENDPOINT", "https://fcm.googleapis.com")
    monkeypatch.setenv("HEXCAST_PASSWORD_HASH_LOG2_N", "15")
    get_settings.cache_clear()
    try:
        with pytest.raises(ValidationError, match="must be an https URL"):
            WebhookConfig(url="http://agency.example/hook")  # type: ignore[arg-type]
        assert WebhookConfig(url="https://agency.example/hook")  # type: ignore[arg-type]
    finally:
        get_settings.cache_clear()
