"""The FCM channel against the FCM sandbox: what arrives, in what order, how fast, and how
each of FCM's errors comes back as an outcome (the channel itself never retries an answer)."""

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import firebase_admin
import pytest

from notifier.channel import Push
from notifier.fcm import encode_message, to_message
from notifier.fcm_http import FcmChannel, fcm_channel
from notifier.firebase import fcm_send_url, make_firebase_app
from notifier.ratelimit import SharedRateLimit
from tests.conftest import CREDENTIALS, Sandbox, Service

PROJECT = os.environ["HEXCAST_FCM_PROJECT_ID"]
PUSH = Push(
    token="tok-0",
    title="Missing person: Lily Chen",
    body="Lily Chen, 7 years. Last seen Westminster Bridge, 2026-11-23 08:15 UTC.",
    data={"type": "missing_person", "notice_id": "n-1", "link": "hexcast://notices/n-1"},
    collapse_key="n-1",
    ttl_seconds=3600,
)


@pytest.fixture
def app(sandbox: Sandbox) -> Iterator[firebase_admin.App]:
    fb_app = make_firebase_app(
        project_id=PROJECT,
        credentials_file=str(CREDENTIALS),
        endpoint=sandbox.url,
        name=f"channel-test-{uuid.uuid4().hex}",
    )
    yield fb_app
    firebase_admin.delete_app(fb_app)


def _channel(
    app: firebase_admin.App,
    sandbox: Sandbox,
    *,
    project: str = PROJECT,
    send_url: str | None = None,
    max_concurrency: int = 50,
    rate_limit: SharedRateLimit | None = None,
) -> FcmChannel:
    return fcm_channel(
        app,
        send_url=send_url or fcm_send_url(sandbox.url, project),
        max_concurrency=max_concurrency,
        timeout_s=10,
        rate_limit=rate_limit,
    )


@pytest.fixture
def channel(app: firebase_admin.App, sandbox: Sandbox) -> Iterator[FcmChannel]:
    fcm = _channel(app, sandbox)
    yield fcm
    fcm.close()


def _pushes(n: int) -> list[Push]:
    titles = ["Missing person: Lily Chen", "寻人启事：Lily Chen", "Persona desaparecida: Lily"]
    return [replace(PUSH, token=f"tok-{i}", title=titles[i % 3]) for i in range(n)]


def _stats(sandbox: Sandbox) -> dict:
    response = sandbox.client.get("/sandbox/stats")
    response.raise_for_status()
    return dict(response.json())


def test_every_push_arrives_once_as_the_sdk_encodes_it(
    channel: FcmChannel, sandbox: Sandbox
) -> None:
    pushes = _pushes(120)
    started = datetime.now(UTC)
    outcomes = channel.send(pushes)
    assert all(o.ok for o in outcomes), outcomes
    received = {m["message"]["token"]: m for m in sandbox.messages()}
    assert len(sandbox.messages()) == len(pushes)
    for push, outcome in zip(pushes, outcomes, strict=True):
        assert outcome.message_id == received[push.token]["name"]
        expected = json.loads(json.dumps(encode_message(to_message(push, now=started))))
        sent = received[push.token]["message"]
        expiry = int(sent["apns"]["headers"].pop("apns-expiration"))
        assert abs(expiry - int(expected["apns"]["headers"].pop("apns-expiration"))) <= 2
        assert sent == expected


def test_outcomes_come_back_in_the_order_of_the_pushes(
    channel: FcmChannel, sandbox: Sandbox
) -> None:
    dead = {"tok-3", "tok-17", "tok-40"}
    sandbox.set_faults(unregistered_tokens=sorted(dead), jitter_ms=20)
    pushes = _pushes(60)
    outcomes = channel.send(pushes)
    assert [p.token for p, o in zip(pushes, outcomes, strict=True) if o.token_invalid] == [
        "tok-3",
        "tok-17",
        "tok-40",
    ]
    assert all(o.ok for p, o in zip(pushes, outcomes, strict=True) if p.token not in dead)


@pytest.mark.parametrize(
    ("code", "retry_after_s", "token_invalid", "retryable"),
    [
        ("UNREGISTERED", None, True, False),
        ("SENDER_ID_MISMATCH", None, True, False),
        ("QUOTA_EXCEEDED", 30, False, True),
        ("QUOTA_EXCEEDED", None, False, True),
        ("UNAVAILABLE", 5, False, True),
        ("UNAVAILABLE", None, False, True),
        ("INTERNAL", None, False, True),
        ("INVALID_ARGUMENT", None, False, False),
        ("THIRD_PARTY_AUTH_ERROR", None, False, False),
    ],
)
def test_each_fcm_error_comes_back_once_as_its_outcome(
    channel: FcmChannel,
    sandbox: Sandbox,
    code: str,
    retry_after_s: int | None,
    token_invalid: bool,
    retryable: bool,
) -> None:
    sandbox.set_faults(error_rate=1.0, error_code=code, retry_after_s=retry_after_s)
    outcomes = channel.send(_pushes(5))
    for outcome in outcomes:
        assert (outcome.error_code, outcome.token_invalid, outcome.retryable) == (
            code,
            token_invalid,
            retryable,
        )
        assert outcome.retry_after_s == retry_after_s
        assert outcome.message_id is None
    assert _stats(sandbox)["received"] == 5, "the channel leaves retries to the dispatcher"


def test_another_projects_sender_is_a_sender_id_mismatch(
    app: firebase_admin.App, sandbox: Sandbox
) -> None:
    fcm = _channel(app, sandbox, project="someone-elses-project")
    try:
        [outcome] = fcm.send([PUSH])
    finally:
        fcm.close()
    assert (outcome.error_code, outcome.token_invalid, outcome.retryable) == (
        "SENDER_ID_MISMATCH",
        True,
        False,
    )


def test_a_message_fcm_refuses_is_invalid_argument_and_the_rest_are_sent(
    channel: FcmChannel, sandbox: Sandbox
) -> None:
    reserved = replace(PUSH, token="tok-bad", data={"from": "hexcast"})  # FCM reserves "from"
    outcomes = channel.send([replace(PUSH, token="tok-a"), reserved, replace(PUSH, token="tok-b")])
    assert [o.error_code for o in outcomes] == [None, "INVALID_ARGUMENT", None]
    assert not outcomes[1].retryable
    assert "from" in outcomes[1].detail
    assert {m["message"]["token"] for m in sandbox.messages()} == {"tok-a", "tok-b"}


def test_a_push_the_sdk_refuses_is_not_sent(channel: FcmChannel, sandbox: Sandbox) -> None:
    outcomes = channel.send([replace(PUSH, ttl_seconds=-5), replace(PUSH, token="tok-ok")])
    assert outcomes[0].error_code == "INVALID_ARGUMENT"
    assert outcomes[1].ok
    assert [m["message"]["token"] for m in sandbox.messages()] == ["tok-ok"]


def test_no_server_at_all_is_unavailable_and_retryable(
    app: firebase_admin.App, sandbox: Sandbox
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    fcm = _channel(app, sandbox, send_url=fcm_send_url(f"http://127.0.0.1:{closed_port}", PROJECT))
    try:
        outcomes = fcm.send(_pushes(3))
    finally:
        fcm.close()
    assert [(o.error_code, o.retryable) for o in outcomes] == [("UNAVAILABLE", True)] * 3
    assert all("connect" in o.detail.lower() for o in outcomes)


def test_a_connection_dropped_before_any_answer_is_tried_once_more(
    app: firebase_admin.App, sandbox: Sandbox
) -> None:
    """A server that reads each request and hangs up without answering: every push costs two
    connections (the send and its one resend), then comes back UNAVAILABLE, retryable."""
    accepted = 0

    def hang_up(listener: socket.socket) -> None:
        nonlocal accepted
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted += 1
            conn.recv(65536)
            conn.close()

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        threading.Thread(target=hang_up, args=(listener,), daemon=True).start()
        url = fcm_send_url(f"http://127.0.0.1:{listener.getsockname()[1]}", PROJECT)
        fcm = _channel(app, sandbox, send_url=url, max_concurrency=1)
        try:
            outcomes = fcm.send(_pushes(3))
        finally:
            fcm.close()
    assert [(o.error_code, o.retryable) for o in outcomes] == [("UNAVAILABLE", True)] * 3
    assert all("Empty reply from server" in o.detail for o in outcomes)
    assert accepted == 6


def test_requests_overlap_up_to_the_concurrency_limit(
    app: firebase_admin.App, sandbox: Sandbox
) -> None:
    sandbox.set_faults(latency_ms=200)
    wide, narrow = (
        _channel(app, sandbox, max_concurrency=40),
        _channel(app, sandbox, max_concurrency=4),
    )
    try:
        started = time.monotonic()
        assert all(o.ok for o in wide.send(_pushes(40)))
        wide_s = time.monotonic() - started
        started = time.monotonic()
        assert all(o.ok for o in narrow.send(_pushes(12)))
        narrow_s = time.monotonic() - started
    finally:
        wide.close()
        narrow.close()
    assert wide_s < 2.0, "40 sends of 200 ms each overlap"
    assert narrow_s >= 3 * 0.2, "never more than 4 in flight: 12 sends take 3 rounds"


def test_one_access_token_serves_many_batches(channel: FcmChannel, sandbox: Sandbox) -> None:
    for _ in range(3):
        assert all(o.ok for o in channel.send(_pushes(10)))
    assert _stats(sandbox)["tokens_issued"] == 1


def test_the_rate_cap_paces_the_sends(
    app: firebase_admin.App, sandbox: Sandbox, broker: Service
) -> None:
    rate = 100.0
    limit = SharedRateLimit(
        os.environ["HEXCAST_BROKER_URL"], key=f"test:send-rate:{uuid.uuid4()}", rate_per_s=rate
    )
    fcm = _channel(app, sandbox, rate_limit=limit)
    try:
        outcomes = fcm.send(_pushes(60))
    finally:
        fcm.close()
    assert all(o.ok for o in outcomes)
    stats = _stats(sandbox)
    spread = stats["last_accepted_at"] - stats["first_accepted_at"]
    assert spread >= (60 - limit.capacity) / rate * 0.9


def test_an_empty_batch_sends_nothing(channel: FcmChannel, sandbox: Sandbox) -> None:
    assert channel.send([]) == []
    assert _stats(sandbox)["received"] == 0
