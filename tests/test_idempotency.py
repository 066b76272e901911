"""Idempotent notice submission through the HTTP API: a retried POST with the same
Idempotency-Key and body gets the first notice back, never a second notice."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text, update

from kit.db import session_scope
from kit.models import IdempotencyKey, Notice
from tests.helpers import create_agency, notice_body


def _submit(
    api: httpx.Client, headers: dict[str, str], key: str | None, body: dict[str, Any]
) -> httpx.Response:
    extra = {"Idempotency-Key": key} if key is not None else {}
    return api.post("/v1/notices", json=body, headers={**headers, **extra})


def _notice_count() -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(Notice)) or 0


def test_the_same_key_and_body_return_the_first_notice(
    api: httpx.Client, agency_headers: dict[str, str]
) -> None:
    body = notice_body()
    first = _submit(api, agency_headers, "retry-4411", body)
    again = _submit(api, agency_headers, "retry-4411", body)

    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json()
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert _notice_count() == 1
    listed = api.get("/v1/notices", headers=agency_headers).json()
    assert [n["id"] for n in listed["items"]] == [first.json()["id"]]


def test_a_replay_shows_the_notice_as_it_is_now(
    api: httpx.Client, agency_headers: dict[str, str], operator_headers: dict[str, str]
) -> None:
    body = notice_body()
    first = _submit(api, agency_headers, "k", body).json()
    rejected = api.post(f"/v1/operator/notices/{first['id']}/reject", headers=operator_headers)
    assert rejected.status_code == 200, rejected.text

    again = _submit(api, agency_headers, "k", body)

    assert again.status_code == 201
    assert again.json()["id"] == first["id"]
    assert again.json()["status"] == "rejected"


def test_the_same_key_with_another_body_is_409_and_creates_nothing(
    api: httpx.Client, agency_headers: dict[str, str]
) -> None:
    assert _submit(api, agency_headers, "k-1", notice_body(radius_km=5)).status_code == 201

    response = _submit(api, agency_headers, "k-1", notice_body(radius_km=6))

    assert response.status_code == 409, response.text
    assert response.json() == {
        "detail": "this Idempotency-Key was used with a different request body; "
        "use a new key for a new notice",
        "code": "idempotency_key_reused",
    }
    assert _notice_count() == 1


def test_keys_are_per_agency_and_requests_without_a_key_always_create(
    api: httpx.Client, agency_headers: dict[str, str], operator_headers: dict[str, str]
) -> None:
    other = create_agency(api, operator_headers, "Other Police")
    body = notice_body()
    mine = _submit(api, agency_headers, "shared-key", body).json()
    theirs = _submit(api, other, "shared-key", body)
    assert theirs.status_code == 201
    assert theirs.json()["id"] != mine["id"]
    assert "idempotent-replayed" not in theirs.headers

    plain = [_submit(api, agency_headers, None, body).json()["id"] for _ in range(2)]
    assert len({*plain, mine["id"]}) == 3


def test_concurrent_duplicates_create_exactly_one_notice(
    api: httpx.Client, agency_headers: dict[str, str]
) -> None:
    body = notice_body()

    def submit(_: int) -> httpx.Response:
        return _submit(api, agency_headers, "burst", body)

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(submit, range(16)))

    assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum("idempotent-replayed" in r.headers for r in responses) == 15
    assert _notice_count() == 1


def test_a_key_older_than_24_hours_is_free_again(
    api: httpx.Client, agency_headers: dict[str, str]
) -> None:
    first = _submit(api, agency_headers, "daily", notice_body(radius_km=5)).json()
    with session_scope() as session:
        session.execute(
            update(IdempotencyKey).values(created_at=func.now() - text("interval '25 hours'"))
        )

    again = _submit(api, agency_headers, "daily", notice_body(radius_km=6))

    assert again.status_code == 201, again.text
    assert again.json()["id"] != first["id"]
    assert again.json()["radius_km"] == 6
    assert "idempotent-replayed" not in again.headers


def test_the_hourly_purge_forgets_only_expired_keys(
    api: httpx.Client, agency_headers: dict[str, str]
) -> None:
    from alerts.notices.tasks import purge_idempotency_keys

    _submit(api, agency_headers, "old", notice_body())
    _submit(api, agency_headers, "new", notice_body())
    with session_scope() as session:
        session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.key == "old")
            .values(created_at=func.now() - text("interval '25 hours'"))
        )

    assert purge_idempotency_keys() == 1
    with session_scope() as session:
        assert list(session.scalars(select(IdempotencyKey.key))) == ["new"]


@pytest.mark.parametrize(
    "key",
    ["", "x" * 256, "tab\there", "caf\u00e9"],
    ids=["empty", "too long", "control character", "not ASCII"],
)
def test_a_malformed_key_is_422_and_creates_nothing(
    api: httpx.Client, agency_headers: dict[str, str], key: str
) -> None:
    response = api.post(
        "/v1/notices",
        json=notice_body(),
        headers={**agency_headers, "Idempotency-Key": key.encode()},
    )

    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    assert _notice_count() == 0


def test_a_key_of_255_printable_characters_is_accepted(
    api: httpx.Client, agency_headers: dict[str, str]
) -> None:
    key = (f"idem {uuid.uuid4()} " * 7)[:255]
    body = notice_body()
    assert _submit(api, agency_headers, key, body).status_code == 201
    assert _submit(api, agency_headers, key, body).headers["idempotent-replayed"] == "true"
