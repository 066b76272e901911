"""geo's housekeeping: the device tally that reach previews of large areas read."""

import logging
import time
from datetime import UTC, datetime

from geo.tallies import refresh_tallies
from kit.celery import celery_app
from kit.db import session_scope

log = logging.getLogger(__name__)


@celery_app.task(name="geo.tally_devices")
def tally_devices() -> int | None:
    """Refresh the device tally over the longest location window a notice may use."""
    started = time.perf_counter()
    with session_scope() as session:
        run = refresh_tallies(session, now=datetime.now(UTC))
    if run is None:
        log.info("geo.tally.skipped another refresh is running")
        return None
    log.info(
        "geo.tally.refreshed devices=%d rows=%d seconds=%.2f",
        run.devices,
        run.rows,
        time.perf_counter() - started,
    )
    return run.devices
