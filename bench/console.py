"""The operator console's speed in a real Chromium, over a synthetic population: from the
radius slider's move to the new count on screen, each page's first load, each page's assets.

Loads `--devices` devices (bench.population, reused when already loaded), starts hexcast's
API on a free port over that database, creates an agency, an operator and a notice at the
largest city, signs in and measures. The slider's latency is what the page itself records
(`data-latency-ms`: from the input event to the count and cells drawn), so it includes the
request, the reach count, the cover and the drawing; a page load is navigation start to the
load event; assets are the bytes of every response the page fetched.

    python -m bench.console --devices 1000000 --keep
"""

import argparse
import json
import math
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import psycopg
from psycopg import sql

from bench import RESULTS_DIR, ROOT, population

if TYPE_CHECKING:
    from playwright.sync_api import Response

PG_PORT = int(os.environ.get("HEXCAST_PG_PORT", "54329"))
LIBPQ_URL = f"postgresql://hexcast@127.0.0.1:{PG_PORT}"
SEED = 20_261_123
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PASSWORD = "bench console passphrase"
SLIDER_KM = [5.0, 8.0, 12.0, 20.0, 30.0, 50.0, 3.0, 1.5]


def slider_position(km: float) -> int:
    return round(1000 * math.log(km / 0.1) / math.log(500 / 0.1))


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse(argv)
    database_url = f"postgresql+psycopg://hexcast@127.0.0.1:{PG_PORT}/{args.database}"
    os.environ["HEXCAST_DATABASE_URL"] = database_url
    _create_database(args.database)
    _migrate()
    dsn = f"{LIBPQ_URL}/{args.database}"
    now = datetime.now(UTC)
    layout = population.Layout(population.DEFAULT_COUNTRY)
    if population.loaded_signature(dsn) != population.signature(args.devices, layout, SEED):
        population.load(dsn, args.devices, layout=layout, seed=SEED, now=now)
    else:
        _log(f"reusing the {args.devices:,} devices already loaded")
    _tally()
    city = population.cities(layout.country)[0]
    token = secrets.token_urlsafe(16)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "alerts.api:app", "--port", str(port)],
        cwd=ROOT,
        env={
            **os.environ,
            "HEXCAST_DATABASE_URL": database_url,
            "HEXCAST_OPERATOR_TOKEN": token,
            "HEXCAST_ENVIRONMENT": "development",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        notice_id = _prepare(base, token, city.lat, city.lon, now)
        result = _measure(base, notice_id, args.runs)
    finally:
        server.terminate()
        server.wait(timeout=10)
    if not args.keep:
        _drop_database(args.database)
    context = {
        "devices": args.devices,
        "centre": f"{city.name} ({city.lat}, {city.lon})",
        "runs": args.runs,
        "cpus": os.cpu_count(),
        "at": now.isoformat(timespec="seconds"),
    }
    path = _write(result, context, now)
    print(json.dumps(result, indent=2) if args.json else _table(result))
    _log(f"wrote {path}")


def _tally() -> None:
    """Take the device tally, as Celery beat does every minute in a running hexcast: the
    reach of large areas reads it."""
    from geo.tallies import refresh_tallies
    from kit.db import session_scope

    with session_scope() as session:
        refresh_tallies(session, now=datetime.now(UTC))


def _prepare(base: str, token: str, lat: float, lon: float, now: datetime) -> str:
    """An agency, an operator to sign in as, and a pending 3 km notice at (lat, lon)."""
    admin = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, timeout=60) as api:
        deadline = time.monotonic() + 120
        while True:
            try:
                if api.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        stamp = f"{now:%Y%m%d%H%M%S}"
        agency = api.post("/v1/operator/agencies", headers=admin, json={"name": f"Bench {stamp}"})
        agency.raise_for_status()
        api.post(
            "/v1/operator/accounts",
            headers=admin,
            json={
                "email": f"bench-{stamp}@hexcast.example",
                "display_name": "Bench",
                "role": "admin",
                "password": PASSWORD,
            },
        ).raise_for_status()
        notice = api.post(
            "/v1/notices",
            headers={"X-API-Key": agency.json()["api_key"]},
            json={
                "person": {"name": "Bench Person", "sex": "unknown", "description": "Bench."},
                "last_seen": {
                    "lat": lat,
                    "lon": lon,
                    "place": "the city centre",
                    "at": (now - timedelta(minutes=30)).isoformat(),
                },
                "radius_km": 3,
                "contact": "bench",
                "language": "en",
            },
        )
        notice.raise_for_status()
        os.environ["BENCH_CONSOLE_EMAIL"] = f"bench-{stamp}@hexcast.example"
        return str(notice.json()["id"])


SET_SLIDER = """(position) => {
  const slider = document.getElementById("radius");
  slider.value = String(position);
  slider.dispatchEvent(new Event("input", { bubbles: true }));
}"""

LOAD_MS = """() => {
  const [nav] = performance.getEntriesByType("navigation");
  return nav.loadEventEnd - nav.startTime;
}"""


def _measure(base: str, notice_id: str, runs: int) -> dict[str, Any]:
    from playwright.sync_api import Response, sync_playwright

    pages = {
        "sign-in": "/console/sign-in",
        "queue": "/console",
        "review": f"/console/notices/{notice_id}",
        "watch": f"/console/notices/{notice_id}/watch",
        "agencies": "/console/admin/agencies",
        "operators": "/console/admin/operators",
        "audit": "/console/admin/audit",
    }
    loads: dict[str, list[float]] = {name: [] for name in pages}
    sizes: dict[str, int] = {}
    slider_ms: list[float] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        signing_in = browser.new_context()
        page = signing_in.new_page()
        page.goto(f"{base}/console/sign-in")
        page.get_by_label("Email").fill(os.environ["BENCH_CONSOLE_EMAIL"])
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base}/console")
        signed_in = signing_in.storage_state()
        signing_in.close()
        for _ in range(runs):
            for name, path in pages.items():
                # A new context each time: an empty cache, so the page's first load.
                context = browser.new_context(
                    viewport={"width": 1280, "height": 900}, storage_state=signed_in
                )
                page = context.new_page()
                received: list[int] = []

                def count(response: Response, into: list[int] = received) -> None:
                    into.append(_body_size(response))

                page.on("response", count)
                page.goto(f"{base}{path}", wait_until="load")
                page.wait_for_load_state("networkidle")
                loads[name].append(page.evaluate(LOAD_MS))
                sizes[name] = sum(received)
                context.close()
        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, storage_state=signed_in
        )
        page = context.new_page()
        page.goto(f"{base}{pages['review']}")
        reach = page.locator("#reach")
        reach.wait_for(state="attached")
        page.wait_for_function("document.getElementById('reach').dataset.radiusKm === '3'")
        for _ in range(runs):
            for km in SLIDER_KM:
                page.evaluate(SET_SLIDER, slider_position(km))
                page.wait_for_function(
                    "(km) => document.getElementById('reach').dataset.radiusKm === String(km)",
                    arg=float(km) if km % 1 else int(km),
                    timeout=30_000,
                )
                slider_ms.append(float(reach.get_attribute("data-latency-ms") or "nan"))
        browser.close()
    return {
        "slider_to_count_ms": {
            "median": round(statistics.median(slider_ms), 1),
            "p90": round(sorted(slider_ms)[int(0.9 * (len(slider_ms) - 1))], 1),
            "max": round(max(slider_ms), 1),
            "samples": len(slider_ms),
        },
        "first_load_ms": {name: round(statistics.median(v), 1) for name, v in loads.items()},
        "asset_bytes": sizes,
    }


def _body_size(response: "Response") -> int:
    try:
        return len(response.body())
    except Exception:  # a redirect has no body to read
        return 0


def _table(result: dict[str, Any]) -> str:
    slider = result["slider_to_count_ms"]
    lines = [
        f"Slider to count on screen: median {slider['median']} ms, p90 {slider['p90']} ms, "
        f"max {slider['max']} ms ({slider['samples']} moves)",
        "",
        "| page | first load (ms, median) | assets (bytes) |",
        "| --- | ---: | ---: |",
    ]
    for name, ms in result["first_load_ms"].items():
        lines.append(f"| {name} | {ms} | {result['asset_bytes'][name]:,} |")
    return "\n".join(lines)


def _write(result: dict[str, Any], context: dict[str, Any], now: datetime) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"console-{context['devices']}-{now:%Y%m%dT%H%M%SZ}.md"
    path.write_text(
        f"# Console benchmark, {context['devices']:,} devices\n\n"
        f"Median of {context['runs']} runs; centre {context['centre']}; "
        f"`python -m bench.console {' '.join(sys.argv[1:])}`.\n\n"
        f"{_table(result)}\n\n```json\n"
        + json.dumps({"context": context, **result}, indent=2)
        + "\n```\n"
    )
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _create_database(name: str) -> None:
    with psycopg.connect(f"{LIBPQ_URL}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _drop_database(name: str) -> None:
    with psycopg.connect(f"{LIBPQ_URL}/postgres", autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _migrate() -> None:
    from alembic import command
    from alembic.config import Config

    command.upgrade(Config(str(ROOT / "alembic.ini")), "head")


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, required=True, help="synthetic devices to load")
    parser.add_argument("--runs", type=int, default=5, help="runs of each measurement")
    parser.add_argument("--database", default="hexcast_bench_console")
    parser.add_argument("--keep", action="store_true", help="keep the database for next time")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser.parse_args(argv)


if __name__ == "__main__":
    main()
