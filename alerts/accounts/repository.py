"""Every query of agencies, their keys, operators, their sessions and failed logins."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from kit.models import (
    Agency,
    AgencyKey,
    LoginFailure,
    Operator,
    OperatorKnownClient,
    OperatorRole,
    OperatorSession,
)


def agency_key_by_hash(session: Session, key_hash: str) -> AgencyKey | None:
    """The key with this hash and its agency, revoked or expired ones included."""
    return session.scalar(select(AgencyKey).where(AgencyKey.key_hash == key_hash))


def key_issuer(session: Session, key_id: uuid.UUID) -> uuid.UUID | None:
    return session.scalar(select(AgencyKey.issued_by_operator_id).where(AgencyKey.id == key_id))


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


def lock_login_client(session: Session, client: str) -> None:
    """Logins from one client address wait for each other, as lock_logins does per email."""
    session.execute(
        select(func.pg_advisory_xact_lock(func.hashtext("operator-login-client:" + client)))
    )


def recent_login_failures(
    session: Session,
    *,
    since: datetime,
    limit: int,
    email: str | None = None,
    client: str | None = None,
    known_client_id: uuid.UUID | None = None,
) -> list[datetime]:
    """When the newest failed logins after `since` happened, newest first: those of a known
    client, or else those from unknown clients naming `email` or from `client`."""
    query = select(LoginFailure.failed_at).where(LoginFailure.failed_at > since)
    if known_client_id is not None:
        query = query.where(LoginFailure.known_client_id == known_client_id)
    else:
        query = query.where(LoginFailure.known_client_id.is_(None))
    if email is not None:
        query = query.where(LoginFailure.email == email)
    if client is not None:
        query = query.where(LoginFailure.client == client)
    return list(session.scalars(query.order_by(LoginFailure.failed_at.desc()).limit(limit)))


def add_login_failure(
    session: Session,
    *,
    email: str,
    client: str | None,
    known_client_id: uuid.UUID | None,
    forget_before: datetime,
) -> None:
    """Count a failed login, and forget every failure older than `forget_before`, whatever
    email it named: guesses spread over many emails, each named once, would otherwise stay
    forever. The table holds one window of failures, so the sweep is short."""
    session.execute(delete(LoginFailure).where(LoginFailure.failed_at < forget_before))
    session.add(LoginFailure(email=email, client=client, known_client_id=known_client_id))


def forget_login_failures(
    session: Session, *, email: str, client: str | None, known_client_id: uuid.UUID | None
) -> None:
    """A successful login forgets the failures of its own client only: guesses from
    elsewhere keep their delay."""
    query = delete(LoginFailure).where(LoginFailure.email == email)
    if known_client_id is not None:
        query = query.where(LoginFailure.known_client_id == known_client_id)
    elif client is not None:
        query = query.where(LoginFailure.client == client, LoginFailure.known_client_id.is_(None))
    session.execute(query)


def known_client(session: Session, token_hash: str) -> OperatorKnownClient | None:
    return session.scalar(
        select(OperatorKnownClient).where(OperatorKnownClient.token_hash == token_hash)
    )


def add_known_client(session: Session, *, operator_id: uuid.UUID, token_hash: str) -> None:
    session.add(
        OperatorKnownClient(id=uuid.uuid4(), operator_id=operator_id, token_hash=token_hash)
    )
    session.flush()


def agency_name_taken(session: Session, name: str) -> bool:
    return bool(session.scalar(select(func.count()).where(Agency.name == name)))


def agency_name(session: Session, agency_id: uuid.UUID) -> str:
    return session.scalars(select(Agency.name).where(Agency.id == agency_id)).one()
