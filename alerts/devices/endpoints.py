"""Routes of app installs (register, report a location, report a sighting) and the sighting
lists agencies and operators read."""

import uuid

from fastapi import APIRouter, Header, Query, Response, status

from alerts.deps import (
    AgencyNotice,
    ClientAddress,
    CurrentDevice,
    OperatorNotice,
    OperatorOnly,
    SessionDep,
)
from alerts.devices import service
from alerts.devices.schemas import (
    ClaimSent,
    DeviceRegistered,
    DeviceRegistration,
    LocationReport,
    SightingCreate,
    SightingOut,
    SightingPage,
)
from alerts.fields import MAX_OFFSET, error_responses

router = APIRouter(prefix="/v1/devices", tags=["devices"])
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
    "/me/location",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403),
    summary="Report the device's last known location",
)
def report_location(data: LocationReport, session: SessionDep, device: CurrentDevice) -> None:
    """Reports older than the stored one are accepted and ignored (out-of-order delivery)."""
    service.report_location(session, device=device, data=data)


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
