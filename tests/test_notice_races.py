"""Changes to one notice that race each other: operators re-planning its expansion while beat
applies a due step, and a notice ending while beat widens it. A plan for an active Actual
notice takes effect when a second operator approves it, so that approval is the side that
races. Each race is run many times
over, with a barrier so that both sides start together; beat's side is the service function
Celery beat's task calls, in a session of its own."""

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from alerts.expansion import service as expansion_service
from kit.db import after_commit, retry_conflicts, session_scope
from tests.helpers import create_operator, log_in, notice_body

NOTICES = 8  # beat walks several notices in one run, which widens every race's window
RACE_SECONDS = 4.0
MIN_ROUNDS = 3  # however slow the machine: each round is a race
LATER = timedelta(hours=2)  # "now" for beat: every planned step is due
ENDS = ["found", "cancel"]


def _active_notices(
    api: httpx.Client, agency: dict[str, str], operator: dict[str, str], count: int
) -> list[str]:
    ids = []
    for _ in range(count):
        notice = api.post("/v1/notices", json=notice_body(radius_km=1), headers=agency).json()
        approved = api.post(f"/v1/operator/notices/{notice['id']}/approve", headers=operator)
        assert approved.status_code == 200, approved.text
        ids.append(notice["id"])
    return ids


@pytest.fixture
def planners(
    api: httpx.Client, operator_headers: dict[str, str], bootstrap_headers: dict[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """The operator who plans, and the second operator who approves the plans."""
    create_operator(api, bootstrap_headers, "second@hexcast.example")
    return operator_headers, log_in(api, "second@hexcast.example")


def _propose(
    api: httpx.Client,
    planners: tuple[dict[str, str], dict[str, str]],
    notice_id: str,
    minutes: float,
    radius: float,
) -> str:
    proposed = api.put(
        f"/v1/operator/notices/{notice_id}/expansion",
        headers=planners[0],
        json={"steps": [{"after_minutes": minutes, "radius_km": radius}]},
    )
    assert proposed.status_code == 202, proposed.text
    return str(proposed.json()["id"])


def _approve(
    api: httpx.Client,
    planners: tuple[dict[str, str], dict[str, str]],
    notice_id: str,
    change_id: str,
) -> httpx.Response:
    return api.post(
        f"/v1/operator/notices/{notice_id}/changes/{change_id}/approve", headers=planners[1]
    )


def _plan(
    api: httpx.Client,
    planners: tuple[dict[str, str], dict[str, str]],
    notice_id: str,
    minutes: float,
    radius: float,
) -> httpx.Response:
    change_id = _propose(api, planners, notice_id, minutes, radius)
    return _approve(api, planners, notice_id, change_id)


def _approve_into(
    answers: dict[str, httpx.Response],
    api: httpx.Client,
    planners: tuple[dict[str, str], dict[str, str]],
    notice_id: str,
    change_id: str,
) -> None:
    answers[notice_id] = _approve(api, planners, notice_id, change_id)


def _end_into(
    answers: dict[str, httpx.Response],
    api: httpx.Client,
    operator: dict[str, str],
    notice_id: str,
    action: str,
) -> None:
    answers[notice_id] = api.post(
        f"/v1/operator/notices/{notice_id}/{action}", headers=operator, json={}
    )


def _beat_expands() -> list[Any]:
    with session_scope() as session:
        return list(expansion_service.expand_notices(session, now=datetime.now(UTC) + LATER))


def _together(*sides: Callable[[], object]) -> list[BaseException | None]:
    """Run each side in its own thread, started together; returns what each raised."""
    barrier = threading.Barrier(len(sides))
    errors: list[BaseException | None] = [None] * len(sides)

    def run(i: int) -> None:
        barrier.wait()
        try:
            sides[i]()
        except BaseException as error:  # reported by the test, not lost in the thread
            errors[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(sides))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_replanning_while_beat_applies_a_step_neither_fails_nor_loses_the_plan(
    api: httpx.Client,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
    planners: tuple[dict[str, str], dict[str, str]],
) -> None:
    notices = _active_notices(api, agency_headers, operator_headers, NOTICES)
    answers: list[httpx.Response] = []
    rounds = 0
    deadline = time.monotonic() + RACE_SECONDS
    while rounds < MIN_ROUNDS or time.monotonic() < deadline:
        rounds += 1
        # A step due at beat's "now" (minute r), then a re-plan of a step never due then
        # (minute 1000 + r): each plan widens whatever radius beat left, and comes after
        # every step it applied.
        for notice_id in notices:
            assert _plan(api, planners, notice_id, rounds, rounds + 1).is_success
        planned: dict[str, httpx.Response] = {}
        replans = [
            partial(
                _approve_into,
                planned,
                api,
                planners,
                n,
                _propose(api, planners, n, 1000 + rounds, rounds + 1.5),
            )
            for n in notices
        ]
        sides = [_beat_expands, *replans]
        errors = _together(*sides)
        assert errors == [None] * len(sides), f"round {rounds}: {errors}"
        answers += planned.values()
        for notice_id, answer in planned.items():
            assert answer.status_code == 200, f"round {rounds}: {answer.text}"
            # The operator's plan is what the notice now has pending.
            schedule = api.get(
                f"/v1/operator/notices/{notice_id}/expansion", headers=operator_headers
            ).json()
            pending = [s for s in schedule["steps"] if s["applied_at"] is None]
            assert [(s["after_minutes"], s["radius_km"]) for s in pending] == [
                (1000 + rounds, rounds + 1.5)
            ]
    assert len(answers) == rounds * NOTICES


def test_a_notice_that_ended_is_never_widened_afterwards(
    api: httpx.Client,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
    planners: tuple[dict[str, str], dict[str, str]],
) -> None:
    rounds = 0
    deadline = time.monotonic() + RACE_SECONDS
    while rounds < MIN_ROUNDS or time.monotonic() < deadline:
        rounds += 1
        notices = _active_notices(api, agency_headers, operator_headers, NOTICES)
        for notice_id in notices:
            assert _plan(api, planners, notice_id, 1, 5).status_code == 200
        ended: dict[str, httpx.Response] = {}
        endings = [
            partial(_end_into, ended, api, operator_headers, n, ENDS[i % 2])
            for i, n in enumerate(notices)
        ]
        sides = [_beat_expands, *endings]
        assert _together(*sides) == [None] * len(sides)
        for notice_id, answer in ended.items():
            assert answer.status_code == 200, answer.text
            now = api.get(f"/v1/notices/{notice_id}", headers=agency_headers).json()
            assert now["radius_km"] == answer.json()["radius_km"], f"round {rounds}: widened"
            trail = api.get(
                f"/v1/operator/notices/{notice_id}/audit", headers=operator_headers
            ).json()["items"]
            actions = [event["action"] for event in trail]
            end_at = next(
                i for i, a in enumerate(actions) if a in ("notice.found", "notice.cancelled")
            )
            assert actions[end_at + 1 :] == [], f"round {rounds}: {actions}"


def test_a_change_postgresql_fails_to_break_a_conflict_is_made_again(clean_db: None) -> None:
    """The net under every change to a notice: a deadlock or serialization failure that
    still happens reruns the change in a savepoint, keeping what the transaction did before
    it, and the after-commit work only of the run that succeeded."""
    runs: list[str] = []
    queued: list[str] = []

    def change(session: Session) -> str:
        runs.append("run")
        after_commit(session, partial(queued.append, f"run {len(runs)}"))
        if len(runs) == 1:  # PostgreSQL's own error, as it raises it to a deadlock's victim
            session.execute(
                text("DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = 'deadlock_detected'; END $$")
            )
        return "changed"

    with session_scope() as session:
        after_commit(session, partial(queued.append, "before"))
        assert retry_conflicts(session, partial(change, session)) == "changed"
    assert runs == ["run", "run"]
    assert queued == ["before", "run 2"]
