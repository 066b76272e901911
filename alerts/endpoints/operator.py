"""Operators create agencies, review notices and watch their reach."""

import uuid

from fastapi import APIRouter, Body, Query, status

from alerts import repository, service
from alerts.deps import OperatorOnly, SessionDep
from alerts.schemas import (
    MAX_OFFSET,
    AgencyCreate,
    AgencyCreated,
    Approval,
    Decision,
    DeliveryStats,
    ExpansionOut,
    ExpansionSchedule,
    NoticeOut,
    NoticePage,
    ReachPreview,
    ReachQuery,
    error_responses,
)
from kit.models import NoticeStatus

router = APIRouter(prefix="/v1/operator", tags=["operators"], dependencies=[OperatorOnly])


@router.post(
    "/agencies",
    status_code=status.HTTP_201_CREATED,
    response_model=AgencyCreated,
    responses=error_responses(401, 403, 409),
    summary="Create a partner agency and its API key",
)
def create_agency(data: AgencyCreate, session: SessionDep) -> AgencyCreated:
    """The API key is shown in this response only; hexcast stores its hash."""
    agency, api_key = service.create_agency(session, data=data)
    return AgencyCreated(id=agency.id, name=agency.name, api_key=api_key)


@router.get(
    "/notices",
    response_model=NoticePage,
    responses=error_responses(401, 403),
    summary="List notices of every agency, newest first",
)
def list_notices(
    session: SessionDep,
    status_filter: NoticeStatus | None = Query(None, alias="status"),
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> NoticePage:
    items, total = repository.list_notices(
        session, status=status_filter, limit=limit, offset=offset
    )
    return NoticePage(items=[NoticeOut.from_notice(n) for n in items], total=total)


@router.post(
    "/notices/{notice_id}/approve",
    response_model=NoticeOut,
    responses=error_responses(401, 403, 404, 409),
    summary="Approve a pending notice and start its broadcast",
)
def approve_notice(
    notice_id: uuid.UUID, session: SessionDep, approval: Approval | None = Body(None)
) -> NoticeOut:
    """The radius may be tuned here; the broadcast starts once the approval is stored."""
    notice = service.approve_notice(session, notice_id=notice_id, approval=approval or Approval())
    return NoticeOut.from_notice(notice)


@router.post(
    "/notices/{notice_id}/reject",
    response_model=NoticeOut,
    responses=error_responses(401, 403, 404, 409),
    summary="Reject a pending notice",
)
def reject_notice(
    notice_id: uuid.UUID, session: SessionDep, decision: Decision | None = Body(None)
) -> NoticeOut:
    notice = service.reject_notice(session, notice_id=notice_id, decision=decision or Decision())
    return NoticeOut.from_notice(notice)


@router.post(
    "/notices/{notice_id}/cancel",
    response_model=NoticeOut,
    responses=error_responses(401, 403, 404, 409),
    summary="Cancel a pending or active notice; unsent pushes stop",
)
def cancel_notice(
    notice_id: uuid.UUID, session: SessionDep, decision: Decision | None = Body(None)
) -> NoticeOut:
    notice = service.cancel_notice(session, notice_id=notice_id, decision=decision or Decision())
    return NoticeOut.from_notice(notice)


@router.get(
    "/notices/{notice_id}/deliveries",
    response_model=DeliveryStats,
    responses=error_responses(401, 403, 404),
    summary="Delivery counts of a notice's broadcast",
)
def delivery_stats(notice_id: uuid.UUID, session: SessionDep) -> DeliveryStats:
    return service.delivery_stats(session, notice_id=notice_id)


@router.get(
    "/notices/{notice_id}/expansion",
    response_model=ExpansionOut,
    responses=error_responses(401, 403, 404, 409),
    summary="The notice's expansion schedule",
)
def expansion_schedule(notice_id: uuid.UUID, session: SessionDep) -> ExpansionOut:
    return service.expansion_schedule(session, notice_id=notice_id)


@router.put(
    "/notices/{notice_id}/expansion",
    response_model=ExpansionOut,
    responses=error_responses(401, 403, 404, 409),
    summary="Plan how the notice's circle widens over time",
)
def set_expansion_schedule(
    notice_id: uuid.UUID, schedule: ExpansionSchedule, session: SessionDep
) -> ExpansionOut:
    """Replaces the steps not applied yet. Each step widens the circle at its time past
    approval and notifies only devices the notice has not reached yet."""
    return service.set_expansion_schedule(session, notice_id=notice_id, schedule=schedule)


@router.post(
    "/reach",
    response_model=ReachPreview,
    responses=error_responses(401, 403),
    summary="Preview how many devices each radius, or the drawn areas, would reach",
)
def reach_preview(query: ReachQuery, session: SessionDep) -> ReachPreview:
    return service.reach_preview(session, query=query)
