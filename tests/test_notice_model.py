"""A model-based run of the notice lifecycle under concurrency: hypothesis draws sequences of
steps, each a handful of calls issued from several threads at once against the real API, the
real Celery worker and beat, and beat's lifecycle functions called directly. After every
step, for every notice: its status moved along legal edges only (alerts.notices.lifecycle), nothing
happened to it after it ended, no call failed with a 5xx, no device got its alert twice, and
no more devices got it than it targeted.

HEXCAST_MODEL_TEST_EXAMPLES runs more examples (default 6, about half a minute); the counts
of a run are printed at its end (pytest -s)."""

import itertools
import os
import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httpx
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from alerts.expansion import service as expansion_service
from alerts.notices import service as notice_service
from alerts.notices.lifecycle import ENDED, Action, InvalidTransition, next_status
from geo.sphere import destination
from kit.celery import celery_app
from kit.db import session_scope
from kit.models import NoticeStatus
from tests.conftest import Sandbox, wait_until
from tests.helpers import delivery_stats, notice_body, register_device, report_location

EXAMPLES = int(os.environ.get("HEXCAST_MODEL_TEST_EXAMPLES", "6"))
CENTRE = (48.8566, 2.3522)
DEVICES = 4
OPERATIONS = [
    "submit",
    "approve",
    "reject",
    "cancel",
    "found",
    "patch",
    "plan",
    "beat_expand",
    "beat_expire",
    "beat_task",
    "location",
    "sighting",
]
# The audit action of each status change, and the status it leaves the notice in.
STATUS_ACTIONS = {
    "notice.submitted": NoticeStatus.PENDING,
    "notice.approved": NoticeStatus.ACTIVE,
    "notice.rejected": NoticeStatus.REJECTED,
    "notice.cancelled": NoticeStatus.CANCELLED,
    "notice.found": NoticeStatus.FOUND,
    "notice.expired": NoticeStatus.EXPIRED,
}
FINAL = (*ENDED, NoticeStatus.REJECTED)

# What every run counted, over all its examples.
COUNTS: Counter[str] = Counter()
STATUSES: Counter[str] = Counter()


def _legal(before: NoticeStatus, after: NoticeStatus) -> bool:
    for action in Action:
        try:
            if next_status(before, action) == after:
                return True
        except InvalidTransition:
            continue
    return False


class NoticeLifecycle(RuleBasedStateMachine):
    api: httpx.Client
    agency: dict[str, str]
    operator: dict[str, str]
    sandbox: Sandbox

    def __init__(self) -> None:
        super().__init__()
        self.notices: list[str] = []
        self.devices: list[dict[str, str]] = []
        self.failures: list[str] = []
        self.lock = threading.Lock()

    @initialize()
    def devices_near_the_centre(self) -> None:
        tag = uuid.uuid4().hex[:8]
        for i in range(DEVICES):
            headers = register_device(self.api, f"model-{tag}-{i}")
            report_location(self.api, headers, *destination(*CENTRE, 500 + 700 * i, 90 * i))
            self.devices.append(headers)

    # --- the calls -----------------------------------------------------------------------

    def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response | None:
        try:
            answer = self.api.request(method, url, **kwargs)
        except Exception as error:  # the app raised: a 500 to the client
            self._fail(f"{method} {url}: {type(error).__name__}: {error}")
            return None
        with self.lock:
            COUNTS["calls"] += 1
            COUNTS[f"http {answer.status_code // 100}xx"] += 1
        if answer.status_code >= 500:
            self._fail(f"{method} {url}: {answer.status_code} {answer.text}")
        return answer

    def _fail(self, what: str) -> None:
        with self.lock:
            self.failures.append(what)
            COUNTS["violations"] += 1

    def _notice(self, pick: int) -> str | None:
        with self.lock:
            return self.notices[pick % len(self.notices)] if self.notices else None

    def _beat(self, work: Callable[[Any], object]) -> None:
        try:
            with session_scope() as session:
                work(session)
        except Exception as error:
            self._fail(f"beat: {type(error).__name__}: {error}")
        with self.lock:
            COUNTS["beat calls"] += 1

    def _operation(self, kind: str, pick: int, rng: random.Random) -> None:
        if kind == "submit":
            body = notice_body(lat=CENTRE[0], lon=CENTRE[1], radius_km=rng.choice([1, 2, 3]))
            answer = self._call("POST", "/v1/notices", json=body, headers=self.agency)
            if answer is not None and answer.status_code == 201:
                with self.lock:
                    self.notices.append(answer.json()["id"])
            return
        if kind == "beat_expand":
            later = timedelta(minutes=rng.choice([0, 5, 120]))
            self._beat(lambda s: expansion_service.expand_notices(s, now=datetime.now(UTC) + later))
            return
        if kind == "beat_expire":
            self._beat(lambda s: notice_service.expire_notices(s, now=datetime.now(UTC)))
            return
        if kind == "beat_task":
            celery_app.send_task(rng.choice(["alerts.expand_notices", "alerts.expire_notices"]))
            return
        device = self.devices[pick % len(self.devices)]
        if kind == "location":
            lat, lon = destination(*CENTRE, rng.uniform(0, 8000), rng.uniform(0, 360))
            report_location(self.api, device, lat, lon)
            with self.lock:
                COUNTS["calls"] += 1
            return
        notice = self._notice(pick)
        if notice is None:
            return
        url = f"/v1/operator/notices/{notice}"
        reason = {"reason": "model"}
        if kind == "approve":
            lifetime = rng.choice([0.0005, 0.002, 1.0])  # 1.8 s, 7.2 s or an hour
            self._call(
                "POST", f"{url}/approve", json={"lifetime_hours": lifetime}, headers=self.operator
            )
        elif kind in ("reject", "cancel", "found"):
            self._call("POST", f"{url}/{kind}", json=reason, headers=self.operator)
        elif kind == "patch":
            change = rng.choice(
                [{"description": f"Seen {rng.random()}"}, {"radius_km": rng.choice([2, 4, 6])}]
            )
            self._call("PATCH", f"/v1/notices/{notice}", json=change, headers=self.agency)
        elif kind == "plan":
            steps = [
                {"after_minutes": rng.choice([0.01, 2, 60]), "radius_km": rng.choice([4, 7, 10])}
            ]
            self._call("PUT", f"{url}/expansion", json={"steps": steps}, headers=self.operator)
        elif kind == "sighting":
            body = {
                "seen_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
                "lat": CENTRE[0],
                "lon": CENTRE[1],
                "accuracy_m": 20,
                "text": "Seen near the station.",
            }
            self._call("POST", f"/v1/notices/{notice}/sightings", json=body, headers=device)

    @precondition(lambda self: len(self.notices) < 4)
    @rule(approve=st.booleans(), plan=st.booleans())
    def new_notice(self, approve: bool, plan: bool) -> None:
        """A notice, maybe with a due step planned, maybe approved: the races need some."""
        body = notice_body(lat=CENTRE[0], lon=CENTRE[1], radius_km=2)
        answer = self._call("POST", "/v1/notices", json=body, headers=self.agency)
        assert answer is not None and answer.status_code == 201, answer
        notice = answer.json()["id"]
        self.notices.append(notice)
        url = f"/v1/operator/notices/{notice}"
        if plan:
            steps = {"steps": [{"after_minutes": 0.01, "radius_km": 5}]}
            self._call("PUT", f"{url}/expansion", json=steps, headers=self.operator)
        if approve:
            self._call("POST", f"{url}/approve", json={}, headers=self.operator)

    @rule(
        operations=st.lists(
            st.tuples(st.sampled_from(OPERATIONS), st.integers(0, 1000)), min_size=1, max_size=5
        ),
        seed=st.integers(0, 2**32),
    )
    def at_once(self, operations: list[tuple[str, int]], seed: int) -> None:
        """The operations from one thread each, started together."""
        COUNTS["steps"] += 1
        barrier = threading.Barrier(len(operations))

        def run(kind: str, pick: int, rng: random.Random) -> None:
            barrier.wait()
            try:
                self._operation(kind, pick, rng)
            except Exception as error:
                self._fail(f"{kind}: {type(error).__name__}: {error}")

        threads = [
            threading.Thread(target=partial(run, kind, pick, random.Random(seed + i)))
            for i, (kind, pick) in enumerate(operations)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        COUNTS.update(f"op {kind}" for kind, _ in operations)

    # --- what must hold after every step ------------------------------------------------

    @invariant()
    def nothing_failed(self) -> None:
        assert self.failures == []

    @invariant()
    def each_notice_kept_the_rules(self) -> None:
        # The sandbox first: a push it holds had its delivery written before it was sent.
        alerts = Counter(
            (m["message"]["data"]["notice_id"], m["message"]["token"])
            for m in self.sandbox.messages()
            if m["message"]["data"]["type"] == "missing_person"
        )
        twice = [key for key, count in alerts.items() if count > 1]
        assert twice == [], f"devices alerted twice for a notice: {twice}"
        for notice in self.notices:
            self._check_trail(notice)
            targeted = delivery_stats(self.api, self.operator, notice)["targeted"]
            pushed = sum(count for (n, _), count in alerts.items() if n == notice)
            assert pushed <= targeted, f"{notice}: {pushed} pushed, {targeted} targeted"

    def _check_trail(self, notice: str) -> None:
        trail = self.api.get(f"/v1/operator/notices/{notice}/audit", headers=self.operator).json()[
            "items"
        ]
        status = self.api.get(f"/v1/notices/{notice}", headers=self.agency).json()["status"]
        actions = [event["action"] for event in trail]
        changes = [STATUS_ACTIONS[a] for a in actions if a in STATUS_ACTIONS]
        assert changes[:1] == [NoticeStatus.PENDING], f"{notice}: {actions}"
        for before, after in itertools.pairwise(changes):
            assert _legal(before, after), f"{notice}: {before} -> {after} in {actions}"
        assert changes[-1] == status, f"{notice}: is {status}, trail says {actions}"
        ended = next((i for i, a in enumerate(actions) if STATUS_ACTIONS.get(a) in FINAL), None)
        if ended is not None:
            assert actions[ended + 1 :] == [], f"{notice}: after its end: {actions}"

    def teardown(self) -> None:
        """Let every broadcast finish, then check once more: a duplicate push may come late."""

        def settled() -> bool:
            for notice in self.notices:
                stats = delivery_stats(self.api, self.operator, notice)
                if stats["by_status"]["pending"]:
                    return False
            return True

        if self.failures == []:
            wait_until(settled, timeout=60, what="every broadcast to settle")
            self.each_notice_kept_the_rules()
        for notice in self.notices:
            status = self.api.get(f"/v1/notices/{notice}", headers=self.agency).json()["status"]
            STATUSES[status] += 1
        COUNTS["notices"] += len(self.notices)


def test_random_concurrent_lifecycles_keep_every_rule(
    api: httpx.Client,
    worker: object,
    sandbox: Sandbox,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    COUNTS.clear()
    STATUSES.clear()
    NoticeLifecycle.api = api
    NoticeLifecycle.agency = agency_headers
    NoticeLifecycle.operator = operator_headers
    NoticeLifecycle.sandbox = sandbox
    try:
        run_state_machine_as_test(
            NoticeLifecycle,
            settings=settings(
                max_examples=EXAMPLES,
                stateful_step_count=12,
                deadline=None,
                database=None,
                # Shrinking replays a concurrent run, which would not race the same way again.
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            ),
        )
    finally:
        print(f"\nmodel run: {dict(sorted(COUNTS.items()))}\nfinal statuses: {dict(STATUSES)}")
