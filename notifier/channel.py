"""The push channel interface. FCM is the first channel; APNs direct, web push or SMS can be
added behind the same two types without touching dispatch."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Push:
    """One pop-up for one device, independent of the channel that carries it."""

    token: str
    title: str
    body: str
    data: Mapping[str, str]
    collapse_key: str
    ttl_seconds: int
    image_url: str | None = None


@dataclass(frozen=True, slots=True)
class PushOutcome:
    message_id: str | None = None
    error_code: str | None = None
    token_invalid: bool = False
    retryable: bool = False
    # Seconds the server asked us to wait before retrying (HTTP Retry-After), if it said.
    retry_after_s: float | None = None
    detail: str = field(default="", compare=False)

    @property
    def ok(self) -> bool:
        return self.error_code is None


class PushChannel(Protocol):
    def send(self, pushes: Sequence[Push]) -> list[PushOutcome]:
        """Send each push; one outcome per push, in order. Never raises for a single push."""
        ...
