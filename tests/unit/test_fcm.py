"""What firebase-admin is asked to send, and how each FCM error becomes an outcome that
dispatch can act on (deactivate the token, or try again later)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from firebase_admin import exceptions, messaging

from notifier.channel import Push
from notifier.fcm import ANDROID_CHANNEL_ID, outcome_of_error, to_message

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
NOTICE_ID = "6f1c2a0e-5b7d-4c1e-9a43-1b2f3c4d5e6f"
PUSH = Push(
    token="tok-1",
    title="Missing person: Lily Chen",
    body="Lily Chen, 7 years. Last seen Westminster Bridge.",
    data={"type": "missing_person", "notice_id": NOTICE_ID, "link": "hexcast://notices/x"},
    collapse_key=NOTICE_ID,
    ttl_seconds=7200,
    image_url="https://agency.example/photos/lily.jpg",
)


def _encoded(push: Push) -> dict[str, Any]:
    """The FCM v1 JSON firebase-admin sends (it also validates the message here)."""
    return dict(messaging._MessagingService.encode_message(to_message(push, now=NOW)))


def test_the_message_is_the_notification_with_its_data_for_one_token() -> None:
    message = _encoded(PUSH)
    assert message["token"] == "tok-1"
    assert message["notification"] == {
        "title": PUSH.title,
        "body": PUSH.body,
        "image": "https://agency.example/photos/lily.jpg",
    }
    assert message["data"] == dict(PUSH.data)


def test_android_gets_high_priority_the_ttl_and_the_collapse_key() -> None:
    android = _encoded(PUSH)["android"]
    assert android == {
        "priority": "high",
        "ttl": "7200s",
        "collapse_key": NOTICE_ID,
        "notification": {"channel_id": ANDROID_CHANNEL_ID},
    }


def test_apns_gets_immediate_priority_expiry_and_collapse_id() -> None:
    apns = _encoded(PUSH)["apns"]
    assert apns["headers"] == {
        "apns-priority": "10",
        "apns-expiration": str(int((NOW + timedelta(hours=2)).timestamp())),
        "apns-collapse-id": NOTICE_ID,
    }
    assert apns["payload"] == {"aps": {"sound": "default"}}


def test_the_apns_collapse_id_is_cut_to_apples_64_bytes() -> None:
    long_key = "k" * 100
    message = _encoded(Push(**{**_fields(PUSH), "collapse_key": long_key}))
    assert message["apns"]["headers"]["apns-collapse-id"] == "k" * 64
    assert message["android"]["collapse_key"] == long_key


def test_an_expired_push_has_zero_ttl_and_expires_now() -> None:
    message = _encoded(Push(**{**_fields(PUSH), "ttl_seconds": 0, "image_url": None}))
    assert message["android"]["ttl"] == "0s"
    assert message["apns"]["headers"]["apns-expiration"] == str(int(NOW.timestamp()))
    assert "image" not in message["notification"]


def _fields(push: Push) -> dict[str, Any]:
    return {name: getattr(push, name) for name in Push.__slots__}


@pytest.mark.parametrize(
    ("error", "code", "token_invalid", "retryable"),
    [
        (messaging.UnregisteredError("gone"), "UNREGISTERED", True, False),
        (messaging.SenderIdMismatchError("other sender"), "SENDER_ID_MISMATCH", True, False),
        (messaging.QuotaExceededError("slow down"), "QUOTA_EXCEEDED", False, True),
        (messaging.ThirdPartyAuthError("apns cert"), "THIRD_PARTY_AUTH_ERROR", False, False),
        (exceptions.UnavailableError("down"), "UNAVAILABLE", False, True),
        (exceptions.InternalError("oops"), "INTERNAL", False, True),
        (exceptions.InvalidArgumentError("bad"), "INVALID_ARGUMENT", False, False),
        (exceptions.PermissionDeniedError("no"), "PERMISSION_DENIED", False, False),
        (exceptions.UnauthenticatedError("who"), "UNAUTHENTICATED", False, False),
    ],
)
def test_each_fcm_error_maps_to_its_code_and_what_to_do(
    error: Exception, code: str, token_invalid: bool, retryable: bool
) -> None:
    outcome = outcome_of_error(error)
    assert (outcome.error_code, outcome.token_invalid, outcome.retryable) == (
        code,
        token_invalid,
        retryable,
    )
    assert not outcome.ok
    assert outcome.message_id is None
    assert outcome.detail == str(error)


def test_an_error_outside_firebase_admin_is_named_by_its_type() -> None:
    outcome = outcome_of_error(TimeoutError("read timed out"))
    assert (outcome.error_code, outcome.token_invalid, outcome.retryable) == (
        "TIMEOUTERROR",
        False,
        False,
    )


def test_the_error_detail_is_bounded() -> None:
    outcome = outcome_of_error(exceptions.UnavailableError("x" * 5000))
    assert outcome.detail == "x" * 500
