"""Request dependencies: the session that commits once, who is calling, and the notice a
route reads, loaded from its path once for every route that needs it.

Three credentials, one per audience: agencies send `X-API-Key`, operators
`Authorization: Bearer` (a login's session token, or the bootstrap credential), devices
`X-Device-Key`. An unknown, expired or revoked credential is 401; a valid one of the wrong
audience, role or scope is 403."""

import enum
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from alerts.accounts import repository as account_repository
from alerts.accounts import service as account_service
from alerts.accounts.credentials import hash_secret
from alerts.audit.service import Actor
from alerts.devices import repository as device_repository
from alerts.errors import Forbidden, NotFound, Unauthenticated
from alerts.notices import repository as notice_repository
from kit.db import replica_session_scope, session_scope
from kit.models import Agency, AgencyKey, Device, KeyScope, Notice, Operator, OperatorRole


def get_session() -> Iterator[Session]:
    with session_scope() as session:
        yield session


# "function" scope: commit before the response is sent, so a 2xx means the data is stored.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_replica_session() -> Iterator[Session]:
    with replica_session_scope() as session:
        yield session


# Reads that tolerate replication lag; credentials are still checked on the primary, where
# a revocation or a logout is seen at once.
ReplicaSessionDep = Annotated[Session, Depends(get_replica_session, scope="function")]

# Named schemes: unnamed, both API key headers would be "APIKeyHeader" in the OpenAPI document.
_agency_key = APIKeyHeader(
    name="X-API-Key", scheme_name="AgencyKey", auto_error=False, description="Agency API key"
)

_operator_bearer = HTTPBearer(
    scheme_name="OperatorToken",
    auto_error=False,
    description="Operator session token from POST /v1/operator/login",
)

_device_key = APIKeyHeader(
    name="X-Device-Key", scheme_name="DeviceKey", auto_error=False, description="Device key"
)


class Role(enum.StrEnum):
    AGENCY = "agency"
    OPERATOR = "operator"
    DEVICE = "device"


@dataclass(frozen=True)
class Caller:
    roles: frozenset[Role]
    agency_key: AgencyKey | None = None
    device: Device | None = None
    operator: Operator | None = None
    operator_session_id: uuid.UUID | None = None


def identify_caller(
    session: SessionDep,
    api_key: Annotated[str | None, Security(_agency_key)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_operator_bearer)] = None,
    device_key: Annotated[str | None, Security(_device_key)] = None,
) -> Caller:
    if not (api_key or bearer or device_key):
        raise Unauthenticated("credentials required")
    roles: set[Role] = set()
    agency_key = device = operator = operator_session_id = None
    if api_key:
        agency_key = account_repository.agency_key_by_hash(session, hash_secret(api_key))
        if agency_key is None:
            raise Unauthenticated("unknown API key")
        if agency_key.revoked_at is not None:
            raise Unauthenticated("revoked API key")
        if agency_key.expires_at is not None and agency_key.expires_at <= datetime.now(UTC):
            raise Unauthenticated("expired API key")
        roles.add(Role.AGENCY)
    if bearer:
        operator, operator_session_id = account_service.session_operator(
            session, bearer.credentials
        )
        roles.add(Role.OPERATOR)
    if device_key:
        device = device_repository.device_by_credential_hash(session, hash_secret(device_key))
        if device is None:
            raise Unauthenticated("unknown device key")
        roles.add(Role.DEVICE)
    return Caller(
        roles=frozenset(roles),
        agency_key=agency_key,
        device=device,
        operator=operator,
        operator_session_id=operator_session_id,
    )


CallerDep = Annotated[Caller, Depends(identify_caller)]


def _require(caller: Caller, role: Role) -> None:
    if role not in caller.roles:
        raise Forbidden(f"this endpoint is for the {role} role")


def _agency_key_with(caller: Caller, scope: KeyScope) -> AgencyKey:
    _require(caller, Role.AGENCY)
    assert caller.agency_key is not None
    if scope not in caller.agency_key.scopes:
        raise Forbidden(f"this API key lacks the {scope} scope")
    return caller.agency_key


def current_agency(caller: CallerDep) -> Agency:
    """The calling agency, through a key that may read its notices."""
    return _agency_key_with(caller, KeyScope.NOTICES_READ).agency


def agency_writer(caller: CallerDep) -> AgencyKey:
    """The key of an agency that submits or ends notices: the audit log names the key."""
    return _agency_key_with(caller, KeyScope.NOTICES_WRITE)


def webhook_manager(caller: CallerDep) -> AgencyKey:
    """A key that may set or remove the agency's webhook: a key that only submits notices
    must not redirect the agency's sightings."""
    return _agency_key_with(caller, KeyScope.WEBHOOK_WRITE)


def current_operator(caller: CallerDep) -> Operator:
    """Any operator, reviewer or admin."""
    _require(caller, Role.OPERATOR)
    assert caller.operator is not None
    return caller.operator


def current_admin(caller: CallerDep) -> Operator:
    operator = current_operator(caller)
    if operator.role != OperatorRole.ADMIN:
        raise Forbidden("this endpoint is for admins")
    return operator


def operator_actor(caller: CallerDep) -> Actor:
    return account_service.operator_actor(current_operator(caller), caller.operator_session_id)


def current_device(caller: CallerDep) -> Device:
    _require(caller, Role.DEVICE)
    assert caller.device is not None
    return caller.device


async def device_key_hash(
    api_key: Annotated[str | None, Security(_agency_key)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_operator_bearer)] = None,
    device_key: Annotated[str | None, Security(_device_key)] = None,
) -> str:
    """The hash of the caller's device key, unchecked: for a route whose own statement finds
    the device (the location report), so that authenticating costs no round trip of its own.
    Without a device key the caller is 401 or 403 as on any device route."""
    if device_key:
        return hash_secret(device_key)
    await run_in_threadpool(_refuse_non_device, api_key, bearer)
    raise AssertionError("unreachable")


def _refuse_non_device(api_key: str | None, bearer: HTTPAuthorizationCredentials | None) -> None:
    with session_scope() as session:
        caller = identify_caller(session, api_key, bearer)
    _require(caller, Role.DEVICE)


def client_address(request: Request) -> str | None:
    """The caller's address, for limits per client. Behind a proxy, run uvicorn with
    --forwarded-allow-ips set to the proxy's address so that this is the client's."""
    return request.client.host if request.client is not None else None


ClientAddress = Annotated[str | None, Depends(client_address)]

CurrentAgency = Annotated[Agency, Depends(current_agency)]

AgencyWriter = Annotated[AgencyKey, Depends(agency_writer)]

WebhookManager = Annotated[AgencyKey, Depends(webhook_manager)]

CurrentDevice = Annotated[Device, Depends(current_device)]

DeviceKeyHash = Annotated[str, Depends(device_key_hash)]

CurrentOperator = Annotated[Operator, Depends(current_operator)]

OperatorActor = Annotated[Actor, Depends(operator_actor)]

OperatorOnly = Depends(current_operator)

AdminOnly = Depends(current_admin)


def any_notice(notice_id: uuid.UUID, session: SessionDep, _: CurrentOperator) -> Notice:
    """The notice in the path, for operators, who read every agency's."""
    notice = session.get(Notice, notice_id)
    if notice is None:
        raise NotFound("notice not found")
    return notice


def agency_notice(notice_id: uuid.UUID, session: SessionDep, agency: CurrentAgency) -> Notice:
    """The notice in the path if it is the calling agency's: another agency's notice is 404,
    exactly like one that does not exist."""
    notice = notice_repository.notice_of_agency(session, agency_id=agency.id, notice_id=notice_id)
    if notice is None:
        raise NotFound("notice not found")
    return notice


def readable_notice(notice_id: uuid.UUID, session: SessionDep, caller: CallerDep) -> Notice:
    """The notice in the path for a route both audiences read: any notice for an operator,
    its own for an agency."""
    if Role.OPERATOR in caller.roles:
        return any_notice(notice_id, session, current_operator(caller))
    if caller.agency_key is not None:
        return agency_notice(notice_id, session, current_agency(caller))
    raise Forbidden("this endpoint is for the agency and operator roles")


OperatorNotice = Annotated[Notice, Depends(any_notice)]
AgencyNotice = Annotated[Notice, Depends(agency_notice)]
ReadableNotice = Annotated[Notice, Depends(readable_notice)]
