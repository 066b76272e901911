"""The audit log through the HTTP API: every lifecycle step and every account or key change is
one event with its actor and time, written with the change; and the database itself refuses
to update or delete an event."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from kit.celery import celery_app
from kit.db import get_engine
from tests.conftest import wait_until
from tests.helpers import PASSWORD, create_operator, log_in, notice_body


def _events(api: httpx.Client, operator: dict[str, str], query: str = "") -> list[dict[str, Any]]:
    response = api.get(f"/v1/operator/audit{query}", headers=operator)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def _notice_events(
    api: httpx.Client, operator: dict[str, str], notice_id: str
) -> list[dict[str, Any]]:
    response = api.get(f"/v1/operator/notices/{notice_id}/audit", headers=operator)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def _me(api: httpx.Client, headers: dict[str, str]) -> str:
    return str(api.get("/v1/operator/me", headers=headers).json()["id"])


def _first_key(api: httpx.Client, admin: dict[str, str], agency_id: str) -> dict[str, Any]:
    [key] = api.get(f"/v1/operator/agencies/{agency_id}/keys", headers=admin).json()
    return dict(key)


def test_each_step_of_a_notice_is_recorded_with_its_actor_and_time(
    api: httpx.Client,
    admin_headers: dict[str, str],
    reviewer_headers: dict[str, str],
) -> None:
    created = api.post(
        "/v1/operator/agencies", json={"name": "Audit Police"}, headers=admin_headers
    )
    agency = created.json()
    agency_headers = {"X-API-Key": agency["api_key"]}
    key = _first_key(api, admin_headers, agency["id"])
    start = datetime.now(UTC)

    notice = api.post("/v1/notices", json=notice_body(radius_km=4), headers=agency_headers).json()
    api.post(
        f"/v1/operator/notices/{notice['id']}/approve",
        json={"radius_km": 2, "lifetime_hours": 6},
        headers=reviewer_headers,
    )
    found = api.post(
        f"/v1/notices/{notice['id']}/found", json={"reason": "home safe"}, headers=agency_headers
    )
    assert found.status_code == 200, found.text
    assert found.json()["status"] == "found"

    events = _notice_events(api, reviewer_headers, notice["id"])
    reviewer = _me(api, reviewer_headers)
    assert [(e["action"], e["actor_type"], e["actor_id"]) for e in events] == [
        ("notice.submitted", "agency", agency["id"]),
        ("notice.approved", "operator", reviewer),
        ("notice.found", "agency", agency["id"]),
    ]
    assert all(e["notice_id"] == notice["id"] for e in events)
    times = [datetime.fromisoformat(e["at"]) for e in events]
    assert times == sorted(times)
    assert start - timedelta(seconds=5) <= times[0] and times[-1] <= datetime.now(UTC)
    submitted, approved, ended = (e["details"] for e in events)
    assert submitted == {
        "agency_id": agency["id"],
        "cap_status": "Actual",
        "radius_km": 4.0,
        "credential_id": key["id"],
    }
    assert approved["radius_km"] == 2.0
    expires_at = datetime.fromisoformat(found.json()["expires_at"])
    assert datetime.fromisoformat(approved["expires_at"]) == expires_at
    assert uuid.UUID(approved["credential_id"]), "the reviewer's login session"
    assert ended == {"reason": "home safe", "credential_id": key["id"]}


@pytest.mark.parametrize(
    ("action", "recorded"), [("reject", "notice.rejected"), ("cancel", "notice.cancelled")]
)
def test_decisions_record_their_reason(
    api: httpx.Client,
    agency_headers: dict[str, str],
    reviewer_headers: dict[str, str],
    action: str,
    recorded: str,
) -> None:
    notice = api.post("/v1/notices", json=notice_body(), headers=agency_headers).json()
    api.post(
        f"/v1/operator/notices/{notice['id']}/{action}",
        json={"reason": "hoax"},
        headers=reviewer_headers,
    )
    last = _notice_events(api, reviewer_headers, notice["id"])[-1]
    assert (last["action"], last["actor_id"]) == (recorded, _me(api, reviewer_headers))
    assert last["details"]["reason"] == "hoax"


def test_expiry_is_recorded_as_the_systems_step(
    api: httpx.Client,
    worker: object,
    agency_headers: dict[str, str],
    reviewer_headers: dict[str, str],
) -> None:
    notice = api.post("/v1/notices", json=notice_body(), headers=agency_headers).json()
    api.post(
        f"/v1/operator/notices/{notice['id']}/approve",
        json={"lifetime_hours": 1 / 3600},
        headers=reviewer_headers,
    )

    def expired() -> bool:
        celery_app.send_task("alerts.expire_notices")  # what Celery beat queues every minute
        status = api.get(f"/v1/notices/{notice['id']}", headers=agency_headers).json()["status"]
        return bool(status == "expired")

    wait_until(expired, timeout=30, what="the notice to expire")
    last = _notice_events(api, reviewer_headers, notice["id"])[-1]
    assert (last["action"], last["actor_type"], last["actor_id"]) == (
        "notice.expired",
        "system",
        None,
    )


def test_account_and_key_changes_are_recorded(
    api: httpx.Client, admin_headers: dict[str, str]
) -> None:
    admin = _me(api, admin_headers)
    ana = create_operator(api, admin_headers, "ana@hexcast.example")
    ana_headers = log_in(api, "ana@hexcast.example")
    api.patch(f"/v1/operator/accounts/{ana['id']}", json={"role": "admin"}, headers=admin_headers)
    api.put(
        "/v1/operator/me/password",
        json={"current_password": PASSWORD, "new_password": "another long passphrase"},
        headers=ana_headers,
    )
    api.post("/v1/operator/logout", headers=ana_headers)
    agency = api.post("/v1/operator/agencies", json={"name": "Keys"}, headers=admin_headers).json()
    keys = f"/v1/operator/agencies/{agency['id']}/keys"
    first = _first_key(api, admin_headers, agency["id"])
    second = api.post(keys, json={"scopes": ["notices:read"]}, headers=admin_headers).json()
    rotated = api.post(f"{keys}/{first['id']}/rotate", headers=admin_headers).json()
    api.post(f"{keys}/{second['id']}/revoke", headers=admin_headers)

    events = _events(api, admin_headers, "?limit=100")[::-1]  # oldest first
    summary = [(e["action"], e["actor_id"]) for e in events if e["action"] != "operator.login"]
    assert summary == [
        ("operator.created", str(uuid.UUID(int=1))),  # the admin fixture, by the bootstrap
        ("operator.created", admin),
        ("operator.updated", admin),
        ("operator.password_changed", ana["id"]),
        ("operator.logout", ana["id"]),
        ("agency.created", admin),
        ("agency_key.created", admin),
        ("agency_key.created", admin),
        ("agency_key.created", admin),
        ("agency_key.rotated", admin),
        ("agency_key.revoked", admin),
    ]
    by_action = {e["action"]: e["details"] for e in events}
    assert by_action["operator.updated"]["changes"] == {"role": ["reviewer", "admin"]}
    assert by_action["agency_key.rotated"]["key_id"] == first["id"]
    assert by_action["agency_key.rotated"]["successor_id"] == rotated["new"]["id"]
    assert by_action["agency_key.revoked"]["key_id"] == second["id"]
    assert not any(second.get("api_key", "-") in str(e) for e in events), "no secret is logged"
    logins = [e["actor_id"] for e in events if e["action"] == "operator.login"]
    assert logins == [admin, ana["id"]]


def test_the_log_filters_by_action_actor_and_notice(
    api: httpx.Client,
    agency_headers: dict[str, str],
    admin_headers: dict[str, str],
    reviewer_headers: dict[str, str],
) -> None:
    one = api.post("/v1/notices", json=notice_body(), headers=agency_headers).json()
    two = api.post("/v1/notices", json=notice_body(), headers=agency_headers).json()
    api.post(f"/v1/operator/notices/{one['id']}/approve", headers=reviewer_headers)
    api.post(f"/v1/operator/notices/{two['id']}/reject", headers=admin_headers)
    reviewer = _me(api, reviewer_headers)

    approvals = _events(api, admin_headers, "?action=notice.approved")
    assert [(e["notice_id"], e["actor_id"]) for e in approvals] == [(one["id"], reviewer)]
    by_reviewer = _events(api, admin_headers, f"?actor_id={reviewer}")
    assert [e["action"] for e in by_reviewer] == ["notice.approved", "operator.login"]
    of_two = _events(api, admin_headers, f"?notice_id={two['id']}")
    assert [e["action"] for e in of_two] == ["notice.rejected", "notice.submitted"]
    page = api.get("/v1/operator/audit?limit=2&offset=1", headers=admin_headers).json()
    assert len(page["items"]) == 2 and page["total"] > 3


def test_a_filter_the_database_cannot_hold_is_422(
    api: httpx.Client, admin_headers: dict[str, str]
) -> None:
    response = api.get("/v1/operator/audit?action=notice%00approved", headers=admin_headers)

    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", "action"]
    assert "NUL" in error["msg"]


def test_the_audit_of_an_unknown_notice_is_404(
    api: httpx.Client, reviewer_headers: dict[str, str]
) -> None:
    response = api.get(f"/v1/operator/notices/{uuid.uuid4()}/audit", headers=reviewer_headers)
    assert response.status_code == 404
    assert response.json() == {"detail": "notice not found", "code": "not_found"}


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET action = 'notice.rejected'",
        "UPDATE audit_events SET details = '{}' WHERE false",
        "DELETE FROM audit_events",
        "DELETE FROM audit_events WHERE action = 'notice.submitted'",
    ],
)
def test_the_database_refuses_to_change_or_delete_audit_events(
    api: httpx.Client,
    agency_headers: dict[str, str],
    reviewer_headers: dict[str, str],
    statement: str,
) -> None:
    notice = api.post("/v1/notices", json=notice_body(), headers=agency_headers).json()
    before = _notice_events(api, reviewer_headers, notice["id"])

    with (
        pytest.raises(DBAPIError, match="audit_events is append-only"),
        get_engine().begin() as conn,
    ):
        conn.execute(text(statement))

    assert _notice_events(api, reviewer_headers, notice["id"]) == before
    with get_engine().begin() as conn:  # appending still works
        conn.execute(
            text("INSERT INTO audit_events (actor_type, action) VALUES ('system', 'test.append')")
        )
