"""`python -m bench.selection`: hexcast's recipient selection against the naive PostGIS query.

For each radius around a big city it times, as the median of `--runs` runs:
- hexcast: cover_circle + select_recipients, every (id, token, locale) streamed to Python;
- naive: one ST_DWithin (spheroid) over the GiST index, streamed the same way;
- the floor: the same recipients streamed from a table that holds only them, the same way:
  what sending and decoding the rows costs when finding them costs nothing, so naive/floor
  is the most any selection could show against the naive query in that run;
- the reach preview: count_recipients as the API calls it, with the device tally taken before
  each radius as beat takes it every minute (large areas count their middle from it);
and checks hexcast's recipients against a brute-force great-circle selection in numpy.

It works in its own database (hexcast_bench unless `--database` names another), dropped
afterwards unless `--keep` is given; a kept database that already holds the same population
(device count, layout, seed) is reused instead of reloaded.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import psycopg
from psycopg import sql
from sqlalchemy import ClauseElement, Engine, text
from sqlalchemy.orm import Session

from bench import RESULTS_DIR, ROOT, population
from geo.regions import CellRange, Circle, Region, cover_circle
from geo.selection import count_recipients, select_recipients
from geo.tallies import TallyPolicy
from kit.config import Settings
from kit.models import Device

BENCH_DB = "hexcast_bench"
PG_PORT = int(os.environ.get("HEXCAST_PG_PORT", "54329"))
LIBPQ_URL = f"postgresql://hexcast@127.0.0.1:{PG_PORT}"
# Rows per chunk: a 2,000-row result (about 400 KB) stays in cache while Python decodes it;
# 10,000-row chunks cost both paths about 15 % more client CPU.
STREAM_BATCH = 2_000
SEED = 20_261_123
T = TypeVar("T")

NAIVE = text(
    "SELECT id, fcm_token, locale FROM devices WHERE active AND located_at >= :since "
    "AND ST_DWithin(location, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, :radius)"
)
FLOOR_TABLE = "bench_floor"
FLOOR = text(f"SELECT id, fcm_token, locale FROM {FLOOR_TABLE}")


@dataclass(frozen=True, slots=True)
class Row:
    radius_km: float
    recipients: int
    hexcast_ms: float
    naive_ms: float
    ratio: float
    ratio_low: float
    ratio_high: float
    floor_ms: float
    ceiling: float
    hexcast_db_ms: float
    naive_db_ms: float
    recall: float
    overshoot_m: float
    preview_ms: float
    preview_devices: int
    preview_tallied: bool
    cover_ms: float
    ranges: int
    naive_recipients: int


COLUMNS: tuple[tuple[str, Callable[[Row], str]], ...] = (
    ("radius km", lambda r: f"{r.radius_km:g}"),
    ("recipients", lambda r: f"{r.recipients:,}"),
    ("hexcast ms", lambda r: f"{r.hexcast_ms:.1f}"),
    ("naive ms", lambda r: f"{r.naive_ms:.1f}"),
    ("naive/hexcast", lambda r: f"{r.ratio:.2f}"),
    ("per run", lambda r: f"{r.ratio_low:.2f}–{r.ratio_high:.2f}"),
    ("floor ms", lambda r: f"{r.floor_ms:.1f}"),
    ("naive/floor", lambda r: f"{r.ceiling:.2f}"),
    ("hexcast db ms", lambda r: f"{r.hexcast_db_ms:.1f}"),
    ("naive db ms", lambda r: f"{r.naive_db_ms:.1f}"),
    ("recall", lambda r: f"{r.recall:.4%}"),
    ("worst overshoot m", lambda r: f"{r.overshoot_m:.1f}"),
    ("preview ms", lambda r: f"{r.preview_ms:.1f}"),
    ("preview devices", lambda r: f"{r.preview_devices:,}{' (tally)' * r.preview_tallied}"),
    ("cover ms", lambda r: f"{r.cover_ms:.1f}"),
    ("ranges", lambda r: f"{r.ranges:,}"),
)


def _recipients(region: Region, ranges: Sequence[CellRange], since: datetime) -> Any:
    """What a sending worker needs of each recipient, as every side streams it."""
    return select_recipients(
        region, ranges, columns=[Device.id, Device.fcm_token, Device.locale], fresh_since=since
    )


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse(argv)
    # Before anything reads hexcast's settings (they are cached): alembic, the engine and the
    # sessions all work on the bench database, never on a real one.
    os.environ["HEXCAST_DATABASE_URL"] = (
        f"postgresql+psycopg://hexcast@127.0.0.1:{PG_PORT}/{args.database}"
    )
    from kit.config import get_settings
    from kit.db import get_engine

    _create_database(args.database)
    _migrate()
    engine = get_engine()
    assert engine.url.database == args.database
    dsn = f"{LIBPQ_URL}/{args.database}"
    now = datetime.now(UTC)
    layout = population.Layout(args.country if args.layout == "national" else None)
    wanted = population.signature(args.devices, layout, args.seed)
    reused = population.loaded_signature(dsn) == wanted
    load_s = None
    if reused:
        _log(f"reusing the {args.devices:,} devices already loaded ({layout.describe()})")
    else:
        load_s = round(
            population.load(dsn, args.devices, layout=layout, seed=args.seed, now=now), 1
        )
    since = now - timedelta(hours=get_settings().location_freshness_hours)
    fresh = population.fetch_fresh(dsn, since)
    lat, lon = args.centre or _largest_city(layout)
    distances = population.haversine_m(lat, lon, fresh.lat, fresh.lon)
    rows = []
    tally_s = []
    for km in args.radii:
        # Beat takes the tally every minute; a 10,000,000-device run outlasts one.
        seconds, tally = _tally(get_settings())
        tally_s.append(seconds)
        rows.append(
            _measure(
                engine, fresh, distances, Circle(lat, lon, km * 1000.0), since, tally, args.runs
            )
        )
    context = {
        "devices": args.devices,
        "fresh_devices": len(fresh.ids),
        "layout": layout.describe(),
        "centre": [lat, lon],
        "runs": args.runs,
        "reused_load": reused,
        "load_s": load_s,
        "tally_s": statistics.median(tally_s),
        "postgres": _server_version(dsn),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "at": now.isoformat(timespec="seconds"),
    }
    engine.dispose()
    if not args.keep:
        _drop_database(args.database)
    print(_table(rows))
    path = _write(rows, context, now)
    _log(f"wrote {path}")
    if args.json:
        print(json.dumps([asdict(r) for r in rows]))


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.selection", description=__doc__)
    parser.add_argument("--devices", type=int, required=True, help="synthetic devices to load")
    parser.add_argument(
        "--radii", type=_floats, default=[1.0, 10.0, 50.0, 200.0, 500.0], help="km, e.g. 1,10,50"
    )
    parser.add_argument("--runs", type=int, default=5, help="timed runs per radius (median)")
    parser.add_argument(
        "--layout",
        choices=("national", "world"),
        default="national",
        help="devices mostly in one country (default), or spread over the world's cities",
    )
    parser.add_argument(
        "--country",
        default=population.DEFAULT_COUNTRY,
        help=f"ISO code of the national layout's country (default {population.DEFAULT_COUNTRY})",
    )
    parser.add_argument(
        "--centre",
        type=_floats,
        help="lat,lon; default: the most populous city of the layout's country, or the world's",
    )
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--database",
        default=BENCH_DB,
        help=f"database to work in (default {BENCH_DB}); kept ones hold one population each",
    )
    parser.add_argument("--json", action="store_true", help="print the rows as JSON, last")
    parser.add_argument(
        "--keep", action="store_true", help="keep the database (and its devices) for reuse"
    )
    return parser.parse_args(argv)


def _floats(value: str) -> list[float]:
    return [float(v) for v in value.split(",")]


def _largest_city(layout: population.Layout) -> tuple[float, float]:
    city = population.cities(layout.country)[0]
    _log(f"centre: {city.name} ({city.lat}, {city.lon})")
    return city.lat, city.lon


def _measure(
    engine: Engine,
    fresh: population.Fresh,
    distances: np.ndarray,
    circle: Circle,
    since: datetime,
    tally: TallyPolicy,
    runs: int,
) -> Row:
    """Check hexcast's selection once against the truth, then time each path `runs` times,
    interleaved so that load from elsewhere on the machine hits them alike."""
    region = (circle,)
    ranges = cover_circle(circle)
    selected = np.array(
        [
            i.bytes
            for i in _stream(
                engine,
                _recipients(region, ranges, since),
                None,
                _ids,
            )
        ],
        dtype=fresh.ids.dtype,
    )
    chosen = np.isin(fresh.ids, selected)
    assert chosen.sum() == len(selected), "hexcast selected a device that is not fresh"
    truth = distances <= circle.radius_m
    overshoot = distances[chosen & ~truth] - circle.radius_m
    naive_params = {
        "since": since,
        "lat": circle.lat,
        "lon": circle.lon,
        "radius": circle.radius_m,
    }
    cover_ms: list[float] = []
    hexcast_ms: list[float] = []
    naive_ms: list[float] = []
    floor_ms: list[float] = []
    preview_ms: list[float] = []
    hexcast_db_ms: list[float] = []
    naive_db_ms: list[float] = []
    naive = 0
    with _floor_table(engine, _recipients(region, ranges, since)):
        for _ in range(runs):
            started = time.perf_counter()
            run_ranges = cover_circle(circle)
            cover_ms.append(_ms_since(started))
            streamed = _stream(
                engine,
                _recipients(region, run_ranges, since),
                None,
                _count,
            )
            hexcast_ms.append(_ms_since(started))
            assert streamed == len(selected), "a timed run streamed a different selection"
            started = time.perf_counter()
            naive = _stream(engine, NAIVE, naive_params, _count)
            naive_ms.append(_ms_since(started))
            started = time.perf_counter()
            floored = _stream(engine, FLOOR, None, _count)
            floor_ms.append(_ms_since(started))
            assert floored == len(selected), "the floor streamed a different number of rows"
            with Session(engine) as session:
                started = time.perf_counter()
                count = count_recipients(session, region, fresh_since=since, tally=tally)
                preview_ms.append(_ms_since(started))
            if count.tallied_at is None:
                assert count.devices == len(selected), "the preview disagrees with the selection"
            hexcast_db_ms.append(
                _db_ms(
                    engine,
                    _recipients(region, run_ranges, since),
                    None,
                )
            )
            naive_db_ms.append(_db_ms(engine, NAIVE, naive_params))
    ratios = [n / h for n, h in zip(naive_ms, hexcast_ms, strict=True)]
    row = Row(
        radius_km=circle.radius_m / 1000.0,
        recipients=len(selected),
        hexcast_ms=statistics.median(hexcast_ms),
        naive_ms=statistics.median(naive_ms),
        ratio=statistics.median(naive_ms) / statistics.median(hexcast_ms),
        ratio_low=min(ratios),
        ratio_high=max(ratios),
        floor_ms=statistics.median(floor_ms),
        ceiling=statistics.median(naive_ms) / statistics.median(floor_ms),
        hexcast_db_ms=statistics.median(hexcast_db_ms),
        naive_db_ms=statistics.median(naive_db_ms),
        recall=float((chosen & truth).sum() / truth.sum()) if truth.any() else 1.0,
        overshoot_m=float(overshoot.max()) if overshoot.size else 0.0,
        preview_ms=statistics.median(preview_ms),
        preview_devices=count.devices,
        preview_tallied=count.tallied_at is not None,
        cover_ms=statistics.median(cover_ms),
        ranges=len(ranges),
        naive_recipients=naive,
    )
    _log(
        f"{row.radius_km:g} km: {row.recipients:,} recipients, hexcast {row.hexcast_ms:.1f} ms, "
        f"naive {row.naive_ms:.1f} ms, floor {row.floor_ms:.1f} ms, "
        f"preview {row.preview_ms:.1f} ms"
    )
    return row


def _tally(settings: Settings) -> tuple[float, TallyPolicy]:
    """Take the device tally, as beat does every minute, and the policy the API reads it by."""
    from geo.tallies import refresh_tallies
    from kit.db import session_scope

    started = time.perf_counter()
    with session_scope() as session:
        refresh_tallies(session, now=datetime.now(UTC))
    tally_s = time.perf_counter() - started
    _log(f"device tally taken in {tally_s:.2f} s")
    return round(tally_s, 2), TallyPolicy(
        min_devices=settings.reach_tally_min_devices,
        taken_after=datetime.now(UTC) - timedelta(seconds=settings.reach_tally_max_age_seconds),
    )


def _stream(
    engine: Engine,
    statement: ClauseElement,
    params: dict[str, Any] | None,
    consume: Callable[[Iterator[tuple[Any, ...]]], T],
) -> T:
    """Stream every row to Python and hand the rows to `consume`.

    psycopg directly rather than SQLAlchemy rows: per-row ORM overhead would be the same for
    both queries and only blur the comparison of what the database does. Chunked streaming
    (no server-side cursor, so the naive query keeps its parallel plan) in binary format:
    sending a uuid as 16 bytes instead of formatting and parsing 36 characters is cheaper at
    both ends, for both queries alike."""
    query, bound = _compiled(engine, statement, params)
    with _driver(engine) as driver, driver.cursor(binary=True) as cursor:
        return consume(cursor.stream(query, bound, size=STREAM_BATCH))


@contextmanager
def _floor_table(engine: Engine, recipients: ClauseElement) -> Iterator[None]:
    """The recipients (id, token, locale) in a table of their own while the floor is timed:
    streaming them from it costs the server a sequential scan and nothing else."""
    query, bound = _compiled(engine, recipients, None)
    with _driver(engine) as driver:
        driver.execute(f"DROP TABLE IF EXISTS {FLOOR_TABLE}")
        driver.execute(f"CREATE UNLOGGED TABLE {FLOOR_TABLE} AS {query}", bound)
        driver.commit()
    try:
        yield
    finally:
        with _driver(engine) as driver:
            driver.execute(f"DROP TABLE {FLOOR_TABLE}")
            driver.commit()


def _db_ms(engine: Engine, statement: ClauseElement, params: dict[str, Any] | None) -> float:
    """The statement's execution time inside the server, without sending rows: `EXPLAIN
    ANALYZE` without per-node timing, whose overhead would swamp cheap nodes."""
    query, bound = _compiled(engine, statement, params)
    with _driver(engine) as driver:
        row = driver.execute(
            "EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) " + query, bound
        ).fetchone()
    assert row is not None
    return float(row[0][0]["Execution Time"])


def _compiled(
    engine: Engine, statement: ClauseElement, params: dict[str, Any] | None
) -> tuple[str, dict[str, Any]]:
    compiled = statement.compile(dialect=engine.dialect)
    return str(compiled), {**compiled.params, **(params or {})}


@contextmanager
def _driver(engine: Engine) -> Iterator[psycopg.Connection[Any]]:
    """A pooled connection's psycopg connection, rolled back after use."""
    connection = engine.raw_connection()
    try:
        driver = connection.driver_connection
        assert isinstance(driver, psycopg.Connection)
        yield driver
        driver.rollback()
    finally:
        connection.close()


def _ids(rows: Iterator[tuple[Any, ...]]) -> list[uuid.UUID]:
    return [row[0] for row in rows]


def _count(rows: Iterator[tuple[Any, ...]]) -> int:
    """Consume the rows one by one, as a sender does, without keeping them all alive: holding
    hundreds of thousands of objects makes Python's garbage collector, not the database, the
    cost measured."""
    return sum(1 for _ in rows)


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


def _table(rows: Sequence[Row]) -> str:
    """A markdown table of the rows."""
    lines = [
        "| " + " | ".join(title for title, _ in COLUMNS) + " |",
        "|" + "|".join("---:" for _ in COLUMNS) + "|",
    ]
    lines += ["| " + " | ".join(cell(r) for _, cell in COLUMNS) + " |" for r in rows]
    return "\n".join(lines)


def _write(rows: Sequence[Row], context: dict[str, Any], now: datetime) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"selection-{context['devices']}-{now:%Y%m%dT%H%M%SZ}.md"
    path.write_text(
        f"# Selection benchmark, {context['devices']:,} devices\n\n"
        f"Median of {context['runs']} runs; {context['layout']} layout; "
        f"centre {context['centre']}; "
        f"{context['fresh_devices']:,} fresh devices; `python -m bench.selection "
        f"{' '.join(sys.argv[1:])}`.\n\n"
        f"{_table(rows)}\n\n"
        "```json\n"
        + json.dumps({"context": context, "rows": [asdict(r) for r in rows]}, indent=2)
        + "\n```\n"
    )
    return path


def _create_database(name: str) -> None:
    with psycopg.connect(f"{LIBPQ_URL}/postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _drop_database(name: str) -> None:
    with psycopg.connect(f"{LIBPQ_URL}/postgres", autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
    _log(f"dropped {name} (use --keep to reuse its devices next time)")


def _migrate() -> None:
    from alembic import command
    from alembic.config import Config

    command.upgrade(Config(str(ROOT / "alembic.ini")), "head")


def _server_version(dsn: str) -> str:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT version(), postgis_lib_version()").fetchone()
    assert row is not None
    return f"{row[0].split(' on ')[0]}, PostGIS {row[1]}"


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
