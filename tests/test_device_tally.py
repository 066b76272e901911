"""The device tally in PostgreSQL: hours are UTC hours in the database as in Python, whatever
the session's time zone, and one refresh runs at a time."""

from datetime import UTC, datetime, timedelta

import h3
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from geo.regions import cell_range
from geo.tallies import REFRESH_LOCK, refresh_tallies, split_for_tallies, tallied_count
from kit.db import get_sessionmaker, session_scope
from tests.helpers import place_devices

SYDNEY = (-33.8688, 151.2093)
NOW = datetime(2026, 11, 23, 12, 40, tzinfo=UTC)
WINDOW = timedelta(hours=720)


@pytest.mark.usefixtures("clean_db")
def test_the_preview_reads_the_hours_the_refresh_wrote_in_any_session_time_zone() -> None:
    for prefix, count, at in [("a", 3, "11:50"), ("b", 2, "11:10"), ("c", 4, "10:59")]:
        hour, minute = map(int, at.split(":"))
        located_at = NOW.replace(hour=hour, minute=minute)
        place_devices(count, *SYDNEY, prefix=prefix, located_at=located_at)
    blocks = split_for_tallies([cell_range(h3.latlng_to_cell(*SYDNEY, 3), inside=True)]).blocks

    with session_scope() as session:
        # Half an hour off UTC: bucketing by the session's local hours would show.
        session.execute(text("SET LOCAL TIME ZONE 'Asia/Kolkata'"))
        run = refresh_tallies(session, now=NOW, window=WINDOW)
    assert run is not None and run.devices == 9

    with session_scope() as session:
        session.execute(text("SET LOCAL TIME ZONE 'America/St_Johns'"))

        def tallied(since: str) -> float:
            hour, minute = map(int, since.split(":"))
            count = tallied_count(
                session, blocks, fresh_since=NOW.replace(hour=hour, minute=minute)
            )
            assert count is not None and count.tallied_at == NOW
            return count.devices

        assert tallied("11:00") == 5, "the 11:00-12:00 hour, all of it in the window"
        assert tallied("10:30") == 5 + 4 * 0.5, "the 10:00 hour counts for its half after 10:30"
        assert tallied("11:45") == 5 * 0.25, "within the first hour, pro rata"
        assert tallied("12:00") == 0


@pytest.mark.usefixtures("clean_db")
def test_a_refresh_while_another_runs_is_skipped_not_doubled() -> None:
    """The suite's beat refreshes the tally every second, so `first` waits for the lock
    rather than trying it: from then on it is the refresh that runs, and nothing else can
    write the tally until it ends."""
    place_devices(3, *SYDNEY, prefix="lock", located_at=NOW - timedelta(minutes=5))

    def tallied(session: Session) -> dict[int, int]:
        rows = session.execute(
            text("SELECT resolution, sum(devices) FROM device_tallies GROUP BY resolution")
        )
        return {resolution: int(devices) for resolution, devices in rows}

    with get_sessionmaker()() as first, get_sessionmaker()() as second:
        first.execute(select(func.pg_advisory_xact_lock(REFRESH_LOCK)))
        assert refresh_tallies(first, now=NOW, window=WINDOW) is not None
        assert refresh_tallies(second, now=NOW, window=WINDOW) is None
        second.rollback()
        assert tallied(first) == {3: 3, 5: 3}, "the one refresh's rows, once"
