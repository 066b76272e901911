"""`python -m bench.dispatch`: a whole broadcast, approval to last push, against stock send_each.

It loads N devices (COPY, not the API) into its own database (hexcast_bench_dispatch), all
inside one circle; starts the FCM sandbox with a fixed `--latency-ms` (plus `--jitter-ms`)
and real Celery worker processes (as many as a deployment runs: kit.celery's
worker_concurrency, two a core) on their own Redis database; creates
an agency, submits and approves a notice through the HTTP API (in-process ASGI), and times,
from the approval request to the sandbox's own receive stamps, the first and the last push,
and pushes per second end to end. After each broadcast, against the same sandbox, it times
the stock firebase-admin loop (`messaging.send_each`, batches of 500) over
`--baseline-messages` messages, and prints the median of the broadcasts' ratios to it.
"""

import argparse
import json
import math
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import h3.api.basic_int as h3int
import httpx
import httpx2
import psycopg
from psycopg import sql

from bench import RESULTS_DIR, ROOT
from geo.regions import DEVICE_RESOLUTION
from geo.sphere import destination

RUN_DIR = ROOT / ".stack" / "bench-dispatch"
BENCH_DB = "hexcast_bench_dispatch"
BENCH_REDIS_DB = 9
PG_PORT = int(os.environ.get("HEXCAST_PG_PORT", "54329"))
REDIS_PORT = int(os.environ.get("HEXCAST_REDIS_PORT", "63799"))
LIBPQ_URL = f"postgresql://hexcast@127.0.0.1:{PG_PORT}"
PROJECT = "hexcast-bench"
OPERATOR_TOKEN = "bench-operator-token"
CENTRE = (51.5072, -0.1276)  # London
AREA_RADIUS_M = 10_000.0
NOTICE_RADIUS_KM = 11.0
SEND_EACH_BATCH = 500
SEED = 20_261_123
BROADCAST_TIMEOUT_S = 600.0
# Times come from the sandbox's own receive stamps, not from polling: polling 50 times a
# second cost this process 7.5 % of a core, on the machine the broadcast runs on.
BROADCAST_POLL_S = 0.25
LOCALES = ("en-GB", "en-US", "zh-CN", "es-ES", "fr-FR", "de-DE", "pl-PL", "hi-IN")
TOKEN_PREFIX = "bench-"


@dataclass(frozen=True, slots=True)
class Run:
    """One broadcast: seconds from the approval request to the first and last push the
    sandbox received, and pushes per second over that whole time."""

    devices: int
    first_push_s: float
    last_push_s: float
    pushes_per_s: float
    sent: int
    worker_cpu_us_per_push: float
    sandbox_cpu_us_per_push: float


@dataclass(frozen=True, slots=True)
class Baseline:
    messages: int
    seconds: float
    pushes_per_s: float


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse(argv)
    load_before = os.getloadavg()
    database = args.database
    sandbox_port = free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    credentials = RUN_DIR / "fcm-credentials.json"
    credentials.unlink(missing_ok=True)  # its token_uri names this run's sandbox port
    # Before anything reads hexcast's settings (they are cached): the API, alembic and the
    # workers all work on the bench database and Redis database, never on a real one.
    os.environ.update(
        HEXCAST_ENVIRONMENT="development",
        HEXCAST_DATABASE_URL=f"postgresql+psycopg://hexcast@127.0.0.1:{PG_PORT}/{database}",
        HEXCAST_BROKER_URL=f"redis://127.0.0.1:{REDIS_PORT}/{BENCH_REDIS_DB}",
        HEXCAST_OPERATOR_TOKEN=OPERATOR_TOKEN,
        HEXCAST_FCM_PROJECT_ID=PROJECT,
        HEXCAST_FCM_ENDPOINT=sandbox_url,
        HEXCAST_FCM_CREDENTIALS_FILE=str(credentials),
    )
    create_database(database)
    migrate()
    dsn = f"{LIBPQ_URL}/{database}"
    started = datetime.now(UTC)
    load_s = _load_devices(dsn, args.devices, seed=args.seed, now=started)
    workers = args.workers or _default_workers()
    with (
        run_sandbox(sandbox_port, credentials) as (sandbox, sandbox_pid),
        celery_workers(workers) as worker_pid,
    ):
        sandbox.put(
            "/sandbox/faults", json={"latency_ms": args.latency_ms, "jitter_ms": args.jitter_ms}
        ).raise_for_status()

        def cpu() -> tuple[float, float]:
            return cpu_seconds(worker_pid), cpu_seconds(sandbox_pid)

        runs: list[Run] = []
        baselines: list[Baseline] = []
        for i in range(args.runs):
            runs.append(_broadcast(sandbox, cpu, args.devices, i + 1, args.runs))
            baselines.append(
                _send_each_baseline(sandbox, args.baseline_messages, sandbox_url, credentials)
            )
    context = {
        "devices": args.devices,
        "latency_ms": args.latency_ms,
        "jitter_ms": args.jitter_ms,
        "runs": args.runs,
        "workers": workers,
        "load_s": round(load_s, 1),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "at": started.isoformat(timespec="seconds"),
    }
    summary = _summary(runs, baselines, args)
    if not args.keep:
        drop_database(database)
    table = _table(summary)
    print(table)
    path = _write(table, summary, runs, baselines, context, started)
    log(f"wrote {path}")
    if args.json:
        print(json.dumps(summary))


def _default_workers() -> int:
    from kit.celery import celery_app

    return int(celery_app.conf.worker_concurrency)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.dispatch", description=__doc__)
    parser.add_argument("--devices", type=int, required=True, help="devices inside the notice")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="sandbox latency per send")
    parser.add_argument("--jitter-ms", type=float, default=0.0, help="extra random latency")
    parser.add_argument("--runs", type=int, default=1, help="broadcasts timed (median)")
    parser.add_argument(
        "--baseline-messages",
        type=int,
        default=2_000,
        help="messages sent with the stock send_each loop after each broadcast",
    )
    parser.add_argument("--workers", type=int, help="worker processes (default: two a core)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON, last")
    parser.add_argument(
        "--database", default=BENCH_DB, help=f"the bench's own database (default {BENCH_DB})"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    return parser.parse_args(argv)


def _broadcast(
    sandbox: httpx.Client, cpu: Callable[[], tuple[float, float]], devices: int, run: int, runs: int
) -> Run:
    """Submit and approve one notice through the API; wait for every push to arrive. `cpu`
    gives the CPU seconds the workers and the sandbox have used so far."""
    from fastapi.testclient import TestClient

    from alerts.api import create_app

    bootstrap = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    sandbox.delete("/sandbox/messages").raise_for_status()
    with TestClient(create_app()) as api:
        # Two people: one admin issues the agency's key, another approves its notice.
        issuer, operator = (admin_session(api, bootstrap, role) for role in ("keys", "duty"))
        agency = ok(
            api.post(
                "/v1/operator/agencies",
                json={"name": f"Bench Police {time.time_ns()}"},
                headers=issuer,
            )
        )
        notice = ok(
            api.post(
                "/v1/notices",
                json=notice_body(),
                headers={"X-API-Key": agency["api_key"]},
            )
        )
        cpu_before = cpu()
        approved_at = time.time()
        ok(api.post(f"/v1/operator/notices/{notice['id']}/approve", headers=operator))
        stats = wait(
            lambda: sandbox.get("/sandbox/stats").json(),
            lambda s: s["accepted"] + sum(s["rejected"].values()) >= devices,
            what=f"{devices:,} pushes",
            progress=lambda s: f"run {run}/{runs}: {s['accepted']:,}/{devices:,} pushes received",
            interval=BROADCAST_POLL_S,
        )
        deliveries = wait(
            lambda: api.get(
                f"/v1/operator/notices/{notice['id']}/deliveries", headers=operator
            ).json(),
            lambda d: d["targeted"] >= devices and d["by_status"].get("pending", 0) == 0,
            what="every delivery recorded",
            interval=BROADCAST_POLL_S,
        )
        cpu_after = cpu()
    worker_cpu, sandbox_cpu = cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1]
    sent = int(deliveries["by_status"].get("sent", 0))
    if stats["accepted"] != devices or sent != devices:
        raise SystemExit(f"expected {devices:,} pushes, sandbox {stats}, deliveries {deliveries}")
    last_push_s = stats["last_accepted_at"] - approved_at
    result = Run(
        devices=devices,
        first_push_s=stats["first_accepted_at"] - approved_at,
        last_push_s=last_push_s,
        pushes_per_s=devices / last_push_s,
        sent=sent,
        worker_cpu_us_per_push=worker_cpu / devices * 1e6,
        sandbox_cpu_us_per_push=sandbox_cpu / devices * 1e6,
    )
    log(
        f"run {run}/{runs}: first push {result.first_push_s:.3f} s, last {last_push_s:.2f} s, "
        f"{result.pushes_per_s:,.0f} pushes/s; CPU per push: workers "
        f"{result.worker_cpu_us_per_push:.0f} us, sandbox {result.sandbox_cpu_us_per_push:.0f} us"
    )
    return result


def notice_body(
    centre: tuple[float, float] = CENTRE, radius_km: float = NOTICE_RADIUS_KM
) -> dict[str, Any]:
    return {
        "person": {
            "name": "Lily Chen",
            "age": 7,
            "sex": "female",
            "description": "Red coat, yellow backpack.",
            "photo_url": "https://agency.example/photos/lily.jpg",
        },
        "last_seen": {
            "lat": centre[0],
            "lon": centre[1],
            "at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
            "place": "Westminster Bridge",
        },
        "radius_km": radius_km,
        "contact": "Police 101, case 4411",
        "language": "en-GB",
    }


def _send_each_baseline(
    sandbox: httpx.Client, messages: int, sandbox_url: str, credentials: Path
) -> Baseline:
    """The stock firebase-admin loop, as hexcast sent before: send_each in batches of 500."""
    from firebase_admin import messaging

    from notifier.fcm import to_message
    from notifier.firebase import make_firebase_app
    from notifier.payload import NoticeText, build_push

    app = make_firebase_app(
        project_id=PROJECT,
        credentials_file=str(credentials),
        endpoint=sandbox_url,
        name="bench-send-each",
    )
    now = datetime.now(UTC)
    text = NoticeText(
        notice_id="bench",
        person_name="Lily Chen",
        person_age=7,
        description="Red coat, yellow backpack.",
        last_seen_place="Westminster Bridge",
        last_seen_at=now - timedelta(hours=1),
        photo_url="https://agency.example/photos/lily.jpg",
        expires_at=now + timedelta(hours=72),
    )
    pushes = [
        build_push(
            text, token=f"{TOKEN_PREFIX}send-each-{i}", locale=LOCALES[i % len(LOCALES)], now=now
        )
        for i in range(messages)
    ]
    messaging.send_each([to_message(pushes[0], now=now)], app=app)  # token and connections
    sandbox.delete("/sandbox/messages").raise_for_status()
    started = time.perf_counter()
    for start in range(0, messages, SEND_EACH_BATCH):
        batch = [to_message(p, now=now) for p in pushes[start : start + SEND_EACH_BATCH]]
        response = messaging.send_each(batch, app=app)
        if response.failure_count:
            raise SystemExit(f"send_each: {response.failure_count} failed")
        log(f"send_each: {start + len(batch):,}/{messages:,}")
    seconds = time.perf_counter() - started
    accepted = sandbox.get("/sandbox/stats").json()["accepted"]
    if accepted != messages:
        raise SystemExit(f"send_each: the sandbox accepted {accepted} of {messages}")
    baseline = Baseline(messages=messages, seconds=seconds, pushes_per_s=messages / seconds)
    log(f"send_each: {baseline.pushes_per_s:,.0f} pushes/s")
    return baseline


def _summary(
    runs: Sequence[Run], baselines: Sequence[Baseline], args: argparse.Namespace
) -> dict[str, Any]:
    """The figures: medians over the runs, and the ratio to the stock loop.

    The ratio is the median of each broadcast's rate over the stock loop's right after it:
    this machine's speed drifts by a third within minutes, and a single baseline at the
    end once put the ratio at 9.5 while the pairs ran 9.5-11."""
    pushes_per_s = statistics.median(r.pushes_per_s for r in runs)
    ratios = [r.pushes_per_s / b.pushes_per_s for r, b in zip(runs, baselines, strict=True)]
    return {
        "devices": args.devices,
        "latency_ms": args.latency_ms,
        "jitter_ms": args.jitter_ms,
        "runs": len(runs),
        "pushes_per_s": round(pushes_per_s, 1),
        "first_push_s": round(statistics.median(r.first_push_s for r in runs), 3),
        "last_push_s": round(statistics.median(r.last_push_s for r in runs), 3),
        "worker_cpu_us_per_push": round(
            statistics.median(r.worker_cpu_us_per_push for r in runs), 1
        ),
        "sandbox_cpu_us_per_push": round(
            statistics.median(r.sandbox_cpu_us_per_push for r in runs), 1
        ),
        "send_each_pushes_per_s": round(statistics.median(b.pushes_per_s for b in baselines), 1),
        "send_each_messages": sum(b.messages for b in baselines),
        "ratio": round(statistics.median(ratios), 2),
        "ratio_low": round(min(ratios), 2),
        "ratio_high": round(max(ratios), 2),
    }


def _table(summary: dict[str, Any]) -> str:
    rows = [
        ("devices (all inside the notice)", f"{summary['devices']:,}"),
        ("sandbox latency", f"{summary['latency_ms']:g} ms + jitter {summary['jitter_ms']:g} ms"),
        ("broadcasts timed (median)", f"{summary['runs']}"),
        ("approval → first push", f"{summary['first_push_s']:.3f} s"),
        ("approval → last push", f"{summary['last_push_s']:.2f} s"),
        ("end to end", f"{summary['pushes_per_s']:,.0f} pushes/s"),
        ("CPU per push, worker processes", f"{summary['worker_cpu_us_per_push']:.0f} µs"),
        ("CPU per push, FCM sandbox", f"{summary['sandbox_cpu_us_per_push']:.0f} µs"),
        (
            f"stock send_each loop after each broadcast ({summary['send_each_messages']:,} "
            "messages in all)",
            f"{summary['send_each_pushes_per_s']:,.0f} pushes/s",
        ),
        (
            "end to end / send_each, run by run",
            f"{summary['ratio']:.1f}× ({summary['ratio_low']:.1f}–{summary['ratio_high']:.1f})",
        ),
    ]
    lines = ["| measure | value |", "|---|---:|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)


def _write(
    table: str,
    summary: dict[str, Any],
    runs: Sequence[Run],
    baselines: Sequence[Baseline],
    context: dict[str, Any],
    now: datetime,
) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"dispatch-{summary['devices']}-{now:%Y%m%dT%H%M%SZ}.md"
    document = {
        "context": context,
        "summary": summary,
        "runs": [asdict(r) for r in runs],
        "send_each_after_each_run": [asdict(b) for b in baselines],
    }
    path.write_text(
        f"# Dispatch benchmark, {summary['devices']:,} devices\n\n"
        f"`python -m bench.dispatch {' '.join(sys.argv[1:])}`; {context['workers']} worker "
        f"processes on {context['cpus']} cores; load average (1, 5, 15 min) "
        f"{', '.join(f'{v:.2f}' for v in context['load_average_before'])} before the run, "
        f"{', '.join(f'{v:.2f}' for v in context['load_average_after'])} after.\n\n"
        f"{table}\n\n```json\n{json.dumps(document, indent=2)}\n```\n"
    )
    return path


def _load_devices(dsn: str, n: int, *, seed: int, now: datetime) -> float:
    """Replace every device with `n` fresh ones spread uniformly over the bench area."""
    rng = random.Random(seed)
    started = time.perf_counter()
    located_at = (now - timedelta(minutes=5)).isoformat()
    with psycopg.connect(dsn) as conn:
        conn.execute("TRUNCATE devices CASCADE")
        with conn.cursor().copy(
            "COPY devices (id, fcm_token, platform, locale, credential_hash, active, location, "
            "h3_cell, accuracy_m, located_at) FROM STDIN"
        ) as copy:
            for _ in range(n):
                # Uniform over the disc: the distance's square is uniform.
                distance = AREA_RADIUS_M * math.sqrt(rng.random())
                lat, lon = destination(*CENTRE, distance, rng.uniform(0, 360))
                h = rng.randbytes(16).hex()
                copy.write(
                    f"{h}\t{TOKEN_PREFIX}{h}:APA91b{h}{h}{h}\tandroid\t{rng.choice(LOCALES)}\t"
                    f"{h}{h}\tt\tSRID=4326;POINT({lon} {lat})\t"
                    f"{h3int.latlng_to_cell(lat, lon, DEVICE_RESOLUTION)}\t10\t{located_at}\n"
                )
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE devices")
    elapsed = time.perf_counter() - started
    log(f"loaded {n:,} devices in {elapsed:.1f} s")
    return elapsed


@contextmanager
def run_sandbox(port: int, credentials: Path) -> Iterator[tuple[httpx.Client, int]]:
    """The FCM sandbox as a subprocess; it keeps few messages, the counters are enough."""
    process = _spawn(
        "fcm-sandbox",
        [
            sys.executable,
            "-m",
            "fcm_sandbox",
            "--port",
            str(port),
            "--project",
            PROJECT,
            "--credentials-out",
            str(credentials),
            "--max-messages",
            "1000",
            "--accept-any-token",  # the benchmark's devices have made-up tokens
        ],
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)

    def healthy() -> bool:
        if process.poll() is not None:
            raise SystemExit(f"the FCM sandbox exited; see {RUN_DIR / 'fcm-sandbox.log'}")
        try:
            return client.get("/healthz").status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait(lambda: None, lambda _: healthy(), what="the FCM sandbox", timeout=30)
        yield client, process.pid
    finally:
        client.close()
        _stop(process)


@contextmanager
def celery_workers(concurrency: int) -> Iterator[int]:
    """A prefork Celery worker with `concurrency` processes, on a purged bench queue."""
    from kit.celery import celery_app

    celery_app.control.purge()
    log = RUN_DIR / "celery-worker.log"
    process = _spawn(
        "celery-worker",
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "kit.celery:celery_app",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            str(concurrency),
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--hostname",
            f"bench-dispatch-{os.getpid()}@%h",
        ],
    )

    def ready() -> bool:
        if process.poll() is not None:
            raise SystemExit(f"the Celery worker exited; see {log}")
        return b" ready." in log.read_bytes()

    try:
        wait(lambda: None, lambda _: ready(), what="the Celery worker", timeout=60)
        yield process.pid
    finally:
        _stop(process)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of `pid` and every process below it (Linux /proc)."""
    children: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        process = int(stat.parent.name)
        children.setdefault(int(fields[1]), []).append(process)
        times[process] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        process = todo.pop()
        total += times.get(process, 0.0)
        todo += children.get(process, [])
    return total


def _spawn(name: str, args: list[str]) -> subprocess.Popen[bytes]:
    with (RUN_DIR / f"{name}.log").open("wb") as log:
        return subprocess.Popen(
            args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy()
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait(
    read: Callable[[], Any],
    done: Callable[[Any], bool],
    *,
    what: str,
    timeout: float = BROADCAST_TIMEOUT_S,
    progress: Callable[[Any], str] | None = None,
    interval: float = 0.02,
) -> Any:
    """Poll `read` every `interval` seconds until `done` says so; progress to stderr about
    once a second."""
    deadline = time.monotonic() + timeout
    next_report = time.monotonic() + 1.0
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        if progress is not None and time.monotonic() >= next_report:
            log(progress(value))
            next_report += 1.0
        time.sleep(interval)


def admin_session(api: Any, bootstrap: dict[str, str], role: str) -> dict[str, str]:
    """A new admin account, logged in: its session's headers."""
    email, password = f"bench-{role}-{time.time_ns()}@hexcast.example", "bench passphrase 1234"
    ok(
        api.post(
            "/v1/operator/accounts",
            json={"email": email, "display_name": role, "role": "admin", "password": password},
            headers=bootstrap,
        )
    )
    login = ok(api.post("/v1/operator/login", json={"email": email, "password": password}))
    return {"Authorization": f"Bearer {login['token']}"}


def ok(response: httpx.Response | httpx2.Response) -> dict[str, Any]:
    """The JSON body of an API answer (Starlette's TestClient answers with httpx2)."""
    if response.status_code not in (200, 201):
        raise SystemExit(f"{response.request.method} {response.request.url}: {response.text}")
    body: dict[str, Any] = response.json()
    return body


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def create_database(name: str) -> None:
    if name.startswith("hexcast_test") or not name.startswith("hexcast_bench"):
        raise SystemExit(f"--database must be a hexcast_bench* database, not {name}")
    with psycopg.connect(f"{LIBPQ_URL}/postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(name: str) -> None:
    from kit.db import get_engine

    get_engine().dispose()
    with psycopg.connect(f"{LIBPQ_URL}/postgres", autocommit=True) as conn:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        conn.execute(drop.format(sql.Identifier(name)))
    log(f"dropped {name} (use --keep to keep it)")


def migrate() -> None:
    from alembic import command
    from alembic.config import Config

    command.upgrade(Config(str(ROOT / "alembic.ini")), "head")


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
