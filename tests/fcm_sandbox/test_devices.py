"""Virtual devices and FCM's token rules, seen through the stock firebase-admin API.

The firebase app is built as the README shows a team without hexcast doing it: a
service-account file from the sandbox and the messaging service's send URL pointed at it.
"""

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import firebase_admin
import httpx
import pytest
from firebase_admin import credentials, exceptions, messaging

from fcm_sandbox.devices import FID_RE, TOKEN_RE
from tests.fcm_sandbox.process import PROJECT, Server, run_sandbox

UNKNOWN_TOKEN = "dOw3QeC2QyeQ6y1nJ9N0nT:APA91b" + "F" * 134  # FCM's shape, never issued
# firebase-admin 7 prefers FIDs, but registration tokens are what these tests are about.
TOKENS_DEPRECATED = pytest.mark.filterwarnings("ignore:MulticastMessage.tokens is deprecated")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The sandbox as started by default: FCM's token rules."""
    with run_sandbox(tmp_path_factory.mktemp("strict")) as server:
        yield server


@pytest.fixture(autouse=True)
def clean(server: Server) -> None:
    httpx.delete(f"{server.url}/sandbox/messages").raise_for_status()
    httpx.delete(f"{server.url}/sandbox/faults").raise_for_status()
    httpx.delete(f"{server.url}/sandbox/devices").raise_for_status()


def _firebase_app(server: Server) -> firebase_admin.App:
    app = firebase_admin.initialize_app(
        credentials.Certificate(str(server.credentials_file)),
        {"projectId": PROJECT},
        name=f"devices-{uuid.uuid4().hex}",
    )
    messaging._get_messaging_service(app)._fcm_url = server.send_url
    return app


@pytest.fixture
def app(server: Server) -> Iterator[firebase_admin.App]:
    fb_app = _firebase_app(server)
    yield fb_app
    firebase_admin.delete_app(fb_app)


def _install(server: Server, count: int = 1) -> list[dict[str, str]]:
    response = httpx.post(f"{server.url}/sandbox/devices", json={"count": count})
    assert response.status_code == 201, response.text
    devices: list[dict[str, str]] = response.json()["devices"]
    return devices


def _device(server: Server, address: str) -> dict[str, Any]:
    response = httpx.get(f"{server.url}/sandbox/devices/{address}")
    response.raise_for_status()
    found: dict[str, Any] = response.json()
    return found


def _messages(server: Server) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = httpx.get(f"{server.url}/sandbox/messages").json()
    return records


def test_issued_tokens_are_in_fcms_shape_and_distinct(server: Server) -> None:
    devices = _install(server, 100)

    assert len({d["token"] for d in devices}) == len({d["fid"] for d in devices}) == 100
    for device in devices:
        assert TOKEN_RE.fullmatch(device["token"]) and len(device["token"]) == 163
        assert FID_RE.fullmatch(device["fid"])
        assert device["token"].startswith(device["fid"] + ":APA91b")
        assert device["state"] == "installed"
    assert httpx.get(f"{server.url}/sandbox/stats").json()["devices"] == 100
    assert httpx.get(f"{server.url}/healthz").json()["accept_any_token"] is False


def test_a_message_to_an_issued_token_is_delivered_to_its_device(
    server: Server, app: firebase_admin.App
) -> None:
    phone, other = _install(server, 2)

    name = messaging.send(messaging.Message(token=phone["token"], data={"n": "1"}), app=app)
    messaging.send(messaging.Message(fid=phone["fid"], data={"n": "2"}), app=app)

    received = _device(server, phone["token"])["messages"]
    assert [m["message"]["data"]["n"] for m in received] == ["1", "2"]
    assert received[0]["name"] == name
    assert _device(server, other["fid"])["messages"] == []


def test_a_malformed_token_is_invalid_argument(server: Server, app: firebase_admin.App) -> None:
    with pytest.raises(exceptions.InvalidArgumentError) as raised:
        messaging.send(messaging.Message(token="not-a-token"), app=app)

    error = raised.value.http_response.json()["error"]
    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT")
    assert error["message"] == "The registration token is not a valid FCM registration token"
    assert error["details"][0] == {
        "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
        "errorCode": "INVALID_ARGUMENT",
    }
    assert error["details"][1]["fieldViolations"][0]["field"] == "message.token"
    with pytest.raises(exceptions.InvalidArgumentError):
        messaging.send(messaging.Message(fid="fid-1"), app=app)
    assert _messages(server) == []


def test_an_unknown_well_formed_token_is_unregistered(
    server: Server, app: firebase_admin.App
) -> None:
    with pytest.raises(messaging.UnregisteredError) as raised:
        messaging.send(messaging.Message(token=UNKNOWN_TOKEN), app=app)

    assert raised.value.http_response.status_code == 404
    assert raised.value.http_response.json() == {
        "error": {
            "code": 404,
            "message": "Requested entity was not found.",
            "status": "NOT_FOUND",
            "details": [
                {
                    "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                    "errorCode": "UNREGISTERED",
                }
            ],
        }
    }
    assert httpx.get(f"{server.url}/sandbox/stats").json()["rejected"] == {"UNREGISTERED": 1}


def _two_good_one_bad(server: Server) -> list[messaging.Message]:
    good = _install(server, 2)
    return [
        messaging.Message(token=good[0]["token"]),
        messaging.Message(token="not-a-token"),
        messaging.Message(token=good[1]["token"]),
    ]


def test_send_each_reports_a_bad_token_among_good_ones(
    server: Server, app: firebase_admin.App
) -> None:
    batch = messaging.send_each(_two_good_one_bad(server), app=app)

    assert (batch.success_count, batch.failure_count) == (2, 1)
    assert isinstance(batch.responses[1].exception, exceptions.InvalidArgumentError)
    assert len(_messages(server)) == 2


@TOKENS_DEPRECATED
def test_multicast_to_unknown_tokens_reports_each_unregistered(
    server: Server, app: firebase_admin.App
) -> None:
    tokens = [UNKNOWN_TOKEN, "cAAAAAAAAAAAAAAAAAAAAA:APA91b" + "x" * 134]

    batch = messaging.send_each_for_multicast(messaging.MulticastMessage(tokens=tokens), app=app)

    assert batch.failure_count == 2
    assert all(isinstance(r.exception, messaging.UnregisteredError) for r in batch.responses)


@TOKENS_DEPRECATED
def test_the_async_api_gets_the_same_answers(server: Server, app: firebase_admin.App) -> None:
    messages = _two_good_one_bad(server)

    async def send() -> tuple[messaging.BatchResponse, messaging.BatchResponse]:
        try:
            each = await messaging.send_each_async(messages, app=app)
            multicast = await messaging.send_each_for_multicast_async(
                messaging.MulticastMessage(tokens=[UNKNOWN_TOKEN, UNKNOWN_TOKEN[:-1] + "G"]),
                app=app,
            )
            return each, multicast
        finally:
            # The SDK's httpx pool is bound to this loop; delete_app would close it in a new one.
            await messaging._get_messaging_service(app)._async_client.aclose()

    each, multicast = asyncio.run(send())

    assert (each.success_count, each.failure_count) == (2, 1)
    assert isinstance(each.responses[1].exception, exceptions.InvalidArgumentError)
    assert multicast.failure_count == 2
    assert all(isinstance(r.exception, messaging.UnregisteredError) for r in multicast.responses)


def test_topic_and_condition_targets_need_no_device(
    server: Server, app: firebase_admin.App
) -> None:
    topics = [messaging.Message(topic=f"area-{i}", data={"i": str(i)}) for i in range(500)]

    batch = messaging.send_each(topics, app=app)
    name = messaging.send(messaging.Message(condition="'a' in topics || 'b' in topics"), app=app)

    assert batch.success_count == 500
    assert name.startswith(f"projects/{PROJECT}/messages/")
    assert len(_messages(server)) == 501


def test_a_dry_run_checks_the_token_and_records_nothing(
    server: Server, app: firebase_admin.App
) -> None:
    [phone] = _install(server)

    name = messaging.send(messaging.Message(token=phone["token"]), dry_run=True, app=app)
    with pytest.raises(messaging.UnregisteredError):
        messaging.send(messaging.Message(token=UNKNOWN_TOKEN), dry_run=True, app=app)
    with pytest.raises(exceptions.InvalidArgumentError):
        messaging.send(messaging.Message(token="tok-1"), dry_run=True, app=app)

    assert name == f"projects/{PROJECT}/messages/fake_message_id"
    assert _messages(server) == []


def test_an_uninstalled_device_is_unregistered(server: Server, app: firebase_admin.App) -> None:
    phone, kept = _install(server, 2)

    uninstalled = httpx.post(f"{server.url}/sandbox/devices/{phone['token']}/uninstall")

    assert uninstalled.json()["state"] == "uninstalled"
    for target in ({"token": phone["token"]}, {"fid": phone["fid"]}):
        with pytest.raises(messaging.UnregisteredError):
            messaging.send(messaging.Message(**target), app=app)
    assert messaging.send(messaging.Message(token=kept["token"]), app=app)
    assert _device(server, phone["fid"])["state"] == "uninstalled"
    refused = httpx.post(f"{server.url}/sandbox/devices/{phone['token']}/rotate")
    assert refused.status_code == 409


def test_a_rotated_token_is_retired_and_the_new_one_delivered(
    server: Server, app: firebase_admin.App
) -> None:
    [phone] = _install(server)
    messaging.send(messaging.Message(token=phone["token"], data={"n": "old"}), app=app)

    rotated = httpx.post(f"{server.url}/sandbox/devices/{phone['token']}/rotate").json()

    assert rotated["retired"] == phone["token"]
    assert rotated["fid"] == phone["fid"] and rotated["token"] != phone["token"]
    assert TOKEN_RE.fullmatch(rotated["token"])
    with pytest.raises(messaging.UnregisteredError):
        messaging.send(messaging.Message(token=phone["token"]), app=app)
    messaging.send(messaging.Message(token=rotated["token"], data={"n": "new"}), app=app)
    old = _device(server, phone["token"])
    assert (old["state"], old["token"]) == ("retired", rotated["token"])
    assert [m["message"]["data"]["n"] for m in old["messages"]] == ["old", "new"]


def test_device_endpoints_refuse_what_they_cannot_do(server: Server) -> None:
    url = f"{server.url}/sandbox/devices"
    for count in (0, -1, "3", 10_001, None):
        assert httpx.post(url, json={"count": count}).status_code == 400
    assert httpx.post(url, content=b"{").status_code == 400
    assert len(httpx.post(url).json()["devices"]) == 1  # no body: one device
    assert httpx.get(f"{url}/{UNKNOWN_TOKEN}").status_code == 404
    assert httpx.post(f"{url}/{UNKNOWN_TOKEN}/uninstall").status_code == 404
    assert httpx.post(f"{url}/{UNKNOWN_TOKEN}/rotate").status_code == 404


def test_permissive_mode_accepts_unknown_tokens_but_not_dead_ones(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with run_sandbox(tmp_path_factory.mktemp("permissive"), "--accept-any-token") as loose:
        app = _firebase_app(loose)
        try:
            [phone] = _install(loose)
            httpx.post(f"{loose.url}/sandbox/devices/{phone['token']}/uninstall")

            batch = messaging.send_each(
                [
                    messaging.Message(token="not-a-token"),
                    messaging.Message(token=UNKNOWN_TOKEN),
                    messaging.Message(fid="fid-1"),
                    messaging.Message(token=phone["token"]),
                ],
                app=app,
            )
        finally:
            firebase_admin.delete_app(app)

        health = httpx.get(f"{loose.url}/healthz").json()

    assert health["accept_any_token"] is True
    assert [r.success for r in batch.responses] == [True, True, True, False]
    assert isinstance(batch.responses[3].exception, messaging.UnregisteredError)
