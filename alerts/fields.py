"""Field types and limits shared by every subject's request and response bodies.

Requests forbid unknown fields, so a client cannot smuggle `status` or `agency_id` into a
notice; stored text refuses NUL, and URLs are measured as stored."""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    field_validator,
)
from pydantic_core import PydanticCustomError

from geo.tallies import MAX_WINDOW_HOURS

MIN_RADIUS_KM = 0.1

MAX_RADIUS_KM = 500.0

Latitude = Annotated[float, Field(ge=-90, le=90, description="WGS 84 degrees")]

Longitude = Annotated[float, Field(ge=-180, le=180, description="WGS 84 degrees")]

RadiusKm = Annotated[float, Field(ge=MIN_RADIUS_KM, le=MAX_RADIUS_KM, description="Kilometres")]

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


def not_in_future(value: datetime) -> datetime:
    if value > datetime.now(UTC) + CLOCK_SKEW:
        raise ValueError("must not be in the future")
    if value < EARLIEST_TIME:
        raise ValueError("must not be before 1900")
    return value


PastTime = Annotated[AwareDatetime, AfterValidator(not_in_future)]


def fits_token_index(token: str) -> str:
    if len(token.encode()) > MAX_FCM_TOKEN_BYTES:
        raise ValueError(f"must be at most {MAX_FCM_TOKEN_BYTES} bytes")
    return token


def no_nul(value: str) -> str:
    """PostgreSQL text cannot hold NUL characters: refused here, not a 500 there."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


StoredText = Annotated[str, AfterValidator(no_nul)]
"""A string outside a request body (a query parameter) that reaches the database."""

MAX_URL_CHARS = 2048
"""The length of the columns URLs are stored in."""


def fits_url_column(url: HttpUrl) -> HttpUrl:
    """Measured once normalised: percent-encoding can make the stored URL several times
    longer than the text sent, and HttpUrl alone allows 2,083 characters."""
    if len(str(url)) > MAX_URL_CHARS:
        raise PydanticCustomError(
            "url_too_long",
            "URL should have at most {max_length} characters once percent-encoded",
            {"max_length": MAX_URL_CHARS},
        )
    return url


StoredUrl = Annotated[HttpUrl, AfterValidator(fits_url_column)]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        return no_nul(value) if isinstance(value, str) else value


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
