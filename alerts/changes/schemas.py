"""Pending changes as the API shows them."""

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from kit.models import ActorType, ChangeKind, ChangeStatus, NoticeChange


class ChangeOut(BaseModel):
    """A change to an approved Actual notice that waits for a second person's approval."""

    id: uuid.UUID
    notice_id: uuid.UUID
    kind: ChangeKind = Field(description="update: a PATCH or CAP Update; expansion: a schedule")
    status: ChangeStatus
    changes: dict[str, Any] = Field(description="The request as proposed")
    proposed_by_type: ActorType
    proposed_by_id: uuid.UUID | None
    created_at: datetime
    decided_at: datetime | None
    decided_by_operator_id: uuid.UUID | None
    decision_reason: str | None

    @classmethod
    def from_change(cls, change: NoticeChange) -> "ChangeOut":
        return cls(
            id=change.id,
            notice_id=change.notice_id,
            kind=change.kind,
            status=change.status,
            changes=change.changes,
            proposed_by_type=change.proposed_by_type,
            proposed_by_id=change.proposed_by_id,
            created_at=change.created_at,
            decided_at=change.decided_at,
            decided_by_operator_id=change.decided_by_operator_id,
            decision_reason=change.decision_reason,
        )
