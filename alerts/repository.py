"""Every query the API and the lifecycle make."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from kit.models import (
    Agency,
    AgencyKey,
    AuditEvent,
    Delivery,
    DeliveryStatus,
    Device,
    Notice,
    NoticeStatus,
    Operator,
    OperatorRole,
    OperatorSession,
    Platform,
)


def agency_key_by_hash(session: Session, key_hash: str) -> AgencyKey | None:
    """The key with this hash and its agency, revoked or expired ones included."""
    return session.scalar(select(AgencyKey).where(AgencyKey.key_hash == key_hash))


def agency_keys(session: Session, agency_id: uuid.UUID) -> Sequence[AgencyKey]:
    return session.scalars(
        select(AgencyKey)
        .where(AgencyKey.agency_id == agency_id)
        .order_by(AgencyKey.created_at, AgencyKey.id)
    ).all()


def agency_key_for_update(
    session: Session, *, agency_id: uuid.UUID, key_id: uuid.UUID
) -> AgencyKey | None:
    return session.scalar(
        select(AgencyKey)
        .where(AgencyKey.id == key_id, AgencyKey.agency_id == agency_id)
        .with_for_update(of=AgencyKey)
    )


def list_agencies(session: Session, *, limit: int, offset: int) -> tuple[Sequence[Agency], int]:
    total = session.scalar(select(func.count()).select_from(Agency)) or 0
    items = session.scalars(
        select(Agency).order_by(Agency.name, Agency.id).limit(limit).offset(offset)
    ).all()
    return items, total


def operator_by_email(session: Session, email: str) -> Operator | None:
    return session.scalar(select(Operator).where(Operator.email == email))


def list_operators(session: Session) -> Sequence[Operator]:
    return session.scalars(select(Operator).order_by(Operator.email)).all()


def ensure_operator(
    session: Session, *, operator_id: uuid.UUID, email: str, display_name: str, role: OperatorRole
) -> Operator:
    """The operator with this id, created without a password if it does not exist yet."""
    operator = session.get(Operator, operator_id)
    if operator is None:
        session.execute(
            insert(Operator)
            .values(id=operator_id, email=email, display_name=display_name, role=role, active=True)
            .on_conflict_do_nothing(index_elements=[Operator.id])
        )
        operator = session.get(Operator, operator_id)
    assert operator is not None
    return operator


def operator_session(session: Session, token_hash: str) -> tuple[OperatorSession, Operator] | None:
    """The session with this token hash, expired or not, and its operator."""
    row = session.execute(
        select(OperatorSession, Operator)
        .join(Operator, Operator.id == OperatorSession.operator_id)
        .where(OperatorSession.token_hash == token_hash)
    ).one_or_none()
    return None if row is None else (row[0], row[1])


def end_sessions(
    session: Session,
    *,
    operator_id: uuid.UUID,
    session_id: uuid.UUID | None = None,
    expired_before: datetime | None = None,
    except_session: uuid.UUID | None = None,
) -> None:
    """Delete the operator's sessions: one of them, the expired ones, all but one, or all."""
    query = delete(OperatorSession).where(OperatorSession.operator_id == operator_id)
    if session_id is not None:
        query = query.where(OperatorSession.id == session_id)
    if except_session is not None:
        query = query.where(OperatorSession.id != except_session)
    if expired_before is not None:
        query = query.where(OperatorSession.expires_at <= expired_before)
    session.execute(query)


def audit_events(
    session: Session,
    *,
    notice_id: uuid.UUID | None = None,
    actor_id: uuid.UUID | None = None,
    action: str | None = None,
    newest_first: bool = True,
    limit: int,
    offset: int,
) -> tuple[Sequence[AuditEvent], int]:
    query = select(AuditEvent)
    if notice_id is not None:
        query = query.where(AuditEvent.notice_id == notice_id)
    if actor_id is not None:
        query = query.where(AuditEvent.actor_id == actor_id)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    order = AuditEvent.id.desc() if newest_first else AuditEvent.id
    items = session.scalars(query.order_by(order).limit(limit).offset(offset)).all()
    return items, total


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
    session: Session,
    *,
    fcm_token: str,
    platform: Platform,
    locale: str,
    credential_hash: str,
    test_device: bool = False,
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
        test_device=test_device,
    )
    upsert = values.on_conflict_do_update(
        index_elements=[Device.fcm_token],
        set_={
            "platform": values.excluded.platform,
            "locale": values.excluded.locale,
            "credential_hash": values.excluded.credential_hash,
            "active": True,
            "test_device": values.excluded.test_device,
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
