"""The notice lifecycle: submit, approve, reject, cancel, mark found, update and expire.
Services flush, never commit: the caller's session commits once, and the broadcast and
webhook tasks they queue are sent only after that commit."""

import logging
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from alerts.accounts import repository as account_repository
from alerts.audit import service as audit_service
from alerts.audit.service import Actor
from alerts.errors import Conflict, NotFound
from alerts.expansion import repository as expansion_repository
from alerts.notices import repository
from alerts.notices.areas import areas_json
from alerts.notices.idempotency import IdempotencyKeyReused, request_fingerprint
from alerts.notices.lifecycle import (
    Action,
    check_approver,
    found_rate,
    median_hours,
    next_status,
)
from alerts.notices.schemas import (
    Approval,
    Decision,
    DeliveryStats,
    NoticeCreate,
    OutcomeStats,
)
from alerts.webhooks.service import record_status_event
from kit.config import get_settings
from kit.db import after_commit, retry_conflicts, retrying_conflicts
from kit.models import (
    ActorType,
    Agency,
    DeliveryStatus,
    Notice,
    NoticeStatus,
)
from kit.outbox import send_or_keep
from notifier import stats

log = logging.getLogger(__name__)

BROADCAST_TASK = "notifier.broadcast"

FOLLOW_UP_TASK = "notifier.follow_up"


def submit_notice(
    session: Session,
    *,
    agency: Agency,
    data: NoticeCreate,
    actor: Actor,
    notice_id: uuid.UUID | None = None,
) -> Notice:
    """A pending notice. The operator who submits it for the agency, or the agency key it is
    submitted with, is recorded: neither that operator nor the key's issuer may approve it
    (the two-person rule)."""
    notice = Notice(
        id=notice_id or uuid.uuid4(),
        agency_id=agency.id,
        status=NoticeStatus.PENDING,
        cap_status=data.cap_status,
        submitted_by_operator_id=actor.id if actor.type == ActorType.OPERATOR else None,
        submitted_with_key_id=actor.credential_id if actor.type == ActorType.AGENCY else None,
        person_name=data.person.name,
        person_age=data.person.age,
        person_sex=data.person.sex,
        person_description=data.person.description,
        photo_url=str(data.person.photo_url) if data.person.photo_url else None,
        last_seen_lat=data.last_seen.lat,
        last_seen_lon=data.last_seen.lon,
        last_seen_at=data.last_seen.at,
        last_seen_place=data.last_seen.place,
        radius_km=data.radius_km,
        target_areas=areas_json(data.areas) if data.areas else None,
        location_window_hours=(
            data.location_window_hours or get_settings().location_freshness_hours
        ),
        contact=data.contact,
        language=data.language,
    )
    session.add(notice)
    session.flush()
    session.refresh(notice)
    audit_service.record(
        session,
        actor,
        "notice.submitted",
        notice_id=notice.id,
        agency_id=agency.id,
        cap_status=notice.cap_status,
        radius_km=notice.radius_km,
    )
    log.info("alerts.notice.submitted notice=%s agency=%s", notice.id, agency.id)
    return notice


def submit_notice_once(
    session: Session, *, agency: Agency, data: NoticeCreate, idempotency_key: str, actor: Actor
) -> tuple[Notice, bool]:
    """Submit under an Idempotency-Key: the first request with the key creates the notice,
    a repeat of the same request gets that notice back (replayed: True), another request
    with the key is refused. Keys are remembered for `idempotency_key_hours`."""
    fingerprint = request_fingerprint(data.model_dump())
    notice_id = uuid.uuid4()
    stored_id, stored_fingerprint = repository.claim_idempotency_key(
        session,
        agency_id=agency.id,
        key=idempotency_key,
        request_hash=fingerprint,
        notice_id=notice_id,
        expired_before=datetime.now(UTC) - timedelta(hours=get_settings().idempotency_key_hours),
    )
    if stored_id == notice_id:
        notice = submit_notice(session, agency=agency, data=data, actor=actor, notice_id=notice_id)
        return notice, False
    if stored_fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was used with a different request body; "
            "use a new key for a new notice"
        )
    return session.get_one(Notice, stored_id), True


def get_agency_notice(session: Session, *, agency: Agency, notice_id: uuid.UUID) -> Notice:
    """The agency's own notice; another agency's is indistinguishable from a missing one."""
    notice = repository.notice_of_agency(session, agency_id=agency.id, notice_id=notice_id)
    if notice is None:
        raise NotFound("notice not found")
    return notice


def locked_notice(session: Session, notice_id: uuid.UUID, actor: Actor) -> Notice:
    """The notice, locked for a change and read again under the lock, so the status every
    change checks is the one no other change can move until this one commits; an agency
    acts on its own notices only, and another agency's is indistinguishable from a missing
    one."""
    notice = repository.notice_for_update(session, notice_id)
    if notice is None or (actor.type == ActorType.AGENCY and notice.agency_id != actor.id):
        raise NotFound("notice not found")
    return notice


def queue(task: str, *args: str | int) -> None:
    """Queue `task`, or keep it for the outbox relay while the broker is down."""
    send_or_keep(task, args)


def broadcast_after_commit(session: Session, notice: Notice, *, next_round: bool) -> None:
    """Queue the notice's broadcast once this transaction commits; a widened area or an update
    is a new round, which reaches only devices the notice has not reached yet. If the queue is
    down, the outbox relay sends it when it is back (and the reconciler would find the round
    without chunks)."""
    if next_round:
        notice.broadcast_round += 1
    after_commit(session, partial(queue, BROADCAST_TASK, str(notice.id), notice.broadcast_round))


class DrawnAreas(Conflict):
    code = "drawn_areas"

    def __init__(self) -> None:
        super().__init__("this notice targets drawn areas; a radius applies to circle notices only")


@retrying_conflicts
def approve_notice(
    session: Session, *, notice_id: uuid.UUID, approval: Approval, actor: Actor
) -> Notice:
    """Activate the notice; its broadcast is queued once the approval has committed."""
    notice = locked_notice(session, notice_id, actor)
    status = next_status(notice.status, Action.APPROVE)
    check_approver(
        notice.cap_status,
        approver=actor.id,
        submitted_by=notice.submitted_by_operator_id,
        key_issuer=(
            account_repository.key_issuer(session, notice.submitted_with_key_id)
            if notice.submitted_with_key_id
            else None
        ),
    )
    notice.status = status
    now = datetime.now(UTC)
    lifetime = approval.lifetime_hours or get_settings().notice_lifetime_hours
    target_before = {"radius_km": notice.radius_km, "areas": notice.target_areas}
    if approval.radius_km is not None:
        if notice.target_areas:
            raise DrawnAreas()
        notice.radius_km = approval.radius_km
    elif approval.areas is not None:
        # The reviewer drew the areas on the map: they replace the circle or the agency's
        # areas, and the circle's expansion steps go with the circle.
        notice.target_areas = areas_json(approval.areas)
        notice.radius_km = None
        expansion_repository.replace_pending_steps(session, notice.id, [])
    notice.decided_at = now
    notice.expires_at = now + timedelta(hours=lifetime)
    broadcast_after_commit(session, notice, next_round=False)
    session.flush()
    record_status_event(session, notice)
    audit_service.record(
        session,
        actor,
        "notice.approved",
        notice_id=notice_id,
        radius_km=notice.radius_km,
        expires_at=notice.expires_at,
        **_target_change(target_before, notice),
    )
    log.info("alerts.notice.approved notice=%s radius_km=%s", notice_id, notice.radius_km)
    return notice


def _target_change(before: dict[str, Any], notice: Notice) -> dict[str, Any]:
    """The old and new target for the audit record, when the approval changed it."""
    after = {"radius_km": notice.radius_km, "areas": notice.target_areas}
    return {} if after == before else {"old": before, "new": after}


@retrying_conflicts
def reject_notice(
    session: Session, *, notice_id: uuid.UUID, decision: Decision, actor: Actor
) -> Notice:
    notice = locked_notice(session, notice_id, actor)
    notice.status = next_status(notice.status, Action.REJECT)
    notice.decided_at = datetime.now(UTC)
    notice.decision_reason = decision.reason
    session.flush()
    record_status_event(session, notice)
    audit_service.record(
        session, actor, "notice.rejected", notice_id=notice_id, reason=decision.reason
    )
    log.info("alerts.notice.rejected notice=%s", notice_id)
    return notice


def cancel_notice(
    session: Session, *, notice_id: uuid.UUID, decision: Decision, actor: Actor
) -> Notice:
    """End the notice; chunk tasks check the status before each batch and stop sending."""
    return _end_notice(session, notice_id, Action.CANCEL, decision, actor)


def mark_found(
    session: Session, *, notice_id: uuid.UUID, decision: Decision, actor: Actor
) -> Notice:
    """The person is found: the notice ends, and sending stops as for a cancel."""
    return _end_notice(session, notice_id, Action.FOUND, decision, actor)


@retrying_conflicts
def _end_notice(
    session: Session, notice_id: uuid.UUID, action: Action, decision: Decision, actor: Actor
) -> Notice:
    notice = locked_notice(session, notice_id, actor)
    notice.status = next_status(notice.status, action)
    notice.ended_at = datetime.now(UTC)
    notice.decision_reason = decision.reason or notice.decision_reason
    session.flush()
    record_status_event(session, notice)
    audit_service.record(
        session, actor, f"notice.{notice.status}", notice_id=notice_id, reason=decision.reason
    )
    if notice.status == NoticeStatus.FOUND:
        # Earlier recipients learn the person was found; the pop-up loses name and photo.
        after_commit(session, partial(queue, FOLLOW_UP_TASK, str(notice.id), "found"))
    log.info("alerts.notice.%s notice=%s", notice.status, notice_id)
    return notice


def outcome_stats(session: Session) -> OutcomeStats:
    """How many notices found their person, and how fast: the measure of the service."""
    counts = repository.notice_status_counts(session)
    return OutcomeStats(
        by_status=dict.fromkeys(NoticeStatus, 0) | counts,
        found_rate=found_rate(repository.notice_status_counts(session, approved_only=True)),
        median_hours_to_found=median_hours(repository.seconds_to_found(session)),
    )


def delivery_stats(session: Session, *, notice: Notice) -> DeliveryStats:
    """Where the notice's broadcast stands. Complete once every chunk has claimed its
    recipients and no delivery is pending: each device got its push or a final error."""
    notice_id = notice.id
    # Chunks before deliveries: a chunk's claim commits its deliveries with it, so a chunk
    # read as claimed has its deliveries in the read after it. The other way round, a claim
    # committing between the two reads made a broadcast look complete with no one targeted.
    chunks, chunks_pending = stats.chunk_counts(session, notice_id)
    by_status = dict.fromkeys(DeliveryStatus, 0)
    failed: dict[str, int] = {}
    suppressed: dict[str, int] = {}
    retrying = 0
    sent_times: list[datetime] = []
    for group in stats.delivery_groups(session, notice_id):
        by_status[group.status] += group.count
        if group.status == DeliveryStatus.FAILED and group.error_code:
            failed[group.error_code] = failed.get(group.error_code, 0) + group.count
        if group.status == DeliveryStatus.SUPPRESSED and group.error_code:
            suppressed[group.error_code] = suppressed.get(group.error_code, 0) + group.count
        if group.status == DeliveryStatus.PENDING and group.error_code:
            retrying += group.count
        sent_times += [t for t in (group.first_sent_at, group.last_sent_at) if t is not None]

    def after_approval(at: datetime | None) -> float | None:
        if at is None or notice.decided_at is None:
            return None
        return round((at - notice.decided_at).total_seconds(), 3)

    return DeliveryStats(
        notice_id=notice_id,
        targeted=sum(by_status.values()),
        by_status=by_status,
        failed_by_reason=failed,
        suppressed_by_reason=suppressed,
        retrying=retrying,
        complete=chunks > 0 and chunks_pending == 0 and by_status[DeliveryStatus.PENDING] == 0,
        first_sent_after_s=after_approval(min(sent_times, default=None)),
        last_sent_after_s=after_approval(max(sent_times, default=None)),
    )


def expire_notices(session: Session, *, now: datetime) -> list[uuid.UUID]:
    """End the active notices whose time is up; one that ended meanwhile stays as it ended."""
    return retry_conflicts(session, partial(_expire_notices, session, now=now))


def _expire_notices(session: Session, *, now: datetime) -> list[uuid.UUID]:
    expired = repository.expire_due(session, now=now)
    for notice_id in expired:
        audit_service.record(session, audit_service.SYSTEM, "notice.expired", notice_id=notice_id)
        log.info("alerts.notice.expired notice=%s", notice_id)
        record_status_event(session, session.get_one(Notice, notice_id))
    return expired
