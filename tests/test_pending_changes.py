"""No widening without review: a change that widens the area of an approved Actual notice, or
changes its text or photo (an agency's PATCH, a CAP Update, an operator's expansion plan),
waits as a pending change until an operator other than its proposer approves it; the audit
log records the old and new values. Narrowing needs no second person, nor do drills."""

from typing import Any

import httpx
import pytest

from tests.helpers import create_operator, log_in, notice_body


@pytest.fixture
def second_operator(api: httpx.Client, bootstrap_headers: dict[str, str]) -> dict[str, str]:
    create_operator(api, bootstrap_headers, "second@hexcast.example")
    return log_in(api, "second@hexcast.example")


@pytest.fixture
def key_issuer(api: httpx.Client, agency_headers: dict[str, str]) -> dict[str, str]:
    """The admin who issued the test agency's key (see the agency_headers fixture)."""
    return log_in(api, "keys@hexcast.example")


def _active(
    api: httpx.Client,
    agency: dict[str, str],
    operator: dict[str, str],
    *,
    cap_status: str = "Actual",
) -> str:
    body = notice_body(radius_km=5.0, cap_status=cap_status)
    notice_id = str(api.post("/v1/notices", json=body, headers=agency).json()["id"])
    approved = api.post(f"/v1/operator/notices/{notice_id}/approve", headers=operator)
    assert approved.status_code == 200, approved.text
    return notice_id


def _notice(api: httpx.Client, agency: dict[str, str], notice_id: str) -> dict[str, Any]:
    return dict(api.get(f"/v1/notices/{notice_id}", headers=agency).json())


def _audit(api: httpx.Client, operator: dict[str, str], notice_id: str) -> list[dict[str, Any]]:
    response = api.get(f"/v1/operator/notices/{notice_id}/audit", headers=operator)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def _decide(
    api: httpx.Client, operator: dict[str, str], notice_id: str, change_id: str, decision: str
) -> httpx.Response:
    return api.post(
        f"/v1/operator/notices/{notice_id}/changes/{change_id}/{decision}", headers=operator
    )


def test_a_widening_patch_stays_pending_until_a_second_person_approves_it(
    api: httpx.Client,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
    key_issuer: dict[str, str],
) -> None:
    notice_id = _active(api, agency_headers, operator_headers)

    proposed = api.patch(
        f"/v1/notices/{notice_id}", json={"radius_km": 500}, headers=agency_headers
    )

    assert proposed.status_code == 202, proposed.text
    change = proposed.json()
    assert (change["status"], change["kind"], change["notice_id"]) == (
        "pending",
        "update",
        notice_id,
    )
    assert _notice(api, agency_headers, notice_id)["radius_km"] == 5.0
    listed = api.get(f"/v1/notices/{notice_id}/changes", headers=agency_headers).json()
    assert [c["id"] for c in listed] == [change["id"]]
    [event] = [e for e in _audit(api, operator_headers, notice_id) if "change" in e["action"]]
    assert event["action"] == "notice.change_proposed"
    assert (event["details"]["old"]["radius_km"], event["details"]["new"]["radius_km"]) == (5, 500)

    # Whoever issued the agency's key holds it too: not a second person.
    refused = _decide(api, key_issuer, notice_id, change["id"], "approve")
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "two_person_rule"
    assert _notice(api, agency_headers, notice_id)["radius_km"] == 5.0

    approved = _decide(api, operator_headers, notice_id, change["id"], "approve")

    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    notice = _notice(api, agency_headers, notice_id)
    assert (notice["radius_km"], notice["revision"]) == (500.0, 1)
    updated = [
        e for e in _audit(api, operator_headers, notice_id) if e["action"] == "notice.updated"
    ]
    [update] = updated
    assert update["details"]["old"]["radius_km"] == 5
    assert update["details"]["new"]["radius_km"] == 500
    assert update["details"]["change_id"] == change["id"]
    again = _decide(api, operator_headers, notice_id, change["id"], "approve")
    assert again.status_code == 409, again.text


@pytest.mark.parametrize(
    "patch",
    [
        {"description": "Now in a blue coat."},
        {"photo_url": "https://tracker.example/pixel.gif"},
        {"areas": [{"type": "circle", "lat": 51.6, "lon": -0.2, "radius_km": 1}]},
    ],
    ids=["text", "photo", "moved"],
)
def test_new_text_a_new_photo_or_a_moved_area_wait_too(
    api: httpx.Client,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
    patch: dict[str, Any],
) -> None:
    notice_id = _active(api, agency_headers, operator_headers)
    before = _notice(api, agency_headers, notice_id)

    proposed = api.patch(f"/v1/notices/{notice_id}", json=patch, headers=agency_headers)

    assert proposed.status_code == 202, proposed.text
    assert _notice(api, agency_headers, notice_id) == before


def test_narrowing_and_ending_need_no_second_person(
    api: httpx.Client, agency_headers: dict[str, str], operator_headers: dict[str, str]
) -> None:
    notice_id = _active(api, agency_headers, operator_headers)

    narrowed = api.patch(f"/v1/notices/{notice_id}", json={"radius_km": 2}, headers=agency_headers)
    assert narrowed.status_code == 200, narrowed.text
    assert narrowed.json()["radius_km"] == 2.0
    no_photo = api.patch(
        f"/v1/notices/{notice_id}", json={"photo_url": None}, headers=agency_headers
    )
    assert no_photo.status_code == 200, no_photo.text
    [update, _] = [e for e in _audit(api, operator_headers, notice_id) if "updated" in e["action"]]
    assert (update["details"]["old"]["radius_km"], update["details"]["new"]["radius_km"]) == (5, 2)
    found = api.post(f"/v1/notices/{notice_id}/found", headers=agency_headers)
    assert found.status_code == 200, found.text


def test_a_pending_notice_and_a_drill_change_at_once(
    api: httpx.Client, agency_headers: dict[str, str], operator_headers: dict[str, str]
) -> None:
    pending = api.post("/v1/notices", json=notice_body(), headers=agency_headers).json()
    drill = _active(api, agency_headers, operator_headers, cap_status="Test")
    for notice_id in (pending["id"], drill):
        widened = api.patch(
            f"/v1/notices/{notice_id}", json={"radius_km": 50}, headers=agency_headers
        )
        assert widened.status_code == 200, widened.text
        assert widened.json()["radius_km"] == 50.0


def test_an_expansion_plan_stays_pending_until_another_operator_approves_it(
    api: httpx.Client,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
    second_operator: dict[str, str],
) -> None:
    notice_id = _active(api, agency_headers, operator_headers)
    url = f"/v1/operator/notices/{notice_id}/expansion"

    proposed = api.put(
        url, json={"steps": [{"after_minutes": 1, "radius_km": 500}]}, headers=operator_headers
    )

    assert proposed.status_code == 202, proposed.text
    change = proposed.json()
    assert change["kind"] == "expansion"
    assert api.get(url, headers=operator_headers).json()["steps"] == []
    refused = _decide(api, operator_headers, notice_id, change["id"], "approve")
    assert refused.status_code == 403, refused.text
    assert refused.json()["detail"] == (
        "a change to an Actual notice must be approved by an operator other than the one who "
        "submitted it"
    )

    approved = _decide(api, second_operator, notice_id, change["id"], "approve")

    assert approved.status_code == 200, approved.text
    steps = api.get(url, headers=operator_headers).json()["steps"]
    assert [(s["after_minutes"], s["radius_km"]) for s in steps] == [(1, 500)]
    [planned] = [
        e
        for e in _audit(api, operator_headers, notice_id)
        if e["action"] == "notice.expansion_planned"
    ]
    assert planned["details"]["old"] == {"radius_km": 5, "steps": []}
    assert planned["details"]["new"]["steps"] == [{"after_minutes": 1, "radius_km": 500}]


def test_a_rejected_change_leaves_the_notice_as_it_was(
    api: httpx.Client,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
    bootstrap_headers: dict[str, str],
) -> None:
    notice_id = _active(api, agency_headers, operator_headers)
    change = api.patch(
        f"/v1/notices/{notice_id}", json={"radius_km": 50}, headers=agency_headers
    ).json()
    # The bootstrap credential is nobody's second person here either.
    assert _decide(api, bootstrap_headers, notice_id, change["id"], "approve").status_code == 403

    rejected = _decide(api, operator_headers, notice_id, change["id"], "reject")

    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    assert _decide(api, operator_headers, notice_id, change["id"], "approve").status_code == 409
    assert _notice(api, agency_headers, notice_id)["radius_km"] == 5.0
