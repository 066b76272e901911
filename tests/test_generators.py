"""Every generator is safe for anything the API accepts: notices are made from any text
(controls, overrides, combining marks, astral characters, XML's own specials); whenever the
API takes it, the agency's CAP export, the public CAP, the Atom feed, the JSON answer, the
push payload and the webhook body are all produced and valid."""

import json
import unicodedata
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from lxml import etree

from kit.db import get_sessionmaker
from kit.models import Notice
from notifier.fcm import request_bodies
from notifier.payload import PushKind, build_push
from notifier.tasks import _text
from tests.helpers import notice_body
from tests.test_cap_api import ATOM, ATOM_SCHEMA, CAP_SCHEMA

# Characters the policy keeps but generators may trip on: line ends, combining marks, a
# character NFC makes two, a BOM, an astral emoji, XML's specials, separators.
AWKWARD = st.sampled_from(list("\t\n\r\u0301\u0958\ufeff\U0001f9d2<&]]>\"'\u00a0\u2028\U000e0001"))
# Characters the policy refuses: controls, a lone surrogate, noncharacters, overrides.
HOSTILE = st.sampled_from(list("\x00\x01\x1b\x7f\x85\x9b\ud800\ufffe\U0010ffff\u202e\u2066"))
ANY = st.characters(exclude_categories=["Cc", "Cs"])
# Mostly text the API takes, so that most examples reach every output; sometimes not.
TEXT = st.text(st.one_of(*[ANY] * 8, *[AWKWARD] * 3, HOSTILE), min_size=1, max_size=60)


def _send(api: httpx.Client, method: str, url: str, body: Any, **headers: str) -> httpx.Response:
    """JSON with every non-ASCII character escaped: a lone surrogate goes as `\\ud800`, as a
    hostile client would send it, where UTF-8 could not carry it."""
    headers = {**headers, "Content-Type": "application/json"}
    return api.request(method, url, content=json.dumps(body).encode(), headers=headers)


def _valid_cap(document: bytes) -> Any:
    root = etree.fromstring(document)
    assert CAP_SCHEMA.validate(root), CAP_SCHEMA.error_log
    return root


def _stored(notice_id: str) -> Notice:
    with get_sessionmaker()() as session:
        notice = session.get(Notice, notice_id)
        assert notice is not None
        session.expunge(notice)
        return notice


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    agency=TEXT,
    name=TEXT,
    description=TEXT,
    place=TEXT,
    contact=TEXT,
    reason=st.none() | TEXT,
)
def test_every_output_is_produced_and_valid_for_any_text_the_api_accepts(
    api: httpx.Client,
    operator_headers: dict[str, str],
    admin_headers: dict[str, str],
    agency: str,
    name: str,
    description: str,
    place: str,
    contact: str,
    reason: str | None,
) -> None:
    """A notice is approved, or rejected when there is a reason (which CAP's note carries)."""
    unique = f"{agency} {uuid.uuid4().hex[:6]}"
    created = _send(api, "POST", "/v1/operator/agencies", {"name": unique}, **admin_headers)
    event(f"agency {created.status_code}")
    assume(created.status_code == 201)
    headers = {"X-API-Key": created.json()["api_key"]}
    hook = api.put("/v1/webhook", json={"url": "http://127.0.0.1:9/h"}, headers=headers)
    assert hook.status_code in (200, 201), hook.text
    body = notice_body(contact=contact)
    body["person"].update(name=name, description=description)
    body["last_seen"]["place"] = place
    submitted = _send(api, "POST", "/v1/notices", body, **headers)
    assert submitted.status_code in (201, 422), submitted.text
    event(f"notice {submitted.status_code}")
    assume(submitted.status_code == 201)
    notice = submitted.json()
    assert notice["person"]["name"] == unicodedata.normalize("NFC", notice["person"]["name"])
    url = f"/v1/operator/notices/{notice['id']}"

    if reason is not None:
        rejected = _send(api, "POST", f"{url}/reject", {"reason": reason}, **operator_headers)
        assert rejected.status_code in (200, 422), rejected.text
        event(f"reject {rejected.status_code}")
        _valid_cap(api.get(f"/v1/notices/{notice['id']}/cap", headers=headers).content)
        return
    approved = api.post(f"{url}/approve", headers=operator_headers)
    assert approved.status_code == 200, approved.text

    export = api.get(f"/v1/notices/{notice['id']}/cap", headers=headers)
    assert export.status_code == 200
    alert = _valid_cap(export.content)
    public = api.get(f"/v1/feed/notices/{notice['id']}/cap")
    assert public.status_code == 200
    _valid_cap(public.content)
    [sender_name] = {e.text for e in alert.iterfind(".//c:senderName", ATOM)}
    assert sender_name == created.json()["name"]

    feed = api.get("/v1/feed/active.atom")
    assert feed.status_code == 200
    root = etree.fromstring(feed.content)
    assert ATOM_SCHEMA.validate(root), ATOM_SCHEMA.error_log
    ids = [e.text for e in root.iterfind("a:entry/a:id", ATOM)]
    assert f"urn:uuid:{notice['id']}" in ids, "an entry the API accepted was left out"

    answered = api.get(f"/v1/notices/{notice['id']}", headers=headers)
    assert answered.status_code == 200
    assert answered.json()["person"]["name"] == notice["person"]["name"]

    text = _text(_stored(notice["id"]))
    for kind in PushKind:
        for locale in ("en-GB", "zh-CN", "fr-FR"):
            push = build_push(text, token="t", locale=locale, now=datetime.now(UTC), kind=kind)
            [encoded] = request_bodies([push], now=datetime.now(UTC))
            assert isinstance(encoded, bytes), encoded
            message = json.loads(encoded)["message"]
            assert message["notification"]["title"] and message["notification"]["body"]

    events = api.get("/v1/webhook/events", headers=headers)
    assert events.status_code == 200, events.text
    payloads = [event["payload"] for event in events.json()["items"]]
    assert any(p["data"]["notice"]["id"] == notice["id"] for p in payloads if "notice" in p["data"])
