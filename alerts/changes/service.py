"""Deciding on pending changes: a second person approves a change, which then takes effect as
if it had been made at that moment, or rejects it. Proposed by notices.updates.update_notice
and expansion.service.set_expansion_schedule."""

import logging
import uuid
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from alerts.audit import service as audit_service
from alerts.audit.service import Actor
from alerts.changes import repository
from alerts.errors import Conflict, NotFound
from alerts.expansion.schemas import ExpansionSchedule
from alerts.expansion.service import apply_schedule
from alerts.notices.lifecycle import CHANGEABLE, check_approver
from alerts.notices.schemas import Decision, NoticeUpdate
from alerts.notices.service import locked_notice
from alerts.notices.updates import apply_update, update_values
from kit.db import retrying_conflicts
from kit.models import ActorType, ChangeKind, ChangeStatus, Notice, NoticeChange

log = logging.getLogger(__name__)


def _pending(session: Session, notice: Notice, change_id: uuid.UUID) -> NoticeChange:
    change = repository.change_for_update(session, notice_id=notice.id, change_id=change_id)
    if change is None:
        raise NotFound("change not found")
    if change.status != ChangeStatus.PENDING:
        raise Conflict(f"the change is {change.status} already")
    return change


@retrying_conflicts
def approve_change(
    session: Session, *, notice_id: uuid.UUID, change_id: uuid.UUID, actor: Actor
) -> NoticeChange:
    """Apply the change to the notice, under the notice's lock, if the approver is a second
    person: not its proposer, not the issuer of the key it came with, not the bootstrap."""
    notice = locked_notice(session, notice_id, actor)
    change = _pending(session, notice, change_id)
    by_agency = change.proposed_by_type == ActorType.AGENCY
    check_approver(
        notice.cap_status,
        approver=actor.id,
        submitted_by=None if by_agency else change.proposer_operator_id,
        key_issuer=change.proposer_operator_id if by_agency else None,
        what="a change to an Actual notice",
    )
    if notice.status not in CHANGEABLE:
        raise Conflict(f"a notice that is {notice.status} cannot be changed")
    if change.kind == ChangeKind.UPDATE:
        update = NoticeUpdate.model_validate(change.changes["update"])
        texts = change.changes.get("texts")
        old, new = update_values(notice, update, texts)
        apply_update(
            session, notice, update, texts=texts, actor=actor, old=old, new=new, change_id=change.id
        )
    else:
        schedule = ExpansionSchedule.model_validate(change.changes)
        apply_schedule(session, notice, schedule, actor=actor, change_id=change.id)
    _decide(session, change, ChangeStatus.APPROVED, actor, reason=None)
    return change


@retrying_conflicts
def reject_change(
    session: Session,
    *,
    notice_id: uuid.UUID,
    change_id: uuid.UUID,
    decision: Decision,
    actor: Actor,
) -> NoticeChange:
    """Any operator may reject a change, its proposer included: the notice stays as it is."""
    notice = locked_notice(session, notice_id, actor)
    change = _pending(session, notice, change_id)
    _decide(session, change, ChangeStatus.REJECTED, actor, reason=decision.reason)
    return change


def _decide(
    session: Session,
    change: NoticeChange,
    status: ChangeStatus,
    actor: Actor,
    *,
    reason: str | None,
) -> None:
    change.status = status
    change.decided_at = datetime.now(UTC)
    change.decided_by_operator_id = actor.id
    change.decision_reason = reason
    session.flush()
    audit_service.record(
        session,
        actor,
        f"notice.change_{status}",
        notice_id=change.notice_id,
        change_id=change.id,
        kind=change.kind,
        reason=reason,
    )
    log.info("alerts.notice.change_%s notice=%s change=%s", status, change.notice_id, change.id)
