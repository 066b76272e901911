"""Hostile input at the edge: one text policy for every stored text, bodies that cannot be
decoded refused after authentication, limits on bodies, CAP circles with impossible radii, a
notice no generator can write left out of the feed, and the security headers."""

import json
import unicodedata
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text

from kit.db import get_sessionmaker
from tests.helpers import notice_body
from tests.test_cap_api import SENDER, cap_time, feed_entries, post_cap

SUBMIT = "/v1/notices"


def submit(api: httpx.Client, headers: dict[str, str], **overrides: object) -> httpx.Response:
    return api.post(SUBMIT, json=notice_body(**overrides), headers=headers)


def error_at(response: httpx.Response, *loc: str) -> str:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "invalid_request"
    messages = [e["msg"] for e in body["detail"] if tuple(e["loc"]) == ("body", *loc)]
    assert messages, body
    return messages[0]


@pytest.mark.parametrize("character", ["\x01", "\x1b", "\x7f", "\x85", "\x9b", "\ufffe"])
def test_control_characters_are_refused_naming_the_field(
    api: httpx.Client,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
    character: str,
) -> None:
    person = {**notice_body()["person"], "name": f"Lily{character}Chen"}
    response = submit(api, agency_headers, person=person)
    assert "control characters" in error_at(response, "person", "name")

    agency = api.post(
        "/v1/operator/agencies", json={"name": f"Police{character}X"}, headers=operator_headers
    )
    assert "control characters" in error_at(agency, "name")

    notice = submit(api, agency_headers).json()
    reject = api.post(
        f"/v1/operator/notices/{notice['id']}/reject",
        json={"reason": f"Duplicate{character}of 4411"},
        headers=operator_headers,
    )
    assert "control characters" in error_at(reject, "reason")
    assert api.get(f"/v1/notices/{notice['id']}", headers=agency_headers).json()["status"] == (
        "pending"
    )


def test_bidirectional_overrides_are_refused_in_names_and_text_is_stored_as_nfc(
    api: httpx.Client, agency_headers: dict[str, str]
) -> None:
    person = {**notice_body()["person"], "name": "Lily \u202enehC"}
    assert "bidirectional" in error_at(submit(api, agency_headers, person=person), "person", "name")

    decomposed = "Ame\u0301lie"
    person = {**notice_body()["person"], "name": decomposed, "description": "Line 1\r\nLine 2"}
    created = submit(api, agency_headers, person=person)
    assert created.status_code == 201, created.text
    stored = api.get(f"/v1/notices/{created.json()['id']}", headers=agency_headers).json()
    assert stored["person"]["name"] == unicodedata.normalize("NFC", decomposed) == "Amélie"
    assert stored["person"]["description"] == "Line 1\nLine 2"


def test_lengths_are_counted_as_stored(api: httpx.Client, agency_headers: dict[str, str]) -> None:
    """U+0958 is one character sent and two once normalised (NFC)."""
    person = {**notice_body()["person"], "name": "\u0958" * 150}
    assert "at most 200 characters" in error_at(
        submit(api, agency_headers, person=person), "person", "name"
    )


def test_a_notice_no_generator_can_write_is_left_out_of_the_feed(
    api: httpx.Client,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Rows stored before the text policy: the feed keeps answering, without that entry."""
    ids = []
    for lat in (51.50, 51.52):
        notice = submit(api, agency_headers, lat=lat).json()
        approved = api.post(
            f"/v1/operator/notices/{notice['id']}/approve", headers=operator_headers
        )
        assert approved.status_code == 200, approved.text
        ids.append(notice["id"])
    broken, fine = ids
    with get_sessionmaker()() as session, session.begin():
        session.execute(
            text("UPDATE notices SET person_name = 'Lily\x01Chen' WHERE id = :id"), {"id": broken}
        )
    entries = feed_entries(api)
    assert fine in entries and broken not in entries
    assert f"alerts.cap.feed_entry_failed notice={broken}" in caplog.text


def test_an_undecodable_body_is_401_without_a_credential_and_422_with_one(
    api: httpx.Client, agency_headers: dict[str, str]
) -> None:
    json_type = {"Content-Type": "application/json"}
    bodies = {
        "body_not_utf8": b'{"person": {"name": "\xff\xfe"}}',
        "json_invalid": b'{"person": ',
        "json_too_deep": b"[" * 40 + b"]" * 40,
        # Deeper than Python's recursion limit: json.loads itself gives up.
        "json_too_deep ": b"[" * 100_000 + b"]" * 100_000,
    }
    for kind, body in bodies.items():
        anonymous = api.post(SUBMIT, content=body, headers=json_type)
        assert anonymous.status_code == 401, anonymous.text
        assert anonymous.json()["code"] == "unauthenticated"
        unknown = api.post(SUBMIT, content=body, headers={**json_type, "X-API-Key": "hxa_nope"})
        assert unknown.status_code == 401, unknown.text
        refused = api.post(SUBMIT, content=body, headers={**json_type, **agency_headers})
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "invalid_request"
        [error] = refused.json()["detail"]
        assert error["type"] == kind.strip() and error["loc"] == ["body"] and error["msg"]


def test_a_body_over_the_limit_is_413(api: httpx.Client, agency_headers: dict[str, str]) -> None:
    body = json.dumps({"padding": "x" * (3 * 1024 * 1024)}).encode()
    response = api.post(
        SUBMIT, content=body, headers={**agency_headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "body_too_large"

    def chunks() -> object:
        for _ in range(40):
            yield b"x" * 100_000

    streamed = api.post(
        SUBMIT, content=chunks(), headers={**agency_headers, "Content-Type": "application/json"}
    )
    assert streamed.status_code == 413


def _circle_only_alert(circle: str) -> bytes:
    seen = cap_time(datetime.now(UTC) - timedelta(hours=1))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>MPS-{abs(hash(circle))}</identifier><sender>{SENDER}</sender>
  <sent>{cap_time(datetime.now(UTC))}</sent>
  <status>Actual</status><msgType>Alert</msgType><scope>Public</scope>
  <info>
    <language>en-GB</language><category>Rescue</category><event>Missing person</event>
    <urgency>Immediate</urgency><severity>Severe</severity><certainty>Likely</certainty>
    <onset>{seen}</onset><description>Red coat.</description><contact>101</contact>
    <parameter><valueName>hexcast:personName</valueName><value>Lily Chen</value></parameter>
    <area><areaDesc>Westminster Bridge</areaDesc><circle>{circle}</circle></area>
  </info>
</alert>""".encode()


@pytest.mark.parametrize(
    ("radius", "reason"),
    [("-3", "has a negative radius"), ("NaN", "is not a number"), ("INF", "is not a number")],
)
def test_a_cap_circle_with_an_impossible_radius_is_refused_for_that_reason(
    api: httpx.Client, agency_headers: dict[str, str], radius: str, reason: str
) -> None:
    response = post_cap(api, agency_headers, _circle_only_alert(f"51.5007,-0.1246 {radius}"))
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert reason in detail
    assert "radius 0" not in detail and "lastSeenPoint" not in detail, detail


def test_control_characters_in_a_cap_alert_are_refused(
    api: httpx.Client, agency_headers: dict[str, str]
) -> None:
    """XML 1.0 has no C0 controls, but C1 controls and overrides pass the schema."""
    document = _circle_only_alert("51.5007,-0.1246 2").replace(
        b"<value>Lily Chen</value>", "<value>Lily\u0085\u202eChen</value>".encode()
    )
    response = post_cap(api, agency_headers, document)
    assert response.status_code == 422, response.text
    assert "hexcast:personName" in response.json()["detail"]


def test_security_headers_and_closed_cors(api: httpx.Client) -> None:
    for response in (
        api.get("/healthz", headers={"Origin": "https://evil.example"}),
        api.get("/v1/notices"),
        api.post(SUBMIT, content=b"x" * (3 * 1024 * 1024)),
    ):
        assert response.headers["content-security-policy"] == (
            "default-src 'none'; frame-ancestors 'none'"
        )
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert "strict-transport-security" not in response.headers  # not in production
        assert "access-control-allow-origin" not in response.headers
    preflight = api.options(
        SUBMIT,
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_a_lone_surrogate_is_refused_and_echoed_escaped(
    api: httpx.Client, agency_headers: dict[str, str]
) -> None:
    """JSON may escape a surrogate UTF-8 cannot carry; echoing it made the 422 itself a 500."""

    def post(body: dict[str, object]) -> httpx.Response:
        return api.post(
            SUBMIT,
            content=json.dumps(body).encode(),
            headers={**agency_headers, "Content-Type": "application/json"},
        )

    body = notice_body()
    body["person"]["name"] = "Lily\ud800"
    assert error_at(post(body), "person", "name")
    assert "\\ud800" in post(body).json()["detail"][0]["input"]
    response = post({**notice_body(), "\udb0e": 1})
    assert response.status_code == 422
    assert "\\udb0e" in response.text
