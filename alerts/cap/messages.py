"""OASIS CAP 1.2 as hexcast reads and writes it: the namespace, limits, the missing-person
parameters, the errors of a refused document and the parsed alert's shape."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from alerts.errors import DomainError
from alerts.notices.schemas import NoticeCreate, NoticeUpdate

NS = "urn:oasis:names:tc:emergency:cap:1.2"

MEDIA_TYPE = "application/cap+xml"

SCHEMA_PATH = Path(__file__).with_name("resources") / "cap-1.2.xsd"

# A CAP alert is a few kilobytes; 5,000 polygon vertices in three languages stay well below.
MAX_DOCUMENT_BYTES = 1024 * 1024

MAX_SCHEMA_ERRORS = 5

MAX_IDENTIFIER_CHARS = 255

# CAP 1.2, 3.2.1: identifiers and senders hold no spaces, commas or restricted characters.
_FORBIDDEN_IN_IDS = frozenset(" \t\r\n,<&")

IMPORTED_MSG_TYPES = ("Alert", "Update", "Cancel")

MISSING_PERSON_CATEGORIES = ("Rescue", "Safety")

EVENT = "Missing person"

CATEGORY = "Rescue"

# Missing-person facts CAP has no element for travel as <parameter>s with these valueNames.
PARAM_NAME = "hexcast:personName"

PARAM_AGE = "hexcast:personAge"

PARAM_SEX = "hexcast:personSex"

PARAM_LAST_SEEN_AT = "hexcast:lastSeenAt"

PARAM_LAST_SEEN_PLACE = "hexcast:lastSeenPlace"

PARAM_LAST_SEEN_POINT = "hexcast:lastSeenPoint"

PARAM_WINDOW = "hexcast:locationWindowHours"

PARAM_NOTICE_STATUS = "hexcast:noticeStatus"

# Where each NoticeCreate / NoticeUpdate field comes from, to name it in an error.
_SOURCES = {
    "person.name": f"<parameter> {PARAM_NAME}",
    "person.age": f"<parameter> {PARAM_AGE}",
    "person.sex": f"<parameter> {PARAM_SEX}",
    "person.description": "<description>",
    "person.photo_url": "<resource> image <uri>",
    "photo_url": "<resource> image <uri>",
    "description": "<description>",
    "last_seen.lat": f"<parameter> {PARAM_LAST_SEEN_POINT} (or the <circle> centre)",
    "last_seen.lon": f"<parameter> {PARAM_LAST_SEEN_POINT} (or the <circle> centre)",
    "last_seen.at": f"<parameter> {PARAM_LAST_SEEN_AT} (or <onset>)",
    "last_seen.place": f"<parameter> {PARAM_LAST_SEEN_PLACE} (or <areaDesc>)",
    "location_window_hours": f"<parameter> {PARAM_WINDOW}",
    "contact": "<contact>",
    "language": "<language>",
}


def qualified(name: str) -> str:
    """A CAP element's name in lxml's {namespace}name form."""
    return f"{{{NS}}}{name}"


class CapTooLarge(DomainError):
    status_code = 413
    code = "cap_too_large"


class CapMalformed(DomainError):
    """Not well-formed XML, or XML with a DOCTYPE."""

    status_code = 400
    code = "cap_malformed"


class CapInvalid(DomainError):
    """Well-formed XML that is not a CAP 1.2 alert by the OASIS schema."""

    status_code = 422
    code = "cap_invalid"


class CapRejected(DomainError):
    """A valid CAP alert that hexcast cannot act on; the detail says why."""

    status_code = 422
    code = "cap_rejected"

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True, slots=True)
class Reference:
    """One of `references`' "sender,identifier,sent" triples."""

    sender: str
    identifier: str
    sent: str


@dataclass(frozen=True, slots=True)
class CapCircle:
    lat: float
    lon: float
    radius_km: float


@dataclass(frozen=True, slots=True)
class CapArea:
    """An <area> as written: its shapes are read when it is mapped, so that one message's
    problems are reported together."""

    description: str
    polygons: tuple[str, ...]
    circles: tuple[str, ...]
    geocodes: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class CapResource:
    description: str
    mime_type: str
    uri: str | None


@dataclass(frozen=True, slots=True)
class CapInfo:
    language: str
    categories: tuple[str, ...]
    event: str
    onset: datetime | None
    headline: str | None
    description: str | None
    instruction: str | None
    contact: str | None
    parameters: tuple[tuple[str, str], ...]
    resources: tuple[CapResource, ...]
    areas: tuple[CapArea, ...]

    def parameter(self, name: str) -> str | None:
        return next((value for key, value in self.parameters if key == name), None)


@dataclass(frozen=True, slots=True)
class CapAlert:
    identifier: str
    sender: str
    sent: datetime
    status: str
    msg_type: str
    scope: str
    note: str | None
    references: tuple[Reference, ...]
    infos: tuple[CapInfo, ...]


@dataclass(frozen=True, slots=True)
class ImportedNotice:
    notice: NoticeCreate
    texts: dict[str, dict[str, str]]


@dataclass(frozen=True, slots=True)
class ImportedChanges:
    changes: NoticeUpdate
    texts: dict[str, dict[str, str]]


_Model = TypeVar("_Model", NoticeCreate, NoticeUpdate)
