"""Every query of CAP messages and of the active notices the public outputs list."""

import uuid
from collections.abc import Sequence

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from alerts.notices.lifecycle import PUBLIC, PUBLIC_CAP_STATUSES
from kit.models import (
    Agency,
    CapMessage,
    Notice,
)


def active_notices(session: Session, *, limit: int) -> Sequence[tuple[Notice, str]]:
    """Public (active, real) notices with their agency's name, most recently approved
    first."""
    rows = session.execute(
        select(Notice, Agency.name)
        .join(Agency, Agency.id == Notice.agency_id)
        .where(Notice.status.in_(PUBLIC), Notice.cap_status.in_(PUBLIC_CAP_STATUSES))
        .order_by(Notice.decided_at.desc(), Notice.id)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in rows]


def cap_message_notice(
    session: Session, *, agency_id: uuid.UUID, sender: str, identifier: str
) -> uuid.UUID | None:
    return session.scalar(
        select(CapMessage.notice_id).where(
            CapMessage.agency_id == agency_id,
            CapMessage.sender == sender,
            CapMessage.identifier == identifier,
        )
    )


def notices_of_cap_messages(
    session: Session, *, agency_id: uuid.UUID, messages: Sequence[tuple[str, str]]
) -> set[uuid.UUID]:
    """The notices the agency's CAP messages named by (sender, identifier) belong to."""
    if not messages:
        return set()
    pairs = tuple_(CapMessage.sender, CapMessage.identifier).in_(messages)
    return set(
        session.scalars(
            select(CapMessage.notice_id).where(CapMessage.agency_id == agency_id, pairs)
        )
    )
