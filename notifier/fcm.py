"""The FCM channel: firebase-admin builds, validates and sends the messages."""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import firebase_admin
from firebase_admin import exceptions, messaging

from notifier.channel import Push, PushOutcome

ANDROID_CHANNEL_ID = "missing_person_alerts"
FCM_BATCH_LIMIT = 500

_TOKEN_INVALID = (messaging.UnregisteredError, messaging.SenderIdMismatchError)
_RETRYABLE = (messaging.QuotaExceededError, exceptions.UnavailableError, exceptions.InternalError)
_ERROR_CODES: tuple[tuple[type[Exception], str], ...] = (
    (messaging.UnregisteredError, "UNREGISTERED"),
    (messaging.SenderIdMismatchError, "SENDER_ID_MISMATCH"),
    (messaging.QuotaExceededError, "QUOTA_EXCEEDED"),
    (messaging.ThirdPartyAuthError, "THIRD_PARTY_AUTH_ERROR"),
    (exceptions.UnavailableError, "UNAVAILABLE"),
    (exceptions.InternalError, "INTERNAL"),
    (exceptions.InvalidArgumentError, "INVALID_ARGUMENT"),
)


def to_message(push: Push, *, now: datetime) -> messaging.Message:
    """An FCM v1 message: high priority, expiring with the notice, collapsing per notice."""
    return messaging.Message(
        token=push.token,
        notification=messaging.Notification(title=push.title, body=push.body, image=push.image_url),
        data=dict(push.data),
        android=messaging.AndroidConfig(
            priority="high",
            ttl=timedelta(seconds=push.ttl_seconds),
            collapse_key=push.collapse_key,
            notification=messaging.AndroidNotification(channel_id=ANDROID_CHANNEL_ID),
        ),
        apns=messaging.APNSConfig(
            headers={
                "apns-priority": "10",
                "apns-expiration": str(
                    int((now + timedelta(seconds=push.ttl_seconds)).timestamp())
                ),
                "apns-collapse-id": push.collapse_key[:64],
            },
            payload=messaging.APNSPayload(aps=messaging.Aps(sound="default")),
        ),
    )


def outcome_of_error(error: Exception) -> PushOutcome:
    """Map a firebase-admin exception to a channel-neutral outcome, by FCM's error codes."""
    code = next((name for cls, name in _ERROR_CODES if isinstance(error, cls)), None)
    if code is None:
        code = getattr(error, "code", None) or type(error).__name__
    response = getattr(error, "http_response", None)
    retry_after = response.headers.get("Retry-After", "") if response is not None else ""
    return PushOutcome(
        error_code=str(code).upper(),
        token_invalid=isinstance(error, _TOKEN_INVALID),
        retryable=isinstance(error, _RETRYABLE),
        retry_after_s=float(retry_after) if retry_after.isdigit() else None,
        detail=str(error)[:500],
    )


class FcmChannel:
    def __init__(self, app: firebase_admin.App) -> None:
        self._app = app

    def send(self, pushes: Sequence[Push]) -> list[PushOutcome]:
        outcomes: list[PushOutcome] = []
        now = datetime.now(UTC)
        for start in range(0, len(pushes), FCM_BATCH_LIMIT):
            messages = [to_message(p, now=now) for p in pushes[start : start + FCM_BATCH_LIMIT]]
            for response in messaging.send_each(messages, app=self._app).responses:
                if response.success:
                    outcomes.append(PushOutcome(message_id=response.message_id))
                else:
                    outcomes.append(outcome_of_error(response.exception))
        return outcomes
