"""FCM HTTP v1 messages and answers, as pure functions: firebase-admin builds and validates
each message; FCM's error responses become channel-neutral outcomes, as FCM documents them.

The HTTP side (connections, credentials, concurrency) is `notifier.fcm_http`.
"""

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Final

from firebase_admin import messaging

from kit.http import retry_after_seconds
from notifier.channel import Push, PushOutcome

ANDROID_CHANNEL_ID: Final = "missing_person_alerts"
FCM_ERROR_TYPE: Final = "type.googleapis.com/google.firebase.fcm.v1.FcmError"

TOKEN_INVALID_CODES: Final = frozenset({"UNREGISTERED", "SENDER_ID_MISMATCH"})
"""The token is dead or belongs to another sender: deactivate the device."""
RETRYABLE_CODES: Final = frozenset({"QUOTA_EXCEEDED", "UNAVAILABLE", "INTERNAL", "UNAUTHENTICATED"})
"""Worth sending again later. UNAUTHENTICATED (no FcmError detail) is our access token being
refused, not the message: the channel refreshes the token before its next batch."""

# firebase-admin still accepts the legacy APNS_AUTH_ERROR for THIRD_PARTY_AUTH_ERROR.
_FCM_CODE_ALIASES: Final = {"APNS_AUTH_ERROR": "THIRD_PARTY_AUTH_ERROR"}
# Errors without an FcmError detail: the google.rpc status names the kind of failure.
_STATUS_CODES: Final = {"RESOURCE_EXHAUSTED": "QUOTA_EXCEEDED"}
# Errors without a readable body (a proxy's HTML page, say): the HTTP status does.
_HTTP_CODES: Final = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "QUOTA_EXCEEDED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
_DETAIL_CHARS: Final = 500

MAX_MESSAGE_BYTES: Final = 4096
"""FCM refuses a larger message (its compact UTF-8 JSON) with INVALID_ARGUMENT, for every
device alike: a long notice in a language of 3-byte characters would reach nobody."""
TOKEN_ALLOWANCE_BYTES: Final = 256
"""Room kept for the token in a message shared by a batch (FCM tokens are about 160 bytes);
a longer token gets a message fitted to it alone."""
ELLIPSIS: Final = "…"


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


def encode_message(message: messaging.Message) -> dict[str, Any]:
    """The message as FCM v1 JSON, validated by firebase-admin (ValueError if it refuses).

    `_MessagingService.encode_message` is private, but it is the SDK's own validation and
    encoding, the one `messaging.send` runs; pyproject pins firebase-admin below 8 for it.
    """
    return dict(messaging._MessagingService.encode_message(message))


def request_bodies(pushes: Sequence[Push], *, now: datetime) -> list[bytes | PushOutcome]:
    """The `messages:send` body of each push, or INVALID_ARGUMENT for one the SDK refuses.

    A broadcast's pushes differ by token and language only, so firebase-admin validates and
    encodes each distinct content once and the others get their token spliced into that JSON,
    checked by the SDK's rule for it (a non-empty string); this is most of the CPU a push
    costs otherwise.
    """
    # Stands for the token while a message is encoded: random, so no text can contain it.
    placeholder = f"token-{secrets.token_hex(16)}"
    templates: dict[tuple[Any, ...], tuple[bytes, bytes] | PushOutcome] = {}
    bodies: list[bytes | PushOutcome] = []
    for push in pushes:
        if not isinstance(push.token, str) or not push.token:
            bodies.append(_invalid("Message.token must be a non-empty string."))
            continue
        token = json.dumps(push.token, ensure_ascii=False).encode()
        token_bytes = max(len(token), TOKEN_ALLOWANCE_BYTES)
        key = (
            push.title,
            push.body,
            tuple(sorted(push.data.items())),
            push.collapse_key,
            push.ttl_seconds,
            push.image_url,
            token_bytes,
        )
        template = templates.get(key)
        if template is None:
            template = templates[key] = _template(push, placeholder, now, token_bytes)
        if isinstance(template, PushOutcome):
            bodies.append(template)
        else:
            bodies.append(template[0] + token + template[1])
    return bodies


def _template(
    push: Push, placeholder: str, now: datetime, token_bytes: int
) -> tuple[bytes, bytes] | PushOutcome:
    """The request body around the token, as (before, after), with the push cut to fit
    MAX_MESSAGE_BYTES when the token takes `token_bytes`."""
    push = replace(push, token=placeholder)
    quoted = json.dumps(placeholder).encode()
    while True:
        try:
            message = encode_message(to_message(push, now=now))
        except ValueError as error:
            return _invalid(str(error))
        body = json.dumps({"message": message}, separators=(",", ":"), ensure_ascii=False)
        before, _, after = body.encode().partition(quoted)
        excess = len(before) + token_bytes + len(after) - _ENVELOPE_BYTES - MAX_MESSAGE_BYTES
        if excess <= 0:
            return before, after
        shorter = _shortened(push, excess)
        if shorter is None:
            return _invalid(f"Message is too big: {excess} bytes over {MAX_MESSAGE_BYTES}.")
        push = shorter


_ENVELOPE_BYTES: Final = len('{"message":}')


def _shortened(push: Push, excess: int) -> Push | None:
    """The push with at least `excess` bytes less text, or None if nothing is left to cut.

    The body goes first, cut at a character and ended with an ellipsis: the app opens the
    whole notice from the link in the data. Then the photo, then the title; the data (notice
    id, link) is never cut.
    """
    if push.body and push.body != ELLIPSIS:
        return replace(push, body=_cut(push.body, excess))
    if push.image_url is not None:
        return replace(push, image_url=None)
    if push.title and push.title != ELLIPSIS:
        return replace(push, title=_cut(push.title, excess))
    return None


def _cut(text: str, excess: int) -> str:
    """`text` at least `excess` bytes shorter in UTF-8, whole characters, with an ellipsis."""
    keep = len(text.encode()) - excess - len(ELLIPSIS.encode())
    return text.encode()[: max(keep, 0)].decode(errors="ignore") + ELLIPSIS


def _invalid(detail: str) -> PushOutcome:
    return PushOutcome(error_code="INVALID_ARGUMENT", detail=detail[:_DETAIL_CHARS])


def error_code_of(http_status: int, payload: object) -> str:
    """FCM's name for a failed send: the FcmError detail's `errorCode` when there is one (as
    FCM documents its errors), else the google.rpc `status`, else one for the HTTP status."""
    error = payload.get("error") if isinstance(payload, Mapping) else None
    if isinstance(error, Mapping):
        details = error.get("details")
        for detail in details if isinstance(details, list) else ():
            if isinstance(detail, Mapping) and detail.get("@type") == FCM_ERROR_TYPE:
                code = detail.get("errorCode")
                if isinstance(code, str) and code:
                    return _FCM_CODE_ALIASES.get(code, code)
        status = error.get("status")
        if isinstance(status, str) and status:
            return _STATUS_CODES.get(status, status)
    if http_status in _HTTP_CODES:
        return _HTTP_CODES[http_status]
    return "UNAVAILABLE" if http_status >= 500 else f"HTTP_{http_status}"


def outcome_of_response(
    http_status: int, body: bytes, retry_after: str | None, *, now: datetime
) -> PushOutcome:
    """The outcome of one `messages:send` answer."""
    try:
        payload = json.loads(body) if body else None
    except ValueError:
        payload = None
    if 200 <= http_status < 300:
        name = payload.get("name") if isinstance(payload, dict) else None
        return PushOutcome(message_id=name if isinstance(name, str) else None)
    code = error_code_of(http_status, payload)
    error = payload.get("error") if isinstance(payload, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if not isinstance(message, str):
        message = body.decode(errors="replace")
    return PushOutcome(
        error_code=code,
        token_invalid=code in TOKEN_INVALID_CODES,
        retryable=code in RETRYABLE_CODES,
        retry_after_s=retry_after_seconds(retry_after, now=now),
        detail=f"HTTP {http_status}: {message}"[:_DETAIL_CHARS],
    )


def outcome_of_transport_failure(detail: str) -> PushOutcome:
    """A send that never got an HTTP answer (refused, reset, timed out): FCM was unavailable
    as far as we can tell, so it is worth trying again."""
    return PushOutcome(error_code="UNAVAILABLE", retryable=True, detail=detail[:_DETAIL_CHARS])
