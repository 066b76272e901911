"""OASIS CAP 1.2: reading the alerts agencies post, and writing notices as CAP documents.

Reading is safe for untrusted input: lxml with no DTD (a DOCTYPE is refused), no entity
expansion, no network access and a size limit, and every document is validated against the
OASIS schema before anything is read from it. lxml rather than defusedxml because schema
validation needs lxml anyway, and one parser is less to configure safely than two.

Mapping then decides what hexcast can take: a public missing-person alert whose areas have a
circle or polygon. Everything is pure: no database, no HTTP; the service applies the result.
"""

import mimetypes
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from lxml import etree
from pydantic import ValidationError

from alerts.errors import DomainError
from alerts.schemas import NoticeCreate, NoticeUpdate
from kit.models import CapStatus, Notice, NoticeStatus

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


# Reading


@lru_cache
def cap_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA_PATH)))


# A schema keeps its error log on itself: one validation at a time.
_SCHEMA_LOCK = threading.Lock()


def schema_errors(root: Any) -> list[str]:
    """The first problems the OASIS schema finds, as "line N: message"; none when valid."""
    schema = cap_schema()
    with _SCHEMA_LOCK:
        if schema.validate(root):
            return []
        return [f"line {e.line}: {e.message}" for e in list(schema.error_log)[:MAX_SCHEMA_ERRORS]]


def read_document(document: bytes) -> Any:
    """The root element of a well-formed, DTD-free XML document."""
    if len(document) > MAX_DOCUMENT_BYTES:
        raise CapTooLarge(f"a CAP document may have at most {MAX_DOCUMENT_BYTES} bytes")
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(document, parser=parser)
    except etree.XMLSyntaxError as error:
        raise CapMalformed(f"malformed XML: {error}") from None
    if root.getroottree().docinfo.doctype:
        raise CapMalformed("a DOCTYPE is not accepted: CAP needs no DTD")
    return root


def parse_alert(document: bytes) -> CapAlert:
    """Read and validate a CAP 1.2 document. Raises CapTooLarge, CapMalformed or CapInvalid."""
    root = read_document(document)
    if root.tag != f"{{{NS}}}alert":
        raise CapInvalid(f"the root element must be a CAP 1.2 <alert> in namespace {NS}")
    errors = schema_errors(root)
    if errors:
        raise CapInvalid("not a valid CAP 1.2 alert: " + "; ".join(errors))
    references = _text(root, "references")
    return CapAlert(
        identifier=_required(root, "identifier"),
        sender=_required(root, "sender"),
        sent=_time(_required(root, "sent"), "sent"),
        status=_required(root, "status"),
        msg_type=_required(root, "msgType"),
        scope=_required(root, "scope"),
        note=_text(root, "note"),
        references=parse_references(references) if references else (),
        infos=tuple(_info(element) for element in root.iterfind(_q("info"))),
    )


def parse_references(text: str) -> tuple[Reference, ...]:
    """CAP's `references`: whitespace-separated "sender,identifier,sent" triples."""
    references = []
    for triple in text.split():
        parts = triple.split(",")
        if len(parts) != 3 or not all(parts):
            raise CapRejected([f"reference {triple!r} is not 'sender,identifier,sent'"])
        references.append(Reference(*parts))
    return tuple(references)


def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


def _text(element: Any, name: str) -> str | None:
    child = element.find(_q(name))
    value = child.text.strip() if child is not None and child.text else ""
    return value or None


def _time(text: str, name: str) -> datetime:
    """A CAP date-time; the schema's pattern also lets a comma stand for the offset's sign."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise CapRejected([f"<{name}> {text!r} is not a date and time"]) from None


def _required(element: Any, name: str) -> str:
    value = _text(element, name)
    if value is None:
        raise CapRejected([f"<{name}> is empty"])
    return value


def _pairs(element: Any, name: str) -> tuple[tuple[str, str], ...]:
    return tuple(
        ((_text(child, "valueName") or ""), (_text(child, "value") or ""))
        for child in element.iterfind(_q(name))
    )


def _info(element: Any) -> CapInfo:
    onset = _text(element, "onset")
    return CapInfo(
        language=_text(element, "language") or "en-US",
        categories=tuple((c.text or "").strip() for c in element.iterfind(_q("category"))),
        event=_text(element, "event") or "",
        onset=_time(onset, "onset") if onset else None,
        headline=_text(element, "headline"),
        description=_text(element, "description"),
        instruction=_text(element, "instruction"),
        contact=_text(element, "contact"),
        parameters=_pairs(element, "parameter"),
        resources=tuple(
            CapResource(
                description=_text(r, "resourceDesc") or "",
                mime_type=_text(r, "mimeType") or "",
                uri=_text(r, "uri"),
            )
            for r in element.iterfind(_q("resource"))
        ),
        areas=tuple(_area(area) for area in element.iterfind(_q("area"))),
    )


def _area(element: Any) -> CapArea:
    return CapArea(
        description=" ".join((_text(element, "areaDesc") or "").split()),
        polygons=tuple((p.text or "").strip() for p in element.iterfind(_q("polygon"))),
        circles=tuple((c.text or "").strip() for c in element.iterfind(_q("circle"))),
        geocodes=_pairs(element, "geocode"),
    )


def _point(text: str, *, where: str) -> tuple[float, float]:
    """A CAP point: "latitude,longitude" (GeoJSON has them the other way round)."""
    try:
        lat_text, lon_text = text.split(",")
        lat, lon = float(lat_text), float(lon_text)
    except ValueError:
        raise CapRejected([f"{where}: {text!r} is not 'latitude,longitude'"]) from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise CapRejected([f"{where}: {text!r} is outside latitude -90..90, longitude -180..180"])
    return lat, lon


def parse_polygon(text: str, *, area: str) -> tuple[tuple[float, float], ...]:
    """CAP polygon: whitespace-separated "lat,lon" points, the first repeated as the last."""
    points = tuple(_point(pair, where=f"area {area!r}") for pair in text.split())
    if len(points) < 4:
        raise CapRejected([f"area {area!r}: a <polygon> needs at least 4 points"])
    if points[0] != points[-1]:
        raise CapRejected([f"area {area!r}: a <polygon>'s first and last points must be equal"])
    return points


def parse_circle(text: str, *, area: str) -> CapCircle:
    """CAP circle: "lat,lon radius", the radius in kilometres. A radius of 0 is CAP's way to
    give a point; a point reaches no device, so it is refused rather than widened silently."""
    try:
        centre, radius_text = text.split()
        radius = float(radius_text)
    except ValueError:
        raise CapRejected(
            [f"area {area!r}: <circle> {text!r} is not 'latitude,longitude radius'"]
        ) from None
    lat, lon = _point(centre, where=f"area {area!r}")
    if not radius > 0:
        raise CapRejected(
            [
                f"area {area!r}: <circle> {text!r} has radius 0, a point that reaches no "
                "device; give the radius in kilometres to alert within"
            ]
        )
    return CapCircle(lat=lat, lon=lon, radius_km=radius)


# Mapping CAP to hexcast


def check_message(alert: CapAlert) -> None:
    """What any message must be for hexcast to act on it, before its notice is looked up."""
    problems = []
    if alert.msg_type not in IMPORTED_MSG_TYPES:
        problems.append(
            f"msgType {alert.msg_type} is not acted on; hexcast takes Alert, Update and Cancel"
        )
    if alert.status not in set(CapStatus):
        problems.append(
            f"status {alert.status} is not for the public; hexcast takes Actual, Exercise and Test"
        )
    if alert.scope != "Public":
        problems.append(
            f"scope {alert.scope}: hexcast alerts the public, so it takes scope Public only"
        )
    for name, value in (("identifier", alert.identifier), ("sender", alert.sender)):
        if len(value) > MAX_IDENTIFIER_CHARS:
            problems.append(f"<{name}> is longer than {MAX_IDENTIFIER_CHARS} characters")
        if _FORBIDDEN_IN_IDS & set(value):
            problems.append(f"<{name}> must not contain spaces, commas, '<' or '&'")
    if alert.msg_type in ("Update", "Cancel") and not alert.references:
        problems.append(f"a {alert.msg_type} needs <references> naming the alert it changes")
    if alert.msg_type in ("Alert", "Update") and not alert.infos:
        problems.append(f"an {alert.msg_type} needs an <info> block")
    problems += _category_problems(alert.infos)
    languages = [info.language.lower() for info in alert.infos]
    for language in sorted({lang for lang in languages if languages.count(lang) > 1}):
        problems.append(f"two <info> blocks in language {language}: hexcast keeps one per language")
    if problems:
        raise CapRejected(problems)


def _category_problems(infos: Iterable[CapInfo]) -> list[str]:
    return [
        f"info {index} ({info.language}) is category {'/'.join(info.categories)}, event "
        f"{info.event!r}: hexcast broadcasts missing-person alerts only, which are category "
        f"{' or '.join(MISSING_PERSON_CATEGORIES)}"
        for index, info in enumerate(infos, 1)
        if not set(info.categories) & set(MISSING_PERSON_CATEGORIES)
    ]


def _default_info(alert: CapAlert, language: str | None = None) -> CapInfo:
    """The info in `language` when there is one, else the first."""
    if language is not None:
        for info in alert.infos:
            if info.language.lower() == language.lower():
                return info
    return alert.infos[0]


def texts_of(alert: CapAlert) -> dict[str, dict[str, str]]:
    """Every info block's wording, by language."""
    texts = {}
    for info in alert.infos:
        fields = {
            "event": info.event,
            "headline": info.headline,
            "description": info.description,
            "instruction": info.instruction,
        }
        texts[info.language] = {key: value for key, value in fields.items() if value}
    return texts


def _photo_url(info: CapInfo) -> str | None:
    return next(
        (r.uri for r in info.resources if r.uri and r.mime_type.lower().startswith("image/")),
        None,
    )


def _targets(
    info: CapInfo, last_seen: tuple[float, float] | None
) -> tuple[dict[str, Any], list[str], list[str]]:
    """The NoticeCreate target fields for the info's areas, a label per drawn area (to name
    it in errors), and the problems found. A single circle round the last-seen point is a
    radius notice, which can widen by an expansion schedule; anything else is drawn areas."""
    problems: list[str] = []
    if not info.areas:
        problems.append(
            f"info ({info.language}) has no <area>: hexcast needs a <circle> or <polygon> "
            "to find the devices to alert"
        )
    areas: list[dict[str, Any]] = []
    labels: list[str] = []
    for area in info.areas:
        if not (area.circles or area.polygons):
            if area.geocodes:
                codes = ", ".join(f"{name} {value}" for name, value in area.geocodes)
                problems.append(
                    f"area {area.description!r} has only <geocode>s ({codes}): hexcast needs a "
                    "<circle> or <polygon> to find the devices to alert"
                )
            else:
                problems.append(
                    f"area {area.description!r} has no <circle> or <polygon>: hexcast needs "
                    "one to find the devices to alert"
                )
            continue
        for number, text in enumerate(area.circles, 1):
            try:
                circle = parse_circle(text, area=area.description)
            except CapRejected as error:
                problems += error.problems
                continue
            labels.append(f"<circle> {number} of area {area.description!r}")
            areas.append(
                {
                    "type": "circle",
                    "lat": circle.lat,
                    "lon": circle.lon,
                    "radius_km": circle.radius_km,
                }
            )
        for number, text in enumerate(area.polygons, 1):
            try:
                ring = parse_polygon(text, area=area.description)
            except CapRejected as error:
                problems += error.problems
                continue
            labels.append(f"<polygon> {number} of area {area.description!r}")
            areas.append(
                {
                    "type": "polygon",
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [[[lon, lat] for lat, lon in ring]],
                    },
                }
            )
    only = areas[0] if len(areas) == 1 else None
    if only and only["type"] == "circle" and (only["lat"], only["lon"]) == last_seen:
        return {"radius_km": only["radius_km"]}, labels, problems
    return {"areas": areas}, labels, problems


def _first_circle_centre(info: CapInfo) -> tuple[float, float] | None:
    for area in info.areas:
        for text in area.circles:
            try:
                circle = parse_circle(text, area=area.description)
            except CapRejected:
                continue  # _targets reports it
            return circle.lat, circle.lon
    return None


def notice_from_alert(alert: CapAlert) -> ImportedNotice:
    """A new notice from an Alert. Raises CapRejected naming everything that is missing."""
    check_message(alert)
    info = _default_info(alert)
    problems: list[str] = []
    name = info.parameter(PARAM_NAME)
    if not name:
        problems.append(f"<parameter> {PARAM_NAME} (the missing person's name) is missing")
    if not info.description:
        problems.append("<description> (of the person, as the pop-up shows it) is missing")
    if not info.contact:
        problems.append("<contact> (whom to call with a sighting) is missing")

    point_text = info.parameter(PARAM_LAST_SEEN_POINT)
    last_seen = (
        _point(point_text, where=f"<parameter> {PARAM_LAST_SEEN_POINT}")
        if point_text
        else _first_circle_centre(info)
    )
    if last_seen is None:
        problems.append(
            f"<parameter> {PARAM_LAST_SEEN_POINT} ('latitude,longitude' of the last-seen "
            "place) is missing, and there is no <circle> whose centre could stand for it"
        )
    seen_at = info.parameter(PARAM_LAST_SEEN_AT) or (info.onset and info.onset.isoformat())
    if not seen_at:
        problems.append(f"<parameter> {PARAM_LAST_SEEN_AT} (or <onset>) is missing")
    place = info.parameter(PARAM_LAST_SEEN_PLACE) or next(
        (area.description for area in info.areas if area.description), None
    )
    targets, labels, area_problems = _targets(info, last_seen)
    problems += area_problems
    if problems:
        raise CapRejected(problems)

    assert last_seen is not None
    body: dict[str, Any] = {
        "person": {
            "name": name,
            "age": info.parameter(PARAM_AGE),
            "sex": (info.parameter(PARAM_SEX) or "unknown").lower(),
            "description": info.description,
            "photo_url": _photo_url(info),
        },
        "last_seen": {"lat": last_seen[0], "lon": last_seen[1], "at": seen_at, "place": place},
        "contact": info.contact,
        "language": info.language,
        "location_window_hours": info.parameter(PARAM_WINDOW),
        "cap_status": alert.status,
        **targets,
    }
    return ImportedNotice(notice=_validated(NoticeCreate, body, labels), texts=texts_of(alert))


def changes_from_alert(
    alert: CapAlert, *, language: str, last_seen: tuple[float, float]
) -> ImportedChanges:
    """The changes an Update makes to a notice in `language` last seen at `last_seen`: the
    description, photo and areas of its info in that language (else its first info)."""
    check_message(alert)
    info = _default_info(alert, language)
    body: dict[str, Any] = {}
    labels: list[str] = []
    if info.description:
        body["description"] = info.description
    photo = _photo_url(info)
    if photo:
        body["photo_url"] = photo
    if info.areas:
        targets, labels, problems = _targets(info, last_seen)
        if problems:
            raise CapRejected(problems)
        body.update(targets)
    if not body:
        raise CapRejected(["the Update changes nothing: give a <description>, photo or <area>"])
    return ImportedChanges(changes=_validated(NoticeUpdate, body, labels), texts=texts_of(alert))


def _validated(model: type[_Model], body: Mapping[str, Any], area_labels: Sequence[str]) -> _Model:
    try:
        return model.model_validate(body)
    except ValidationError as error:
        raise CapRejected(
            [_problem(e["loc"], e["msg"], area_labels) for e in error.errors()]
        ) from None


def _problem(loc: Sequence[int | str], message: str, area_labels: Sequence[str]) -> str:
    if loc and loc[0] == "areas" and len(loc) > 1 and isinstance(loc[1], int):
        return f"{area_labels[loc[1]]}: {message}"
    if tuple(loc) == ("radius_km",) and area_labels:
        return f"{area_labels[0]}: {message}"
    path = ".".join(str(part) for part in loc)
    return f"{_SOURCES.get(path, path or 'the alert')}: {message}"


# Writing hexcast notices as CAP


def cap_time(value: datetime) -> str:
    """CAP's date-time: seconds, a numeric offset, and UTC written -00:00 (CAP 1.2, 3.3.2)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S-00:00")


def _number(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _cap_point(lat: float, lon: float) -> str:
    return f"{_number(lat)},{_number(lon)}"


def identifier_of(notice: Notice) -> str:
    """The identifier of the notice's first CAP message; updates append their revision."""
    return f"hexcast-{notice.id}"


def message_type(notice: Notice) -> str:
    if notice.status == NoticeStatus.CANCELLED:
        return "Cancel"
    return "Update" if notice.revision else "Alert"


def _sub(parent: Any, name: str, text: str | None = None) -> Any:
    element = etree.SubElement(parent, _q(name))
    if text is not None:
        element.text = text
    return element


def _pair(parent: Any, name: str, value_name: str, value: str) -> None:
    element = _sub(parent, name)
    _sub(element, "valueName", value_name)
    _sub(element, "value", value)


def _rings(geometry: Mapping[str, Any]) -> tuple[list[list[list[float]]], bool]:
    """The outer rings of a GeoJSON Polygon or MultiPolygon, and whether it had holes: CAP
    polygons have none, so a hole is exported as part of the area (more devices, never
    fewer)."""
    polygons = (
        [geometry["coordinates"]]
        if geometry["type"] == "Polygon"
        else list(geometry["coordinates"])
    )
    return [polygon[0] for polygon in polygons], any(len(p) > 1 for p in polygons)


def _areas(info: Any, notice: Notice) -> bool:
    """Add the notice's target as <area>s; returns whether a polygon hole was left out."""
    place = notice.last_seen_place
    if not notice.target_areas:
        assert notice.radius_km is not None
        area = _sub(info, "area")
        _sub(area, "areaDesc", f"Within {_number(notice.radius_km)} km of {place}")
        _sub(
            area,
            "circle",
            f"{_cap_point(notice.last_seen_lat, notice.last_seen_lon)} {_number(notice.radius_km)}",
        )
        return False
    holes = False
    for number, stored in enumerate(notice.target_areas, 1):
        area = _sub(info, "area")
        _sub(area, "areaDesc", f"{place}: area {number}")
        if stored["type"] == "circle":
            _sub(
                area,
                "circle",
                f"{_cap_point(stored['lat'], stored['lon'])} {_number(stored['radius_km'])}",
            )
            continue
        rings, had_holes = _rings(stored["geometry"])
        holes = holes or had_holes
        for ring in rings:
            _sub(area, "polygon", " ".join(_cap_point(lat, lon) for lon, lat, *_ in ring))
    return holes


def _info_block(
    alert: Any,
    notice: Notice,
    *,
    language: str,
    text: Mapping[str, str],
    description: str,
    agency_name: str,
) -> bool:
    info = _sub(alert, "info")
    _sub(info, "language", language)
    _sub(info, "category", CATEGORY)
    _sub(info, "event", text.get("event") or EVENT)
    ended = notice.status in (NoticeStatus.CANCELLED, NoticeStatus.EXPIRED)
    _sub(info, "urgency", "Past" if ended else "Immediate")
    _sub(info, "severity", "Severe")
    _sub(info, "certainty", "Likely")
    _sub(info, "onset", cap_time(notice.last_seen_at))
    if notice.expires_at is not None:
        _sub(info, "expires", cap_time(notice.expires_at))
    _sub(info, "senderName", agency_name)
    _sub(info, "headline", text.get("headline") or f"{EVENT}: {notice.person_name}")
    _sub(info, "description", description)
    if text.get("instruction"):
        _sub(info, "instruction", text["instruction"])
    _sub(info, "contact", notice.contact)
    parameters = [
        (PARAM_NAME, notice.person_name),
        (PARAM_AGE, None if notice.person_age is None else str(notice.person_age)),
        (PARAM_SEX, str(notice.person_sex)),
        (PARAM_LAST_SEEN_AT, cap_time(notice.last_seen_at)),
        (PARAM_LAST_SEEN_PLACE, notice.last_seen_place),
        (PARAM_LAST_SEEN_POINT, _cap_point(notice.last_seen_lat, notice.last_seen_lon)),
        (PARAM_WINDOW, _number(notice.location_window_hours)),
        (PARAM_NOTICE_STATUS, str(notice.status)),
    ]
    for name, value in parameters:
        if value is not None:
            _pair(info, "parameter", name, value)
    if notice.photo_url:
        resource = _sub(info, "resource")
        _sub(resource, "resourceDesc", "Photo of the missing person")
        _sub(resource, "mimeType", mimetypes.guess_type(notice.photo_url)[0] or "image/jpeg")
        _sub(resource, "uri", notice.photo_url)
    return _areas(info, notice)


def alert_element(notice: Notice, *, agency_name: str, sender: str) -> Any:
    """The notice as a CAP 1.2 <alert>: an Alert, an Update once the agency changed it, a
    Cancel once cancelled. A notice not approved (pending or rejected) is a Draft, which CAP
    consumers do not act on. One <info> per language the notice has text in, its own first."""
    msg_type = message_type(notice)
    alert = etree.Element(_q("alert"), nsmap={None: NS})
    identifier = identifier_of(notice)
    if msg_type == "Update":
        identifier = f"{identifier}.{notice.revision}"
    elif msg_type == "Cancel":
        identifier = f"{identifier}.cancel"
    _sub(alert, "identifier", identifier)
    _sub(alert, "sender", sender)
    sent = {
        "Alert": notice.created_at,
        "Update": notice.revised_at,
        "Cancel": notice.ended_at,
    }[msg_type] or notice.created_at
    _sub(alert, "sent", cap_time(sent))
    approved = notice.status not in (NoticeStatus.PENDING, NoticeStatus.REJECTED)
    _sub(alert, "status", str(notice.cap_status) if approved else "Draft")
    _sub(alert, "msgType", msg_type)
    _sub(alert, "scope", "Public")
    note = _sub(alert, "note", f"hexcast notice {notice.id} is {notice.status}.")
    if msg_type != "Alert":
        references = [f"{sender},{identifier_of(notice)},{cap_time(notice.created_at)}"]
        if msg_type == "Cancel" and notice.revision and notice.revised_at:
            references.append(
                f"{sender},{identifier_of(notice)}.{notice.revision},{cap_time(notice.revised_at)}"
            )
        _sub(alert, "references", " ".join(references))
    texts = dict(notice.texts or {})
    own = texts.pop(notice.language, {})
    holes = _info_block(
        alert,
        notice,
        language=notice.language,
        text=own,
        description=notice.person_description,
        agency_name=agency_name,
    )
    for language, text in sorted(texts.items()):
        _info_block(
            alert,
            notice,
            language=language,
            text=text,
            description=text.get("description") or notice.person_description,
            agency_name=agency_name,
        )
    notes = [note.text]
    if notice.decision_reason:
        notes.append(f"Reason: {notice.decision_reason}")
    if holes:
        notes.append("Holes in the target polygons are not represented: CAP polygons have none.")
    note.text = " ".join(notes)
    return alert


def alert_document(notice: Notice, *, agency_name: str, sender: str) -> bytes:
    return bytes(
        etree.tostring(
            alert_element(notice, agency_name=agency_name, sender=sender),
            xml_declaration=True,
            encoding="UTF-8",
            pretty_print=True,
        )
    )
