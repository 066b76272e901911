"""Reach preview: how many devices a radius or area would reach now, counted with the cover
and query a broadcast uses, without sending.

Previews must not locate a phone: small counts are shown as "fewer than N", areas and
location windows too small for an alert are refused (ReachQuery), each operator may run a few
a minute, and each is recorded in the audit log with what it asked and what it was told."""

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from alerts.audit import service as audit_service
from alerts.audit.service import Actor
from alerts.notices.areas import areas_json
from alerts.reach.schemas import Reach, ReachPreview, ReachQuery
from geo.regions import Circle, Region, area_bounds, area_m2, region_from_json
from geo.selection import count_recipients
from geo.tallies import TallyPolicy
from kit.config import get_settings

PREVIEW_ACTION = "reach.previewed"

PREVIEW_WINDOW = timedelta(minutes=1)


def reach_preview(
    session: Session, *, query: ReachQuery, actor: Actor, counting: Session | None = None
) -> ReachPreview:
    """Devices each radius (or the areas) would reach now, counted as a broadcast would
    select them; large areas partly from the device tally (see geo.tallies). The limit and
    the audit log are on `session` (the primary); the counting may read a replica."""
    settings = get_settings()
    audit_service.limit_actions(
        session,
        actor,
        PREVIEW_ACTION,
        limit=settings.reach_previews_per_minute,
        window=PREVIEW_WINDOW,
        what="reach previews a minute per operator",
    )
    preview = count_reach(counting or session, query=query)
    audit_service.record(
        session,
        actor,
        PREVIEW_ACTION,
        query=_asked(query),
        reach=[r.model_dump(exclude={"tallied_at"}) for r in preview.reach],
    )
    return preview


def _asked(query: ReachQuery) -> dict[str, object]:
    """What the audit log keeps of a preview's query: enough to see where it looked, without
    copying every vertex of its polygons."""
    asked: dict[str, object] = {
        "cap_status": query.cap_status,
        "location_window_hours": query.location_window_hours,
    }
    if query.areas is None:
        return {**asked, "lat": query.lat, "lon": query.lon, "radii_km": query.radii_km}
    areas = areas_json(query.areas)
    return {
        **asked,
        "area_km2": round(sum(map(area_m2, areas)) / 1e6, 3),
        "area_bounds": [area_bounds(area) for area in areas],
    }


def count_reach(session: Session, *, query: ReachQuery) -> ReachPreview:
    """The counts alone, small ones shown as "fewer than N", without the per-operator limit
    or the audit record: for the console's review of a notice, whose circles are centred on
    the place the agency reported, so that no choice of radius can single out a phone."""
    settings = get_settings()
    now = datetime.now(UTC)
    window = query.location_window_hours or settings.location_freshness_hours
    since = now - timedelta(hours=window)
    tally = TallyPolicy(
        min_devices=settings.reach_tally_min_devices,
        taken_after=now - timedelta(seconds=settings.reach_tally_max_age_seconds),
    )

    def reach(radius_km: float | None, region: Region) -> Reach:
        count = count_recipients(
            session,
            region,
            fresh_since=since,
            test_devices_only=query.cap_status.test_devices_only,
            tally=tally,
        )
        if count.devices < settings.reach_min_devices_shown:
            return Reach(
                radius_km=radius_km,
                devices=None,
                fewer_than=settings.reach_min_devices_shown,
                tallied_at=count.tallied_at,
            )
        return Reach(radius_km=radius_km, devices=count.devices, tallied_at=count.tallied_at)

    if query.areas is not None:
        return ReachPreview(
            reach=[reach(None, region_from_json(areas_json(query.areas)))], located_since=since
        )
    assert query.lat is not None and query.lon is not None and query.radii_km is not None
    return ReachPreview(
        reach=[
            reach(radius, (Circle(query.lat, query.lon, radius * 1000.0),))
            for radius in query.radii_km
        ],
        located_since=since,
    )
