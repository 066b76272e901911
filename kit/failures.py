"""Tasks that raise are counted, per task and subject, in the `task_failures` table.

Every failure is logged by Celery with its traceback; here it is also counted where /metrics
reads it (`hexcast_task_failures_total`), and where the sweeps that queue work again (the
reconciler) look before re-queuing work that keeps failing on the same data: a broadcast that
raises on one notice's data fails a few times, visibly, and is then left alone instead of
being queued every few seconds forever. The subject is a task's first argument (hexcast's
tasks take the id they work on first)."""

import logging
from typing import Any

from celery.signals import task_failure
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from kit.db import session_scope
from kit.models import TaskFailure

log = logging.getLogger(__name__)


def subject_of(args: Any) -> str:
    """The id a task works on: its first argument, as text ("" for a task without one)."""
    return str(args[0])[:100] if args else ""


def record_failure(task: str, subject: str, error: BaseException) -> None:
    with session_scope() as session:
        statement = insert(TaskFailure).values(
            task=task,
            subject=subject,
            failures=1,
            last_error=f"{type(error).__name__}: {error}"[:500],
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[TaskFailure.task, TaskFailure.subject],
                set_={
                    "failures": TaskFailure.failures + 1,
                    "last_error": statement.excluded.last_error,
                    "last_failed_at": func.now(),
                },
            )
        )


@task_failure.connect
def _count_failure(
    sender: Any = None, exception: BaseException | None = None, args: Any = None, **_: Any
) -> None:
    name = getattr(sender, "name", str(sender))
    log.error("kit.task.failed task=%s subject=%s error=%r", name, subject_of(args), exception)
    try:
        record_failure(name, subject_of(args), exception or Exception("unknown"))
    except Exception:  # the database may be what failed the task
        log.exception("kit.task.failure_not_recorded task=%s", name)


def failure_counts(session: Session) -> dict[str, int]:
    """Failures per task, over every subject, since the table was last emptied."""
    rows = session.execute(
        select(TaskFailure.task, func.sum(TaskFailure.failures)).group_by(TaskFailure.task)
    )
    return {task: int(total) for task, total in rows}
