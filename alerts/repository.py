"""Every query the API and the lifecycle make."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, literal_column, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from kit.models import (
    Agency,
    CapMessage,
    Delivery,
    DeliveryStatus,
    Device,
    ExpansionStep,
    Notice,
    NoticeStatus,
    Platform,
)


def agency_by_key_hash(session: Session, key_hash: str) -> Agency | None:
    return session.scalar(select(Agency).where(Agency.api_key_hash == key_hash))


def agency_name_taken(session: Session, name: str) -> bool:
    return bool(session.scalar(select(func.count()).where(Agency.name == name)))


def device_by_credential_hash(session: Session, credential_hash: str) -> Device | None:
    return session.scalar(select(Device).where(Device.credential_hash == credential_hash))


def notice_of_agency(
    session: Session, *, agency_id: uuid.UUID, notice_id: uuid.UUID
) -> Notice | None:
    return session.scalar(
        select(Notice).where(Notice.id == notice_id, Notice.agency_id == agency_id)
    )


def notice_for_update(session: Session, notice_id: uuid.UUID) -> Notice | None:
    return session.get(Notice, notice_id, with_for_update=True)


def list_notices(
    session: Session,
    *,
    agency_id: uuid.UUID | None = None,
    status: NoticeStatus | None = None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Notice], int]:
    query = select(Notice)
    if agency_id is not None:
        query = query.where(Notice.agency_id == agency_id)
    if status is not None:
        query = query.where(Notice.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = session.scalars(
        query.order_by(Notice.created_at.desc(), Notice.id).limit(limit).offset(offset)
    ).all()
    return items, total


def upsert_device(
    session: Session, *, fcm_token: str, platform: Platform, locale: str, credential_hash: str
) -> tuple[uuid.UUID, bool]:
    """Register a token, or update the device that already has it. Returns (id, created):
    PostgreSQL's `xmax` is 0 on a freshly inserted row and set on one the upsert updated."""
    values = insert(Device).values(
        id=uuid.uuid4(),
        fcm_token=fcm_token,
        platform=platform,
        locale=locale,
        credential_hash=credential_hash,
        active=True,
    )
    upsert = values.on_conflict_do_update(
        index_elements=[Device.fcm_token],
        set_={
            "platform": values.excluded.platform,
            "locale": values.excluded.locale,
            "credential_hash": values.excluded.credential_hash,
            "active": True,
            "updated_at": func.now(),
        },
    )
    row: Any = session.execute(upsert.returning(Device.id, literal_column("xmax = 0"))).one()
    return row[0], bool(row[1])


def delivery_counts(
    session: Session, notice_id: uuid.UUID
) -> list[tuple[DeliveryStatus, str | None, int]]:
    rows = session.execute(
        select(Delivery.status, Delivery.error_code, func.count())
        .where(Delivery.notice_id == notice_id)
        .group_by(Delivery.status, Delivery.error_code)
    )
    return [(r[0], r[1], r[2]) for r in rows]


def expire_due(session: Session, *, now: datetime) -> list[uuid.UUID]:
    rows = session.execute(
        update(Notice)
        .where(Notice.status == NoticeStatus.ACTIVE, Notice.expires_at <= now)
        .values(status=NoticeStatus.EXPIRED, ended_at=now)
        .returning(Notice.id)
    )
    return [r[0] for r in rows]


def expansion_steps(session: Session, notice_id: uuid.UUID) -> Sequence[ExpansionStep]:
    return session.scalars(
        select(ExpansionStep)
        .where(ExpansionStep.notice_id == notice_id)
        .order_by(ExpansionStep.after_minutes)
    ).all()


def replace_pending_steps(
    session: Session, notice_id: uuid.UUID, steps: Sequence[tuple[float, float]]
) -> None:
    session.execute(
        delete(ExpansionStep).where(
            ExpansionStep.notice_id == notice_id, ExpansionStep.applied_at.is_(None)
        )
    )
    session.add_all(
        ExpansionStep(notice_id=notice_id, after_minutes=minutes, radius_km=radius)
        for minutes, radius in steps
    )


def due_expansion_steps(session: Session, *, now: datetime) -> Sequence[ExpansionStep]:
    """Unapplied steps of active notices whose time has come, locked; a step another beat
    run is applying is skipped, not waited for."""
    due_at = Notice.decided_at + func.make_interval(
        0, 0, 0, 0, 0, 0, ExpansionStep.after_minutes * 60
    )
    return session.scalars(
        select(ExpansionStep)
        .join(Notice, Notice.id == ExpansionStep.notice_id)
        .where(
            Notice.status == NoticeStatus.ACTIVE,
            ExpansionStep.applied_at.is_(None),
            due_at <= now,
        )
        .order_by(ExpansionStep.notice_id, ExpansionStep.after_minutes)
        .with_for_update(of=ExpansionStep, skip_locked=True)
    ).all()


def agency_name(session: Session, agency_id: uuid.UUID) -> str:
    return session.scalars(select(Agency.name).where(Agency.id == agency_id)).one()


def active_notices(session: Session, *, limit: int) -> Sequence[tuple[Notice, str]]:
    """Active notices with their agency's name, most recently approved first."""
    rows = session.execute(
        select(Notice, Agency.name)
        .join(Agency, Agency.id == Notice.agency_id)
        .where(Notice.status == NoticeStatus.ACTIVE)
        .order_by(Notice.decided_at.desc(), Notice.id)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in rows]


def cap_message_notice(
    session: Session, *, agency_id: uuid.UUID, sender: str, identifier: str
) -> uuid.UUID | None:
    return session.scalar(
        select(CapMessage.notice_id).where(
            CapMessage.agency_id == agency_id,
            CapMessage.sender == sender,
            CapMessage.identifier == identifier,
        )
    )


def notices_of_cap_messages(
    session: Session, *, agency_id: uuid.UUID, messages: Sequence[tuple[str, str]]
) -> set[uuid.UUID]:
    """The notices the agency's CAP messages named by (sender, identifier) belong to."""
    if not messages:
        return set()
    pairs = tuple_(CapMessage.sender, CapMessage.identifier).in_(messages)
    return set(
        session.scalars(
            select(CapMessage.notice_id).where(CapMessage.agency_id == agency_id, pairs)
        )
    )
