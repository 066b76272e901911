"""Device registration, location report and sighting bodies."""

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
)

from alerts.fields import LanguageTag, Latitude, Longitude, PastTime, Request, fits_token_index
from kit.models import (
    Platform,
    Sighting,
)


class DeviceRegistration(Request):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "fcm_token": "dGVzdC10b2tlbi0xMjM:APA91b...",
                    "platform": "android",
                    "locale": "en-GB",
                }
            ]
        }
    )

    fcm_token: Annotated[str, AfterValidator(fits_token_index)] = Field(min_length=1)
    platform: Platform
    locale: LanguageTag
    test_device: bool = Field(
        False,
        description="Opt in to Test and Exercise notices (as WEA's test-alert setting); "
        "Actual notices reach every device either way",
    )
    claim_code: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="For a token registered already: the `code` of the `device_claim` data "
        "message hexcast sent to the token (or send the device's current X-Device-Key)",
    )


class DeviceRegistered(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"device_id": "9d8c7b6a-5f4e-4d3c-9b2a-1f0e9d8c7b6a", "device_key": "hxd_Jk4…"}
            ]
        }
    )

    device_id: uuid.UUID
    device_key: str = Field(description="Shown once; send it as the X-Device-Key header")


class DevicePreferences(Request):
    """What the app user controls; absent fields are left as they are."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"alerts_paused": True}, {"locale": "es-MX"}]}
    )

    alerts_paused: bool | None = Field(
        None, description="Pause (true) or resume (false) alert pop-ups on this device"
    )
    locale: LanguageTag | None = Field(
        None, description="The device's language: pop-ups use the notice's text in it"
    )


class DeviceOut(BaseModel):
    """What hexcast holds about the calling device, for the app to show its user."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "device_id": "9d8c7b6a-5f4e-4d3c-9b2a-1f0e9d8c7b6a",
                    "platform": "android",
                    "locale": "en-GB",
                    "alerts_paused": False,
                    "test_device": False,
                    "located_at": "2026-11-23T08:30:00Z",
                }
            ]
        }
    )

    device_id: uuid.UUID
    platform: Platform
    locale: str
    alerts_paused: bool
    test_device: bool
    located_at: datetime | None = Field(
        description="When the stored last known location was taken; null when none is stored"
    )


class ClaimSent(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"claim_sent": True, "expires_at": "2026-11-23T08:40:00Z"}]}
    )

    claim_sent: bool = Field(
        True,
        description="The token is registered already: a `device_claim` data message with a "
        "`code` went to it; register again with `claim_code` to take the device over",
    )
    expires_at: datetime = Field(description="The code works until then")


class LocationReport(Request):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"lat": 51.5033, "lon": -0.1196, "accuracy_m": 12, "at": "2026-11-23T08:30:00Z"}
            ]
        }
    )

    lat: Latitude
    lon: Longitude
    accuracy_m: float = Field(ge=0, le=100_000)
    at: PastTime


class SightingCreate(Request):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "seen_at": "2026-11-23T09:05:00Z",
                    "lat": 51.5055,
                    "lon": -0.1160,
                    "accuracy_m": 15,
                    "text": "Girl in a red coat with a yellow backpack, walking east with a man.",
                    "contact": "+44 7700 900123",
                }
            ]
        }
    )

    seen_at: PastTime
    lat: Latitude
    lon: Longitude
    accuracy_m: float | None = Field(None, ge=0, le=100_000)
    text: str = Field(min_length=1, max_length=2000, description="What was seen")
    contact: str | None = Field(
        None, min_length=1, max_length=200, description="How the agency may reach the reporter"
    )


_SIGHTING_EXAMPLE: dict[str, Any] = {
    "id": "2c4e6a8b-1d3f-4a5c-8e7b-9f0a1b2c3d4e",
    "notice_id": "6f1c2a0e-5b7d-4c1e-9a43-1b2f3c4d5e6f",
    "device_id": "9d8c7b6a-5f4e-4d3c-9b2a-1f0e9d8c7b6a",
    "seen_at": "2026-11-23T09:05:00Z",
    "lat": 51.5055,
    "lon": -0.1160,
    "accuracy_m": 15,
    "text": "Girl in a red coat with a yellow backpack, walking east with a man.",
    "contact": "+44 7700 900123",
    "received_at": "2026-11-23T09:06:12Z",
}


class SightingOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_SIGHTING_EXAMPLE]})

    id: uuid.UUID
    notice_id: uuid.UUID
    device_id: uuid.UUID | None = Field(
        description="The reporting app install, to group its reports; null once it was erased"
    )
    seen_at: datetime
    lat: float
    lon: float
    accuracy_m: float | None
    text: str
    contact: str | None
    received_at: datetime

    @classmethod
    def from_sighting(cls, sighting: Sighting) -> "SightingOut":
        return cls(
            id=sighting.id,
            notice_id=sighting.notice_id,
            device_id=sighting.device_id,
            seen_at=sighting.seen_at,
            lat=sighting.lat,
            lon=sighting.lon,
            accuracy_m=sighting.accuracy_m,
            text=sighting.text,
            contact=sighting.contact,
            received_at=sighting.created_at,
        )


class SightingPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [], "total": 0}]})

    items: list[SightingOut]
    total: int
