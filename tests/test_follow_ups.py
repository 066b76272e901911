"""After the alert: an update reaches the devices the alert reached, and a found notice
sends them a short thank-you without the person's name or photo, both under the alert's
collapse key so each replaces the pop-up before it. The outcome stats count the found."""

import httpx

from geo.sphere import destination
from tests.conftest import Sandbox, wait_until
from tests.helpers import notice_body, register_device, report_location

CENTRE = (45.4642, 9.19)


def _messages_by_type(sandbox: Sandbox, kind: str) -> dict[str, dict]:
    return {
        m["message"]["token"]: m["message"]
        for m in sandbox.messages()
        if m["message"]["data"]["type"] == kind
    }


def test_an_update_and_the_found_message_reach_each_earlier_recipient_once(
    api: httpx.Client,
    worker: object,
    sandbox: Sandbox,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    reached = {f"milan-{i}" for i in range(5)}
    for i, token in enumerate(sorted(reached)):
        report_location(api, register_device(api, token), *destination(*CENTRE, 300 * i, 70 * i))
    report_location(api, register_device(api, "far-away"), *destination(*CENTRE, 9_000, 0))
    notice = api.post(
        "/v1/notices",
        json=notice_body(lat=CENTRE[0], lon=CENTRE[1], radius_km=3),
        headers=agency_headers,
    ).json()
    url = f"/v1/notices/{notice['id']}"
    api.post(f"/v1/operator/notices/{notice['id']}/approve", headers=operator_headers)
    wait_until(
        lambda: set(_messages_by_type(sandbox, "missing_person")) == reached,
        timeout=30,
        what="the alert",
    )

    proposed = api.patch(
        url, json={"description": "Now wearing a blue raincoat."}, headers=agency_headers
    )
    assert proposed.status_code == 202, "new text waits for a second person"
    change_url = f"/v1/operator/notices/{notice['id']}/changes/{proposed.json()['id']}"
    approved = api.post(f"{change_url}/approve", headers=operator_headers)
    assert approved.status_code == 200, approved.text
    wait_until(
        lambda: set(_messages_by_type(sandbox, "missing_person_update")) == reached,
        timeout=30,
        what="the update",
    )
    update = _messages_by_type(sandbox, "missing_person_update")["milan-0"]
    assert update["notification"]["title"].startswith("Update: ")
    assert "blue raincoat" in update["notification"]["body"]
    assert update["android"]["collapse_key"] == notice["id"]

    found = api.post(f"{url}/found", json={"reason": "home safe"}, headers=agency_headers)
    assert found.status_code == 200 and found.json()["status"] == "found"
    wait_until(
        lambda: set(_messages_by_type(sandbox, "missing_person_found")) == reached,
        timeout=30,
        what="the found message",
    )
    thanks = _messages_by_type(sandbox, "missing_person_found")["milan-3"]
    assert "Lily" not in str(thanks["notification"]), "the found message names no one"
    assert "image" not in thanks["notification"]
    assert thanks["android"]["collapse_key"] == notice["id"]

    kinds = [(m["message"]["token"], m["message"]["data"]["type"]) for m in sandbox.messages()]
    assert len(kinds) == len(set(kinds)) == 3 * len(reached), "each message once per device"
    assert "far-away" not in {token for token, _ in kinds}
    assert api.get("/v1/feed/active.atom").text.count("<entry>") == 0, "gone from the feed"

    # A notice withdrawn before approval never went out: it is no person not found.
    withdrawn = api.post("/v1/notices", json=notice_body(), headers=agency_headers).json()
    cancel = api.post(f"/v1/notices/{withdrawn['id']}/cancel", headers=agency_headers)
    assert cancel.status_code == 200, cancel.text

    stats = api.get("/v1/operator/stats/outcomes", headers=operator_headers).json()
    assert (stats["by_status"]["found"], stats["by_status"]["cancelled"]) == (1, 1)
    assert stats["found_rate"] == 1.0
    assert 0 <= stats["median_hours_to_found"] < 0.1
