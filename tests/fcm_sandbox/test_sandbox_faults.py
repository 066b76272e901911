"""Fault config parsing and decisions, and that every error body maps to the right SDK error."""

import json
import random
from typing import Any

import httpx
import pytest
import requests
from firebase_admin import _utils, exceptions, messaging

from fcm_sandbox.errors import FCM_ERROR_TYPE, FCM_ERRORS, fcm_error_body, unauthenticated_body
from fcm_sandbox.faults import NO_FAULT, FaultConfig, decide_fault, parse_faults

SDK_ERROR_TYPES: dict[str, type[exceptions.FirebaseError]] = {
    "INVALID_ARGUMENT": exceptions.InvalidArgumentError,
    "THIRD_PARTY_AUTH_ERROR": messaging.ThirdPartyAuthError,
    "SENDER_ID_MISMATCH": messaging.SenderIdMismatchError,
    "UNREGISTERED": messaging.UnregisteredError,
    "QUOTA_EXCEEDED": messaging.QuotaExceededError,
    "INTERNAL": exceptions.InternalError,
    "UNAVAILABLE": exceptions.UnavailableError,
}


def _sdk_error_from_requests(status: int, body: dict[str, Any]) -> exceptions.FirebaseError:
    """What firebase-admin's sync send raises for this response (its handlers are private)."""
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    error = requests.HTTPError(response=response)
    return _utils.handle_platform_error_from_requests(
        error, messaging._MessagingService._build_fcm_error_requests
    )


def _sdk_error_from_httpx(status: int, body: dict[str, Any]) -> exceptions.FirebaseError:
    """What firebase-admin's async send (httpx) raises for this response."""
    request = httpx.Request("POST", "http://sandbox/v1/projects/p/messages:send")
    response = httpx.Response(status, json=body, request=request)
    error = httpx.HTTPStatusError("error", request=request, response=response)
    return _utils.handle_platform_error_from_httpx(
        error, messaging._MessagingService._build_fcm_error_httpx
    )


def test_every_error_code_has_an_expected_sdk_type() -> None:
    assert set(SDK_ERROR_TYPES) == set(FCM_ERRORS)


@pytest.mark.parametrize("code", sorted(FCM_ERRORS))
@pytest.mark.parametrize("to_error", [_sdk_error_from_requests, _sdk_error_from_httpx])
def test_fcm_errors_become_the_sdk_exception(code: str, to_error: Any) -> None:
    body = fcm_error_body(code)
    error = to_error(FCM_ERRORS[code].http_status, body)
    assert type(error) is SDK_ERROR_TYPES[code]
    assert str(error) == FCM_ERRORS[code].message


def test_field_violations_ride_along_with_the_fcm_error() -> None:
    body = fcm_error_body("INVALID_ARGUMENT", "bad value", field="message.data[0].value")
    assert body["error"]["details"] == [
        {"@type": FCM_ERROR_TYPE, "errorCode": "INVALID_ARGUMENT"},
        {
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": "message.data[0].value", "description": "bad value"}],
        },
    ]
    assert type(_sdk_error_from_requests(400, body)) is exceptions.InvalidArgumentError


def test_unauthenticated_becomes_unauthenticated_error() -> None:
    assert type(_sdk_error_from_requests(401, unauthenticated_body())) is (
        exceptions.UnauthenticatedError
    )


def test_parse_faults_defaults_and_round_trip() -> None:
    assert parse_faults({}) == FaultConfig()
    config = parse_faults(
        {
            "latency_ms": 5,
            "jitter_ms": 2.5,
            "error_rate": 0.25,
            "error_code": "QUOTA_EXCEEDED",
            "retry_after_s": 3,
            "unregistered_tokens": ["b", "a"],
            "seed": 7,
        }
    )
    assert config.unregistered_tokens == frozenset({"a", "b"})
    assert parse_faults(json.loads(json.dumps(config.to_json()))) == config


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"latency": 5},
        {"latency_ms": -1},
        {"latency_ms": "5"},
        {"latency_ms": float("inf")},
        {"error_rate": float("nan")},
        {"jitter_ms": True},
        {"error_rate": 1.5},
        {"error_code": "NOT_A_CODE"},
        {"retry_after_s": 1.5},
        {"retry_after_s": -1},
        {"unregistered_tokens": "t"},
        {"unregistered_tokens": [1]},
        {"seed": "x"},
    ],
)
def test_parse_faults_refuses(body: object) -> None:
    with pytest.raises(ValueError):
        parse_faults(body)


def test_no_faults_is_free() -> None:
    assert decide_fault(FaultConfig(), random.Random(0), "t") is NO_FAULT


def test_unregistered_tokens_always_fail_without_retry_after() -> None:
    config = FaultConfig(unregistered_tokens=frozenset({"dead"}), retry_after_s=9)
    rng = random.Random(0)
    assert decide_fault(config, rng, "dead").error_code == "UNREGISTERED"
    assert decide_fault(config, rng, "dead").retry_after_s is None
    assert decide_fault(config, rng, "alive") is NO_FAULT
    assert decide_fault(config, rng, None) is NO_FAULT


@pytest.mark.parametrize(
    ("code", "retry_after"),
    [("QUOTA_EXCEEDED", 4), ("UNAVAILABLE", 4), ("INTERNAL", None), ("INVALID_ARGUMENT", None)],
)
def test_retry_after_only_on_429_and_503(code: str, retry_after: int | None) -> None:
    config = FaultConfig(error_rate=1.0, error_code=code, retry_after_s=4)
    decision = decide_fault(config, random.Random(0), "t")
    assert decision.error_code == code
    assert decision.retry_after_s == retry_after


def test_error_rate_is_seeded_and_roughly_honoured() -> None:
    config = FaultConfig(error_rate=0.3, seed=11)

    def codes() -> list[str | None]:
        rng = random.Random(config.seed)
        return [decide_fault(config, rng, "t").error_code for _ in range(2000)]

    first = codes()
    assert first == codes()
    assert 0.25 < first.count("UNAVAILABLE") / len(first) < 0.35


def test_latency_and_jitter() -> None:
    config = FaultConfig(latency_ms=100, jitter_ms=50)
    rng = random.Random(3)
    delays = [decide_fault(config, rng, "t").delay_s for _ in range(500)]
    assert all(0.1 <= d <= 0.15 for d in delays)
    assert max(delays) - min(delays) > 0.04
