"""The real firebase-admin SDK against `python -m fcm_sandbox` running as a subprocess."""

import asyncio
import datetime
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import firebase_admin
import google.auth.exceptions
import google.auth.transport.requests
import httpx
import pytest
from firebase_admin import exceptions, messaging
from google.oauth2 import service_account

from fcm_sandbox.credentials import write_service_account
from notifier.firebase import make_firebase_app
from tests.fcm_sandbox.process import PROJECT, Server, run_sandbox


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # These tests send to made-up tokens; FCM's token rules are tested in test_devices.py.
    with run_sandbox(tmp_path_factory.mktemp("fcm_sandbox"), "--accept-any-token") as server:
        yield server


@pytest.fixture(autouse=True)
def clean(server: Server) -> None:
    httpx.delete(f"{server.url}/sandbox/messages").raise_for_status()
    httpx.delete(f"{server.url}/sandbox/faults").raise_for_status()


def _app(server: Server, project_id: str = PROJECT) -> firebase_admin.App:
    return make_firebase_app(
        project_id=project_id,
        credentials_file=str(server.credentials_file),
        endpoint=server.url,
        name=f"sandbox-test-{uuid.uuid4().hex}",
    )


@pytest.fixture
def app(server: Server) -> Iterator[firebase_admin.App]:
    fb_app = _app(server)
    yield fb_app
    firebase_admin.delete_app(fb_app)


@pytest.fixture(scope="module")
def bearer(server: Server) -> dict[str, str]:
    """An access token from the sandbox via google-auth's own service-account token exchange."""
    creds = service_account.Credentials.from_service_account_file(
        str(server.credentials_file),
        scopes=["https://www.googleapis.com/auth/firebase.messaging"],
    )
    creds.refresh(google.auth.transport.requests.Request())
    return {"Authorization": f"Bearer {creds.token}"}


def _put_faults(server: Server, **faults: Any) -> None:
    httpx.put(f"{server.url}/sandbox/faults", json=faults).raise_for_status()


def _messages(server: Server, **params: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{server.url}/sandbox/messages", params=params)
    response.raise_for_status()
    records: list[dict[str, Any]] = response.json()
    return records


def _stats(server: Server) -> dict[str, Any]:
    stats: dict[str, Any] = httpx.get(f"{server.url}/sandbox/stats").json()
    return stats


def test_sdk_send_is_recorded(server: Server, app: firebase_admin.App) -> None:
    message = messaging.Message(
        fid="fid-1",
        data={"alert_id": "42"},
        notification=messaging.Notification(title="Missing person", body="Near you"),
        android=messaging.AndroidConfig(
            priority="high", ttl=datetime.timedelta(seconds=3.5), collapse_key="alert-42"
        ),
    )

    name = messaging.send(message, app=app)

    assert name.startswith(f"projects/{PROJECT}/messages/")
    [record] = _messages(server, token="fid-1")
    assert record["name"] == name
    assert datetime.datetime.fromisoformat(record["received_at"]).tzinfo is not None
    assert record["message"] == {
        "fid": "fid-1",
        "data": {"alert_id": "42"},
        "notification": {"title": "Missing person", "body": "Near you"},
        "android": {"priority": "high", "ttl": "3.500000000s", "collapse_key": "alert-42"},
    }
    assert _messages(server, token="someone-else") == []


def test_sdk_send_each_records_every_message(server: Server, app: firebase_admin.App) -> None:
    messages = [
        messaging.Message(fid="fid-a", data={"n": "1"}),
        messaging.Message(fid="fid-b", data={"n": "2"}),
        messaging.Message(topic="area-8928308280fffff", data={"n": "3"}),
    ]

    batch = messaging.send_each(messages, app=app)

    assert batch.success_count == 3
    assert sorted(r["message"]["data"]["n"] for r in _messages(server)) == ["1", "2", "3"]
    stats = _stats(server)
    assert (stats["received"], stats["accepted"], stats["rejected"]) == (3, 3, {})
    # Two devices; a topic is not one.
    assert (stats["devices_reached"], stats["devices_reached_more_than_once"]) == (2, 0)
    messaging.send(messages[0], app=app)
    stats = _stats(server)
    assert (stats["devices_reached"], stats["devices_reached_more_than_once"]) == (2, 1)


def test_dry_run_is_validated_not_recorded(server: Server, app: firebase_admin.App) -> None:
    name = messaging.send(messaging.Message(fid="fid-1"), dry_run=True, app=app)

    assert name == f"projects/{PROJECT}/messages/fake_message_id"
    assert _messages(server) == []
    assert _stats(server)["validated_only"] == 1


def test_non_string_data_is_invalid_argument(server: Server, bearer: dict[str, str]) -> None:
    body = {"message": {"token": "tok-1", "data": {"count": 3}}}

    response = httpx.post(server.send_url, json=body, headers=bearer)

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT")
    assert error["details"][0]["errorCode"] == "INVALID_ARGUMENT"
    assert error["details"][1]["fieldViolations"][0]["field"] == "message.data[0].value"
    assert _stats(server)["rejected"] == {"INVALID_ARGUMENT": 1}


def test_oversized_message_raises_invalid_argument(server: Server, app: firebase_admin.App) -> None:
    message = messaging.Message(fid="fid-1", data={"blob": "x" * 4096})

    with pytest.raises(exceptions.InvalidArgumentError, match="too big"):
        messaging.send(message, app=app)
    assert _messages(server) == []


def test_unregistered_device_raises_unregistered_error(
    server: Server, app: firebase_admin.App
) -> None:
    _put_faults(server, unregistered_tokens=["fid-dead"])

    with pytest.raises(messaging.UnregisteredError):
        messaging.send(messaging.Message(fid="fid-dead"), app=app)
    batch = messaging.send_each(
        [messaging.Message(fid="fid-dead"), messaging.Message(fid="fid-alive")], app=app
    )

    dead, alive = batch.responses
    assert isinstance(dead.exception, messaging.UnregisteredError)
    assert alive.success
    assert [r["message"]["fid"] for r in _messages(server)] == ["fid-alive"]


def test_async_send_each_gets_the_same_errors(server: Server, app: firebase_admin.App) -> None:
    """send_each_async goes through httpx rather than requests; its error parsing must agree."""
    _put_faults(server, unregistered_tokens=["fid-dead"])

    async def send() -> messaging.BatchResponse:
        try:
            return await messaging.send_each_async(
                [messaging.Message(fid="fid-alive"), messaging.Message(fid="fid-dead")], app=app
            )
        finally:
            # The SDK's httpx pool is bound to this loop; delete_app would close it in a new one.
            await messaging._get_messaging_service(app)._async_client.aclose()

    batch = asyncio.run(send())

    alive, dead = batch.responses
    assert alive.success
    assert isinstance(dead.exception, messaging.UnregisteredError)
    assert [r["message"]["fid"] for r in _messages(server)] == ["fid-alive"]


def test_quota_exceeded_carries_retry_after(
    server: Server, app: firebase_admin.App, bearer: dict[str, str]
) -> None:
    # Without Retry-After the SDK's transport does not retry a 429: one attempt, one error.
    _put_faults(server, error_rate=1.0, error_code="QUOTA_EXCEEDED")
    with pytest.raises(messaging.QuotaExceededError):
        messaging.send(messaging.Message(fid="fid-1"), app=app)

    _put_faults(server, error_rate=1.0, error_code="QUOTA_EXCEEDED", retry_after_s=7)
    response = httpx.post(server.send_url, json={"message": {"token": "t"}}, headers=bearer)

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert _stats(server)["rejected"] == {"QUOTA_EXCEEDED": 2}


def test_project_mismatch_raises_sender_id_mismatch(server: Server) -> None:
    other = _app(server, project_id="someone-elses-project")
    try:
        with pytest.raises(messaging.SenderIdMismatchError):
            messaging.send(messaging.Message(fid="fid-1"), app=other)
    finally:
        firebase_admin.delete_app(other)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-issued-here"}, {"Authorization": "Basic dXNlcjpwdw=="}],
)
def test_missing_or_wrong_bearer_is_unauthenticated(
    server: Server, headers: dict[str, str]
) -> None:
    response = httpx.post(server.send_url, json={"message": {"token": "t"}}, headers=headers)

    assert response.status_code == 401
    assert response.json()["error"]["status"] == "UNAUTHENTICATED"
    assert _stats(server)["rejected"] == {"UNAUTHENTICATED": 1}


def test_token_endpoint_refuses_bad_grants(server: Server) -> None:
    wrong_type = httpx.post(f"{server.url}/token", data={"grant_type": "password"})
    garbage = httpx.post(
        f"{server.url}/token",
        data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": "x.y.z"},
    )

    assert (wrong_type.status_code, wrong_type.json()["error"]) == (400, "unsupported_grant_type")
    assert (garbage.status_code, garbage.json()["error"]) == (400, "invalid_grant")
    assert _stats(server)["token_grants_refused"] == 2


def test_token_endpoint_refuses_a_jwt_signed_by_an_unknown_key(
    server: Server, tmp_path: Path
) -> None:
    stranger = write_service_account(
        tmp_path / "stranger.json", project_id=PROJECT, token_uri=f"{server.url}/token"
    )
    creds = service_account.Credentials.from_service_account_info(
        stranger, scopes=["https://www.googleapis.com/auth/firebase.messaging"]
    )
    with pytest.raises(google.auth.exceptions.RefreshError, match="Invalid JWT Signature"):
        creds.refresh(google.auth.transport.requests.Request())


def test_inspection_routes_need_the_token_when_one_is_set(tmp_path: Path) -> None:
    with run_sandbox(tmp_path, "--inspect-token", "s3cret") as guarded:
        anonymous = httpx.get(f"{guarded.url}/sandbox/messages")
        wrong = httpx.put(
            f"{guarded.url}/sandbox/faults",
            json={"latency_ms": 1},
            headers={"Authorization": "Bearer nope"},
        )
        right = httpx.get(
            f"{guarded.url}/sandbox/messages", headers={"Authorization": "Bearer s3cret"}
        )
        health = httpx.get(f"{guarded.url}/healthz")

    assert (anonymous.status_code, wrong.status_code) == (401, 401)
    assert (right.status_code, right.json()) == (200, [])
    assert health.status_code == 200


def test_a_sandbox_reachable_from_elsewhere_refuses_to_start_without_a_token(
    tmp_path: Path,
) -> None:
    started = subprocess.run(
        [sys.executable, "-m", "fcm_sandbox", "--host", "0.0.0.0", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=30,
        env={k: v for k, v in os.environ.items() if k != "FCM_SANDBOX_INSPECT_TOKEN"},
    )

    assert started.returncode == 2
    assert "--inspect-token" in started.stderr


def test_injected_latency_overlaps(server: Server, bearer: dict[str, str]) -> None:
    _put_faults(server, latency_ms=300)

    async def burst() -> list[int]:
        async with httpx.AsyncClient(headers=bearer) as client:
            responses = await asyncio.gather(
                *(
                    client.post(server.send_url, json={"message": {"token": f"t{i}"}})
                    for i in range(10)
                )
            )
        return [r.status_code for r in responses]

    started = time.monotonic()
    statuses = asyncio.run(burst())
    elapsed = time.monotonic() - started

    assert statuses == [200] * 10
    assert 0.3 <= elapsed < 1.5


def test_faults_are_read_back_and_reset(server: Server) -> None:
    url = f"{server.url}/sandbox/faults"
    wanted = {
        "latency_ms": 1.0,
        "jitter_ms": 0.0,
        "error_rate": 0.5,
        "error_code": "INTERNAL",
        "retry_after_s": None,
        "unregistered_tokens": ["a"],
        "seed": 3,
    }

    assert httpx.put(url, json=wanted).json() == wanted
    assert httpx.get(url).json() == wanted
    refused = httpx.put(url, json={"error_code": "NOPE"})
    assert refused.status_code == 400
    assert httpx.get(url).json() == wanted
    assert httpx.delete(url).json()["error_rate"] == 0.0


def test_reset_keeps_access_tokens_valid(server: Server, bearer: dict[str, str]) -> None:
    body = {"message": {"token": "t"}}
    assert httpx.post(server.send_url, json=body, headers=bearer).status_code == 200

    assert httpx.delete(f"{server.url}/sandbox/messages").json() == {"deleted": 1}
    assert _stats(server)["received"] == 0
    assert httpx.post(server.send_url, json=body, headers=bearer).status_code == 200


def test_stats_stamp_the_first_and_last_recorded_message(
    server: Server, bearer: dict[str, str]
) -> None:
    assert (_stats(server)["first_accepted_at"], _stats(server)["last_accepted_at"]) == (None, None)
    before = time.time()
    for token in ("first", "second"):
        assert httpx.post(server.send_url, json={"message": {"token": token}}, headers=bearer)
        time.sleep(0.05)
    after = time.time()
    stats = _stats(server)
    assert before <= stats["first_accepted_at"] < stats["last_accepted_at"] <= after
    assert stats["last_accepted_at"] - stats["first_accepted_at"] >= 0.05
    httpx.delete(f"{server.url}/sandbox/messages").raise_for_status()
    assert _stats(server)["first_accepted_at"] is None


def test_other_paths_and_methods_of_the_send_route_are_not_sends(
    server: Server, bearer: dict[str, str]
) -> None:
    assert httpx.get(server.send_url, headers=bearer).status_code == 404
    nested = f"{server.url}/v1/projects/{PROJECT}/x/messages:send"
    assert httpx.post(nested, json={}, headers=bearer).status_code == 404
    assert _stats(server)["received"] == 0
