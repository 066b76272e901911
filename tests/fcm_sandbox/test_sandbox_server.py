"""The sandbox's own HTTP/1.1 server, on the wire: answers in request order, bad requests
refused, connections closed when the client asks."""

import json
import os
import socket
from urllib.parse import urlsplit

import google.auth.transport.requests
from google.oauth2 import service_account

from tests.conftest import CREDENTIALS, Sandbox

PROJECT = os.environ["HEXCAST_FCM_PROJECT_ID"]
SCOPE = "https://www.googleapis.com/auth/firebase.messaging"


def _connect(sandbox: Sandbox) -> socket.socket:
    url = urlsplit(sandbox.url)
    assert url.hostname is not None and url.port is not None
    return socket.create_connection((url.hostname, url.port), timeout=10)


def _read_all(conn: socket.socket) -> bytes:
    data = b""
    while chunk := conn.recv(65536):
        data += chunk
    return data


def _access_token() -> str:
    creds = service_account.Credentials.from_service_account_file(str(CREDENTIALS), scopes=[SCOPE])
    creds.refresh(google.auth.transport.requests.Request())
    return str(creds.token)


def test_pipelined_answers_leave_in_request_order(sandbox: Sandbox) -> None:
    """A slow send (300 ms of injected latency) then a health check, on one connection: the
    health check's answer waits for the send's."""
    sandbox.set_faults(latency_ms=300)
    body = json.dumps({"message": {"token": "tok-pipelined", "data": {"k": "v"}}}).encode()
    send = (
        f"POST /v1/projects/{PROJECT}/messages:send HTTP/1.1\r\nhost: sandbox\r\n"
        f"authorization: Bearer {_access_token()}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode() + body
    health = b"GET /healthz HTTP/1.1\r\nhost: sandbox\r\nconnection: close\r\n\r\n"
    with _connect(sandbox) as conn:
        conn.sendall(send + health)
        answers = _read_all(conn)
    first, second = answers.split(b"HTTP/1.1 ")[1:]
    assert first.startswith(b"200 ") and b'"name":"projects/' in first
    assert second.startswith(b"200 ") and b'"status":"ok"' in second
    assert [m["message"]["token"] for m in sandbox.messages()] == ["tok-pipelined"]


def test_a_malformed_request_gets_400_and_the_connection_closes(sandbox: Sandbox) -> None:
    with _connect(sandbox) as conn:
        conn.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        answer = _read_all(conn)
    assert answer.startswith(b"HTTP/1.1 400 ")


def test_an_unknown_route_is_404_through_the_routes_app(sandbox: Sandbox) -> None:
    assert sandbox.client.get("/v1/projects/x/messages:list").status_code == 404
    assert sandbox.client.post("/v1/projects/x/y/messages:send").status_code == 404
