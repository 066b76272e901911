"""The device tally: how many located devices each H3 cell held, per hour of `located_at`,
counted from the devices table now and then (Celery beat) rather than at every question.

A reach preview of a large area spends almost all its time counting the devices of its
inside cells one index entry at a time: 231,156 of them for 500 km round New York at
1,000,000 devices, 40-60 ms, and ten times that at 10,000,000. Summed from the tally, the
same cells cost a few thousand rows whatever the population. The price is that those
devices are counted as they were at the last tally, and the window's first, partial hour
is pro-rated; boundary cells and the parts of inside ranges no tally cell fills are still
counted device by device.

Tally cells are resolution-15 id blocks: a resolution-r cell's descendants are the ids from
its first one (`cell_lo`) through `cell_lo + 8**(15 - r) - 1`. Coarse cells fill the middle
of a large area in few rows; finer ones its edges.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from geo.regions import DEVICE_RESOLUTION, CellRange
from kit.db import int_array_text

TALLY_RESOLUTIONS: Final = (3, 5)
"""Coarse to fine. Resolution 3 (about 12,400 km2) fills the middle of a 500 km circle in a
few dozen cells; resolution 5 (about 250 km2) its edges. At 1,000,000 devices the tally
holds about 260,000 rows."""
TALLY_BUCKET: Final = timedelta(hours=1)
_BUCKET_ORIGIN: Final = datetime(2000, 1, 1, tzinfo=UTC)
REFRESH_LOCK: Final = 0x68657874616C6C79  # "hextally": one refresh at a time
MAX_WINDOW_HOURS: Final = 720
"""The longest location window a notice or a preview may use, and so what the tally covers."""


@dataclass(frozen=True, slots=True)
class TallyBlock:
    """The tally cells of one resolution whose `cell_lo` lies in [lo, hi]."""

    resolution: int
    lo: int
    hi: int


@dataclass(frozen=True, slots=True)
class TallySplit:
    """Inside ranges as tally blocks, plus the pieces no whole tally cell fills."""

    blocks: list[TallyBlock]
    leftovers: list[CellRange]


@dataclass(frozen=True, slots=True)
class TallyPolicy:
    """When a reach preview may count inside cells from the tally: if the tally was taken
    after `taken_after` (an older one means beat has stopped) and holds at least
    `min_devices` there. Smaller areas are counted device by device, so they stay exact."""

    min_devices: int
    taken_after: datetime


@dataclass(frozen=True, slots=True)
class TalliedCount:
    devices: float
    tallied_at: datetime


@dataclass(frozen=True, slots=True)
class TallyRun:
    tallied_at: datetime
    devices: int
    rows: int


def span(resolution: int) -> int:
    """How many resolution-15 ids one cell of `resolution` spans."""
    return 1 << (3 * (DEVICE_RESOLUTION - resolution))


def split_for_tallies(
    ranges: Sequence[CellRange], resolutions: Sequence[int] = TALLY_RESOLUTIONS
) -> TallySplit:
    """Cut each range into the largest whole tally cells it holds, coarse ones first, and
    what is left at its ends."""
    blocks: list[TallyBlock] = []
    leftovers: list[CellRange] = []

    def cut(lo: int, hi: int, level: int) -> None:
        if level == len(resolutions):
            leftovers.append(CellRange(lo, hi, inside=True))
            return
        size = span(resolutions[level])
        first = -(-lo // size) * size
        end = (hi + 1) // size * size
        if first >= end:
            cut(lo, hi, level + 1)
            return
        blocks.append(TallyBlock(resolutions[level], first, end - 1))
        if lo < first:
            cut(lo, first - 1, level + 1)
        if end <= hi:
            cut(end, hi, level + 1)

    for r in ranges:
        cut(r.lo, r.hi, 0)
    return TallySplit(blocks, leftovers)


def bucket_start(moment: datetime) -> datetime:
    """The start of the tally hour that holds `moment`."""
    return _BUCKET_ORIGIN + (moment - _BUCKET_ORIGIN) // TALLY_BUCKET * TALLY_BUCKET


def partial_bucket_share(since: datetime) -> float:
    """The share of the hour holding `since` that lies at or after it: that hour's devices
    are counted pro rata, as if their reports were spread evenly through it."""
    start = bucket_start(since)
    return (start + TALLY_BUCKET - since) / TALLY_BUCKET


# One index range scan per block (LATERAL): joined as sets, the planner hashes the whole
# tally against the blocks and filters millions of pairs (600 ms instead of 5 at 500 km).
_TALLIED = text(
    """
    SELECT state.tallied_at,
           CAST(coalesce(sum(cell.whole), 0) AS bigint),
           CAST(coalesce(sum(cell.partial), 0) AS bigint)
    FROM device_tally_state AS state
    LEFT JOIN (
        unnest(CAST(:resolutions AS smallint[]), CAST(:lo AS bigint[]), CAST(:hi AS bigint[]))
            AS block(resolution, lo, hi)
        CROSS JOIN LATERAL (
            SELECT sum(t.devices) FILTER (WHERE t.located_hour > :first_bucket) AS whole,
                   sum(t.devices) FILTER (WHERE t.located_hour = :first_bucket) AS partial
            FROM device_tallies AS t
            WHERE t.resolution = block.resolution AND t.cell_lo BETWEEN block.lo AND block.hi
                AND t.located_hour >= :first_bucket
        ) AS cell
    ) ON true
    GROUP BY state.tallied_at
    """
)


def tallied_count(
    session: Session, blocks: Sequence[TallyBlock], *, fresh_since: datetime
) -> TalliedCount | None:
    """The devices the tally holds in `blocks` located since `fresh_since`, and when it
    was taken; None if no tally was ever taken."""
    row = session.execute(
        _TALLIED,
        {
            "resolutions": int_array_text(b.resolution for b in blocks),
            "lo": int_array_text(b.lo for b in blocks),
            "hi": int_array_text(b.hi for b in blocks),
            "first_bucket": bucket_start(fresh_since),
        },
    ).one_or_none()
    if row is None:
        return None
    tallied_at, whole, partial = row
    return TalliedCount(
        devices=whole + partial * partial_bucket_share(fresh_since), tallied_at=tallied_at
    )


_REFRESH = text(
    """
    WITH finest AS MATERIALIZED (
        SELECT h3_cell & -CAST(:finest_span AS bigint) AS cell_lo,
               date_bin(:bucket, located_at, :origin) AS located_hour,
               count(*)::int AS devices
        FROM devices
        WHERE active AND location IS NOT NULL AND located_at >= :oldest
        GROUP BY 1, 2
    ),
    tally AS MATERIALIZED (
        SELECT CAST(:finest AS smallint) AS resolution, cell_lo, located_hour, devices
        FROM finest
        UNION ALL
        SELECT CAST(coarse.resolution AS smallint), finest.cell_lo & -coarse.span,
               finest.located_hour, sum(finest.devices)::int
        FROM finest
        CROSS JOIN unnest(CAST(:coarse AS int[]), CAST(:coarse_spans AS bigint[]))
            AS coarse(resolution, span)
        GROUP BY 1, 2, 3
    ),
    changed AS MATERIALIZED (
        SELECT resolution, cell_lo, located_hour, tally.devices
        FROM tally
        FULL JOIN device_tallies AS old USING (resolution, cell_lo, located_hour)
        WHERE tally.devices IS DISTINCT FROM old.devices
    ),
    gone AS (
        DELETE FROM device_tallies AS old
        USING changed
        WHERE changed.devices IS NULL
            AND (changed.resolution, changed.cell_lo, changed.located_hour)
                = (old.resolution, old.cell_lo, old.located_hour)
    ),
    written AS (
        INSERT INTO device_tallies (resolution, cell_lo, located_hour, devices)
        SELECT resolution, cell_lo, located_hour, devices FROM changed
        WHERE devices IS NOT NULL
        ORDER BY resolution, cell_lo, located_hour
        ON CONFLICT (resolution, cell_lo, located_hour) DO UPDATE SET devices = excluded.devices
    )
    SELECT coalesce(sum(devices), 0), count(*) FROM finest
    """
)


def last_tallied_at(session: Session) -> datetime | None:
    """When the tally was last taken; None if never."""
    return session.scalar(text("SELECT tallied_at FROM device_tally_state"))


_STAMP = text(
    "INSERT INTO device_tally_state (tallied_at) VALUES (:now) "
    "ON CONFLICT (singleton) DO UPDATE SET tallied_at = excluded.tallied_at"
)


def refresh_tallies(
    session: Session, *, now: datetime, window: timedelta = timedelta(hours=MAX_WINDOW_HOURS)
) -> TallyRun | None:
    """Count the devices located within `window` of `now` into the tally, writing only the
    rows that changed; None if another refresh holds the tally."""
    if not session.scalar(select(func.pg_try_advisory_xact_lock(REFRESH_LOCK))):
        return None
    finest = max(TALLY_RESOLUTIONS)
    coarse = [r for r in TALLY_RESOLUTIONS if r != finest]
    devices, finest_rows = session.execute(
        _REFRESH,
        {
            "finest": finest,
            "finest_span": span(finest),
            "coarse": int_array_text(coarse),
            "coarse_spans": int_array_text(span(r) for r in coarse),
            "bucket": TALLY_BUCKET,
            "origin": _BUCKET_ORIGIN,
            "oldest": bucket_start(now - window),
        },
    ).one()
    session.execute(_STAMP, {"now": now})
    return TallyRun(tallied_at=now, devices=int(devices), rows=int(finest_rows))
