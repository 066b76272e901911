"""`python -m bench.sandbox`: how many sends a second the FCM sandbox alone takes.

The load comes from a minimal keep-alive HTTP/1.1 client on raw asyncio streams (one request
in flight per connection, one write per request), about a fifth of the CPU per request of
any real client, so that the sandbox and not the client is what runs out. Reported: sends
a second, and the sandbox's own CPU per send (from /proc).
"""

import argparse
import asyncio
import json
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import google.auth.transport.requests
import uvloop
from google.oauth2 import service_account

from bench.dispatch import PROJECT, RUN_DIR, cpu_seconds, free_port, log, run_sandbox

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse(argv)
    port = free_port()
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    credentials = RUN_DIR / "sandbox-credentials.json"
    credentials.unlink(missing_ok=True)
    rows = []
    with run_sandbox(port, credentials) as (sandbox, pid):
        request = _request(port, credentials)
        for latency in args.latency_ms:
            sandbox.put("/sandbox/faults", json={"latency_ms": latency}).raise_for_status()
            uvloop.run(_load(port, request, args.connections, args.connections))  # warm
            cpu_before = cpu_seconds(pid)
            started = time.perf_counter()
            statuses = uvloop.run(_load(port, request, args.requests, args.connections))
            seconds = time.perf_counter() - started
            cpu = cpu_seconds(pid) - cpu_before
            if statuses != {200: args.requests}:
                raise SystemExit(f"unexpected answers: {dict(statuses)}")
            row = {
                "latency_ms": latency,
                "connections": args.connections,
                "sends_per_s": round(args.requests / seconds, 1),
                "sandbox_cpu_us_per_send": round(cpu / args.requests * 1e6, 1),
            }
            log(f"{latency:g} ms: {row['sends_per_s']:,.0f} sends/s")
            rows.append(row)
    print("| sandbox latency | connections | sends/s | sandbox CPU per send |")
    print("|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['latency_ms']:g} ms | {r['connections']} | {r['sends_per_s']:,.0f} "
            f"| {r['sandbox_cpu_us_per_send']:.0f} µs |"
        )
    if args.json:
        print(json.dumps(rows))


def _request(port: int, credentials: Path) -> bytes:
    """One complete `messages:send` request, with an access token from the sandbox."""
    creds = service_account.Credentials.from_service_account_file(str(credentials), scopes=[SCOPE])
    creds.refresh(google.auth.transport.requests.Request())
    body = json.dumps(
        {
            "message": {
                "token": "bench-sandbox:APA91b" + "x" * 120,
                "notification": {"title": "Missing person: Lily Chen", "body": "x" * 300},
                "data": {"type": "missing_person", "notice_id": "n-1"},
                "android": {"priority": "high", "ttl": "3600s", "collapse_key": "n-1"},
            }
        }
    ).encode()
    head = (
        f"POST /v1/projects/{PROJECT}/messages:send HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n"
        f"authorization: Bearer {creds.token}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _load(port: int, request: bytes, requests: int, connections: int) -> Counter[int]:
    statuses: Counter[int] = Counter()
    remaining = iter(range(requests))

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in remaining:
            writer.write(request)
            status = int((await reader.readline()).split()[1])
            length = 0
            while (line := await reader.readline()) != b"\r\n":
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            statuses[status] += 1
        writer.close()

    await asyncio.gather(*(connection() for _ in range(connections)))
    return statuses


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.sandbox", description=__doc__)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument(
        "--latency-ms",
        type=lambda v: [float(x) for x in v.split(",")],
        default=[0.0, 20.0],
        help="sandbox latencies to measure, e.g. 0,20",
    )
    parser.add_argument("--json", action="store_true", help="print the rows as JSON, last")
    return parser.parse_args(argv)


if __name__ == "__main__":
    main()
