"""Mapping a read CAP alert to hexcast's notices: what hexcast can take is a public
missing-person alert whose areas have a circle or polygon. Pure: no database, no HTTP; the
service applies the result."""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from alerts.cap.messages import (
    _FORBIDDEN_IN_IDS,
    _SOURCES,
    IMPORTED_MSG_TYPES,
    MAX_IDENTIFIER_CHARS,
    MISSING_PERSON_CATEGORIES,
    PARAM_AGE,
    PARAM_LAST_SEEN_AT,
    PARAM_LAST_SEEN_PLACE,
    PARAM_LAST_SEEN_POINT,
    PARAM_NAME,
    PARAM_SEX,
    PARAM_WINDOW,
    CapAlert,
    CapInfo,
    CapRejected,
    ImportedChanges,
    ImportedNotice,
    _Model,
)
from alerts.cap.reading import circle_parts, parse_circle, parse_point, parse_polygon
from alerts.fields import stored_text
from alerts.notices.schemas import NoticeCreate, NoticeUpdate
from kit.models import CapStatus


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
    if alert.note:
        try:
            stored_text(alert.note)
        except ValueError as error:
            problems.append(f"<note> {error}")
    for name, value in (("identifier", alert.identifier), ("sender", alert.sender)):
        if len(value) > MAX_IDENTIFIER_CHARS:
            problems.append(f"<{name}> is longer than {MAX_IDENTIFIER_CHARS} characters")
        if _FORBIDDEN_IN_IDS & set(value):
            problems.append(f"<{name}> must not contain spaces, commas, '<' or '&'")
        try:
            stored_text(value)
        except ValueError as error:
            problems.append(f"<{name}> {error}")
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
    """Every info block's wording, by language, under the text policy of every stored text."""
    texts = {}
    problems = []
    for info in alert.infos:
        fields = {
            "event": info.event,
            "headline": info.headline,
            "description": info.description,
            "instruction": info.instruction,
        }
        text = {}
        for key, value in fields.items():
            if not value:
                continue
            try:
                text[key] = stored_text(value)
            except ValueError as error:
                problems.append(f"info ({info.language}) <{key}>: {error}")
        texts[info.language] = text
    if problems:
        raise CapRejected(problems)
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
    """The centre of the first circle that has one, whatever its radius: a bad radius is
    reported by _targets, and must not also make the last-seen point look missing."""
    for area in info.areas:
        for text in area.circles:
            try:
                return circle_parts(text, area=area.description)[0]
            except CapRejected:
                continue  # _targets reports it
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
        parse_point(point_text, where=f"<parameter> {PARAM_LAST_SEEN_POINT}")
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
