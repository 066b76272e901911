"""Operator logins and accounts: anyone may try to log in; a logged-in operator sees and
changes their own account; admins create and change the others."""

import uuid

from fastapi import APIRouter, Response, status

from alerts import accounts, repository
from alerts.deps import AdminOnly, CurrentOperator, OperatorActor, SessionDep
from alerts.schemas import (
    OperatorCreate,
    OperatorLogin,
    OperatorOut,
    OperatorSessionOut,
    OperatorUpdate,
    PasswordChange,
    error_responses,
)

router = APIRouter(prefix="/v1/operator", tags=["operator accounts"])


@router.post(
    "/login",
    response_model=OperatorSessionOut,
    responses=error_responses(401, 429),
    summary="Log in with email and password; returns a bearer session token",
)
def log_in(data: OperatorLogin, session: SessionDep) -> OperatorSessionOut:
    """The token is shown in this response only and works until `expires_at`
    (HEXCAST_OPERATOR_SESSION_HOURS) or logout. A wrong email or password is the same 401.
    After HEXCAST_LOGIN_FAILURES_ALLOWED failures naming one email in 15 minutes, logins as
    it are refused with 429 and `Retry-After` until the oldest failure is 15 minutes old."""
    operator, login, token = accounts.log_in(session, email=data.email, password=data.password)
    return OperatorSessionOut(
        token=token, expires_at=login.expires_at, operator=OperatorOut.from_operator(operator)
    )


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 409),
    summary="End the session whose token is sent",
)
def log_out(session: SessionDep, actor: OperatorActor) -> Response:
    accounts.log_out(session, actor=actor)
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
    accounts.change_password(session, operator=operator, data=data, actor=actor)
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
    return OperatorOut.from_operator(accounts.create_operator(session, data=data, actor=actor))


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
    operator = accounts.update_operator(session, operator_id=operator_id, data=data, actor=actor)
    return OperatorOut.from_operator(operator)
