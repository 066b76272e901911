"""Notice routes: agencies submit, read and change their own notices; operators list, submit on
an agency's behalf, decide and watch the broadcast."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Header, Query, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from alerts.accounts import service as account_service
from alerts.accounts.service import agency_actor
from alerts.changes.endpoints import PENDING_CHANGE_RESPONSE, pending_change
from alerts.deps import (
    AgencyNotice,
    AgencyWriter,
    CurrentAgency,
    OperatorActor,
    OperatorNotice,
    OperatorOnly,
    ReplicaSessionDep,
    SessionDep,
)
from alerts.errors import NotFound
from alerts.fields import MAX_OFFSET, error_responses
from alerts.notices import public, repository, service, updates
from alerts.notices.idempotency import KEY_PATTERN, MAX_KEY_LENGTH
from alerts.notices.schemas import (
    Approval,
    Decision,
    DeliveryStats,
    NoticeCreate,
    NoticeOut,
    NoticePage,
    NoticeUpdate,
    OperatorNoticeCreate,
    OutcomeStats,
    PublicNotice,
)
from kit.models import NoticeStatus

operator_router = APIRouter(prefix="/v1/operator", tags=["operators"], dependencies=[OperatorOnly])
agency_router = APIRouter(prefix="/v1/notices", tags=["partner agencies"])
public_router = APIRouter(tags=["app users"])
_views = public.ViewCache()


@public_router.get(
    "/v1/feed/notices/{notice_id}",
    response_model=PublicNotice,
    responses={304: {"description": "Not modified (If-None-Match)"}, **error_responses(404)},
    summary="Read an approved notice as the app shows it (public; the push's deep link)",
)
async def public_notice(
    notice_id: uuid.UUID,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Active, or ended (found, cancelled, expired: the status says so; a found one without
    the person's identity). Built at most every few seconds per process; cacheable by
    anyone for a few seconds, and revalidated by its ETag."""
    entry = _views.fresh(notice_id)
    # A hit is served on the event loop; a miss queries the database on the thread pool.
    rendered = entry[1] if entry else await run_in_threadpool(_views.get, notice_id)
    if rendered is None:
        raise NotFound("notice not found")
    headers = {
        "ETag": rendered.etag,
        "Cache-Control": f"public, max-age={public.MAX_AGE_SECONDS}",
    }
    if public.matches(if_none_match, rendered.etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(rendered.body, media_type="application/json", headers=headers)


@operator_router.post(
    "/notices",
    status_code=status.HTTP_201_CREATED,
    response_model=NoticeOut,
    responses=error_responses(401, 403, 404),
    summary="Submit a notice on an agency's behalf",
    name="submit_notice",  # the agency route's twin; the name keeps its operation id
)
def submit_notice_as_operator(
    data: OperatorNoticeCreate, session: SessionDep, actor: OperatorActor
) -> NoticeOut:
    """For an agency that phoned its notice in. The submitting operator is recorded and
    cannot approve the notice if it is `Actual`: another operator must."""
    agency = account_service.get_agency(session, data.agency_id)
    return NoticeOut.from_notice(
        service.submit_notice(session, agency=agency, data=data, actor=actor)
    )


@operator_router.get(
    "/notices",
    response_model=NoticePage,
    responses=error_responses(401, 403),
    summary="List notices of every agency, newest first",
    name="list_notices",  # the agency route's twin; the name keeps its operation id
)
def list_notices_as_operator(
    session: SessionDep,
    status_filter: NoticeStatus | None = Query(None, alias="status"),
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> NoticePage:
    items, total = repository.list_notices(
        session, status=status_filter, limit=limit, offset=offset
    )
    return NoticePage(items=[NoticeOut.from_notice(n, summary=True) for n in items], total=total)


@operator_router.post(
    "/notices/{notice_id}/approve",
    response_model=NoticeOut,
    responses=error_responses(401, 403, 404, 409),
    summary="Approve a pending notice and start its broadcast",
)
def approve_notice(
    notice_id: uuid.UUID,
    session: SessionDep,
    actor: OperatorActor,
    approval: Approval | None = Body(None),
) -> NoticeOut:
    """The radius may be tuned here, or drawn areas given to target instead (not both); the
    broadcast starts once the approval is stored.
    The operator who submitted an `Actual` notice cannot approve it (403, two_person_rule)."""
    notice = service.approve_notice(
        session, notice_id=notice_id, approval=approval or Approval(), actor=actor
    )
    return NoticeOut.from_notice(notice)


@operator_router.post(
    "/notices/{notice_id}/reject",
    response_model=NoticeOut,
    responses=error_responses(401, 403, 404, 409),
    summary="Reject a pending notice",
)
def reject_notice(
    notice_id: uuid.UUID,
    session: SessionDep,
    actor: OperatorActor,
    decision: Decision | None = Body(None),
) -> NoticeOut:
    notice = service.reject_notice(
        session, notice_id=notice_id, decision=decision or Decision(), actor=actor
    )
    return NoticeOut.from_notice(notice)


@operator_router.post(
    "/notices/{notice_id}/cancel",
    response_model=NoticeOut,
    responses=error_responses(401, 403, 404, 409),
    summary="Cancel a pending or active notice; unsent pushes stop",
    name="cancel_notice",  # the agency route's twin; the name keeps its operation id
)
def cancel_notice_as_operator(
    notice_id: uuid.UUID,
    session: SessionDep,
    actor: OperatorActor,
    decision: Decision | None = Body(None),
) -> NoticeOut:
    notice = service.cancel_notice(
        session, notice_id=notice_id, decision=decision or Decision(), actor=actor
    )
    return NoticeOut.from_notice(notice)


@operator_router.post(
    "/notices/{notice_id}/found",
    response_model=NoticeOut,
    responses=error_responses(401, 403, 404, 409),
    summary="Report the person of an active notice found; unsent pushes stop",
    name="mark_found",  # the agency route's twin; the name keeps its operation id
)
def mark_found_as_operator(
    notice_id: uuid.UUID,
    session: SessionDep,
    actor: OperatorActor,
    decision: Decision | None = Body(None),
) -> NoticeOut:
    notice = service.mark_found(
        session, notice_id=notice_id, decision=decision or Decision(), actor=actor
    )
    return NoticeOut.from_notice(notice)


@operator_router.get(
    "/notices/{notice_id}/deliveries",
    response_model=DeliveryStats,
    responses=error_responses(401, 403, 404),
    summary="Delivery counts of a notice's broadcast",
)
def delivery_stats(notice: OperatorNotice, session: SessionDep) -> DeliveryStats:
    return service.delivery_stats(session, notice=notice)


@operator_router.get(
    "/stats/outcomes",
    response_model=OutcomeStats,
    responses=error_responses(401, 403),
    summary="How many notices found their person, and how fast",
)
def outcome_stats(session: ReplicaSessionDep) -> OutcomeStats:
    return service.outcome_stats(session)


@agency_router.post(
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


@agency_router.get(
    "/{notice_id}",
    response_model=NoticeOut,
    responses=error_responses(401, 403, 404),
    summary="Read one of the agency's notices",
)
def read_notice(notice: AgencyNotice) -> NoticeOut:
    """Reading and listing need a key with the `notices:read` scope; another agency's notice
    is 404, as a missing one."""
    return NoticeOut.from_notice(notice)


@agency_router.get(
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
    return NoticePage(items=[NoticeOut.from_notice(n, summary=True) for n in items], total=total)


@agency_router.patch(
    "/{notice_id}",
    response_model=NoticeOut,
    responses={**PENDING_CHANGE_RESPONSE, **error_responses(401, 403, 404, 409)},
    summary="Change the description, photo or target area of a pending or active notice",
)
def update_notice(
    notice_id: uuid.UUID, changes: NoticeUpdate, session: SessionDep, key: AgencyWriter
) -> NoticeOut | JSONResponse:
    """A pending notice, or a drill, changes at once (200). On an approved Actual notice a
    change that widens the area or changes text or photo waits for an operator other than
    the key's issuer (202, a pending change); a smaller radius or a removed photo applies at
    once. An applied change reaches the devices newly in the area. Needs a key with the
    `notices:write` scope."""
    notice, change = updates.update_notice(
        session, agency=key.agency, notice_id=notice_id, changes=changes, actor=agency_actor(key)
    )
    if change is not None:
        return pending_change(change)
    return NoticeOut.from_notice(notice)


@agency_router.post(
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


@agency_router.post(
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
