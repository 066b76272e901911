"""Who is signed in to the console, and how its pages are drawn: the login a page or a
form depends on (with its CSRF check and, for admin pages, the admin role)."""

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from alerts.accounts import service as account_service
from alerts.audit.service import Actor
from alerts.console import service
from alerts.deps import SessionDep
from alerts.errors import DomainError, Forbidden
from kit.config import get_settings
from kit.models import Operator, OperatorRole

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals["age"] = service.age
templates.env.globals["is_drill"] = service.is_drill


class SignInRequired(Exception):
    """No valid console login: the browser goes to the sign-in page."""


@dataclass(frozen=True)
class Login:
    operator: Operator
    session_id: uuid.UUID | None
    csrf: str

    @property
    def actor(self) -> Actor:
        return account_service.operator_actor(self.operator, self.session_id)


def console_login(request: Request, session: SessionDep) -> Login:
    token = request.cookies.get(service.SESSION_COOKIE)
    if not token:
        raise SignInRequired
    try:
        operator, session_id = account_service.session_operator(session, token)
    except DomainError:
        raise SignInRequired from None
    return Login(operator, session_id, service.csrf_token(token))


async def checked_login(request: Request, login: Annotated[Login, Depends(console_login)]) -> Login:
    """A login whose form (or X-CSRF-Token header) carries its CSRF token."""
    supplied = request.headers.get("X-CSRF-Token") or (await request.form()).get("csrf_token")
    token = request.cookies.get(service.SESSION_COOKIE, "")
    if not service.csrf_valid(token, supplied if isinstance(supplied, str) else None):
        raise Forbidden("the form's CSRF token is missing or wrong; reload the page")
    return login


def admin_login(login: Annotated[Login, Depends(console_login)]) -> Login:
    if login.operator.role != OperatorRole.ADMIN:
        raise Forbidden("this page is for admins")
    return login


def checked_admin(login: Annotated[Login, Depends(checked_login)]) -> Login:
    return admin_login(login)


LoginDep = Annotated[Login, Depends(console_login)]
CheckedLogin = Annotated[Login, Depends(checked_login)]
AdminLogin = Annotated[Login, Depends(admin_login)]
CheckedAdmin = Annotated[Login, Depends(checked_admin)]


def render(
    request: Request,
    name: str,
    login: Login | None,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        name,
        {"login": login, "settings": get_settings(), **context},
        status_code=status_code,
    )


def see(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=status.HTTP_303_SEE_OTHER)
