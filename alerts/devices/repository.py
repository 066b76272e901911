"""Every query of devices and sightings."""

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Connection, delete, func, select, text, union_all, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from kit.models import (
    Device,
    DeviceClaim,
    Platform,
    Sighting,
)


def device_by_credential_hash(session: Session, credential_hash: str) -> Device | None:
    return session.scalar(select(Device).where(Device.credential_hash == credential_hash))


# One statement for a batch of location reports: it authenticates each report's device key,
# keeps each device's newest report of the batch, and moves a device only when the report is
# newer than the stored location. Two batches moving one device meet in the row lock, and
# PostgreSQL re-checks the "newer" condition against the row the other batch left. The
# devices the keys name are read in the statement's snapshot, before its own update.
_APPLY_REPORTS = text(
    """
    WITH report AS (
        SELECT DISTINCT ON (key_hash) *
        FROM unnest(
            CAST(:key_hashes AS text[]), CAST(:lats AS float8[]), CAST(:lons AS float8[]),
            CAST(:cells AS int8[]), CAST(:accuracies AS float8[]), CAST(:ats AS timestamptz[])
        ) AS r(key_hash, lat, lon, cell, accuracy_m, at)
        ORDER BY key_hash, at DESC
    ), moved AS (
        UPDATE devices AS d
        SET location = ST_SetSRID(ST_MakePoint(r.lon, r.lat), 4326)::geography,
            h3_cell = r.cell, accuracy_m = r.accuracy_m, located_at = r.at, updated_at = now()
        FROM report AS r
        WHERE d.credential_hash = r.key_hash AND (d.located_at IS NULL OR d.located_at < r.at)
    )
    SELECT d.credential_hash FROM devices AS d JOIN report AS r ON d.credential_hash = r.key_hash
    """
)


def apply_location_reports(
    connection: Connection,
    *,
    key_hashes: Sequence[str],
    lats: Sequence[float],
    lons: Sequence[float],
    cells: Sequence[int],
    accuracies: Sequence[float],
    ats: Sequence[datetime],
) -> set[str]:
    """Store a batch of reports (see `_APPLY_REPORTS`); returns the key hashes of the devices
    that exist. Arrays go as PostgreSQL array text: hex hashes, numbers and ISO times need no
    quoting, and joining them costs far less than psycopg's per-element adaptation."""
    rows = connection.execute(
        _APPLY_REPORTS,
        {
            "key_hashes": _array_text(key_hashes),
            "lats": _array_text(lats),
            "lons": _array_text(lons),
            "cells": _array_text(cells),
            "accuracies": _array_text(accuracies),
            "ats": _array_text(at.isoformat() for at in ats),
        },
    )
    return {row[0] for row in rows}


def _array_text(values: Iterable[object]) -> str:
    return "{" + ",".join(map(str, values)) + "}"


def insert_device(
    session: Session,
    *,
    fcm_token: str,
    platform: Platform,
    locale: str,
    credential_hash: str,
    test_device: bool,
    registered_from: str | None,
) -> uuid.UUID | None:
    """Register a new token; None when a device has it already (a concurrent registration
    of the same token included), which is never updated here."""
    values = insert(Device).values(
        id=uuid.uuid4(),
        fcm_token=fcm_token,
        platform=platform,
        locale=locale,
        credential_hash=credential_hash,
        active=True,
        test_device=test_device,
        registered_from=registered_from,
    )
    inserted = values.on_conflict_do_nothing(index_elements=[Device.fcm_token])
    device_id: uuid.UUID | None = session.scalar(inserted.returning(Device.id))
    return device_id


def device_by_token_for_update(session: Session, fcm_token: str) -> Device | None:
    return session.scalar(
        select(Device).where(Device.fcm_token == fcm_token).with_for_update(key_share=True)
    )


def add_claim(
    session: Session, *, fcm_token: str, client: str | None, code_hash: str, expires_at: datetime
) -> DeviceClaim:
    claim = DeviceClaim(
        id=uuid.uuid4(),
        fcm_token=fcm_token,
        client=client,
        code_hash=code_hash,
        expires_at=expires_at,
    )
    session.add(claim)
    session.flush()
    return claim


def live_claim(session: Session, *, fcm_token: str, code_hash: str) -> DeviceClaim | None:
    return session.scalar(
        select(DeviceClaim).where(
            DeviceClaim.fcm_token == fcm_token,
            DeviceClaim.code_hash == code_hash,
            DeviceClaim.expires_at > func.now(),
        )
    )


def forget_claims(session: Session, *, fcm_token: str, created_before: datetime) -> None:
    """A claimed token's other codes stop working, and claims older than `created_before`
    (which no limit counts any more) go, whatever their token."""
    session.execute(
        delete(DeviceClaim).where(
            (DeviceClaim.fcm_token == fcm_token) | (DeviceClaim.created_at < created_before)
        )
    )


def database_now(session: Session) -> datetime:
    now = session.scalar(select(func.now()))
    assert now is not None
    return now


def lock_device(session: Session, device_id: uuid.UUID) -> datetime:
    """Serialize one device's writes until commit; returns the database's transaction time.
    FOR NO KEY UPDATE does not block rows that merely reference the device (deliveries)."""
    session.execute(select(Device.id).where(Device.id == device_id).with_for_update(key_share=True))
    now = session.scalar(select(func.now()))
    assert now is not None
    return now


def lock_client(session: Session, purpose: str, client: str) -> None:
    """Requests from one client address for `purpose` wait for each other until commit, so
    that each counts the ones before it."""
    session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"{purpose}:{client}"))))


def recent_sighting_times(
    session: Session,
    *,
    since: datetime,
    limit: int,
    device_id: uuid.UUID | None = None,
    notice_id: uuid.UUID | None = None,
    client: str | None = None,
) -> list[datetime]:
    """Receive times of the newest sightings after `since` from the device, about the
    notice and from the client address given, newest first."""
    query = select(Sighting.created_at).where(Sighting.created_at > since)
    if device_id is not None:
        query = query.where(Sighting.device_id == device_id)
    if notice_id is not None:
        query = query.where(Sighting.notice_id == notice_id)
    if client is not None:
        query = query.where(Sighting.client == client)
    return list(session.scalars(query.order_by(Sighting.created_at.desc()).limit(limit)))


def recent_registration_times(
    session: Session, *, client: str, since: datetime, limit: int
) -> list[datetime]:
    """When the client address registered its newest devices or asked its newest device
    claims after `since`, newest first."""
    devices = select(Device.created_at.label("at")).where(
        Device.registered_from == client, Device.created_at > since
    )
    claims = select(DeviceClaim.created_at.label("at")).where(
        DeviceClaim.client == client, DeviceClaim.created_at > since
    )
    both = union_all(devices, claims).subquery()
    return list(session.scalars(select(both.c.at).order_by(both.c.at.desc()).limit(limit)))


def list_sightings(
    session: Session, *, notice_id: uuid.UUID, limit: int, offset: int
) -> tuple[Sequence[Sighting], int]:
    total = session.scalar(select(func.count()).where(Sighting.notice_id == notice_id)) or 0
    items = session.scalars(
        select(Sighting)
        .where(Sighting.notice_id == notice_id)
        .order_by(Sighting.created_at.desc(), Sighting.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return items, total


def erase_device(session: Session, device_id: uuid.UUID) -> None:
    """Delete the device row: token, key and location go with it. Its deliveries and
    sightings stay without it (their foreign keys are ON DELETE SET NULL)."""
    session.execute(delete(Device).where(Device.id == device_id))


def erase_stale_locations(session: Session, *, located_before: datetime) -> int:
    """Forget every last known location taken before `located_before`; returns how many."""
    result = session.execute(
        update(Device)
        .where(Device.located_at < located_before)
        .values(location=None, h3_cell=None, accuracy_m=None, located_at=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
