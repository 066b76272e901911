"""Who did what: the actor of a change, and the audit event that records it in the same
transaction as the change itself."""

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy.orm import Session

from alerts.audit import repository
from alerts.audit.schemas import AuditEventOut, AuditPage
from alerts.errors import RateLimited
from kit.models import (
    ActorType,
    AuditEvent,
    Notice,
)
from kit.ratelimit import seconds_until_allowed


@dataclass(frozen=True, slots=True)
class Actor:
    """`credential_id` names the API key or login session used, so that what a leaked key or
    session did can be found."""

    type: ActorType
    id: uuid.UUID | None
    credential_id: uuid.UUID | None = None


SYSTEM = Actor(ActorType.SYSTEM, None)


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    notice_id: uuid.UUID | None = None,
    **details: Any,
) -> None:
    if actor.credential_id is not None:
        details["credential_id"] = actor.credential_id
    session.add(
        AuditEvent(
            actor_type=actor.type,
            actor_id=actor.id,
            action=action,
            notice_id=notice_id,
            details=to_jsonable_python(details),
        )
    )


def limit_actions(
    session: Session, actor: Actor, action: str, *, limit: int, window: timedelta, what: str
) -> None:
    """Raise RateLimited when the actor has recorded `limit` `action`s in the window; the
    audit log is the counter. Call before recording the action, in the same transaction."""
    now = repository.lock_actions(session, actor_id=actor.id, action=action)
    times = repository.recent_action_times(
        session, actor_id=actor.id, action=action, since=now - window, limit=limit
    )
    wait = seconds_until_allowed(times, limit=limit, window=window, now=now)
    if wait is not None:
        raise RateLimited(f"at most {limit} {what}", retry_after_s=wait)


def notice_audit(session: Session, *, notice: Notice, limit: int, offset: int) -> AuditPage:
    """The notice's audit events, oldest first."""
    events, total = repository.audit_events(
        session, notice_id=notice.id, newest_first=False, limit=limit, offset=offset
    )
    return AuditPage(items=[AuditEventOut.from_event(e) for e in events], total=total)
