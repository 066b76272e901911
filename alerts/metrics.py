"""Prometheus metrics, counted in the database at scrape time: every API process reports the
same numbers, and the workers, which hold the dispatch state only in the database, need no
exporter of their own."""

from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from alerts.notices.repository import notice_status_counts
from geo.tallies import last_tallied_at
from kit.db import session_scope
from kit.failures import failure_counts
from kit.models import NoticeStatus
from kit.outbox import kept_tasks
from notifier import stats


class DispatchCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        now = datetime.now(UTC)
        with session_scope() as session:
            notice_counts = notice_status_counts(session)
            snapshot = stats.dispatch_snapshot(session, now=now)
            tallied_at = last_tallied_at(session)
            kept = kept_tasks(session)
            failures = failure_counts(session)

        notices = GaugeMetricFamily("hexcast_notices", "Notices by status", labels=["status"])
        for status in NoticeStatus:
            notices.add_metric([status.value], notice_counts.get(status, 0))
        yield notices

        deliveries = GaugeMetricFamily(
            "hexcast_active_notice_deliveries",
            "Deliveries of active notices by status and FCM error code (last error if pending)",
            labels=["status", "error_code"],
        )
        for delivery_status, error_code, count in snapshot.active_deliveries:
            deliveries.add_metric([delivery_status.value, error_code or ""], count)
        yield deliveries

        pending = GaugeMetricFamily(
            "hexcast_pending_deliveries",
            "Pending deliveries: held by a worker (in_flight), waiting for a retry time "
            "(waiting_retry), or due and held by nobody (due: the reconciler's backlog)",
            labels=["state"],
        )
        pending.add_metric(["in_flight"], snapshot.in_flight)
        pending.add_metric(["waiting_retry"], snapshot.waiting_retry)
        pending.add_metric(["due"], snapshot.due)
        yield pending

        chunks = GaugeMetricFamily(
            "hexcast_pending_chunks",
            "Broadcast chunks whose recipients are not claimed yet: queued, or overdue "
            "(their task is late or lost; the reconciler queues them again)",
            labels=["state"],
        )
        chunks.add_metric(["queued"], snapshot.chunks_queued)
        chunks.add_metric(["overdue"], snapshot.chunks_overdue)
        yield chunks

        yield GaugeMetricFamily(
            "hexcast_outbox_tasks",
            "Task sends kept while the broker was down, waiting for the relay to send them",
            value=kept,
        )

        failed = CounterMetricFamily(
            "hexcast_task_failures",
            "Celery task runs that raised, by task (the worker's log has each traceback)",
            labels=["task"],
        )
        for task, count in sorted(failures.items()):
            failed.add_metric([task], count)
        yield failed

        if tallied_at is not None:
            yield GaugeMetricFamily(
                "hexcast_device_tally_age_seconds",
                "Seconds since Celery beat last counted devices into the device tally, which "
                "large reach previews read; past HEXCAST_REACH_TALLY_MAX_AGE_SECONDS they count "
                "exactly (and slowly) instead",
                value=(now - tallied_at).total_seconds(),
            )


def metrics_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DispatchCollector())
    return registry
