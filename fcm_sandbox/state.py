"""The sandbox's in-memory state: access tokens, recorded messages, counters, fault config.

One lock guards everything and is held only for a few dict/deque operations, never across an
await, so concurrent requests on the event loop (or callers on other threads) stay consistent
without slowing the send path.
"""

import itertools
import random
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Container
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fcm_sandbox.faults import FaultConfig, FaultDecision, decide_fault


@dataclass(frozen=True, slots=True)
class _Record:
    name: str
    received_at: float
    device: str | None
    message: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        at = datetime.fromtimestamp(self.received_at, UTC).isoformat(timespec="microseconds")
        return {"name": self.name, "received_at": at, "message": self.message}


class SandboxState:
    """Everything a running sandbox remembers; records beyond `max_messages` drop the oldest."""

    def __init__(self, *, project_id: str, max_messages: int) -> None:
        self.project_id = project_id
        self._lock = threading.Lock()
        self._records: deque[_Record] = deque(maxlen=max_messages)
        self._tokens: dict[str, float] = {}
        self._ids = itertools.count(1)
        self._faults: tuple[FaultConfig, random.Random] = (FaultConfig(), random.Random())
        self._received = 0
        self._accepted = 0
        self._validated = 0
        self._rejected: Counter[str] = Counter()
        self._tokens_issued = 0
        self._grants_refused = 0
        self._first_accepted_at: float | None = None
        self._last_accepted_at: float | None = None
        # Accepted sends by token or FID, kept when records are dropped: whether a broadcast
        # reached each device exactly once, at any size.
        self._per_device: Counter[str] = Counter()

    def issue_token(self, lifetime_s: int) -> str:
        """Mint a bearer token valid for `lifetime_s`, forgetting tokens that have expired."""
        token = f"ya29.sandbox.{secrets.token_urlsafe(32)}"
        now = time.monotonic()
        with self._lock:
            expired = [t for t, until in self._tokens.items() if until <= now]
            for old in expired:
                del self._tokens[old]
            self._tokens[token] = now + lifetime_s
            self._tokens_issued += 1
        return token

    def token_valid(self, token: str) -> bool:
        """Whether `token` was issued here and has not expired (a single atomic dict read)."""
        until = self._tokens.get(token)
        return until is not None and until > time.monotonic()

    def refuse_grant(self) -> None:
        with self._lock:
            self._grants_refused += 1

    def count_received(self) -> None:
        with self._lock:
            self._received += 1

    def reject(self, code: str) -> None:
        """Count a send answered with error `code` (an FcmError code or UNAUTHENTICATED)."""
        with self._lock:
            self._rejected[code] += 1

    def accept(self, message: dict[str, Any], device: str | None, validate_only: bool) -> str:
        """Record an accepted send (dry runs are only counted) and return its message name."""
        if validate_only:
            with self._lock:
                self._validated += 1
            return f"projects/{self.project_id}/messages/fake_message_id"
        now = time.time()
        with self._lock:
            name = f"projects/{self.project_id}/messages/0:{int(now * 1e6)}%{next(self._ids):016x}"
            self._records.append(_Record(name, now, device, message))
            self._accepted += 1
            if device is not None:
                self._per_device[device] += 1
            if self._first_accepted_at is None:
                self._first_accepted_at = now
            self._last_accepted_at = now
        return name

    def decide_fault(self, device: str | None) -> FaultDecision:
        config, rng = self._faults
        return decide_fault(config, rng, device)

    @property
    def faults(self) -> FaultConfig:
        return self._faults[0]

    def set_faults(self, config: FaultConfig) -> None:
        """Install `config` with a fresh RNG, seeded when the config says so."""
        self._faults = (config, random.Random(config.seed))

    def messages(self, devices: Container[str] | None = None) -> list[dict[str, Any]]:
        """Recorded messages, oldest first, optionally only those sent to one of `devices`
        (tokens or FIDs)."""
        with self._lock:
            records = list(self._records)
        return [r.to_json() for r in records if devices is None or r.device in devices]

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "received": self._received,
                "accepted": self._accepted,
                "validated_only": self._validated,
                "rejected": dict(self._rejected),
                "recorded": len(self._records),
                "tokens_issued": self._tokens_issued,
                "token_grants_refused": self._grants_refused,
                # Unix times of the first and last recorded message, for latency measurements.
                "first_accepted_at": self._first_accepted_at,
                "last_accepted_at": self._last_accepted_at,
                "devices_reached": len(self._per_device),
                "devices_reached_more_than_once": sum(
                    1 for n in self._per_device.values() if n > 1
                ),
            }

    def reset(self) -> int:
        """Drop records and zero counters; issued tokens stay valid so clients need not re-auth."""
        with self._lock:
            dropped = len(self._records)
            self._records.clear()
            self._received = self._accepted = self._validated = 0
            self._tokens_issued = self._grants_refused = 0
            self._first_accepted_at = self._last_accepted_at = None
            self._rejected.clear()
            self._per_device.clear()
        return dropped
