"""Reach preview: how many devices a radius or area would reach now, counted with the cover
and query a broadcast uses, without sending."""

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from alerts.notices.areas import areas_json
from alerts.reach.schemas import Reach, ReachPreview, ReachQuery
from geo.regions import Circle, Region, region_from_json
from geo.selection import count_recipients
from geo.tallies import TallyPolicy
from kit.config import get_settings


def reach_preview(session: Session, *, query: ReachQuery) -> ReachPreview:
    """Devices each radius (or the areas) would reach now, counted as a broadcast would
    select them; large areas partly from the device tally (see geo.tallies)."""
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
