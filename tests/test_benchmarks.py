"""The benchmarks run end to end, as `python -m bench.…` on a small population, and still
check what their tables claim: the selection bench that hexcast selected exactly the devices
within the radius, the dispatch bench that every device got its one push. The figures
themselves are not asserted: timings at this size say nothing."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import PG_PORT, REDIS_PORT, ROOT, TEST_DB, Service

WORST_OVERSHOOT_M = 161.0  # WEA's bound for AMBER alerts


def _bench(
    module: str, results: Path, *args: str, exits: tuple[int, ...] = (0,), **env: str
) -> Any:
    """Run `python -m bench.<module> … --json` in a clean environment (none of the test
    session's HEXCAST_* settings) and return its JSON line; it must exit with one of `exits`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HEXCAST_")}
    clean.update(HEXCAST_PG_PORT=str(PG_PORT), HEXCAST_BENCH_RESULTS_DIR=str(results), **env)
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{module}", *args, "--json"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode in exits, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_selection_bench_finds_exactly_the_devices_in_each_circle(tmp_path: Path) -> None:
    rows = _bench(
        "selection",
        tmp_path,
        "--devices",
        "3000",
        "--radii",
        "1,50",
        "--runs",
        "1",
        "--database",
        f"hexcast_bench_{TEST_DB}_selection",
    )
    assert [row["radius_km"] for row in rows] == [1.0, 50.0]
    for row in rows:
        assert row["recall"] == 1.0
        assert row["overshoot_m"] <= WORST_OVERSHOOT_M
        assert row["preview_devices"] == row["recipients"]
    assert rows[1]["recipients"] > rows[0]["recipients"] > 0
    (table,) = tmp_path.glob("selection-3000-*.md")
    assert "| naive/floor |" in table.read_text()


def test_dispatch_bench_pushes_once_to_every_device(tmp_path: Path, broker: Service) -> None:
    summary = _bench(
        "dispatch",
        tmp_path,
        "--devices",
        "1000",
        "--runs",
        "1",
        "--latency-ms",
        "5",
        "--baseline-messages",
        "500",
        "--database",
        f"hexcast_bench_{TEST_DB}_dispatch",
        # The session's own Redis: the bench's workers must not share a queue with another
        # checkout's bench on the stack's Redis.
        HEXCAST_REDIS_PORT=str(REDIS_PORT),
    )
    assert summary["devices"] == 1000
    assert summary["send_each_messages"] == 500
    assert summary["pushes_per_s"] > 0
    assert summary["first_push_s"] <= summary["last_push_s"]
    (table,) = tmp_path.glob("dispatch-1000-*.md")
    assert "send_each" in table.read_text()


def test_ingest_bench_writes_a_row_for_every_report(tmp_path: Path) -> None:
    summary = _bench(
        "ingest",
        tmp_path,
        "--devices",
        "2000",
        "--seconds",
        "2",
        "--runs",
        "1",
        "--processes",
        "1",
        "--connections",
        "8",
        "--database",
        f"hexcast_bench_{TEST_DB}_ingest",
    )
    for path in ("baseline", "current"):
        assert summary[f"{path}_reports_per_s"] > 0
        # Every report is newer than its device's last, so each one rewrites its row; the
        # warm-up's last writes may be counted too.
        assert summary[f"{path}_rows_written_per_s"] >= 0.9 * summary[f"{path}_reports_per_s"]
    assert summary["baseline_errors"] == summary["current_errors"] == 0
    (table,) = tmp_path.glob("ingest-2000-*.md")
    assert "reports/s per API core" in table.read_text()


def test_ingest_bench_at_a_set_rate_sends_that_rate(tmp_path: Path) -> None:
    summary = _bench(
        "ingest",
        tmp_path,
        "--devices",
        "2000",
        "--seconds",
        "4",
        "--runs",
        "1",
        "--processes",
        "1",
        "--connections",
        "16",
        "--rate",
        "200",
        "--no-baseline",
        "--database",
        f"hexcast_bench_{TEST_DB}_ingest",
    )
    assert 170 <= summary["current_reports_per_s"] <= 230
    assert summary["current_errors"] == 0


def test_soak_pushes_each_device_inside_once_and_loses_no_report_while_a_process_is_killed(
    tmp_path: Path, broker: Service
) -> None:
    """Half a minute of the soak, small: the checks that hold at any size. Its latency and
    memory verdicts need the full soak on a quiet machine, so the run may exit 3 for them."""
    summary = _bench(
        "soak",
        tmp_path,
        "--devices",
        "3000",
        "--inside",
        "400",
        "--warmup-devices",
        "50",
        "--witnesses",
        "20",
        "--minutes",
        "0.5",
        "--rate",
        "200",
        "--connections",
        "16",
        "--workers",
        "2",
        "--kills",
        "1",
        "--database",
        f"hexcast_bench_{TEST_DB}_soak",
        exits=(0, 3),
        HEXCAST_REDIS_PORT=str(REDIS_PORT),
    )
    checks = summary["checks"]
    assert checks["every_inside_device_pushed_once"], summary["broadcast"]
    assert checks["no_device_outside_pushed"], summary["broadcast"]
    assert checks["no_5xx"], (summary["non_2xx"], summary["witness_statuses"])
    assert checks["no_204_lost"]
    assert summary["witness_devices"] == 20
    [kill] = summary["kills"]
    assert kill["replaced_after_s"] < 60
    (table,) = tmp_path.glob("soak-0.5min-*.md")
    assert "devices pushed more than once" in table.read_text()


def test_public_view_bench_gets_the_view_without_an_error(tmp_path: Path) -> None:
    rows = _bench(
        "public_view",
        tmp_path,
        "--seconds",
        "2",
        "--connections",
        "4",
        "--ceiling-seconds",
        "2",
        "--database",
        f"hexcast_bench_public_view_{TEST_DB}",
    )
    assert set(rows) == {
        "baseline: GET /healthz",
        "GET /v1/feed/notices/{id}",
        "ceiling: the view unpaced",
    }
    for stats in rows.values():
        assert stats["requests"] > 0
        assert stats["not_200"] == 0 and stats["socket_errors"] == 0
    assert list(tmp_path.glob("public_view-*.md")), "the table was written"
