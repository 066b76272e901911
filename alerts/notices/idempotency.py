"""Idempotent notice submission: the request fingerprint a key is bound to, and the error for
a key reused with another request."""

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from alerts.errors import Conflict

# Stripe's limit; the IETF draft leaves it to the server.
MAX_KEY_LENGTH = 255

KEY_PATTERN = r"^[\x20-\x7e]+$"


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"


def _canonical(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return str(value)


def request_fingerprint(request: dict[str, Any]) -> str:
    """SHA-256 of the validated request (a pydantic `model_dump()`) in canonical JSON. Hashing
    the parsed request rather than the raw bytes makes key order, whitespace and equal
    spellings of one value (`5` and `5.0`, one instant in two time zones) the same request."""
    canonical = json.dumps(
        request, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_canonical
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
