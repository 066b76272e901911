"""One send-rate cap for every worker process: a token bucket in Redis.

FCM's quota is per project (by default 600,000 messages a minute, 10,000 a second), however
many workers send. Each process takes tokens from the shared bucket in blocks of about 10 ms
of quota, one Lua call a block, so the cap costs no round trip per message; tokens a process
holds but does not use soon are dropped, so a block taken long ago cannot add to a burst.
"""

import asyncio
import time
from typing import Final

import redis.asyncio

TOKEN_SHELF_S: Final = 0.25
"""How long tokens taken from Redis stay usable in the process that took them."""
BLOCK_SECONDS: Final = 0.01
"""A block is this much of the rate (at least 1 token, at most MAX_BLOCK)."""
MAX_BLOCK: Final = 100
BURST_BLOCKS: Final = 2
"""The bucket holds at most this many blocks: the cap allows no burst beyond them."""

# KEYS[1]: the bucket (a hash: tokens, at). ARGV: rate per second, capacity, tokens wanted.
# The clock is Redis's, the same for every process. Returns {tokens granted, µs to wait
# before asking again when none were}.
_TAKE: Final = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = capacity
  at = now
end
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate / 1000000)
local granted = math.min(wanted, math.floor(tokens))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity * 1000 / rate) + 1000)
local wait = 0
if granted == 0 then
  wait = math.ceil((wanted - tokens) * 1000000 / rate)
end
return {granted, wait}
"""


def block_size(rate_per_s: float) -> int:
    return max(1, min(MAX_BLOCK, int(rate_per_s * BLOCK_SECONDS)))


class SharedRateLimit:
    """`await acquire()` before each send; all processes using the same Redis and key together
    send at most `rate_per_s` a second, plus a burst of BURST_BLOCKS blocks.

    Bound to the event loop it is first used on (its Redis connections are).
    """

    def __init__(self, redis_url: str, *, key: str, rate_per_s: float) -> None:
        if rate_per_s <= 0:
            raise ValueError("rate_per_s must be positive")
        self.rate_per_s = rate_per_s
        self.block = block_size(rate_per_s)
        self.capacity = self.block * BURST_BLOCKS
        self._key = key
        self._redis = redis.asyncio.Redis.from_url(redis_url)
        self._take = self._redis.register_script(_TAKE)
        self._refill: asyncio.Task[None] | None = None
        self._tokens = 0
        self._usable_until = 0.0

    async def acquire(self) -> None:
        """Wait until this process may send one more message.

        Waiters share one Redis call, and the next block is asked for when half of the current
        one is used, so that senders rarely wait for Redis at all.
        """
        while True:
            if self._tokens and time.monotonic() < self._usable_until:
                self._tokens -= 1
                if self._tokens < self.block // 2:
                    self._start_refill()
                return
            await asyncio.shield(self._start_refill())

    def _start_refill(self) -> "asyncio.Task[None]":
        if self._refill is None:
            self._refill = asyncio.get_running_loop().create_task(self._take_block())
            # A prefetch nobody awaits may fail (Redis down): the next waiter asks again and
            # gets the error itself.
            self._refill.add_done_callback(lambda task: task.cancelled() or task.exception())
        return self._refill

    async def _take_block(self) -> None:
        """Take a block from Redis, waiting as long as Redis says when it has none to give."""
        try:
            while True:
                granted, wait_us = await self._take(
                    keys=[self._key], args=[self.rate_per_s, self.capacity, self.block]
                )
                if granted:
                    now = time.monotonic()
                    self._tokens = (self._tokens if now < self._usable_until else 0) + int(granted)
                    self._usable_until = now + TOKEN_SHELF_S
                    return
                await asyncio.sleep(int(wait_us) / 1e6)
        finally:
            self._refill = None

    async def aclose(self) -> None:
        if self._refill is not None:
            self._refill.cancel()
            await asyncio.gather(self._refill, return_exceptions=True)
        await self._redis.aclose()
