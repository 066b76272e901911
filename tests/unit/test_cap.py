"""CAP 1.2 reading, mapping and writing, without servers: the standard's appendix examples,
area conversion (CAP writes latitude first, GeoJSON longitude first), languages, references,
unsafe XML, and every exported document checked against the OASIS schema."""

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from alerts.cap import atom, mapping, messages, reading, writing
from kit.models import CapStatus, Notice, NoticeStatus, Sex

ROOT = Path(__file__).resolve().parents[2]
APPENDIX = ROOT / "docs" / "cap"
EXAMPLE = (ROOT / "alerts" / "cap" / "resources" / "cap-missing-person-example.xml").read_bytes()
ATOM_SCHEMA = etree.RelaxNG(etree.parse(str(ROOT / "tests" / "schemas" / "atom.rng")))
SENDER = "alerts@hexcast.example"


def appendix(name: str) -> bytes:
    return (APPENDIX / f"cap-1.2-appendix-{name}.xml").read_bytes()


def with_info(info: str, *, head: str = "", msg_type: str = "Alert", language: str = "") -> bytes:
    """A CAP alert with one info block, `info` being its elements after <certainty>, in the
    schema's order."""
    language = f"<language>{language}</language>" if language else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>T-1</identifier><sender>test@agency.example</sender>
  <sent>2026-11-23T08:40:00-00:00</sent><status>Actual</status><msgType>{msg_type}</msgType>
  <scope>Public</scope>{head}
  <info>{language}
    <category>Rescue</category><event>Missing person</event>
    <urgency>Immediate</urgency><severity>Severe</severity><certainty>Likely</certainty>
    {info}
  </info>
</alert>""".encode()


PERSON = """
    <onset>2026-11-23T08:15:00-00:00</onset>
    <description>Red coat.</description><contact>101</contact>
    <parameter><valueName>hexcast:personName</valueName><value>Lily Chen</value></parameter>
"""


def rejection(document: bytes) -> str:
    with pytest.raises(messages.CapRejected) as raised:
        mapping.notice_from_alert(reading.parse_alert(document))
    assert raised.value.status_code == 422
    return raised.value.detail


def valid_cap(document: bytes) -> Any:
    root = etree.fromstring(document)
    assert reading.schema_errors(root) == []
    return root


# The standard's appendix examples: each is valid CAP, and each is refused with its reason.


@pytest.mark.parametrize("name", ["a1", "a2", "a3", "a4"])
def test_the_appendix_examples_are_valid_cap(name: str) -> None:
    alert = reading.parse_alert(appendix(name))
    assert alert.scope == "Public"


@pytest.mark.parametrize(
    ("name", "category", "event"),
    [
        ("a1", "Security", "Homeland Security Advisory System Update"),
        ("a2", "Met", "SEVERE THUNDERSTORM"),
        ("a3", "Geo", "Earthquake"),
    ],
)
def test_appendix_alerts_that_are_not_missing_persons_are_refused(
    name: str, category: str, event: str
) -> None:
    alert = reading.parse_alert(appendix(name))
    with pytest.raises(messages.CapRejected) as raised:
        mapping.check_message(alert)
    [problem] = raised.value.problems
    assert f"category {category}, event {event!r}" in problem
    assert "missing-person alerts only" in problem


def test_the_appendix_amber_alert_is_refused_for_its_geocode_only_area() -> None:
    detail = rejection(appendix("a4"))
    assert (
        "area 'Los Angeles County' has only <geocode>s (SAME 006037): hexcast needs a "
        "<circle> or <polygon>"
    ) in detail
    assert "hexcast:personName" in detail
    assert "hexcast:lastSeenAt (or <onset>) is missing" in detail


def test_the_appendix_earthquake_update_references_its_alert() -> None:
    alert = reading.parse_alert(appendix("a3"))
    assert alert.msg_type == "Update"
    assert alert.references == (
        messages.Reference("trinet@caltech.edu", "TRI13970876.1", "2003-06-11T20:30:00-07:00"),
    )


# Mapping a missing-person alert


def test_the_example_becomes_a_notice_with_a_circle_and_a_polygon_in_geojson_order() -> None:
    imported = mapping.notice_from_alert(reading.parse_alert(EXAMPLE))
    notice = imported.notice
    assert notice.person.name == "Lily Chen"
    assert notice.person.age == 7
    assert notice.person.sex == Sex.FEMALE
    assert notice.person.description.startswith("Red coat")
    assert str(notice.person.photo_url) == "https://met.police.example/photos/4411.jpg"
    assert (notice.last_seen.lat, notice.last_seen.lon) == (51.5007, -0.1246)
    assert notice.last_seen.at == datetime(2026, 11, 23, 8, 15, tzinfo=UTC)
    assert notice.last_seen.place == "Westminster Bridge, south end"
    assert notice.contact == "Metropolitan Police, 101, case 4411/23"
    assert notice.language == "en-GB"
    assert notice.radius_km is None
    assert notice.areas is not None
    circle, polygon = (area.model_dump(exclude_none=True) for area in notice.areas)
    assert circle == {"type": "circle", "lat": 51.5007, "lon": -0.1246, "radius_km": 3.0}
    assert polygon["geometry"]["coordinates"][0][:2] == [[-0.115, 51.5], [-0.1, 51.5]]
    assert imported.notice.cap_status == CapStatus.ACTUAL


def test_every_language_becomes_a_text_and_the_first_fills_the_notice() -> None:
    imported = mapping.notice_from_alert(reading.parse_alert(EXAMPLE))
    assert set(imported.texts) == {"en-GB", "fr-FR"}
    assert imported.texts["fr-FR"]["headline"].startswith("Enfant disparue")
    assert imported.texts["fr-FR"]["description"].startswith("Manteau rouge")
    assert imported.texts["en-GB"]["description"] == imported.notice.person.description


def test_a_polygon_is_read_latitude_first() -> None:
    document = with_info(
        PERSON + "<parameter><valueName>hexcast:lastSeenPoint</valueName><value>10.2,20.5</value>"
        "</parameter><area><areaDesc>Box</areaDesc>"
        "<polygon>10,20 10,21 11,21 10,20</polygon></area>"
    )
    notice = mapping.notice_from_alert(reading.parse_alert(document)).notice
    assert notice.areas is not None
    [polygon] = notice.areas
    assert polygon.model_dump()["geometry"]["coordinates"] == [
        [[20.0, 10.0], [21.0, 10.0], [21.0, 11.0], [20.0, 10.0]]
    ]
    assert (notice.last_seen.lat, notice.last_seen.lon) == (10.2, 20.5)


def test_one_circle_round_the_last_seen_place_is_a_radius_notice() -> None:
    document = with_info(
        PERSON + "<area><areaDesc>Town</areaDesc><circle>10,20 4.5</circle></area>"
    )
    notice = mapping.notice_from_alert(reading.parse_alert(document)).notice
    assert notice.radius_km == 4.5 and notice.areas is None
    assert (notice.last_seen.lat, notice.last_seen.lon) == (10.0, 20.0)
    assert notice.last_seen.place == "Town"


@pytest.mark.parametrize(
    ("area", "reason"),
    [
        ("<circle>10,20 0</circle>", "has radius 0, a point that reaches no device"),
        ("<circle>10,20 -2</circle>", "has a negative radius"),
        ("<circle>10,20 NaN</circle>", "the radius 'NaN' is not a number"),
        ("<circle>10,20 -inf</circle>", "the radius '-inf' is not a number"),
        ("<circle>10,20 wide</circle>", "the radius 'wide' is not a number"),
        ("<circle>10,20</circle>", "is not 'latitude,longitude radius'"),
        ("<circle>95,20 3</circle>", "outside latitude -90..90"),
        ("<circle>10,20 900</circle>", "less than or equal to 500"),
        ("<polygon>10,20 10,21 11,21 10,20.5</polygon>", "first and last points must be equal"),
        ("<polygon>10,20 10,21 10,20</polygon>", "at least 4 points"),
        ("<polygon>10;20 10,21 11,21 10;20</polygon>", "is not 'latitude,longitude'"),
        ("<polygon>0,0 1,1 0,1 1,0 0,0</polygon>", "Self-intersection"),
        ("<geocode><valueName>SAME</valueName><value>006037</value></geocode>", "<geocode>s"),
        ("", "has no <circle> or <polygon>"),
    ],
)
def test_areas_hexcast_cannot_target_are_refused_with_the_reason(area: str, reason: str) -> None:
    detail = rejection(
        with_info(
            PERSON
            + "<parameter><valueName>hexcast:lastSeenPoint</valueName><value>10,20</value>"
            + f"</parameter><area><areaDesc>The area</areaDesc>{area}</area>"
        )
    )
    assert reason in detail
    assert "'The area'" in detail


@pytest.mark.parametrize(("radius", "reason"), [("-2", "negative radius"), ("nan", "not a number")])
def test_a_bad_radius_is_the_only_problem_of_a_circle_standing_for_the_last_seen_place(
    radius: str, reason: str
) -> None:
    """The circle's centre is still the last-seen point: no second, misleading reason."""
    detail = rejection(
        with_info(PERSON + f"<area><areaDesc>Town</areaDesc><circle>10,20 {radius}</circle></area>")
    )
    assert reason in detail
    assert "radius 0" not in detail and "lastSeenPoint" not in detail


@pytest.mark.parametrize(
    ("written", "source"),
    [
        ("<headline>Missing\u0085child</headline><description>Red coat.", "<headline>"),
        ("<description>Red\u009bcoat.", "<description>"),
    ],
)
def test_wording_follows_the_text_policy(written: str, source: str) -> None:
    """XML has no C0 controls, but C1 controls pass the schema."""
    document = with_info(
        PERSON.replace("<description>Red coat.", written)
        + "<area><areaDesc>Town</areaDesc><circle>10,20 3</circle></area>"
    )
    detail = rejection(document)
    assert source in detail and "control characters" in detail


def test_an_info_without_an_area_is_refused() -> None:
    assert "has no <area>" in rejection(with_info(PERSON))


def test_everything_missing_is_reported_at_once() -> None:
    detail = rejection(with_info("<area><areaDesc>Town</areaDesc></area>"))
    for missing in (
        "hexcast:personName",
        "<description>",
        "<contact>",
        "hexcast:lastSeenPoint",
        "hexcast:lastSeenAt",
        "'Town' has no <circle> or <polygon>",
    ):
        assert missing in detail


@pytest.mark.parametrize(
    ("parameter", "reason"),
    [
        ("<valueName>hexcast:personAge</valueName><value>seven</value>", "hexcast:personAge"),
        ("<valueName>hexcast:personSex</valueName><value>robot</value>", "hexcast:personSex"),
        (
            "<valueName>hexcast:lastSeenAt</valueName><value>2999-01-01T00:00:00Z</value>",
            "must not be in the future",
        ),
        (
            "<valueName>hexcast:locationWindowHours</valueName><value>-1</value>",
            "hexcast:locationWindowHours",
        ),
    ],
)
def test_bad_parameters_are_named(parameter: str, reason: str) -> None:
    document = with_info(
        PERSON
        + f"<parameter>{parameter}</parameter>"
        + "<area><areaDesc>Town</areaDesc><circle>10,20 3</circle></area>"
    )
    assert reason in rejection(document)


@pytest.mark.parametrize(
    ("replace", "by", "reason"),
    [
        ("<scope>Public</scope>", "<scope>Restricted</scope><restriction>x</restriction>", "scope"),
        ("<status>Actual</status>", "<status>Draft</status>", "status Draft"),
        ("<status>Actual</status>", "<status>System</status>", "status System"),
        ("<msgType>Alert</msgType>", "<msgType>Ack</msgType>", "msgType Ack"),
        ("<identifier>T-1</identifier>", "<identifier>T 1</identifier>", "<identifier>"),
        ("<category>Rescue</category>", "<category>Fire</category>", "category Fire"),
    ],
)
def test_messages_hexcast_does_not_act_on_are_refused(replace: str, by: str, reason: str) -> None:
    document = with_info(PERSON + "<area><areaDesc>T</areaDesc><circle>10,20 3</circle></area>")
    assert replace.encode() in document
    assert reason in rejection(document.replace(replace.encode(), by.encode()))


@pytest.mark.parametrize("status", ["Exercise", "Test"])
def test_exercise_and_test_alerts_keep_their_status(status: str) -> None:
    document = with_info(
        PERSON + "<area><areaDesc>T</areaDesc><circle>10,20 3</circle></area>"
    ).replace(b"<status>Actual</status>", f"<status>{status}</status>".encode())
    assert mapping.notice_from_alert(reading.parse_alert(document)).notice.cap_status == CapStatus(
        status
    )


def test_two_infos_in_one_language_are_refused() -> None:
    info = EXAMPLE.split(b"<info>")[1].split(b"</info>")[0]
    document = EXAMPLE.replace(b"</alert>", b"<info>" + info + b"</info></alert>")
    assert "two <info> blocks in language en-gb" in rejection(document)


# References, Updates and Cancels


def test_references_are_whitespace_separated_triples() -> None:
    assert reading.parse_references(
        "a@x.example,ID-1,2026-11-23T08:00:00-00:00\n   b@y.example,ID-2,2026-11-23T09:00:00+01:00"
    ) == (
        messages.Reference("a@x.example", "ID-1", "2026-11-23T08:00:00-00:00"),
        messages.Reference("b@y.example", "ID-2", "2026-11-23T09:00:00+01:00"),
    )
    with pytest.raises(messages.CapRejected, match="is not 'sender,identifier,sent'"):
        reading.parse_references("a@x.example,ID-1")


def test_an_update_changes_description_photo_and_area_of_the_notice_language() -> None:
    head = "<references>test@agency.example,T-0,2026-11-23T08:30:00-00:00</references>"
    document = with_info(
        "<description>Now in a blue coat.</description>"
        "<resource><resourceDesc>Photo</resourceDesc><mimeType>image/png</mimeType>"
        "<uri>https://agency.example/new.png</uri></resource>"
        "<area><areaDesc>Wider</areaDesc><circle>10,20 8</circle></area>",
        head=head,
        msg_type="Update",
        language="en-GB",
    )
    update = mapping.changes_from_alert(
        reading.parse_alert(document), language="en-GB", last_seen=(10.0, 20.0)
    )
    assert update.changes.description == "Now in a blue coat."
    assert str(update.changes.photo_url) == "https://agency.example/new.png"
    assert update.changes.radius_km == 8 and update.changes.areas is None
    assert update.texts == {
        "en-GB": {"event": "Missing person", "description": "Now in a blue coat."}
    }


def test_an_update_or_cancel_needs_references() -> None:
    document = with_info("<description>x</description>", msg_type="Update")
    with pytest.raises(messages.CapRejected, match="needs <references>"):
        mapping.check_message(reading.parse_alert(document))


def test_an_update_that_changes_nothing_is_refused() -> None:
    head = "<references>test@agency.example,T-0,2026-11-23T08:30:00-00:00</references>"
    document = with_info("<headline>Still missing</headline>", head=head, msg_type="Update")
    with pytest.raises(messages.CapRejected, match="changes nothing"):
        mapping.changes_from_alert(reading.parse_alert(document), language="en", last_seen=(0, 0))


# Unsafe or broken documents


def test_a_doctype_is_refused_so_entities_cannot_expand() -> None:
    laughs = b"""<?xml version="1.0"?>
<!DOCTYPE alert [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&c;</identifier></alert>"""
    with pytest.raises(messages.CapMalformed, match="DOCTYPE"):
        reading.parse_alert(laughs)


def test_an_external_entity_is_not_read() -> None:
    external = b"""<?xml version="1.0"?>
<!DOCTYPE alert [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&secret;</identifier></alert>"""
    with pytest.raises(messages.CapMalformed) as raised:
        reading.parse_alert(external)
    assert "root:" not in raised.value.detail


def test_malformed_xml_is_refused_with_the_parser_message() -> None:
    with pytest.raises(messages.CapMalformed, match=r"malformed XML: .*line 2"):
        reading.parse_alert(b"<alert>\n<identifier></alert>")
    with pytest.raises(messages.CapMalformed):
        reading.parse_alert(b"")


def test_a_time_the_schema_takes_but_python_does_not_is_refused() -> None:
    midnight = EXAMPLE.replace(b"2026-11-23T08:40:00-00:00", b"2026-11-23T24:00:00-00:00")
    with pytest.raises(messages.CapRejected, match="<sent> '2026-11-23T24:00:00-00:00' is not"):
        reading.parse_alert(midnight)


def test_a_document_over_the_size_limit_is_refused_before_parsing() -> None:
    with pytest.raises(messages.CapTooLarge):
        reading.parse_alert(b" " * (messages.MAX_DOCUMENT_BYTES + 1))


def test_schema_errors_name_the_line() -> None:
    invalid = EXAMPLE.replace(b"<urgency>Immediate</urgency>", b"<urgency>Soon</urgency>", 1)
    with pytest.raises(messages.CapInvalid) as raised:
        reading.parse_alert(invalid)
    assert raised.value.status_code == 422
    assert "line 13:" in raised.value.detail and "Soon" in raised.value.detail
    with pytest.raises(messages.CapInvalid, match="root element"):
        reading.parse_alert(
            b'<valueName xmlns="urn:oasis:names:tc:emergency:cap:1.2">x</valueName>'
        )
    with pytest.raises(messages.CapInvalid, match="root element"):
        reading.parse_alert(b"<alert><identifier>x</identifier></alert>")


# Writing notices as CAP

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
HOLED_SQUARE = [
    [[2.30, 48.84], [2.38, 48.84], [2.38, 48.88], [2.30, 48.88], [2.30, 48.84]],
    [[2.33, 48.85], [2.35, 48.85], [2.35, 48.87], [2.33, 48.87], [2.33, 48.85]],
]
SPLIT_AT_180 = {
    "type": "MultiPolygon",
    "coordinates": [
        [[[179.7, -17.0], [180.0, -17.0], [180.0, -16.6], [179.7, -16.6], [179.7, -17.0]]],
        [[[-180.0, -17.0], [-179.8, -17.0], [-179.8, -16.6], [-180.0, -16.6], [-180.0, -17.0]]],
    ],
}


def notice(**overrides: Any) -> Notice:
    fields: dict[str, Any] = {
        "id": uuid.UUID("6f1c2a0e-5b7d-4c1e-9a43-1b2f3c4d5e6f"),
        "agency_id": uuid.uuid4(),
        "status": NoticeStatus.ACTIVE,
        "person_name": "Lily Chen",
        "person_age": 7,
        "person_sex": Sex.FEMALE,
        "person_description": "Red coat & yellow <backpack>.",
        "photo_url": "https://agency.example/photos/lily.png",
        "last_seen_lat": 51.5007,
        "last_seen_lon": -0.1246,
        "last_seen_at": NOW - timedelta(hours=2),
        "last_seen_place": "Westminster Bridge",
        "radius_km": 5.0,
        "target_areas": None,
        "location_window_hours": 24.0,
        "contact": "101, case 4411",
        "language": "en-GB",
        "created_at": NOW - timedelta(hours=1),
        "decided_at": NOW - timedelta(minutes=50),
        "decision_reason": None,
        "expires_at": NOW + timedelta(hours=72),
        "ended_at": None,
        "cap_status": CapStatus.ACTUAL,
        "texts": None,
        "revision": 0,
        "revised_at": None,
    }
    fields.update(overrides)
    return Notice(**fields)


def export(n: Notice) -> Any:
    return valid_cap(writing.alert_document(n, agency_name="Met Police", sender=SENDER))


def find(root: Any, path: str) -> list[str]:
    return [e.text for e in root.iterfind(path, {"c": messages.NS})]


def test_an_active_circle_notice_is_an_alert() -> None:
    root = export(notice())
    assert find(root, "c:identifier") == ["hexcast-6f1c2a0e-5b7d-4c1e-9a43-1b2f3c4d5e6f"]
    assert find(root, "c:sent") == ["2026-11-23T09:00:00-00:00"]
    assert find(root, "c:status") == ["Actual"]
    assert find(root, "c:msgType") == ["Alert"]
    assert find(root, "c:scope") == ["Public"]
    assert find(root, "c:info/c:category") == ["Rescue"]
    assert find(root, "c:info/c:event") == ["Missing person"]
    assert find(root, "c:info/c:description") == ["Red coat & yellow <backpack>."]
    assert find(root, "c:info/c:expires") == ["2026-11-26T10:00:00-00:00"]
    assert find(root, "c:info/c:area/c:circle") == ["51.5007,-0.1246 5"]
    assert find(root, "c:info/c:resource/c:mimeType") == ["image/png"]
    assert find(root, "c:references") == []


def test_drawn_areas_are_written_latitude_first_holes_left_out_and_parts_apart() -> None:
    root = export(
        notice(
            radius_km=None,
            target_areas=[
                {"type": "polygon", "geometry": {"type": "Polygon", "coordinates": HOLED_SQUARE}},
                {"type": "polygon", "geometry": SPLIT_AT_180},
                {"type": "circle", "lat": 59.9139, "lon": 10.7522, "radius_km": 2},
            ],
        )
    )
    polygons = find(root, "c:info/c:area/c:polygon")
    assert polygons[0] == "48.84,2.3 48.84,2.38 48.88,2.38 48.88,2.3 48.84,2.3"
    assert len(polygons) == 3, "the hole is not a polygon; each part of the split one is"
    assert polygons[2].startswith("-17,-180 ")
    assert find(root, "c:info/c:area/c:circle") == ["59.9139,10.7522 2"]
    assert len(find(root, "c:info/c:area")) == 3
    assert "Holes in the target polygons are not represented" in find(root, "c:note")[0]


def test_a_pending_notice_is_a_draft() -> None:
    root = export(notice(status=NoticeStatus.PENDING, decided_at=None, expires_at=None))
    assert find(root, "c:status") == ["Draft"]
    assert find(root, "c:info/c:expires") == []


def test_a_test_notice_keeps_its_status() -> None:
    assert find(export(notice(cap_status=CapStatus.TEST)), "c:status") == ["Test"]


def test_an_updated_notice_is_an_update_referencing_its_alert() -> None:
    root = export(notice(revision=2, revised_at=NOW))
    assert find(root, "c:msgType") == ["Update"]
    assert find(root, "c:identifier") == ["hexcast-6f1c2a0e-5b7d-4c1e-9a43-1b2f3c4d5e6f.2"]
    assert find(root, "c:sent") == ["2026-11-23T10:00:00-00:00"]
    assert find(root, "c:references") == [
        f"{SENDER},hexcast-6f1c2a0e-5b7d-4c1e-9a43-1b2f3c4d5e6f,2026-11-23T09:00:00-00:00"
    ]


def test_a_cancelled_notice_is_a_cancel_referencing_alert_and_last_update() -> None:
    root = export(
        notice(
            status=NoticeStatus.CANCELLED,
            ended_at=NOW + timedelta(hours=1),
            decision_reason="Found safe",
            revision=1,
            revised_at=NOW,
        )
    )
    assert find(root, "c:msgType") == ["Cancel"]
    assert find(root, "c:sent") == ["2026-11-23T11:00:00-00:00"]
    [references] = find(root, "c:references")
    assert len(references.split()) == 2
    assert "Found safe" in find(root, "c:note")[0]
    assert find(root, "c:info/c:urgency") == ["Past"]


def test_the_public_alert_rounds_the_point_and_leaves_the_decision_reason_out() -> None:
    reasoned = notice(last_seen_lat=51.500729, last_seen_lon=-0.124631, decision_reason="Tip #7")
    public = valid_cap(
        writing.alert_document(reasoned, agency_name="Met Police", sender=SENDER, public=True)
    )
    assert find(public, "c:info/c:area/c:circle") == ["51.501,-0.125 5.079"]
    assert "Tip #7" not in find(public, "c:note")[0]
    assert "Tip #7" in find(export(reasoned), "c:note")[0]


def test_one_info_per_language_the_notice_has_text_in() -> None:
    root = export(
        notice(
            texts={
                "en-GB": {"headline": "Missing child", "instruction": "Call 999"},
                "fr-FR": {"headline": "Enfant disparue", "description": "Manteau rouge."},
            }
        )
    )
    assert find(root, "c:info/c:language") == ["en-GB", "fr-FR"]
    assert find(root, "c:info/c:headline") == ["Missing child", "Enfant disparue"]
    assert find(root, "c:info/c:description") == ["Red coat & yellow <backpack>.", "Manteau rouge."]
    assert find(root, "c:info/c:instruction") == ["Call 999"]


def test_an_exported_notice_imports_as_the_same_notice() -> None:
    imported = mapping.notice_from_alert(reading.parse_alert(EXAMPLE))
    data = imported.notice
    assert data.areas is not None
    original = notice(
        person_description=data.person.description,
        photo_url=str(data.person.photo_url),
        last_seen_at=data.last_seen.at,
        last_seen_place=data.last_seen.place,
        radius_km=None,
        target_areas=[area.model_dump(mode="json", exclude_none=True) for area in data.areas],
        contact=data.contact,
        texts=imported.texts,
    )
    document = writing.alert_document(original, agency_name="Met", sender=SENDER)
    again = mapping.notice_from_alert(reading.parse_alert(document))
    assert again.notice.model_dump(exclude={"location_window_hours"}) == data.model_dump(
        exclude={"location_window_hours"}
    )
    assert again.texts == imported.texts


def test_cap_times_have_seconds_and_write_utc_as_minus_zero() -> None:
    assert writing.cap_time(datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC)) == (
        "2026-01-02T03:04:05-00:00"
    )


# The Atom feed


def test_the_feed_is_valid_atom_and_each_entry_holds_a_valid_cap_alert() -> None:
    entries = [
        atom.FeedEntry(
            notice=notice(id=uuid.uuid4(), person_name=name),
            agency_name="Met Police",
            cap_url=f"http://hexcast.test/v1/feed/notices/{name}/cap",
        )
        for name in ("Lily Chen", "Tom Li")
    ]
    document = atom.feed_document(
        entries, feed_url="http://hexcast.test/v1/feed/active.atom", sender=SENDER, now=NOW
    )
    feed = etree.fromstring(document)
    assert ATOM_SCHEMA.validate(feed), ATOM_SCHEMA.error_log
    ns = {"a": atom.ATOM_NS, "c": messages.NS}
    assert feed.find("a:author/a:name", ns).text == "hexcast"
    items = feed.findall("a:entry", ns)
    assert [e.find("a:title", ns).text for e in items] == [
        "Missing person: Lily Chen",
        "Missing person: Tom Li",
    ]
    for item in items:
        [alert] = item.find("a:content", ns)
        assert reading.schema_errors(alert) == []
        assert item.find("a:link[@rel='alternate']", ns).get("type") == messages.MEDIA_TYPE


def test_an_empty_feed_is_valid_atom() -> None:
    feed = etree.fromstring(atom.feed_document([], feed_url="urn:x", sender=SENDER, now=NOW))
    assert ATOM_SCHEMA.validate(feed), ATOM_SCHEMA.error_log
    assert feed.find(f"{{{atom.ATOM_NS}}}updated").text == "2026-11-23T10:00:00+00:00"
