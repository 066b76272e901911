"""CAP 1.2 through the public API, with the real worker and the FCM sandbox: an agency posts
an Alert, an Update and a Cancel; devices in the areas get the pop-up, devices newly in the
updated area get it too; every exported document and the Atom feed validate; another agency
can neither read nor change the notice; the standard's appendix examples are refused."""

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from lxml import etree

from alerts.cap import messages
from geo.sphere import destination
from tests.conftest import ROOT, Sandbox, wait_until
from tests.helpers import create_agency, notice_body, register_device, report_location

ATOM = {"a": "http://www.w3.org/2005/Atom", "c": messages.NS}
ATOM_SCHEMA = etree.RelaxNG(etree.parse(str(ROOT / "tests" / "schemas" / "atom.rng")))
CAP_SCHEMA = etree.XMLSchema(
    etree.parse(str(ROOT / "alerts" / "cap" / "resources" / "cap-1.2.xsd"))
)
APPENDIX = ROOT / "docs" / "cap"
SENDER = "alerts@police.example"

BRIDGE = (51.5007, -0.1246)
GREENWICH = "51.470,-0.020 51.470,0.010 51.490,0.010 51.490,-0.020 51.470,-0.020"
DEVICES = {
    "near-bridge": destination(*BRIDGE, 500, 45),
    "in-greenwich": (51.48, -0.005),
    "bridge-4km": destination(*BRIDGE, 4_000, 200),
    "oxford": (51.752, -1.2577),
}


def cap_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S-00:00")


def cap_message(
    identifier: str,
    *,
    msg_type: str = "Alert",
    references: str | None = None,
    radius_km: float = 1,
    description: str = "Red coat, yellow backpack.",
    note: str | None = None,
    infos: bool = True,
) -> tuple[bytes, str]:
    """A missing-person CAP message (English and French) and its reference triple."""
    sent = cap_time(datetime.now(UTC))
    seen = cap_time(datetime.now(UTC) - timedelta(hours=1))
    areas = f"""
      <area><areaDesc>Westminster Bridge</areaDesc>
        <circle>{BRIDGE[0]},{BRIDGE[1]} {radius_km}</circle></area>
      <area><areaDesc>Greenwich Park</areaDesc><polygon>{GREENWICH}</polygon></area>"""
    info = """
    <info>
      <language>{language}</language><category>Rescue</category><event>{event}</event>
      <urgency>Immediate</urgency><severity>Severe</severity><certainty>Likely</certainty>
      <onset>{seen}</onset><headline>{headline}</headline>
      <description>{description}</description><contact>101, case 4411</contact>
      <parameter><valueName>hexcast:personName</valueName><value>Lily Chen</value></parameter>
      <parameter><valueName>hexcast:personSex</valueName><value>female</value></parameter>
      {areas}
    </info>"""
    english = info.format(
        language="en-GB",
        event="Missing person",
        seen=seen,
        headline="Missing child: Lily Chen",
        description=description,
        areas=areas,
    )
    french = info.format(
        language="fr-FR",
        event="Personne disparue",
        seen=seen,
        headline="Enfant disparue : Lily Chen",
        description="Manteau rouge.",
        areas=areas,
    )
    document = f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>{identifier}</identifier><sender>{SENDER}</sender><sent>{sent}</sent>
  <status>Actual</status><msgType>{msg_type}</msgType><scope>Public</scope>
  {f"<note>{note}</note>" if note else ""}
  {f"<references>{references}</references>" if references else ""}
  {english + french if infos else ""}
</alert>"""
    return document.encode(), f"{SENDER},{identifier},{sent}"


def post_cap(api: httpx.Client, headers: dict[str, str], document: bytes) -> httpx.Response:
    return api.post(
        "/v1/cap/alerts",
        content=document,
        headers={**headers, "Content-Type": "application/cap+xml"},
    )


def valid_cap(document: bytes) -> Any:
    root = etree.fromstring(document)
    assert CAP_SCHEMA.validate(root), CAP_SCHEMA.error_log
    return root


def exported(api: httpx.Client, headers: dict[str, str], notice_id: str) -> Any:
    response = api.get(f"/v1/notices/{notice_id}/cap", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/cap+xml"
    return valid_cap(response.content)


def feed_entries(api: httpx.Client) -> dict[str, Any]:
    """The Atom feed's entries by notice id, after checking the feed is valid Atom and each
    entry's inline CAP alert is valid CAP."""
    response = api.get("/v1/feed/active.atom")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/atom+xml"
    feed = etree.fromstring(response.content)
    assert ATOM_SCHEMA.validate(feed), ATOM_SCHEMA.error_log
    assert feed.find("a:author/a:name", ATOM) is not None
    entries = {}
    for entry in feed.findall("a:entry", ATOM):
        [alert] = entry.find("a:content", ATOM)
        assert CAP_SCHEMA.validate(alert), CAP_SCHEMA.error_log
        entries[entry.find("a:id", ATOM).text.removeprefix("urn:uuid:")] = entry
    return entries


def text_of(root: Any, path: str) -> list[str]:
    return [e.text for e in root.iterfind(path, ATOM)]


def test_an_alert_its_update_and_its_cancel_drive_a_notice_end_to_end(
    api: httpx.Client,
    worker: object,
    sandbox: Sandbox,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    for token, (lat, lon) in DEVICES.items():
        report_location(api, register_device(api, token), lat, lon)

    alert, alert_reference = cap_message("MPS-4411")
    created = post_cap(api, agency_headers, alert)
    assert created.status_code == 201, created.text
    notice = created.json()
    assert notice["status"] == "pending" and notice["cap_status"] == "Actual"
    assert [area["type"] for area in notice["areas"]] == ["circle", "polygon"]
    assert set(notice["texts"]) == {"en-GB", "fr-FR"}
    assert exported(api, agency_headers, notice["id"]).find("c:status", ATOM).text == "Draft"
    assert notice["id"] not in feed_entries(api), "a pending notice is not public"

    url = f"/v1/operator/notices/{notice['id']}"
    assert api.post(f"{url}/approve", headers=operator_headers).status_code == 200
    received = lambda: Counter(m["message"]["token"] for m in sandbox.messages())  # noqa: E731
    wait_until(
        lambda: received() == {"near-bridge": 1, "in-greenwich": 1},
        timeout=60,
        what="pushes to the devices in the circle and the polygon",
    )
    entry = feed_entries(api)[notice["id"]]
    public = api.get(entry.find("a:link[@rel='alternate']", ATOM).get("href"))
    assert public.status_code == 200
    assert text_of(valid_cap(public.content), "c:msgType") == ["Alert"]

    update, update_reference = cap_message(
        "MPS-4411-U1",
        msg_type="Update",
        references=alert_reference,
        radius_km=6,
        description="Now wearing a blue raincoat.",
    )
    proposed = post_cap(api, agency_headers, update)
    assert proposed.status_code == 202, proposed.text
    assert proposed.json()["status"] == "pending", "a wider area and new text wait for review"
    change_url = f"{url}/changes/{proposed.json()['id']}/approve"
    assert api.post(change_url, headers=operator_headers).status_code == 200
    updated = api.get(f"/v1/notices/{notice['id']}", headers=agency_headers)
    assert updated.json()["revision"] == 1
    assert updated.json()["person"]["description"] == "Now wearing a blue raincoat."
    wait_until(
        lambda: "bridge-4km" in received(), timeout=60, what="a push to the newly covered device"
    )
    [newcomer] = [m for m in sandbox.messages() if m["message"]["token"] == "bridge-4km"]
    assert "blue raincoat" in newcomer["message"]["notification"]["body"]

    as_update = exported(api, agency_headers, notice["id"])
    assert text_of(as_update, "c:msgType") == ["Update"]
    assert text_of(as_update, "c:info/c:language") == ["en-GB", "fr-FR"]
    assert f"{BRIDGE[0]},{BRIDGE[1]} 6" in text_of(as_update, "c:info/c:area/c:circle")
    assert text_of(feed_entries(api)[notice["id"]], "a:content/c:alert/c:msgType") == ["Update"]

    cancel, _ = cap_message(
        "MPS-4411-C", msg_type="Cancel", references=update_reference, note="Found safe"
    )
    cancelled = post_cap(api, agency_headers, cancel)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["decision_reason"] == "Found safe"
    as_cancel = exported(api, operator_headers, notice["id"])
    assert text_of(as_cancel, "c:msgType") == ["Cancel"]
    assert notice["id"] not in feed_entries(api)
    assert api.get(f"/v1/feed/notices/{notice['id']}/cap").status_code == 404

    wait_until(
        lambda: (
            api.get(f"{url}/deliveries", headers=operator_headers).json()["by_status"]["pending"]
            == 0
        ),
        timeout=30,
        what="every delivery recorded",
    )
    wait_until(
        lambda: sum(received().values()) >= 5, timeout=30, what="the update to earlier recipients"
    )
    kinds = Counter(
        (m["message"]["token"], m["message"]["data"]["type"]) for m in sandbox.messages()
    )
    assert kinds == {
        ("near-bridge", "missing_person"): 1,
        ("in-greenwich", "missing_person"): 1,
        # Earlier recipients get the update once; the newly covered device the updated alert.
        ("near-bridge", "missing_person_update"): 1,
        ("in-greenwich", "missing_person_update"): 1,
        ("bridge-4km", "missing_person"): 1,
    }


@pytest.mark.parametrize("status", ["Exercise", "Test"])
def test_an_imported_drill_is_a_drill_from_its_first_audit_record(
    api: httpx.Client, agency_headers: dict[str, str], admin_headers: dict[str, str], status: str
) -> None:
    """The audit log cannot be corrected later: its submission record must say Exercise or
    Test, never Actual, for a notice that is a drill."""
    actual, _ = cap_message(f"MPS-DRILL-{status}")
    drill = actual.replace(b"<status>Actual</status>", f"<status>{status}</status>".encode())

    created = post_cap(api, agency_headers, drill)

    assert created.status_code == 201, created.text
    notice = created.json()
    assert notice["cap_status"] == status
    audit = api.get(f"/v1/operator/audit?notice_id={notice['id']}", headers=admin_headers)
    assert audit.status_code == 200, audit.text
    [submitted] = audit.json()["items"]
    assert (submitted["action"], submitted["details"]["cap_status"]) == ("notice.submitted", status)


def test_another_agency_can_neither_read_nor_change_the_notice(
    api: httpx.Client, agency_headers: dict[str, str], operator_headers: dict[str, str]
) -> None:
    alert, reference = cap_message("MPS-1")
    notice_id = post_cap(api, agency_headers, alert).json()["id"]
    other = create_agency(api, operator_headers, "Other Police")

    assert api.get(f"/v1/notices/{notice_id}/cap", headers=other).status_code == 404
    patch = api.patch(f"/v1/notices/{notice_id}", headers=other, json={"radius_km": 9})
    assert patch.status_code == 404
    assert api.post(f"/v1/notices/{notice_id}/cancel", headers=other).status_code == 404
    for msg_type in ("Update", "Cancel"):
        message, _ = cap_message(f"OTHER-{msg_type}", msg_type=msg_type, references=reference)
        response = post_cap(api, other, message)
        assert response.status_code == 404, response.text
        assert "no notice of this agency" in response.json()["detail"]

    mine = api.get(f"/v1/notices/{notice_id}", headers=agency_headers).json()
    assert mine["status"] == "pending" and mine["revision"] == 0
    assert api.get(f"/v1/notices/{notice_id}/cap", headers=operator_headers).status_code == 200
    device = register_device(api, "a-phone")
    assert api.get(f"/v1/notices/{notice_id}/cap", headers=device).status_code == 403
    assert api.get(f"/v1/notices/{notice_id}/cap").status_code == 401


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("a1", "category Security"),
        ("a2", "category Met"),
        ("a3", "category Geo"),
        ("a4", "area 'Los Angeles County' has only <geocode>s (SAME 006037)"),
    ],
)
def test_the_appendix_examples_are_refused_with_their_reason(
    api: httpx.Client, agency_headers: dict[str, str], name: str, reason: str
) -> None:
    document = (APPENDIX / f"cap-1.2-appendix-{name}.xml").read_bytes()
    response = post_cap(api, agency_headers, document)
    assert response.status_code == 422
    assert response.json()["code"] == "cap_rejected"
    assert reason in response.json()["detail"]
    assert api.get("/v1/notices", headers=agency_headers).json()["total"] == 0


def test_bad_documents_get_a_clear_4xx_and_change_nothing(
    api: httpx.Client, agency_headers: dict[str, str]
) -> None:
    alert, _ = cap_message("MPS-2")

    def refused(document: bytes, status: int, says: str, **headers: str) -> None:
        response = api.post(
            "/v1/cap/alerts",
            content=document,
            headers={**agency_headers, "Content-Type": "application/cap+xml", **headers},
        )
        assert response.status_code == status, response.text
        assert says in response.json()["detail"]

    refused(b"<alert><oops></alert>", 400, "malformed XML")
    refused(b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>', 400, "DOCTYPE")
    refused(alert.replace(b"<scope>Public</scope>", b""), 422, "line ")
    refused(alert, 415, "application/cap+xml", **{"Content-Type": "application/json"})
    refused(b" " * (messages.MAX_DOCUMENT_BYTES + 10), 413, "at most")
    orphan, _ = cap_message("MPS-U", msg_type="Update", references=f"{SENDER},NOPE,x")
    refused(orphan, 404, "NOPE")
    assert api.get("/v1/notices", headers=agency_headers).json()["total"] == 0

    assert post_cap(api, agency_headers, alert).status_code == 201
    refused(alert, 409, "already received")
    assert api.get("/v1/notices", headers=agency_headers).json()["total"] == 1
    assert post_cap(api, {}, alert).status_code == 401


def test_an_agency_edits_and_cancels_its_notice_in_json(
    api: httpx.Client, agency_headers: dict[str, str]
) -> None:
    notice = api.post("/v1/notices", json=notice_body(), headers=agency_headers).json()
    url = f"/v1/notices/{notice['id']}"
    changed = api.patch(
        url,
        headers=agency_headers,
        json={"description": "Blue raincoat.", "photo_url": None, "radius_km": 8},
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["person"]["description"] == "Blue raincoat."
    assert body["person"]["photo_url"] is None
    assert body["radius_km"] == 8 and body["revision"] == 1 and body["revised_at"]
    square = [[-0.15, 51.49], [-0.10, 51.49], [-0.10, 51.52], [-0.15, 51.52], [-0.15, 51.49]]
    drawn = api.patch(
        url,
        headers=agency_headers,
        json={
            "areas": [{"type": "polygon", "geometry": {"type": "Polygon", "coordinates": [square]}}]
        },
    )
    assert drawn.status_code == 200 and drawn.json()["radius_km"] is None

    for bad in (
        {},
        {"radius_km": 3, "areas": [{"type": "circle", "lat": 1, "lon": 2, "radius_km": 1}]},
        {"status": "active"},
        {"description": None},
        {"radius_km": 0},
    ):
        assert api.patch(url, headers=agency_headers, json=bad).status_code == 422, bad

    cancelled = api.post(f"{url}/cancel", headers=agency_headers, json={"reason": "Found"})
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert api.post(f"{url}/cancel", headers=agency_headers).status_code == 409
    late = api.patch(url, headers=agency_headers, json={"description": "x"})
    assert late.status_code == 409 and "cancelled" in late.text


def test_the_feed_lists_only_active_notices_newest_first(
    api: httpx.Client, agency_headers: dict[str, str], operator_headers: dict[str, str]
) -> None:
    def submit(name: str) -> str:
        body = notice_body(person={**notice_body()["person"], "name": name})
        return str(api.post("/v1/notices", json=body, headers=agency_headers).json()["id"])

    first, second, pending, cancelled = (submit(n) for n in ("First", "Second", "P", "C"))
    for notice_id in (first, second, cancelled):
        approved = api.post(f"/v1/operator/notices/{notice_id}/approve", headers=operator_headers)
        assert approved.status_code == 200
    api.post(f"/v1/notices/{cancelled}/cancel", headers=agency_headers)

    assert list(feed_entries(api)) == [second, first]
    assert api.get(f"/v1/feed/notices/{pending}/cap").status_code == 404
    assert api.get(f"/v1/feed/notices/{first}/cap").status_code == 200


def test_a_new_description_drops_translations_of_the_old_one(
    api: httpx.Client, agency_headers: dict[str, str]
) -> None:
    alert, _ = cap_message("MPS-3")
    notice_id = post_cap(api, agency_headers, alert).json()["id"]
    changed = api.patch(
        f"/v1/notices/{notice_id}", headers=agency_headers, json={"description": "Blue coat."}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["texts"] == {
        "en-GB": {
            "event": "Missing person",
            "headline": "Missing child: Lily Chen",
            "description": "Blue coat.",
        }
    }
    root = exported(api, agency_headers, notice_id)
    assert text_of(root, "c:info/c:language") == ["en-GB"]
    assert text_of(root, "c:info/c:description") == ["Blue coat."]
