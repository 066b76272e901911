"""The send-rate cap: worker processes sharing one Redis bucket together stay under it."""

import multiprocessing
import os
import time
import uuid

import pytest

from notifier.ratelimit import BURST_BLOCKS, SharedRateLimit, block_size
from tests.conftest import Service

RATE = 1_000.0
PER_PROCESS = 1_000
WINDOW_S = 0.5


def _take(redis_url: str, key: str, n: int, start_at: float) -> list[float]:
    """In a fresh process: take `n` tokens as fast as the cap allows; when each was granted."""

    limit = SharedRateLimit(redis_url, key=key, rate_per_s=RATE)
    time.sleep(max(0.0, start_at - time.time()))
    stamps = []
    for _ in range(n):
        while wait_s := limit.take():
            time.sleep(wait_s)
        stamps.append(time.time())
    limit.close()
    return stamps


def test_two_processes_together_stay_under_the_cap(broker: Service) -> None:
    redis_url = os.environ["HEXCAST_BROKER_URL"]
    key = f"test:send-rate:{uuid.uuid4()}"
    start_at = time.time() + 2.0  # both processes start taking at once, after their imports
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        per_process = pool.starmap(_take, [(redis_url, key, PER_PROCESS, start_at)] * 2)
    stamps = sorted(t for process in per_process for t in process)
    assert len(stamps) == 2 * PER_PROCESS
    block = block_size(RATE)
    # Sends in any window: the window's refill, the bucket's burst, and blocks each process
    # took just before the window began.
    most = RATE * WINDOW_S + BURST_BLOCKS * block + 2 * block
    counts = [
        sum(1 for t in stamps[i : i + int(most) + 50] if t < start + WINDOW_S)
        for i, start in enumerate(stamps)
    ]
    assert max(counts) <= most
    elapsed = stamps[-1] - stamps[0]
    assert elapsed >= (len(stamps) - BURST_BLOCKS * block) / RATE * 0.95
    assert len(stamps) / elapsed >= 0.8 * RATE, "the cap is reached, not undershot"
    assert max(process[0] for process in per_process) - start_at < WINDOW_S, "neither starves"


@pytest.mark.parametrize(
    ("rate", "block"), [(10_000, 100), (1_000_000, 100), (1_000, 10), (50, 1), (0.5, 1)]
)
def test_blocks_are_about_ten_milliseconds_of_the_rate(rate: float, block: int) -> None:
    assert block_size(rate) == block


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        SharedRateLimit("redis://127.0.0.1:1/0", key="k", rate_per_s=0)
