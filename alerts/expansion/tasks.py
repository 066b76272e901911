"""Beat applies the expansion steps that are due."""

from datetime import UTC, datetime

from alerts.expansion import service
from kit.celery import celery_app
from kit.db import session_scope


@celery_app.task(name="alerts.expand_notices")
def expand_notices() -> int:
    with session_scope() as session:
        return len(service.expand_notices(session, now=datetime.now(UTC)))
