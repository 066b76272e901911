"""The operator console's rules: the browser session (an HttpOnly cookie holding an operator
login's token) and its CSRF token, the cover drawn on the map, and what the pages show."""

import hashlib
import hmac
import math
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import h3.api.basic_int as h3int
from sqlalchemy.orm import Session

from alerts.audit import repository as audit_repository
from alerts.audit.service import Actor
from alerts.devices import repository as device_repository
from alerts.expansion import repository as expansion_repository
from alerts.notices import repository as notice_repository
from alerts.notices import service as notice_service
from alerts.notices.areas import areas_json
from alerts.notices.schemas import DeliveryStats
from alerts.reach import service as reach_service
from alerts.reach.schemas import ReachQuery
from geo.regions import region_cells, region_from_json, target_region
from kit.config import get_settings
from kit.models import AuditEvent, CapStatus, ExpansionStep, Notice, NoticeStatus, Sighting

SESSION_COOKIE = "hexcast_console"
# Before a login exists, the sign-in form's CSRF token is a random value also set as this
# cookie (double submit): another site can post the form but cannot read or set the cookie.
SIGN_IN_COOKIE = "hexcast_console_sign_in"
MIN_RADIUS_KM = 0.1
MAX_RADIUS_KM = 500.0
STANDARD_RADII_KM = (1.0, 3.0, 5.0, 10.0, 25.0, 50.0)
# Polygon vertices to 5 decimals (about a metre): enough for a map, a third of the bytes.
_DECIMALS = 5


def cookie_secure() -> bool:
    """Secure outside development and tests, where the console is served over plain HTTP on
    localhost."""
    return get_settings().environment == "production"


def csrf_token(session_token: str) -> str:
    """Bound to the login: a page of another login, or another site, cannot supply it. Not
    stored: derived from the session token, which only the cookie holds."""
    return hmac.new(session_token.encode(), b"hexcast console csrf", hashlib.sha256).hexdigest()


def csrf_valid(session_token: str, supplied: str | None) -> bool:
    return supplied is not None and hmac.compare_digest(csrf_token(session_token), supplied)


def new_sign_in_token() -> str:
    return secrets.token_urlsafe(24)


def sign_in_token_valid(cookie: str | None, supplied: str | None) -> bool:
    return bool(cookie and supplied) and hmac.compare_digest(str(cookie), str(supplied))


def content_security_policy() -> str:
    """No inline script, no framing; pictures from the console itself and over https (the
    basemap's tiles, agencies' photo links), so nothing comes over plain HTTP from elsewhere."""
    return (
        "default-src 'self'; img-src 'self' data: https:; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'self'"
    )


def is_drill(notice: Notice) -> bool:
    return notice.cap_status != CapStatus.ACTUAL


def queue(session: Session, *, show: str, limit: int = 100) -> dict[str, Sequence[Notice]]:
    """Pending and active notices, newest first, or one of them when `show` says so."""
    lists: dict[str, Sequence[Notice]] = {}
    for status in (NoticeStatus.PENDING, NoticeStatus.ACTIVE):
        if show in ("all", status.value):
            lists[status.value] = notice_repository.list_notices(
                session, status=status, limit=limit, offset=0
            )[0]
    return lists


def live_stats(session: Session, notices: Sequence[Notice]) -> dict[uuid.UUID, DeliveryStats]:
    return {n.id: notice_service.delivery_stats(session, notice=n) for n in notices}


def sighting_counts(session: Session, notices: Sequence[Notice]) -> dict[uuid.UUID, int]:
    return {
        n.id: device_repository.list_sightings(session, notice_id=n.id, limit=1, offset=0)[1]
        for n in notices
    }


def clamp_radius(radius_km: float) -> float:
    return min(MAX_RADIUS_KM, max(MIN_RADIUS_KM, radius_km))


def _polygons(cells: Sequence[int]) -> list[list[list[float]]]:
    return [
        [[round(lat, _DECIMALS), round(lng, _DECIMALS)] for lat, lng in h3int.cell_to_boundary(c)]
        for c in cells
    ]


def reach_query(
    notice: Notice, radius_km: float | None, areas: list[dict[str, Any]] | None = None
) -> ReachQuery:
    """The reach the approve endpoint's radius or drawn areas give (the notice's own target
    without either), counted as POST /v1/operator/reach counts it. Areas are validated here
    as that endpoint validates them: pydantic's ValidationError says why they are refused."""
    base: dict[str, Any] = {
        "cap_status": notice.cap_status,
        "location_window_hours": notice.location_window_hours,
    }
    if areas or notice.target_areas:
        return ReachQuery.model_validate({**base, "areas": areas or notice.target_areas})
    return ReachQuery.model_validate(
        {
            **base,
            "lat": notice.last_seen_lat,
            "lon": notice.last_seen_lon,
            "radii_km": [radius_km or notice.radius_km],
        }
    )


def cover(
    session: Session,
    *,
    notice: Notice,
    radius_km: float | None,
    areas: list[dict[str, Any]] | None = None,
    actor: Actor,
) -> dict[str, Any]:
    """The reach for the radius or the areas drawn on the map (every field of the reach
    preview, as its API gives it) and the H3 cells the broadcast would use, inside and
    boundary apart, as map polygons. Areas drawn here can be anywhere, unlike the slider's
    circles round the reported place: they are counted as POST /v1/operator/reach counts,
    under its per-operator limit and recorded in the audit log, so that overlapping drawings
    cannot locate a phone unseen."""
    drawn = bool(areas or notice.target_areas)
    radius = None if drawn else clamp_radius(radius_km or notice.radius_km or 1)
    query = reach_query(notice, radius, areas)
    if areas:
        preview = reach_service.reach_preview(session, query=query, actor=actor)
    else:
        preview = reach_service.count_reach(session, query=query)
    reach = preview.reach[0]
    if query.areas is not None:
        region = region_from_json(areas_json(query.areas))
    else:
        region = target_region(
            None, lat=notice.last_seen_lat, lon=notice.last_seen_lon, radius_km=radius
        )
    cells = region_cells(region)
    return {
        **reach.model_dump(mode="json"),
        "radius_km": radius,
        "inside": _polygons(cells.inside),
        "boundary": _polygons(cells.boundary),
    }


def expansion_steps(session: Session, notice: Notice) -> Sequence[ExpansionStep]:
    return [] if notice.target_areas else expansion_repository.expansion_steps(session, notice.id)


def standard_reach(session: Session, notice: Notice) -> dict[str, list[dict[str, Any]]]:
    """The reach at the standard radii, and at each expansion step's radius (the devices a
    step's ring adds are its reach less the one before)."""
    if notice.target_areas or notice.radius_km is None:
        return {"standard": [], "own": [], "steps": []}
    steps = [step.radius_km for step in expansion_steps(session, notice)]
    radii = [*STANDARD_RADII_KM, notice.radius_km, *steps]
    query = reach_query(notice, None).model_copy(update={"radii_km": radii})
    reach = [
        r.model_dump(mode="json") for r in reach_service.count_reach(session, query=query).reach
    ]
    n = len(STANDARD_RADII_KM)
    return {"standard": reach[:n], "own": reach[n : n + 1], "steps": reach[n + 1 :]}


@dataclass(frozen=True, slots=True)
class Live:
    status: NoticeStatus
    stats: DeliveryStats
    sightings: Sequence[Sighting]
    timeline: Sequence[AuditEvent]


def live(session: Session, notice: Notice) -> Live:
    """What the broadcast watch page polls: the funnel, the sightings, the audit timeline."""
    return Live(
        status=notice.status,
        stats=notice_service.delivery_stats(session, notice=notice),
        sightings=device_repository.list_sightings(
            session, notice_id=notice.id, limit=200, offset=0
        )[0],
        timeline=audit_repository.audit_events(
            session, notice_id=notice.id, newest_first=False, limit=200, offset=0
        )[0],
    )


def age(at: datetime, now: datetime | None = None) -> str:
    """'5 min', '3 h', '2 d': how long ago, for the queue."""
    seconds = max(0.0, ((now or datetime.now(UTC)) - at).total_seconds())
    if seconds < 3600:
        return f"{math.floor(seconds / 60)} min"
    if seconds < 86400:
        return f"{math.floor(seconds / 3600)} h"
    return f"{math.floor(seconds / 86400)} d"
