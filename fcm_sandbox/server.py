"""The sandbox's HTTP/1.1 server: httptools parses, `messages:send` is answered without ASGI.

In tests and benchmarks the sandbox stands in for Google's servers on the same two cores as
hexcast's workers, so its CPU a send is taken from what it measures. Under uvicorn a send cost
about 110 µs before any sandbox code ran; here the server part is about 40 µs. A send's
answer is written from a timer after the injected latency, no task or sleep per request.
Every other route goes to the Starlette app through a minimal ASGI call.
"""

import asyncio
import contextlib
import logging
import signal
from collections import deque
from collections.abc import MutableMapping
from typing import Any, Final, cast
from urllib.parse import unquote

import httptools
import uvloop

from fcm_sandbox.app import Sandbox, SendAnswer, send_target

log = logging.getLogger("fcm_sandbox.access")

_REASONS: Final = {
    200: b"OK",
    400: b"Bad Request",
    401: b"Unauthorized",
    403: b"Forbidden",
    404: b"Not Found",
    405: b"Method Not Allowed",
    429: b"Too Many Requests",
    500: b"Internal Server Error",
    502: b"Bad Gateway",
    503: b"Service Unavailable",
}


def _response(status: int, headers: list[tuple[bytes, bytes]], body: bytes, close: bool) -> bytes:
    lines = [b"HTTP/1.1 %d %s" % (status, _REASONS.get(status, b"Status"))]
    lines.extend(b"%s: %s" % (name, value) for name, value in headers)
    lines.append(b"content-length: %d" % len(body))
    if close:
        lines.append(b"connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class _Reply:
    """A response slot: HTTP/1.1 answers leave in the order their requests came."""

    __slots__ = ("close", "data")

    def __init__(self, close: bool) -> None:
        self.data: bytes | None = None
        self.close = close


class _Connection(asyncio.Protocol):
    def __init__(self, sandbox: Sandbox, access_log: bool, live: set["_Connection"]) -> None:
        self._sandbox = sandbox
        self._live = live
        self._access_log = access_log
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._replies: deque[_Reply] = deque()
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._live.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._live.discard(self)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(400, b"upgrades are not supported")
        except httptools.HttpParserError:
            self._fail(400, b"malformed HTTP request")

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []
        self._body = []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.lower(), value))

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        method = self._parser.get_method().decode("ascii", "replace")
        url = httptools.parse_url(self._url)
        path = unquote(url.path.decode("latin-1"))
        body = b"".join(self._body)
        reply = _Reply(close=not self._parser.should_keep_alive())
        self._replies.append(reply)
        project = send_target(path) if method == "POST" else None
        if project is None:
            asyncio.get_running_loop().create_task(
                self._asgi(reply, method, path, url.query or b"", list(self._headers), body)
            )
            return
        authorization = next((v for k, v in self._headers if k == b"authorization"), b"")
        answer = self._sandbox.send(project, authorization.decode("latin-1"), body)
        self._log(method, path, answer.status)
        if answer.delay_s:
            asyncio.get_running_loop().call_later(answer.delay_s, self._answer, reply, answer)
        else:
            self._answer(reply, answer)

    def _answer(self, reply: _Reply, answer: SendAnswer) -> None:
        self._fill(reply, _response(answer.status, answer.headers, answer.body, reply.close))

    def _fill(self, reply: _Reply, data: bytes) -> None:
        reply.data = data
        while self._replies and self._replies[0].data is not None:
            ready = self._replies.popleft()
            if self._transport is None:
                continue
            assert ready.data is not None
            self._transport.write(ready.data)
            if ready.close:
                self._transport.close()
                self._transport = None

    def _fail(self, status: int, message: bytes) -> None:
        if self._transport is not None:
            self._transport.write(_response(status, [], message, close=True))
            self._transport.close()
            self._transport = None

    async def _asgi(
        self,
        reply: _Reply,
        method: str,
        path: str,
        query: bytes,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> None:
        """Run the Starlette app for one buffered request and buffer its whole response."""
        transport = self._transport
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode("latin-1", "replace"),
            "query_string": query,
            "root_path": "",
            "headers": headers,
            "client": transport.get_extra_info("peername") if transport else None,
            "server": transport.get_extra_info("sockname") if transport else None,
        }
        received = False
        status = 500
        response_headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal received
            if not received:
                received = True
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            nonlocal status, response_headers
            if message["type"] == "http.response.start":
                status = message["status"]
                response_headers = [
                    (bytes(k).lower(), bytes(v))
                    for k, v in message.get("headers", [])
                    if bytes(k).lower() not in (b"content-length", b"transfer-encoding")
                ]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        try:
            await self._sandbox.routes(scope, receive, send)
        except Exception:
            log.exception("fcm_sandbox.route_failed path=%s", path)
            status, response_headers, chunks = 500, [], [b"sandbox route failed"]
        self._log(method, path, status)
        self._fill(reply, _response(status, response_headers, b"".join(chunks), reply.close))

    def _log(self, method: str, path: str, status: int) -> None:
        if self._access_log:
            log.info('"%s %s" %d', method, path, status)


# How long a shutdown waits for the connections it closed to go.
SHUTDOWN_SECONDS: Final = 3.0


async def _serve(sandbox: Sandbox, host: str, port: int, access_log: bool) -> None:
    """Serve until cancelled (SIGINT or SIGTERM), then close every connection: a client's
    idle keep-alive connection (a worker's pool holds several) must not hold the shutdown
    open until a second signal."""
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    assert main is not None
    loop.add_signal_handler(signal.SIGTERM, main.cancel)
    live: set[_Connection] = set()
    server = await loop.create_server(
        lambda: _Connection(sandbox, access_log, live), host, port, reuse_address=True, backlog=1024
    )
    try:
        await server.serve_forever()
    except asyncio.CancelledError:
        log.info("shutting down")
    finally:
        server.close()
        for connection in list(live):
            connection.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), SHUTDOWN_SECONDS)


def serve(sandbox: Sandbox, *, host: str, port: int, access_log: bool = False) -> None:
    """Serve `sandbox` until the process is interrupted or terminated."""
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(_serve(sandbox, host, port, access_log))
