"""A model-based run of the notice lifecycle under concurrency: hypothesis draws sequences of
steps, each a handful of calls issued from several threads at once against the real API, the
real Celery worker and beat, and beat's lifecycle functions called directly. After every
step, for every notice: its status moved along legal edges only (alerts.notices.lifecycle), nothing
happened to it after it ended, no call failed with a 5xx, no device got its alert twice, and
no more devices got it than it targeted.

Each example has an area of its own, far from every other's, and at its end retires its
devices and empties the sandbox once its broadcasts settled: a later example reaches only
its own devices and reads only its own pushes, so a long run stays as fast as a short one.

HEXCAST_MODEL_TEST_EXAMPLES runs more examples (default 6, about half a minute); the counts
of a run are printed at its end (pytest -s)."""

import contextlib
import itertools
import os
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
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
from sqlalchemy import update

from alerts.expansion import service as expansion_service
from alerts.notices import service as notice_service
from alerts.notices.lifecycle import ENDED, Action, InvalidTransition, next_status
from geo.sphere import destination
from kit.celery import celery_app
from kit.db import session_scope
from kit.models import Device, NoticeStatus
from notifier.stats import chunk_counts
from tests.conftest import Sandbox, Service, drain, wait_until
from tests.helpers import notice_body, report_location

EXAMPLES = int(os.environ.get("HEXCAST_MODEL_TEST_EXAMPLES", "6"))
DEVICES = 4
# Example k's centre is cell k of a grid of ROW x ROW centres SPACING_M apart: further than
# any two notices' areas (a 10 km step) and devices (moved up to 8 km) can reach, so that a
# notice of one example, expanded late by the real beat, reaches no other example's device.
ORIGIN = (40.0, -20.0)
SPACING_M = 60_000
ROW = 40
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
COUNTS: Counter[str] = Counter()  # examples, steps, pushes checked, violations
CALLS: Counter[str] = Counter()  # API calls (and beat calls) by kind
HTTP: Counter[int] = Counter()  # the HTTP statuses they answered
STATUSES: Counter[str] = Counter()  # notices by their status at the end of their example
SECONDS: list[float] = []  # how long each example took, teardown included


def _centre(example: int) -> tuple[float, float]:
    row, column = divmod(example % (ROW * ROW), ROW)
    north = destination(*ORIGIN, SPACING_M * row, 0)
    return destination(*north, SPACING_M * column, 90)


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
    worker: Service

    def __init__(self) -> None:
        super().__init__()
        self.centre = _centre(COUNTS["examples"])
        COUNTS["examples"] += 1
        self.started = time.monotonic()
        self.notices: list[str] = []
        self.tokens: list[str] = []
        self.devices: list[dict[str, str]] = []
        self.failures: list[str] = []
        self.lock = threading.Lock()

    @initialize()
    def devices_near_the_centre(self) -> None:
        tag = uuid.uuid4().hex[:8]
        for i in range(DEVICES):
            token = f"model-{tag}-{i}"
            self.tokens.append(token)  # first: teardown retires whatever got registered
            body = {"fcm_token": token, "platform": "android", "locale": "en-GB"}
            answer = self._call("register", "POST", "/v1/devices", json=body)
            assert answer is not None and answer.status_code == 201, answer
            headers = {"X-Device-Key": answer.json()["device_key"]}
            lat, lon = destination(*self.centre, 500 + 700 * i, 90 * i)
            report_location(self.api, headers, lat, lon)
            self._count("location", 204)
            self.devices.append(headers)

    # --- the calls -----------------------------------------------------------------------

    def _count(self, kind: str, status: int | None = None) -> None:
        with self.lock:
            CALLS[kind] += 1
            if status is not None:
                HTTP[status] += 1

    def _call(self, kind: str, method: str, url: str, **kwargs: Any) -> httpx.Response | None:
        try:
            answer = self.api.request(method, url, **kwargs)
        except Exception as error:  # the app raised: a 500 to the client
            self._count(kind)
            self._fail(f"{method} {url}: {type(error).__name__}: {error}")
            return None
        self._count(kind, answer.status_code)
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

    def _read(self, kind: str, url: str, headers: dict[str, str]) -> Any:
        """A read the checks make: it must answer 200."""
        answer = self.api.get(url, headers=headers)
        self._count(kind, answer.status_code)
        assert answer.status_code == 200, f"GET {url}: {answer.status_code} {answer.text}"
        return answer.json()

    def _beat(self, kind: str, work: Callable[[Any], object]) -> None:
        try:
            with session_scope() as session:
                work(session)
        except Exception as error:
            self._fail(f"beat: {type(error).__name__}: {error}")
        self._count(kind)

    def _operation(self, kind: str, pick: int, rng: random.Random) -> None:
        if kind == "submit":
            lat, lon = self.centre
            body = notice_body(lat=lat, lon=lon, radius_km=rng.choice([1, 2, 3]))
            answer = self._call("submit", "POST", "/v1/notices", json=body, headers=self.agency)
            if answer is not None and answer.status_code == 201:
                with self.lock:
                    self.notices.append(answer.json()["id"])
            return
        if kind == "beat_expand":
            later = timedelta(minutes=rng.choice([0, 5, 120]))
            self._beat(
                "beat expand (direct)",
                lambda s: expansion_service.expand_notices(s, now=datetime.now(UTC) + later),
            )
            return
        if kind == "beat_expire":
            self._beat(
                "beat expire (direct)",
                lambda s: notice_service.expire_notices(s, now=datetime.now(UTC)),
            )
            return
        if kind == "beat_task":
            task = rng.choice(["alerts.expand_notices", "alerts.expire_notices"])
            celery_app.send_task(task)
            self._count(f"beat task {task}")
            return
        device = self.devices[pick % len(self.devices)]
        if kind == "location":
            lat, lon = destination(*self.centre, rng.uniform(0, 8000), rng.uniform(0, 360))
            report_location(self.api, device, lat, lon)  # asserts its 204
            self._count("location", 204)
            return
        notice = self._notice(pick)
        if notice is None:
            return
        url = f"/v1/operator/notices/{notice}"
        reason = {"reason": "model"}
        if kind == "approve":
            lifetime = rng.choice([0.0005, 0.002, 1.0])  # 1.8 s, 7.2 s or an hour
            body = {"lifetime_hours": lifetime}
            self._call(kind, "POST", f"{url}/approve", json=body, headers=self.operator)
        elif kind in ("reject", "cancel", "found"):
            self._call(kind, "POST", f"{url}/{kind}", json=reason, headers=self.operator)
        elif kind == "patch":
            change = rng.choice(
                [{"description": f"Seen {rng.random()}"}, {"radius_km": rng.choice([2, 4, 6])}]
            )
            self._call(kind, "PATCH", f"/v1/notices/{notice}", json=change, headers=self.agency)
        elif kind == "plan":
            steps = [
                {"after_minutes": rng.choice([0.01, 2, 60]), "radius_km": rng.choice([4, 7, 10])}
            ]
            body = {"steps": steps}
            self._call(kind, "PUT", f"{url}/expansion", json=body, headers=self.operator)
        elif kind == "sighting":
            body = {
                "seen_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
                "lat": self.centre[0],
                "lon": self.centre[1],
                "accuracy_m": 20,
                "text": "Seen near the station.",
            }
            url = f"/v1/notices/{notice}/sightings"
            self._call(kind, "POST", url, json=body, headers=device)

    @precondition(lambda self: len(self.notices) < 4)
    @rule(approve=st.booleans(), plan=st.booleans())
    def new_notice(self, approve: bool, plan: bool) -> None:
        """A notice, maybe with a due step planned, maybe approved: the races need some."""
        COUNTS["steps"] += 1
        lat, lon = self.centre
        body = notice_body(lat=lat, lon=lon, radius_km=2)
        answer = self._call("submit", "POST", "/v1/notices", json=body, headers=self.agency)
        assert answer is not None and answer.status_code == 201, answer
        notice = answer.json()["id"]
        self.notices.append(notice)
        url = f"/v1/operator/notices/{notice}"
        if plan:
            steps = {"steps": [{"after_minutes": 0.01, "radius_km": 5}]}
            self._call("plan", "PUT", f"{url}/expansion", json=steps, headers=self.operator)
        if approve:
            self._call("approve", "POST", f"{url}/approve", json={}, headers=self.operator)

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

    # --- what must hold after every step ------------------------------------------------

    @contextlib.contextmanager
    def _violation(self) -> Iterator[None]:
        try:
            yield
        except AssertionError:
            COUNTS["violations"] += 1
            raise

    @invariant()
    def nothing_failed(self) -> None:
        assert self.failures == []  # each one was counted as it happened

    @invariant()
    def each_notice_kept_the_rules(self) -> None:
        with self._violation():
            self._check_rules()

    def _check_rules(self) -> int:
        """Checks every notice of the example; returns how many of its pushes it checked."""
        # The sandbox first: a push it holds had its delivery written before it was sent.
        # Only this example's notices: a push of an earlier one may still come in late.
        mine = set(self.notices)
        alerts = Counter(
            (m["message"]["data"]["notice_id"], m["message"]["token"])
            for m in self.sandbox.messages()
            if m["message"]["data"]["type"] == "missing_person"
            and m["message"]["data"]["notice_id"] in mine
        )
        twice = [key for key, count in alerts.items() if count > 1]
        assert twice == [], f"devices alerted twice for a notice: {twice}"
        for notice in self.notices:
            self._check_trail(notice)
            targeted = self._deliveries(notice)["targeted"]
            pushed = sum(count for (n, _), count in alerts.items() if n == notice)
            assert pushed <= targeted, f"{notice}: {pushed} pushed, {targeted} targeted"
        return alerts.total()

    def _deliveries(self, notice: str) -> Any:
        url = f"/v1/operator/notices/{notice}/deliveries"
        return self._read("read deliveries", url, self.operator)

    def _status(self, notice: str) -> str:
        return str(self._read("read notice", f"/v1/notices/{notice}", self.agency)["status"])

    def _check_trail(self, notice: str) -> None:
        url = f"/v1/operator/notices/{notice}/audit"
        trail = self._read("read audit", url, self.operator)["items"]
        status = self._status(notice)
        actions = [event["action"] for event in trail]
        changes = [STATUS_ACTIONS[a] for a in actions if a in STATUS_ACTIONS]
        assert changes[:1] == [NoticeStatus.PENDING], f"{notice}: {actions}"
        for before, after in itertools.pairwise(changes):
            assert _legal(before, after), f"{notice}: {before} -> {after} in {actions}"
        assert changes[-1] == status, f"{notice}: is {status}, trail says {actions}"
        ended = next((i for i, a in enumerate(actions) if STATUS_ACTIONS.get(a) in FINAL), None)
        if ended is not None:
            assert actions[ended + 1 :] == [], f"{notice}: after its end: {actions}"

    def _settled(self) -> bool:
        """No chunk of any of the example's broadcasts is still to claim, no delivery still
        to send. Chunks first: a chunk's claim commits its deliveries with it."""
        for notice in self.notices:
            with session_scope() as session:
                _, chunks_pending = chunk_counts(session, uuid.UUID(notice))
            if chunks_pending or self._deliveries(notice)["by_status"]["pending"]:
                return False
        return True

    def teardown(self) -> None:
        """Let every broadcast finish, then check once more: a duplicate push may come late.
        Then retire the example's devices and empty the sandbox, so that no later example
        reaches those devices or reads these pushes."""
        try:
            if self.failures == []:
                # The tasks the steps queued have run, and what they queued in turn settled.
                drain(self.worker)
                wait_until(self._settled, timeout=60, what="every broadcast to settle")
                with self._violation():
                    COUNTS["pushes checked"] += self._check_rules()
            for notice in self.notices:
                STATUSES[self._status(notice)] += 1
        finally:
            with session_scope() as session:
                session.execute(
                    update(Device).where(Device.fcm_token.in_(self.tokens)).values(active=False)
                )
            self.sandbox.reset()
            SECONDS.append(time.monotonic() - self.started)


def _report() -> str:
    def counts(counter: Counter[Any]) -> str:
        return ", ".join(f"{key}: {n}" for key, n in sorted(counter.items())) or "none"

    tenth = max(1, len(SECONDS) // 10)
    first, last = SECONDS[:tenth], SECONDS[-tenth:]
    return (
        f"\nmodel run: {COUNTS['examples']} examples, {COUNTS['steps']} steps, "
        f"{CALLS.total()} calls, {COUNTS['pushes checked']} pushes checked, "
        f"{COUNTS['violations']} violations"
        f"\n  calls by kind: {counts(CALLS)}"
        f"\n  HTTP statuses: {counts(HTTP)}"
        f"\n  notices by final status: {counts(STATUSES)}"
        f"\n  seconds an example: {sum(first) / len(first) if first else 0:.2f} over the first"
        f" tenth, {sum(last) / len(last) if last else 0:.2f} over the last"
    )


def test_random_concurrent_lifecycles_keep_every_rule(
    api: httpx.Client,
    worker: Service,
    sandbox: Sandbox,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    for counter in (COUNTS, CALLS, HTTP, STATUSES):
        counter.clear()
    SECONDS.clear()
    NoticeLifecycle.api = api
    NoticeLifecycle.agency = agency_headers
    NoticeLifecycle.operator = operator_headers
    NoticeLifecycle.sandbox = sandbox
    NoticeLifecycle.worker = worker
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
        print(_report())
