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
    circle: Circle,
    ranges: Sequence[CellRange],
    *,
    fresh_since: datetime,
    test_devices_only: bool = False,
) -> Select:  # type: ignore[type-arg]
    """Active devices with a location newer than `fresh_since` inside `circle`, restricted to
    `ranges` (a cover of the circle, or one chunk of it), and to test devices if asked (Test
    and Exercise notices). Yields (device id, token, locale).

    The distance check runs on the sphere, the same model H3 and the cover use.
    """
    scan = (
        func.unnest(
            literal([r.lo for r in ranges], ARRAY(BigInteger)),
            literal([r.hi for r in ranges], ARRAY(BigInteger)),
            literal([r.inside for r in ranges], ARRAY(Boolean)),
        )
        .table_valued("lo", "hi", "inside", name="cover")
        .render_derived()
    )
    recipients = (
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
    return recipients.where(Device.test_device) if test_devices_only else recipients


def count_recipients(
    session: Session, circle: Circle, *, fresh_since: datetime, test_devices_only: bool = False
) -> int:
    """How many devices a broadcast to `circle` would reach now, without sending."""
    recipients = select_recipients(
        circle, cover_circle(circle), fresh_since=fresh_since, test_devices_only=test_devices_only
    )
    return session.scalar(select(func.count()).select_from(recipients.subquery())) or 0
