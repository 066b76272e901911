"""Recipient selection in PostGIS: range scans over the devices' H3 ids, with an exact
great-circle check only for devices in boundary cells."""

from collections.abc import Sequence
from datetime import datetime

from geoalchemy2 import Geography
from sqlalchemy import BigInteger, Boolean, Float, Select, cast, func, literal, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from geo.regions import CellRange, Circle, cover_circle
from kit.models import Device


def point(lat: float, lon: float):  # type: ignore[no-untyped-def]
    """A PostGIS geography point (lon, lat order, SRID 4326)."""
    return cast(
        func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326),
        Geography(geometry_type="POINT", srid=4326),
    )


def select_recipients(
    circle: Circle, ranges: Sequence[CellRange], *, fresh_since: datetime
) -> Select:  # type: ignore[type-arg]
    """Active devices with a location newer than `fresh_since` inside `circle`, restricted to
    `ranges` (a cover of the circle, or one chunk of it). Yields (device id, token, locale).

    The distance check runs on the sphere, the same model H3 and the cover use.
    """
    scan = _cover(ranges)
    return (
        select(Device.id, Device.fcm_token, Device.locale)
        .select_from(scan)
        .join(Device, Device.h3_cell.between(scan.c.lo, scan.c.hi))
        .where(
            Device.active,
            Device.located_at >= fresh_since,
            or_(
                scan.c.inside,
                func.ST_DWithin(
                    Device.location,
                    point(circle.lat, circle.lon),
                    literal(circle.radius_m, Float),
                    False,
                ),
            ),
        )
    )


def count_recipients(session: Session, circle: Circle, *, fresh_since: datetime) -> int:
    """How many devices a broadcast to `circle` would reach now, without sending.

    Devices in inside ranges need no geometry, so they are counted from the narrow
    (h3_cell, located_at) index, whose entries are an eighth the size of the covering
    index's; only boundary ranges go through selection and its distance check."""
    ranges = cover_circle(circle)
    inside = _cover([r for r in ranges if r.inside])
    in_inside = (
        select(func.count())
        .select_from(inside)
        .join(Device, Device.h3_cell.between(inside.c.lo, inside.c.hi))
        # Redundant with h3_cell, but the narrow index's predicate: see kit.models.Device.
        .where(Device.active, Device.location.is_not(None), Device.located_at >= fresh_since)
    )
    boundary = select_recipients(
        circle, [r for r in ranges if not r.inside], fresh_since=fresh_since
    ).subquery()
    in_boundary = select(func.count()).select_from(boundary)
    return session.scalar(select(in_inside.scalar_subquery() + in_boundary.scalar_subquery())) or 0


def _cover(ranges: Sequence[CellRange]):  # type: ignore[no-untyped-def]
    """The ranges as a table (lo, hi, inside), one row each."""
    return (
        func.unnest(
            literal([r.lo for r in ranges], ARRAY(BigInteger)),
            literal([r.hi for r in ranges], ARRAY(BigInteger)),
            literal([r.inside for r in ranges], ARRAY(Boolean)),
        )
        .table_valued("lo", "hi", "inside", name="cover")
        .render_derived()
    )
