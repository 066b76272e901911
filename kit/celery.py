"""The one Celery app (celeryconf): JSON only, at-least-once delivery, named tasks.

`alerts` queues `notifier` work by task name through this app, never by importing it.

Two queues: `sends` carries the pushes (a broadcast, its chunks, follow-ups), `housekeeping`
everything else (the reconciler, the device tally, expiry, expansion, webhooks, purges), so
that a 10-million-device broadcast never delays the reconciler that rescues it, the tally
previews read or a webhook. A worker started without `-Q` consumes both; deployments run
separate workers for each (`scripts/run.sh`, `docker-compose.yml`).

At-least-once: a task is acknowledged after it ran (late acks), requeued when its worker
process dies, and a worker takes one message at a time. A message a dead worker had taken
comes back after the visibility timeout; before that, the reconciler has usually queued the
same work again from the database, where leases make either copy harmless.
"""

import os

from celery import Celery
from kombu import Queue

from kit.config import get_settings

settings = get_settings()

SENDS_QUEUE = "sends"
HOUSEKEEPING_QUEUE = "housekeeping"
SEND_TASKS = (
    "notifier.broadcast",
    "notifier.send_chunk",
    "notifier.send_deliveries",
    "notifier.follow_up",
    "notifier.send_device_claim",
)

celery_app = Celery(
    "hexcast",
    broker=settings.broker_url,
    include=[
        "notifier.tasks",
        "geo.tasks",
        "alerts.notices.tasks",
        "alerts.devices.tasks",
        "alerts.expansion.tasks",
        "alerts.webhooks.tasks",
        "kit.outbox",
        "kit.failures",
    ],
)
celery_app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    task_queues=(Queue(SENDS_QUEUE), Queue(HOUSEKEEPING_QUEUE)),
    task_default_queue=HOUSEKEEPING_QUEUE,
    task_routes={name: {"queue": SENDS_QUEUE} for name in SEND_TASKS},
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    # A sending process waits on FCM and the database half its time: two a core keep the
    # cores busy (bench.dispatch: about 3,600 pushes/s with one a core on 2 cores, 5,000+
    # with two). `--concurrency` still overrides it.
    worker_concurrency=2 * (os.cpu_count() or 1),
    # A task still running when the broker connection drops finishes its sends and records
    # them: cancelling it would leave a batch sent but unrecorded, to be sent again.
    worker_cancel_long_running_tasks_on_connection_loss=False,
    broker_connection_retry_on_startup=True,
    broker_connection_max_retries=None,
    # Longer than a lease, so Redis does not hand a running task to a second worker while its
    # lease holds; tasks that outlive their lease have been taken over by the reconciler.
    broker_transport_options={"visibility_timeout": 2 * settings.lease_seconds},
    timezone="UTC",
    beat_schedule={
        "expire-notices": {"task": "alerts.expire_notices", "schedule": 60.0},
        "expand-notices": {"task": "alerts.expand_notices", "schedule": 30.0},
        "requeue-webhooks": {
            "task": "alerts.requeue_webhooks",
            "schedule": settings.webhook_requeue_seconds,
        },
        "tally-devices": {
            "task": "geo.tally_devices",
            "schedule": settings.tally_interval_seconds,
            "options": {"expires": settings.tally_interval_seconds},
        },
        "relay-outbox": {
            "task": "kit.relay_outbox",
            "schedule": settings.outbox_relay_seconds,
            "options": {"expires": settings.outbox_relay_seconds},
        },
        "purge-idempotency-keys": {"task": "alerts.purge_idempotency_keys", "schedule": 3600.0},
        "erase-stale-locations": {
            "task": "alerts.erase_stale_locations",
            "schedule": settings.location_purge_interval_seconds,
            "options": {"expires": settings.location_purge_interval_seconds},
        },
        "reconcile-dispatch": {
            "task": "notifier.reconcile",
            "schedule": settings.reconcile_interval_seconds,
            # A run that waited longer than the interval is superseded by the next one.
            "options": {"expires": settings.reconcile_interval_seconds},
        },
    },
)
