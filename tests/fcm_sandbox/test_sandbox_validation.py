"""FCM v1 send validation: what firebase-admin emits passes, what FCM refuses is refused."""

import datetime
import json
from typing import Any

import pytest
from firebase_admin import messaging

from fcm_sandbox.validation import (
    MAX_PAYLOAD_BYTES,
    InvalidMessage,
    parse_duration,
    parse_send_request,
    payload_size,
)


def _sdk_encoded(message: messaging.Message) -> dict[str, Any]:
    """The JSON firebase-admin would POST (its encoder is private, but it is the ground truth)."""
    encoded: dict[str, Any] = messaging._MessagingService.encode_message(message)
    return encoded


def _request(**message: Any) -> dict[str, Any]:
    return {"message": message}


def test_accepts_everything_the_sdk_encodes() -> None:
    message = messaging.Message(
        fid="fid-1",
        data={"alert_id": "42", "kind": "missing_person"},
        notification=messaging.Notification(
            title="Missing", body="Have you seen", image="https://x/i.png"
        ),
        android=messaging.AndroidConfig(
            priority="high",
            ttl=datetime.timedelta(seconds=3.5),
            collapse_key="alert-42",
            data={"extra": "1"},
            notification=messaging.AndroidNotification(channel_id="alerts", priority="max"),
            fcm_options=messaging.AndroidFCMOptions(analytics_label="a"),
        ),
        apns=messaging.APNSConfig(headers={"apns-priority": "10"}),
        webpush=messaging.WebpushConfig(data={"k": "v"}),
        fcm_options=messaging.FCMOptions(analytics_label="b"),
    )
    encoded = _sdk_encoded(message)
    assert encoded["android"]["priority"] == "high"
    assert encoded["android"]["ttl"] == "3.500000000s"

    parsed = parse_send_request({"message": encoded, "validate_only": True})

    assert parsed.message == encoded
    assert parsed.device == "fid-1"
    assert parsed.validate_only is True


@pytest.mark.parametrize(
    ("target", "device"),
    [("token", "tok-1"), ("fid", "tok-1"), ("topic", None), ("condition", None)],
)
def test_device_is_the_token_or_fid(target: str, device: str | None) -> None:
    value = "'a' in topics" if target == "condition" else "tok-1"
    assert parse_send_request(_request(**{target: value})).device == device


def test_proto_json_spellings_and_nulls_are_understood() -> None:
    parsed = parse_send_request(
        {
            "validateOnly": False,
            "message": {
                "token": "t",
                "topic": None,
                "android": {"collapseKey": "c", "priority": "NORMAL", "directBootOk": True},
            },
        }
    )
    assert parsed.device == "t"
    assert parsed.validate_only is False


@pytest.mark.parametrize("priority", ["high", "HIGH", "normal", "NORMAL"])
def test_android_priority_accepts_sdk_and_proto_spellings(priority: str) -> None:
    parse_send_request(_request(token="t", android={"priority": priority}))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "request"),
        ({}, "message"),
        ({"message": {"token": "t"}, "validate_only": "yes"}, "validate_only"),
        ({"message": {"token": "t"}, "dry_run": True}, "request"),
        ({"message": []}, "message"),
        (_request(), "message"),
        (_request(token="t", topic="news"), "message.topic"),
        (_request(token=""), "message.token"),
        (_request(token=7), "message.token"),
        (_request(topic="/topics/news"), "message.topic"),
        (_request(token="t", recipient="x"), "message"),
        (_request(token="t", data={"k": 1}), "message.data[0].value"),
        (_request(token="t", data={"a": "1", "b": None}), "message.data[1].value"),
        (_request(token="t", data=["k"]), "message.data"),
        (_request(token="t", data={"from": "x"}), "message.data[0].key"),
        (_request(token="t", data={"notification": "x"}), "message.data[0].key"),
        (_request(token="t", data={"message_type": "x"}), "message.data[0].key"),
        (_request(token="t", data={"google.c.a": "x"}), "message.data[0].key"),
        (_request(token="t", data={"gcm.n.e": "x"}), "message.data[0].key"),
        (_request(token="t", notification={"title": 1}), "message.notification.title"),
        (_request(token="t", notification={"image": ["x"]}), "message.notification.image"),
        (_request(token="t", notification={"sound": "x"}), "message.notification"),
        (_request(token="t", notification="hi"), "message.notification"),
        (_request(token="t", android={"priority": "urgent"}), "message.android.priority"),
        (_request(token="t", android={"priority": 10}), "message.android.priority"),
        (_request(token="t", android={"ttl": "3600"}), "message.android.ttl"),
        (_request(token="t", android={"ttl": 3600}), "message.android.ttl"),
        (_request(token="t", android={"ttl": "-1s"}), "message.android.ttl"),
        (_request(token="t", android={"collapse_key": 1}), "message.android.collapse_key"),
        (_request(token="t", android={"direct_boot_ok": "yes"}), "message.android.direct_boot_ok"),
        (_request(token="t", android={"data": {"k": 1}}), "message.android.data[0].value"),
        (
            _request(token="t", android={"collapse_key": "a", "collapseKey": "b"}),
            "message.android.collapse_key",
        ),
        (_request(token="t", apns="x"), "message.apns"),
    ],
)
def test_refuses_what_fcm_refuses(body: object, field: str) -> None:
    with pytest.raises(InvalidMessage) as caught:
        parse_send_request(body)
    assert caught.value.field == field


def test_payload_limit_is_on_the_message_json() -> None:
    message: dict[str, Any] = {"token": "t", "data": {"k": ""}}
    message["data"]["k"] = "x" * (MAX_PAYLOAD_BYTES - payload_size(message))
    assert payload_size(message) == MAX_PAYLOAD_BYTES
    parse_send_request({"message": message})

    message["data"]["k"] += "x"
    with pytest.raises(InvalidMessage, match="too big"):
        parse_send_request({"message": message})


def test_payload_size_counts_utf8_bytes() -> None:
    assert payload_size({"k": "é"}) == len('{"k":"é"}'.encode())


def test_lone_surrogates_are_refused() -> None:
    with pytest.raises(InvalidMessage, match="surrogate"):
        parse_send_request(json.loads('{"message": {"token": "t", "data": {"k": "\\ud800"}}}'))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0s", 0.0), ("3600s", 3600.0), ("3.5s", 3.5), ("1.000000001s", 1.000000001)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text, "ttl") == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "s", "1", "1.s", "1.0000000001s", "-3s", "1m", " 1s"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(InvalidMessage):
        parse_duration(text, "ttl")
