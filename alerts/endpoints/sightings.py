"""App users report sightings of an active notice's person; the notice's agency and operators
read them."""

import uuid

from fastapi import APIRouter, Query, status

from alerts import service
from alerts.deps import CurrentAgency, CurrentDevice, OperatorOnly, SessionDep
from alerts.schemas import MAX_OFFSET, SightingCreate, SightingOut, SightingPage, error_responses

router = APIRouter(tags=["sightings"])


@router.post(
    "/v1/notices/{notice_id}/sightings",
    status_code=status.HTTP_201_CREATED,
    response_model=SightingOut,
    responses=error_responses(401, 403, 404, 429),
    summary="Report a sighting of an active notice's person (devices)",
)
def report_sighting(
    notice_id: uuid.UUID, data: SightingCreate, session: SessionDep, device: CurrentDevice
) -> SightingOut:
    """Only an active notice takes sightings; any other is 404. A device may send a few per
    hour about one notice and a few more over all notices; beyond that, 429 with
    Retry-After."""
    sighting = service.report_sighting(session, device=device, notice_id=notice_id, data=data)
    return SightingOut.from_sighting(sighting)


@router.get(
    "/v1/notices/{notice_id}/sightings",
    response_model=SightingPage,
    responses=error_responses(401, 403, 404),
    summary="List the sightings of one of the agency's notices, newest first",
)
def list_sightings(
    notice_id: uuid.UUID,
    session: SessionDep,
    agency: CurrentAgency,
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> SightingPage:
    items, total = service.notice_sightings(
        session, notice_id=notice_id, agency=agency, limit=limit, offset=offset
    )
    return SightingPage(items=[SightingOut.from_sighting(s) for s in items], total=total)


@router.get(
    "/v1/operator/notices/{notice_id}/sightings",
    response_model=SightingPage,
    responses=error_responses(401, 403, 404),
    dependencies=[OperatorOnly],
    summary="List the sightings of any notice, newest first (operators)",
)
def list_sightings_as_operator(
    notice_id: uuid.UUID,
    session: SessionDep,
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> SightingPage:
    items, total = service.notice_sightings(
        session, notice_id=notice_id, agency=None, limit=limit, offset=offset
    )
    return SightingPage(items=[SightingOut.from_sighting(s) for s in items], total=total)
