"""Planned widening of an active notice's circle, as Tuanyuan widens alerts with time: each
applied step starts a new broadcast round that reaches only devices not notified yet."""

import logging
import uuid
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from alerts.audit import service as audit_service
from alerts.audit.service import Actor
from alerts.errors import Conflict
from alerts.expansion import repository
from alerts.expansion.schemas import ExpansionOut, ExpansionSchedule, ExpansionStepOut
from alerts.notices import repository as notice_repository
from alerts.notices.lifecycle import BROADCASTING, CHANGEABLE
from alerts.notices.service import (
    DrawnAreas,
    broadcast_after_commit,
    locked_notice,
    queue,
)
from alerts.notices.updates import needs_second_person, propose_change
from kit.db import after_commit, retry_conflicts, retrying_conflicts
from kit.models import (
    ChangeKind,
    Notice,
    NoticeChange,
    NoticeStatus,
)

log = logging.getLogger(__name__)

EXPAND_TASK = "alerts.expand_notices"


def _expansion_out(session: Session, notice: Notice) -> ExpansionOut:
    assert notice.radius_km is not None
    return ExpansionOut(
        notice_id=notice.id,
        radius_km=notice.radius_km,
        steps=[
            ExpansionStepOut(
                after_minutes=step.after_minutes,
                radius_km=step.radius_km,
                due_at=(
                    notice.decided_at + timedelta(minutes=step.after_minutes)
                    if notice.decided_at and notice.status != NoticeStatus.PENDING
                    else None
                ),
                applied_at=step.applied_at,
            )
            for step in repository.expansion_steps(session, notice.id)
        ],
    )


def expansion_schedule(session: Session, *, notice: Notice) -> ExpansionOut:
    if notice.target_areas:
        raise DrawnAreas()
    return _expansion_out(session, notice)


@retrying_conflicts
def set_expansion_schedule(
    session: Session, *, notice_id: uuid.UUID, schedule: ExpansionSchedule, actor: Actor
) -> tuple[ExpansionOut, NoticeChange | None]:
    """Replace the steps not applied yet; steps already due run at the next beat, which is
    also asked to run at once. On an approved Actual notice a schedule with steps widens a
    public alert: it waits for a second person as a pending change (returned), and the
    steps stay as they were. An empty schedule only narrows, and applies at once."""
    notice = locked_notice(session, notice_id, actor)
    if notice.target_areas:
        raise DrawnAreas()
    if notice.status not in CHANGEABLE:
        raise Conflict(f"a notice that is {notice.status} does not expand")
    _check_widening(session, notice, schedule)
    if schedule.steps and needs_second_person(notice):
        change = propose_change(
            session,
            notice,
            kind=ChangeKind.EXPANSION,
            request=schedule.model_dump(mode="json"),
            old=_planned(session, notice),
            new={"radius_km": notice.radius_km, **schedule.model_dump(mode="json")},
            actor=actor,
        )
        return _expansion_out(session, notice), change
    apply_schedule(session, notice, schedule, actor=actor)
    return _expansion_out(session, notice), None


def _planned(session: Session, notice: Notice) -> dict[str, Any]:
    pending = [s for s in repository.expansion_steps(session, notice.id) if not s.applied_at]
    return {
        "radius_km": notice.radius_km,
        "steps": [{"after_minutes": s.after_minutes, "radius_km": s.radius_km} for s in pending],
    }


def _check_widening(session: Session, notice: Notice, schedule: ExpansionSchedule) -> None:
    assert notice.radius_km is not None
    applied = [s for s in repository.expansion_steps(session, notice.id) if s.applied_at]
    last_applied = max((s.after_minutes for s in applied), default=0.0)
    for step in schedule.steps:
        if step.radius_km <= notice.radius_km:
            raise Conflict(
                f"a step to {step.radius_km} km does not widen the current {notice.radius_km} km"
            )
        if step.after_minutes <= last_applied:
            raise Conflict(f"a step at {last_applied} minutes has already been applied")


def apply_schedule(
    session: Session, notice: Notice, schedule: ExpansionSchedule, *, actor: Actor, **details: Any
) -> None:
    """Replace the locked notice's pending steps, auditing the plan before and after."""
    if notice.target_areas:
        raise DrawnAreas()
    _check_widening(session, notice, schedule)
    old = _planned(session, notice)
    repository.replace_pending_steps(
        session, notice.id, [(s.after_minutes, s.radius_km) for s in schedule.steps]
    )
    session.flush()
    audit_service.record(
        session,
        actor,
        "notice.expansion_planned",
        notice_id=notice.id,
        steps=[step.model_dump() for step in schedule.steps],
        old=old,
        new=_planned(session, notice),
        **details,
    )
    if notice.status == NoticeStatus.ACTIVE:
        after_commit(session, lambda: queue(EXPAND_TASK))
    log.info("alerts.notice.expansion_set notice=%s steps=%d", notice.id, len(schedule.steps))


def expand_notices(session: Session, *, now: datetime) -> list[uuid.UUID]:
    """Apply every due step: the notice's radius becomes its widest due step, and one
    broadcast per notice reaches the devices it has not notified yet. Notices are locked one
    after another in id order, each before its steps (the lock order in
    alerts.notices.repository)."""
    widened = []
    for notice_id in repository.notices_with_due_steps(session, now=now):
        if retry_conflicts(session, partial(_expand_notice, session, notice_id, now=now)):
            widened.append(notice_id)
    return widened


def _expand_notice(session: Session, notice_id: uuid.UUID, *, now: datetime) -> bool:
    """Apply the notice's due steps, read again under its lock: a notice that ended, or whose
    steps an operator re-planned or another beat run applied meanwhile, is left alone."""
    notice = notice_repository.notice_for_update(session, notice_id)
    if notice is None or notice.status not in BROADCASTING:
        return False
    steps = repository.due_expansion_steps(session, notice_id, now=now)
    if not steps:
        return False
    assert notice.radius_km is not None
    for step in steps:
        step.applied_at = now
    old_radius = notice.radius_km
    notice.radius_km = max(notice.radius_km, *(step.radius_km for step in steps))
    audit_service.record(
        session,
        audit_service.SYSTEM,
        "notice.expanded",
        notice_id=notice_id,
        radius_km=notice.radius_km,
        old={"radius_km": old_radius},
        new={"radius_km": notice.radius_km},
    )
    log.info("alerts.notice.expanded notice=%s radius_km=%s", notice_id, notice.radius_km)
    broadcast_after_commit(session, notice, next_round=True)
    session.flush()
    return True
