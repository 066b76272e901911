"""`python -m bench.channel`: the FCM channel alone against stock send_each, in one process.

No database and no Celery: for each `--latency-ms`, the channel (notifier.fcm_http, as a
worker builds it but without the rate cap) sends `--messages` pushes in batches of 500 to the
FCM sandbox, then the stock firebase-admin loop (`messaging.send_each`, batches of 500) sends
`--baseline-messages` to the same sandbox. Both are timed by wall clock and by this process's
CPU time per push.
"""

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from firebase_admin import messaging

from bench import RESULTS_DIR
from bench.dispatch import PROJECT, RUN_DIR, free_port, log, run_sandbox
from notifier.fcm import to_message
from notifier.fcm_http import fcm_channel
from notifier.firebase import fcm_send_url, make_firebase_app
from notifier.payload import NoticeText, build_push

BATCH = 500


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse(argv)
    load_before = os.getloadavg()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    credentials = RUN_DIR / "channel-credentials.json"
    credentials.unlink(missing_ok=True)
    now = datetime.now(UTC)
    text = NoticeText(
        notice_id="6f1c2a0e-5b7d-4c1e-9a43-1b2f3c4d5e6f",
        person_name="Lily Chen",
        person_age=7,
        description="Red coat, yellow backpack.",
        last_seen_place="Westminster Bridge",
        last_seen_at=now - timedelta(hours=1),
        photo_url="https://agency.example/photos/lily.jpg",
        expires_at=now + timedelta(hours=72),
    )
    locales = ("en-GB", "zh-CN", "es-ES", "fr-FR", "de-DE")
    pushes = [
        build_push(text, token=f"bench-channel-{i:09d}", locale=locales[i % 5], now=now)
        for i in range(max(args.messages, args.baseline_messages))
    ]
    rows = []
    with run_sandbox(port, credentials) as (sandbox, _):
        app = make_firebase_app(
            project_id=PROJECT, credentials_file=str(credentials), endpoint=url, name="bench"
        )
        channel = fcm_channel(
            app,
            send_url=fcm_send_url(url, PROJECT),
            max_concurrency=args.concurrency,
            timeout_s=30,
        )
        try:
            for latency in args.latency_ms:
                sandbox.put("/sandbox/faults", json={"latency_ms": latency}).raise_for_status()
                channel.send(pushes[:BATCH])  # connections and token, as a running worker has

                def send_channel(batch: Sequence[Any]) -> int:
                    return sum(o.ok for o in channel.send(batch))

                def send_each(batch: Sequence[Any]) -> int:
                    messages = [to_message(p, now=now) for p in batch]
                    return messaging.send_each(messages, app=app).success_count

                at = f"{latency:g} ms"
                fast = _time(sandbox, f"channel, {at}", pushes[: args.messages], send_channel)
                baseline = pushes[: args.baseline_messages]
                stock = _time(sandbox, f"send_each, {at}", baseline, send_each)
                rows.append(
                    {
                        "latency_ms": latency,
                        "channel_pushes_per_s": fast[0],
                        "channel_cpu_us_per_push": fast[1],
                        "send_each_pushes_per_s": stock[0],
                        "send_each_cpu_us_per_push": stock[1],
                        "ratio": round(fast[0] / stock[0], 2),
                    }
                )
        finally:
            channel.close()
    table = _table(rows)
    print(table)
    context = {
        "messages": args.messages,
        "baseline_messages": args.baseline_messages,
        "concurrency": args.concurrency,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "at": now.isoformat(timespec="seconds"),
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"channel-{args.messages}-{now:%Y%m%dT%H%M%SZ}.md"
    path.write_text(
        f"# FCM channel against send_each, {args.messages:,} messages\n\n"
        f"`python -m bench.channel {' '.join(sys.argv[1:])}`\n\n{table}\n\n```json\n"
        + json.dumps({"context": context, "rows": rows}, indent=2)
        + "\n```\n"
    )
    log(f"wrote {path}")
    if args.json:
        print(json.dumps(rows))


def _time(
    sandbox: httpx.Client,
    what: str,
    pushes: Sequence[Any],
    send: Callable[[Sequence[Any]], int],
) -> tuple[float, float]:
    """(pushes a second, CPU µs of this process a push), checking the sandbox got them all."""
    sandbox.delete("/sandbox/messages").raise_for_status()
    started, cpu_started = time.perf_counter(), time.process_time()
    sent = sum(send(pushes[i : i + BATCH]) for i in range(0, len(pushes), BATCH))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    accepted = sandbox.get("/sandbox/stats").json()["accepted"]
    if sent != len(pushes) or accepted != len(pushes):
        raise SystemExit(f"{what}: {sent} sent, {accepted} accepted of {len(pushes)}")
    log(f"{what}: {len(pushes) / seconds:,.0f} pushes/s, {cpu / len(pushes) * 1e6:.0f} µs CPU")
    return round(len(pushes) / seconds, 1), round(cpu / len(pushes) * 1e6, 1)


def _table(rows: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| sandbox latency | channel pushes/s | channel CPU/push | send_each pushes/s "
        "| send_each CPU/push | channel / send_each |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['latency_ms']:g} ms | {r['channel_pushes_per_s']:,.0f} "
        f"| {r['channel_cpu_us_per_push']:.0f} µs | {r['send_each_pushes_per_s']:,.0f} "
        f"| {r['send_each_cpu_us_per_push']:.0f} µs | {r['ratio']:.1f}× |"
        for r in rows
    ]
    return "\n".join(lines)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.channel", description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000, help="pushes the channel sends")
    parser.add_argument(
        "--baseline-messages", type=int, default=5_000, help="pushes send_each sends"
    )
    parser.add_argument(
        "--latency-ms",
        type=lambda v: [float(x) for x in v.split(",")],
        default=[0.0, 20.0],
        help="sandbox latencies to measure, e.g. 0,20",
    )
    parser.add_argument("--concurrency", type=int, default=100, help="requests in flight")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON, last")
    return parser.parse_args(argv)


if __name__ == "__main__":
    main()
