"""Notice bodies: what an agency submits and changes, what the API answers, the decisions
operators take, and the broadcast's figures."""

import uuid
from datetime import datetime
from typing import Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

from alerts.fields import (
    MAX_REASON_CHARS,
    LanguageTag,
    Latitude,
    Longitude,
    Name,
    PastTime,
    RadiusKm,
    Request,
    StoredUrl,
    WindowHours,
)
from alerts.notices.areas import POLYGON_AREA_EXAMPLE, Areas
from geo.regions import area_bounds, vertex_count
from kit.models import (
    CapStatus,
    DeliveryStatus,
    Notice,
    NoticeStatus,
    Sex,
)


class Person(Request):
    name: Name = Field(min_length=1, max_length=200)
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


class AreaSummary(BaseModel):
    """Where a drawn area lies, without its geometry: lists stay small however detailed the
    polygons are."""

    type: str = Field(description="circle or polygon")
    bounds: tuple[float, float, float, float] = Field(
        description="West, south, east, north (degrees, to about 100 m)"
    )
    radius_km: float | None = Field(None, description="A circle's radius")
    vertices: int | None = Field(None, description="A polygon's positions")

    @classmethod
    def of(cls, area: dict[str, Any]) -> "AreaSummary":
        if area["type"] == "circle":
            return cls(type="circle", bounds=area_bounds(area), radius_km=area["radius_km"])
        return cls(type="polygon", bounds=area_bounds(area), vertices=vertex_count(area))


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
    areas: list[dict[str, Any]] | None = Field(
        description="The drawn areas' geometry; null in lists, which give `area_summaries`"
    )
    area_summaries: list[AreaSummary] | None = Field(
        None, description="In lists: where each drawn area lies; read the notice for its shape"
    )
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
    def from_notice(cls, notice: Notice, *, summary: bool = False) -> "NoticeOut":
        """`summary`: for lists, the drawn areas summarised instead of whole."""
        areas = notice.target_areas
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
            radius_km=None if areas else notice.radius_km,
            areas=None if summary else areas,
            area_summaries=[AreaSummary.of(a) for a in areas] if summary and areas else None,
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
        json_schema_extra={
            "examples": [{"radius_km": 3, "lifetime_hours": 24}, {"areas": [POLYGON_AREA_EXAMPLE]}]
        }
    )

    radius_km: RadiusKm | None = Field(
        None, description="Overrides the agency's radius (circle notices only)"
    )
    areas: Areas | None = Field(
        None,
        description="Or target these drawn areas instead of the notice's circle or areas "
        "(drops its expansion schedule, which widens circles only)",
    )
    lifetime_hours: float | None = Field(None, gt=0, le=720, description="Default 72 h")

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if self.radius_km is not None and self.areas is not None:
            raise ValueError("give either radius_km or areas, not both")
        return self


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
                    "suppressed_by_reason": {},
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
    suppressed_by_reason: dict[str, int] = Field(
        description="Devices not alerted by their user's choice: PAUSED, or DAILY_CAP reached"
    )
    retrying: int = Field(description="Pending deliveries waiting to retry a retryable error")
    complete: bool = Field(
        description="Every part of the area was searched and no delivery is pending"
    )
    first_sent_after_s: float | None = Field(description="Seconds from approval to first push")
    last_sent_after_s: float | None = Field(description="Seconds from approval to latest push")


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


class PublicPerson(BaseModel):
    name: str
    age: int | None
    sex: Sex
    description: str
    photo_url: str | None


class PublicLastSeen(BaseModel):
    lat: float = Field(description="Rounded to 3 decimals (about 100 m)")
    lon: float = Field(description="Rounded to 3 decimals (about 100 m)")
    at: datetime
    place: str


class PublicNotice(BaseModel):
    """An approved notice as the app shows it to anyone."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "6f1c2a0e-5b7d-4c1e-9a43-1b2f3c4d5e6f",
                    "status": "active",
                    "cap_status": "Actual",
                    "person": {
                        "name": "Lily Chen",
                        "age": 7,
                        "sex": "female",
                        "description": "Red coat, yellow backpack.",
                        "photo_url": "https://agency.example/photos/lily.jpg",
                    },
                    "last_seen": {
                        "lat": 51.501,
                        "lon": -0.125,
                        "at": "2026-11-23T08:00:00Z",
                        "place": "Westminster Bridge",
                    },
                    "contact": "Police 101, case 4411",
                    "language": "en-GB",
                    "texts": {
                        "en-GB": {
                            "headline": "Missing person: Lily Chen",
                            "description": "Red coat, yellow backpack.",
                        }
                    },
                    "approved_at": "2026-11-23T08:25:00Z",
                    "expires_at": "2026-11-26T08:25:00Z",
                    "ended_at": None,
                    "revision": 0,
                }
            ]
        }
    )

    id: uuid.UUID
    status: NoticeStatus = Field(
        description="active; or found, cancelled or expired: the search is over"
    )
    cap_status: CapStatus = Field(description="Test and Exercise notices are drills")
    person: PublicPerson | None = Field(description="Null once found: the identity is withheld")
    last_seen: PublicLastSeen
    contact: str = Field(description="Whom to call with information")
    language: str = Field(description="The notice's own language")
    texts: dict[str, dict[str, str]] = Field(
        description="Wording by language (headline, description, instruction); empty once found"
    )
    approved_at: datetime | None
    expires_at: datetime | None
    ended_at: datetime | None
    revision: int
