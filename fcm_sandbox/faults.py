"""Fault injection: a runtime-settable config and the pure per-request decision it drives.

Retry and backoff code can only be tested against failures it will actually meet, so faults
produce FCM's own error codes and statuses; a `seed` makes a run's sequence reproducible.
"""

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from fcm_sandbox.errors import FCM_ERRORS, RETRY_AFTER_STATUSES

DEFAULT_ERROR_CODE: Final = "UNAVAILABLE"


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """What to inject: a delay on every send, errors at `error_rate`, dead tokens always."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_rate: float = 0.0
    error_code: str = DEFAULT_ERROR_CODE
    retry_after_s: int | None = None
    unregistered_tokens: frozenset[str] = field(default_factory=frozenset)
    seed: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The config as `PUT /sandbox/faults` accepts it, so GET output can be PUT back."""
        return {
            "latency_ms": self.latency_ms,
            "jitter_ms": self.jitter_ms,
            "error_rate": self.error_rate,
            "error_code": self.error_code,
            "retry_after_s": self.retry_after_s,
            "unregistered_tokens": sorted(self.unregistered_tokens),
            "seed": self.seed,
        }


@dataclass(frozen=True, slots=True)
class FaultDecision:
    """The outcome for one request: how long to stall, and the FCM error to answer, if any."""

    delay_s: float = 0.0
    error_code: str | None = None
    retry_after_s: int | None = None


NO_FAULT: Final = FaultDecision()


def _number(body: Mapping[str, Any], key: str, default: float, upper: float | None) -> float:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{key} must be a finite number")
    if value < 0:
        raise ValueError(f"{key} must be >= 0")
    if upper is not None and value > upper:
        raise ValueError(f"{key} must be <= {upper}")
    return float(value)


def _optional_int(body: Mapping[str, Any], key: str, *, non_negative: bool) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key} must be an integer or null")
    if non_negative and value < 0:
        raise ValueError(f"{key} must be >= 0")
    return value


def parse_faults(body: object) -> FaultConfig:
    """Build a FaultConfig from `PUT /sandbox/faults` JSON; omitted keys take their defaults."""
    if not isinstance(body, dict):
        raise ValueError("faults must be a JSON object")
    unknown = body.keys() - set(FaultConfig.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
    error_code = body.get("error_code", DEFAULT_ERROR_CODE)
    if error_code not in FCM_ERRORS:
        raise ValueError(f"error_code must be one of {', '.join(FCM_ERRORS)}")
    tokens = body.get("unregistered_tokens", [])
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise ValueError("unregistered_tokens must be a list of strings")
    return FaultConfig(
        latency_ms=_number(body, "latency_ms", 0.0, None),
        jitter_ms=_number(body, "jitter_ms", 0.0, None),
        error_rate=_number(body, "error_rate", 0.0, 1.0),
        error_code=error_code,
        retry_after_s=_optional_int(body, "retry_after_s", non_negative=True),
        unregistered_tokens=frozenset(tokens),
        seed=_optional_int(body, "seed", non_negative=False),
    )


def decide_fault(config: FaultConfig, rng: random.Random, device: str | None) -> FaultDecision:
    """Roll the faults for one send to `device` (token or fid); dead ones beat random errors."""
    delay_ms = config.latency_ms
    if config.jitter_ms:
        delay_ms += rng.uniform(0.0, config.jitter_ms)
    if device is not None and device in config.unregistered_tokens:
        code: str | None = "UNREGISTERED"
    elif config.error_rate and rng.random() < config.error_rate:
        code = config.error_code
    else:
        code = None
    if not delay_ms and code is None:
        return NO_FAULT
    retry_after = (
        config.retry_after_s
        if code is not None and FCM_ERRORS[code].http_status in RETRY_AFTER_STATUSES
        else None
    )
    return FaultDecision(delay_s=delay_ms / 1000.0, error_code=code, retry_after_s=retry_after)
