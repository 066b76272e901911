"""Operator accounts and their logins, agencies and their API keys. These functions flush and
never commit, and each change writes one audit event."""

import logging
import secrets
import uuid
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alerts.accounts import repository
from alerts.accounts.credentials import hash_password, hash_secret, new_secret, verify_password
from alerts.accounts.schemas import (
    AgencyCreate,
    KeyRotation,
    OperatorCreate,
    OperatorUpdate,
    PasswordChange,
)
from alerts.audit import service as audit_service
from alerts.audit.service import Actor
from alerts.errors import Conflict, Forbidden, NotFound, RateLimited, Unauthenticated
from kit.config import get_settings
from kit.db import session_scope
from kit.models import (
    ActorType,
    Agency,
    AgencyKey,
    KeyScope,
    Operator,
    OperatorKnownClient,
    OperatorRole,
    OperatorSession,
)
from kit.ratelimit import progressive_wait

log = logging.getLogger(__name__)

# The account HEXCAST_OPERATOR_TOKEN acts as. Its email is no address, so no account created
# through the API can take it, and it has no password, so nobody can log in as it.
BOOTSTRAP_OPERATOR_ID = uuid.UUID("00000000-0000-0000-0000-000000000001")

BOOTSTRAP_EMAIL = "bootstrap"

KEY_PREFIX_CHARS = 12

LOGIN_FAILURE_WINDOW = timedelta(minutes=15)

# Failures past the free ones that are read: 2**10 s is past the window already.
LOGIN_DOUBLINGS = 11


def operator_actor(operator: Operator, session_id: uuid.UUID | None = None) -> Actor:
    return Actor(ActorType.OPERATOR, operator.id, session_id)


def agency_actor(key: AgencyKey) -> Actor:
    return Actor(ActorType.AGENCY, key.agency_id, key.id)


def bootstrap_operator(session: Session) -> Operator:
    return repository.ensure_operator(
        session,
        operator_id=BOOTSTRAP_OPERATOR_ID,
        email=BOOTSTRAP_EMAIL,
        display_name="Bootstrap credential (HEXCAST_OPERATOR_TOKEN)",
        role=OperatorRole.ADMIN,
    )


def get_operator(session: Session, operator_id: uuid.UUID) -> Operator:
    operator = session.get(Operator, operator_id)
    if operator is None:
        raise NotFound("operator not found")
    return operator


def create_operator(session: Session, *, data: OperatorCreate, actor: Actor) -> Operator:
    taken = Conflict(f"an operator with email {data.email!r} exists")
    if repository.operator_by_email(session, data.email) is not None:
        raise taken
    operator = Operator(
        id=uuid.uuid4(),
        email=data.email,
        display_name=data.display_name,
        role=data.role,
        password_hash=hash_password(data.password),
        active=True,
    )
    try:
        with session.begin_nested():  # a concurrent create of the same email loses here
            session.add(operator)
    except IntegrityError:
        raise taken from None
    audit_service.record(
        session, actor, "operator.created", operator_id=operator.id, role=operator.role
    )
    log.info("alerts.operator.created operator=%s role=%s", operator.id, operator.role)
    return operator


def update_operator(
    session: Session, *, operator_id: uuid.UUID, data: OperatorUpdate, actor: Actor
) -> Operator:
    """Change role, name or active flag; a deactivated operator's logins end at once. Nobody
    demotes or deactivates themselves: that is how the last admin would lock everyone out."""
    operator = get_operator(session, operator_id)
    if operator.id == actor.id and (data.active is False or data.role == OperatorRole.REVIEWER):
        raise Conflict("operators cannot demote or deactivate themselves; ask another admin")
    changes = {
        field: [getattr(operator, field), value]
        for field, value in data.model_dump(exclude_unset=True).items()
        if value is not None and getattr(operator, field) != value
    }
    for field, (_, value) in changes.items():
        setattr(operator, field, value)
    if not operator.active:
        repository.end_sessions(session, operator_id=operator.id)
    session.flush()
    if changes:
        audit_service.record(
            session, actor, "operator.updated", operator_id=operator.id, changes=changes
        )
    return operator


def log_in(
    session: Session,
    *,
    email: str,
    password: str,
    client: str | None = None,
    known_client: str | None = None,
) -> tuple[Operator, OperatorSession, str]:
    """A new session and its bearer token, which is returned here and never again.

    Guessing is slowed, not locked out: after `login_failures_free` failures naming the
    email in LOGIN_FAILURE_WINDOW (or `login_client_failures_free` from the client address),
    each further attempt waits 1 s after the newest failure, twice as long after each more,
    at most the window (429 with Retry-After, before the password is checked). A
    `known_client` token (remember_client) of the account's operator is counted on its own:
    its right password is accepted while guesses from elsewhere slow everyone else down.
    Unknown emails count alike, so the answer does not tell which accounts exist."""
    operator = repository.operator_by_email(session, email)
    known = _known_client(session, known_client, operator)
    since = _limit_logins(session, email=email, client=client, known=known)
    stored = operator.password_hash if operator is not None and operator.active else None
    if not verify_password(password, stored) or operator is None:
        log.warning("alerts.operator.login_failed email=%r client=%s", email, client)
        # Its own transaction: the 401 rolls the request's back, and the failure must count.
        with session_scope() as counting:
            repository.add_login_failure(
                counting,
                email=email,
                client=client,
                known_client_id=known.id if known is not None else None,
                forget_before=since,
            )
        raise Unauthenticated("wrong email or password")
    repository.forget_login_failures(
        session, email=email, client=client, known_client_id=known.id if known else None
    )
    now = datetime.now(UTC)
    repository.end_sessions(session, operator_id=operator.id, expired_before=now)
    token, token_hash = new_secret("hxo")
    login = OperatorSession(
        id=uuid.uuid4(),
        operator_id=operator.id,
        token_hash=token_hash,
        expires_at=now + timedelta(hours=get_settings().operator_session_hours),
    )
    session.add(login)
    session.flush()
    audit_service.record(
        session,
        operator_actor(operator, login.id),
        "operator.login",
        client=client,
        known_client=known is not None,
    )
    return operator, login, token


def remember_client(session: Session, *, operator: Operator, known_client: str | None) -> str:
    """The token that makes the caller a known client of the operator: the one it sent if
    it is the operator's already, else a new one (stored as its hash)."""
    if _known_client(session, known_client, operator) is not None:
        assert known_client is not None
        return known_client
    token, token_hash = new_secret("hxk")
    repository.add_known_client(session, operator_id=operator.id, token_hash=token_hash)
    return token


def _known_client(
    session: Session, token: str | None, operator: Operator | None
) -> OperatorKnownClient | None:
    """The known client `token` stands for, if it is `operator`'s."""
    if token is None or operator is None:
        return None
    known = repository.known_client(session, hash_secret(token))
    return known if known is not None and known.operator_id == operator.id else None


def _limit_logins(
    session: Session, *, email: str, client: str | None, known: OperatorKnownClient | None
) -> datetime:
    """Raise RateLimited while the attempt must wait (see log_in); returns where the window
    of failures that count starts."""
    settings = get_settings()
    now = repository.lock_logins(session, email)
    since = now - LOGIN_FAILURE_WINDOW
    counters: list[tuple[int, dict[str, Any]]]
    if known is not None:
        counters = [(settings.login_failures_free, {"known_client_id": known.id})]
    else:
        counters = [(settings.login_failures_free, {"email": email})]
        if client is not None:
            repository.lock_login_client(session, client)
            counters.append((settings.login_client_failures_free, {"client": client}))
    for free, which in counters:
        failures = repository.recent_login_failures(
            session, since=since, limit=free + LOGIN_DOUBLINGS, **which
        )
        wait = progressive_wait(failures, free=free, window=LOGIN_FAILURE_WINDOW, now=now)
        if wait is not None:
            log.warning("alerts.operator.login_throttled email=%r retry_after_s=%d", email, wait)
            raise RateLimited(
                "too many failed logins: wait before trying again", retry_after_s=wait
            )
    return since


def log_out(session: Session, *, actor: Actor) -> None:
    if actor.credential_id is None:
        raise Conflict("the bootstrap credential is no session; unset HEXCAST_OPERATOR_TOKEN")
    assert actor.id is not None
    repository.end_sessions(session, operator_id=actor.id, session_id=actor.credential_id)
    audit_service.record(session, actor, "operator.logout")


def change_password(
    session: Session, *, operator: Operator, data: PasswordChange, actor: Actor
) -> None:
    """A new password ends the operator's other logins."""
    if not verify_password(data.current_password, operator.password_hash):
        raise Forbidden("the current password is wrong")
    operator.password_hash = hash_password(data.new_password)
    repository.end_sessions(session, operator_id=operator.id, except_session=actor.credential_id)
    session.flush()
    audit_service.record(session, actor, "operator.password_changed", operator_id=operator.id)


def session_operator(session: Session, token: str) -> tuple[Operator, uuid.UUID | None]:
    """The operator a bearer token stands for, and its session (none for the bootstrap
    credential)."""
    bootstrap_token = get_settings().operator_token
    if bootstrap_token and secrets.compare_digest(token.encode(), bootstrap_token.encode()):
        operator, session_id = bootstrap_operator(session), None
    else:
        found = repository.operator_session(session, hash_secret(token))
        if found is None:
            raise Unauthenticated("unknown operator credential")
        login, operator = found
        if login.expires_at <= datetime.now(UTC):
            raise Unauthenticated("expired operator session; log in again")
        session_id = login.id
    if not operator.active:
        raise Unauthenticated("deactivated operator account")
    return operator, session_id


def get_agency(session: Session, agency_id: uuid.UUID) -> Agency:
    agency = session.get(Agency, agency_id)
    if agency is None:
        raise NotFound("agency not found")
    return agency


def issue_agency_key(
    session: Session,
    *,
    agency: Agency,
    scopes: Collection[KeyScope],
    label: str | None,
    expires_at: datetime | None,
    actor: Actor,
) -> tuple[AgencyKey, str]:
    """A new key for the agency, returned here and never again: hexcast keeps its hash, and
    who issued it (that operator is never the second person for what the key submits)."""
    api_key, key_hash = new_secret("hxa")
    key = AgencyKey(
        id=uuid.uuid4(),
        agency=agency,
        key_hash=key_hash,
        prefix=api_key[:KEY_PREFIX_CHARS],
        label=label,
        scopes=sorted(scopes),
        expires_at=expires_at,
        issued_by_operator_id=actor.id if actor.type == ActorType.OPERATOR else None,
    )
    session.add(key)
    session.flush()
    audit_service.record(
        session,
        actor,
        "agency_key.created",
        agency_id=agency.id,
        key_id=key.id,
        scopes=key.scopes,
        expires_at=expires_at,
    )
    return key, api_key


def _working_key(session: Session, agency_id: uuid.UUID, key_id: uuid.UUID) -> AgencyKey:
    key = repository.agency_key_for_update(session, agency_id=agency_id, key_id=key_id)
    if key is None:
        raise NotFound("key not found")
    if key.revoked_at is not None:
        raise Conflict("the key is revoked")
    if key.expires_at is not None and key.expires_at <= datetime.now(UTC):
        raise Conflict("the key has expired")
    return key


def rotate_agency_key(
    session: Session,
    *,
    agency_id: uuid.UUID,
    key_id: uuid.UUID,
    rotation: KeyRotation,
    actor: Actor,
) -> tuple[AgencyKey, AgencyKey, str]:
    """A successor with the same scopes; the old key keeps working for the overlap, so the
    agency can deploy the new one without a gap. Returns (old, new, new secret)."""
    old = _working_key(session, agency_id, key_id)
    retire_at = datetime.now(UTC) + timedelta(hours=rotation.overlap_hours)
    if old.expires_at is None or retire_at < old.expires_at:
        old.expires_at = retire_at
    new, api_key = issue_agency_key(
        session,
        agency=old.agency,
        scopes=[KeyScope(s) for s in old.scopes],
        label=rotation.label or old.label,
        expires_at=None,
        actor=actor,
    )
    audit_service.record(
        session,
        actor,
        "agency_key.rotated",
        agency_id=agency_id,
        key_id=old.id,
        successor_id=new.id,
        old_key_expires_at=old.expires_at,
    )
    return old, new, api_key


def revoke_agency_key(
    session: Session, *, agency_id: uuid.UUID, key_id: uuid.UUID, actor: Actor
) -> AgencyKey:
    """The key stops working with this request's commit."""
    key = repository.agency_key_for_update(session, agency_id=agency_id, key_id=key_id)
    if key is None:
        raise NotFound("key not found")
    if key.revoked_at is not None:
        raise Conflict("the key is revoked already")
    key.revoked_at = datetime.now(UTC)
    session.flush()
    audit_service.record(session, actor, "agency_key.revoked", agency_id=agency_id, key_id=key.id)
    return key


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
    audit_service.record(session, actor, "agency.created", agency_id=agency.id, name=agency.name)
    key, api_key = issue_agency_key(
        session,
        agency=agency,
        scopes=list(KeyScope),
        label="first key",
        expires_at=None,
        actor=actor,
    )
    log.info("alerts.agency.created agency=%s", agency.id)
    return agency, key, api_key
