"""Business rules of agencies, notices and devices. Services flush, never commit: the caller's
session commits once."""

import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from geoalchemy2 import WKTElement
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alerts import accounts, atom, audit, cap, repository
from alerts.audit import Actor
from alerts.credentials import new_secret
from alerts.errors import Conflict, NotFound, RateLimited
from alerts.idempotency import IdempotencyKeyReused, request_fingerprint
from alerts.lifecycle import Action, check_approver, found_rate, median_hours, next_status
from alerts.ratelimit import seconds_until_allowed
from alerts.schemas import (
    MAX_REASON_CHARS,
    MAX_WINDOW_HOURS,
    AgencyCreate,
    Approval,
    AuditEventOut,
    AuditPage,
    Decision,
    DeliveryStats,
    DeviceRegistration,
    ExpansionOut,
    ExpansionSchedule,
    ExpansionStepOut,
    LocationReport,
    NoticeCreate,
    NoticeOut,
    NoticeUpdate,
    OutcomeStats,
    Reach,
    ReachPreview,
    ReachQuery,
    SightingCreate,
    SightingOut,
    WebhookConfig,
    areas_json,
)
from alerts.webhooks import SIGHTING_CREATED, event_body, status_event
from geo.regions import Circle, Region, device_cell, region_from_json
from geo.selection import count_recipients
from geo.tallies import TallyPolicy, TallyRun, refresh_tallies
from kit.celery import celery_app
from kit.config import get_settings
from kit.db import after_commit
from kit.models import (
    ActorType,
    Agency,
    AgencyKey,
    AgencyWebhook,
    CapMessage,
    DeliveryStatus,
    Device,
    KeyScope,
    Notice,
    NoticeStatus,
    Sighting,
    WebhookEvent,
)

log = logging.getLogger(__name__)

BROADCAST_TASK = "notifier.broadcast"
EXPAND_TASK = "alerts.expand_notices"
FOLLOW_UP_TASK = "notifier.follow_up"
WEBHOOK_TASK = "alerts.deliver_webhook"
SIGHTING_WINDOW = timedelta(hours=1)
MAX_FEED_ENTRIES = 50


def create_agency(
    session: Session, *, data: AgencyCreate, actor: Actor
) -> tuple[Agency, AgencyKey, str]:
    """A new agency and its first API key (every scope), which is returned here and never
    again."""
    taken = Conflict(f"an agency named {data.name!r} exists")
    if repository.agency_name_taken(session, data.name):
        raise taken
    agency = Agency(id=uuid.uuid4(), name=data.name)
    try:
        with session.begin_nested():  # a concurrent create of the same name loses here
            session.add(agency)
    except IntegrityError:
        raise taken from None
    audit.record(session, actor, "agency.created", agency_id=agency.id, name=agency.name)
    key, api_key = accounts.issue_agency_key(
        session,
        agency=agency,
        scopes=list(KeyScope),
        label="first key",
        expires_at=None,
        actor=actor,
    )
    log.info("alerts.agency.created agency=%s", agency.id)
    return agency, key, api_key


def submit_notice(
    session: Session,
    *,
    agency: Agency,
    data: NoticeCreate,
    actor: Actor,
    notice_id: uuid.UUID | None = None,
) -> Notice:
    """A pending notice. When an operator submits it for the agency, that operator is
    recorded, and may not approve it (the two-person rule)."""
    notice = Notice(
        id=notice_id or uuid.uuid4(),
        agency_id=agency.id,
        status=NoticeStatus.PENDING,
        cap_status=data.cap_status,
        submitted_by_operator_id=actor.id if actor.type == ActorType.OPERATOR else None,
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
    audit.record(
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


def _locked_notice(session: Session, notice_id: uuid.UUID, actor: Actor) -> Notice:
    """The notice, locked for a change; an agency acts on its own notices only, and another
    agency's is indistinguishable from a missing one."""
    notice = repository.notice_for_update(session, notice_id)
    if notice is None or (actor.type == ActorType.AGENCY and notice.agency_id != actor.id):
        raise NotFound("notice not found")
    return notice


def _queue(task: str, *args: str | int) -> None:
    try:
        celery_app.send_task(task, args=list(args))
    except Exception:
        log.exception("alerts.task.enqueue_failed task=%s args=%s", task, args)


def _broadcast_after_commit(session: Session, notice: Notice, *, next_round: bool) -> None:
    """Queue the notice's broadcast once this transaction commits; a widened area or an update
    is a new round, which reaches only devices the notice has not reached yet. If the queue is
    down, the reconciler finds the round without chunks and queues it."""
    if next_round:
        notice.broadcast_round += 1
    after_commit(session, partial(_queue, BROADCAST_TASK, str(notice.id), notice.broadcast_round))


class DrawnAreas(Conflict):
    code = "drawn_areas"

    def __init__(self) -> None:
        super().__init__("this notice targets drawn areas; a radius applies to circle notices only")


def approve_notice(
    session: Session, *, notice_id: uuid.UUID, approval: Approval, actor: Actor
) -> Notice:
    """Activate the notice; its broadcast is queued once the approval has committed."""
    notice = _locked_notice(session, notice_id, actor)
    status = next_status(notice.status, Action.APPROVE)
    check_approver(
        notice.cap_status, submitted_by=notice.submitted_by_operator_id, approver=actor.id
    )
    notice.status = status
    now = datetime.now(UTC)
    lifetime = approval.lifetime_hours or get_settings().notice_lifetime_hours
    if approval.radius_km is not None:
        if notice.target_areas:
            raise DrawnAreas()
        notice.radius_km = approval.radius_km
    notice.decided_at = now
    notice.expires_at = now + timedelta(hours=lifetime)
    _broadcast_after_commit(session, notice, next_round=False)
    session.flush()
    _record_status_event(session, notice)
    audit.record(
        session,
        actor,
        "notice.approved",
        notice_id=notice_id,
        radius_km=notice.radius_km,
        expires_at=notice.expires_at,
    )
    log.info("alerts.notice.approved notice=%s radius_km=%s", notice_id, notice.radius_km)
    return notice


def reject_notice(
    session: Session, *, notice_id: uuid.UUID, decision: Decision, actor: Actor
) -> Notice:
    notice = _locked_notice(session, notice_id, actor)
    notice.status = next_status(notice.status, Action.REJECT)
    notice.decided_at = datetime.now(UTC)
    notice.decision_reason = decision.reason
    session.flush()
    _record_status_event(session, notice)
    audit.record(session, actor, "notice.rejected", notice_id=notice_id, reason=decision.reason)
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


def _end_notice(
    session: Session, notice_id: uuid.UUID, action: Action, decision: Decision, actor: Actor
) -> Notice:
    notice = _locked_notice(session, notice_id, actor)
    notice.status = next_status(notice.status, action)
    notice.ended_at = datetime.now(UTC)
    notice.decision_reason = decision.reason or notice.decision_reason
    session.flush()
    _record_status_event(session, notice)
    audit.record(
        session, actor, f"notice.{notice.status}", notice_id=notice_id, reason=decision.reason
    )
    if notice.status == NoticeStatus.FOUND:
        # Earlier recipients learn the person was found; the pop-up loses name and photo.
        after_commit(session, partial(_queue, FOLLOW_UP_TASK, str(notice.id), "found"))
    log.info("alerts.notice.%s notice=%s", notice.status, notice_id)
    return notice


def update_notice(
    session: Session,
    *,
    agency: Agency,
    notice_id: uuid.UUID,
    changes: NoticeUpdate,
    actor: Actor,
    texts: dict[str, dict[str, str]] | None = None,
) -> Notice:
    """Change what the agency may change in its pending or active notice. `texts` replaces
    the wording by language (a CAP Update); a new description alone keeps only the notice's
    own language's wording, since translations of the old one no longer match. An active
    notice is broadcast again once the change commits: devices in the new area that it has
    not reached yet get it."""
    notice = _locked_notice(session, notice_id, actor)
    if notice.agency_id != agency.id:
        raise NotFound("notice not found")
    if notice.status not in (NoticeStatus.PENDING, NoticeStatus.ACTIVE):
        raise Conflict(f"a notice that is {notice.status} cannot be updated")
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
        repository.replace_pending_steps(session, notice.id, [])
    elif changes.radius_km is not None:
        notice.target_areas = None
        notice.radius_km = changes.radius_km
    if texts is not None:
        notice.texts = texts
    notice.revision += 1
    notice.revised_at = datetime.now(UTC)
    if notice.status == NoticeStatus.ACTIVE:
        _broadcast_after_commit(session, notice, next_round=True)
        after_commit(session, partial(_queue, FOLLOW_UP_TASK, str(notice.id), "update"))
    session.flush()
    audit.record(
        session,
        actor,
        "notice.updated",
        notice_id=notice_id,
        revision=notice.revision,
        fields=sorted(changed),
    )
    log.info(
        "alerts.notice.updated notice=%s revision=%d fields=%s",
        notice_id,
        notice.revision,
        ",".join(sorted(changed)),
    )
    return notice


def import_cap_alert(
    session: Session, *, agency: Agency, actor: Actor, document: bytes
) -> tuple[Notice, bool]:
    """Act on a CAP 1.2 message: an Alert submits a notice, an Update changes the notice its
    `references` name, a Cancel cancels it. Returns the notice and whether it is new.
    References are the agency's own earlier messages; a message is taken once."""
    alert = cap.parse_alert(document)
    cap.check_message(alert)
    earlier = repository.cap_message_notice(
        session, agency_id=agency.id, sender=alert.sender, identifier=alert.identifier
    )
    if earlier is not None:
        raise _repeated(alert, earlier)
    if alert.msg_type == "Alert":
        imported = cap.notice_from_alert(alert)
        notice = submit_notice(session, agency=agency, data=imported.notice, actor=actor)
        notice.texts = imported.texts
    else:
        notice_id = _referenced_notice(session, agency=agency, alert=alert)
        if alert.msg_type == "Update":
            current = get_agency_notice(session, agency=agency, notice_id=notice_id)
            update = cap.changes_from_alert(
                alert,
                language=current.language,
                last_seen=(current.last_seen_lat, current.last_seen_lon),
            )
            notice = update_notice(
                session,
                agency=agency,
                notice_id=notice_id,
                changes=update.changes,
                actor=actor,
                texts=update.texts,
            )
        else:
            reason = alert.note[:MAX_REASON_CHARS] if alert.note else None
            notice = cancel_notice(
                session, notice_id=notice_id, decision=Decision(reason=reason), actor=actor
            )
    message = CapMessage(
        agency_id=agency.id,
        notice_id=notice.id,
        sender=alert.sender,
        identifier=alert.identifier,
        sent=alert.sent,
        msg_type=alert.msg_type,
    )
    try:
        with session.begin_nested():  # the same message posted twice at once loses here
            session.add(message)
    except IntegrityError:
        raise _repeated(alert, notice.id) from None
    session.flush()
    log.info(
        "alerts.cap.imported agency=%s notice=%s msg_type=%s identifier=%s",
        agency.id,
        notice.id,
        alert.msg_type,
        alert.identifier,
    )
    return notice, alert.msg_type == "Alert"


def _repeated(alert: cap.CapAlert, notice_id: uuid.UUID) -> Conflict:
    return Conflict(
        f"CAP message {alert.identifier} from {alert.sender} was already received "
        f"(notice {notice_id})"
    )


def _referenced_notice(session: Session, *, agency: Agency, alert: cap.CapAlert) -> uuid.UUID:
    found = repository.notices_of_cap_messages(
        session,
        agency_id=agency.id,
        messages=[(r.sender, r.identifier) for r in alert.references],
    )
    if not found:
        named = ", ".join(f"{r.identifier} from {r.sender}" for r in alert.references)
        raise NotFound(f"no notice of this agency came from the referenced message ({named})")
    if len(found) > 1:
        raise cap.CapRejected(["<references> name messages of more than one notice"])
    return found.pop()


def get_notice(session: Session, *, notice_id: uuid.UUID) -> Notice:
    notice = session.get(Notice, notice_id)
    if notice is None:
        raise NotFound("notice not found")
    return notice


def notice_as_cap(session: Session, *, notice: Notice) -> bytes:
    return cap.alert_document(
        notice,
        agency_name=repository.agency_name(session, notice.agency_id),
        sender=get_settings().cap_sender,
    )


def active_notice_as_cap(session: Session, *, notice_id: uuid.UUID) -> bytes:
    """Active notices are public alerts; any other is not found here."""
    notice = session.get(Notice, notice_id)
    if notice is None or notice.status != NoticeStatus.ACTIVE:
        raise NotFound("no active notice with this id")
    return notice_as_cap(session, notice=notice)


def active_feed(session: Session, *, feed_url: str, cap_url: Callable[[uuid.UUID], str]) -> bytes:
    """The Atom feed of the newest active notices, each with its CAP alert inline."""
    entries = [
        atom.FeedEntry(notice=notice, agency_name=name, cap_url=cap_url(notice.id))
        for notice, name in repository.active_notices(session, limit=MAX_FEED_ENTRIES)
    ]
    return atom.feed_document(
        entries, feed_url=feed_url, sender=get_settings().cap_sender, now=datetime.now(UTC)
    )


def outcome_stats(session: Session) -> OutcomeStats:
    """How many notices found their person, and how fast: the measure of the service."""
    counts = repository.notice_status_counts(session)
    return OutcomeStats(
        by_status=dict.fromkeys(NoticeStatus, 0) | counts,
        found_rate=found_rate(repository.notice_status_counts(session, approved_only=True)),
        median_hours_to_found=median_hours(repository.seconds_to_found(session)),
    )


def delivery_stats(session: Session, *, notice_id: uuid.UUID) -> DeliveryStats:
    """Where the notice's broadcast stands. Complete once every chunk has claimed its
    recipients and no delivery is pending: each device got its push or a final error."""
    notice = session.get(Notice, notice_id)
    if notice is None:
        raise NotFound("notice not found")
    # Chunks before deliveries: a chunk's claim commits its deliveries with it, so a chunk
    # read as claimed has its deliveries in the read after it. The other way round, a claim
    # committing between the two reads made a broadcast look complete with no one targeted.
    chunks, chunks_pending = repository.chunk_counts(session, notice_id)
    by_status = dict.fromkeys(DeliveryStatus, 0)
    failed: dict[str, int] = {}
    retrying = 0
    sent_times: list[datetime] = []
    for group in repository.delivery_groups(session, notice_id):
        by_status[group.status] += group.count
        if group.status == DeliveryStatus.FAILED and group.error_code:
            failed[group.error_code] = failed.get(group.error_code, 0) + group.count
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
        retrying=retrying,
        complete=chunks > 0 and chunks_pending == 0 and by_status[DeliveryStatus.PENDING] == 0,
        first_sent_after_s=after_approval(min(sent_times, default=None)),
        last_sent_after_s=after_approval(max(sent_times, default=None)),
    )


def notice_audit(session: Session, *, notice_id: uuid.UUID, limit: int, offset: int) -> AuditPage:
    """The notice's audit events, oldest first."""
    if session.get(Notice, notice_id) is None:
        raise NotFound("notice not found")
    events, total = repository.audit_events(
        session, notice_id=notice_id, newest_first=False, limit=limit, offset=offset
    )
    return AuditPage(items=[AuditEventOut.from_event(e) for e in events], total=total)


def reach_preview(session: Session, *, query: ReachQuery) -> ReachPreview:
    """Devices each radius (or the areas) would reach now, counted as a broadcast would
    select them; large areas partly from the device tally (see geo.tallies)."""
    settings = get_settings()
    now = datetime.now(UTC)
    window = query.location_window_hours or settings.location_freshness_hours
    since = now - timedelta(hours=window)
    tally = TallyPolicy(
        min_devices=settings.reach_tally_min_devices,
        taken_after=now - timedelta(seconds=settings.reach_tally_max_age_seconds),
    )

    def reach(radius_km: float | None, region: Region) -> Reach:
        count = count_recipients(
            session,
            region,
            fresh_since=since,
            test_devices_only=query.cap_status.test_devices_only,
            tally=tally,
        )
        return Reach(radius_km=radius_km, devices=count.devices, tallied_at=count.tallied_at)

    if query.areas is not None:
        return ReachPreview(
            reach=[reach(None, region_from_json(areas_json(query.areas)))], located_since=since
        )
    assert query.lat is not None and query.lon is not None and query.radii_km is not None
    return ReachPreview(
        reach=[
            reach(radius, (Circle(query.lat, query.lon, radius * 1000.0),))
            for radius in query.radii_km
        ],
        located_since=since,
    )


def tally_devices(session: Session, *, now: datetime) -> TallyRun | None:
    """Count the devices into the device tally, over the longest window a notice may have."""
    return refresh_tallies(session, now=now, window=timedelta(hours=MAX_WINDOW_HOURS))


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


def expansion_schedule(session: Session, *, notice_id: uuid.UUID) -> ExpansionOut:
    notice = session.get(Notice, notice_id)
    if notice is None:
        raise NotFound("notice not found")
    if notice.target_areas:
        raise DrawnAreas()
    return _expansion_out(session, notice)


def set_expansion_schedule(
    session: Session, *, notice_id: uuid.UUID, schedule: ExpansionSchedule, actor: Actor
) -> ExpansionOut:
    """Replace the steps not applied yet; steps already due run at the next beat, which is
    also asked to run at once."""
    notice = _locked_notice(session, notice_id, actor)
    if notice.target_areas:
        raise DrawnAreas()
    if notice.status not in (NoticeStatus.PENDING, NoticeStatus.ACTIVE):
        raise Conflict(f"a notice that is {notice.status} does not expand")
    assert notice.radius_km is not None
    applied = [s for s in repository.expansion_steps(session, notice_id) if s.applied_at]
    last_applied = max((s.after_minutes for s in applied), default=0.0)
    for step in schedule.steps:
        if step.radius_km <= notice.radius_km:
            raise Conflict(
                f"a step to {step.radius_km} km does not widen the current {notice.radius_km} km"
            )
        if step.after_minutes <= last_applied:
            raise Conflict(f"a step at {last_applied} minutes has already been applied")
    repository.replace_pending_steps(
        session, notice_id, [(s.after_minutes, s.radius_km) for s in schedule.steps]
    )
    session.flush()
    audit.record(
        session,
        actor,
        "notice.expansion_planned",
        notice_id=notice_id,
        steps=[step.model_dump() for step in schedule.steps],
    )
    if notice.status == NoticeStatus.ACTIVE:
        after_commit(session, lambda: _queue(EXPAND_TASK))
    log.info("alerts.notice.expansion_set notice=%s steps=%d", notice_id, len(schedule.steps))
    return _expansion_out(session, notice)


def expand_notices(session: Session, *, now: datetime) -> list[uuid.UUID]:
    """Apply every due step: the notice's radius becomes its widest due step, and one
    broadcast per notice reaches the devices it has not notified yet."""
    widened: dict[uuid.UUID, float] = {}
    for step in repository.due_expansion_steps(session, now=now):
        step.applied_at = now
        widened[step.notice_id] = max(widened.get(step.notice_id, 0.0), step.radius_km)
    for notice_id, radius_km in widened.items():
        notice = session.get(Notice, notice_id)
        assert notice is not None and notice.radius_km is not None
        notice.radius_km = max(notice.radius_km, radius_km)
        audit.record(
            session,
            audit.SYSTEM,
            "notice.expanded",
            notice_id=notice_id,
            radius_km=notice.radius_km,
        )
        log.info("alerts.notice.expanded notice=%s radius_km=%s", notice_id, notice.radius_km)
        _broadcast_after_commit(session, notice, next_round=True)
    session.flush()
    return list(widened)


def expire_notices(session: Session, *, now: datetime) -> list[uuid.UUID]:
    expired = repository.expire_due(session, now=now)
    for notice_id in expired:
        audit.record(session, audit.SYSTEM, "notice.expired", notice_id=notice_id)
        log.info("alerts.notice.expired notice=%s", notice_id)
        _record_status_event(session, session.get_one(Notice, notice_id))
    return expired


def register_device(session: Session, *, data: DeviceRegistration) -> tuple[uuid.UUID, str, bool]:
    """Register or refresh a token. A new device key is issued each time: the app that holds
    the token is the device, and it may have lost its previous key (reinstall, restore)."""
    device_key, key_hash = new_secret("hxd")
    device_id, created = repository.upsert_device(
        session,
        fcm_token=data.fcm_token,
        platform=data.platform,
        locale=data.locale,
        credential_hash=key_hash,
        test_device=data.test_device,
    )
    log.info("alerts.device.registered device=%s created=%s", device_id, created)
    return device_id, device_key, created


def report_location(session: Session, *, device: Device, data: LocationReport) -> bool:
    """Keep the newest location; a report older than the stored one is ignored."""
    if device.located_at is not None and data.at <= device.located_at:
        return False
    device.location = WKTElement(f"POINT({data.lon} {data.lat})", srid=4326)
    device.h3_cell = device_cell(data.lat, data.lon)
    device.accuracy_m = data.accuracy_m
    device.located_at = data.at
    session.flush()
    return True


def report_sighting(
    session: Session, *, device: Device, notice_id: uuid.UUID, data: SightingCreate
) -> Sighting:
    """Store a device's sighting of an active notice's person. Any other notice is 404, so a
    device learns nothing of notices that were never, or are no longer, public."""
    notice = repository.active_notice(session, notice_id)
    if notice is None:
        raise NotFound("notice not found")
    _limit_sightings(session, device_id=device.id, notice_id=notice_id)
    sighting = Sighting(
        id=uuid.uuid4(),
        notice_id=notice_id,
        device_id=device.id,
        seen_at=data.seen_at,
        lat=data.lat,
        lon=data.lon,
        accuracy_m=data.accuracy_m,
        text=data.text,
        contact=data.contact,
    )
    session.add(sighting)
    session.flush()
    session.refresh(sighting)
    _record_event(
        session,
        agency_id=notice.agency_id,
        event_type=SIGHTING_CREATED,
        data={"sighting": SightingOut.from_sighting(sighting).model_dump(mode="json")},
    )
    log.info("alerts.sighting.created sighting=%s notice=%s", sighting.id, notice_id)
    return sighting


def _limit_sightings(session: Session, *, device_id: uuid.UUID, notice_id: uuid.UUID) -> None:
    """Per device, at most `sightings_per_device_hour` in any hour and
    `sightings_per_notice_hour` about one notice. The device row is locked first, so
    concurrent reports of one device are counted one after the other."""
    settings = get_settings()
    now = repository.lock_device(session, device_id)
    since = now - SIGHTING_WINDOW
    limits = [
        (settings.sightings_per_device_hour, None, "sightings per hour from one device"),
        (settings.sightings_per_notice_hour, notice_id, "sightings per hour about one notice"),
    ]
    for limit, about, what in limits:
        times = repository.recent_sighting_times(
            session, device_id=device_id, since=since, limit=limit, notice_id=about
        )
        wait = seconds_until_allowed(times, limit=limit, window=SIGHTING_WINDOW, now=now)
        if wait is not None:
            raise RateLimited(f"at most {limit} {what}", retry_after_s=wait)


def notice_sightings(
    session: Session, *, notice_id: uuid.UUID, agency: Agency | None, limit: int, offset: int
) -> tuple[Sequence[Sighting], int]:
    """The sightings of a notice, newest first: an agency's own notice, or any for operators
    (agency None)."""
    if agency is not None:
        get_agency_notice(session, agency=agency, notice_id=notice_id)
    elif session.get(Notice, notice_id) is None:
        raise NotFound("notice not found")
    return repository.list_sightings(session, notice_id=notice_id, limit=limit, offset=offset)


def set_webhook(
    session: Session, *, agency_id: uuid.UUID, data: WebhookConfig
) -> tuple[AgencyWebhook, str]:
    """Point the agency's events at `data.url` with a new signing secret, which is returned
    here only. The previous secret stops signing at once."""
    if session.get(Agency, agency_id) is None:
        raise NotFound("agency not found")
    secret, _ = new_secret("whsec")
    webhook = repository.upsert_webhook(
        session, agency_id=agency_id, url=str(data.url), secret=secret
    )
    log.info("alerts.webhook.set agency=%s", agency_id)
    return webhook, secret


def get_webhook(session: Session, *, agency_id: uuid.UUID) -> AgencyWebhook:
    webhook = session.get(AgencyWebhook, agency_id)
    if webhook is None:
        raise NotFound("no webhook configured")
    return webhook


def remove_webhook(session: Session, *, agency_id: uuid.UUID) -> None:
    """No more events are recorded; pending ones fail at their next attempt."""
    repository.delete_webhook(session, agency_id)
    log.info("alerts.webhook.removed agency=%s", agency_id)


def _record_status_event(session: Session, notice: Notice) -> None:
    _record_event(
        session,
        agency_id=notice.agency_id,
        event_type=status_event(notice.status),
        data={"notice": NoticeOut.from_notice(notice).model_dump(mode="json")},
    )


def _record_event(
    session: Session, *, agency_id: uuid.UUID, event_type: str, data: dict[str, Any]
) -> None:
    """Write the event to the outbox in the caller's transaction, if the agency has a webhook,
    and queue its delivery once that transaction commits. If the broker is down then, beat's
    `alerts.requeue_webhooks` queues it later."""
    if session.get(AgencyWebhook, agency_id) is None:
        return
    event_id = uuid.uuid4()
    now = datetime.now(UTC)
    body = event_body(event_id=event_id, event_type=event_type, created_at=now, data=data)
    session.add(
        WebhookEvent(
            id=event_id,
            agency_id=agency_id,
            event_type=event_type,
            body=body,
            created_at=now,
        )
    )
    session.flush()
    after_commit(session, lambda: _queue_webhook(event_id))


def _queue_webhook(event_id: uuid.UUID) -> None:
    try:
        celery_app.send_task(WEBHOOK_TASK, args=[str(event_id)])
    except Exception:
        log.exception("alerts.webhook.enqueue_failed event=%s", event_id)
