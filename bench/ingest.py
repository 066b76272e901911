"""`python -m bench.ingest`: location reports through the real HTTP API, against the old path.

It creates its own database (hexcast_bench_ingest) on the dev PostgreSQL, migrates it and
loads N devices with known device keys (COPY, not the API). Each run then starts the API
twice, as a deployment runs it (uvicorn, `--processes` worker processes), and drives
`PUT /v1/devices/me/location` with wrk (`--connections` connections, a Lua script that walks
the device keys, each wrk thread its own share of devices, every report newer than the
last of its device): first the baseline, the per-request ORM path as of `--baseline-rev`
(exported with `git archive`, run on the same database and interpreter), then the current
code. After a short warm-up each is timed for its seconds, and reports: reports/s, wrk's
p50/p99/max latency, errors (sockets and non-2xx), database rows written per second (the
table's update counter), how many of those were HOT, CPU per report of the API processes,
the CPU per report of the database backends serving them, and what the table and its
indexes grew by. The machine's load average is recorded with each
run: on a shared machine take the median of several runs (`--runs`), which the table shows.
"""

import argparse
import hashlib
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import h3.api.basic_int as h3int
import httpx
import psycopg
from psycopg import sql

from bench import RESULTS_DIR, ROOT
from bench.dispatch import cpu_seconds, free_port, log
from geo.regions import DEVICE_RESOLUTION

RUN_DIR = ROOT / ".stack" / "bench-ingest"
BENCH_DB = "hexcast_bench_ingest"
PG_PORT = int(os.environ.get("HEXCAST_PG_PORT", "54329"))
LIBPQ_URL = f"postgresql://hexcast@127.0.0.1:{PG_PORT}"
# The last commit with the per-request path: device found by an ORM query, row rewritten
# by the ORM, in a threadpool route.
BASELINE_REV = "20d19d2642608b9fe9d44fb36cd529eab6c2b00a"
AREA = (49.9, 58.7, -6.4, 1.8)  # Great Britain's box: south, north, west, east
WARMUP_S = 3
SAMPLE_S = 5.0  # how often the API processes' memory is read during a phase
SEED = 20_261_205
LUA = Path(__file__).with_name("ingest.lua")


@dataclass(frozen=True, slots=True)
class Phase:
    path: str  # "baseline" or "current"
    run: int
    seconds: float
    reports: int
    reports_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    non_2xx: int
    rows_written_per_s: float
    hot_share: float
    api_cpu_us_per_report: float
    reports_per_api_core_s: float
    db_cpu_us_per_report: float | None  # None: a backend exited during the phase
    api_rss_mb: float  # resident memory of all API processes at the end of the phase
    api_rss_growth: float  # since the start of the timed phase (after the warm-up)
    table_growth_mb: float
    index_growth_mb: float
    load_average: tuple[float, float, float]


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse(argv)
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    load_before = os.getloadavg()
    database_url = f"postgresql+psycopg://hexcast@127.0.0.1:{PG_PORT}/{args.database}"
    os.environ.update(HEXCAST_ENVIRONMENT="development", HEXCAST_DATABASE_URL=database_url)
    _create_database(args.database)
    _migrate()
    dsn = f"{LIBPQ_URL}/{args.database}"
    # Files named after the database, so that runs on different databases can overlap.
    keys = RUN_DIR / f"{args.database}-device-keys.txt"
    load_s = load_devices(dsn, keys, args.devices, now=started)
    phases: list[Phase] = []
    with _baseline_source(args.baseline_rev) as baseline_dir:
        for run in range(1, args.runs + 1):
            paths = [("baseline", baseline_dir, args.baseline_seconds)]
            paths = [] if args.no_baseline else paths
            for name, source, seconds in [*paths, ("current", ROOT, args.seconds)]:
                phase = _phase(name, run, source, dsn, keys, seconds, args)
                log(
                    f"run {run} {name}: {phase.reports_per_s:,.0f} reports/s, p99 "
                    f"{phase.p99_ms:.1f} ms, errors {phase.errors + phase.non_2xx}, load "
                    f"{phase.load_average[0]:.2f}"
                )
                phases.append(phase)
    summary = _summary(phases, args)
    context = {
        "devices": args.devices,
        "processes": args.processes,
        "connections": args.connections,
        "wrk_threads": args.threads,
        "baseline_rev": args.baseline_rev,
        "load_s": round(load_s, 1),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "at": started.isoformat(timespec="seconds"),
    }
    if not args.keep:
        _drop_database(args.database)
    table = _table(summary)
    print(table)
    path = _write(table, summary, phases, context, started)
    log(f"wrote {path}")
    if args.json:
        print(json.dumps(summary))


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__)
    parser.add_argument("--devices", type=int, required=True, help="devices that report")
    parser.add_argument("--seconds", type=float, default=30.0, help="timed seconds per run")
    parser.add_argument(
        "--baseline-seconds", type=float, help="timed seconds of the baseline (default: same)"
    )
    parser.add_argument("--runs", type=int, default=3, help="baseline + current pairs (median)")
    parser.add_argument(
        "--processes", type=int, default=os.cpu_count() or 1, help="uvicorn worker processes"
    )
    parser.add_argument("--connections", type=int, default=64, help="wrk connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--rate", type=float, help="reports/s to send in all (a soak); default: as fast as served"
    )
    parser.add_argument(
        "--no-baseline", action="store_true", help="time the current path only (a soak)"
    )
    parser.add_argument("--baseline-rev", default=BASELINE_REV, help="git rev of the baseline")
    parser.add_argument("--database", default=BENCH_DB)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON, last")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)
    if args.baseline_seconds is None:
        args.baseline_seconds = args.seconds
    return args


def device_key(i: int) -> str:
    return f"hxd_bench-{i:09d}"


def load_devices(
    dsn: str,
    keys: Path,
    n: int,
    *,
    now: datetime,
    home: Callable[[int, random.Random], tuple[float, float]] | None = None,
) -> float:
    """Replace every device with `n` located ones whose keys are written to `keys`, one a
    line, for the wrk script; their locations are a day old, older than any report. Device
    i is at `home(i, rng)` and its line carries that place (the script then reports near
    it), or anywhere in AREA."""
    rng = random.Random(SEED)
    south, north, west, east = AREA
    started = time.perf_counter()
    located_at = (now - timedelta(days=1)).isoformat()
    with psycopg.connect(dsn) as conn, keys.open("w") as key_file:
        conn.execute("TRUNCATE devices CASCADE")
        with conn.cursor().copy(
            "COPY devices (id, fcm_token, platform, locale, credential_hash, active, location, "
            "h3_cell, accuracy_m, located_at) FROM STDIN"
        ) as copy:
            for i in range(n):
                key = device_key(i)
                if home is None:
                    lat, lon = rng.uniform(south, north), rng.uniform(west, east)
                    key_file.write(key + "\n")
                else:
                    lat, lon = home(i, rng)
                    key_file.write(f"{key} {lat:.6f} {lon:.6f}\n")
                h = rng.randbytes(16).hex()
                copy.write(
                    f"{h}\tbench-{h}:APA91b{h}\tandroid\ten-GB\t"
                    f"{hashlib.sha256(key.encode()).hexdigest()}\tt\tSRID=4326;POINT({lon} {lat})"
                    f"\t{h3int.latlng_to_cell(lat, lon, DEVICE_RESOLUTION)}\t10\t{located_at}\n"
                )
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE devices")
    elapsed = time.perf_counter() - started
    log(f"loaded {n:,} devices in {elapsed:.1f} s")
    return elapsed


@contextmanager
def _baseline_source(rev: str) -> Iterator[Path]:
    """The source tree at `rev`, run from its own directory with this interpreter."""
    with tempfile.TemporaryDirectory(prefix="hexcast-baseline-") as directory:
        archive = subprocess.run(
            ["git", "archive", rev], cwd=ROOT, check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", directory], input=archive, check=True)
        yield Path(directory)


def _phase(
    path: str,
    run: int,
    source: Path,
    dsn: str,
    keys: Path,
    seconds: float,
    args: argparse.Namespace,
) -> Phase:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with api_server(source, port, args.processes, name=f"{args.database}-api-{path}") as api_pid:
        run_wrk(url, keys, WARMUP_S, args)
        before = _table_stats(dsn)
        backends = _backends(dsn)
        cpu_before = cpu_seconds(api_pid)
        db_cpu_before = {pid: cpu_seconds(pid) for pid in backends}
        load = os.getloadavg()
        rss: list[float] = []
        result = run_wrk(url, keys, seconds, args, sample=lambda: rss.append(rss_mb(api_pid)))
        api_cpu = cpu_seconds(api_pid) - cpu_before
        db_cpu = _backends_cpu(db_cpu_before)
    # The API's backends have exited, so the table's counters include every write.
    after = _table_stats(dsn)
    elapsed = result["duration_us"] / 1e6
    reports = result["requests"]
    updates = after["updates"] - before["updates"]
    errors = result["errors"]
    return Phase(
        path=path,
        run=run,
        seconds=round(elapsed, 1),
        reports=reports,
        reports_per_s=round(reports / elapsed, 1),
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        max_ms=result["max_us"] / 1000,
        errors=errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
        non_2xx=errors["status"],
        rows_written_per_s=round(updates / elapsed, 1),
        hot_share=round((after["hot_updates"] - before["hot_updates"]) / max(updates, 1), 3),
        api_cpu_us_per_report=round(api_cpu / max(reports, 1) * 1e6, 1),
        reports_per_api_core_s=round(reports / max(api_cpu, 1e-9), 1),
        db_cpu_us_per_report=None if db_cpu is None else round(db_cpu / max(reports, 1) * 1e6, 1),
        api_rss_mb=round(rss[-1], 1),
        api_rss_growth=round(rss[-1] / rss[0] - 1, 3),
        table_growth_mb=round((after["table_bytes"] - before["table_bytes"]) / 2**20, 1),
        index_growth_mb=round((after["index_bytes"] - before["index_bytes"]) / 2**20, 1),
        load_average=load,
    )


@contextmanager
def api_server(source: Path, port: int, processes: int, *, name: str) -> Iterator[int]:
    """uvicorn serving the app of `source`, as `make run`'s or the Dockerfile's, without the
    access log (a production proxy keeps that)."""
    log_path = RUN_DIR / f"{name}.log"
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "alerts.api:app",
                "--port",
                str(port),
                "--workers",
                str(processes),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            cwd=source,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(source)},
        )
    deadline = time.monotonic() + 60
    try:
        while True:
            if process.poll() is not None:
                raise SystemExit(f"the API exited; see {log_path}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"the API did not start; see {log_path}")
            time.sleep(0.2)
        yield process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_wrk(
    url: str,
    keys: Path,
    seconds: float,
    args: argparse.Namespace,
    sample: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """One wrk run; its Lua script's summary. Report times start 10 s before now and step a
    microsecond per report, so each report is newer than any before it, in any run. With
    `--rate`, each wrk thread sends its share on a fixed schedule (the Lua script's `delay`)
    on whichever connection is free. `sample` is called every SAMPLE_S seconds meanwhile."""
    out = RUN_DIR / f"{args.database}-wrk-summary.json"
    out.unlink(missing_ok=True)
    base_us = int((time.time() - 10) * 1e6)
    env = {**os.environ, "BENCH_INGEST_SUMMARY": str(out)}
    if args.rate:
        env["BENCH_INGEST_RATE"] = str(args.rate)
    wrk = subprocess.Popen(
        [
            "wrk",
            "-t",
            str(args.threads),
            "-c",
            str(args.connections),
            "-d",
            f"{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(LUA),
            f"{url}/v1/devices/me/location",
            "--",
            str(keys),
            str(base_us),
            str(args.threads),
        ],
        stdout=subprocess.DEVNULL,
        env=env,
    )
    while True:
        sample()
        try:
            wrk.wait(timeout=SAMPLE_S)
            break
        except subprocess.TimeoutExpired:
            continue
    if wrk.returncode != 0:
        raise SystemExit(f"wrk exited with {wrk.returncode}")
    summary: dict[str, Any] = json.loads(out.read_text())
    return summary


def rss_mb(pid: int) -> float:
    """Resident memory of `pid` and its children (the uvicorn supervisor and workers)."""
    total_kb = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":", 1) for line in status.read_text().splitlines() if ":" in line
            )
        except OSError:
            continue
        if int(status.parent.name) == pid or int(fields.get("PPid", "0")) == pid:
            total_kb += int(fields.get("VmRSS", "0 kB").split()[0])
    return total_kb / 1024


def _backends(dsn: str) -> list[int]:
    """The server processes of the API's connections (open since the warm-up): their CPU
    time is the database's share of the reports. Background writers and WAL are left out."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        ).fetchall()
    return [row[0] for row in rows]


def _backends_cpu(before: dict[int, float]) -> float | None:
    """CPU seconds the backends used since `before`; None when one exited meanwhile (a
    pool closing an overflow connection): its time can no longer be read."""
    if not all(Path(f"/proc/{pid}").exists() for pid in before):
        return None
    return sum(cpu_seconds(pid) - cpu for pid, cpu in before.items())


def _table_stats(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT n_tup_upd, n_tup_hot_upd, pg_table_size('devices'), "
            "pg_indexes_size('devices') FROM pg_stat_user_tables WHERE relname = 'devices'"
        ).fetchone()
    assert row is not None
    return dict(zip(("updates", "hot_updates", "table_bytes", "index_bytes"), row, strict=True))


def _summary(phases: Sequence[Phase], args: argparse.Namespace) -> dict[str, Any]:
    """Medians over the runs of each path, and the median of the runs' ratios."""

    def median(path: str, field: str) -> float | None:
        values = [getattr(p, field) for p in phases if p.path == path]
        known = [v for v in values if v is not None]
        return round(statistics.median(known), 2) if known else None

    baseline = [p for p in phases if p.path == "baseline"]
    current = [p for p in phases if p.path == "current"]
    ratios = [c.reports_per_s / b.reports_per_s for b, c in zip(baseline, current, strict=False)]
    fields = (
        "reports_per_s",
        "p50_ms",
        "p99_ms",
        "max_ms",
        "rows_written_per_s",
        "hot_share",
        "api_cpu_us_per_report",
        "reports_per_api_core_s",
        "db_cpu_us_per_report",
        "api_rss_mb",
        "api_rss_growth",
        "table_growth_mb",
        "index_growth_mb",
    )
    return {
        "devices": args.devices,
        "seconds": args.seconds,
        "runs": args.runs,
        "processes": args.processes,
        **{f"{path}_{f}": median(path, f) for path in ("baseline", "current") for f in fields},
        "baseline_errors": sum(p.errors + p.non_2xx for p in baseline),
        "current_errors": sum(p.errors + p.non_2xx for p in current),
        "rate": args.rate,
        "ratio": round(statistics.median(ratios), 2) if ratios else None,
        "ratio_low": round(min(ratios), 2) if ratios else None,
        "ratio_high": round(max(ratios), 2) if ratios else None,
        "load_average_1min": [p.load_average[0] for p in phases],
    }


def _table(summary: dict[str, Any]) -> str:
    def row(name: str, field: str, fmt: str) -> str:
        b, c = (summary[f"{path}_{field}"] for path in ("baseline", "current"))
        return f"| {name} | {_cell(b, fmt)} | {_cell(c, fmt)} |"

    lines = [
        f"| measure (median of {summary['runs']} runs) | baseline | current |",
        "|---|---:|---:|",
        row("reports/s", "reports_per_s", ",.0f"),
        row("latency p50 (ms)", "p50_ms", ".1f"),
        row("latency p99 (ms)", "p99_ms", ".1f"),
        row("latency max (ms)", "max_ms", ".1f"),
        f"| errors (all runs) | {summary['baseline_errors']} | {summary['current_errors']} |",
        row("rows written/s", "rows_written_per_s", ",.0f"),
        row("of them HOT", "hot_share", ".1%"),
        row("API CPU per report (µs)", "api_cpu_us_per_report", ",.0f"),
        row("reports/s per API core", "reports_per_api_core_s", ",.0f"),
        row("database backend CPU per report (µs)", "db_cpu_us_per_report", ",.0f"),
        row("API processes' memory at the end (MB)", "api_rss_mb", ",.0f"),
        row("its growth during the phase", "api_rss_growth", ".1%"),
        row("table growth (MB)", "table_growth_mb", ".1f"),
        row("index growth (MB)", "index_growth_mb", ".1f"),
    ]
    if summary["ratio"] is not None:
        lines.append(
            f"| current / baseline, run by run | | {summary['ratio']:.1f}× "
            f"({summary['ratio_low']:.1f}–{summary['ratio_high']:.1f}) |"
        )
    return "\n".join(lines)


def _cell(value: float | None, fmt: str) -> str:
    return "–" if value is None else f"{value:{fmt}}"


def _write(
    table: str,
    summary: dict[str, Any],
    phases: Sequence[Phase],
    context: dict[str, Any],
    now: datetime,
) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"ingest-{summary['devices']}-{now:%Y%m%dT%H%M%SZ}.md"
    document = {"context": context, "summary": summary, "phases": [asdict(p) for p in phases]}
    loads = ", ".join(f"{v:.2f}" for v in summary["load_average_1min"])
    path.write_text(
        f"# Ingest benchmark, {summary['devices']:,} devices\n\n"
        f"`python -m bench.ingest {' '.join(sys.argv[1:])}`; {context['processes']} API "
        f"processes, wrk with {context['connections']} connections on {context['cpus']} "
        f"cores; 1-minute load average at the start of each timed phase: {loads}.\n\n"
        f"{table}\n\n```json\n{json.dumps(document, indent=2)}\n```\n"
    )
    return path


def _migrate() -> None:
    from alembic import command
    from alembic.config import Config

    command.upgrade(Config(str(ROOT / "alembic.ini")), "head")


def _create_database(name: str) -> None:
    if not name.startswith("hexcast_bench"):
        raise SystemExit(f"--database must be a hexcast_bench* database, not {name}")
    with psycopg.connect(f"{LIBPQ_URL}/postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _drop_database(name: str) -> None:
    with psycopg.connect(f"{LIBPQ_URL}/postgres", autocommit=True) as conn:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        conn.execute(drop.format(sql.Identifier(name)))
    log(f"dropped {name} (use --keep to keep it)")


if __name__ == "__main__":
    main()
