"""Recipient selection in PostGIS: range scans over the devices' H3 ids, with an exact check
only for devices in boundary cells: great-circle distance for circles, point-in-polygon in
longitude/latitude for GeoJSON polygons."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from geoalchemy2 import Geography
from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    Text,
    cast,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session

from geo.regions import Area, CellRange, Circle, Region, cover_region
from geo.tallies import TallyPolicy, split_for_tallies, tallied_count
from kit.db import bigint_array, bool_array
from kit.models import Device


def point(lat: float, lon: float):  # type: ignore[no-untyped-def]
    """A PostGIS geography point (lon, lat order, SRID 4326)."""
    return cast(
        func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326),
        Geography(geometry_type="POINT", srid=4326),
    )


def _holds(area: Area) -> ColumnElement[bool]:
    """Whether the device's location lies in `area`: circles on the sphere (the model H3 and
    the cover use), polygons in the longitude/latitude plane (GeoJSON's model)."""
    if isinstance(area, Circle):
        return func.ST_DWithin(
            Device.location, point(area.lat, area.lon), literal(area.radius_m, Float), False
        )
    return func.ST_Covers(
        func.ST_SetSRID(func.ST_GeomFromGeoJSON(literal(area.geojson, Text)), 4326),
        func.geometry(Device.location),
    )


def select_recipients(
    region: Region,
    ranges: Sequence[CellRange],
    *,
    columns: Sequence[Any],
    fresh_since: datetime,
    test_devices_only: bool = False,
) -> Select:  # type: ignore[type-arg]
    """`columns` of the active devices with a location newer than `fresh_since` inside
    `region`, restricted to `ranges` (a cover of the region, or one chunk of it), and to test
    devices if asked (Test and Exercise notices). The caller names the columns: geo selects
    places, whatever a device is reached by.
    """
    scan = _cover(ranges)
    recipients = (
        select(*columns)
        .select_from(scan)
        .join(Device, Device.h3_cell.between(scan.c.lo, scan.c.hi))
        .where(
            Device.active,
            Device.located_at >= fresh_since,
            or_(scan.c.inside, *(_holds(area) for area in region)),
        )
    )
    return recipients.where(Device.test_device) if test_devices_only else recipients


@dataclass(frozen=True, slots=True)
class ReachCount:
    """`tallied_at` is set when the area's inside cells were counted from the device tally
    taken then, not device by device (see geo.tallies)."""

    devices: int
    tallied_at: datetime | None = None


def count_recipients(
    session: Session,
    region: Region,
    *,
    fresh_since: datetime,
    test_devices_only: bool = False,
    tally: TallyPolicy | None = None,
) -> ReachCount:
    """How many devices a broadcast to `region` would reach now, without sending.

    Inside ranges need no geometry: their devices are counted from the narrow (h3_cell,
    located_at) index, or, for a large area when `tally` allows it, from the device tally.
    Boundary ranges always go through selection and its exact check."""
    ranges = cover_region(region)
    inside = [r for r in ranges if r.inside]
    boundary = [r for r in ranges if not r.inside]
    if tally is not None and not test_devices_only:
        split = split_for_tallies(inside)
        tallied = (
            tallied_count(session, split.blocks, fresh_since=fresh_since) if split.blocks else None
        )
        if (
            tallied is not None
            and tallied.tallied_at > tally.taken_after
            and tallied.devices >= tally.min_devices
        ):
            rest = _count(session, region, split.leftovers, boundary, fresh_since, False)
            return ReachCount(round(tallied.devices) + rest, tallied.tallied_at)
    return ReachCount(_count(session, region, inside, boundary, fresh_since, test_devices_only))


def _count(
    session: Session,
    region: Region,
    inside_ranges: Sequence[CellRange],
    boundary_ranges: Sequence[CellRange],
    fresh_since: datetime,
    test_devices_only: bool,
) -> int:
    """Devices in `inside_ranges` counted from the narrow index, whose entries are an eighth
    the size of the covering index's, plus those of `boundary_ranges` that `region` holds."""
    inside = _cover(inside_ranges)
    in_inside = (
        select(func.count())
        .select_from(inside)
        .join(Device, Device.h3_cell.between(inside.c.lo, inside.c.hi))
        # Redundant with h3_cell, but the narrow index's predicate: see kit.models.Device.
        .where(Device.active, Device.location.is_not(None), Device.located_at >= fresh_since)
    )
    if test_devices_only:
        in_inside = in_inside.where(Device.test_device)
    boundary = select_recipients(
        region,
        boundary_ranges,
        columns=[Device.id],
        fresh_since=fresh_since,
        test_devices_only=test_devices_only,
    ).subquery()
    in_boundary = select(func.count()).select_from(boundary)
    return session.scalar(select(in_inside.scalar_subquery() + in_boundary.scalar_subquery())) or 0


def _cover(ranges: Sequence[CellRange]):  # type: ignore[no-untyped-def]
    """The ranges as a table (lo, hi, inside), one row each."""
    return (
        func.unnest(
            bigint_array(r.lo for r in ranges),
            bigint_array(r.hi for r in ranges),
            bool_array(r.inside for r in ranges),
        )
        .table_valued("lo", "hi", "inside", name="cover")
        .render_derived()
    )
