"""`python -m bench.soak`: location reports for minutes on end, a broadcast in the middle, and
API processes killed with SIGKILL meanwhile.

It loads `--devices` devices with known keys into its own database (hexcast_bench_soak):
`--inside` of them live within 9 km of the notice's centre (its radius is 11 km), the rest at
least 13 km away, and every report a device sends stays within about 100 m of its home, so
which devices the notice must reach is known whatever the reports do. It starts what a
deployment runs: the API (uvicorn, `--processes`), a prefork Celery worker and the FCM
sandbox. Then, for `--minutes`:

- wrk sends `--rate` reports a second on a fixed schedule (bench/ingest.lua);
- a witness client reports for `--witnesses` other devices, one report at a time, and
  remembers the newest report of each device that was answered 204;
- after a warm-up broadcast to `--warmup-devices` devices far from the centre (the workers'
  first notice loads what they load once), the soak notice is submitted and approved at
  the half;
- `--kills` times, spread evenly (at a third and two thirds for two), one API worker process
  is killed with SIGKILL (uvicorn starts another);
- every process's resident memory is read every 5 seconds.

Afterwards it checks what the issue asks: no 5xx, wrk's p99, every device inside the area
pushed exactly once and none outside, no report answered 204 missing from the database,
and memory flat after the warm-up. It prints a table, writes it with the figures to
bench/results/soak-*.md, and exits with status 3 when a check failed.
"""

import argparse
import hashlib
import json
import math
import os
import platform
import random
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench import RESULTS_DIR, ROOT
from bench.dispatch import (
    CENTRE,
    LIBPQ_URL,
    OPERATOR_TOKEN,
    PG_PORT,
    PROJECT,
    REDIS_PORT,
    admin_session,
    celery_workers,
    create_database,
    drop_database,
    free_port,
    log,
    migrate,
    notice_body,
    ok,
    run_sandbox,
    wait,
)
from bench.ingest import api_server, device_key, load_devices, rss_mb, run_wrk
from geo.sphere import destination

RUN_DIR = ROOT / ".stack" / "bench-soak"
BENCH_DB = "hexcast_bench_soak"
BENCH_REDIS_DB = 10
INSIDE_M = 9_000.0  # homes inside: at most this far from the centre
OUTSIDE_M = (13_000.0, 120_000.0)  # homes outside: this far
WARMUP_CENTRE = (53.4808, -2.2426)  # Manchester, 260 km from the soak's centre
WARMUP_RADIUS_M = 3_000.0
WARMUP_NOTICE_RADIUS_KM = 4.0
WITNESS_INTERVAL_S = 0.02  # the witness's pace: about 50 reports a second
P99_GOAL_MS = 100.0
CHECK_FAILED = 3  # the exit status when the soak ran but a check failed
MEMORY_GROWTH_GOAL = 0.10


@dataclass
class Witness:
    """Reports sent one at a time for a few devices, and the newest one answered 204 of each:
    what a device may assume of a 204, checked while processes are killed."""

    keys: list[str]
    answered: dict[str, datetime] = field(default_factory=dict)
    sent: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    unanswered: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self, url: str) -> None:
        start = datetime.now(UTC) - timedelta(minutes=1)
        client = httpx.Client(base_url=url, timeout=10)
        next_send = time.monotonic()
        while not self.stop.is_set():
            key = self.keys[self.sent % len(self.keys)]
            at = start + timedelta(milliseconds=self.sent)
            self.sent += 1
            body = {"lat": 51.0, "lon": 1.0, "accuracy_m": 10, "at": at.isoformat()}
            try:
                response = client.put(
                    "/v1/devices/me/location", json=body, headers={"X-Device-Key": key}
                )
            except httpx.TransportError:
                # Its process died with the report: the app sends it again, on a new
                # connection (here, the next report takes its place).
                self.unanswered += 1
                client.close()
                client = httpx.Client(base_url=url, timeout=10)
                continue
            self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
            if response.status_code == 204:
                self.answered[key] = at
            next_send += WITNESS_INTERVAL_S
            time.sleep(max(0.0, next_send - time.monotonic()))
        client.close()

    def missing(self, dsn: str) -> list[str]:
        """Keys whose newest report answered 204 is not in the database."""
        hashes = {_key_hash(key): key for key in self.answered}
        with psycopg.connect(dsn) as conn:
            rows = conn.execute(
                "SELECT credential_hash, located_at FROM devices WHERE credential_hash = ANY(%s)",
                [list(hashes)],
            ).fetchall()
        stored: dict[str, datetime] = {hashes[h]: at for h, at in rows}
        return [
            key
            for key, at in self.answered.items()
            if key not in stored or stored[key] is None or stored[key] < at
        ]


@dataclass
class Memory:
    """Resident memory of each role's processes (MB), read while wrk runs (every
    bench.ingest.SAMPLE_S seconds)."""

    pids: dict[str, int]
    samples: list[tuple[float, dict[str, float]]] = field(default_factory=list)

    def sample(self, elapsed: float) -> None:
        self.samples.append((elapsed, {role: rss_mb(pid) for role, pid in self.pids.items()}))

    def growth(self, after_s: float) -> dict[str, dict[str, float]]:
        """Per role: memory at the first sample after `after_s`, the highest after it, the
        last, and the last's growth over the first."""
        later = [values for at, values in self.samples if at >= after_s]
        if not later:
            later = [self.samples[-1][1]]
        return {
            role: {
                "after_warmup_mb": round(later[0][role], 1),
                "highest_mb": round(max(v[role] for v in later), 1),
                "end_mb": round(later[-1][role], 1),
                "growth": round(later[-1][role] / later[0][role] - 1, 3),
            }
            for role in self.pids
        }


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse(argv)
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    load_before = os.getloadavg()
    sandbox_port, api_port = free_port(), free_port()
    credentials = RUN_DIR / "fcm-credentials.json"
    credentials.unlink(missing_ok=True)
    os.environ.update(
        HEXCAST_ENVIRONMENT="development",
        HEXCAST_DATABASE_URL=f"postgresql+psycopg://hexcast@127.0.0.1:{PG_PORT}/{args.database}",
        HEXCAST_BROKER_URL=f"redis://127.0.0.1:{REDIS_PORT}/{BENCH_REDIS_DB}",
        HEXCAST_OPERATOR_TOKEN=OPERATOR_TOKEN,
        HEXCAST_FCM_PROJECT_ID=PROJECT,
        HEXCAST_FCM_ENDPOINT=f"http://127.0.0.1:{sandbox_port}",
        HEXCAST_FCM_CREDENTIALS_FILE=str(credentials),
    )
    create_database(args.database)
    migrate()
    dsn = f"{LIBPQ_URL}/{args.database}"
    all_keys = RUN_DIR / f"{args.database}-device-keys.txt"
    load_s = load_devices(dsn, all_keys, args.devices, now=started, home=_homes(args))
    lines = all_keys.read_text().splitlines()
    wrk_keys = RUN_DIR / f"{args.database}-wrk-keys.txt"
    wrk_keys.write_text("\n".join(lines[: args.devices - args.witnesses]) + "\n")
    witness = Witness([line.split()[0] for line in lines[args.devices - args.witnesses :]])
    inside = [_key_hash(device_key(i)) for i in range(args.inside)]
    seconds = args.minutes * 60
    url = f"http://127.0.0.1:{api_port}"
    with (
        run_sandbox(sandbox_port, credentials) as (sandbox, sandbox_pid),
        celery_workers(args.workers) as worker_pid,
        api_server(ROOT, api_port, args.processes, name=f"{args.database}-api") as api_pid,
        httpx.Client(base_url=url, timeout=30) as api,
    ):
        sandbox.put("/sandbox/faults", json={"latency_ms": args.latency_ms}).raise_for_status()
        memory = Memory({"api": api_pid, "workers": worker_pid, "sandbox": sandbox_pid})
        clock = time.monotonic()

        def elapsed() -> float:
            return time.monotonic() - clock

        events: dict[str, Any] = {}
        threads = [
            threading.Thread(target=witness.run, args=(url,), name="witness"),
            threading.Thread(
                target=_schedule,
                args=(api, sandbox, api_pid, dsn, inside, seconds, elapsed, events, args),
                name="schedule",
            ),
        ]
        for thread in threads:
            thread.start()
        try:
            result = run_wrk(url, wrk_keys, seconds, args, sample=lambda: memory.sample(elapsed()))
        finally:
            witness.stop.set()
            for thread in threads:
                thread.join()
        memory.sample(elapsed())
        if "error" in events:
            raise SystemExit(f"the soak's schedule failed: {events['error']}")
    missing = witness.missing(dsn)
    warmed_up_s = max(args.warmup_seconds, events["warmup_broadcast_done_s"])
    summary = _summary(result, witness, missing, events, memory.growth(warmed_up_s), args)
    context = {
        "devices": args.devices,
        "inside": args.inside,
        "rate": args.rate,
        "minutes": args.minutes,
        "processes": args.processes,
        "workers": args.workers,
        "connections": args.connections,
        "load_s": round(load_s, 1),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "at": started.isoformat(timespec="seconds"),
        "memory_samples": memory.samples,
    }
    if not args.keep:
        drop_database(args.database)
    table = _table(summary)
    print(table)
    path = _write(table, summary, context, started)
    log(f"wrote {path}")
    if args.json:
        print(json.dumps(summary))
    if not summary["passed"]:
        raise SystemExit(CHECK_FAILED)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--devices", type=int, default=300_000, help="devices that report")
    parser.add_argument("--inside", type=int, default=100_000, help="of them inside the notice")
    parser.add_argument("--warmup-devices", type=int, default=1_000)
    parser.add_argument("--witnesses", type=int, default=200, help="devices of the witness")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=2_000.0, help="reports/s sent by wrk")
    parser.add_argument("--connections", type=int, default=128, help="wrk connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--processes", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--workers", type=int, default=4, help="Celery worker processes")
    parser.add_argument("--kills", type=int, default=2, help="API processes killed (SIGKILL)")
    parser.add_argument(
        "--warmup-seconds", type=float, default=60.0, help="memory is compared from then on"
    )
    parser.add_argument("--latency-ms", type=float, default=20.0, help="sandbox latency")
    parser.add_argument("--database", default=BENCH_DB)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON, last")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)
    if args.inside + args.warmup_devices + args.witnesses > args.devices:
        parser.error("--devices must hold --inside, --warmup-devices and --witnesses")
    return args


def _homes(args: argparse.Namespace) -> Callable[[int, random.Random], tuple[float, float]]:
    """Device i's home: inside the notice, around the warm-up notice, or outside both."""

    def home(i: int, rng: random.Random) -> tuple[float, float]:
        if i < args.inside:
            centre, distance = CENTRE, INSIDE_M * math.sqrt(rng.random())
        elif i < args.inside + args.warmup_devices:
            centre, distance = WARMUP_CENTRE, WARMUP_RADIUS_M * math.sqrt(rng.random())
        else:
            centre, distance = CENTRE, rng.uniform(*OUTSIDE_M)
        return destination(*centre, distance, rng.uniform(0, 360))

    return home


def _schedule(
    api: httpx.Client,
    sandbox: httpx.Client,
    api_pid: int,
    dsn: str,
    inside: list[str],
    seconds: float,
    elapsed: Callable[[], float],
    events: dict[str, Any],
    args: argparse.Namespace,
) -> None:
    """The warm-up broadcast at once, the soak's broadcast at the half, and the kills spread
    evenly over the soak (at a third and two thirds for two); what happened goes to `events`."""
    try:
        issuer, operator = (admin_session(api, _bootstrap(), role) for role in ("keys", "duty"))
        agency = ok(
            api.post(
                "/v1/operator/agencies",
                json={"name": f"Soak Police {time.time_ns()}"},
                headers=issuer,
            )
        )
        agency_key = {"X-API-Key": agency["api_key"]}
        warmup = notice_body(WARMUP_CENTRE, WARMUP_NOTICE_RADIUS_KM)
        _broadcast(api, sandbox, agency_key, operator, warmup, args.warmup_devices)
        events["warmup_broadcast_done_s"] = round(elapsed(), 1)
        sandbox.delete("/sandbox/messages").raise_for_status()
        kills = [seconds * (k + 1) / (args.kills + 1) for k in range(args.kills)]
        plan = sorted([(at, "kill") for at in kills] + [(seconds / 2, "broadcast")])
        events["kills"] = []
        for at, what in plan:
            time.sleep(max(0.0, at - elapsed()))
            if what == "kill":
                events["kills"].append(_kill_one(api_pid, args.processes, elapsed))
            else:
                began = elapsed()
                notice_id, push_s = _broadcast(
                    api, sandbox, agency_key, operator, notice_body(), args.inside
                )
                events["broadcast"] = {
                    "at_s": round(began, 1),
                    "approval_to_last_push_s": round(push_s, 2),
                    **_reached(dsn, notice_id, inside),
                    "sandbox": sandbox.get("/sandbox/stats").json(),
                }
    except (Exception, SystemExit) as error:  # reported by main, after wrk has finished
        log(f"schedule failed: {error!r}")
        events["error"] = repr(error)


def _bootstrap() -> dict[str, str]:
    return {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


def _broadcast(
    api: httpx.Client,
    sandbox: httpx.Client,
    agency_key: dict[str, str],
    operator: dict[str, str],
    body: dict[str, Any],
    devices: int,
) -> tuple[str, float]:
    """Submit and approve a notice through the HTTP API; wait until `devices` pushes have
    arrived and every delivery is settled. Its id, and seconds from approval to last push."""
    notice = ok(api.post("/v1/notices", json=body, headers=agency_key))
    approved_at = time.time()
    ok(api.post(f"/v1/operator/notices/{notice['id']}/approve", headers=operator))
    stats = wait(
        lambda: sandbox.get("/sandbox/stats").json(),
        lambda s: s["accepted"] + sum(s["rejected"].values()) >= devices,
        what=f"{devices:,} pushes",
        progress=lambda s: f"{s['accepted']:,}/{devices:,} pushes received",
        interval=0.25,
    )
    wait(
        lambda: api.get(f"/v1/operator/notices/{notice['id']}/deliveries", headers=operator).json(),
        lambda d: d["targeted"] >= devices and d["by_status"].get("pending", 0) == 0,
        what="every delivery settled",
        interval=0.25,
    )
    return notice["id"], stats["last_accepted_at"] - approved_at


def _reached(dsn: str, notice_id: str, inside: list[str]) -> dict[str, int]:
    """The notice's deliveries: to devices inside the area, sent, and to any other device."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE v.credential_hash = ANY(%(inside)s)), "
            "count(*) FILTER (WHERE v.credential_hash = ANY(%(inside)s) AND d.status = 'sent'), "
            "count(*) FILTER (WHERE NOT v.credential_hash = ANY(%(inside)s)), "
            "count(DISTINCT d.device_id) FROM deliveries AS d JOIN devices AS v "
            "ON v.id = d.device_id WHERE d.notice_id = %(notice)s",
            {"inside": inside, "notice": notice_id},
        ).fetchone()
    assert row is not None
    to_inside, sent, to_outside, devices = row
    return {
        "deliveries_inside": to_inside,
        "sent_inside": sent,
        "deliveries_outside": to_outside,
        "devices_with_a_delivery": devices,
    }


def _kill_one(api_pid: int, processes: int, elapsed: Callable[[], float]) -> dict[str, Any]:
    """SIGKILL one of uvicorn's worker processes; wait until uvicorn has replaced it."""
    victim = min(_api_workers(api_pid))
    killed_at = elapsed()
    os.kill(victim, signal.SIGKILL)
    log(f"killed API process {victim} at {killed_at:.0f} s")
    wait(
        lambda: _api_workers(api_pid),
        lambda pids: victim not in pids and len(pids) >= processes,
        what="uvicorn to replace the killed process",
        timeout=60,
        interval=0.1,
    )
    return {
        "pid": victim,
        "at_s": round(killed_at, 1),
        "replaced_after_s": round(elapsed() - killed_at, 1),
    }


def _api_workers(api_pid: int) -> set[int]:
    """uvicorn's worker processes: children of the supervisor started by multiprocessing
    (its resource tracker excluded)."""
    workers = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if parent == api_pid and b"spawn_main" in command:
            workers.add(int(stat.parent.name))
    return workers


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _summary(
    result: dict[str, Any],
    witness: Witness,
    missing: list[str],
    events: dict[str, Any],
    memory: dict[str, dict[str, float]],
    args: argparse.Namespace,
) -> dict[str, Any]:
    errors = result["errors"]
    broadcast = events["broadcast"]
    stats = broadcast["sandbox"]
    checks = {
        "no_5xx": errors["status"] == 0 and not any(status >= 500 for status in witness.statuses),
        "p99": result["p99_us"] / 1000 <= P99_GOAL_MS,
        "every_inside_device_pushed_once": broadcast["sent_inside"] == args.inside
        and stats["accepted"] == stats["devices_reached"] == args.inside
        and stats["devices_reached_more_than_once"] == 0,
        "no_device_outside_pushed": broadcast["deliveries_outside"] == 0,
        "no_204_lost": not missing,
        "memory_flat": all(
            memory[role]["growth"] <= MEMORY_GROWTH_GOAL for role in ("api", "workers")
        ),
    }
    seconds = result["duration_us"] / 1e6
    return {
        "minutes": args.minutes,
        "rate": args.rate,
        "reports_per_s": round(result["requests"] / seconds, 1),
        "p50_ms": result["p50_us"] / 1000,
        "p99_ms": result["p99_us"] / 1000,
        "max_ms": result["max_us"] / 1000,
        "non_2xx": errors["status"],
        "socket_errors": errors["connect"] + errors["read"] + errors["write"],
        "timeouts": errors["timeout"],
        "witness_sent": witness.sent,
        "witness_statuses": {str(k): v for k, v in sorted(witness.statuses.items())},
        "witness_unanswered": witness.unanswered,
        "witness_devices": len(witness.answered),
        "witness_missing": len(missing),
        "inside": args.inside,
        "broadcast": broadcast,
        "kills": events["kills"],
        "memory": memory,
        "checks": checks,
        "passed": all(checks.values()),
    }


def _table(summary: dict[str, Any]) -> str:
    checks, broadcast, stats = (
        summary["checks"],
        summary["broadcast"],
        summary["broadcast"]["sandbox"],
    )

    def mark(check: str) -> str:
        return "yes" if checks[check] else "**no**"

    kills = "; ".join(
        f"at {k['at_s']:.0f} s, replaced after {k['replaced_after_s']:.1f} s"
        for k in summary["kills"]
    )
    lines = [
        f"| {summary['minutes']:g}-minute soak | figure | goal | met |",
        "|---|---:|---|---|",
        f"| reports/s (wrk, paced) | {summary['reports_per_s']:,.0f} | {summary['rate']:,.0f} | |",
        f"| latency p50 / p99 / max (ms) | {summary['p50_ms']:.1f} / {summary['p99_ms']:.1f} / "
        f"{summary['max_ms']:.0f} | p99 ≤ {P99_GOAL_MS:.0f} | {mark('p99')} |",
        f"| answers other than 2xx | {summary['non_2xx']} | 0 | {mark('no_5xx')} |",
        f"| connections cut by the kills (wrk) | {summary['socket_errors']} | | |",
        f"| API processes killed (SIGKILL) | {kills} | | |",
        f"| witness: reports answered 204, devices | "
        f"{summary['witness_statuses'].get('204', 0):,}, {summary['witness_devices']} | | |",
        f"| witness: newest 204 report missing from the database | {summary['witness_missing']} "
        f"| 0 | {mark('no_204_lost')} |",
        f"| broadcast at {broadcast['at_s']:.0f} s: devices inside, pushed (sandbox), distinct "
        f"| {summary['inside']:,}, {stats['accepted']:,}, {stats['devices_reached']:,} | all, "
        f"once | {mark('every_inside_device_pushed_once')} |",
        f"| devices pushed more than once | {stats['devices_reached_more_than_once']} | 0 | |",
        f"| deliveries to devices outside the area | {broadcast['deliveries_outside']} | 0 | "
        f"{mark('no_device_outside_pushed')} |",
        f"| broadcast: approval to last push (s) | "
        f"{broadcast['approval_to_last_push_s']:.1f} | | |",
    ]
    for role, figures in summary["memory"].items():
        goal = f"≤ {MEMORY_GROWTH_GOAL:.0%}" if role != "sandbox" else "(test tool)"
        met = mark("memory_flat") if role != "sandbox" else ""
        lines.append(
            f"| memory, {role}: after warm-up → highest → end (MB) | "
            f"{figures['after_warmup_mb']:,.0f} → {figures['highest_mb']:,.0f} → "
            f"{figures['end_mb']:,.0f} ({figures['growth']:+.1%}) | {goal} | {met} |"
        )
    return "\n".join(lines)


def _write(table: str, summary: dict[str, Any], context: dict[str, Any], now: datetime) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"soak-{summary['minutes']:g}min-{now:%Y%m%dT%H%M%SZ}.md"
    verdict = "every check met" if summary["passed"] else "**a check failed**"
    path.write_text(
        f"# Soak, {summary['minutes']:g} minutes: {verdict}\n\n"
        f"`python -m bench.soak {' '.join(sys.argv[1:])}`; {context['devices']:,} devices, "
        f"{context['processes']} API processes, {context['workers']} Celery worker processes, "
        f"wrk with {context['connections']} connections, all on {context['cpus']} cores.\n\n"
        f"{table}\n\n```json\n"
        f"{json.dumps({'context': context, 'summary': summary}, indent=2, default=str)}\n```\n"
    )
    return path


if __name__ == "__main__":
    main()
