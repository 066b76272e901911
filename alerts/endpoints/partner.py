"""Partner agencies submit and follow their own notices."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Header, Query, Response, status

from alerts import repository, service
from alerts.accounts import agency_actor
from alerts.deps import AgencyWriter, CurrentAgency, SessionDep
from alerts.idempotency import KEY_PATTERN, MAX_KEY_LENGTH
from alerts.schemas import (
    MAX_OFFSET,
    Decision,
    NoticeCreate,
    NoticeOut,
    NoticePage,
    NoticeUpdate,
    error_responses,
)

router = APIRouter(prefix="/v1/notices", tags=["partner agencies"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=NoticeOut,
    responses=error_responses(401, 403, 409),
    summary="Submit a missing-person notice",
)
def submit_notice(
    data: NoticeCreate,
    session: SessionDep,
    key: AgencyWriter,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=MAX_KEY_LENGTH,
            pattern=KEY_PATTERN,
            description="Makes retries safe: for 24 h, the same key and body return the "
            "notice the first request created (201, `Idempotent-Replayed: true`); the same "
            "key with another body is 409",
        ),
    ] = None,
) -> NoticeOut:
    """The notice waits as `pending` until an operator approves it. Needs a key with the
    `notices:write` scope."""
    actor = agency_actor(key)
    if idempotency_key is None:
        notice = service.submit_notice(session, agency=key.agency, data=data, actor=actor)
        return NoticeOut.from_notice(notice)
    notice, replayed = service.submit_notice_once(
        session, agency=key.agency, data=data, idempotency_key=idempotency_key, actor=actor
    )
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return NoticeOut.from_notice(notice)


@router.get(
    "/{notice_id}",
    response_model=NoticeOut,
    responses=error_responses(401, 403, 404),
    summary="Read one of the agency's notices",
)
def read_notice(notice_id: uuid.UUID, session: SessionDep, agency: CurrentAgency) -> NoticeOut:
    """Reading and listing need a key with the `notices:read` scope; another agency's notice
    is 404, as a missing one."""
    notice = service.get_agency_notice(session, agency=agency, notice_id=notice_id)
    return NoticeOut.from_notice(notice)


@router.get(
    "",
    response_model=NoticePage,
    responses=error_responses(401, 403),
    summary="List the agency's notices, newest first",
)
def list_notices(
    session: SessionDep,
    agency: CurrentAgency,
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> NoticePage:
    items, total = repository.list_notices(session, agency_id=agency.id, limit=limit, offset=offset)
    return NoticePage(items=[NoticeOut.from_notice(n) for n in items], total=total)


@router.patch(
    "/{notice_id}",
    response_model=NoticeOut,
    responses=error_responses(401, 403, 404, 409),
    summary="Change the description, photo or target area of a pending or active notice",
)
def update_notice(
    notice_id: uuid.UUID, changes: NoticeUpdate, session: SessionDep, key: AgencyWriter
) -> NoticeOut:
    """On an active notice the change is broadcast at once: devices in the new area that the
    notice has not reached yet get it. Needs a key with the `notices:write` scope."""
    notice = service.update_notice(
        session, agency=key.agency, notice_id=notice_id, changes=changes, actor=agency_actor(key)
    )
    return NoticeOut.from_notice(notice)


@router.post(
    "/{notice_id}/cancel",
    response_model=NoticeOut,
    responses=error_responses(401, 403, 404, 409),
    summary="Cancel one of the agency's pending or active notices; unsent pushes stop",
)
def cancel_notice(
    notice_id: uuid.UUID,
    session: SessionDep,
    key: AgencyWriter,
    decision: Decision | None = Body(None),
) -> NoticeOut:
    """Unsent pushes stop. Needs a key with the `notices:write` scope."""
    notice = service.cancel_notice(
        session, notice_id=notice_id, decision=decision or Decision(), actor=agency_actor(key)
    )
    return NoticeOut.from_notice(notice)


@router.post(
    "/{notice_id}/found",
    response_model=NoticeOut,
    responses=error_responses(401, 403, 404, 409),
    summary="Report the person of one of the agency's active notices found",
)
def mark_found(
    notice_id: uuid.UUID,
    session: SessionDep,
    key: AgencyWriter,
    decision: Decision | None = Body(None),
) -> NoticeOut:
    """The notice ends and unsent pushes stop. Needs a key with the `notices:write` scope."""
    notice = service.mark_found(
        session, notice_id=notice_id, decision=decision or Decision(), actor=agency_actor(key)
    )
    return NoticeOut.from_notice(notice)
