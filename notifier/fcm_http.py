"""The FCM channel: firebase-admin builds and validates the messages and supplies the
credentials; libcurl's multi interface (pycurl) sends them.

The SDK's own senders are the bottleneck, not FCM: `send_each` spends a thread per message and
`send_each_async` is bound to the first event loop it meets, which a synchronous Celery task
does not keep. libcurl runs the HTTP in C, so the calling thread drives up to
`max_concurrency` transfers at about 90 µs of CPU a request on the 2-core machine the
benchmarks run on, against about 260 µs for aiohttp on uvloop and 1.0-1.3 ms for httpx. Over
TLS it speaks HTTP/2 when the server offers it (as FCM does), multiplexing requests on few
connections within the server's concurrent-stream limit; over plain HTTP (the sandbox),
HTTP/1.1 on keep-alive connections.
"""

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

import certifi
import firebase_admin
import google.auth.credentials
import google.auth.exceptions
import google.auth.transport.requests
import pycurl

from notifier.channel import Push, PushOutcome
from notifier.fcm import outcome_of_response, outcome_of_transport_failure, request_bodies
from notifier.ratelimit import SharedRateLimit

log = logging.getLogger(__name__)

_FCM_HEADERS: Final = (
    "Content-Type: application/json; charset=UTF-8",
    "X-GOOG-API-FORMAT-VERSION: 2",
    f"X-Firebase-Client: fire-admin-python/{firebase_admin.__version__}",
    # libcurl would otherwise wait for "100 Continue" before sending a larger body.
    "Expect:",
)
# No HTTP answer at all, and the request not (wholly) sent: it may be sent once more.
_RESENDABLE: Final = frozenset(
    {pycurl.E_COULDNT_CONNECT, pycurl.E_GOT_NOTHING, pycurl.E_SEND_ERROR}
)
_LONGEST_IDLE_WAIT_S: Final = 0.1


@dataclass(slots=True)
class _Transfer:
    """One request in flight: which body, and what has come back so far."""

    index: int
    body: list[bytes] = field(default_factory=list)
    headers: list[bytes] = field(default_factory=list)
    resent: bool = False


class FcmChannel:
    """Sends each batch with up to `max_concurrency` requests in flight, each after taking a
    token from the shared send-rate cap, if there is one. One batch at a time per channel.

    It never retries what FCM answered (429, 500, 503 included): the outcome says retryable
    and the dispatcher decides when. Only a request that got no answer because its connection
    failed before any response (refused, or a connection the server closed unanswered) is sent
    once more; after that it is UNAVAILABLE, retryable.
    """

    def __init__(
        self,
        *,
        credential: google.auth.credentials.Credentials,
        send_url: str,
        max_concurrency: int,
        timeout_s: float,
        rate_limit: SharedRateLimit | None = None,
    ) -> None:
        self._credential = credential
        self._credential_lock = threading.Lock()
        self._credential_refused = False
        self._send_url = send_url
        self._timeout_ms = max(1, round(timeout_s * 1000))
        self._rate_limit = rate_limit
        self._batch_lock = threading.Lock()
        self._multi = pycurl.CurlMulti()
        self._multi.setopt(pycurl.M_PIPELINING, pycurl.PIPE_MULTIPLEX)
        self._multi.setopt(pycurl.M_MAX_TOTAL_CONNECTIONS, max_concurrency)
        self._idle = [self._easy_handle() for _ in range(max_concurrency)]
        threading.Thread(target=self._prefetch_token, name="fcm-token", daemon=True).start()

    def send(self, pushes: Sequence[Push]) -> list[PushOutcome]:
        """One outcome per push, in order; a push firebase-admin refuses is INVALID_ARGUMENT
        and not sent. Credentials that cannot be refreshed fail the batch's pushes as
        UNAUTHENTICATED (retryable) rather than raise. Only what is no push's doing raises:
        the rate cap's Redis unreachable, say, and then pushes of the batch may have gone."""
        if not pushes:
            return []
        try:
            headers = [*_FCM_HEADERS, f"Authorization: Bearer {self._access_token()}"]
        except google.auth.exceptions.GoogleAuthError as error:
            refused = PushOutcome(
                error_code="UNAUTHENTICATED",
                retryable=True,
                detail=f"access token refresh failed: {error}"[:500],
            )
            return [refused] * len(pushes)
        bodies = request_bodies(pushes, now=datetime.now(UTC))
        with self._batch_lock:
            return self._send_all(bodies, headers)

    def close(self) -> None:
        """Close the connections (tests and benchmarks; workers just exit)."""
        with self._batch_lock:
            for handle in self._idle:
                handle.close()
            self._idle.clear()
            self._multi.close()
        if self._rate_limit is not None:
            self._rate_limit.close()

    def _easy_handle(self) -> pycurl.Curl:
        handle = pycurl.Curl()
        handle.setopt(pycurl.URL, self._send_url)
        handle.setopt(pycurl.POST, 1)
        handle.setopt(pycurl.NOSIGNAL, 1)
        handle.setopt(pycurl.TIMEOUT_MS, self._timeout_ms)
        handle.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_2TLS)
        handle.setopt(pycurl.PIPEWAIT, 1)
        handle.setopt(pycurl.CAINFO, certifi.where())
        return handle

    def _access_token(self) -> str:
        """The credential's OAuth2 token, refreshed when google-auth says it is about to expire
        or FCM refused it."""
        with self._credential_lock:
            if self._credential_refused or not self._credential.valid:
                self._credential.refresh(google.auth.transport.requests.Request())
                self._credential_refused = False
            return str(self._credential.token)

    def _prefetch_token(self) -> None:
        """Fetch the first access token now, so that the first alert does not wait for it; if
        this fails, the first send tries again and reports it."""
        try:
            self._access_token()
        except google.auth.exceptions.GoogleAuthError as error:
            log.warning("fcm.token.prefetch_failed error=%s", error)

    def _send_all(
        self, bodies: Sequence[bytes | PushOutcome], headers: list[str]
    ) -> list[PushOutcome]:
        outcomes = [b if isinstance(b, PushOutcome) else PushOutcome() for b in bodies]
        waiting = deque(_Transfer(i) for i, b in enumerate(bodies) if isinstance(b, bytes))
        active: dict[pycurl.Curl, _Transfer] = {}
        multi = self._multi
        try:
            while waiting or active:
                rate_wait_s = 0.0
                while waiting and self._idle:
                    if self._rate_limit is not None:
                        rate_wait_s = self._rate_limit.take()
                        if rate_wait_s:
                            break
                    transfer = waiting.popleft()
                    handle = self._idle.pop()
                    body = bodies[transfer.index]
                    assert isinstance(body, bytes)
                    self._start(handle, transfer, body, headers)
                    active[handle] = transfer
                    multi.add_handle(handle)
                while multi.perform()[0] == pycurl.E_CALL_MULTI_PERFORM:
                    pass
                for handle, transfer, errno, message in self._finished(active):
                    if errno in _RESENDABLE and not transfer.resent:
                        waiting.appendleft(_Transfer(transfer.index, resent=True))
                    elif errno:
                        outcomes[transfer.index] = outcome_of_transport_failure(
                            f"curl error {errno}: {message}"
                        )
                    else:
                        outcomes[transfer.index] = self._outcome(handle, transfer)
                if active:
                    multi.select(self._idle_wait_s(rate_wait_s))
                elif rate_wait_s:
                    time.sleep(rate_wait_s)
        finally:
            for handle in active:
                multi.remove_handle(handle)
                self._idle.append(handle)
        return outcomes

    @staticmethod
    def _start(handle: pycurl.Curl, transfer: _Transfer, body: bytes, headers: list[str]) -> None:
        handle.setopt(pycurl.HTTPHEADER, headers)
        handle.setopt(pycurl.POSTFIELDS, body)
        handle.setopt(pycurl.WRITEFUNCTION, transfer.body.append)
        handle.setopt(pycurl.HEADERFUNCTION, transfer.headers.append)

    def _finished(
        self, active: dict[pycurl.Curl, _Transfer]
    ) -> list[tuple[pycurl.Curl, _Transfer, int, str]]:
        """Transfers libcurl has ended since the last call, taken out of the multi handle:
        (handle, transfer, curl error number or 0, error message)."""
        ended: list[tuple[pycurl.Curl, int, str]] = []
        while True:
            queued, succeeded, failed = self._multi.info_read()
            ended.extend((handle, 0, "") for handle in succeeded)
            ended.extend(failed)
            if not queued:
                break
        finished = []
        for handle, errno, message in ended:
            self._multi.remove_handle(handle)
            finished.append((handle, active.pop(handle), errno, message))
            self._idle.append(handle)
        return finished

    def _outcome(self, handle: pycurl.Curl, transfer: _Transfer) -> PushOutcome:
        status = handle.getinfo(pycurl.RESPONSE_CODE)
        outcome = outcome_of_response(
            status,
            b"".join(transfer.body),
            None if status == 200 else _header(transfer.headers, b"retry-after"),
            now=datetime.now(UTC),
        )
        if outcome.error_code == "UNAUTHENTICATED":
            self._credential_refused = True
        return outcome

    def _idle_wait_s(self, rate_wait_s: float) -> float:
        """How long to wait for socket activity: no longer than libcurl's next timer, nor than
        the rate cap's next token when one is awaited."""
        curl_ms = self._multi.timeout()
        wait_s = _LONGEST_IDLE_WAIT_S if curl_ms < 0 else min(curl_ms / 1000, _LONGEST_IDLE_WAIT_S)
        return min(wait_s, rate_wait_s) if rate_wait_s else wait_s


def _header(lines: Sequence[bytes], name: bytes) -> str | None:
    """The last value of header `name` (lower case) among raw response header lines."""
    value = None
    for line in lines:
        key, colon, rest = line.partition(b":")
        if colon and key.strip().lower() == name:
            value = rest.strip().decode("latin-1")
    return value


def fcm_channel(
    app: firebase_admin.App,
    *,
    send_url: str,
    max_concurrency: int,
    timeout_s: float,
    rate_limit: SharedRateLimit | None = None,
) -> FcmChannel:
    """The channel for a firebase-admin app: its credential (a google-auth one, refreshed here
    as it nears expiry) and the FCM URL `notifier.firebase.fcm_send_url` gives."""
    return FcmChannel(
        credential=app.credential.get_credential(),
        send_url=send_url,
        max_concurrency=max_concurrency,
        timeout_s=timeout_s,
        rate_limit=rate_limit,
    )
