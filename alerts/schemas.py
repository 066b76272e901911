"""Request and response bodies. Requests forbid unknown fields, so a client cannot smuggle
`status` or `agency_id` into a notice."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from geo.regions import polygon_from_geojson
from kit.config import get_settings
from kit.models import (
    ActorType,
    AgencyKey,
    AgencyWebhook,
    AuditEvent,
    CapStatus,
    DeliveryStatus,
    KeyScope,
    Notice,
    NoticeStatus,
    Operator,
    OperatorRole,
    Platform,
    Sex,
    Sighting,
    WebhookEvent,
    WebhookEventStatus,
)

MIN_RADIUS_KM = 0.1
MAX_RADIUS_KM = 500.0

Latitude = Annotated[float, Field(ge=-90, le=90, description="WGS 84 degrees")]
Longitude = Annotated[float, Field(ge=-180, le=180, description="WGS 84 degrees")]
RadiusKm = Annotated[float, Field(ge=MIN_RADIUS_KM, le=MAX_RADIUS_KM, description="Kilometres")]
MAX_WINDOW_HOURS = 720
WindowHours = Annotated[float, Field(gt=0, le=MAX_WINDOW_HOURS, description="Hours")]
LanguageTag = Annotated[
    str, Field(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$", max_length=35, examples=["en-GB"])
]

CLOCK_SKEW = timedelta(minutes=5)
# Before year 1 in UTC (0001-01-01T00:00+14:00) PostgreSQL stores a BC time Python cannot load.
EARLIEST_TIME = datetime(1900, 1, 1, tzinfo=UTC)
# A unique B-tree index entry holds at most 2704 bytes (devices.fcm_token is one).
MAX_FCM_TOKEN_BYTES = 2048
# notices.decision_reason's length.
MAX_REASON_CHARS = 500
# PostgreSQL's LIMIT/OFFSET are bigints.
MAX_OFFSET = 2**63 - 1


def _not_in_future(value: datetime) -> datetime:
    if value > datetime.now(UTC) + CLOCK_SKEW:
        raise ValueError("must not be in the future")
    if value < EARLIEST_TIME:
        raise ValueError("must not be before 1900")
    return value


PastTime = Annotated[AwareDatetime, AfterValidator(_not_in_future)]


def _fits_token_index(token: str) -> str:
    if len(token.encode()) > MAX_FCM_TOKEN_BYTES:
        raise ValueError(f"must be at most {MAX_FCM_TOKEN_BYTES} bytes")
    return token


def _no_nul(value: str) -> str:
    """PostgreSQL text cannot hold NUL characters: refused here, not a 500 there."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


StoredText = Annotated[str, AfterValidator(_no_nul)]
"""A string outside a request body (a query parameter) that reaches the database."""

MAX_URL_CHARS = 2048
"""The length of the columns URLs are stored in."""


def _fits_url_column(url: HttpUrl) -> HttpUrl:
    """Measured once normalised: percent-encoding can make the stored URL several times
    longer than the text sent, and HttpUrl alone allows 2,083 characters."""
    if len(str(url)) > MAX_URL_CHARS:
        raise PydanticCustomError(
            "url_too_long",
            "URL should have at most {max_length} characters once percent-encoded",
            {"max_length": MAX_URL_CHARS},
        )
    return url


StoredUrl = Annotated[HttpUrl, AfterValidator(_fits_url_column)]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        return _no_nul(value) if isinstance(value, str) else value


Coordinate = Annotated[float, Field(allow_inf_nan=False)]
# GeoJSON position: longitude, latitude and an optional altitude that is ignored.
Position = Annotated[list[Coordinate], Field(min_length=2, max_length=3)]


def _closed(ring: list[list[float]]) -> list[list[float]]:
    """Stored as given and exported to CAP, whose polygons must close: an open ring would
    make an alert no CAP reader, hexcast's own included, accepts."""
    if ring[0] != ring[-1]:
        raise ValueError("a ring must end at its first position (RFC 7946, 3.1.6)")
    return ring


Ring = Annotated[list[Position], Field(min_length=4), AfterValidator(_closed)]
MAX_AREAS = 20

_SQUARE = [[-0.15, 51.49], [-0.10, 51.49], [-0.10, 51.52], [-0.15, 51.52], [-0.15, 51.49]]
_POLYGON_AREA_EXAMPLE: dict[str, Any] = {
    "type": "polygon",
    "geometry": {"type": "Polygon", "coordinates": [_SQUARE]},
}


class GeoJsonPolygon(Request):
    type: Literal["Polygon"]
    coordinates: list[Ring] = Field(min_length=1, description="Outer ring, then holes")
    bbox: list[Coordinate] | None = None


class GeoJsonMultiPolygon(Request):
    type: Literal["MultiPolygon"]
    coordinates: list[Annotated[list[Ring], Field(min_length=1)]] = Field(min_length=1)
    bbox: list[Coordinate] | None = None


class CircleArea(Request):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"type": "circle", "lat": 51.5007, "lon": -0.1246, "radius_km": 5}]
        }
    )

    type: Literal["circle"]
    lat: Latitude
    lon: Longitude
    radius_km: RadiusKm


class PolygonArea(Request):
    """GeoJSON (RFC 7946): straight edges in longitude/latitude, holes allowed; an area that
    crosses the antimeridian is a MultiPolygon split there."""

    model_config = ConfigDict(json_schema_extra={"examples": [_POLYGON_AREA_EXAMPLE]})

    type: Literal["polygon"]
    geometry: Annotated[GeoJsonPolygon | GeoJsonMultiPolygon, Field(discriminator="type")]

    @model_validator(mode="after")
    def _coverable(self) -> Self:
        polygon_from_geojson(self.geometry.model_dump(exclude_none=True))
        return self


Area = Annotated[CircleArea | PolygonArea, Field(discriminator="type")]
Areas = Annotated[
    list[Area],
    Field(min_length=1, max_length=MAX_AREAS, description="Targeted together, as a union"),
]


def areas_json(areas: list[CircleArea | PolygonArea]) -> list[dict[str, Any]]:
    return [area.model_dump(mode="json", exclude_none=True) for area in areas]


class Person(Request):
    name: str = Field(min_length=1, max_length=200)
    age: int | None = Field(None, ge=0, le=130)
    sex: Sex
    description: str = Field(min_length=1, max_length=2000)
    photo_url: StoredUrl | None = None


class LastSeen(Request):
    lat: Latitude
    lon: Longitude
    at: PastTime
    place: str = Field(min_length=1, max_length=500)


_NOTICE_EXAMPLE: dict[str, Any] = {
    "person": {
        "name": "Lily Chen",
        "age": 7,
        "sex": "female",
        "description": "Red coat, yellow backpack, 120 cm, black hair in a ponytail.",
        "photo_url": "https://agency.example/photos/lily.jpg",
    },
    "last_seen": {
        "lat": 51.5007,
        "lon": -0.1246,
        "at": "2026-11-23T08:15:00Z",
        "place": "Westminster Bridge, south end",
    },
    "radius_km": 5,
    "location_window_hours": 24,
    "contact": "Metropolitan Police, 101, case 4411/23",
    "language": "en-GB",
    "cap_status": "Actual",
}
_AGENCY_ID_EXAMPLE = "0b7d3f7e-9c1a-4d2e-8f60-5a4b3c2d1e0f"
_OPERATOR_ID_EXAMPLE = "3e5b1c9a-7d2f-4a8e-b6c1-0f9e8d7c6b5a"

CAP_STATUS_DESCRIPTION = (
    "CAP message status: Actual reaches every device; Test and Exercise reach only devices "
    "registered as test devices and are marked as such in the pop-up"
)


class NoticeCreate(Request):
    model_config = ConfigDict(json_schema_extra={"examples": [_NOTICE_EXAMPLE]})

    person: Person
    last_seen: LastSeen
    radius_km: RadiusKm | None = Field(
        None, description="Target the circle of this radius around the last-seen place"
    )
    areas: Areas | None = Field(None, description="Or target these drawn areas instead")
    location_window_hours: WindowHours | None = Field(
        None, description="Only devices located this recently are targeted (default 72 h)"
    )
    contact: str = Field(min_length=1, max_length=500)
    language: LanguageTag
    cap_status: CapStatus = Field(CapStatus.ACTUAL, description=CAP_STATUS_DESCRIPTION)

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if (self.radius_km is None) == (self.areas is None):
            raise ValueError("give either radius_km or areas as the target")
        return self


class OperatorNoticeCreate(NoticeCreate):
    """A notice an operator submits on an agency's behalf (a call from an officer, say)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{**_NOTICE_EXAMPLE, "agency_id": _AGENCY_ID_EXAMPLE}]}
    )

    agency_id: uuid.UUID


class NoticeUpdate(Request):
    """What an agency may change in its pending or active notice. On an active notice the
    new area is broadcast at once: devices in it that the notice has not reached yet get it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"description": "Now wearing a blue raincoat over the red coat.", "radius_km": 8}
            ]
        }
    )

    description: str | None = Field(None, min_length=1, max_length=2000)
    photo_url: StoredUrl | None = Field(None, description="null removes the photo")
    radius_km: RadiusKm | None = Field(None, description="Target this circle instead")
    areas: Areas | None = Field(None, description="Or these drawn areas instead")

    @model_validator(mode="after")
    def _changes_something(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("give description, photo_url, radius_km or areas to change")
        if self.radius_km is not None and self.areas is not None:
            raise ValueError("give either radius_km or areas as the target")
        for name in ("description", "radius_km", "areas"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class NoticeOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_NOTICE_EXAMPLE,
                    "id": "6f1c2a0e-5b7d-4c1e-9a43-1b2f3c4d5e6f",
                    "agency_id": _AGENCY_ID_EXAMPLE,
                    "areas": None,
                    "status": "pending",
                    "created_at": "2026-11-23T08:20:00Z",
                    "decided_at": None,
                    "decision_reason": None,
                    "expires_at": None,
                    "ended_at": None,
                    "cap_status": "Actual",
                    "texts": None,
                    "revision": 0,
                    "revised_at": None,
                }
            ]
        }
    )

    id: uuid.UUID
    agency_id: uuid.UUID
    status: NoticeStatus
    cap_status: CapStatus
    person: Person
    last_seen: LastSeen
    radius_km: float | None
    areas: list[dict[str, Any]] | None
    location_window_hours: float
    contact: str
    language: str
    created_at: datetime
    decided_at: datetime | None
    decision_reason: str | None
    expires_at: datetime | None
    ended_at: datetime | None
    texts: dict[str, dict[str, str]] | None = Field(
        description="Wording by language, from a CAP alert's <info> blocks"
    )
    revision: int = Field(description="How often the agency has updated the notice")
    revised_at: datetime | None

    @classmethod
    def from_notice(cls, notice: Notice) -> "NoticeOut":
        return cls(
            id=notice.id,
            agency_id=notice.agency_id,
            status=notice.status,
            cap_status=notice.cap_status,
            person=Person(
                name=notice.person_name,
                age=notice.person_age,
                sex=notice.person_sex,
                description=notice.person_description,
                photo_url=notice.photo_url,  # type: ignore[arg-type]
            ),
            last_seen=LastSeen.model_construct(
                lat=notice.last_seen_lat,
                lon=notice.last_seen_lon,
                at=notice.last_seen_at,
                place=notice.last_seen_place,
            ),
            radius_km=None if notice.target_areas else notice.radius_km,
            areas=notice.target_areas,
            location_window_hours=notice.location_window_hours,
            contact=notice.contact,
            language=notice.language,
            created_at=notice.created_at,
            decided_at=notice.decided_at,
            decision_reason=notice.decision_reason,
            expires_at=notice.expires_at,
            ended_at=notice.ended_at,
            texts=notice.texts,
            revision=notice.revision,
            revised_at=notice.revised_at,
        )


class NoticePage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [], "total": 0}]})

    items: list[NoticeOut]
    total: int


class Approval(Request):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"radius_km": 3, "lifetime_hours": 24}]}
    )

    radius_km: RadiusKm | None = Field(
        None, description="Overrides the agency's radius (circle notices only)"
    )
    lifetime_hours: float | None = Field(None, gt=0, le=720, description="Default 72 h")


class Decision(Request):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "Duplicate of 4411"}]})

    reason: str | None = Field(None, max_length=MAX_REASON_CHARS)


class DeliveryStats(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "notice_id": "6f1c2a0e-5b7d-4c1e-9a43-1b2f3c4d5e6f",
                    "targeted": 1204,
                    "by_status": {"sent": 1190, "failed": 10, "pending": 4},
                    "failed_by_reason": {"UNREGISTERED": 10},
                    "retrying": 3,
                    "complete": False,
                    "first_sent_after_s": 0.41,
                    "last_sent_after_s": 2.87,
                }
            ]
        }
    )

    notice_id: uuid.UUID
    targeted: int = Field(description="Devices claimed for the notice so far")
    by_status: dict[DeliveryStatus, int]
    failed_by_reason: dict[str, int] = Field(description="Final errors, by FCM error code")
    retrying: int = Field(description="Pending deliveries waiting to retry a retryable error")
    complete: bool = Field(
        description="Every part of the area was searched and no delivery is pending"
    )
    first_sent_after_s: float | None = Field(description="Seconds from approval to first push")
    last_sent_after_s: float | None = Field(description="Seconds from approval to latest push")


class ReachQuery(Request):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"lat": 51.5007, "lon": -0.1246, "radii_km": [1, 5, 20]},
                {"areas": [_POLYGON_AREA_EXAMPLE]},
            ]
        }
    )

    lat: Latitude | None = None
    lon: Longitude | None = None
    radii_km: list[RadiusKm] | None = Field(None, min_length=1, max_length=20)
    areas: Areas | None = Field(None, description="Or count the union of these areas")
    location_window_hours: WindowHours | None = Field(None, description="Default 72 h")
    cap_status: CapStatus = Field(
        CapStatus.ACTUAL, description="Test and Exercise count only test devices"
    )

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        circles = (self.lat, self.lon, self.radii_km)
        if self.areas is None and None in circles:
            raise ValueError("give lat, lon and radii_km, or areas")
        if self.areas is not None and any(v is not None for v in circles):
            raise ValueError("give lat, lon and radii_km, or areas, not both")
        return self


class Reach(BaseModel):
    radius_km: float | None = Field(description="None for the union of the query's areas")
    devices: int
    tallied_at: datetime | None = Field(
        None,
        description="Set for large areas: the devices well inside the area were counted "
        "from the device tally taken at this time (at most a few minutes old), the window's "
        "first hour pro rata; those near its edge were counted now, one by one. Null: every "
        "device was counted now, exactly as a broadcast would select them.",
    )


class ReachPreview(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "reach": [
                        {"radius_km": 1, "devices": 310},
                        {"radius_km": 5, "devices": 5120},
                        {"radius_km": 20, "devices": 48210},
                    ],
                    "located_since": "2026-11-20T08:30:00Z",
                }
            ]
        }
    )

    reach: list[Reach]
    located_since: datetime


MAX_EXPANSION_STEPS = 20
MAX_EXPANSION_MINUTES = 30 * 24 * 60


class ExpansionStepIn(Request):
    after_minutes: float = Field(gt=0, le=MAX_EXPANSION_MINUTES, description="Past approval")
    radius_km: RadiusKm


class ExpansionSchedule(Request):
    """Replaces the steps not applied yet. Steps widen the circle: later steps have larger
    radii."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "steps": [
                        {"after_minutes": 120, "radius_km": 20},
                        {"after_minutes": 360, "radius_km": 50},
                    ]
                }
            ]
        }
    )

    steps: list[ExpansionStepIn] = Field(max_length=MAX_EXPANSION_STEPS)

    @model_validator(mode="after")
    def _widening(self) -> Self:
        for earlier, later in zip(self.steps, self.steps[1:], strict=False):
            if later.after_minutes <= earlier.after_minutes:
                raise ValueError("steps must be in order of after_minutes, without repeats")
            if later.radius_km <= earlier.radius_km:
                raise ValueError("each step must have a larger radius than the one before")
        return self


class ExpansionStepOut(BaseModel):
    after_minutes: float
    radius_km: float
    due_at: datetime | None = Field(description="None until the notice is approved")
    applied_at: datetime | None


class ExpansionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "notice_id": "6f1c2a0e-5b7d-4c1e-9a43-1b2f3c4d5e6f",
                    "radius_km": 5,
                    "steps": [
                        {
                            "after_minutes": 120,
                            "radius_km": 20,
                            "due_at": "2026-11-23T10:30:00Z",
                            "applied_at": None,
                        }
                    ],
                }
            ]
        }
    )

    notice_id: uuid.UUID
    radius_km: float
    steps: list[ExpansionStepOut]


class AgencyCreate(Request):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Thames Valley Police"}]})

    name: str = Field(min_length=1, max_length=200)


class AgencyCreated(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0b7d3f7e-9c1a-4d2e-8f60-5a4b3c2d1e0f",
                    "name": "Thames Valley Police",
                    "api_key": "hxa_3q2-7wZ…",
                }
            ]
        }
    )

    id: uuid.UUID
    name: str
    api_key: str = Field(description="Shown once; send it as the X-API-Key header")


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

    fcm_token: Annotated[str, AfterValidator(_fits_token_index)] = Field(min_length=1)
    platform: Platform
    locale: LanguageTag
    test_device: bool = Field(
        False,
        description="Opt in to Test and Exercise notices (as WEA's test-alert setting); "
        "Actual notices reach every device either way",
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
    device_id: uuid.UUID = Field(description="The reporting app install, to group its reports")
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


# --- operator accounts -------------------------------------------------------------------

Email = Annotated[
    str,
    Field(
        max_length=254,
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        examples=["ana.lima@hexcast.example"],
    ),
    AfterValidator(str.lower),
]
# NIST SP 800-63B: length, not composition rules; spaces are kept, as typed.
Password = Annotated[str, StringConstraints(strip_whitespace=False, min_length=12, max_length=256)]
GivenPassword = Annotated[
    str, StringConstraints(strip_whitespace=False, min_length=1, max_length=256)
]
DisplayName = Annotated[str, Field(min_length=1, max_length=200)]


class OperatorLogin(Request):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"email": "ana.lima@hexcast.example", "password": "correct horse battery"}]
        }
    )

    email: Email
    password: GivenPassword


_OPERATOR_EXAMPLE: dict[str, Any] = {
    "id": _OPERATOR_ID_EXAMPLE,
    "email": "ana.lima@hexcast.example",
    "display_name": "Ana Lima",
    "role": "reviewer",
    "active": True,
    "created_at": "2026-11-23T08:00:00Z",
}


class OperatorOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_OPERATOR_EXAMPLE]})

    id: uuid.UUID
    email: str
    display_name: str
    role: OperatorRole
    active: bool
    created_at: datetime

    @classmethod
    def from_operator(cls, operator: Operator) -> "OperatorOut":
        return cls(
            id=operator.id,
            email=operator.email,
            display_name=operator.display_name,
            role=operator.role,
            active=operator.active,
            created_at=operator.created_at,
        )


class OperatorSessionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "token": "hxo_Qm9…",
                    "expires_at": "2026-11-23T20:00:00Z",
                    "operator": _OPERATOR_EXAMPLE,
                }
            ]
        }
    )

    token: str = Field(description="Shown once; send it as `Authorization: Bearer <token>`")
    expires_at: datetime
    operator: OperatorOut


class OperatorCreate(Request):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "email": "ana.lima@hexcast.example",
                    "display_name": "Ana Lima",
                    "role": "reviewer",
                    "password": "a long initial passphrase",
                }
            ]
        }
    )

    email: Email
    display_name: DisplayName
    role: OperatorRole
    password: Password


class OperatorUpdate(Request):
    """Omitted fields stay as they are."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"role": "admin"}, {"active": False}]}
    )

    display_name: DisplayName | None = None
    role: OperatorRole | None = None
    active: bool | None = None


class PasswordChange(Request):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "current_password": "a long initial passphrase",
                    "new_password": "another long passphrase",
                }
            ]
        }
    )

    current_password: GivenPassword
    new_password: Password


# --- agencies and their keys -------------------------------------------------------------


class AgencyOut(BaseModel):
    id: uuid.UUID
    name: str
    created_at: datetime


class AgencyPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": _AGENCY_ID_EXAMPLE,
                            "name": "Thames Valley Police",
                            "created_at": "2026-11-23T08:00:00Z",
                        }
                    ],
                    "total": 1,
                }
            ]
        }
    )

    items: list[AgencyOut]
    total: int


MAX_KEY_LIFETIME = timedelta(days=3653)
"""Ten years: a key meant to last longer needs no `expires_at`. Unbounded, a time such as
9999-12-31T23:59-05:00 is stored (year 10000 in UTC) and no later read can load the key."""


def _future(value: datetime) -> datetime:
    now = datetime.now(UTC)
    if value <= now:
        raise ValueError("must be in the future")
    if value > now + MAX_KEY_LIFETIME:
        raise ValueError("must be within ten years; leave it out for a key that does not expire")
    return value


class AgencyKeyCreate(Request):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"scopes": ["notices:read"], "label": "dashboard", "expires_at": None},
                {"scopes": ["notices:read", "notices:write"], "label": "dispatch system"},
            ]
        }
    )

    scopes: list[KeyScope] = Field(
        min_length=1, max_length=len(KeyScope), description="What the key may do"
    )
    label: str | None = Field(None, min_length=1, max_length=100)
    expires_at: Annotated[AwareDatetime, AfterValidator(_future)] | None = Field(
        None, description="The key stops working then; none: until revoked"
    )

    @field_validator("scopes")
    @classmethod
    def _distinct(cls, scopes: list[KeyScope]) -> list[KeyScope]:
        if len(set(scopes)) != len(scopes):
            raise ValueError("must not repeat a scope")
        return scopes


class AgencyKeyOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "5c4b3a29-1807-4f6e-9d5c-4b3a29180706",
                    "agency_id": _AGENCY_ID_EXAMPLE,
                    "prefix": "hxa_3q2-7wZk",
                    "label": "dispatch system",
                    "scopes": ["notices:read", "notices:write"],
                    "created_at": "2026-11-23T08:00:00Z",
                    "expires_at": None,
                    "revoked_at": None,
                }
            ]
        }
    )

    id: uuid.UUID
    agency_id: uuid.UUID
    prefix: str = Field(description="The key's first characters, to tell keys apart")
    label: str | None
    scopes: list[KeyScope]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def from_key(cls, key: AgencyKey) -> "AgencyKeyOut":
        return cls(
            id=key.id,
            agency_id=key.agency_id,
            prefix=key.prefix,
            label=key.label,
            scopes=[KeyScope(s) for s in key.scopes],
            created_at=key.created_at,
            expires_at=key.expires_at,
            revoked_at=key.revoked_at,
        )


class AgencyKeyCreated(AgencyKeyOut):
    api_key: str = Field(description="Shown once; send it as the X-API-Key header")


class KeyRotation(Request):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"overlap_hours": 24}, {"overlap_hours": 0}]}
    )

    overlap_hours: float = Field(
        24, ge=0, le=720, description="How long the old key keeps working (default 24 h)"
    )
    label: str | None = Field(None, min_length=1, max_length=100)


class KeyRotated(BaseModel):
    old: AgencyKeyOut = Field(description="The rotated key, with the time it stops working")
    new: AgencyKeyCreated


# --- audit -------------------------------------------------------------------------------


class AuditEventOut(BaseModel):
    id: int
    at: datetime
    actor_type: ActorType
    actor_id: uuid.UUID | None
    action: str
    notice_id: uuid.UUID | None
    details: dict[str, Any]

    @classmethod
    def from_event(cls, event: AuditEvent) -> "AuditEventOut":
        return cls(
            id=event.id,
            at=event.at,
            actor_type=event.actor_type,
            actor_id=event.actor_id,
            action=event.action,
            notice_id=event.notice_id,
            details=event.details,
        )


class AuditPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": 42,
                            "at": "2026-11-23T08:31:00Z",
                            "actor_type": "operator",
                            "actor_id": _OPERATOR_ID_EXAMPLE,
                            "action": "notice.approved",
                            "notice_id": "6f1c2a0e-5b7d-4c1e-9a43-1b2f3c4d5e6f",
                            "details": {"radius_km": 3, "expires_at": "2026-11-26T08:31:00Z"},
                        }
                    ],
                    "total": 1,
                }
            ]
        }
    )

    items: list[AuditEventOut]
    total: int


class OutcomeStats(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "by_status": {"active": 3, "found": 41, "cancelled": 4, "expired": 9},
                    "found_rate": 0.759,
                    "median_hours_to_found": 5.5,
                }
            ]
        }
    )

    by_status: dict[NoticeStatus, int]
    found_rate: float | None = Field(
        description="Found among the approved notices that ended (found, cancelled, expired); "
        "notices rejected or cancelled before approval never went out and do not count"
    )
    median_hours_to_found: float | None = Field(description="From approval to found")


class ErrorOut(BaseModel):
    detail: str
    code: str


def error_responses(*codes: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI entries for the domain errors an endpoint can answer with."""
    text = {
        401: "No credential, or an unknown one",
        403: "A valid credential of another role",
        404: "No such resource for this caller",
        409: "Conflicts with the resource's current state",
        429: "Too many requests; Retry-After says when to try again",
    }
    return {code: {"model": ErrorOut, "description": text[code]} for code in codes}
