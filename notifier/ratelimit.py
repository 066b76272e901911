"""One send-rate cap for every worker process: a token bucket in Redis.

FCM's quota is per project (by default 600,000 messages a minute, 10,000 a second), however
many workers send. Each process takes tokens from the shared bucket in blocks of about 10 ms
of quota, one Lua call a block, so the cap costs no round trip per message; tokens a process
holds but does not use soon are dropped, so a block taken long ago cannot add to a burst.
"""

import time
from typing import Final

import redis

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
    """`take()` before each send; all processes using the same Redis and key together send at
    most `rate_per_s` a second, plus a burst of BURST_BLOCKS blocks."""

    def __init__(self, redis_url: str, *, key: str, rate_per_s: float) -> None:
        if rate_per_s <= 0:
            raise ValueError("rate_per_s must be positive")
        self.rate_per_s = rate_per_s
        self.block = block_size(rate_per_s)
        self.capacity = self.block * BURST_BLOCKS
        self._key = key
        self._redis = redis.Redis.from_url(redis_url)
        self._take = self._redis.register_script(_TAKE)
        self._tokens = 0
        self._usable_until = 0.0

    def take(self) -> float:
        """Take one send: 0.0 if this process may send now, else the seconds to wait before
        asking again. Never blocks beyond one Redis call a block, so a sender can keep its
        transfers moving while it waits."""
        now = time.monotonic()
        if self._tokens and now < self._usable_until:
            self._tokens -= 1
            return 0.0
        granted, wait_us = self._take(
            keys=[self._key], args=[self.rate_per_s, self.capacity, self.block]
        )
        if not granted:
            return max(int(wait_us), 1) / 1e6
        self._tokens = int(granted) - 1
        self._usable_until = time.monotonic() + TOKEN_SHELF_S
        return 0.0

    def close(self) -> None:
        self._redis.close()
