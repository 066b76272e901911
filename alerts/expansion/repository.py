"""Every query of expansion steps."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from kit.models import (
    ExpansionStep,
    Notice,
    NoticeStatus,
)


def expansion_steps(session: Session, notice_id: uuid.UUID) -> Sequence[ExpansionStep]:
    return session.scalars(
        select(ExpansionStep)
        .where(ExpansionStep.notice_id == notice_id)
        .order_by(ExpansionStep.after_minutes)
    ).all()


def replace_pending_steps(
    session: Session, notice_id: uuid.UUID, steps: Sequence[tuple[float, float]]
) -> None:
    session.execute(
        delete(ExpansionStep).where(
            ExpansionStep.notice_id == notice_id, ExpansionStep.applied_at.is_(None)
        )
    )
    session.add_all(
        ExpansionStep(notice_id=notice_id, after_minutes=minutes, radius_km=radius)
        for minutes, radius in steps
    )


def due_expansion_steps(session: Session, *, now: datetime) -> Sequence[ExpansionStep]:
    """Unapplied steps of active notices whose time has come, locked; a step another beat
    run is applying is skipped, not waited for."""
    due_at = Notice.decided_at + func.make_interval(
        0, 0, 0, 0, 0, 0, ExpansionStep.after_minutes * 60
    )
    return session.scalars(
        select(ExpansionStep)
        .join(Notice, Notice.id == ExpansionStep.notice_id)
        .where(
            Notice.status == NoticeStatus.ACTIVE,
            ExpansionStep.applied_at.is_(None),
            due_at <= now,
        )
        .order_by(ExpansionStep.notice_id, ExpansionStep.after_minutes)
        .with_for_update(of=ExpansionStep, skip_locked=True)
    ).all()
