"""Fixtures on real servers: the local PostGIS and Redis (scripts/stack.sh starts them), a
fresh test database built by `alembic upgrade head`, and the FCM sandbox and a Celery worker
as real subprocesses. Settings are set here, before any hexcast module reads them."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = ROOT / ".stack" / os.environ.get("HEXCAST_TEST_DB", "hexcast_test")
PG_PORT = int(os.environ.get("HEXCAST_PG_PORT", "54329"))
REDIS_PORT = int(os.environ.get("HEXCAST_REDIS_PORT", "63799"))
TEST_DB = os.environ.get("HEXCAST_TEST_DB", "hexcast_test")
TEST_REDIS_DB = int(os.environ.get("HEXCAST_TEST_REDIS_DB", "1"))
OPERATOR_TOKEN = "test-operator-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


SANDBOX_PORT = _free_port()
SANDBOX_URL = f"http://127.0.0.1:{SANDBOX_PORT}"
CREDENTIALS = RUN_DIR / "fcm-credentials.json"

os.environ.update(
    HEXCAST_ENVIRONMENT="test",
    HEXCAST_DATABASE_URL=f"postgresql+psycopg://hexcast@127.0.0.1:{PG_PORT}/{TEST_DB}",
    HEXCAST_BROKER_URL=f"redis://127.0.0.1:{REDIS_PORT}/{TEST_REDIS_DB}",
    HEXCAST_OPERATOR_TOKEN=OPERATOR_TOKEN,
    HEXCAST_FCM_PROJECT_ID="hexcast-test",
    HEXCAST_FCM_ENDPOINT=SANDBOX_URL,
    HEXCAST_FCM_CREDENTIALS_FILE=str(CREDENTIALS),
)


def wait_until(predicate: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def _admin_connection() -> psycopg.Connection:
    try:
        return psycopg.connect(
            f"postgresql://hexcast@127.0.0.1:{PG_PORT}/postgres", autocommit=True
        )
    except psycopg.OperationalError as error:
        pytest.exit(f"PostGIS is not running on {PG_PORT}: use scripts/test.sh ({error})", 2)


@pytest.fixture(scope="session")
def database() -> Iterator[str]:
    """A new, migrated test database for the session."""
    from alembic import command
    from alembic.config import Config

    with _admin_connection() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {TEST_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {TEST_DB}")
    command.upgrade(Config(str(ROOT / "alembic.ini")), "head")
    yield os.environ["HEXCAST_DATABASE_URL"]
    from kit.db import get_engine

    get_engine().dispose()


@pytest.fixture
def clean_db(database: str) -> Iterator[None]:
    """Empty tables, every one the models know. A worker may still be finishing a broadcast
    an earlier test approved: its queued tasks are purged, and a TRUNCATE that deadlocks with
    its last writes is tried again."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from kit.celery import celery_app
    from kit.db import get_engine
    from kit.models import Base

    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    celery_app.control.purge()
    for attempt in range(5):
        try:
            with get_engine().begin() as conn:
                # TRUNCATE, unlike DELETE, passes the audit log's append-only trigger.
                conn.execute(text(f"TRUNCATE {tables}"))
            break
        except OperationalError as error:
            if "deadlock detected" not in str(error) or attempt == 4:
                raise
    yield


def _spawn(name: str, args: list[str]) -> tuple[subprocess.Popen[bytes], Path]:
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    log = RUN_DIR / f"{name}.log"
    process = subprocess.Popen(
        args, cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=os.environ.copy()
    )
    return process, log


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[str]:
    CREDENTIALS.unlink(missing_ok=True)  # its token_uri names this session's port
    process, log = _spawn(
        "fcm-sandbox",
        [
            sys.executable,
            "-m",
            "fcm_sandbox",
            "--port",
            str(SANDBOX_PORT),
            "--project",
            os.environ["HEXCAST_FCM_PROJECT_ID"],
            "--credentials-out",
            str(CREDENTIALS),
        ],
    )

    def healthy() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"FCM sandbox exited; see {log}")
        try:
            return httpx.get(f"{SANDBOX_URL}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(healthy, timeout=20, what="the FCM sandbox")
    yield SANDBOX_URL
    _stop(process)


class Sandbox:
    """What the FCM sandbox received, read through its inspection API."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = httpx.Client(base_url=url, timeout=30)

    def reset(self) -> None:
        self.client.delete("/sandbox/messages").raise_for_status()
        self.client.delete("/sandbox/faults").raise_for_status()

    def messages(self) -> list[dict]:
        response = self.client.get("/sandbox/messages")
        response.raise_for_status()
        return list(response.json())

    def set_faults(self, **faults: object) -> None:
        self.client.put("/sandbox/faults", json=faults).raise_for_status()


@pytest.fixture
def sandbox(sandbox_server: str) -> Iterator[Sandbox]:
    box = Sandbox(sandbox_server)
    box.reset()
    yield box
    box.reset()


@pytest.fixture(scope="session")
def worker(database: str, sandbox_server: str) -> Iterator[subprocess.Popen[bytes]]:
    """A real Celery worker process (prefork, two children) on a purged test queue."""
    from kit.celery import celery_app

    celery_app.control.purge()
    process, log = _spawn(
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
            "2",
            "--without-gossip",
            "--without-mingle",
            "--hostname",
            f"test-{os.getpid()}@%h",
        ],
    )

    def ready() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"Celery worker exited; see {log}")
        return b" ready." in log.read_bytes()

    wait_until(ready, timeout=30, what="the Celery worker")
    yield process
    _stop(process)


@pytest.fixture
def api(clean_db: None) -> Iterator[httpx.Client]:
    """The public HTTP API, in-process through its ASGI app."""
    from fastapi.testclient import TestClient

    from alerts.api import create_app

    with TestClient(create_app()) as client:
        yield client


@pytest.fixture
def operator_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


@pytest.fixture
def agency_headers(api: httpx.Client, operator_headers: dict[str, str]) -> dict[str, str]:
    from tests.helpers import create_agency

    return create_agency(api, operator_headers, "Test Police")


@pytest.fixture
def admin_headers(api: httpx.Client, operator_headers: dict[str, str]) -> dict[str, str]:
    """A logged-in admin account (the bootstrap credential created it)."""
    from tests.helpers import create_operator, log_in

    create_operator(api, operator_headers, "admin@hexcast.example", role="admin")
    return log_in(api, "admin@hexcast.example")


@pytest.fixture
def reviewer_headers(api: httpx.Client, operator_headers: dict[str, str]) -> dict[str, str]:
    """A logged-in reviewer account."""
    from tests.helpers import create_operator, log_in

    create_operator(api, operator_headers, "reviewer@hexcast.example")
    return log_in(api, "reviewer@hexcast.example")
