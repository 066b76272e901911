"""Request dependencies: the session that commits once, and who is calling.

Three credentials, one per audience: agencies send `X-API-Key`, operators
`Authorization: Bearer`, devices `X-Device-Key`. An unknown credential is 401; a valid one
of the wrong audience is 403."""

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from alerts import repository
from alerts.credentials import hash_secret, same_secret
from alerts.errors import Forbidden, Unauthenticated
from kit.config import get_settings
from kit.db import session_scope
from kit.models import Agency, Device


def get_session() -> Iterator[Session]:
    with session_scope() as session:
        yield session


# "function" scope: commit before the response is sent, so a 2xx means the data is stored.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

# Named schemes: unnamed, both API key headers would be "APIKeyHeader" in the OpenAPI document.
_agency_key = APIKeyHeader(
    name="X-API-Key", scheme_name="AgencyKey", auto_error=False, description="Agency API key"
)
_operator_bearer = HTTPBearer(
    scheme_name="OperatorToken", auto_error=False, description="Operator credential"
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
    agency: Agency | None = None
    device: Device | None = None


def identify_caller(
    session: SessionDep,
    api_key: Annotated[str | None, Security(_agency_key)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_operator_bearer)] = None,
    device_key: Annotated[str | None, Security(_device_key)] = None,
) -> Caller:
    if not (api_key or bearer or device_key):
        raise Unauthenticated("credentials required")
    roles: set[Role] = set()
    agency = device = None
    if api_key:
        agency = repository.agency_by_key_hash(session, hash_secret(api_key))
        if agency is None:
            raise Unauthenticated("unknown API key")
        roles.add(Role.AGENCY)
    if bearer:
        if not same_secret(bearer.credentials, get_settings().operator_token):
            raise Unauthenticated("unknown operator credential")
        roles.add(Role.OPERATOR)
    if device_key:
        device = repository.device_by_credential_hash(session, hash_secret(device_key))
        if device is None:
            raise Unauthenticated("unknown device key")
        roles.add(Role.DEVICE)
    return Caller(roles=frozenset(roles), agency=agency, device=device)


CallerDep = Annotated[Caller, Depends(identify_caller)]


def _require(caller: Caller, role: Role) -> None:
    if role not in caller.roles:
        raise Forbidden(f"this endpoint is for the {role} role")


def current_agency(caller: CallerDep) -> Agency:
    _require(caller, Role.AGENCY)
    assert caller.agency is not None
    return caller.agency


def current_operator(caller: CallerDep) -> None:
    _require(caller, Role.OPERATOR)


def current_device(caller: CallerDep) -> Device:
    _require(caller, Role.DEVICE)
    assert caller.device is not None
    return caller.device


CurrentAgency = Annotated[Agency, Depends(current_agency)]
CurrentDevice = Annotated[Device, Depends(current_device)]
OperatorOnly = Depends(current_operator)
