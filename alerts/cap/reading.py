"""Reading the CAP alerts agencies post into `CapAlert` values (alerts.cap.mapping turns
them into notices).

Reading is safe for untrusted input: lxml with no DTD (a DOCTYPE is refused), no entity
expansion, no network access and a size limit, and every document is validated against the
OASIS schema before anything is read from it. lxml rather than defusedxml because schema
validation needs lxml anyway, and one parser is less to configure safely than two.
Pure: no database, no HTTP."""

import math
import threading
from datetime import datetime
from functools import lru_cache
from typing import Any

from lxml import etree

from alerts.cap.messages import (
    MAX_DOCUMENT_BYTES,
    MAX_SCHEMA_ERRORS,
    NS,
    SCHEMA_PATH,
    CapAlert,
    CapArea,
    CapCircle,
    CapInfo,
    CapInvalid,
    CapMalformed,
    CapRejected,
    CapResource,
    CapTooLarge,
    Reference,
    qualified,
)


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
        infos=tuple(_info(element) for element in root.iterfind(qualified("info"))),
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


def _text(element: Any, name: str) -> str | None:
    child = element.find(qualified(name))
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
        for child in element.iterfind(qualified(name))
    )


def _info(element: Any) -> CapInfo:
    onset = _text(element, "onset")
    return CapInfo(
        language=_text(element, "language") or "en-US",
        categories=tuple((c.text or "").strip() for c in element.iterfind(qualified("category"))),
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
            for r in element.iterfind(qualified("resource"))
        ),
        areas=tuple(_area(area) for area in element.iterfind(qualified("area"))),
    )


def _area(element: Any) -> CapArea:
    return CapArea(
        description=" ".join((_text(element, "areaDesc") or "").split()),
        polygons=tuple((p.text or "").strip() for p in element.iterfind(qualified("polygon"))),
        circles=tuple((c.text or "").strip() for c in element.iterfind(qualified("circle"))),
        geocodes=_pairs(element, "geocode"),
    )


def parse_point(text: str, *, where: str) -> tuple[float, float]:
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
    points = tuple(parse_point(pair, where=f"area {area!r}") for pair in text.split())
    if len(points) < 4:
        raise CapRejected([f"area {area!r}: a <polygon> needs at least 4 points"])
    if points[0] != points[-1]:
        raise CapRejected([f"area {area!r}: a <polygon>'s first and last points must be equal"])
    return points


def circle_parts(text: str, *, area: str) -> tuple[tuple[float, float], str]:
    try:
        centre, radius_text = text.split()
    except ValueError:
        raise CapRejected(
            [f"area {area!r}: <circle> {text!r} is not 'latitude,longitude radius'"]
        ) from None
    return parse_point(centre, where=f"area {area!r}"), radius_text


def parse_circle(text: str, *, area: str) -> CapCircle:
    """CAP circle: "lat,lon radius", the radius in kilometres. A radius of 0 is CAP's way to
    give a point; a point reaches no device, so it is refused rather than widened silently."""
    (lat, lon), radius_text = circle_parts(text, area=area)
    try:
        radius = float(radius_text)
    except ValueError:
        radius = math.nan
    if not math.isfinite(radius):
        raise CapRejected(
            [f"area {area!r}: <circle> {text!r}: the radius {radius_text!r} is not a number"]
        )
    if radius < 0:
        raise CapRejected(
            [
                f"area {area!r}: <circle> {text!r} has a negative radius; give the radius in "
                "kilometres to alert within"
            ]
        )
    if radius == 0:
        raise CapRejected(
            [
                f"area {area!r}: <circle> {text!r} has radius 0, a point that reaches no "
                "device; give the radius in kilometres to alert within"
            ]
        )
    return CapCircle(lat=lat, lon=lon, radius_km=radius)
