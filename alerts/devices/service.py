"""App installs: registration, location reports and the sightings their users send back."""

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from alerts.accounts.credentials import new_secret
from alerts.devices import repository
from alerts.devices.ingest import Report, location_writer
from alerts.devices.schemas import (
    DevicePreferences,
    DeviceRegistration,
    LocationReport,
    SightingCreate,
    SightingOut,
)
from alerts.errors import NotFound, RateLimited, Unauthenticated
from alerts.notices import repository as notice_repository
from alerts.webhooks.service import record_event
from alerts.webhooks.signing import SIGHTING_CREATED
from geo.regions import device_cell
from geo.tallies import MAX_WINDOW_HOURS
from kit.config import get_settings
from kit.models import (
    Device,
    Notice,
    Sighting,
)
from kit.ratelimit import seconds_until_allowed

log = logging.getLogger(__name__)

SIGHTING_WINDOW = timedelta(hours=1)


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


async def store_location(*, key_hash: str, data: LocationReport) -> bool:
    """Keep the newest location; a report older than the stored one is accepted and ignored.
    Stored by group commit (alerts.devices.ingest), whose statement also finds the device:
    False when no device has the key."""
    report = Report(
        key_hash=key_hash,
        lat=data.lat,
        lon=data.lon,
        cell=device_cell(data.lat, data.lon),
        accuracy_m=data.accuracy_m,
        at=data.at,
    )
    return await location_writer().store(report)


async def report_location(*, key_hash: str, data: LocationReport) -> None:
    if not await store_location(key_hash=key_hash, data=data):
        raise Unauthenticated("unknown device key")


def set_preferences(session: Session, *, device: Device, data: DevicePreferences) -> Device:
    """Pause or resume alerts, or change the device's language."""
    if data.alerts_paused is not None:
        device.alerts_paused = data.alerts_paused
    if data.locale is not None:
        device.locale = data.locale
    session.flush()
    log.info("alerts.device.preferences device=%s paused=%s", device.id, device.alerts_paused)
    return device


def erase_device(session: Session, *, device: Device) -> None:
    """Erase the device at once: its token, key and location. Its deliveries stay as
    anonymous counts in their notices' stats, its sightings with the agency they were sent
    to, neither linked to it any more."""
    device_id = device.id
    session.expunge(device)
    repository.erase_device(session, device_id)
    log.info("alerts.device.erased device=%s", device_id)


# No notice may target locations older than its window, and no window is longer than this.
LOCATION_RETENTION = timedelta(hours=MAX_WINDOW_HOURS)


def erase_stale_locations(session: Session, *, now: datetime) -> int:
    """Erase last known locations no notice could use any more (storage limitation)."""
    erased = repository.erase_stale_locations(session, located_before=now - LOCATION_RETENTION)
    if erased:
        log.info("alerts.device.locations_erased count=%d", erased)
    return erased


def report_sighting(
    session: Session, *, device: Device, notice_id: uuid.UUID, data: SightingCreate
) -> Sighting:
    """Store a device's sighting of an active notice's person. Any other notice is 404, so a
    device learns nothing of notices that were never, or are no longer, public."""
    notice = notice_repository.active_notice(session, notice_id)
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
    record_event(
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
    session: Session, *, notice: Notice, limit: int, offset: int
) -> tuple[Sequence[Sighting], int]:
    """The sightings of a notice, newest first."""
    return repository.list_sightings(session, notice_id=notice.id, limit=limit, offset=offset)
