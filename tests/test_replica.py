"""Reads that tolerate lag on a real streaming replica: a private primary and hot standby
(initdb, pg_basebackup, WAL streaming) in a temporary directory, never the shared cluster.

The standby's replay is paused to tell the two apart: while it is, the reach preview still
counts what the standby holds, not what the primary has since taken. With the standby
stopped, the same reads come from the primary and nothing fails."""

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.conftest import ROOT, Service, _free_port, wait_until

PG_BIN = Path("/usr/lib/postgresql/15/bin")
DATABASE = "hexcast_replica"
OPERATOR_TOKEN = "replica-test-operator-token"
REACH = {"lat": 51.5, "lon": -0.12, "radii_km": [5]}


def _as_db_user(args: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, its tools run as the postgres user."""
    return ["runuser", "-u", "postgres", "--", *args] if os.getuid() == 0 else args


def _run(args: list[str]) -> None:
    subprocess.run(_as_db_user(args), check=True, capture_output=True, cwd="/")


@dataclass
class Pair:
    directory: Path
    primary_port: int
    standby_port: int

    def dsn(self, port: int, database: str = DATABASE) -> str:
        return f"postgresql://hexcast@127.0.0.1:{port}/{database}"

    def url(self, port: int) -> str:
        return f"postgresql+psycopg://hexcast@127.0.0.1:{port}/{DATABASE}"

    def pg_ctl(self, name: str, *args: str) -> None:
        data = self.directory / name
        _run([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(data / "log"), "-w", *args])


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    directory = Path(tempfile.mkdtemp(prefix="hexcast-replica-"))
    if os.getuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    pair = Pair(directory, _free_port(), _free_port())
    primary = directory / "primary"
    _run([str(PG_BIN / "initdb"), "-D", str(primary), "-U", "postgres", "--auth=trust"])
    with (primary / "postgresql.conf").open("a") as conf:
        conf.write(
            f"listen_addresses = '127.0.0.1'\nport = {pair.primary_port}\n"
            f"unix_socket_directories = '{directory}'\nwal_level = replica\n"
            "max_wal_senders = 4\nfsync = off\n"
        )
    pair.pg_ctl("primary", "start")
    try:
        admin = f"postgresql://postgres@127.0.0.1:{pair.primary_port}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE ROLE hexcast LOGIN SUPERUSER")
            conn.execute(f"CREATE DATABASE {DATABASE} OWNER hexcast")
        subprocess.run(
            [sys.executable, "-m", "alembic", "upgrade", "head"],
            check=True,
            capture_output=True,
            cwd=ROOT,
            env={**os.environ, "HEXCAST_DATABASE_URL": pair.url(pair.primary_port)},
        )
        standby = directory / "standby"
        _run(
            [
                str(PG_BIN / "pg_basebackup"),
                f"--dbname=host=127.0.0.1 port={pair.primary_port} user=postgres",
                "-D",
                str(standby),
                "--write-recovery-conf",
                "--wal-method=stream",
                # Not the default spread checkpoint, which waits minutes on an idle primary.
                "--checkpoint=fast",
            ]
        )
        with (standby / "postgresql.auto.conf").open("a") as conf:
            conf.write(f"port = {pair.standby_port}\nhot_standby = on\n")
        pair.pg_ctl("standby", "start")
        yield pair
    finally:
        for name in ("standby", "primary"):
            subprocess.run(
                _as_db_user(
                    [str(PG_BIN / "pg_ctl"), "-D", str(directory / name), "-m", "immediate", "stop"]
                ),
                capture_output=True,
                cwd="/",
            )
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def replica_api(pair: Pair) -> Iterator[httpx.Client]:
    """The API on the pair: writes on the primary, lag-tolerant reads on the standby."""
    port = _free_port()
    server = Service(
        "api-replica",
        [sys.executable, "-m", "uvicorn", "alerts.api:app", "--port", str(port)],
        ready=lambda log: b"Application startup complete" in log,
        env={
            "HEXCAST_DATABASE_URL": pair.url(pair.primary_port),
            "HEXCAST_REPLICA_DATABASE_URL": pair.url(pair.standby_port),
            "HEXCAST_OPERATOR_TOKEN": OPERATOR_TOKEN,
            # Counting a handful of devices: every count shown, as often as asked.
            "HEXCAST_REACH_MIN_DEVICES_SHOWN": "0",
            "HEXCAST_REACH_MIN_AREA_KM2": "0",
            "HEXCAST_REACH_PREVIEWS_PER_MINUTE": "100000",
        },
    )
    server.start()
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        yield client
    server.stop()


def _place_device(api: httpx.Client, token: str) -> None:
    registered = api.post(
        "/v1/devices", json={"fcm_token": token, "platform": "android", "locale": "en-GB"}
    )
    assert registered.status_code == 201, registered.text
    at = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    located = api.put(
        "/v1/devices/me/location",
        headers={"X-Device-Key": registered.json()["device_key"]},
        json={"lat": 51.5, "lon": -0.12, "accuracy_m": 5, "at": at},
    )
    assert located.status_code == 204, located.text


def _reach(api: httpx.Client) -> int:
    response = api.post(
        "/v1/operator/reach", json=REACH, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    )
    assert response.status_code == 200, response.text
    return int(response.json()["reach"][0]["devices"])


def _public_and_operator_reads_answer(api: httpx.Client) -> None:
    operator = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    assert api.get("/v1/operator/stats/outcomes", headers=operator).status_code == 200
    assert api.get("/v1/feed/active.atom").status_code == 200


def test_lag_tolerant_reads_come_from_the_standby_and_fall_back_to_the_primary(
    pair: Pair, replica_api: httpx.Client
) -> None:
    api = replica_api
    for i in range(3):
        _place_device(api, f"replica-{i}")
    wait_until(lambda: _reach(api) == 3, timeout=30, what="the standby to replay 3 devices")

    with psycopg.connect(pair.dsn(pair.standby_port), autocommit=True) as standby:
        standby.execute("SELECT pg_wal_replay_pause()")
        for i in range(3, 5):
            _place_device(api, f"replica-{i}")
        assert _reach(api) == 3  # the standby's view: the primary has 5
        _public_and_operator_reads_answer(api)
        standby.execute("SELECT pg_wal_replay_resume()")
    wait_until(lambda: _reach(api) == 5, timeout=30, what="the standby to catch up")

    pair.pg_ctl("standby", "-m", "immediate", "stop")
    _place_device(api, "replica-5")
    assert _reach(api) == 6  # read from the primary
    _public_and_operator_reads_answer(api)
    pair.pg_ctl("standby", "start")
    wait_until(lambda: _reach(api) == 6, timeout=30, what="reads on the restarted standby")
