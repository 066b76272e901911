"""Operators read a notice's audit trail; admins read the whole log."""

import uuid

from fastapi import APIRouter, Query

from alerts.audit import repository, service
from alerts.audit.schemas import AuditEventOut, AuditPage
from alerts.deps import AdminOnly, OperatorNotice, OperatorOnly, SessionDep
from alerts.fields import MAX_OFFSET, StoredText, error_responses

router = APIRouter(prefix="/v1/operator", tags=["audit"], dependencies=[OperatorOnly])


@router.get(
    "/notices/{notice_id}/audit",
    response_model=AuditPage,
    responses=error_responses(401, 403, 404),
    summary="A notice's audit events, oldest first: each step with its actor and time",
)
def notice_audit(
    notice: OperatorNotice,
    session: SessionDep,
    limit: int = Query(200, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> AuditPage:
    return service.notice_audit(session, notice=notice, limit=limit, offset=offset)


@router.get(
    "/audit",
    response_model=AuditPage,
    responses=error_responses(401, 403),
    dependencies=[AdminOnly],
    summary="Audit events, newest first, filtered by action, actor or notice (admins)",
)
def list_audit(
    session: SessionDep,
    action: StoredText | None = Query(None, max_length=64, examples=["notice.approved"]),
    actor_id: uuid.UUID | None = None,
    notice_id: uuid.UUID | None = None,
    limit: int = Query(50, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> AuditPage:
    events, total = repository.audit_events(
        session,
        action=action,
        actor_id=actor_id,
        notice_id=notice_id,
        limit=limit,
        offset=offset,
    )
    return AuditPage(items=[AuditEventOut.from_event(e) for e in events], total=total)
