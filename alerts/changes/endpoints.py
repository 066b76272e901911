"""Pending changes: operators approve or reject them; the notice's agency and operators read
them."""

import uuid
from typing import Any

from fastapi import APIRouter, Body, status
from fastapi.responses import JSONResponse

from alerts.changes import repository, service
from alerts.changes.schemas import ChangeOut
from alerts.deps import OperatorActor, OperatorOnly, ReadableNotice, SessionDep
from alerts.fields import error_responses
from alerts.notices.schemas import Decision
from kit.models import NoticeChange

operator_router = APIRouter(prefix="/v1/operator", tags=["operators"], dependencies=[OperatorOnly])
router = APIRouter(tags=["pending changes"])

PENDING_CHANGE_RESPONSE: dict[int | str, dict[str, Any]] = {
    202: {
        "model": ChangeOut,
        "description": "The change widens or rewords an approved Actual notice: it waits for "
        "another operator's approval, and the notice stays as it was until then",
    }
}


def pending_change(change: NoticeChange) -> JSONResponse:
    """The 202 answer of a request that became a pending change."""
    return JSONResponse(
        ChangeOut.from_change(change).model_dump(mode="json"),
        status_code=status.HTTP_202_ACCEPTED,
    )


@router.get(
    "/v1/notices/{notice_id}/changes",
    response_model=list[ChangeOut],
    responses=error_responses(401, 403, 404),
    summary="The notice's changes that waited for a second person, oldest first",
)
def list_changes(notice: ReadableNotice, session: SessionDep) -> list[ChangeOut]:
    """For the notice's agency and for operators."""
    return [ChangeOut.from_change(c) for c in repository.changes_of_notice(session, notice.id)]


@operator_router.post(
    "/notices/{notice_id}/changes/{change_id}/approve",
    response_model=ChangeOut,
    responses=error_responses(401, 403, 404, 409),
    summary="Approve a pending change: it takes effect at once",
)
def approve_change(
    notice_id: uuid.UUID, change_id: uuid.UUID, session: SessionDep, actor: OperatorActor
) -> ChangeOut:
    """Not by the operator who proposed it, nor by the one who issued the agency key it came
    with, nor with the bootstrap credential (403, two_person_rule). A notice that ended
    meanwhile is 409."""
    change = service.approve_change(session, notice_id=notice_id, change_id=change_id, actor=actor)
    return ChangeOut.from_change(change)


@operator_router.post(
    "/notices/{notice_id}/changes/{change_id}/reject",
    response_model=ChangeOut,
    responses=error_responses(401, 403, 404, 409),
    summary="Reject a pending change: the notice stays as it is",
)
def reject_change(
    notice_id: uuid.UUID,
    change_id: uuid.UUID,
    session: SessionDep,
    actor: OperatorActor,
    decision: Decision | None = Body(None),
) -> ChangeOut:
    change = service.reject_change(
        session,
        notice_id=notice_id,
        change_id=change_id,
        decision=decision or Decision(),
        actor=actor,
    )
    return ChangeOut.from_change(change)
