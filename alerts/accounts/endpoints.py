"""Operator login and accounts, agencies and their API keys."""

import uuid
from datetime import timedelta

from fastapi import APIRouter, Body, Cookie, Query, Response, status

from alerts.accounts import repository, service
from alerts.accounts.schemas import (
    AgencyCreate,
    AgencyCreated,
    AgencyKeyCreate,
    AgencyKeyCreated,
    AgencyKeyOut,
    AgencyOut,
    AgencyPage,
    KeyRotated,
    KeyRotation,
    OperatorCreate,
    OperatorLogin,
    OperatorOut,
    OperatorSessionOut,
    OperatorUpdate,
    PasswordChange,
)
from alerts.deps import (
    AdminOnly,
    ClientAddress,
    CurrentOperator,
    OperatorActor,
    OperatorOnly,
    SessionDep,
)
from alerts.fields import MAX_OFFSET, error_responses
from kit.config import get_settings

KNOWN_CLIENT_COOKIE = "hexcast_known_client"

KNOWN_CLIENT_LIFETIME = timedelta(days=365)

router = APIRouter(prefix="/v1/operator", tags=["operator accounts"])
key_router = APIRouter(
    prefix="/v1/operator/agencies/{agency_id}/keys",
    tags=["agency keys"],
    dependencies=[AdminOnly],
)
agency_router = APIRouter(prefix="/v1/operator", tags=["operators"], dependencies=[OperatorOnly])


@router.post(
    "/login",
    response_model=OperatorSessionOut,
    responses=error_responses(401, 429),
    summary="Log in with email and password; returns a bearer session token",
)
def log_in(
    data: OperatorLogin,
    session: SessionDep,
    response: Response,
    client: ClientAddress,
    cookie: str | None = Cookie(None, alias=KNOWN_CLIENT_COOKIE),
) -> OperatorSessionOut:
    """The token is shown in this response only and works until `expires_at`
    (HEXCAST_OPERATOR_SESSION_HOURS) or logout. A wrong email or password is the same 401.
    After HEXCAST_LOGIN_FAILURES_FREE failures naming one email in 15 minutes (or
    HEXCAST_LOGIN_CLIENT_FAILURES_FREE from one address), each further attempt must wait
    1 s after the newest failure, twice as long after each more, up to 15 minutes: 429 with
    `Retry-After`. A known client (`known_client`, or its cookie) of the account is counted
    on its own, so its right password works while the account is guessed at elsewhere."""
    known = data.known_client or cookie
    operator, login, token = service.log_in(
        session, email=data.email, password=data.password, client=client, known_client=known
    )
    remembered = service.remember_client(session, operator=operator, known_client=known)
    response.set_cookie(
        KNOWN_CLIENT_COOKIE,
        remembered,
        max_age=int(KNOWN_CLIENT_LIFETIME.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=get_settings().environment == "production",
    )
    return OperatorSessionOut(
        token=token,
        known_client=remembered,
        expires_at=login.expires_at,
        operator=OperatorOut.from_operator(operator),
    )


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 409),
    summary="End the session whose token is sent",
)
def log_out(session: SessionDep, actor: OperatorActor) -> Response:
    service.log_out(session, actor=actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/me",
    response_model=OperatorOut,
    responses=error_responses(401, 403),
    summary="The logged-in operator's account",
)
def read_me(operator: CurrentOperator) -> OperatorOut:
    return OperatorOut.from_operator(operator)


@router.put(
    "/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403),
    summary="Change the logged-in operator's password; other sessions end",
)
def change_password(
    data: PasswordChange, session: SessionDep, operator: CurrentOperator, actor: OperatorActor
) -> Response:
    service.change_password(session, operator=operator, data=data, actor=actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/accounts",
    response_model=list[OperatorOut],
    responses=error_responses(401, 403),
    dependencies=[AdminOnly],
    summary="List operator accounts (admins)",
)
def list_operators(session: SessionDep) -> list[OperatorOut]:
    return [OperatorOut.from_operator(o) for o in repository.list_operators(session)]


@router.post(
    "/accounts",
    status_code=status.HTTP_201_CREATED,
    response_model=OperatorOut,
    responses=error_responses(401, 403, 409),
    dependencies=[AdminOnly],
    summary="Create an operator account (admins)",
)
def create_operator(data: OperatorCreate, session: SessionDep, actor: OperatorActor) -> OperatorOut:
    """The admin passes the initial password on; the operator changes it with
    `PUT /v1/operator/me/password`."""
    return OperatorOut.from_operator(service.create_operator(session, data=data, actor=actor))


@router.patch(
    "/accounts/{operator_id}",
    response_model=OperatorOut,
    responses=error_responses(401, 403, 404, 409),
    dependencies=[AdminOnly],
    summary="Change an operator's name, role or active flag (admins)",
)
def update_operator(
    operator_id: uuid.UUID, data: OperatorUpdate, session: SessionDep, actor: OperatorActor
) -> OperatorOut:
    """Deactivating ends the operator's sessions at once. Nobody demotes or deactivates
    themselves (409)."""
    operator = service.update_operator(session, operator_id=operator_id, data=data, actor=actor)
    return OperatorOut.from_operator(operator)


def _key_created(key_out: AgencyKeyOut, api_key: str) -> AgencyKeyCreated:
    return AgencyKeyCreated(**key_out.model_dump(), api_key=api_key)


@key_router.get(
    "",
    response_model=list[AgencyKeyOut],
    responses=error_responses(401, 403, 404),
    summary="List an agency's keys, oldest first, revoked and expired ones included",
)
def list_keys(agency_id: uuid.UUID, session: SessionDep) -> list[AgencyKeyOut]:
    service.get_agency(session, agency_id)
    return [AgencyKeyOut.from_key(k) for k in repository.agency_keys(session, agency_id)]


@key_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=AgencyKeyCreated,
    responses=error_responses(401, 403, 404),
    summary="Issue a new key with the given scopes",
)
def create_key(
    agency_id: uuid.UUID, data: AgencyKeyCreate, session: SessionDep, actor: OperatorActor
) -> AgencyKeyCreated:
    """The key is shown in this response only; hexcast stores its hash."""
    key, api_key = service.issue_agency_key(
        session,
        agency=service.get_agency(session, agency_id),
        scopes=data.scopes,
        label=data.label,
        expires_at=data.expires_at,
        actor=actor,
    )
    return _key_created(AgencyKeyOut.from_key(key), api_key)


@key_router.post(
    "/{key_id}/rotate",
    status_code=status.HTTP_201_CREATED,
    response_model=KeyRotated,
    responses=error_responses(401, 403, 404, 409),
    summary="Issue a successor key; the old one keeps working for the overlap",
)
def rotate_key(
    agency_id: uuid.UUID,
    key_id: uuid.UUID,
    session: SessionDep,
    actor: OperatorActor,
    rotation: KeyRotation | None = Body(None),
) -> KeyRotated:
    """The successor has the same scopes and no expiry; the old key stops working after
    `overlap_hours` (24 by default; 0 ends it now). A revoked or expired key is 409."""
    old, new, api_key = service.rotate_agency_key(
        session, agency_id=agency_id, key_id=key_id, rotation=rotation or KeyRotation(), actor=actor
    )
    return KeyRotated(
        old=AgencyKeyOut.from_key(old), new=_key_created(AgencyKeyOut.from_key(new), api_key)
    )


@key_router.post(
    "/{key_id}/revoke",
    response_model=AgencyKeyOut,
    responses=error_responses(401, 403, 404, 409),
    summary="Revoke a key at once",
)
def revoke_key(
    agency_id: uuid.UUID, key_id: uuid.UUID, session: SessionDep, actor: OperatorActor
) -> AgencyKeyOut:
    key = service.revoke_agency_key(session, agency_id=agency_id, key_id=key_id, actor=actor)
    return AgencyKeyOut.from_key(key)


@agency_router.post(
    "/agencies",
    status_code=status.HTTP_201_CREATED,
    response_model=AgencyCreated,
    responses=error_responses(401, 403, 409),
    dependencies=[AdminOnly],
    summary="Create a partner agency and its first API key (admins)",
)
def create_agency(data: AgencyCreate, session: SessionDep, actor: OperatorActor) -> AgencyCreated:
    """The API key, with every scope, is shown in this response only; hexcast stores its
    hash. More keys: `/v1/operator/agencies/{agency_id}/keys`."""
    agency, _, api_key = service.create_agency(session, data=data, actor=actor)
    return AgencyCreated(id=agency.id, name=agency.name, api_key=api_key)


@agency_router.get(
    "/agencies",
    response_model=AgencyPage,
    responses=error_responses(401, 403),
    summary="List agencies by name",
)
def list_agencies(
    session: SessionDep,
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> AgencyPage:
    items, total = repository.list_agencies(session, limit=limit, offset=offset)
    return AgencyPage(
        items=[AgencyOut(id=a.id, name=a.name, created_at=a.created_at) for a in items],
        total=total,
    )
