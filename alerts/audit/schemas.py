"""Audit event bodies."""

import uuid
from datetime import datetime
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
)

from alerts.notices.schemas import _OPERATOR_ID_EXAMPLE
from kit.models import (
    ActorType,
    AuditEvent,
)


class AuditEventOut(BaseModel):
    id: int
    at: datetime
    actor_type: ActorType
    actor_id: uuid.UUID | None
    action: str
    notice_id: uuid.UUID | None
    details: dict[str, Any]

    @classmethod
    def from_event(cls, event: AuditEvent) -> "AuditEventOut":
        return cls(
            id=event.id,
            at=event.at,
            actor_type=event.actor_type,
            actor_id=event.actor_id,
            action=event.action,
            notice_id=event.notice_id,
            details=event.details,
        )


class AuditPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": 42,
                            "at": "2026-11-23T08:31:00Z",
                            "actor_type": "operator",
                            "actor_id": _OPERATOR_ID_EXAMPLE,
                            "action": "notice.approved",
                            "notice_id": "6f1c2a0e-5b7d-4c1e-9a43-1b2f3c4d5e6f",
                            "details": {"radius_km": 3, "expires_at": "2026-11-26T08:31:00Z"},
                        }
                    ],
                    "total": 1,
                }
            ]
        }
    )

    items: list[AuditEventOut]
    total: int
