"""Operators read and plan a notice's expansion schedule."""

import uuid

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from alerts.changes.endpoints import PENDING_CHANGE_RESPONSE, pending_change
from alerts.deps import OperatorActor, OperatorNotice, OperatorOnly, SessionDep
from alerts.expansion import service
from alerts.expansion.schemas import ExpansionOut, ExpansionSchedule
from alerts.fields import error_responses

router = APIRouter(prefix="/v1/operator", tags=["operators"], dependencies=[OperatorOnly])


@router.get(
    "/notices/{notice_id}/expansion",
    response_model=ExpansionOut,
    responses=error_responses(401, 403, 404, 409),
    summary="The notice's expansion schedule",
)
def expansion_schedule(notice: OperatorNotice, session: SessionDep) -> ExpansionOut:
    return service.expansion_schedule(session, notice=notice)


@router.put(
    "/notices/{notice_id}/expansion",
    response_model=ExpansionOut,
    responses={**PENDING_CHANGE_RESPONSE, **error_responses(401, 403, 404, 409)},
    summary="Plan how the notice's circle widens over time",
)
def set_expansion_schedule(
    notice_id: uuid.UUID, schedule: ExpansionSchedule, session: SessionDep, actor: OperatorActor
) -> ExpansionOut | JSONResponse:
    """Replaces the steps not applied yet. Each step widens the circle at its time past
    approval and notifies only devices the notice has not reached yet. On an approved
    Actual notice a schedule with steps waits for another operator's approval (202, a
    pending change); an empty one applies at once."""
    planned, change = service.set_expansion_schedule(
        session, notice_id=notice_id, schedule=schedule, actor=actor
    )
    if change is not None:
        return pending_change(change)
    return planned
