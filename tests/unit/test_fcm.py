"""What is sent to FCM, and how each FCM answer becomes an outcome that dispatch can act on
(deactivate the token, try again later, or give up)."""

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fcm_sandbox.errors import FCM_ERRORS, fcm_error_body, unauthenticated_body
from fcm_sandbox.validation import parse_send_request
from kit.http import retry_after_seconds
from notifier.channel import Push, PushOutcome
from notifier.fcm import (
    ANDROID_CHANNEL_ID,
    ELLIPSIS,
    MAX_MESSAGE_BYTES,
    encode_message,
    error_code_of,
    outcome_of_response,
    outcome_of_transport_failure,
    request_bodies,
    to_message,
)

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
    return encode_message(to_message(push, now=NOW))


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


def _sent(body: bytes | PushOutcome) -> Any:
    assert isinstance(body, bytes), body
    return json.loads(body)


def test_each_body_is_the_sdks_encoding_of_its_push() -> None:
    pushes = [
        replace(PUSH, token=f"tok-{i}", title=title)
        for i, title in enumerate(["Missing person: Lily Chen", "寻人启事：Lily Chen"] * 3)
    ]
    bodies = request_bodies(pushes, now=NOW)
    assert [_sent(b) for b in bodies] == [{"message": _encoded(p)} for p in pushes]


text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)


@given(
    tokens=st.lists(text.filter(bool), min_size=1, max_size=5),
    title=text,
    body=text,
    data=st.dictionaries(text.filter(bool), text, max_size=3),
)
def test_any_text_and_tokens_are_encoded_as_the_sdk_encodes_them(
    tokens: list[str], title: str, body: str, data: dict[str, str]
) -> None:
    pushes = [replace(PUSH, token=t, title=title, body=body, data=data) for t in tokens]
    assert [_sent(b) for b in request_bodies(pushes, now=NOW)] == [
        {"message": _encoded(p)} for p in pushes
    ]


def test_a_push_the_sdk_refuses_is_invalid_argument_and_the_others_are_sent() -> None:
    refused = replace(PUSH, token="tok-2", ttl_seconds=-1)
    bodies = request_bodies(
        [replace(PUSH, token="tok-1"), refused, replace(PUSH, token=""), PUSH], now=NOW
    )
    assert _sent(bodies[0])["message"]["token"] == "tok-1"
    assert _sent(bodies[3])["message"]["token"] == PUSH.token
    for outcome in bodies[1:3]:
        assert isinstance(outcome, PushOutcome)
        assert (outcome.error_code, outcome.retryable, outcome.token_invalid) == (
            "INVALID_ARGUMENT",
            False,
            False,
        )
    assert isinstance(bodies[2], PushOutcome)
    assert "token" in bodies[2].detail


@pytest.mark.parametrize("code", sorted(FCM_ERRORS))
def test_fcms_error_code_is_read_from_the_fcm_error_detail(code: str) -> None:
    assert error_code_of(FCM_ERRORS[code].http_status, fcm_error_body(code)) == code


@pytest.mark.parametrize(
    ("status", "payload", "code"),
    [
        (
            401,
            {"error": {"status": "UNAUTHENTICATED", "details": [{"errorCode": "APNS_AUTH_ERROR"}]}},
            "UNAUTHENTICATED",
        ),
        (
            401,
            {
                "error": {
                    "status": "UNAUTHENTICATED",
                    "details": [
                        {
                            "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                            "errorCode": "APNS_AUTH_ERROR",
                        }
                    ],
                }
            },
            "THIRD_PARTY_AUTH_ERROR",
        ),
        (401, unauthenticated_body(), "UNAUTHENTICATED"),
        (429, {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}, "QUOTA_EXCEEDED"),
        (503, {"error": {"status": "UNAVAILABLE"}}, "UNAVAILABLE"),
        (403, {"error": {"status": "PERMISSION_DENIED"}}, "PERMISSION_DENIED"),
        (429, None, "QUOTA_EXCEEDED"),
        (500, "<html>oops</html>", "INTERNAL"),
        (502, None, "UNAVAILABLE"),
        (504, {"error": "gateway"}, "UNAVAILABLE"),
        (404, None, "NOT_FOUND"),
        (418, None, "HTTP_418"),
    ],
)
def test_without_an_fcm_error_detail_the_status_names_the_error(
    status: int, payload: object, code: str
) -> None:
    assert error_code_of(status, payload) == code


@pytest.mark.parametrize(
    ("code", "token_invalid", "retryable"),
    [
        ("UNREGISTERED", True, False),
        ("SENDER_ID_MISMATCH", True, False),
        ("QUOTA_EXCEEDED", False, True),
        ("UNAVAILABLE", False, True),
        ("INTERNAL", False, True),
        ("INVALID_ARGUMENT", False, False),
        ("THIRD_PARTY_AUTH_ERROR", False, False),
    ],
)
def test_each_fcm_error_says_what_to_do(code: str, token_invalid: bool, retryable: bool) -> None:
    body = json.dumps(fcm_error_body(code)).encode()
    outcome = outcome_of_response(FCM_ERRORS[code].http_status, body, None, now=NOW)
    assert (outcome.error_code, outcome.token_invalid, outcome.retryable) == (
        code,
        token_invalid,
        retryable,
    )
    assert not outcome.ok
    assert outcome.message_id is None
    assert outcome.retry_after_s is None
    assert FCM_ERRORS[code].message in outcome.detail


def test_a_refused_access_token_is_retryable() -> None:
    outcome = outcome_of_response(401, json.dumps(unauthenticated_body()).encode(), None, now=NOW)
    assert (outcome.error_code, outcome.retryable, outcome.token_invalid) == (
        "UNAUTHENTICATED",
        True,
        False,
    )


def test_success_carries_fcms_message_name() -> None:
    name = "projects/p/messages/0:1700000000%31bd1c9631bd1c96"
    outcome = outcome_of_response(200, json.dumps({"name": name}).encode(), None, now=NOW)
    assert outcome == PushOutcome(message_id=name)
    assert outcome.ok


def test_the_servers_retry_after_rides_along() -> None:
    body = json.dumps(fcm_error_body("QUOTA_EXCEEDED")).encode()
    assert outcome_of_response(429, body, "30", now=NOW).retry_after_s == 30.0
    later = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    assert outcome_of_response(503, body, later, now=NOW).retry_after_s == 90.0


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("-3", None),
        ("nan", None),
        ("soon", None),
        ("", None),
        ("Mon, 23 Nov 2026 09:01:00 GMT", 60.0),
        ("Mon, 23 Nov 2026 08:00:00 GMT", 0.0),
        ("Monday, 23-Nov-26 09:00:30 GMT", 30.0),
    ],
)
def test_retry_after_is_seconds_or_an_http_date(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header, now=NOW) == seconds


def test_an_unreadable_error_body_is_kept_bounded_in_the_detail() -> None:
    outcome = outcome_of_response(503, b"x" * 5000, None, now=NOW)
    assert outcome.error_code == "UNAVAILABLE"
    assert outcome.retryable
    assert len(outcome.detail) == 500


def test_no_answer_at_all_is_unavailable_and_retryable() -> None:
    outcome = outcome_of_transport_failure("curl error 56: Connection reset by peer" + "." * 600)
    assert (outcome.error_code, outcome.retryable, outcome.token_invalid) == (
        "UNAVAILABLE",
        True,
        False,
    )
    assert outcome.detail.startswith("curl error 56: Connection reset by peer")
    assert len(outcome.detail) == 500


def _sandbox_accepts(body: bytes | PushOutcome) -> dict[str, Any]:
    """The message, after the FCM sandbox's validation, size limit included, let it through."""
    assert isinstance(body, bytes), body
    return parse_send_request(json.loads(body)).message


def test_a_long_notice_in_three_byte_characters_is_cut_to_fcms_size_limit() -> None:
    name = "王" * 200
    push = replace(
        PUSH,
        title=f"寻人启事：{name}",
        body="最后出现于人民广场。" * 100,
        image_url="https://agency.example/" + "p" * 2000,
    )

    [body] = request_bodies([push], now=NOW)

    message = _sandbox_accepts(body)
    assert len(body) - len('{"message":}') <= MAX_MESSAGE_BYTES
    notification = message["notification"]
    assert notification["title"] == push.title, "the name is never cut"
    assert notification["body"].endswith(ELLIPSIS)
    assert push.body.startswith(notification["body"].removesuffix(ELLIPSIS))
    assert message["data"] == dict(push.data), "the link to the whole notice stays"


def test_a_message_that_fits_is_sent_as_it_is() -> None:
    push = replace(PUSH, body="最后出现于人民广场。" * 50)
    [body] = request_bodies([push], now=NOW)
    assert _sent(body) == {"message": _encoded(push)}


def test_a_long_token_gets_a_message_fitted_to_it() -> None:
    push = replace(PUSH, body="x" * 3000)
    short, long = request_bodies([push, replace(push, token="t" * 2048)], now=NOW)
    assert len(_sandbox_accepts(long)["notification"]["body"]) < len(
        _sandbox_accepts(short)["notification"]["body"]
    )


@given(
    title=st.text(st.characters(exclude_categories=["Cs"]), max_size=300),
    body=st.text(st.characters(exclude_categories=["Cs"]), max_size=1500),
    image=st.none() | st.text(st.sampled_from("aé😀/"), max_size=2048),
    token=st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=300),
)
def test_every_message_fits_and_keeps_what_it_can(
    title: str, body: str, image: str | None, token: str
) -> None:
    push = replace(
        PUSH,
        token=token,
        title=title,
        body=body,
        image_url=None if image is None else "https://agency.example/" + image,
    )
    [encoded] = request_bodies([push], now=NOW)
    message = _sandbox_accepts(encoded)
    sent = message["notification"]
    if sent.get("body", "") != body:
        assert sent["body"].endswith(ELLIPSIS)
        assert body.startswith(sent["body"].removesuffix(ELLIPSIS))
    if sent.get("title", "") != title:
        assert "image" not in sent and sent.get("body") == ELLIPSIS
    assert message["data"] == dict(push.data)
