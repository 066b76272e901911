"""The devices' periodic work, run by Celery beat."""

from datetime import UTC, datetime

from alerts.devices import service
from kit.celery import celery_app
from kit.db import session_scope


@celery_app.task(name="alerts.erase_stale_locations")
def erase_stale_locations() -> int:
    with session_scope() as session:
        return service.erase_stale_locations(session, now=datetime.now(UTC))
