"""HTTP details both outbound clients share: FCM sends and agency webhooks."""

import email.utils
import math
from datetime import UTC, datetime


def retry_after_seconds(value: str | None, *, now: datetime) -> float | None:
    """Seconds to wait from an HTTP Retry-After header (delay-seconds or an HTTP date), None if
    there is none or it cannot be read; a date in the past means no wait."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - now).total_seconds())
    return seconds if math.isfinite(seconds) and seconds >= 0 else None
