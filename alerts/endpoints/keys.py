"""Agencies' API keys, managed by admins: issue, list, rotate with an overlap, revoke.

Agencies cannot mint keys themselves: a leaked key must not be able to create its own
successor, which would outlive the leaked key's revocation."""

import uuid

from fastapi import APIRouter, Body, status

from alerts import accounts, repository
from alerts.deps import AdminOnly, OperatorActor, SessionDep
from alerts.schemas import (
    AgencyKeyCreate,
    AgencyKeyCreated,
    AgencyKeyOut,
    KeyRotated,
    KeyRotation,
    error_responses,
)

router = APIRouter(
    prefix="/v1/operator/agencies/{agency_id}/keys",
    tags=["agency keys"],
    dependencies=[AdminOnly],
)


def _created(key_out: AgencyKeyOut, api_key: str) -> AgencyKeyCreated:
    return AgencyKeyCreated(**key_out.model_dump(), api_key=api_key)


@router.get(
    "",
    response_model=list[AgencyKeyOut],
    responses=error_responses(401, 403, 404),
    summary="List an agency's keys, oldest first, revoked and expired ones included",
)
def list_keys(agency_id: uuid.UUID, session: SessionDep) -> list[AgencyKeyOut]:
    accounts.get_agency(session, agency_id)
    return [AgencyKeyOut.from_key(k) for k in repository.agency_keys(session, agency_id)]


@router.post(
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
    key, api_key = accounts.issue_agency_key(
        session,
        agency=accounts.get_agency(session, agency_id),
        scopes=data.scopes,
        label=data.label,
        expires_at=data.expires_at,
        actor=actor,
    )
    return _created(AgencyKeyOut.from_key(key), api_key)


@router.post(
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
    old, new, api_key = accounts.rotate_agency_key(
        session, agency_id=agency_id, key_id=key_id, rotation=rotation or KeyRotation(), actor=actor
    )
    return KeyRotated(
        old=AgencyKeyOut.from_key(old), new=_created(AgencyKeyOut.from_key(new), api_key)
    )


@router.post(
    "/{key_id}/revoke",
    response_model=AgencyKeyOut,
    responses=error_responses(401, 403, 404, 409),
    summary="Revoke a key at once",
)
def revoke_key(
    agency_id: uuid.UUID, key_id: uuid.UUID, session: SessionDep, actor: OperatorActor
) -> AgencyKeyOut:
    key = accounts.revoke_agency_key(session, agency_id=agency_id, key_id=key_id, actor=actor)
    return AgencyKeyOut.from_key(key)
