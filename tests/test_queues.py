"""Pushes and housekeeping travel on queues of their own: with the send queue holding a long
backlog, the reconciler and the device tally still run on time (beat gives each run its
interval to start, then drops it), on a worker of their own."""

import os

import redis

from kit.celery import HOUSEKEEPING_QUEUE, SENDS_QUEUE, celery_app
from tests.conftest import Service, celery_worker, wait_for_runs

BACKLOG = 20_000  # about 40 s of work for one sending process here


def test_reconcile_and_tally_run_on_time_behind_a_long_send_backlog(
    worker: Service, beat: Service
) -> None:
    broker = redis.Redis.from_url(os.environ["HEXCAST_BROKER_URL"])
    worker.stop()
    senders = celery_worker("celery-sends", concurrency=1, queues=SENDS_QUEUE)
    housekeeping = celery_worker("celery-housekeeping", concurrency=1, queues=HOUSEKEEPING_QUEUE)
    try:
        # Chunks that do not exist: each costs a worker a database round trip, as a real
        # chunk costs it a claim and its sends.
        with celery_app.producer_or_acquire() as producer:
            for chunk_id in range(-BACKLOG, 0):
                celery_app.send_task("notifier.send_chunk", args=[chunk_id], producer=producer)
        senders.start()
        housekeeping.start()

        wait_for_runs(housekeeping, "notifier.reconcile", runs=4, timeout=8)
        wait_for_runs(housekeeping, "geo.tally_devices", runs=2, timeout=8)

        assert broker.llen(SENDS_QUEUE) > 0, "the send backlog was still there"
        assert "Task notifier.send_chunk[" in senders.run_log(), "and being worked through"
        assert "Task notifier.reconcile[" not in senders.run_log(), "housekeeping stays off it"
    finally:
        broker.delete(SENDS_QUEUE)
        senders.stop()
        housekeeping.stop()
        worker.start()
