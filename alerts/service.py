"""Business rules of agencies, notices and devices. Services flush, never commit: the caller's
session commits once."""

import logging
import uuid
from datetime import UTC, datetime, timedelta

from geoalchemy2 import WKTElement
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alerts import accounts, audit, repository
from alerts.audit import Actor
from alerts.credentials import new_secret
from alerts.errors import Conflict, NotFound
from alerts.lifecycle import Action, check_approver, next_status
from alerts.schemas import (
    AgencyCreate,
    Approval,
    AuditEventOut,
    AuditPage,
    Decision,
    DeliveryStats,
    DeviceRegistration,
    LocationReport,
    NoticeCreate,
    Reach,
    ReachPreview,
    ReachQuery,
)
from geo.regions import Circle, device_cell
from geo.selection import count_recipients
from kit.celery import celery_app
from kit.config import get_settings
from kit.db import after_commit
from kit.models import (
    ActorType,
    Agency,
    AgencyKey,
    DeliveryStatus,
    Device,
    KeyScope,
    Notice,
    NoticeStatus,
)

log = logging.getLogger(__name__)

BROADCAST_TASK = "notifier.broadcast"


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


def submit_notice(session: Session, *, agency: Agency, data: NoticeCreate, actor: Actor) -> Notice:
    """A pending notice. When an operator submits it for the agency, that operator is
    recorded, and may not approve it (the two-person rule)."""
    notice = Notice(
        id=uuid.uuid4(),
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


def _queue_broadcast(notice_id: uuid.UUID) -> None:
    try:
        celery_app.send_task(BROADCAST_TASK, args=[str(notice_id)])
    except Exception:
        log.exception("alerts.notice.broadcast_enqueue_failed notice=%s", notice_id)


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
        notice.radius_km = approval.radius_km
    notice.decided_at = now
    notice.expires_at = now + timedelta(hours=lifetime)
    session.flush()
    audit.record(
        session,
        actor,
        "notice.approved",
        notice_id=notice_id,
        radius_km=notice.radius_km,
        expires_at=notice.expires_at,
    )
    after_commit(session, lambda: _queue_broadcast(notice_id))
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
    audit.record(
        session, actor, f"notice.{notice.status}", notice_id=notice_id, reason=decision.reason
    )
    log.info("alerts.notice.%s notice=%s", notice.status, notice_id)
    return notice


def delivery_stats(session: Session, *, notice_id: uuid.UUID) -> DeliveryStats:
    if session.get(Notice, notice_id) is None:
        raise NotFound("notice not found")
    by_status = dict.fromkeys(DeliveryStatus, 0)
    failed: dict[str, int] = {}
    for status, error_code, count in repository.delivery_counts(session, notice_id):
        by_status[status] += count
        if status == DeliveryStatus.FAILED and error_code:
            failed[error_code] = failed.get(error_code, 0) + count
    return DeliveryStats(
        notice_id=notice_id,
        targeted=sum(by_status.values()),
        by_status=by_status,
        failed_by_reason=failed,
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
    """Devices each radius would reach now, counted as a broadcast would select them."""
    window = query.location_window_hours or get_settings().location_freshness_hours
    since = datetime.now(UTC) - timedelta(hours=window)
    return ReachPreview(
        reach=[
            Reach(
                radius_km=radius,
                devices=count_recipients(
                    session,
                    Circle(query.lat, query.lon, radius * 1000.0),
                    fresh_since=since,
                    test_devices_only=query.cap_status.test_devices_only,
                ),
            )
            for radius in query.radii_km
        ],
        located_since=since,
    )


def expire_notices(session: Session, *, now: datetime) -> list[uuid.UUID]:
    expired = repository.expire_due(session, now=now)
    for notice_id in expired:
        audit.record(session, audit.SYSTEM, "notice.expired", notice_id=notice_id)
        log.info("alerts.notice.expired notice=%s", notice_id)
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
