"""Agency API keys through the HTTP API: several per agency, each shown once and stored as a
hash, scoped to reading or writing notices, revocable at once, and rotated with an overlap
during which the old and the new key both work."""

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from kit.db import get_sessionmaker
from tests.helpers import create_agency, notice_body

READ = "notices:read"
WRITE = "notices:write"


@pytest.fixture
def agency_id(api: httpx.Client, admin_headers: dict[str, str]) -> str:
    response = api.post("/v1/operator/agencies", json={"name": "Key Police"}, headers=admin_headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _keys_url(agency_id: str) -> str:
    return f"/v1/operator/agencies/{agency_id}/keys"


def _issue(
    api: httpx.Client, admin: dict[str, str], agency_id: str, *scopes: str, **extra: Any
) -> dict[str, Any]:
    response = api.post(_keys_url(agency_id), json={"scopes": list(scopes), **extra}, headers=admin)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _submit(api: httpx.Client, api_key: str) -> httpx.Response:
    return api.post("/v1/notices", json=notice_body(), headers={"X-API-Key": api_key})


def _list(api: httpx.Client, api_key: str) -> httpx.Response:
    return api.get("/v1/notices", headers={"X-API-Key": api_key})


def test_an_issued_key_is_shown_once_stored_as_a_hash_and_listed_without_it(
    api: httpx.Client, admin_headers: dict[str, str], agency_id: str
) -> None:
    key = _issue(api, admin_headers, agency_id, READ, WRITE, label="dispatch system")

    assert key["api_key"].startswith("hxa_") and len(key["api_key"]) > 40
    assert key["prefix"] == key["api_key"][:12]
    assert (key["agency_id"], key["label"], key["scopes"]) == (
        agency_id,
        "dispatch system",
        [READ, WRITE],
    )
    assert (key["expires_at"], key["revoked_at"]) == (None, None)
    assert _submit(api, key["api_key"]).status_code == 201
    listed = api.get(_keys_url(agency_id), headers=admin_headers)
    assert listed.status_code == 200, listed.text
    assert [k["label"] for k in listed.json()] == ["first key", "dispatch system"]
    assert key["api_key"] not in listed.text
    assert listed.json()[1] == {k: v for k, v in key.items() if k != "api_key"}
    with get_sessionmaker()() as session:
        stored = session.scalars(text("SELECT to_jsonb(k)::text FROM agency_keys k")).all()
    assert len(stored) == 2
    assert not any(key["api_key"] in row for row in stored)


def test_a_read_only_key_reads_but_cannot_submit(
    api: httpx.Client, admin_headers: dict[str, str], agency_id: str
) -> None:
    writer = _issue(api, admin_headers, agency_id, WRITE)
    reader = _issue(api, admin_headers, agency_id, READ)
    notice = _submit(api, writer["api_key"]).json()

    refused = _submit(api, reader["api_key"])
    assert refused.status_code == 403, refused.text
    assert refused.json() == {
        "detail": "this API key lacks the notices:write scope",
        "code": "forbidden",
    }
    assert [n["id"] for n in _list(api, reader["api_key"]).json()["items"]] == [notice["id"]]
    read = api.get(f"/v1/notices/{notice['id']}", headers={"X-API-Key": reader["api_key"]})
    assert read.status_code == 200


def test_a_write_only_key_submits_and_ends_but_cannot_read(
    api: httpx.Client, admin_headers: dict[str, str], agency_id: str
) -> None:
    writer = _issue(api, admin_headers, agency_id, WRITE)
    headers = {"X-API-Key": writer["api_key"]}
    notice = _submit(api, writer["api_key"]).json()

    assert _list(api, writer["api_key"]).status_code == 403
    assert api.get(f"/v1/notices/{notice['id']}", headers=headers).status_code == 403
    cancelled = api.post(f"/v1/notices/{notice['id']}/cancel", headers=headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"


def test_only_a_key_with_the_webhook_scope_can_redirect_the_agencys_webhook(
    api: httpx.Client, admin_headers: dict[str, str], agency_id: str
) -> None:
    """Sightings, with reporters' contacts, go to the webhook: a key that submits notices
    must not be able to send them elsewhere."""
    writer = {"X-API-Key": _issue(api, admin_headers, agency_id, READ, WRITE)["api_key"]}
    manager = {"X-API-Key": _issue(api, admin_headers, agency_id, "webhook:write")["api_key"]}
    hook = {"url": "http://127.0.0.1:9/hook"}

    redirected = api.put("/v1/webhook", json=hook, headers=writer)
    assert redirected.status_code == 403, redirected.text
    assert "webhook:write" in redirected.json()["detail"]
    assert api.delete("/v1/webhook", headers=writer).status_code == 403
    assert api.put("/v1/webhook", json=hook, headers=manager).status_code == 200
    assert api.delete("/v1/webhook", headers=manager).status_code == 204


def test_a_revoked_key_stops_at_once_and_the_agencys_other_keys_work_on(
    api: httpx.Client, admin_headers: dict[str, str], agency_id: str
) -> None:
    leaked = _issue(api, admin_headers, agency_id, READ, WRITE)
    spare = _issue(api, admin_headers, agency_id, READ, WRITE)

    response = api.post(f"{_keys_url(agency_id)}/{leaked['id']}/revoke", headers=admin_headers)

    assert response.status_code == 200, response.text
    revoked_at = datetime.fromisoformat(response.json()["revoked_at"])
    assert abs(revoked_at - datetime.now(UTC)) < timedelta(seconds=30)
    refused = _submit(api, leaked["api_key"])
    assert refused.status_code == 401
    assert refused.json()["detail"] == "revoked API key"
    assert _submit(api, spare["api_key"]).status_code == 201
    again = api.post(f"{_keys_url(agency_id)}/{leaked['id']}/revoke", headers=admin_headers)
    assert again.status_code == 409
    rotate = api.post(f"{_keys_url(agency_id)}/{leaked['id']}/rotate", headers=admin_headers)
    assert rotate.status_code == 409, "a revoked key has no successor"


def test_rotation_keeps_the_old_key_working_for_the_overlap_only(
    api: httpx.Client, admin_headers: dict[str, str], agency_id: str
) -> None:
    old = _issue(api, admin_headers, agency_id, READ, WRITE, label="v1")
    overlap_s = 3.0

    response = api.post(
        f"{_keys_url(agency_id)}/{old['id']}/rotate",
        json={"overlap_hours": overlap_s / 3600, "label": "v2"},
        headers=admin_headers,
    )

    assert response.status_code == 201, response.text
    rotated = response.json()
    new = rotated["new"]
    assert (new["scopes"], new["label"], new["expires_at"]) == ([READ, WRITE], "v2", None)
    assert new["api_key"] != old["api_key"] and new["id"] != old["id"]
    retire_at = datetime.fromisoformat(rotated["old"]["expires_at"])
    assert abs(retire_at - (datetime.now(UTC) + timedelta(seconds=overlap_s))) < timedelta(
        seconds=2
    )
    assert _submit(api, old["api_key"]).status_code == 201, "the old key works in the overlap"
    assert _submit(api, new["api_key"]).status_code == 201

    time.sleep(max(0.0, (retire_at - datetime.now(UTC)).total_seconds()) + 0.2)

    expired = _submit(api, old["api_key"])
    assert expired.status_code == 401
    assert expired.json()["detail"] == "expired API key"
    assert _submit(api, new["api_key"]).status_code == 201
    assert _list(api, new["api_key"]).json()["total"] == 3


def test_rotation_without_a_body_overlaps_a_day(
    api: httpx.Client, admin_headers: dict[str, str], agency_id: str
) -> None:
    old = _issue(api, admin_headers, agency_id, READ)
    rotated = api.post(f"{_keys_url(agency_id)}/{old['id']}/rotate", headers=admin_headers).json()
    retire_at = datetime.fromisoformat(rotated["old"]["expires_at"])
    assert abs(retire_at - (datetime.now(UTC) + timedelta(hours=24))) < timedelta(minutes=1)
    assert rotated["new"]["scopes"] == [READ]


def test_a_key_issued_with_an_expiry_stops_then(
    api: httpx.Client, admin_headers: dict[str, str], agency_id: str
) -> None:
    expires_at = datetime.now(UTC) + timedelta(seconds=2)
    key = _issue(api, admin_headers, agency_id, READ, expires_at=expires_at.isoformat())
    assert _list(api, key["api_key"]).status_code == 200
    time.sleep(max(0.0, (expires_at - datetime.now(UTC)).total_seconds()) + 0.2)
    assert _list(api, key["api_key"]).status_code == 401


def test_keys_of_another_agency_or_unknown_ones_are_404(
    api: httpx.Client,
    admin_headers: dict[str, str],
    operator_headers: dict[str, str],
    agency_id: str,
) -> None:
    key = _issue(api, admin_headers, agency_id, READ)
    create_agency(api, operator_headers, "Other Police")
    other_id = api.get("/v1/operator/agencies", headers=admin_headers).json()["items"][1]["id"]
    for url, body in (
        (f"{_keys_url(other_id)}/{key['id']}/revoke", None),
        (f"{_keys_url(other_id)}/{key['id']}/rotate", None),
        (f"{_keys_url(agency_id)}/{uuid.uuid4()}/revoke", None),
        (_keys_url(str(uuid.uuid4())), {"scopes": [READ]}),
    ):
        response = api.post(url, json=body, headers=admin_headers)
        assert response.status_code == 404, (url, response.text)
    assert api.get(_keys_url(str(uuid.uuid4())), headers=admin_headers).status_code == 404
    assert _list(api, key["api_key"]).status_code == 200, "the key was not touched"


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"scopes": []}, "scopes"),
        ({"scopes": ["notices:admin"]}, "scopes"),
        ({"scopes": [READ, READ]}, "scopes"),
        ({"scopes": [READ], "expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
        ({"scopes": [READ], "expires_at": "2030-01-01T00:00:00"}, "expires_at"),
        ({"scopes": [READ], "expires_at": "9999-12-31T23:59:59-05:00"}, "expires_at"),
        ({"scopes": [READ], "agency_id": str(uuid.uuid4())}, "agency_id"),
        ({"scopes": [READ], "key_hash": "0" * 64}, "key_hash"),
        ({"scopes": [READ], "revoked_at": None}, "revoked_at"),
    ],
)
def test_a_bad_key_request_is_422(
    api: httpx.Client, admin_headers: dict[str, str], agency_id: str, body: dict[str, Any], loc: str
) -> None:
    response = api.post(_keys_url(agency_id), json=body, headers=admin_headers)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][:2] == ["body", loc]
    assert len(api.get(_keys_url(agency_id), headers=admin_headers).json()) == 1


@pytest.mark.parametrize("overlap", [-1, 721])
def test_a_rotation_overlap_beyond_0_to_720_hours_is_422(
    api: httpx.Client, admin_headers: dict[str, str], agency_id: str, overlap: float
) -> None:
    [first] = api.get(_keys_url(agency_id), headers=admin_headers).json()
    response = api.post(
        f"{_keys_url(agency_id)}/{first['id']}/rotate",
        json={"overlap_hours": overlap},
        headers=admin_headers,
    )
    assert response.status_code == 422, response.text
    assert len(api.get(_keys_url(agency_id), headers=admin_headers).json()) == 1
