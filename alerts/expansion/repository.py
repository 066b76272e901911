"""Every query of expansion steps. Their notice is always locked first: see the lock order in
alerts.notices.repository."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

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


def _due_at() -> Any:
    return Notice.decided_at + func.make_interval(
        0, 0, 0, 0, 0, 0, ExpansionStep.after_minutes * 60
    )


def notices_with_due_steps(session: Session, *, now: datetime) -> list[uuid.UUID]:
    """Active notices with an unapplied step whose time has come, in id order; nothing is
    locked: the caller locks each notice and reads its due steps again under the lock."""
    return list(
        session.scalars(
            select(ExpansionStep.notice_id)
            .join(Notice, Notice.id == ExpansionStep.notice_id)
            .where(
                Notice.status == NoticeStatus.ACTIVE,
                ExpansionStep.applied_at.is_(None),
                _due_at() <= now,
            )
            .group_by(ExpansionStep.notice_id)
            .order_by(ExpansionStep.notice_id)
        )
    )


def due_expansion_steps(
    session: Session, notice_id: uuid.UUID, *, now: datetime
) -> Sequence[ExpansionStep]:
    """The notice's unapplied steps whose time has come. Read under the notice's lock, they
    are the ones no one has applied or re-planned meanwhile."""
    return session.scalars(
        select(ExpansionStep)
        .join(Notice, Notice.id == ExpansionStep.notice_id)
        .where(
            ExpansionStep.notice_id == notice_id,
            ExpansionStep.applied_at.is_(None),
            _due_at() <= now,
        )
        .order_by(ExpansionStep.after_minutes)
    ).all()
