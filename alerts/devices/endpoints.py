"""Routes of app installs (register, report a location, report a sighting) and the sighting
lists agencies and operators read."""

import uuid

from fastapi import APIRouter, Header, Query, Response, status
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from alerts.accounts.credentials import hash_secret
from alerts.deps import (
    AgencyNotice,
    ClientAddress,
    CurrentDevice,
    DeviceKeyHash,
    OperatorNotice,
    OperatorOnly,
    SessionDep,
)
from alerts.devices import service
from alerts.devices.schemas import (
    ClaimSent,
    DeviceOut,
    DevicePreferences,
    DeviceRegistered,
    DeviceRegistration,
    LocationReport,
    SightingCreate,
    SightingOut,
    SightingPage,
)
from alerts.fields import MAX_OFFSET, error_responses
from kit.models import Device

router = APIRouter(prefix="/v1/devices", tags=["devices"])
LOCATION_PATH = "/v1/devices/me/location"
# The shortcut reads at most this much of a body; a longer one goes to the route.
_SHORTCUT_BODY_BYTES = 4096
sighting_router = APIRouter(tags=["sightings"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=DeviceRegistered | ClaimSent,
    responses={
        200: {"model": DeviceRegistered, "description": "Token known, holder proven: updated"},
        202: {"model": ClaimSent, "description": "Token known: a claim code was sent to it"},
        **error_responses(403, 429),
    },
    summary="Register an FCM token (or update the device that has it)",
)
def register_device(
    data: DeviceRegistration,
    session: SessionDep,
    response: Response,
    client: ClientAddress,
    device_key: str | None = Header(None, alias="X-Device-Key"),
) -> DeviceRegistered | ClaimSent:
    """201 for a new device with its key. A token registered already is handed over only to
    the app that holds it: with the device's current `X-Device-Key`, or with `claim_code`,
    the code of the `device_claim` data message (`data.type`, `data.code`) that a
    registration without proof makes hexcast send to the token (202); then 200 with a new
    key, and the old key stops working. A wrong or expired code is 403. New devices and
    claims are limited per client address (HEXCAST_DEVICE_REGISTRATIONS_PER_CLIENT_HOUR;
    429 with Retry-After)."""
    outcome = service.register_device(session, data=data, client=client, device_key=device_key)
    if isinstance(outcome, service.ClaimPending):
        response.status_code = status.HTTP_202_ACCEPTED
        return ClaimSent(expires_at=outcome.expires_at)
    if not outcome.created:
        response.status_code = status.HTTP_200_OK
    return DeviceRegistered(device_id=outcome.device_id, device_key=outcome.device_key)


@router.put(
    LOCATION_PATH.removeprefix(router.prefix),
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403),
    summary="Report the device's last known location",
)
async def report_location(data: LocationReport, key_hash: DeviceKeyHash) -> None:
    """Reports older than the stored one are accepted and ignored (out-of-order delivery).
    204 means the report is committed: it survives the API process dying right after."""
    await service.report_location(key_hash=key_hash, data=data)


class LocationShortcut:
    """ASGI middleware serving well-formed location reports of known devices without the
    framework: the busiest request of the service, whose routing, dependency resolution and
    response machinery cost most of its CPU time. It stores the report as the route does
    (`service.store_location`) and answers 204. Anything else (no device key, a body that
    does not validate, an unknown key) goes on to the route, with the body it read, so
    every error is the route's own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != LOCATION_PATH or scope["method"] != "PUT":
            await self.app(scope, receive, send)
            return
        key = content_type = None
        for name, value in scope["headers"]:
            if name == b"x-device-key":
                key = value.decode("latin-1")
            elif name == b"content-type":
                content_type = value.partition(b";")[0].strip().lower()
        body, complete = await _read_body(receive)
        if key and complete and content_type == b"application/json":
            try:
                data = LocationReport.model_validate_json(body)
            except ValidationError:
                pass
            else:
                try:
                    stored = await service.store_location(key_hash=hash_secret(key), data=data)
                except (DBAPIError, PoolTimeout):
                    # The database is away: the route tries again, and its error handler
                    # answers 503 with Retry-After.
                    stored = False
                if stored:
                    await send({"type": "http.response.start", "status": 204, "headers": []})
                    await send({"type": "http.response.body", "body": b""})
                    return
        await self.app(scope, _replay(body, complete, receive), send)


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The body, and whether that is all of it (at most _SHORTCUT_BODY_BYTES are read)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True
        if size > _SHORTCUT_BODY_BYTES:
            return b"".join(chunks), False


def _replay(body: bytes, complete: bool, receive: Receive) -> Receive:
    """`receive` with what was already read of the body given back first."""
    replayed = False

    async def replaying() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": not complete}

    return replaying


def _device_out(device: Device) -> DeviceOut:
    return DeviceOut(
        device_id=device.id,
        platform=device.platform,
        locale=device.locale,
        alerts_paused=device.alerts_paused,
        test_device=device.test_device,
        located_at=device.located_at,
    )


@router.get(
    "/me",
    response_model=DeviceOut,
    responses=error_responses(401, 403),
    summary="What hexcast holds about this device",
)
def read_device(device: CurrentDevice) -> DeviceOut:
    return _device_out(device)


@router.patch(
    "/me",
    response_model=DeviceOut,
    responses=error_responses(401, 403),
    summary="Pause or resume alerts, or change the device's language",
)
def set_preferences(
    data: DevicePreferences, session: SessionDep, device: CurrentDevice
) -> DeviceOut:
    """A paused device gets no alert pop-ups (nor updates of earlier ones); the broadcasts
    it misses are counted as suppressed in each notice's delivery stats."""
    return _device_out(service.set_preferences(session, device=device, data=data))


@router.delete(
    "/me",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403),
    summary="Erase this device: its token, key and location, at once",
)
def erase_device(session: SessionDep, device: CurrentDevice) -> None:
    """Its deliveries stay as anonymous counts, its sightings with the agency, neither
    linked to any device. Registering the same token again starts afresh."""
    service.erase_device(session, device=device)


@sighting_router.post(
    "/v1/notices/{notice_id}/sightings",
    status_code=status.HTTP_201_CREATED,
    response_model=SightingOut,
    responses=error_responses(401, 403, 404, 429),
    summary="Report a sighting of an active notice's person (devices)",
)
def report_sighting(
    notice_id: uuid.UUID,
    data: SightingCreate,
    session: SessionDep,
    device: CurrentDevice,
    client: ClientAddress,
) -> SightingOut:
    """Only an active notice takes sightings; any other is 404. A device may send a few per
    hour about one notice and a few more over all notices, all devices behind one client
    address a few dozen an hour, and all devices together a few dozen a minute about one
    notice; beyond that, 429 with Retry-After."""
    sighting = service.report_sighting(
        session, device=device, notice_id=notice_id, data=data, client=client
    )
    return SightingOut.from_sighting(sighting)


@sighting_router.get(
    "/v1/notices/{notice_id}/sightings",
    response_model=SightingPage,
    responses=error_responses(401, 403, 404),
    summary="List the sightings of one of the agency's notices, newest first",
)
def list_sightings(
    notice: AgencyNotice,
    session: SessionDep,
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> SightingPage:
    items, total = service.notice_sightings(session, notice=notice, limit=limit, offset=offset)
    return SightingPage(items=[SightingOut.from_sighting(s) for s in items], total=total)


@sighting_router.get(
    "/v1/operator/notices/{notice_id}/sightings",
    response_model=SightingPage,
    responses=error_responses(401, 403, 404),
    dependencies=[OperatorOnly],
    summary="List the sightings of any notice, newest first (operators)",
)
def list_sightings_as_operator(
    notice: OperatorNotice,
    session: SessionDep,
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> SightingPage:
    items, total = service.notice_sightings(session, notice=notice, limit=limit, offset=offset)
    return SightingPage(items=[SightingOut.from_sighting(s) for s in items], total=total)
