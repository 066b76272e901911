"""The one Celery app (celeryconf): JSON only, at-least-once delivery, named tasks.

`alerts` queues `notifier` work by task name through this app, never by importing it.
"""

from celery import Celery

from kit.config import get_settings

settings = get_settings()

celery_app = Celery(
    "hexcast", broker=settings.broker_url, include=["notifier.tasks", "alerts.tasks"]
)
celery_app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    task_default_queue="hexcast",
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    broker_transport_options={"visibility_timeout": 3600},
    timezone="UTC",
    beat_schedule={
        "expire-notices": {"task": "alerts.expire_notices", "schedule": 60.0},
        "expand-notices": {"task": "alerts.expand_notices", "schedule": 30.0},
        "requeue-webhooks": {
            "task": "alerts.requeue_webhooks",
            "schedule": settings.webhook_requeue_seconds,
        },
        "purge-idempotency-keys": {"task": "alerts.purge_idempotency_keys", "schedule": 3600.0},
    },
)
