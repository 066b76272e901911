"""The retry policy: which FCM errors are tried again, and when."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notifier.channel import PushOutcome
from notifier.retry import QUOTA_FLOOR_S, Backoff, retry_at

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=72)
BACKOFF = Backoff(base_s=5.0, cap_s=300.0)

UNAVAILABLE = PushOutcome(error_code="UNAVAILABLE", retryable=True)
INTERNAL = PushOutcome(error_code="INTERNAL", retryable=True)
QUOTA = PushOutcome(error_code="QUOTA_EXCEEDED", retryable=True)


def _delay(
    outcome: PushOutcome,
    *,
    attempts: int = 1,
    draw: float = 0.5,
    expires_at: datetime = LATER,
    backoff: Backoff = BACKOFF,
) -> float | None:
    at = retry_at(
        outcome,
        attempts=attempts,
        now=NOW,
        expires_at=expires_at,
        backoff=backoff,
        draw=lambda: draw,
    )
    return None if at is None else (at - NOW).total_seconds()


@pytest.mark.parametrize(
    "outcome",
    [
        PushOutcome(message_id="projects/p/messages/1"),
        PushOutcome(error_code="UNREGISTERED", token_invalid=True),
        PushOutcome(error_code="SENDER_ID_MISMATCH", token_invalid=True),
        PushOutcome(error_code="INVALID_ARGUMENT"),
        PushOutcome(error_code="THIRD_PARTY_AUTH_ERROR"),
        PushOutcome(error_code="PERMISSION_DENIED"),
    ],
    ids=lambda o: o.error_code or "sent",
)
def test_a_sent_push_or_a_final_error_is_not_retried(outcome: PushOutcome) -> None:
    assert _delay(outcome) is None


@pytest.mark.parametrize("outcome", [UNAVAILABLE, INTERNAL], ids=["503", "500"])
def test_server_errors_back_off_exponentially_with_full_jitter(outcome: PushOutcome) -> None:
    assert [_delay(outcome, attempts=n, draw=0.999999) for n in (1, 2, 3, 4)] == pytest.approx(
        [5.0, 10.0, 20.0, 40.0], rel=1e-5
    )
    assert _delay(outcome, attempts=3, draw=0.0) == 0.0
    assert _delay(outcome, attempts=3, draw=0.25) == 5.0


def test_the_backoff_stops_doubling_at_the_cap() -> None:
    assert _delay(UNAVAILABLE, attempts=7, draw=0.5) == 150.0
    assert _delay(UNAVAILABLE, attempts=10_000, draw=0.5) == 150.0


def test_retry_after_is_a_floor_under_the_jitter() -> None:
    with_header = PushOutcome(error_code="UNAVAILABLE", retryable=True, retry_after_s=2.0)
    assert _delay(with_header, attempts=1, draw=0.0) == 2.0
    assert _delay(with_header, attempts=4, draw=0.5) == 20.0
    beyond_cap = PushOutcome(error_code="QUOTA_EXCEEDED", retryable=True, retry_after_s=900.0)
    assert _delay(beyond_cap, attempts=1, draw=0.5) == 900.0


def test_a_429_without_retry_after_waits_at_least_a_minute() -> None:
    assert QUOTA_FLOOR_S == 60.0
    assert _delay(QUOTA, attempts=1, draw=0.0) == 60.0
    assert _delay(QUOTA, attempts=8, draw=0.5) == 150.0
    with_header = PushOutcome(error_code="QUOTA_EXCEEDED", retryable=True, retry_after_s=2.0)
    assert _delay(with_header, attempts=1, draw=0.0) == 2.0, "the server's word is enough"


def test_no_retry_once_the_notice_would_have_expired() -> None:
    assert _delay(QUOTA, expires_at=NOW + timedelta(seconds=61)) == 60.0
    assert _delay(QUOTA, expires_at=NOW + timedelta(seconds=60)) is None
    assert _delay(UNAVAILABLE, expires_at=NOW) is None
    assert _delay(UNAVAILABLE, expires_at=NOW - timedelta(hours=1)) is None


@pytest.mark.parametrize("seconds", [10.0**12, 1e300, float(2**63)])
def test_a_retry_after_past_any_date_is_no_retry_not_an_error(seconds: float) -> None:
    """A server may ask for any finite wait; the notice has expired long before."""
    asked = PushOutcome(error_code="UNAVAILABLE", retryable=True, retry_after_s=seconds)
    assert _delay(asked) is None


@given(
    attempts=st.integers(min_value=1, max_value=10_000),
    draw=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
    retry_after=st.one_of(st.none(), st.floats(min_value=0.0, max_value=3600.0)),
    code=st.sampled_from(["QUOTA_EXCEEDED", "UNAVAILABLE", "INTERNAL"]),
    base=st.floats(min_value=0.01, max_value=60.0),
    cap=st.floats(min_value=0.01, max_value=3600.0),
)
def test_every_retry_is_later_than_now_within_the_ceiling_and_after_any_floor(
    attempts: int, draw: float, retry_after: float | None, code: str, base: float, cap: float
) -> None:
    outcome = PushOutcome(error_code=code, retryable=True, retry_after_s=retry_after)
    delay = _delay(outcome, attempts=attempts, draw=draw, backoff=Backoff(base, cap))
    assert delay is not None
    floor = retry_after if retry_after is not None else (60.0 if code == "QUOTA_EXCEEDED" else 0)
    ceiling = min(cap, base * 2 ** min(attempts - 1, 32))
    assert floor - 1e-6 <= delay <= max(floor, ceiling) + 1e-6
