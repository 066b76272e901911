"""Changing a notice after it was submitted: a PATCH, a CAP Update, or (through
`propose_change`) an expansion plan. On an approved Actual notice a change that widens,
moves or rewords it is a new public alert, so it waits for a second person as a pending
change (alerts.changes); anything else applies at once."""

import logging
import uuid
from datetime import UTC, datetime
from functools import partial
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy.orm import Session

from alerts.accounts import repository as account_repository
from alerts.audit import service as audit_service
from alerts.audit.service import Actor
from alerts.errors import Conflict, NotFound
from alerts.expansion import repository as expansion_repository
from alerts.notices.areas import areas_json
from alerts.notices.lifecycle import BROADCASTING, CHANGEABLE
from alerts.notices.schemas import NoticeUpdate
from alerts.notices.service import FOLLOW_UP_TASK, broadcast_after_commit, locked_notice, queue
from kit.db import after_commit, retrying_conflicts
from kit.models import (
    ActorType,
    Agency,
    CapStatus,
    ChangeKind,
    ChangeStatus,
    Notice,
    NoticeChange,
    NoticeStatus,
)
from notifier import stats

log = logging.getLogger(__name__)


def needs_second_person(notice: Notice) -> bool:
    """Whether a change that widens, moves or rewords the notice waits for a second person:
    once an Actual notice is approved it is public, so a change is a new alert. A pending
    notice's changes are reviewed with it; a drill needs no second person."""
    return notice.cap_status is CapStatus.ACTUAL and notice.status in BROADCASTING


def propose_change(
    session: Session,
    notice: Notice,
    *,
    kind: ChangeKind,
    request: dict[str, Any],
    old: dict[str, Any],
    new: dict[str, Any],
    actor: Actor,
) -> NoticeChange:
    """Store the change to wait for a second person, and audit what it would change. The
    proposer is the operator, or the operator who issued the agency's key: neither may
    approve it."""
    proposer = actor.id if actor.type == ActorType.OPERATOR else None
    if actor.type == ActorType.AGENCY and actor.credential_id is not None:
        proposer = account_repository.key_issuer(session, actor.credential_id)
    change = NoticeChange(
        id=uuid.uuid4(),
        notice_id=notice.id,
        kind=kind,
        changes=to_jsonable_python(request),
        status=ChangeStatus.PENDING,
        proposed_by_type=actor.type,
        proposed_by_id=actor.id,
        proposer_operator_id=proposer,
    )
    session.add(change)
    session.flush()
    session.refresh(change)
    audit_service.record(
        session,
        actor,
        "notice.change_proposed",
        notice_id=notice.id,
        change_id=change.id,
        kind=kind,
        old=old,
        new=new,
    )
    log.info("alerts.notice.change_proposed notice=%s change=%s", notice.id, change.id)
    return change


def update_values(
    notice: Notice, changes: NoticeUpdate, texts: dict[str, dict[str, str]] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The notice's values of the fields the update names, before and after."""
    current: dict[str, Any] = {
        "description": notice.person_description,
        "photo_url": notice.photo_url,
        "radius_km": notice.radius_km,
        "areas": notice.target_areas,
    }
    given = changes.model_dump(mode="json", exclude_unset=True)
    old = {field: current[field] for field in given}
    new = dict(given)
    if changes.areas is not None:
        old["radius_km"], new["radius_km"] = notice.radius_km, None
    elif changes.radius_km is not None:
        old["areas"], new["areas"] = notice.target_areas, None
    if texts is not None:
        old["texts"], new["texts"] = notice.texts, texts
    return old, new


def _widens_or_rewords(
    notice: Notice, changes: NoticeUpdate, texts: dict[str, dict[str, str]] | None
) -> bool:
    """Whether the update widens or moves the area, or changes text or photo. Only a smaller
    radius of a circle notice, or a photo removed, narrows; a change of drawn areas counts
    as widening, whatever its shape."""
    if changes.description is not None and changes.description != notice.person_description:
        return True
    if changes.photo_url is not None and str(changes.photo_url) != notice.photo_url:
        return True
    if texts is not None and texts != notice.texts:
        return True
    if changes.areas is not None:
        return areas_json(changes.areas) != notice.target_areas
    if changes.radius_km is not None:
        return bool(
            notice.target_areas or notice.radius_km is None or changes.radius_km > notice.radius_km
        )
    return False


@retrying_conflicts
def update_notice(
    session: Session,
    *,
    agency: Agency,
    notice_id: uuid.UUID,
    changes: NoticeUpdate,
    actor: Actor,
    texts: dict[str, dict[str, str]] | None = None,
) -> tuple[Notice, NoticeChange | None]:
    """Change what the agency may change in its pending or active notice. `texts` replaces
    the wording by language (a CAP Update). On an approved Actual notice a change that
    widens or moves the area or changes text or photo waits for a second person: it is
    returned as a pending change, and the notice is left as it was."""
    notice = locked_notice(session, notice_id, actor)
    if notice.agency_id != agency.id:
        raise NotFound("notice not found")
    if notice.status not in CHANGEABLE:
        raise Conflict(f"a notice that is {notice.status} cannot be updated")
    old, new = update_values(notice, changes, texts)
    if needs_second_person(notice) and _widens_or_rewords(notice, changes, texts):
        request = {"update": changes.model_dump(mode="json", exclude_unset=True), "texts": texts}
        change = propose_change(
            session, notice, kind=ChangeKind.UPDATE, request=request, old=old, new=new, actor=actor
        )
        return notice, change
    apply_update(session, notice, changes, texts=texts, actor=actor, old=old, new=new)
    return notice, None


def apply_update(
    session: Session,
    notice: Notice,
    changes: NoticeUpdate,
    *,
    texts: dict[str, dict[str, str]] | None,
    actor: Actor,
    old: dict[str, Any],
    new: dict[str, Any],
    **details: Any,
) -> None:
    """Apply an update to the locked notice. A new description alone keeps only the
    notice's own language's wording, since translations of the old one no longer match. An
    active notice is broadcast again once the change commits: devices in the new area that
    it has not reached yet get it."""
    changed = changes.model_fields_set
    if changes.description is not None:
        notice.person_description = changes.description
        if texts is None and notice.texts:
            own = notice.texts.get(notice.language, {})
            texts = {notice.language: {**own, "description": changes.description}}
    if "photo_url" in changed:
        notice.photo_url = str(changes.photo_url) if changes.photo_url else None
    if changes.areas is not None:
        notice.target_areas = areas_json(changes.areas)
        notice.radius_km = None
        expansion_repository.replace_pending_steps(session, notice.id, [])
    elif changes.radius_km is not None:
        notice.target_areas = None
        notice.radius_km = changes.radius_km
    if texts is not None:
        notice.texts = texts
    notice.revision += 1
    notice.revised_at = datetime.now(UTC)
    if notice.status == NoticeStatus.ACTIVE:
        # Only devices alerted before this update get it as an update; the new round alerts
        # the others with the new text.
        reached = stats.last_delivery_id(session, notice.id)
        broadcast_after_commit(session, notice, next_round=True)
        after_commit(session, partial(queue, FOLLOW_UP_TASK, str(notice.id), "update", reached))
    session.flush()
    audit_service.record(
        session,
        actor,
        "notice.updated",
        notice_id=notice.id,
        revision=notice.revision,
        fields=sorted(changed),
        old=old,
        new=new,
        **details,
    )
    log.info(
        "alerts.notice.updated notice=%s revision=%d fields=%s",
        notice.id,
        notice.revision,
        ",".join(sorted(changed)),
    )
