"""Writing notices as CAP 1.2 documents, valid against the OASIS schema. Pure: the caller
loads the notice and its agency."""

import mimetypes
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from alerts.cap.messages import (
    CATEGORY,
    EVENT,
    NS,
    PARAM_AGE,
    PARAM_LAST_SEEN_AT,
    PARAM_LAST_SEEN_PLACE,
    PARAM_LAST_SEEN_POINT,
    PARAM_NAME,
    PARAM_NOTICE_STATUS,
    PARAM_SEX,
    PARAM_WINDOW,
    qualified,
)
from alerts.notices.lifecycle import APPROVED, ENDED, IDENTITY_WITHHELD
from kit.models import Notice, NoticeStatus

FOUND_HEADLINE = f"{EVENT}: found"
FOUND_DESCRIPTION = "The person this alert was about has been found. Thank you for looking."


def cap_time(value: datetime) -> str:
    """CAP's date-time: seconds, a numeric offset, and UTC written -00:00 (CAP 1.2, 3.3.2)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S-00:00")


def _number(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _cap_point(lat: float, lon: float) -> str:
    return f"{_number(lat)},{_number(lon)}"


PUBLIC_POINT_DECIMALS = 3
"""The last-seen point in public outputs: about 100 m, a neighbourhood, since the exact point
may be someone's home."""

ROUNDING_SHIFT_KM = 0.079
"""How far rounding to PUBLIC_POINT_DECIMALS moves a point at most: half a thousandth of a
degree on each axis, 55.7 m at most, so under 79 m on the diagonal. A public circle around
the rounded point grows by it, and still covers the whole area."""


def _last_seen(notice: Notice, *, public: bool) -> tuple[float, float]:
    if not public:
        return notice.last_seen_lat, notice.last_seen_lon
    return (
        round(notice.last_seen_lat, PUBLIC_POINT_DECIMALS),
        round(notice.last_seen_lon, PUBLIC_POINT_DECIMALS),
    )


def identifier_of(notice: Notice) -> str:
    """The identifier of the notice's first CAP message; updates append their revision."""
    return f"hexcast-{notice.id}"


def message_type(notice: Notice) -> str:
    if notice.status == NoticeStatus.CANCELLED:
        return "Cancel"
    return "Update" if notice.revision else "Alert"


def _sub(parent: Any, name: str, text: str | None = None) -> Any:
    element = etree.SubElement(parent, qualified(name))
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


def _areas(info: Any, notice: Notice, *, public: bool) -> bool:
    """Add the notice's target as <area>s; returns whether a polygon hole was left out."""
    place = notice.last_seen_place
    if not notice.target_areas:
        assert notice.radius_km is not None
        area = _sub(info, "area")
        _sub(area, "areaDesc", f"Within {_number(notice.radius_km)} km of {place}")
        radius = notice.radius_km + (ROUNDING_SHIFT_KM if public else 0)
        centre = _cap_point(*_last_seen(notice, public=public))
        _sub(area, "circle", f"{centre} {_number(radius)}")
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
    public: bool,
) -> bool:
    info = _sub(alert, "info")
    _sub(info, "language", language)
    _sub(info, "category", CATEGORY)
    withheld = notice.status in IDENTITY_WITHHELD
    _sub(info, "event", EVENT if withheld else text.get("event") or EVENT)
    _sub(info, "urgency", "Past" if notice.status in ENDED else "Immediate")
    _sub(info, "severity", "Severe")
    _sub(info, "certainty", "Likely")
    _sub(info, "onset", cap_time(notice.last_seen_at))
    if notice.expires_at is not None:
        _sub(info, "expires", cap_time(notice.expires_at))
    _sub(info, "senderName", agency_name)
    if withheld:
        _sub(info, "headline", FOUND_HEADLINE)
        _sub(info, "description", FOUND_DESCRIPTION)
    else:
        _sub(info, "headline", text.get("headline") or f"{EVENT}: {notice.person_name}")
        _sub(info, "description", description)
        if text.get("instruction"):
            _sub(info, "instruction", text["instruction"])
    _sub(info, "contact", notice.contact)
    person = [
        (PARAM_NAME, notice.person_name),
        (PARAM_AGE, None if notice.person_age is None else str(notice.person_age)),
        (PARAM_SEX, str(notice.person_sex)),
    ]
    parameters = [
        *([] if withheld else person),
        (PARAM_LAST_SEEN_AT, cap_time(notice.last_seen_at)),
        (PARAM_LAST_SEEN_PLACE, notice.last_seen_place),
        (PARAM_LAST_SEEN_POINT, _cap_point(*_last_seen(notice, public=public))),
        (PARAM_WINDOW, _number(notice.location_window_hours)),
        (PARAM_NOTICE_STATUS, str(notice.status)),
    ]
    for name, value in parameters:
        if value is not None:
            _pair(info, "parameter", name, value)
    if notice.photo_url and not withheld:
        resource = _sub(info, "resource")
        _sub(resource, "resourceDesc", "Photo of the missing person")
        _sub(resource, "mimeType", mimetypes.guess_type(notice.photo_url)[0] or "image/jpeg")
        _sub(resource, "uri", notice.photo_url)
    return _areas(info, notice, public=public)


def alert_element(notice: Notice, *, agency_name: str, sender: str, public: bool = False) -> Any:
    """The notice as a CAP 1.2 <alert>: an Alert, an Update once the agency changed it, a
    Cancel once cancelled. A notice not approved (pending or rejected) is a Draft, which CAP
    consumers do not act on. One <info> per language the notice has text in, its own first.
    `public` writes it for anyone (the feed): the last-seen point rounded to about 100 m and
    no decision reason, which operators and agencies write for each other."""
    msg_type = message_type(notice)
    alert = etree.Element(qualified("alert"), nsmap={None: NS})
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
    _sub(alert, "status", str(notice.cap_status) if notice.status in APPROVED else "Draft")
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
        public=public,
    )
    # The agency's translations may name the person too.
    for language, text in [] if notice.status in IDENTITY_WITHHELD else sorted(texts.items()):
        _info_block(
            alert,
            notice,
            language=language,
            text=text,
            description=text.get("description") or notice.person_description,
            agency_name=agency_name,
            public=public,
        )
    notes = [note.text]
    if notice.decision_reason and notice.status not in IDENTITY_WITHHELD and not public:
        notes.append(f"Reason: {notice.decision_reason}")
    if holes:
        notes.append("Holes in the target polygons are not represented: CAP polygons have none.")
    note.text = " ".join(notes)
    return alert


def alert_document(notice: Notice, *, agency_name: str, sender: str, public: bool = False) -> bytes:
    return bytes(
        etree.tostring(
            alert_element(notice, agency_name=agency_name, sender=sender, public=public),
            xml_declaration=True,
            encoding="UTF-8",
            pretty_print=True,
        )
    )
