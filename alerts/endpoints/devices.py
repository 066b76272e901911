"""App installs register their FCM token and report where they are."""

from fastapi import APIRouter, Response, status

from alerts import service
from alerts.deps import CurrentDevice, SessionDep
from alerts.schemas import DeviceRegistered, DeviceRegistration, LocationReport, error_responses

router = APIRouter(prefix="/v1/devices", tags=["devices"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=DeviceRegistered,
    responses={200: {"model": DeviceRegistered, "description": "Token already known: updated"}},
    summary="Register an FCM token (or update the device that has it)",
)
def register_device(
    data: DeviceRegistration, session: SessionDep, response: Response
) -> DeviceRegistered:
    """201 for a new device, 200 when the token was known; either way a new device key."""
    device_id, device_key, created = service.register_device(session, data=data)
    if not created:
        response.status_code = status.HTTP_200_OK
    return DeviceRegistered(device_id=device_id, device_key=device_key)


@router.put(
    "/me/location",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403),
    summary="Report the device's last known location",
)
def report_location(data: LocationReport, session: SessionDep, device: CurrentDevice) -> None:
    """Reports older than the stored one are accepted and ignored (out-of-order delivery)."""
    service.report_location(session, device=device, data=data)
