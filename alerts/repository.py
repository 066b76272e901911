"""Every query the API and the lifecycle make."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, literal_column, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from kit.models import (
    Agency,
    AgencyKey,
    AgencyWebhook,
    AuditEvent,
    CapMessage,
    ChunkStatus,
    Delivery,
    DeliveryStatus,
    Device,
    DispatchChunk,
    ExpansionStep,
    IdempotencyKey,
    LoginFailure,
    Notice,
    NoticeStatus,
    Operator,
    OperatorRole,
    OperatorSession,
    Platform,
    Sighting,
    WebhookEvent,
    WebhookEventStatus,
)
from notifier.repository import unleased


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


def lock_logins(session: Session, email: str) -> datetime:
    """Attempts to log in as one email wait for each other until the transaction ends, so
    each counts the failures before it; returns the database's now()."""
    session.execute(select(func.pg_advisory_xact_lock(func.hashtext("operator-login:" + email))))
    now = session.scalar(select(func.now()))
    assert now is not None
    return now


def recent_login_failures(
    session: Session, *, email: str, since: datetime, limit: int
) -> list[datetime]:
    """When the newest failed logins naming `email` after `since` happened, newest first."""
    query = select(LoginFailure.failed_at).where(
        LoginFailure.email == email, LoginFailure.failed_at > since
    )
    return list(session.scalars(query.order_by(LoginFailure.failed_at.desc()).limit(limit)))


def add_login_failure(session: Session, *, email: str, forget_before: datetime) -> None:
    """Count a failed login, and forget every failure older than `forget_before`, whatever
    email it named: guesses spread over many emails, each named once, would otherwise stay
    forever. The table holds one window of failures, so the sweep is short."""
    session.execute(delete(LoginFailure).where(LoginFailure.failed_at < forget_before))
    session.add(LoginFailure(email=email))


def forget_login_failures(session: Session, *, email: str) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.email == email))


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


@dataclass(frozen=True, slots=True)
class DeliveryGroup:
    """A notice's deliveries of one status and error code."""

    status: DeliveryStatus
    error_code: str | None
    count: int
    first_sent_at: datetime | None
    last_sent_at: datetime | None


def delivery_groups(session: Session, notice_id: uuid.UUID) -> list[DeliveryGroup]:
    rows = session.execute(
        select(
            Delivery.status,
            Delivery.error_code,
            func.count(),
            func.min(Delivery.sent_at),
            func.max(Delivery.sent_at),
        )
        .where(Delivery.notice_id == notice_id)
        .group_by(Delivery.status, Delivery.error_code)
    )
    return [DeliveryGroup(*row) for row in rows]


def chunk_counts(session: Session, notice_id: uuid.UUID) -> tuple[int, int]:
    """(chunks, pending chunks) of every broadcast round of the notice."""
    row = session.execute(
        select(
            func.count(), func.count().filter(DispatchChunk.status == ChunkStatus.PENDING)
        ).where(DispatchChunk.notice_id == notice_id)
    ).one()
    return int(row[0]), int(row[1])


@dataclass(frozen=True, slots=True)
class DispatchSnapshot:
    """What the metrics endpoint reports, counted in a few index reads."""

    notices: dict[NoticeStatus, int]
    # (status, error code, count) of the deliveries of active notices
    active_deliveries: list[tuple[DeliveryStatus, str | None, int]]
    in_flight: int  # pending, held by a worker
    waiting_retry: int  # pending, released until a retry time to come
    due: int  # pending, held by nobody and due: the reconciler's backlog
    chunks_queued: int  # pending, their task's deadline to come
    chunks_overdue: int  # pending, past their deadline: the reconciler's backlog


def dispatch_snapshot(session: Session, *, now: datetime) -> DispatchSnapshot:
    notices = notice_status_counts(session)
    active = session.execute(
        select(Delivery.status, Delivery.error_code, func.count())
        .join(Notice, Notice.id == Delivery.notice_id)
        .where(Notice.status == NoticeStatus.ACTIVE)
        .group_by(Delivery.status, Delivery.error_code)
    )
    unheld = unleased(now)
    pending = session.execute(
        select(
            func.count().filter(Delivery.lease_until >= now),
            func.count().filter(unheld, Delivery.next_attempt_at > now),
            func.count().filter(
                unheld, or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now)
            ),
        ).where(Delivery.status == DeliveryStatus.PENDING)
    ).one()
    chunks = session.execute(
        select(
            func.count().filter(DispatchChunk.lease_until >= now),
            func.count().filter(DispatchChunk.lease_until < now),
        ).where(DispatchChunk.status == ChunkStatus.PENDING)
    ).one()
    return DispatchSnapshot(
        notices=notices,
        active_deliveries=[(r[0], r[1], r[2]) for r in active],
        in_flight=pending[0],
        waiting_retry=pending[1],
        due=pending[2],
        chunks_queued=chunks[0],
        chunks_overdue=chunks[1],
    )


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


def claim_idempotency_key(
    session: Session,
    *,
    agency_id: uuid.UUID,
    key: str,
    request_hash: str,
    notice_id: uuid.UUID,
    expired_before: datetime,
) -> tuple[uuid.UUID, str]:
    """Bind the key to `notice_id` unless it is bound already; returns the stored (notice id,
    request hash). A concurrent request holding the same key makes the insert wait until it
    commits (then its row is returned) or rolls back (then this one is stored)."""
    session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.agency_id == agency_id,
            IdempotencyKey.key == key,
            IdempotencyKey.created_at < expired_before,
        )
    )
    claim = (
        insert(IdempotencyKey)
        .values(agency_id=agency_id, key=key, request_hash=request_hash, notice_id=notice_id)
        .on_conflict_do_nothing()
        .returning(IdempotencyKey.notice_id, IdempotencyKey.request_hash)
    )
    row: Any = (
        session.execute(claim).first()
        or session.execute(
            select(IdempotencyKey.notice_id, IdempotencyKey.request_hash).where(
                IdempotencyKey.agency_id == agency_id, IdempotencyKey.key == key
            )
        ).one()
    )
    return row[0], row[1]


def purge_idempotency_keys(session: Session, *, before: datetime) -> int:
    result: Any = session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < before))
    return int(result.rowcount)


def active_notice(session: Session, notice_id: uuid.UUID) -> Notice | None:
    return session.scalar(
        select(Notice).where(Notice.id == notice_id, Notice.status == NoticeStatus.ACTIVE)
    )


def lock_device(session: Session, device_id: uuid.UUID) -> datetime:
    """Serialize one device's writes until commit; returns the database's transaction time.
    FOR NO KEY UPDATE does not block rows that merely reference the device (deliveries)."""
    session.execute(select(Device.id).where(Device.id == device_id).with_for_update(key_share=True))
    now = session.scalar(select(func.now()))
    assert now is not None
    return now


def recent_sighting_times(
    session: Session,
    *,
    device_id: uuid.UUID,
    since: datetime,
    limit: int,
    notice_id: uuid.UUID | None = None,
) -> list[datetime]:
    """Receive times of the device's newest sightings after `since`, newest first."""
    query = select(Sighting.created_at).where(
        Sighting.device_id == device_id, Sighting.created_at > since
    )
    if notice_id is not None:
        query = query.where(Sighting.notice_id == notice_id)
    return list(session.scalars(query.order_by(Sighting.created_at.desc()).limit(limit)))


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


def upsert_webhook(
    session: Session, *, agency_id: uuid.UUID, url: str, secret: str
) -> AgencyWebhook:
    values = insert(AgencyWebhook).values(agency_id=agency_id, url=url, secret=secret)
    upsert = values.on_conflict_do_update(
        index_elements=[AgencyWebhook.agency_id],
        set_={
            "url": values.excluded.url,
            "secret": values.excluded.secret,
            "created_at": func.now(),
        },
    )
    webhook = session.scalars(
        upsert.returning(AgencyWebhook), execution_options={"populate_existing": True}
    ).one()
    return webhook


def delete_webhook(session: Session, agency_id: uuid.UUID) -> None:
    session.execute(delete(AgencyWebhook).where(AgencyWebhook.agency_id == agency_id))


def list_webhook_events(
    session: Session, *, agency_id: uuid.UUID, limit: int, offset: int
) -> tuple[Sequence[WebhookEvent], int]:
    total = session.scalar(select(func.count()).where(WebhookEvent.agency_id == agency_id)) or 0
    items = session.scalars(
        select(WebhookEvent)
        .where(WebhookEvent.agency_id == agency_id)
        .order_by(WebhookEvent.created_at.desc(), WebhookEvent.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return items, total


def claim_webhook_event(
    session: Session, event_id: uuid.UUID, *, lease: timedelta
) -> WebhookEvent | None:
    """Take a due, pending event for one attempt: counts the attempt and moves its due time
    past the lease, so no one else attempts it meanwhile and a crashed attempt is retried."""
    return session.scalars(
        update(WebhookEvent)
        .where(
            WebhookEvent.id == event_id,
            WebhookEvent.status == WebhookEventStatus.PENDING,
            WebhookEvent.next_attempt_at <= func.now(),
        )
        .values(attempts=WebhookEvent.attempts + 1, next_attempt_at=func.now() + lease)
        .returning(WebhookEvent),
        execution_options={"populate_existing": True},
    ).one_or_none()


def record_webhook_attempt(
    session: Session,
    event_id: uuid.UUID,
    *,
    status: WebhookEventStatus,
    status_code: int | None,
    error: str | None,
    retry_in: timedelta | None = None,
) -> None:
    """The answer of the event's latest attempt; a pending event is due again `retry_in`
    from now, by the database's clock, which the claim compares with."""
    values: dict[str, Any] = {
        "status": status,
        "last_status_code": status_code,
        "last_error": error,
    }
    if retry_in is not None:
        values["next_attempt_at"] = func.now() + retry_in
    if status == WebhookEventStatus.DELIVERED:
        values["delivered_at"] = func.now()
    session.execute(update(WebhookEvent).where(WebhookEvent.id == event_id).values(**values))


def due_webhook_events(session: Session, *, limit: int) -> list[uuid.UUID]:
    return list(
        session.scalars(
            select(WebhookEvent.id)
            .where(
                WebhookEvent.status == WebhookEventStatus.PENDING,
                WebhookEvent.next_attempt_at <= func.now(),
            )
            .order_by(WebhookEvent.next_attempt_at)
            .limit(limit)
        )
    )


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


def notice_status_counts(
    session: Session, *, approved_only: bool = False
) -> dict[NoticeStatus, int]:
    """Notices by status: all of them, or only those an operator approved (`decided_at`
    of a notice that is not rejected), which are the ones that were broadcast."""
    query = select(Notice.status, func.count()).group_by(Notice.status)
    if approved_only:
        query = query.where(Notice.decided_at.is_not(None), Notice.status != NoticeStatus.REJECTED)
    return {row[0]: row[1] for row in session.execute(query)}


def seconds_to_found(session: Session) -> list[float]:
    """From approval to found, for every found notice."""
    return [
        float(seconds)
        for seconds in session.scalars(
            select(func.extract("epoch", Notice.ended_at - Notice.decided_at)).where(
                Notice.status == NoticeStatus.FOUND
            )
        )
    ]
