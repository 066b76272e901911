"""App installs: registration, location reports and the sightings their users send back."""

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from alerts.accounts.credentials import hash_secret, new_secret
from alerts.devices import repository
from alerts.devices.ingest import Report, location_writer
from alerts.devices.schemas import (
    DevicePreferences,
    DeviceRegistration,
    LocationReport,
    SightingCreate,
    SightingOut,
)
from alerts.errors import Forbidden, NotFound, RateLimited, Unauthenticated
from alerts.notices import repository as notice_repository
from alerts.webhooks.service import record_event
from alerts.webhooks.signing import SIGHTING_CREATED
from geo.regions import device_cell
from geo.tallies import MAX_WINDOW_HOURS
from kit.celery import celery_app
from kit.config import get_settings
from kit.db import after_commit
from kit.models import (
    Device,
    Notice,
    Sighting,
)
from kit.ratelimit import seconds_until_allowed

log = logging.getLogger(__name__)

SIGHTING_WINDOW = timedelta(hours=1)

NOTICE_SIGHTING_WINDOW = timedelta(minutes=1)

REGISTRATION_WINDOW = timedelta(hours=1)

DEVICE_CLAIM_TTL = timedelta(minutes=10)

DEVICE_CLAIM_TASK = "notifier.send_device_claim"


@dataclass(frozen=True, slots=True)
class Registered:
    """A new or refreshed device and its new key (`created` tells which)."""

    device_id: uuid.UUID
    device_key: str
    created: bool


@dataclass(frozen=True, slots=True)
class ClaimPending:
    """The token is registered already and was sent a claim code, valid until `expires_at`."""

    expires_at: datetime


def register_device(
    session: Session,
    *,
    data: DeviceRegistration,
    client: str | None = None,
    device_key: str | None = None,
) -> Registered | ClaimPending:
    """Register a new token, or refresh the device that has it with a new key for the app
    that proves it holds the token: by the device's current key, or by the code of a claim
    sent to the token through FCM (the app may have lost its key: reinstall, restore).
    Without proof, the device is not handed over: whoever knows someone's token would get
    their device and its location. New devices and claims count against the client's
    registrations per hour."""
    existing = repository.device_by_token_for_update(session, data.fcm_token)
    if existing is None:
        _limit_registrations(session, client)
        device_key, key_hash = new_secret("hxd")
        device_id = repository.insert_device(
            session,
            fcm_token=data.fcm_token,
            platform=data.platform,
            locale=data.locale,
            credential_hash=key_hash,
            test_device=data.test_device,
            registered_from=client,
        )
        if device_id is not None:
            log.info("alerts.device.registered device=%s", device_id)
            return Registered(device_id, device_key, created=True)
        # Registered concurrently by another request: that device is someone else's now.
        existing = repository.device_by_token_for_update(session, data.fcm_token)
        assert existing is not None
    if device_key is not None and hash_secret(device_key) == existing.credential_hash:
        return _refresh(session, existing, data)
    if data.claim_code is not None:
        claim = repository.live_claim(
            session, fcm_token=data.fcm_token, code_hash=hash_secret(data.claim_code)
        )
        if claim is None:
            raise Forbidden("the claim code is wrong or has expired; register again for a new one")
        repository.forget_claims(
            session,
            fcm_token=data.fcm_token,
            created_before=repository.database_now(session) - REGISTRATION_WINDOW,
        )
        return _refresh(session, existing, data)
    now = _limit_registrations(session, client)
    code, code_hash = new_secret("hxc")
    claim = repository.add_claim(
        session,
        fcm_token=data.fcm_token,
        client=client,
        code_hash=code_hash,
        expires_at=now + DEVICE_CLAIM_TTL,
    )
    after_commit(session, lambda: queue_claim(claim.id, code))
    log.info("alerts.device.claim_sent device=%s claim=%s", existing.id, claim.id)
    return ClaimPending(expires_at=claim.expires_at)


def _refresh(session: Session, device: Device, data: DeviceRegistration) -> Registered:
    device_key, key_hash = new_secret("hxd")
    device.platform = data.platform
    device.locale = data.locale
    device.test_device = data.test_device
    device.credential_hash = key_hash
    device.active = True
    session.flush()
    log.info("alerts.device.refreshed device=%s", device.id)
    return Registered(device.id, device_key, created=False)


def _limit_registrations(session: Session, client: str | None) -> datetime:
    """At most `device_registrations_per_client_hour` new devices and claims from one
    client address in any hour; returns the database's now()."""
    if client is not None:
        repository.lock_client(session, "registrations", client)
    now = repository.database_now(session)
    if client is None:
        return now
    limit = get_settings().device_registrations_per_client_hour
    times = repository.recent_registration_times(
        session, client=client, since=now - REGISTRATION_WINDOW, limit=limit
    )
    wait = seconds_until_allowed(times, limit=limit, window=REGISTRATION_WINDOW, now=now)
    if wait is not None:
        raise RateLimited(
            f"at most {limit} device registrations per hour from one client address",
            retry_after_s=wait,
        )
    return now


def queue_claim(claim_id: uuid.UUID, code: str) -> None:
    """The code travels in the task (it is sent in clear to the token anyway); the token is
    read from the claim by the sender."""
    try:
        celery_app.send_task(DEVICE_CLAIM_TASK, args=[str(claim_id), code])
    except Exception:
        log.exception("alerts.device.claim_enqueue_failed claim=%s", claim_id)


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
    session: Session,
    *,
    device: Device,
    notice_id: uuid.UUID,
    data: SightingCreate,
    client: str | None = None,
) -> Sighting:
    """Store a device's sighting of an active notice's person. Any other notice is 404, so a
    device learns nothing of notices that were never, or are no longer, public."""
    notice = notice_repository.active_notice(session, notice_id)
    if notice is None:
        raise NotFound("notice not found")
    _limit_sightings(session, device_id=device.id, notice_id=notice_id, client=client)
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
        client=client,
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


def _limit_sightings(
    session: Session, *, device_id: uuid.UUID, notice_id: uuid.UUID, client: str | None
) -> None:
    """Per device, at most `sightings_per_device_hour` in any hour and
    `sightings_per_notice_hour` about one notice; per client address
    `sightings_per_client_hour` over all its devices; per notice `sightings_per_notice_minute`
    from everyone, so that devices registered in bulk cannot flood an agency. The client's
    and the notice's locks are taken before the device row, always in that order, so
    concurrent reports are counted one after the other."""
    settings = get_settings()
    if client is not None:
        repository.lock_client(session, "sightings", client)
    repository.lock_client(session, "notice-sightings", str(notice_id))
    now = repository.lock_device(session, device_id)
    limits: list[tuple[int, timedelta, dict[str, Any], str]] = [
        (
            settings.sightings_per_device_hour,
            SIGHTING_WINDOW,
            {"device_id": device_id},
            "sightings per hour from one device",
        ),
        (
            settings.sightings_per_notice_hour,
            SIGHTING_WINDOW,
            {"device_id": device_id, "notice_id": notice_id},
            "sightings per hour about one notice",
        ),
        (
            settings.sightings_per_notice_minute,
            NOTICE_SIGHTING_WINDOW,
            {"notice_id": notice_id},
            "sightings of one notice a minute from all devices",
        ),
    ]
    if client is not None:
        limits.append(
            (
                settings.sightings_per_client_hour,
                SIGHTING_WINDOW,
                {"client": client},
                "sightings per hour from one client address",
            )
        )
    for limit, window, which, what in limits:
        times = repository.recent_sighting_times(session, since=now - window, limit=limit, **which)
        wait = seconds_until_allowed(times, limit=limit, window=window, now=now)
        if wait is not None:
            raise RateLimited(f"at most {limit} {what}", retry_after_s=wait)


def notice_sightings(
    session: Session, *, notice: Notice, limit: int, offset: int
) -> tuple[Sequence[Sighting], int]:
    """The sightings of a notice, newest first."""
    return repository.list_sightings(session, notice_id=notice.id, limit=limit, offset=offset)
