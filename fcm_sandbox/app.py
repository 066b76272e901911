"""The sandbox's endpoints: FCM v1 send, Google's token exchange, and `/sandbox/` inspection.

`messages:send` is answered by `Sandbox.send`, a plain function the HTTP server
(`fcm_sandbox.server`) calls and whose answer it writes after the injected latency, so that
the sandbox costs far less CPU a send than hexcast's workers (it shares their cores in tests
and benchmarks). The rest are Starlette routes, served through ASGI.
"""

import json
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from fcm_sandbox.credentials import ServiceAccountKey, load_service_account_key
from fcm_sandbox.devices import MAX_DEVICES_PER_REQUEST, DeviceRegistry
from fcm_sandbox.errors import FCM_ERRORS, fcm_error_body, oauth_error_body, unauthenticated_body
from fcm_sandbox.faults import FaultConfig, parse_faults
from fcm_sandbox.oauth import GOOGLE_TOKEN_URL, GrantError, check_grant
from fcm_sandbox.state import SandboxState
from fcm_sandbox.validation import InvalidMessage, parse_send_request

TOKEN_LIFETIME_S: Final = 3600
DEFAULT_MAX_MESSAGES: Final = 50_000
_SEND_PREFIX: Final = "/v1/projects/"
_SEND_SUFFIX: Final = "/messages:send"


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    body: dict[str, Any]
    retry_after_s: int | None = None


def _fcm_error(
    code: str,
    message: str | None = None,
    *,
    field: str | None = None,
    retry_after_s: int | None = None,
) -> _Answer:
    return _Answer(
        FCM_ERRORS[code].http_status, fcm_error_body(code, message, field=field), retry_after_s
    )


SEND_HEADERS: Final = [(b"content-type", b"application/json; charset=UTF-8")]


def send_target(path: str) -> str | None:
    """The project of a `POST /v1/projects/{project}/messages:send` path, else None."""
    if not path.startswith(_SEND_PREFIX) or not path.endswith(_SEND_SUFFIX):
        return None
    project = path[len(_SEND_PREFIX) : -len(_SEND_SUFFIX)]
    return None if "/" in project else project


@dataclass(frozen=True, slots=True)
class SendAnswer:
    """What to write back to one send, and after how many seconds of injected latency."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    delay_s: float


@dataclass(frozen=True, slots=True)
class Sandbox:
    """A sandbox's send handler and the ASGI app of its other routes."""

    send: Callable[[str, str, bytes], SendAnswer]
    routes: ASGIApp


class _Handlers:
    """Route handlers bound to one sandbox's state and known service-account keys."""

    def __init__(
        self, state: SandboxState, devices: DeviceRegistry, keys: dict[str, ServiceAccountKey]
    ) -> None:
        self.state = state
        self.devices = devices
        self.keys = keys

    async def token(self, request: Request) -> Response:
        form = dict(
            parse_qsl((await request.body()).decode(errors="replace"), keep_blank_values=True)
        )
        audiences = {str(request.url.replace(query=None)), GOOGLE_TOKEN_URL}
        try:
            check_grant(form, audiences=audiences, keys=self.keys, now=time.time())
        except GrantError as exc:
            self.state.refuse_grant()
            return JSONResponse(oauth_error_body(exc.error, exc.description), status_code=400)
        return JSONResponse(
            {
                "access_token": self.state.issue_token(TOKEN_LIFETIME_S),
                "expires_in": TOKEN_LIFETIME_S,
                "token_type": "Bearer",
            }
        )

    def _authorized(self, authorization: str) -> bool:
        scheme, _, token = authorization.partition(" ")
        return scheme.lower() == "bearer" and self.state.token_valid(token.strip())

    def send(self, project: str, authorization: str, body: bytes) -> SendAnswer:
        """One `messages:send`: checked, delayed and failed as the faults say, recorded."""
        answer, delay_s = self._answer_send(project, authorization, body)
        headers = SEND_HEADERS
        if answer.retry_after_s is not None:
            headers = [*headers, (b"retry-after", str(answer.retry_after_s).encode())]
        return SendAnswer(answer.status, headers, orjson.dumps(answer.body), delay_s)

    def _answer_send(self, project: str, authorization: str, body: bytes) -> tuple[_Answer, float]:
        state = self.state
        state.count_received()
        if not self._authorized(authorization):
            state.reject("UNAUTHENTICATED")
            return _Answer(401, unauthenticated_body()), 0.0
        if project != state.project_id:
            state.reject("SENDER_ID_MISMATCH")
            return _fcm_error(
                "SENDER_ID_MISMATCH",
                f"Project {project} does not match the sandbox's project {state.project_id}.",
            ), 0.0
        try:
            send = parse_send_request(orjson.loads(body))
        except InvalidMessage as exc:
            state.reject("INVALID_ARGUMENT")
            return _fcm_error("INVALID_ARGUMENT", exc.description, field=exc.field), 0.0
        except ValueError as exc:
            state.reject("INVALID_ARGUMENT")
            return _fcm_error("INVALID_ARGUMENT", f"Invalid JSON payload received. {exc}"), 0.0
        refusal = None
        if send.device is not None:
            refusal = self.devices.check(send.device, fid=send.by_fid)
        if refusal is not None and refusal[0] == "INVALID_ARGUMENT":
            state.reject("INVALID_ARGUMENT")
            field = "message.fid" if send.by_fid else "message.token"
            return _fcm_error("INVALID_ARGUMENT", refusal[1], field=field), 0.0
        fault = state.decide_fault(send.device)
        if fault.error_code is not None:
            state.reject(fault.error_code)
            return _fcm_error(fault.error_code, retry_after_s=fault.retry_after_s), fault.delay_s
        if refusal is not None:
            state.reject(refusal[0])
            return _fcm_error(refusal[0], refusal[1]), fault.delay_s
        name = state.accept(send.message, send.device, send.validate_only)
        return _Answer(200, {"name": name}), fault.delay_s

    async def list_messages(self, request: Request) -> Response:
        token = request.query_params.get("token")
        return JSONResponse(self.state.messages(None if token is None else {token}))

    async def reset_messages(self, request: Request) -> Response:
        return JSONResponse({"deleted": self.state.reset()})

    async def stats(self, request: Request) -> Response:
        return JSONResponse({**self.state.stats(), **self.devices.stats()})

    async def create_devices(self, request: Request) -> Response:
        """Install `count` (default 1) virtual devices and return their FIDs and tokens."""
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        count = body.get("count", 1) if isinstance(body, dict) else None
        if type(count) is not int or not 1 <= count <= MAX_DEVICES_PER_REQUEST:
            return JSONResponse(
                {"error": f"count must be an integer in [1, {MAX_DEVICES_PER_REQUEST}]"},
                status_code=400,
            )
        devices = self.devices.issue(count)
        return JSONResponse({"devices": [d.to_json() for d in devices]}, status_code=201)

    async def forget_devices(self, request: Request) -> Response:
        return JSONResponse({"deleted": self.devices.forget()})

    def _device_json(self, address: str) -> dict[str, Any] | None:
        device = self.devices.find(address)
        state = self.devices.state(address)
        if device is None or state is None:
            return None
        return {**device.to_json(), "state": state.value}

    async def get_device(self, request: Request) -> Response:
        """A token's or FID's state, its device's current token, and what it received."""
        address = request.path_params["address"]
        found = self._device_json(address)
        if found is None:
            return JSONResponse({"error": f"no device has {address}"}, status_code=404)
        received = self.state.messages(self.devices.addresses(address))
        return JSONResponse({**found, "messages": received})

    async def uninstall_device(self, request: Request) -> Response:
        address = request.path_params["address"]
        if self.devices.uninstall(address) is None:
            return JSONResponse({"error": f"no device has {address}"}, status_code=404)
        found = self._device_json(address)
        return JSONResponse(found)

    async def rotate_device(self, request: Request) -> Response:
        address = request.path_params["address"]
        rotated = self.devices.rotate(address)
        if rotated is None:
            return JSONResponse({"error": f"no device has {address}"}, status_code=404)
        before, after = rotated
        if not after.installed:
            return JSONResponse({"error": "an uninstalled device has no token"}, status_code=409)
        return JSONResponse({**after.to_json(), "retired": before.token})

    async def get_faults(self, request: Request) -> Response:
        return JSONResponse(self.state.faults.to_json())

    async def put_faults(self, request: Request) -> Response:
        try:
            config = parse_faults(json.loads(await request.body()))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        self.state.set_faults(config)
        return JSONResponse(config.to_json())

    async def reset_faults(self, request: Request) -> Response:
        self.state.set_faults(FaultConfig())
        return JSONResponse(self.state.faults.to_json())

    async def healthz(self, request: Request) -> Response:
        return JSONResponse(
            {
                "status": "ok",
                "project": self.state.project_id,
                "accept_any_token": self.devices.permissive,
            }
        )


Handler = Callable[[Request], Awaitable[Response]]


def _inspection(handler: Handler, token: str | None) -> Handler:
    """`handler` behind `Authorization: Bearer <token>` when the sandbox has an inspection
    token: its routes show every device token and message, and inject faults."""
    if token is None:
        return handler
    expected = f"Bearer {token}".encode()

    async def guarded(request: Request) -> Response:
        given = request.headers.get("authorization", "").encode()
        if not secrets.compare_digest(given, expected):
            return JSONResponse({"error": "the sandbox's inspection token is needed"}, 401)
        return await handler(request)

    return guarded


def create_sandbox(
    *,
    project_id: str,
    credentials_file: str | os.PathLike[str] | None = None,
    max_messages: int = DEFAULT_MAX_MESSAGES,
    accept_any_token: bool = False,
    inspect_token: str | None = None,
) -> Sandbox:
    """Build the sandbox for `project_id`.

    Sends to a token or FID follow FCM's rules (see fcm_sandbox.devices) unless
    `accept_any_token`, which delivers to any token the sandbox did not issue.

    Only assertions signed by the key in `credentials_file` are granted tokens (none without
    it). The `/sandbox/` routes need `inspect_token` as a bearer token when it is set.
    """
    keys: dict[str, ServiceAccountKey] = {}
    if credentials_file is not None:
        key = load_service_account_key(credentials_file)
        keys[key.key_id] = key
    handlers = _Handlers(
        SandboxState(project_id=project_id, max_messages=max_messages),
        DeviceRegistry(permissive=accept_any_token),
        keys,
    )
    inspected: list[tuple[str, Handler, str]] = [
        ("/sandbox/messages", handlers.list_messages, "GET"),
        ("/sandbox/messages", handlers.reset_messages, "DELETE"),
        ("/sandbox/stats", handlers.stats, "GET"),
        ("/sandbox/devices", handlers.create_devices, "POST"),
        ("/sandbox/devices", handlers.forget_devices, "DELETE"),
        ("/sandbox/devices/{address}", handlers.get_device, "GET"),
        ("/sandbox/devices/{address}/uninstall", handlers.uninstall_device, "POST"),
        ("/sandbox/devices/{address}/rotate", handlers.rotate_device, "POST"),
        ("/sandbox/faults", handlers.get_faults, "GET"),
        ("/sandbox/faults", handlers.put_faults, "PUT"),
        ("/sandbox/faults", handlers.reset_faults, "DELETE"),
    ]
    routes: list[BaseRoute] = [
        Route("/token", handlers.token, methods=["POST"]),
        *(
            Route(path, _inspection(handler, inspect_token), methods=[method])
            for path, handler, method in inspected
        ),
        Route("/healthz", handlers.healthz, methods=["GET"]),
    ]
    return Sandbox(send=handlers.send, routes=Starlette(routes=routes))
