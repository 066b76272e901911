"""Location reports stored by group commit: the busiest path of the service.

Every app reports where it is, all day (ten million devices every 15 minutes is 11,000
reports a second), so a report costs no more than its share of one statement. Requests hand
their report to a writer thread (or a few) per process; it takes every report waiting,
stores them with one statement that also authenticates their device keys
(`repository.apply_location_reports`), commits, and only then answers each request. A report
answered 204 is therefore committed (with PostgreSQL's synchronous commit), whatever happens
to the process afterwards; one that was not answered may or may not be stored, and the app
sends it again. Under load the batches grow by themselves: reports wait only for the
statement in flight, never for a timer.

Threads rather than an asyncio task: they serve whichever event loop a request runs on (one
per uvicorn process, a fresh one per request in a test client) and block in the database
driver without holding the GIL.
"""

import asyncio
import logging
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from alerts.devices import repository
from kit.config import get_settings
from kit.db import RETRIED_SQLSTATES, get_engine

log = logging.getLogger(__name__)

# Retries of a batch PostgreSQL failed to break a deadlock: two batches that move the same
# two devices may lock them in opposite orders.
BATCH_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Report:
    key_hash: str
    lat: float
    lon: float
    cell: int
    accuracy_m: float
    at: datetime


@dataclass(slots=True)
class _Waiting:
    report: Report
    loop: asyncio.AbstractEventLoop
    answer: "asyncio.Future[bool]"


class LocationWriter:
    """The group-commit writer of one process: `await writer.store(report)` is True once the
    report is committed (or found older than the stored location), False when no device has
    its key."""

    def __init__(self, *, threads: int, max_batch: int) -> None:
        self._waiting: queue.SimpleQueue[_Waiting] = queue.SimpleQueue()
        self._threads = threads
        self._max_batch = max_batch
        self._started = False
        self._lock = threading.Lock()

    async def store(self, report: Report) -> bool:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[bool] = loop.create_future()
        self._start()
        self._waiting.put(_Waiting(report, loop, answer))
        return await answer

    def _start(self) -> None:
        if self._started:
            return
        with self._lock:
            if not self._started:
                for i in range(self._threads):
                    name = f"location-writer-{i}"
                    threading.Thread(target=self._run, name=name, daemon=True).start()
                self._started = True

    def _run(self) -> None:
        connection: Connection | None = None
        while True:
            batch = [self._waiting.get()]
            while len(batch) < self._max_batch:
                try:
                    batch.append(self._waiting.get_nowait())
                except queue.Empty:
                    break
            try:
                if connection is None or connection.invalidated or connection.closed:
                    connection = get_engine().connect()
                known = _write(connection, [w.report for w in batch])
            except Exception as error:
                log.exception("alerts.location.batch_failed reports=%d", len(batch))
                if connection is not None:
                    connection.close()
                    connection = None
                _settle(batch, [error] * len(batch))
            else:
                _settle(batch, [w.report.key_hash in known for w in batch])


def _write(connection: Connection, reports: list[Report]) -> set[str]:
    """One statement, one commit; again when PostgreSQL broke a deadlock with it. The thread
    keeps its connection: a pool's checkout would cost a round trip of its own (pre-ping)."""
    for attempt in range(1, BATCH_ATTEMPTS + 1):
        try:
            with connection.begin():
                return repository.apply_location_reports(
                    connection,
                    key_hashes=[r.key_hash for r in reports],
                    lats=[r.lat for r in reports],
                    lons=[r.lon for r in reports],
                    cells=[r.cell for r in reports],
                    accuracies=[r.accuracy_m for r in reports],
                    ats=[r.at for r in reports],
                )
        except DBAPIError as error:
            sqlstate = getattr(error.orig, "sqlstate", None)
            if sqlstate not in RETRIED_SQLSTATES or attempt == BATCH_ATTEMPTS:
                raise
            log.warning("alerts.location.retry sqlstate=%s attempt=%d", sqlstate, attempt)
    raise AssertionError("unreachable")


def _settle(batch: list[_Waiting], outcomes: Sequence[bool | Exception]) -> None:
    """Answer every request of the batch: one wake-up per event loop, not one per request
    (each is a write to the loop's self-pipe)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[bool], bool | Exception]]]
    by_loop = {}
    for waiting, outcome in zip(batch, outcomes, strict=True):
        by_loop.setdefault(waiting.loop, []).append((waiting.answer, outcome))
    for loop, answers in by_loop.items():
        loop.call_soon_threadsafe(_answer, answers)


def _answer(answers: list[tuple["asyncio.Future[bool]", bool | Exception]]) -> None:
    for answer, result in answers:
        if answer.done():  # the client went away, cancelling its request
            continue
        if isinstance(result, Exception):
            answer.set_exception(result)
        else:
            answer.set_result(result)


@lru_cache
def location_writer() -> LocationWriter:
    settings = get_settings()
    return LocationWriter(
        threads=settings.location_writer_threads, max_batch=settings.location_batch_max
    )
