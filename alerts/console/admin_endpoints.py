"""The console's admin pages: agencies and their keys, operators, and the audit log."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from alerts.accounts import repository as account_repository
from alerts.accounts import service as account_service
from alerts.accounts.schemas import AgencyCreate, KeyRotation, OperatorCreate
from alerts.audit import repository as audit_repository
from alerts.console.login import (
    AdminLogin,
    CheckedAdmin,
    Login,
    render,
    see,
)
from alerts.deps import SessionDep
from alerts.errors import DomainError
from kit.models import KeyScope

admin_router = APIRouter(prefix="/console/admin", include_in_schema=False)


@admin_router.get("/agencies")
def agencies_page(request: Request, session: SessionDep, login: AdminLogin) -> HTMLResponse:
    agencies, _ = account_repository.list_agencies(session, limit=200, offset=0)
    return render(
        request,
        "agencies.html",
        login,
        agencies=[(a, account_repository.agency_keys(session, a.id)) for a in agencies],
    )


def _agencies_with_secret(
    request: Request, session: SessionDep, login: Login, *, secret: str, label: str
) -> HTMLResponse:
    """The agencies page showing a new key once: it is not stored, so a reload loses it."""
    agencies, _ = account_repository.list_agencies(session, limit=200, offset=0)
    return render(
        request,
        "agencies.html",
        login,
        agencies=[(a, account_repository.agency_keys(session, a.id)) for a in agencies],
        new_secret=secret,
        new_secret_label=label,
    )


def _admin_error(
    request: Request, session: SessionDep, login: Login, error: DomainError
) -> HTMLResponse:
    session.rollback()
    agencies, _ = account_repository.list_agencies(session, limit=200, offset=0)
    return render(
        request,
        "agencies.html",
        login,
        agencies=[(a, account_repository.agency_keys(session, a.id)) for a in agencies],
        error=error.detail,
        status_code=error.status_code,
    )


@admin_router.post("/agencies")
def create_agency(
    request: Request, session: SessionDep, login: CheckedAdmin, name: Annotated[str, Form()]
) -> HTMLResponse:
    try:
        try:
            data = AgencyCreate(name=name)
        except ValidationError:
            raise DomainError("an agency name is 1–200 characters") from None
        agency, _, secret = account_service.create_agency(session, data=data, actor=login.actor)
    except DomainError as error:
        return _admin_error(request, session, login, error)
    return _agencies_with_secret(
        request, session, login, secret=secret, label=f"first key of {agency.name}"
    )


@admin_router.post("/agencies/{agency_id}/keys")
def issue_key(
    request: Request,
    session: SessionDep,
    login: CheckedAdmin,
    agency_id: uuid.UUID,
    label: Annotated[str, Form()] = "",
) -> HTMLResponse:
    try:
        agency = account_service.get_agency(session, agency_id)
        _, secret = account_service.issue_agency_key(
            session,
            agency=agency,
            scopes=list(KeyScope),
            label=label or None,
            expires_at=None,
            actor=login.actor,
        )
    except DomainError as error:
        return _admin_error(request, session, login, error)
    return _agencies_with_secret(
        request, session, login, secret=secret, label=f"new key of {agency.name}"
    )


@admin_router.post("/agencies/{agency_id}/keys/{key_id}/rotate")
def rotate_key(
    request: Request,
    session: SessionDep,
    login: CheckedAdmin,
    agency_id: uuid.UUID,
    key_id: uuid.UUID,
) -> HTMLResponse:
    try:
        old, _, secret = account_service.rotate_agency_key(
            session, agency_id=agency_id, key_id=key_id, rotation=KeyRotation(), actor=login.actor
        )
    except DomainError as error:
        return _admin_error(request, session, login, error)
    return _agencies_with_secret(
        request, session, login, secret=secret, label=f"successor of key {old.prefix}…"
    )


@admin_router.post("/agencies/{agency_id}/keys/{key_id}/revoke")
def revoke_key(
    request: Request,
    session: SessionDep,
    login: CheckedAdmin,
    agency_id: uuid.UUID,
    key_id: uuid.UUID,
) -> Response:
    try:
        account_service.revoke_agency_key(
            session, agency_id=agency_id, key_id=key_id, actor=login.actor
        )
    except DomainError as error:
        return _admin_error(request, session, login, error)
    return see("/console/admin/agencies")


@admin_router.get("/operators")
def operators_page(request: Request, session: SessionDep, login: AdminLogin) -> HTMLResponse:
    return render(
        request, "operators.html", login, operators=account_repository.list_operators(session)
    )


@admin_router.post("/operators")
def create_operator(
    request: Request,
    session: SessionDep,
    login: CheckedAdmin,
    email: Annotated[str, Form()],
    display_name: Annotated[str, Form()],
    password: Annotated[str, Form()],
    role: Annotated[str, Form()] = "reviewer",
) -> Response:
    try:
        try:
            data = OperatorCreate(
                email=email, display_name=display_name, password=password, role=role
            )
        except ValidationError as invalid:
            fields = ", ".join(str(e["loc"][-1]) for e in invalid.errors())
            raise DomainError(f"check these fields: {fields}") from None
        account_service.create_operator(session, data=data, actor=login.actor)
    except DomainError as error:
        session.rollback()
        return render(
            request,
            "operators.html",
            login,
            operators=account_repository.list_operators(session),
            error=error.detail,
            status_code=error.status_code,
        )
    return see("/console/admin/operators")


@admin_router.get("/audit")
def audit_page(
    request: Request,
    session: SessionDep,
    login: AdminLogin,
    action: Annotated[str, Query(max_length=64)] = "",
    actor_id: Annotated[str, Query(max_length=36)] = "",
    notice_id: Annotated[str, Query(max_length=36)] = "",
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> HTMLResponse:
    def as_uuid(value: str) -> uuid.UUID | None:
        try:
            return uuid.UUID(value) if value else None
        except ValueError:
            return None

    events, total = audit_repository.audit_events(
        session,
        notice_id=as_uuid(notice_id),
        actor_id=as_uuid(actor_id),
        action=action or None,
        limit=100,
        offset=offset,
    )
    return render(
        request,
        "audit.html",
        login,
        events=events,
        total=total,
        offset=offset,
        filters={"action": action, "actor_id": actor_id, "notice_id": notice_id},
    )
