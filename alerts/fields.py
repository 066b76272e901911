"""Field types and limits shared by every subject's request and response bodies.

Requests forbid unknown fields, so a client cannot smuggle `status` or `agency_id` into a
notice; every text follows one policy (`stored_text`) and URLs are measured as stored."""

import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, ClassVar

from annotated_types import MaxLen
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    ValidationInfo,
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


_KEPT_CONTROLS = frozenset("\t\n")

# Embeddings, overrides and isolates (Unicode TR 9): in a name they can make a pop-up or a
# feed entry read as a different name.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _refused(character: str) -> bool:
    """C0 and C1 controls other than tab and newline, lone surrogates (PostgreSQL cannot
    store them) and noncharacters (XML cannot carry U+FFFE and U+FFFF)."""
    if character in _KEPT_CONTROLS:
        return False
    code = ord(character)
    return (
        unicodedata.category(character) in ("Cc", "Cs")
        or 0xFDD0 <= code <= 0xFDEF
        or code & 0xFFFE == 0xFFFE
    )


def stored_text(value: str) -> str:
    """The one policy for text that is stored: line ends as newlines, NFC, and no character
    that a generator (XML, JSON, a push payload, a log line) cannot carry."""
    _no_nul(value)
    text = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))
    bad = next((c for c in text if _refused(c)), None)
    if bad is not None:
        raise ValueError(f"must not contain control characters (found U+{ord(bad):04X})")
    return text


def no_bidi_controls(value: str) -> str:
    bad = next((c for c in value if c in BIDI_CONTROLS), None)
    if bad is not None:
        raise ValueError(
            "must not contain bidirectional override or isolate characters "
            f"(found U+{ord(bad):04X})"
        )
    return value


def _no_nul(value: Any) -> Any:
    """PostgreSQL text cannot hold NUL characters: refused here, not a 500 there."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _text_if_string(value: Any) -> Any:
    return stored_text(value) if isinstance(value, str) else value


StoredText = Annotated[str, BeforeValidator(_text_if_string)]
"""A string outside a request body (a query parameter) that reaches the database."""

Name = Annotated[str, AfterValidator(no_bidi_controls)]
"""A person's, agency's or operator's name, which pop-ups, feeds and consoles show."""


class Verbatim:
    """Marks a field kept exactly as sent (a password, which is hashed, never shown): it only
    refuses NUL."""


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
    """Every string field follows `stored_text` unless marked `Verbatim`; a field's
    max_length is checked again once normalised, so that lengths are counted as stored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    _verbatim: ClassVar[frozenset[str]] = frozenset()
    _max_lengths: ClassVar[dict[str, int]] = {}

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        fields = cls.model_fields.items()
        cls._verbatim = frozenset(
            name for name, field in fields if any(isinstance(m, Verbatim) for m in field.metadata)
        )
        cls._max_lengths = {
            name: m.max_length
            for name, field in fields
            for m in field.metadata
            if isinstance(m, MaxLen)
        }

    @field_validator("*")
    @classmethod
    def _text_policy(cls, value: Any, info: ValidationInfo) -> Any:
        if type(value) is not str:  # a str enum member is a choice, not text
            return value
        if info.field_name in cls._verbatim:
            return _no_nul(value)
        text = stored_text(value)
        limit = cls._max_lengths.get(info.field_name or "")
        if limit is not None and len(text) > limit:
            raise ValueError(f"must have at most {limit} characters once normalised (NFC)")
        return text


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
