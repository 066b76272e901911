"""Every query of pending notice changes. Their notice is locked first (the lock order in
alerts.notices.repository)."""

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from kit.models import NoticeChange


def changes_of_notice(session: Session, notice_id: uuid.UUID) -> Sequence[NoticeChange]:
    return session.scalars(
        select(NoticeChange)
        .where(NoticeChange.notice_id == notice_id)
        .order_by(NoticeChange.created_at, NoticeChange.id)
    ).all()


def change_for_update(
    session: Session, *, notice_id: uuid.UUID, change_id: uuid.UUID
) -> NoticeChange | None:
    return session.scalar(
        select(NoticeChange)
        .where(NoticeChange.id == change_id, NoticeChange.notice_id == notice_id)
        .with_for_update()
    )
