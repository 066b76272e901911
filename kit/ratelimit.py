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
