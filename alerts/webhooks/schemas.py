"""Webhook configuration and event bodies."""

import json
import uuid
from datetime import datetime
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    field_validator,
)

from alerts.devices.schemas import _SIGHTING_EXAMPLE
from alerts.fields import Request, StoredUrl
from kit.config import get_settings
from kit.models import (
    AgencyWebhook,
    WebhookEvent,
    WebhookEventStatus,
)


class WebhookConfig(Request):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"url": "https://agency.example/hexcast/events"}]}
    )

    url: StoredUrl = Field(description="Receives a signed POST per event; https in production")

    @field_validator("url")
    @classmethod
    def _https_in_production(cls, url: HttpUrl) -> HttpUrl:
        if url.scheme != "https" and get_settings().environment == "production":
            raise ValueError("must be an https URL")
        return url


class WebhookOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "url": "https://agency.example/hexcast/events",
                    "created_at": "2026-11-23T08:00:00Z",
                }
            ]
        }
    )

    url: str
    created_at: datetime

    @classmethod
    def from_webhook(cls, webhook: AgencyWebhook) -> "WebhookOut":
        return cls(url=webhook.url, created_at=webhook.created_at)


class WebhookCreated(WebhookOut):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "url": "https://agency.example/hexcast/events",
                    "created_at": "2026-11-23T08:00:00Z",
                    "secret": "whsec_Q2x9…",
                }
            ]
        }
    )

    secret: str = Field(description="Shown once: the HMAC-SHA256 key of X-Hexcast-Signature")


class WebhookEventOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c",
                    "type": "sighting.created",
                    "status": "pending",
                    "attempts": 2,
                    "last_status_code": 503,
                    "last_error": None,
                    "created_at": "2026-11-23T09:06:12Z",
                    "next_attempt_at": "2026-11-23T09:06:52Z",
                    "delivered_at": None,
                    "payload": {
                        "id": "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c",
                        "type": "sighting.created",
                        "created_at": "2026-11-23T09:06:12Z",
                        "data": {"sighting": _SIGHTING_EXAMPLE},
                    },
                }
            ]
        }
    )

    id: uuid.UUID
    type: str
    status: WebhookEventStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime | None = Field(description="When a pending event is tried next")
    delivered_at: datetime | None
    payload: dict[str, Any] = Field(description="The body every delivery of the event carries")

    @classmethod
    def from_event(cls, event: WebhookEvent) -> "WebhookEventOut":
        pending = event.status == WebhookEventStatus.PENDING
        return cls(
            id=event.id,
            type=event.event_type,
            status=event.status,
            attempts=event.attempts,
            last_status_code=event.last_status_code,
            last_error=event.last_error,
            created_at=event.created_at,
            next_attempt_at=event.next_attempt_at if pending else None,
            delivered_at=event.delivered_at,
            payload=json.loads(event.body),
        )


class WebhookEventPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [], "total": 0}]})

    items: list[WebhookEventOut]
    total: int
