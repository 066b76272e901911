"""When to send a push again after an FCM error, as FCM asks senders to retry.

QUOTA_EXCEEDED (429), UNAVAILABLE (503) and INTERNAL (500) are retried with exponential
backoff and full jitter, so the retries of a failed batch spread out instead of returning
together; a server's Retry-After is a floor, and a 429 without one waits at least a minute.
Retries go on until the notice expires; every other error is final.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from notifier.channel import PushOutcome

QUOTA_EXCEEDED = "QUOTA_EXCEEDED"
QUOTA_FLOOR_S = 60.0
# 2**32 times any sensible base is far past any cap; a larger exponent would only overflow.
_MAX_DOUBLINGS = 32


@dataclass(frozen=True, slots=True)
class Backoff:
    base_s: float  # the longest delay before the first retry
    cap_s: float  # the longest delay the doubling reaches


def retry_at(
    outcome: PushOutcome,
    *,
    attempts: int,
    now: datetime,
    expires_at: datetime,
    backoff: Backoff,
    draw: Callable[[], float],
) -> datetime | None:
    """When to try again after `outcome` of a push tried `attempts` times (1 for the first
    try); None when not to: the push went out, its error is final, or the notice would have
    expired by then. `draw` returns a uniform number in [0, 1): the jitter."""
    if outcome.ok or not outcome.retryable:
        return None
    doublings = min(max(attempts - 1, 0), _MAX_DOUBLINGS)
    delay = min(backoff.cap_s, backoff.base_s * 2**doublings) * draw()
    if outcome.retry_after_s is not None:
        delay = max(delay, outcome.retry_after_s)
    elif outcome.error_code == QUOTA_EXCEEDED:
        delay = max(delay, QUOTA_FLOOR_S)
    # Compared as seconds: a server may ask for 1e300 s, past any datetime.
    if delay >= (expires_at - now).total_seconds():
        return None
    return now + timedelta(seconds=delay)
