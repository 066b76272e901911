"""Business rules of agencies, notices and devices. Services flush, never commit: the caller's
session commits once."""

import logging
import uuid
from datetime import UTC, datetime, timedelta

from geoalchemy2 import WKTElement
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alerts import repository
from alerts.credentials import new_secret
from alerts.errors import Conflict, NotFound
from alerts.lifecycle import Action, next_status
from alerts.schemas import (
    AgencyCreate,
    Approval,
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
from kit.models import Agency, DeliveryStatus, Device, Notice, NoticeStatus

log = logging.getLogger(__name__)

BROADCAST_TASK = "notifier.broadcast"


def create_agency(session: Session, *, data: AgencyCreate) -> tuple[Agency, str]:
    """A new agency and its API key, which is returned here and never again."""
    taken = Conflict(f"an agency named {data.name!r} exists")
    if repository.agency_name_taken(session, data.name):
        raise taken
    api_key, key_hash = new_secret("hxa")
    agency = Agency(id=uuid.uuid4(), name=data.name, api_key_hash=key_hash)
    try:
        with session.begin_nested():  # a concurrent create of the same name loses here
            session.add(agency)
    except IntegrityError:
        raise taken from None
    log.info("alerts.agency.created agency=%s", agency.id)
    return agency, api_key


def submit_notice(session: Session, *, agency: Agency, data: NoticeCreate) -> Notice:
    notice = Notice(
        id=uuid.uuid4(),
        agency_id=agency.id,
        status=NoticeStatus.PENDING,
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
    log.info("alerts.notice.submitted notice=%s agency=%s", notice.id, agency.id)
    return notice


def get_agency_notice(session: Session, *, agency: Agency, notice_id: uuid.UUID) -> Notice:
    """The agency's own notice; another agency's is indistinguishable from a missing one."""
    notice = repository.notice_of_agency(session, agency_id=agency.id, notice_id=notice_id)
    if notice is None:
        raise NotFound("notice not found")
    return notice


def _locked_notice(session: Session, notice_id: uuid.UUID) -> Notice:
    notice = repository.notice_for_update(session, notice_id)
    if notice is None:
        raise NotFound("notice not found")
    return notice


def _queue_broadcast(notice_id: uuid.UUID) -> None:
    try:
        celery_app.send_task(BROADCAST_TASK, args=[str(notice_id)])
    except Exception:
        log.exception("alerts.notice.broadcast_enqueue_failed notice=%s", notice_id)


def approve_notice(session: Session, *, notice_id: uuid.UUID, approval: Approval) -> Notice:
    """Activate the notice; its broadcast is queued once the approval has committed."""
    notice = _locked_notice(session, notice_id)
    notice.status = next_status(notice.status, Action.APPROVE)
    now = datetime.now(UTC)
    lifetime = approval.lifetime_hours or get_settings().notice_lifetime_hours
    if approval.radius_km is not None:
        notice.radius_km = approval.radius_km
    notice.decided_at = now
    notice.expires_at = now + timedelta(hours=lifetime)
    session.flush()
    after_commit(session, lambda: _queue_broadcast(notice_id))
    log.info("alerts.notice.approved notice=%s radius_km=%s", notice_id, notice.radius_km)
    return notice


def reject_notice(session: Session, *, notice_id: uuid.UUID, decision: Decision) -> Notice:
    notice = _locked_notice(session, notice_id)
    notice.status = next_status(notice.status, Action.REJECT)
    notice.decided_at = datetime.now(UTC)
    notice.decision_reason = decision.reason
    session.flush()
    log.info("alerts.notice.rejected notice=%s", notice_id)
    return notice


def cancel_notice(session: Session, *, notice_id: uuid.UUID, decision: Decision) -> Notice:
    """End the notice; chunk tasks check the status before each batch and stop sending."""
    notice = _locked_notice(session, notice_id)
    notice.status = next_status(notice.status, Action.CANCEL)
    notice.ended_at = datetime.now(UTC)
    notice.decision_reason = decision.reason or notice.decision_reason
    session.flush()
    log.info("alerts.notice.cancelled notice=%s", notice_id)
    return notice


def delivery_stats(session: Session, *, notice_id: uuid.UUID) -> DeliveryStats:
    """Where the notice's broadcast stands. Complete once every chunk has claimed its
    recipients and no delivery is pending: each device got its push or a final error."""
    notice = session.get(Notice, notice_id)
    if notice is None:
        raise NotFound("notice not found")
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
    chunks, chunks_pending = repository.chunk_counts(session, notice_id)

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


def reach_preview(session: Session, *, query: ReachQuery) -> ReachPreview:
    """Devices each radius would reach now, counted as a broadcast would select them."""
    window = query.location_window_hours or get_settings().location_freshness_hours
    since = datetime.now(UTC) - timedelta(hours=window)
    return ReachPreview(
        reach=[
            Reach(
                radius_km=radius,
                devices=count_recipients(
                    session, Circle(query.lat, query.lon, radius * 1000.0), fresh_since=since
                ),
            )
            for radius in query.radii_km
        ],
        located_since=since,
    )


def expire_notices(session: Session, *, now: datetime) -> list[uuid.UUID]:
    expired = repository.expire_due(session, now=now)
    for notice_id in expired:
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
