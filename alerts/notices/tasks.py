"""The notices' periodic work, run by Celery beat."""

from datetime import UTC, datetime, timedelta

from alerts.notices import repository, service
from kit.celery import celery_app
from kit.config import get_settings
from kit.db import session_scope


@celery_app.task(name="alerts.expire_notices")
def expire_notices() -> int:
    with session_scope() as session:
        return len(service.expire_notices(session, now=datetime.now(UTC)))


@celery_app.task(name="alerts.purge_idempotency_keys")
def purge_idempotency_keys() -> int:
    hours = get_settings().idempotency_key_hours
    with session_scope() as session:
        return repository.purge_idempotency_keys(
            session, before=datetime.now(UTC) - timedelta(hours=hours)
        )
