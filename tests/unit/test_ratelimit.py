"""The sliding window that rate-limits sightings, as a pure function of stored times."""

from datetime import UTC, datetime, timedelta

from kit.ratelimit import seconds_until_allowed

HOUR = timedelta(hours=1)
NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)


def test_under_the_limit_nothing_waits() -> None:
    times = [NOW - timedelta(minutes=m) for m in (1, 2)]
    assert seconds_until_allowed(times, limit=3, window=HOUR, now=NOW) is None
    assert seconds_until_allowed([], limit=1, window=HOUR, now=NOW) is None


def test_at_the_limit_the_wait_lasts_until_the_oldest_counted_leaves_the_window() -> None:
    times = [NOW - timedelta(minutes=m) for m in (1, 10, 20)]
    assert seconds_until_allowed(times, limit=3, window=HOUR, now=NOW) == 40 * 60
    assert seconds_until_allowed(times, limit=2, window=HOUR, now=NOW) == 50 * 60


def test_times_outside_the_window_do_not_count() -> None:
    times = [NOW - timedelta(minutes=1), NOW - timedelta(minutes=61)]
    assert seconds_until_allowed(times, limit=2, window=HOUR, now=NOW) is None


def test_the_wait_is_at_least_one_second() -> None:
    times = [NOW - HOUR + timedelta(milliseconds=10)]
    assert seconds_until_allowed(times, limit=1, window=HOUR, now=NOW) == 1


def test_progressive_wait_doubles_after_the_free_attempts() -> None:
    from kit.ratelimit import progressive_wait

    now = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
    window = timedelta(minutes=15)

    def wait(count: int, newest_age_s: float = 0) -> int | None:
        times = [now - timedelta(seconds=newest_age_s + i) for i in range(count)]
        return progressive_wait(times, free=3, window=window, now=now)

    assert [wait(n) for n in range(6)] == [None, None, None, 1, 2, 4]
    assert wait(5, newest_age_s=1.5) == 3
    assert wait(5, newest_age_s=4) is None
    assert wait(40) == 15 * 60, "never longer than the window"
    old = [now - window - timedelta(seconds=i + 1) for i in range(10)]
    assert progressive_wait(old, free=3, window=window, now=now) is None
