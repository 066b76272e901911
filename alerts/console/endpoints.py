"""The operator console at /console: server-rendered pages for operators, signed in with a
cookie. Every change is an HTML form carrying the login's CSRF token; the map's live parts
read JSON from the GET routes here. Decisions go through the same services as the API."""

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from alerts.accounts import repository as account_repository
from alerts.accounts import service as account_service
from alerts.console import admin_endpoints, service
from alerts.console.login import (
    CheckedLogin,
    Login,
    LoginDep,
    SignInRequired,
    render,
    see,
)
from alerts.deps import SessionDep
from alerts.errors import DomainError, NotFound
from alerts.notices import service as notice_service
from alerts.notices.schemas import Approval, Decision
from kit.models import Notice
from notifier.preview import popup_previews

HERE = Path(__file__).parent
NODE_MODULES = HERE.parent.parent / "node_modules"

router = APIRouter(prefix="/console", include_in_schema=False)


def _sign_in_form(request: Request, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    """The sign-in page with a new CSRF token, in its form and in a cookie."""
    token = service.new_sign_in_token()
    response = render(
        request, "sign_in.html", None, sign_in_token=token, status_code=status_code, **context
    )
    response.set_cookie(
        service.SIGN_IN_COOKIE,
        token,
        path="/console/sign-in",
        httponly=True,
        secure=service.cookie_secure(),
        samesite="strict",
    )
    return response


@router.get("/sign-in")
def sign_in_page(request: Request) -> HTMLResponse:
    return _sign_in_form(request)


@router.post("/sign-in")
def sign_in(
    request: Request,
    session: SessionDep,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    if not service.sign_in_token_valid(request.cookies.get(service.SIGN_IN_COOKIE), csrf_token):
        return _sign_in_form(
            request,
            error="The sign-in form had expired; please sign in again.",
            email=email,
            status_code=status.HTTP_403_FORBIDDEN,
        )
    try:
        _, login, token = account_service.log_in(session, email=email, password=password)
    except DomainError as error:
        session.rollback()
        return _sign_in_form(
            request, error=error.detail, email=email, status_code=error.status_code
        )
    response = see("/console")
    response.delete_cookie(service.SIGN_IN_COOKIE, path="/console/sign-in")
    response.set_cookie(
        service.SESSION_COOKIE,
        token,
        expires=login.expires_at,
        path="/console",
        httponly=True,
        secure=service.cookie_secure(),
        samesite="strict",
    )
    return response


@router.post("/sign-out")
def sign_out(session: SessionDep, login: CheckedLogin) -> Response:
    if login.session_id is not None:
        account_service.log_out(session, actor=login.actor)
    response = see("/console/sign-in")
    response.delete_cookie(service.SESSION_COOKIE, path="/console")
    return response


@router.get("")
def queue_page(
    request: Request,
    session: SessionDep,
    login: LoginDep,
    show: Annotated[str, Query(pattern="^(all|pending|active)$")] = "all",
) -> HTMLResponse:
    lists = service.queue(session, show=show)
    active = lists.get("active", [])
    agencies = {
        n.agency_id: account_repository.agency_name(session, n.agency_id)
        for notices in lists.values()
        for n in notices
    }
    return render(
        request,
        "queue.html",
        login,
        lists=lists,
        show=show,
        agencies=agencies,
        stats=service.live_stats(session, active),
        sightings=service.sighting_counts(session, active),
    )


def _notice(session: SessionDep, notice_id: uuid.UUID, _: LoginDep) -> Notice:
    notice = session.get(Notice, notice_id)
    if notice is None:
        raise NotFound("notice not found")
    return notice


NoticeDep = Annotated[Notice, Depends(_notice)]


def _review(
    request: Request, session: SessionDep, login: Login, notice: Notice, **extra: Any
) -> HTMLResponse:
    return render(
        request,
        "review.html",
        login,
        notice=notice,
        agency=account_repository.agency_name(session, notice.agency_id),
        previews=popup_previews(notice),
        standard_radii=[] if notice.target_areas else service.STANDARD_RADII_KM,
        steps=service.expansion_steps(session, notice),
        own_submission=notice.submitted_by_operator_id == login.operator.id,
        **extra,
    )


@router.get("/notices/{notice_id}")
def review_page(
    request: Request, session: SessionDep, login: LoginDep, notice: NoticeDep
) -> HTMLResponse:
    return _review(request, session, login, notice)


def _drawn_areas(areas: str) -> list[dict[str, Any]] | None:
    """The GeoJSON areas the review map sends, parsed; their validation is the API's."""
    if not areas:
        return None
    try:
        parsed = json.loads(areas)
    except ValueError:
        raise DomainError("the drawn areas are not JSON") from None
    if not isinstance(parsed, list):
        raise DomainError("the drawn areas must be a list")
    return parsed


def _refusal(invalid: ValidationError) -> str:
    return "; ".join(error["msg"] for error in invalid.errors(include_url=False))


@router.get("/notices/{notice_id}/cover.json")
def cover(
    session: SessionDep,
    login: LoginDep,
    notice: NoticeDep,
    radius_km: Annotated[
        float | None, Query(ge=service.MIN_RADIUS_KM, le=service.MAX_RADIUS_KM)
    ] = None,
    areas: Annotated[str, Query(max_length=200_000, description="GeoJSON areas drawn")] = "",
) -> JSONResponse:
    """The reach and cells for the slider's radius, or for the areas drawn on the map (a
    422 saying why when they cannot be targeted, a 429 past the preview limit)."""
    try:
        data = service.cover(
            session,
            notice=notice,
            radius_km=radius_km,
            areas=_drawn_areas(areas),
            actor=login.actor,
        )
    except ValidationError as invalid:
        return JSONResponse({"detail": _refusal(invalid)}, status_code=422)
    return JSONResponse(data)


@router.get("/notices/{notice_id}/standard-reach.json")
def standard_reach(session: SessionDep, notice: NoticeDep) -> JSONResponse:
    """Fetched by the page after it shows: counting many radii would delay its first load."""
    return JSONResponse(service.standard_reach(session, notice))


def _decide(
    request: Request,
    session: SessionDep,
    login: Login,
    notice_id: uuid.UUID,
    decide: Callable[[], Notice],
) -> Response:
    """Run a decision; on a refusal, the review page again with the reason."""
    try:
        notice = decide()
    except DomainError as error:
        session.rollback()
        notice = _notice(session, notice_id, login)
        return _review(request, session, login, notice, error=error, status_code=error.status_code)
    return see(f"/console/notices/{notice.id}/watch")


@router.post("/notices/{notice_id}/approve")
def approve(
    request: Request,
    session: SessionDep,
    login: CheckedLogin,
    notice_id: uuid.UUID,
    radius_km: Annotated[float | None, Form()] = None,
    areas: Annotated[str, Form()] = "",
) -> Response:
    """Approve with the slider's radius, or with the areas drawn on the map instead."""

    def decide() -> Notice:
        drawn = _drawn_areas(areas)
        try:
            approval = Approval.model_validate({"radius_km": radius_km, "areas": drawn})
        except ValidationError as invalid:
            if drawn:
                raise DomainError(
                    f"the drawn area cannot be targeted: {_refusal(invalid)}"
                ) from None
            raise DomainError(
                f"the radius must be {service.MIN_RADIUS_KM}–{service.MAX_RADIUS_KM} km"
            ) from None
        return notice_service.approve_notice(
            session, notice_id=notice_id, approval=approval, actor=login.actor
        )

    return _decide(request, session, login, notice_id, decide)


def _decision(reason: str | None) -> Decision:
    try:
        return Decision(reason=reason or None)
    except ValidationError:
        raise DomainError("the reason is too long") from None


# The decisions that end a notice (or refuse it), by the last part of their form's path.
ENDINGS: dict[str, Callable[..., Notice]] = {
    "reject": notice_service.reject_notice,
    "cancel": notice_service.cancel_notice,
    "found": notice_service.mark_found,
}


@router.post("/notices/{notice_id}/{ending}")
def end(
    request: Request,
    session: SessionDep,
    login: CheckedLogin,
    notice_id: uuid.UUID,
    ending: Literal["reject", "cancel", "found"],
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Reject, cancel, or mark found; a reason is kept with the first two."""
    return _decide(
        request,
        session,
        login,
        notice_id,
        lambda: ENDINGS[ending](
            session,
            notice_id=notice_id,
            decision=_decision(None if ending == "found" else reason),
            actor=login.actor,
        ),
    )


@router.get("/notices/{notice_id}/watch")
def watch_page(
    request: Request, session: SessionDep, login: LoginDep, notice: NoticeDep
) -> HTMLResponse:
    return render(
        request,
        "watch.html",
        login,
        notice=notice,
        agency=account_repository.agency_name(session, notice.agency_id),
        live=service.live(session, notice),
    )


@router.get("/notices/{notice_id}/live.json")
def live(session: SessionDep, notice: NoticeDep) -> JSONResponse:
    now = service.live(session, notice)
    return JSONResponse(
        {
            "status": now.status,
            "stats": now.stats.model_dump(mode="json"),
            "sightings": [
                {
                    "id": str(s.id),
                    "seen_at": s.seen_at.isoformat(),
                    "lat": s.lat,
                    "lon": s.lon,
                    "text": s.text,
                }
                for s in now.sightings
            ],
            "timeline": [
                {"at": e.at.isoformat(), "action": e.action, "actor": e.actor_type}
                for e in now.timeline
            ],
        }
    )


def install(app: FastAPI) -> None:
    """The console's routes, its assets (its own, and Leaflet and the outline map from
    node_modules, which scripts/bootstrap.sh fills), its headers and its sign-in redirect."""
    app.include_router(router)
    app.include_router(admin_endpoints.admin_router)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
    for package, folder in (
        ("leaflet", "dist"),
        ("topojson-client", "dist"),
        ("world-atlas", ""),
    ):
        app.mount(
            f"/console/vendor/{package}",
            StaticFiles(directory=NODE_MODULES / package / folder, check_dir=False),
            name=f"console-vendor-{package}",
        )

    @app.exception_handler(SignInRequired)
    async def _sign_in(_: Request, __: SignInRequired) -> Response:
        return see("/console/sign-in")

    app.add_middleware(ConsoleHeaders)


class ConsoleHeaders:
    """The console's own policy replaces the API's (which allows nothing) that the edge,
    further in, gave every response. Plain ASGI: a `BaseHTTPMiddleware` wrapped every
    request of the service in a task group and a stream, and cost the hottest public
    routes a third of their throughput."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith("/console"):
            await self.app(scope, receive, send)
            return
        assets = path.startswith(("/console/static", "/console/vendor"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = service.content_security_policy()
                headers["Referrer-Policy"] = "same-origin"
                headers.setdefault("X-Content-Type-Options", "nosniff")
                if not assets:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)
