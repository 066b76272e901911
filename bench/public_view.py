"""`python -m bench.public_view`: the public notice view under a broadcast's burst of opens.

A broadcast's recipients open the same notice within a minute of its pop-up. This starts
the API (one uvicorn process, as `make run` does, access log off) on its own database with
one active notice, then drives it with Debian's `wrk` (C, event loop: not the bottleneck)
at a paced rate: `--connections` connections each waiting `--delay-ms` between requests
(48 x 20 ms offer at most 2,400 requests/s, so that the 2,000 of the target are reached
with each request's own time added to the pause), for `--seconds`; then the view unpaced
for `--ceiling-seconds` (10), the ceiling of one process on this machine with wrk beside
it. The baseline, in the same run and at the same pace, is `GET /healthz`: the framework's
own cost, with no view, cache or database. Prints a table (requests/s, 5xx, latency
percentiles) and writes it under bench/results/.
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench import RESULTS_DIR, ROOT
from bench.dispatch import (
    PG_PORT,
    create_database,
    drop_database,
    free_port,
    log,
    migrate,
)

BENCH_DB = "hexcast_bench_public_view"
TARGET_RPS = 2000
P99_LIMIT_MS = 50.0
VIEW_ROW = "GET /v1/feed/notices/{id}"

# wrk's Lua hooks: pace each connection, count 5xx per thread, and print the summary as JSON.
PACED = """
local counts = {}
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) fivexx = 0; not_ok = 0 end
function delay() return %(delay_ms)d end
function response(status, headers, body)
  if status >= 500 then fivexx = fivexx + 1 end
  if status ~= 200 then not_ok = not_ok + 1 end
end
function done(summary, latency, requests)
  local errors, others = 0, 0
  for _, t in ipairs(threads) do
    errors = errors + t:get("fivexx")
    others = others + t:get("not_ok")
  end
  io.write("JSON" .. string.format(
    '{"requests": %%d, "duration_us": %%d, "fivexx": %%d, "not_200": %%d, "socket_errors": %%d, '
    .. '"p50_us": %%d, "p90_us": %%d, "p99_us": %%d, "max_us": %%d}',
    summary.requests, summary.duration, errors, others,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max) .. "\\n")
end
"""


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk (scripts/stack.sh does)")
    os.environ.update(
        HEXCAST_ENVIRONMENT="development",
        HEXCAST_DATABASE_URL=f"postgresql+psycopg://hexcast@127.0.0.1:{PG_PORT}/{args.database}",
    )
    create_database(args.database)
    migrate()
    notice_id = _active_notice()
    load_before = os.getloadavg()
    rows = []
    try:
        with _api() as url:
            httpx.get(f"{url}/v1/feed/notices/{notice_id}").raise_for_status()
            view = f"/v1/feed/notices/{notice_id}"
            for name, path, delay_ms, seconds in [
                ("baseline: GET /healthz", "/healthz", args.delay_ms, args.seconds),
                (VIEW_ROW, view, args.delay_ms, args.seconds),
                ("ceiling: the view unpaced", view, 0, args.ceiling_seconds),
            ]:
                log(f"{name}: {seconds} s")
                rows.append((name, _wrk(url + path, args, delay_ms=delay_ms, seconds=seconds)))
    finally:
        if not args.keep:
            drop_database(args.database)
    _report(rows, args, load_before)
    if args.json:
        print(json.dumps({name: stats for name, stats in rows}))


def _active_notice() -> uuid.UUID:
    from kit.db import session_scope
    from kit.models import Agency, Notice, NoticeStatus, Sex

    now = datetime.now(UTC)
    with session_scope() as session:
        agency = Agency(id=uuid.uuid4(), name=f"Bench Police {uuid.uuid4().hex[:8]}")
        session.add(agency)
        session.flush()
        notice = Notice(
            id=uuid.uuid4(),
            agency_id=agency.id,
            status=NoticeStatus.ACTIVE,
            person_name="Lily Chen",
            person_age=7,
            person_sex=Sex.FEMALE,
            person_description="Red coat, yellow backpack, a small grey rabbit toy.",
            photo_url="https://agency.example/photos/lily.jpg",
            last_seen_lat=51.500712,
            last_seen_lon=-0.124588,
            last_seen_at=now - timedelta(hours=1),
            last_seen_place="Westminster Bridge",
            radius_km=5.0,
            contact="Police 101, case 4411",
            language="en-GB",
            decided_at=now,
            expires_at=now + timedelta(hours=72),
            texts={
                "fr-FR": {
                    "headline": "Enfant disparue : Lily Chen",
                    "description": "Manteau rouge.",
                }
            },
        )
        session.add(notice)
        return notice.id


@contextmanager
def _api() -> Iterator[str]:
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "alerts.api:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        env=os.environ.copy(),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/healthz", timeout=1).raise_for_status()
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the API did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wrk(url: str, args: argparse.Namespace, *, delay_ms: int, seconds: int) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(PACED % {"delay_ms": delay_ms})
    try:
        result = subprocess.run(
            [
                "wrk",
                "-t",
                str(args.threads),
                "-c",
                str(args.connections),
                "-d",
                f"{seconds}s",
                "--timeout",
                "5s",
                "-s",
                script.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        Path(script.name).unlink()
    line = next(x for x in result.stdout.splitlines() if x.startswith("JSON"))
    stats: dict[str, Any] = json.loads(line.removeprefix("JSON"))
    stats["rps"] = stats["requests"] / (stats["duration_us"] / 1e6)
    return stats


def _report(rows: list[tuple[str, dict[str, Any]]], args: argparse.Namespace, load: Any) -> None:
    now = datetime.now(UTC)
    lines = [
        f"# Public notice view under load ({now:%Y-%m-%d %H:%M} UTC)",
        "",
        f"wrk: {args.threads} threads, {args.connections} connections, each waiting "
        f"{args.delay_ms} ms between requests, {args.seconds} s; one uvicorn process, "
        f"{os.cpu_count()} cores ({platform.machine()}), load average before "
        f"{load[0]:.2f}, after {os.getloadavg()[0]:.2f}.",
        "",
        "| route | requests | req/s | 5xx | socket errors | p50 ms | p90 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in rows:
        lines.append(
            f"| {name} | {s['requests']} | {s['rps']:.0f} | {s['fivexx']} | "
            f"{s['socket_errors']} | {s['p50_us'] / 1000:.2f} | {s['p90_us'] / 1000:.2f} | "
            f"{s['p99_us'] / 1000:.2f} | {s['max_us'] / 1000:.1f} |"
        )
    view = dict(rows)[VIEW_ROW]
    passed = (
        view["rps"] >= TARGET_RPS and view["fivexx"] == 0 and view["p99_us"] / 1000 <= P99_LIMIT_MS
    )
    lines += [
        "",
        f"Target: {TARGET_RPS} req/s or more, zero 5xx, p99 <= {P99_LIMIT_MS:g} ms: "
        + ("met." if passed else "NOT met."),
    ]
    table = "\n".join(lines) + "\n"
    print(table, file=sys.stderr if args.json else sys.stdout)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"public_view-{now:%Y%m%dT%H%M%SZ}.md"
    path.write_text(table)
    log(f"wrote {path}")


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.public_view", description=__doc__)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=48)
    parser.add_argument(
        "--ceiling-seconds", type=int, default=10, help="seconds of the view unpaced, at the end"
    )
    parser.add_argument(
        "--delay-ms", type=int, default=20, help="pause of each connection between requests"
    )
    parser.add_argument("--database", default=BENCH_DB)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--json", action="store_true", help="end with the rows as JSON")
    return parser.parse_args(argv)


if __name__ == "__main__":
    main()
