"""Task sends that outlive a broker outage. Work queued after a commit (`kit.db.after_commit`)
is sent to Celery then; when the broker is down the send fails, and the task is written to
the `task_outbox` table instead. Beat's `kit.relay_outbox` sends what the table holds once
the broker is back (beat's own schedule goes through the broker, so it runs exactly then),
oldest first, and deletes each row it sent. A task may so arrive twice (the relay's send
succeeded but its delete did not commit): every task queued this way is safe to run twice."""

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from kit.celery import celery_app
from kit.db import session_scope
from kit.models import OutboxTask

log = logging.getLogger(__name__)

RELAY_BATCH = 1000


def send_or_keep(task: str, args: Sequence[Any]) -> None:
    """Queue `task`; if the broker cannot take it, keep it for the relay. If the database is
    down as well, the send is lost and logged: the reconciler's sweeps are the last net."""
    try:
        celery_app.send_task(task, args=list(args))
        return
    except Exception:
        log.warning("kit.outbox.send_failed task=%s args=%s", task, list(args), exc_info=True)
    try:
        with session_scope() as session:
            session.add(OutboxTask(task=task, args=list(args)))
    except Exception:
        log.exception("kit.outbox.keep_failed task=%s args=%s", task, list(args))


@celery_app.task(name="kit.relay_outbox")
def relay_outbox() -> int:
    """Send the kept tasks, oldest first; stop at the first send that fails (the broker went
    again) and leave it and the rest for the next run."""
    sent = 0
    with session_scope() as session:
        kept = session.scalars(
            select(OutboxTask)
            .order_by(OutboxTask.id)
            .limit(RELAY_BATCH)
            .with_for_update(skip_locked=True)
        ).all()
        done: list[int] = []
        for row in kept:
            try:
                celery_app.send_task(row.task, args=row.args)
            except Exception:
                log.warning("kit.outbox.relay_failed task=%s", row.task, exc_info=True)
                break
            done.append(row.id)
        if done:
            session.execute(delete(OutboxTask).where(OutboxTask.id.in_(done)))
        sent = len(done)
    if sent:
        log.info("kit.outbox.relayed tasks=%d", sent)
    return sent


def kept_tasks(session: Session) -> int:
    """How many task sends wait for the relay."""
    return int(session.scalar(select(func.count()).select_from(OutboxTask)) or 0)
