"""Operators preview a notice's reach before approving it."""

from fastapi import APIRouter

from alerts.deps import OperatorActor, OperatorOnly, ReplicaSessionDep, SessionDep
from alerts.fields import error_responses
from alerts.reach import service
from alerts.reach.schemas import ReachPreview, ReachQuery

router = APIRouter(prefix="/v1/operator", tags=["operators"], dependencies=[OperatorOnly])


@router.post(
    "/reach",
    response_model=ReachPreview,
    responses=error_responses(401, 403, 429),
    summary="Preview how many devices each radius, or the drawn areas, would reach",
)
def reach_preview(
    query: ReachQuery, session: SessionDep, replica: ReplicaSessionDep, actor: OperatorActor
) -> ReachPreview:
    """Counts under HEXCAST_REACH_MIN_DEVICES_SHOWN come back as `devices: null` with
    `fewer_than`; areas under HEXCAST_REACH_MIN_AREA_KM2 and location windows under
    HEXCAST_REACH_MIN_WINDOW_HOURS are refused (422), so that no preview can tell whether one
    particular phone is in a place. Each operator may run HEXCAST_REACH_PREVIEWS_PER_MINUTE a
    minute (then 429 with Retry-After); every preview is in the audit log."""
    return service.reach_preview(session, query=query, actor=actor, counting=replica)
