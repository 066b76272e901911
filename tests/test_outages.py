"""Outages with real processes: a PostgreSQL of the test's own stopped and started under a
running API server (503 with Retry-After, nothing written half-way, recovery without a
restart), and a broadcast task that raises on one notice's data (counted in /metrics, the
other notices served, not retried forever). Redis outages: tests/test_dispatch_faults.py."""

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from kit.db import session_scope
from tests.conftest import (
    OPERATOR_TOKEN,
    ROOT,
    Service,
    _free_port,
    wait_for_runs,
    wait_until,
)
from tests.helpers import create_operator, log_in, notice_body, place_devices, wait_for_dispatch

PG_BIN = Path("/usr/lib/postgresql/15/bin")
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


def _as_postgres(*args: str, check: bool = True) -> None:
    """PostgreSQL refuses to run as root: as root, its commands run as the postgres user."""
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run([*prefix, *args], cwd="/", check=check, capture_output=True)


@dataclass
class Cluster:
    """A PostgreSQL cluster of the test's own, which it may stop and start: the shared one
    serves everyone's tests and must not be stopped."""

    data: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://hexcast@127.0.0.1:{self.port}/hexcast"

    def start(self) -> None:
        _as_postgres(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.data / "log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def psql(self, sql: str) -> None:
        _as_postgres(
            str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
            "-v", "ON_ERROR_STOP=1", "-qc", sql,
        )  # fmt: skip


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A new cluster on a free port, with hexcast's schema (alembic upgrade head)."""
    data = Path(tempfile.mkdtemp(prefix="hexcast-outage-pg-")) / "pg"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(data.parent, "postgres")
        shutil.chown(data, "postgres")
    cluster = Cluster(data=data, port=_free_port())
    _as_postgres(
        str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
        "--locale=C.UTF-8",
    )  # fmt: skip
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(
            f"listen_addresses = '127.0.0.1'\nport = {cluster.port}\n"
            f"unix_socket_directories = '{data}'\nfsync = off\nmax_connections = 50\n"
        )
    cluster.start()
    try:
        cluster.psql("create role hexcast login superuser")
        cluster.psql("create database hexcast owner hexcast")
        subprocess.run(
            [sys.executable, "-m", "alembic", "upgrade", "head"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            env={**os.environ, "HEXCAST_DATABASE_URL": cluster.url},
        )
        yield cluster
    finally:
        # Already stopped if the test failed while it was down: then this fails, harmlessly.
        _as_postgres(
            str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop", check=False
        )
        shutil.rmtree(data.parent, ignore_errors=True)


@pytest.fixture
def server(cluster: Cluster, broker: Service) -> Iterator[httpx.Client]:
    """The API as a real server process on the test's cluster, and a client of it."""
    port = _free_port()
    api = Service(
        "api-outage",
        [
            sys.executable,
            "-m",
            "uvicorn",
            "alerts.api:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        ready=lambda log: b"Application startup complete" in log,
        env={"HEXCAST_DATABASE_URL": cluster.url},
    )
    api.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client
    finally:
        api.stop()


def _named(name: str, **where: float) -> dict[str, Any]:
    body = notice_body(**where)
    body["person"]["name"] = name
    return body


def _unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "database_unavailable"
    assert int(response.headers["Retry-After"]) > 0


LOCATION = {"lat": 51.5, "lon": -0.12, "accuracy_m": 10}


def test_a_database_outage_is_503_changes_nothing_and_passes_without_a_restart(
    cluster: Cluster, server: httpx.Client
) -> None:
    api = server
    for email in ("keys@outage.example", "duty@outage.example"):
        create_operator(api, OPERATOR, email, role="admin")
    issuer, duty = log_in(api, "keys@outage.example"), log_in(api, "duty@outage.example")
    created = api.post("/v1/operator/agencies", json={"name": "Outage Police"}, headers=issuer)
    assert created.status_code == 201, created.text
    agency = {"X-API-Key": created.json()["api_key"]}
    device = api.post(
        "/v1/devices", json={"fcm_token": "t-1", "platform": "android", "locale": "en-GB"}
    )
    assert device.status_code == 201, device.text
    phone = {"X-Device-Key": device.json()["device_key"]}
    at = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    located = api.put("/v1/devices/me/location", json={**LOCATION, "at": at}, headers=phone)
    assert located.status_code == 204, located.text
    pending = api.post("/v1/notices", json=notice_body(), headers=agency)
    assert pending.status_code == 201, pending.text
    notice_id = pending.json()["id"]

    cluster.stop()
    _unavailable(api.post("/v1/notices", json=_named("Second"), headers=agency))
    _unavailable(api.post(f"/v1/operator/notices/{notice_id}/approve", headers=duty))
    moved = {"lat": 48.85, "lon": 2.35, "accuracy_m": 10, "at": datetime.now(UTC).isoformat()}
    _unavailable(api.put("/v1/devices/me/location", json=moved, headers=phone))
    _unavailable(api.get("/metrics"))
    cluster.start()

    # The same server, not restarted, answers again from the first request on.
    listed = api.get("/v1/notices", headers=agency)
    assert listed.status_code == 200, listed.text
    assert [n["id"] for n in listed.json()["items"]] == [notice_id]
    assert listed.json()["items"][0]["status"] == "pending"
    audit = api.get(f"/v1/operator/notices/{notice_id}/audit", headers=OPERATOR).json()
    assert [e["action"] for e in audit["items"]] == ["notice.submitted"]
    engine = create_engine(cluster.url, poolclass=NullPool)
    with engine.connect() as connection:
        stored = connection.execute(text("select st_y(location::geometry) from devices"))
        assert stored.scalar_one() == pytest.approx(LOCATION["lat"])

    approved = api.post(f"/v1/operator/notices/{notice_id}/approve", headers=duty)
    assert approved.status_code == 200, approved.text
    assert api.post("/v1/notices", json=_named("Second"), headers=agency).status_code == 201
    assert api.put("/v1/devices/me/location", json=moved, headers=phone).status_code == 204


CENTRE = (47.3769, 8.5417)


def _failures(api: httpx.Client, task: str) -> float:
    lines = [
        line
        for line in api.get("/metrics").text.splitlines()
        if line.startswith(f'hexcast_task_failures_total{{task="{task}"}}')
    ]
    return float(lines[0].split()[1]) if lines else 0.0


def test_a_broadcast_that_raises_on_one_notice_fails_visibly_and_stops(
    api: httpx.Client,
    worker: Service,
    agency_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    """One notice's stored point is not a number: its broadcast raises. The failure is in
    the worker's log and in /metrics; the other notice reaches its devices; the reconciler
    queues the broken broadcast a few times, then leaves it alone."""
    tokens = place_devices(10, *CENTRE, within_m=500)
    ids = []
    for name in ("Broken", "Sound"):
        submitted = api.post(
            "/v1/notices", json=_named(name, lat=CENTRE[0], lon=CENTRE[1]), headers=agency_headers
        )
        assert submitted.status_code == 201, submitted.text
        ids.append(submitted.json()["id"])
    broken, sound = ids
    with session_scope() as session:
        session.execute(
            text("update notices set last_seen_lat = 'NaN' where id = :id"),
            {"id": uuid.UUID(broken)},
        )
    for notice_id in ids:
        approved = api.post(f"/v1/operator/notices/{notice_id}/approve", headers=operator_headers)
        assert approved.status_code == 200, approved.text

    stats = wait_for_dispatch(api, operator_headers, sound, timeout=60)
    assert stats["by_status"]["sent"] == len(tokens)
    allowed = 3  # HEXCAST_TASK_FAILURES_ALLOWED's default
    wait_until(
        lambda: _failures(api, "notifier.broadcast") >= allowed,
        timeout=60,
        what="the broken broadcast to fail as often as allowed",
    )
    assert "H3LatLngDomainError" in worker.run_log()
    settled = _failures(api, "notifier.broadcast")
    wait_for_runs(worker, "notifier.reconcile", runs=6)
    assert _failures(api, "notifier.broadcast") == settled
    assert api.get(f"/v1/notices/{broken}", headers=agency_headers).json()["status"] == "active"
