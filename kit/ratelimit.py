"""Sliding-window rate limits counted from stored rows: the rows are the counter, so every API
process sees the same count without another store."""

import math
from collections.abc import Sequence
from datetime import datetime, timedelta


def seconds_until_allowed(
    newest_first: Sequence[datetime], *, limit: int, window: timedelta, now: datetime
) -> int | None:
    """None while fewer than `limit` of the times (newest first) fall in the window ending
    `now`; otherwise the whole seconds until the `limit`-th newest leaves it (at least 1),
    for Retry-After."""
    in_window = [moment for moment in newest_first if moment > now - window]
    if len(in_window) < limit:
        return None
    return max(1, math.ceil((in_window[limit - 1] + window - now).total_seconds()))


def progressive_wait(
    newest_first: Sequence[datetime],
    *,
    free: int,
    window: timedelta,
    now: datetime,
    first_delay: timedelta = timedelta(seconds=1),
) -> int | None:
    """None while fewer than `free` of the times (newest first) fall in the window ending
    `now`; after that each one more doubles the delay that must pass after the newest
    (`first_delay`, twice that, ... at most `window`), and this returns the whole seconds
    still to wait (at least 1), or None once the delay has passed."""
    in_window = [moment for moment in newest_first if moment > now - window]
    if len(in_window) < free:
        return None
    doublings = min(len(in_window) - free, 32)
    delay = min(first_delay * 2**doublings, window)
    remaining = (in_window[0] + delay - now).total_seconds()
    return max(1, math.ceil(remaining)) if remaining > 0 else None
