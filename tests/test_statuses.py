"""Every notice status through every output: what the CAP export, the public CAP route, the
Atom feed, the agency's webhook events and the pushes say of a notice in each status. The
expectations are written out here, not derived from alerts.notices.lifecycle, so that a
change to a status set shows up as a change of what people are told."""

from collections.abc import Callable
from typing import Any

import httpx
from lxml import etree

from alerts.cap import messages
from kit.celery import celery_app
from tests.conftest import Sandbox, Service, drain, wait_until
from tests.helpers import notice_body, register_device, report_location

CENTRE = (48.8566, 2.3522)
CAP = {"c": messages.NS}
ATOM = {"a": "http://www.w3.org/2005/Atom"}
PERSON = "Amélie Durand"

# status: CAP <status>, <urgency>, <msgType>, whether the person is named (and shown), the
# public CAP route's answer, whether the Atom feed lists it, the agency's webhook events and
# the pushes a device in the area gets, in order.
EXPECTED: dict[str, tuple[str, str, str, bool, int, bool, list[str], list[str]]] = {
    "pending": ("Draft", "Immediate", "Alert", True, 404, False, [], []),
    "rejected": ("Draft", "Immediate", "Alert", True, 404, False, ["notice.rejected"], []),
    "active": (
        "Actual", "Immediate", "Alert", True, 200, True,
        ["notice.activated"], ["missing_person"],
    ),
    "cancelled": (
        "Actual", "Past", "Cancel", True, 404, False,
        ["notice.activated", "notice.cancelled"], ["missing_person"],
    ),
    "expired": (
        "Actual", "Past", "Alert", True, 404, False,
        ["notice.activated", "notice.expired"], ["missing_person"],
    ),
    "found": (
        "Actual", "Past", "Alert", False, 404, False,
        ["notice.activated", "notice.found"], ["missing_person", "missing_person_found"],
    ),
}  # fmt: skip


def test_every_status_says_the_same_in_every_output(
    api: httpx.Client,
    worker: Service,
    sandbox: Sandbox,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    report_location(api, register_device(api, "in-the-area"), *CENTRE)
    # Events are recorded in the outbox whether or not the receiver answers.
    webhook = api.put("/v1/webhook", json={"url": "http://127.0.0.1:9/"}, headers=agency_headers)
    assert webhook.status_code == 200, webhook.text

    def pushes(notice_id: str) -> list[str]:
        return [
            m["message"]["data"]["type"]
            for m in sandbox.messages()
            if m["message"]["data"]["link"] == f"hexcast://notices/{notice_id}"
        ]

    def act(notice_id: str, action: str, body: dict[str, Any] | None = None) -> None:
        response = api.post(
            f"/v1/operator/notices/{notice_id}/{action}", json=body or {}, headers=operator_headers
        )
        assert response.status_code == 200, response.text

    def approved(notice_id: str, body: dict[str, Any] | None = None) -> None:
        act(notice_id, "approve", body)
        wait_until(lambda: pushes(notice_id) == ["missing_person"], timeout=30, what="the alert")

    def status(notice_id: str) -> str:
        return str(api.get(f"/v1/notices/{notice_id}", headers=agency_headers).json()["status"])

    def expired(notice_id: str) -> None:
        approved(notice_id, {"lifetime_hours": 0.001})  # 3.6 s

        def ended() -> bool:
            celery_app.send_task("alerts.expire_notices")  # as beat does every minute
            return status(notice_id) == "expired"

        wait_until(ended, timeout=30, what="the expiry")

    reach: dict[str, Callable[[str], None]] = {
        "pending": lambda _: None,
        "rejected": lambda n: act(n, "reject", {"reason": "Duplicate"}),
        "active": approved,
        "cancelled": lambda n: (approved(n), act(n, "cancel", {"reason": "Withdrawn"}))[0],
        "expired": expired,
        "found": lambda n: (approved(n), act(n, "found", {"reason": "Home safe"}))[0],
    }
    notices: dict[str, str] = {}
    for name, make in reach.items():
        body = notice_body(lat=CENTRE[0], lon=CENTRE[1], radius_km=2)
        body["person"] = {**body["person"], "name": PERSON}
        submitted = api.post("/v1/notices", json=body, headers=agency_headers)
        assert submitted.status_code == 201, submitted.text
        notices[name] = submitted.json()["id"]
        make(notices[name])
        assert status(notices[name]) == name
    wait_until(
        lambda: pushes(notices["found"]) == ["missing_person", "missing_person_found"],
        timeout=30,
        what="the found message",
    )
    drain(worker)

    feed = etree.fromstring(api.get("/v1/feed/active.atom").content)
    in_feed = {
        link.split("/")[-2] for link in feed.xpath("//a:entry/a:link/@href", namespaces=ATOM)
    }
    events = api.get("/v1/webhook/events", params={"limit": 100}, headers=agency_headers).json()
    seen: dict[str, tuple[str, str, str, bool, int, bool, list[str], list[str]]] = {}
    for name, notice_id in notices.items():
        document = api.get(f"/v1/notices/{notice_id}/cap", headers=agency_headers)
        assert document.status_code == 200, document.text
        alert = etree.fromstring(document.content)
        assert _valid(document.content), name
        seen[name] = (
            alert.findtext("c:status", namespaces=CAP),
            alert.findtext("c:info/c:urgency", namespaces=CAP),
            alert.findtext("c:msgType", namespaces=CAP),
            PERSON in document.text or "lily.jpg" in document.text,
            api.get(f"/v1/feed/notices/{notice_id}/cap").status_code,
            notice_id in in_feed,
            sorted(
                e["type"]
                for e in events["items"]
                if e["payload"]["data"].get("notice", {}).get("id") == notice_id
            ),
            pushes(notice_id),
        )
    assert seen == EXPECTED


def _valid(document: bytes) -> bool:
    schema = etree.XMLSchema(etree.parse(str(messages.SCHEMA_PATH)))
    return bool(schema.validate(etree.fromstring(document)))
