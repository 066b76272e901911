"""Operators preview a notice's reach before approving it."""

from fastapi import APIRouter

from alerts.deps import OperatorOnly, ReplicaSessionDep
from alerts.fields import error_responses
from alerts.reach import service
from alerts.reach.schemas import ReachPreview, ReachQuery

router = APIRouter(prefix="/v1/operator", tags=["operators"], dependencies=[OperatorOnly])


@router.post(
    "/reach",
    response_model=ReachPreview,
    responses=error_responses(401, 403),
    summary="Preview how many devices each radius, or the drawn areas, would reach",
)
def reach_preview(query: ReachQuery, session: ReplicaSessionDep) -> ReachPreview:
    return service.reach_preview(session, query=query)
