"""The two-person rule through the HTTP API: an operator may submit a notice on an agency's
behalf, but an Actual notice is never approved by the operator who submitted it, nor by the
operator who issued the agency key it was submitted with, and the bootstrap credential is
nobody's second person, so no one person can send a real alert alone. Test and Exercise
notices, which reach only test devices and can never become Actual, may be approved by their
submitter."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.helpers import create_agency, create_operator, log_in, notice_body


@pytest.fixture
def agency_id(api: httpx.Client, admin_headers: dict[str, str]) -> str:
    response = api.post(
        "/v1/operator/agencies", json={"name": "Phone-in Police"}, headers=admin_headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.fixture
def second_reviewer(api: httpx.Client, operator_headers: dict[str, str]) -> dict[str, str]:
    create_operator(api, operator_headers, "second@hexcast.example")
    return log_in(api, "second@hexcast.example")


def _submit_for(
    api: httpx.Client, operator: dict[str, str], agency_id: str, cap_status: str = "Actual"
) -> dict[str, Any]:
    response = api.post(
        "/v1/operator/notices",
        json={**notice_body(), "agency_id": agency_id, "cap_status": cap_status},
        headers=operator,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def _act(
    api: httpx.Client, operator: dict[str, str], notice_id: str, action: str
) -> httpx.Response:
    return api.post(f"/v1/operator/notices/{notice_id}/{action}", headers=operator)


def _status(api: httpx.Client, operator: dict[str, str], notice_id: str) -> str:
    notices = api.get("/v1/operator/notices", headers=operator).json()["items"]
    return str(next(n["status"] for n in notices if n["id"] == notice_id))


def _actions(api: httpx.Client, operator: dict[str, str], notice_id: str) -> list[str]:
    audit = api.get(f"/v1/operator/notices/{notice_id}/audit", headers=operator).json()
    return [event["action"] for event in audit["items"]]


def test_the_submitter_of_an_actual_notice_cannot_approve_it_and_another_operator_can(
    api: httpx.Client,
    reviewer_headers: dict[str, str],
    second_reviewer: dict[str, str],
    agency_id: str,
) -> None:
    notice = _submit_for(api, reviewer_headers, agency_id)
    assert (notice["status"], notice["cap_status"], notice["agency_id"]) == (
        "pending",
        "Actual",
        agency_id,
    )

    refused = _act(api, reviewer_headers, notice["id"], "approve")

    assert refused.status_code == 403, refused.text
    assert refused.json() == {
        "detail": "an Actual notice must be approved by an operator other than the one who "
        "submitted it",
        "code": "two_person_rule",
    }
    assert _status(api, reviewer_headers, notice["id"]) == "pending"
    assert _actions(api, reviewer_headers, notice["id"]) == ["notice.submitted"]

    approved = _act(api, second_reviewer, notice["id"], "approve")

    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "active"
    audit = api.get(f"/v1/operator/notices/{notice['id']}/audit", headers=reviewer_headers).json()
    me = api.get("/v1/operator/me", headers=reviewer_headers).json()["id"]
    second = api.get("/v1/operator/me", headers=second_reviewer).json()["id"]
    assert [(e["action"], e["actor_id"]) for e in audit["items"]] == [
        ("notice.submitted", me),
        ("notice.approved", second),
    ]


def test_the_bootstrap_credential_cannot_approve_what_it_submitted(
    api: httpx.Client, bootstrap_headers: dict[str, str], agency_id: str
) -> None:
    notice = _submit_for(api, bootstrap_headers, agency_id)
    refused = _act(api, bootstrap_headers, notice["id"], "approve")
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "two_person_rule"


def _refused_by_the_rule(response: httpx.Response) -> str:
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "two_person_rule"
    return str(response.json()["detail"])


def test_the_bootstrap_credential_and_an_account_are_not_two_people(
    api: httpx.Client,
    bootstrap_headers: dict[str, str],
    admin_headers: dict[str, str],
    reviewer_headers: dict[str, str],
    agency_id: str,
) -> None:
    # Submitted with the bootstrap credential, approved with an account.
    by_bootstrap = _submit_for(api, bootstrap_headers, agency_id)
    assert "bootstrap" in _refused_by_the_rule(
        _act(api, reviewer_headers, by_bootstrap["id"], "approve")
    )
    # Submitted with an account, approved with the bootstrap credential.
    by_account = _submit_for(api, reviewer_headers, agency_id)
    assert "nobody's second person" in _refused_by_the_rule(
        _act(api, bootstrap_headers, by_account["id"], "approve")
    )
    # Submitted with a key the bootstrap credential issued, approved with an account.
    key = create_agency(api, bootstrap_headers, "Bootstrap-keyed Police")
    with_key = api.post("/v1/notices", json=notice_body(), headers=key).json()
    assert "bootstrap" in _refused_by_the_rule(
        _act(api, reviewer_headers, with_key["id"], "approve")
    )
    # Even a notice an agency submitted with an account's key: the bootstrap approves nothing.
    agency = api.post("/v1/notices", json=notice_body(), headers=_key_of(api, admin_headers))
    _refused_by_the_rule(_act(api, bootstrap_headers, agency.json()["id"], "approve"))
    for notice in (by_bootstrap, by_account, with_key, agency.json()):
        assert _status(api, reviewer_headers, notice["id"]) == "pending"


def _key_of(api: httpx.Client, issuer: dict[str, str]) -> dict[str, str]:
    """A new agency's key, issued by `issuer` through the key route (admins)."""
    agency = api.post("/v1/operator/agencies", json={"name": "Keyed Police"}, headers=issuer)
    assert agency.status_code == 201, agency.text
    key = api.post(
        f"/v1/operator/agencies/{agency.json()['id']}/keys",
        json={"scopes": ["notices:read", "notices:write"]},
        headers=issuer,
    )
    assert key.status_code == 201, key.text
    return {"X-API-Key": key.json()["api_key"]}


CAP_ALERT = """<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>KEYED-1</identifier><sender>alerts@police.example</sender>
  <sent>{sent}</sent><status>Actual</status><msgType>Alert</msgType><scope>Public</scope>
  <info><category>Rescue</category><event>Missing person</event><urgency>Immediate</urgency>
    <severity>Severe</severity><certainty>Likely</certainty><onset>{sent}</onset>
    <description>Red coat.</description><contact>101</contact>
    <parameter><valueName>hexcast:personName</valueName><value>Lily Chen</value></parameter>
    <parameter><valueName>hexcast:personSex</valueName><value>female</value></parameter>
    <area><areaDesc>Westminster Bridge</areaDesc><circle>51.5007,-0.1246 1</circle></area>
  </info>
</alert>"""


@pytest.mark.parametrize("path", ["json", "cap"])
def test_the_admin_who_issued_a_key_cannot_approve_a_notice_submitted_with_it(
    api: httpx.Client,
    admin_headers: dict[str, str],
    reviewer_headers: dict[str, str],
    path: str,
) -> None:
    key = _key_of(api, admin_headers)
    if path == "json":
        submitted = api.post("/v1/notices", json=notice_body(), headers=key)
    else:
        sent = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S-00:00")
        submitted = api.post(
            "/v1/cap/alerts",
            content=CAP_ALERT.format(sent=sent).encode(),
            headers={**key, "Content-Type": "application/cap+xml"},
        )
    assert submitted.status_code == 201, submitted.text
    notice_id = submitted.json()["id"]

    detail = _refused_by_the_rule(_act(api, admin_headers, notice_id, "approve"))

    assert detail == (
        "an Actual notice must be approved by an operator other than the one who issued the "
        "agency key it was submitted with"
    )
    assert _status(api, admin_headers, notice_id) == "pending"
    assert _act(api, reviewer_headers, notice_id, "approve").status_code == 200


def test_an_admin_who_submitted_cannot_approve_either(
    api: httpx.Client, admin_headers: dict[str, str], agency_id: str
) -> None:
    notice = _submit_for(api, admin_headers, agency_id)
    assert _act(api, admin_headers, notice["id"], "approve").status_code == 403


def test_logging_in_again_does_not_make_a_second_person(
    api: httpx.Client, reviewer_headers: dict[str, str], agency_id: str
) -> None:
    notice = _submit_for(api, reviewer_headers, agency_id)
    other_session = log_in(api, "reviewer@hexcast.example")
    assert _act(api, other_session, notice["id"], "approve").status_code == 403


@pytest.mark.parametrize("cap_status", ["Test", "Exercise"])
def test_a_drill_may_be_approved_by_its_submitter(
    api: httpx.Client, reviewer_headers: dict[str, str], agency_id: str, cap_status: str
) -> None:
    notice = _submit_for(api, reviewer_headers, agency_id, cap_status)
    approved = _act(api, reviewer_headers, notice["id"], "approve")
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["cap_status"]) == ("active", cap_status)


@pytest.mark.parametrize("action", ["reject", "cancel"])
def test_the_submitter_may_still_withdraw_their_own_notice(
    api: httpx.Client, reviewer_headers: dict[str, str], agency_id: str, action: str
) -> None:
    notice = _submit_for(api, reviewer_headers, agency_id)
    response = _act(api, reviewer_headers, notice["id"], action)
    assert response.status_code == 200, response.text


def test_a_rejected_notice_cannot_then_be_approved_by_anyone(
    api: httpx.Client,
    reviewer_headers: dict[str, str],
    second_reviewer: dict[str, str],
    operator_headers: dict[str, str],
    agency_id: str,
) -> None:
    notice = _submit_for(api, reviewer_headers, agency_id)
    assert _act(api, second_reviewer, notice["id"], "reject").status_code == 200
    for operator in (second_reviewer, operator_headers):
        again = _act(api, operator, notice["id"], "approve")
        assert again.status_code == 409, again.text
        assert again.json()["code"] == "invalid_transition"
    assert _status(api, reviewer_headers, notice["id"]) == "rejected"


def test_a_notice_an_agency_submitted_is_approved_by_any_operator(
    api: httpx.Client, reviewer_headers: dict[str, str], agency_headers: dict[str, str]
) -> None:
    notice = api.post("/v1/notices", json=notice_body(), headers=agency_headers).json()
    assert notice["cap_status"] == "Actual"
    assert _act(api, reviewer_headers, notice["id"], "approve").status_code == 200


def test_the_agency_sees_a_notice_submitted_on_its_behalf(
    api: httpx.Client,
    reviewer_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    headers = create_agency(api, operator_headers, "Behalf Police")
    [agency] = api.get("/v1/operator/agencies", headers=reviewer_headers).json()["items"]
    notice = _submit_for(api, reviewer_headers, agency["id"])
    seen = api.get(f"/v1/notices/{notice['id']}", headers=headers)
    assert seen.status_code == 200
    assert seen.json() == notice


def test_submitting_for_an_unknown_agency_is_404(
    api: httpx.Client, reviewer_headers: dict[str, str]
) -> None:
    response = api.post(
        "/v1/operator/notices",
        json={**notice_body(), "agency_id": str(uuid.uuid4())},
        headers=reviewer_headers,
    )
    assert response.status_code == 404, response.text
    assert response.json()["detail"] == "agency not found"


@pytest.mark.parametrize("field", ["cap_status", "submitted_by_operator_id", "status"])
def test_an_approval_cannot_change_who_submitted_or_what_the_notice_is(
    api: httpx.Client,
    reviewer_headers: dict[str, str],
    second_reviewer: dict[str, str],
    agency_id: str,
    field: str,
) -> None:
    notice = _submit_for(api, reviewer_headers, agency_id, "Exercise")
    response = api.post(
        f"/v1/operator/notices/{notice['id']}/approve",
        json={field: "Actual" if field != "submitted_by_operator_id" else str(uuid.uuid4())},
        headers=second_reviewer,
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", field]
    assert _status(api, reviewer_headers, notice["id"]) == "pending"
