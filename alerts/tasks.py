"""Periodic lifecycle work, run by Celery beat."""

from datetime import UTC, datetime

from alerts import service
from kit.celery import celery_app
from kit.db import session_scope


@celery_app.task(name="alerts.expire_notices")
def expire_notices() -> int:
    with session_scope() as session:
        return len(service.expire_notices(session, now=datetime.now(UTC)))


@celery_app.task(name="alerts.expand_notices")
def expand_notices() -> int:
    with session_scope() as session:
        return len(service.expand_notices(session, now=datetime.now(UTC)))
