"""Fixtures on real servers: the local PostGIS (scripts/stack.sh starts it) with a fresh test
database built by `alembic upgrade head`, and as real subprocesses a private Redis, the FCM
sandbox, a Celery worker and Celery beat. Settings are set here, before any hexcast module
reads them."""

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import psycopg
import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = ROOT / ".stack" / os.environ.get("HEXCAST_TEST_DB", "hexcast_test")
PG_PORT = int(os.environ.get("HEXCAST_PG_PORT", "54329"))
TEST_DB = os.environ.get("HEXCAST_TEST_DB", "hexcast_test")
OPERATOR_TOKEN = "test-operator-token"
REDIS_SERVER = "/usr/bin/redis-server"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


SANDBOX_PORT = _free_port()
SANDBOX_URL = f"http://127.0.0.1:{SANDBOX_PORT}"
CREDENTIALS = RUN_DIR / "fcm-credentials.json"
# The session's own Redis: the fault tests stop and restart it, which a shared one forbids.
REDIS_PORT = _free_port()


def _cap_signing_files() -> tuple[Path, Path]:
    """hexcast's CAP signing key (RSA, as most deployments will have) and a self-signed
    certificate for it, as the settings expect them: files."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    RUN_DIR.mkdir(parents=True, exist_ok=True)
    key_file, cert_file = RUN_DIR / "cap-signing-key.pem", RUN_DIR / "cap-signing-cert.pem"
    # Made once and kept: every process that imports this module (the suite's own
    # subprocesses among them) must sign and verify with the same pair.
    if key_file.exists() and cert_file.exists() and time.time() - cert_file.stat().st_mtime < 3600:
        return key_file, cert_file
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hexcast test CAP signing")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


CAP_SIGNING_KEY, CAP_SIGNING_CERT = _cap_signing_files()

os.environ.update(
    HEXCAST_ENVIRONMENT="test",
    HEXCAST_CAP_SIGNING_KEY_FILE=str(CAP_SIGNING_KEY),
    HEXCAST_CAP_SIGNING_CERT_FILE=str(CAP_SIGNING_CERT),
    HEXCAST_DATABASE_URL=f"postgresql+psycopg://hexcast@127.0.0.1:{PG_PORT}/{TEST_DB}",
    HEXCAST_BROKER_URL=f"redis://127.0.0.1:{REDIS_PORT}/0",
    HEXCAST_OPERATOR_TOKEN=OPERATOR_TOKEN,
    # Logins in nearly every test: scrypt at 2^10 (production keeps 2^15 or more).
    HEXCAST_PASSWORD_HASH_LOG2_N="10",
    HEXCAST_FCM_PROJECT_ID="hexcast-test",
    HEXCAST_FCM_ENDPOINT=SANDBOX_URL,
    HEXCAST_FCM_CREDENTIALS_FILE=str(CREDENTIALS),
    # Webhook retries within a test's patience: ~0.3 s, then ~0.6 s, then the event fails.
    HEXCAST_WEBHOOK_RETRY_BASE_SECONDS="0.4",
    HEXCAST_WEBHOOK_MAX_ATTEMPTS="3",
    HEXCAST_WEBHOOK_TIMEOUT_SECONDS="5",
    # Beat runs beside the worker for the reconciler; tests trigger webhook requeues themselves.
    HEXCAST_WEBHOOK_REQUEUE_SECONDS="3600",
    # Webhook receivers run on this machine, whose addresses production refuses.
    HEXCAST_WEBHOOK_ALLOWED_NETWORKS='["127.0.0.0/8", "::1/128"]',
    # Recovery within seconds, not minutes: the reconciler runs twice a second, and a lease
    # still outlasts any batch the tests send.
    HEXCAST_RECONCILE_INTERVAL_SECONDS="0.5",
    HEXCAST_LEASE_SECONDS="10",
    # A device tally every second, so that a test sees a moved device leave a large area's
    # preview within seconds.
    HEXCAST_TALLY_INTERVAL_SECONDS="1",
    # Task sends kept while Redis was down go out within a second of its return.
    HEXCAST_OUTBOX_RELAY_SECONDS="0.5",
    HEXCAST_RETRY_BASE_SECONDS="0.5",
    HEXCAST_RETRY_CAP_SECONDS="5",
    # Tests alert one device many times a day; tests of the daily cap start their own worker.
    HEXCAST_DAILY_ALERT_CAP="1000",
    # Beat erases stale locations every 2 s, so that a test sees it within one period.
    HEXCAST_LOCATION_PURGE_INTERVAL_SECONDS="2",
    # Every test's devices register from one in-process client; tests/test_device_abuse.py
    # checks the production limit.
    HEXCAST_DEVICE_REGISTRATIONS_PER_CLIENT_HOUR="1000000",
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
def clean_db(database: str, broker: "Service") -> Iterator[None]:
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


class Service:
    """A server process that tests may stop, kill and start again, or revive as a process
    supervisor would once it exited on its own. It runs in a process group of its own, so
    that a kill takes its children (a worker's pool) with it; its log collects every run,
    and readiness is read from what the current run wrote."""

    def __init__(
        self,
        name: str,
        args: list[str],
        *,
        ready: Callable[[bytes], bool],
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.args = args
        self.ready = ready
        self.env = {**os.environ, **(env or {})}
        self.log = RUN_DIR / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.log_start = 0  # where the current run's lines begin in the log
        self.revivals = 0
        self._lock = threading.RLock()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def revive_if_exited(self) -> None:
        """Start it again if it exited without being stopped or killed."""
        with self._lock:
            if self.process is not None and self.process.poll() is not None:
                self.revivals += 1
                self.start()

    def start(self, timeout: float = 30) -> None:
        with self._lock:
            self._start(timeout)

    def _start(self, timeout: float) -> None:
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        offset = self.log.stat().st_size if self.log.exists() else 0
        self.log_start = offset
        self.process = subprocess.Popen(
            self.args,
            cwd=ROOT,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
        )

        def up() -> bool:
            if not self.running:
                raise RuntimeError(f"{self.name} exited; see {self.log}")
            with self.log.open("rb") as log:
                log.seek(offset)
                return self.ready(log.read())

        wait_until(up, timeout=timeout, what=self.name)

    def run_log(self) -> str:
        """What the current run has written so far."""
        with self.log.open("rb") as log:
            log.seek(self.log_start)
            return log.read().decode(errors="replace")

    def stop(self) -> None:
        """Ask it to shut down (a worker finishes its running tasks first); kill it after
        30 s."""
        with self._lock:
            if self.process is None:
                return
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
            self.process = None

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown, no acknowledgement, no cleanup."""
        with self._lock:
            if self.process is None:
                return
            with contextlib.suppress(ProcessLookupError):  # the whole group had exited
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.process = None


@contextlib.contextmanager
def supervised(services: list[Service]) -> Iterator[None]:
    """Revive any of `services` that exits on its own, as systemd or Docker's restart policy
    would, until the block ends. `services` may grow meanwhile."""
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.5):
            for service in list(services):
                service.revive_if_exited()

    watcher = threading.Thread(target=watch, name="supervisor", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()


# A Celery worker logs every task it takes and how that attempt ended (app/trace.py).
_TASK_LINE = re.compile(r"Task (?P<name>[\w.]+)\[(?P<id>[0-9a-f-]{36})\] (?P<outcome>\w+)")
_DISCARDED = re.compile(r"Discarding revoked task: (?P<name>[\w.]+)\[(?P<id>[0-9a-f-]{36})\]")


def _tasks_in(log: str) -> tuple[list[tuple[str, str]], set[str]]:
    """The (name, id) of each task received, in order, and the ids whose attempt ended."""
    received: list[tuple[str, str]] = []
    ended: set[str] = set()
    for line in log.splitlines():
        if match := _TASK_LINE.search(line):
            if match["outcome"] == "received":
                received.append((match["name"], match["id"]))
            else:
                ended.add(match["id"])
        elif match := _DISCARDED.search(line):
            ended.add(match["id"])
    return received, ended


def drain(worker: Service, *, timeout: float = 60) -> None:
    """Wait until `worker` has finished every task queued before this call.

    The proof, instead of a sleep: a no-op task sent to each queue behind everything queued
    so far is taken only after every earlier message of that queue (one consumer, one
    message a process at a time), so once each has run, every task the worker received
    before it must have ended too. Tasks queued later, such as beat's next run, are not
    waited for."""
    from kit.celery import celery_app

    queues = {q.name for q in celery_app.amqp.queues.values()}
    sentinels = {celery_app.send_task("celery.accumulate", queue=q).id for q in queues}

    def finished() -> bool:
        received, ended = _tasks_in(worker.run_log())
        ids = [task_id for _, task_id in received]
        if not sentinels <= ended:
            return False
        last = max(ids.index(s) for s in sentinels)
        return set(ids[:last]) <= ended

    wait_until(finished, timeout=timeout, what=f"{worker.name} to finish its queued tasks")


def received_tasks(worker: Service) -> set[str]:
    """Ids of the tasks the worker has received so far."""
    return {task_id for _, task_id in _tasks_in(worker.run_log())[0]}


def wait_for_runs(
    worker: Service,
    task: str,
    *,
    runs: int,
    timeout: float = 60,
    before: set[str] | None = None,
) -> None:
    """Wait until `runs` runs of `task` that the worker received after this call (or that
    are not in `before`, from `received_tasks`) have ended (beat's periodic tasks: a run
    started after an event has seen it)."""
    if before is None:
        before = received_tasks(worker)

    def done() -> bool:
        received, ended = _tasks_in(worker.run_log())
        new = {i for name, i in received if name == task and i not in before}
        return len(new & ended) >= runs

    wait_until(done, timeout=timeout, what=f"{runs} runs of {task}")


def celery_worker(
    name: str, *, concurrency: int = 2, queues: str | None = None, **settings: str
) -> Service:
    """A prefork Celery worker on both queues, or on `queues` ("sends", "housekeeping");
    `settings` are HEXCAST_* variables."""
    return Service(
        name,
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
            "--hostname",
            f"{name}-{os.getpid()}@%h",
            *(["--queues", queues] if queues else []),
        ],
        ready=lambda log: b" ready." in log,
        env=settings,
    )


@pytest.fixture(scope="session")
def broker() -> Iterator[Service]:
    """A Redis of the session's own, without persistence: a restart loses every message."""
    redis = Service(
        "redis",
        [
            REDIS_SERVER,
            "--port",
            str(REDIS_PORT),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        ready=lambda log: b"Ready to accept connections" in log,
    )
    redis.start()
    yield redis
    redis.stop()


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[str]:
    CREDENTIALS.unlink(missing_ok=True)  # its token_uri names this session's port

    def healthy(_: bytes) -> bool:
        try:
            return httpx.get(f"{SANDBOX_URL}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    sandbox = Service(
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
            # The suite registers made-up tokens ("tok-1"); tokens it takes from
            # POST /sandbox/devices still follow FCM's rules once uninstalled or rotated.
            "--accept-any-token",
        ],
        ready=healthy,
    )
    sandbox.start()
    yield SANDBOX_URL
    sandbox.stop()


class Sandbox:
    """What the FCM sandbox received, read through its inspection API."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = httpx.Client(base_url=url, timeout=30)

    def reset(self) -> None:
        self.client.delete("/sandbox/messages").raise_for_status()
        self.client.delete("/sandbox/faults").raise_for_status()
        self.client.delete("/sandbox/devices").raise_for_status()

    def install(self, count: int) -> list[str]:
        """Registration tokens of `count` new virtual devices, which FCM's rules apply to
        even though the suite's sandbox accepts made-up tokens."""
        response = self.client.post("/sandbox/devices", json={"count": count})
        response.raise_for_status()
        return [device["token"] for device in response.json()["devices"]]

    def uninstall(self, token: str) -> None:
        """Remove the app from the device holding `token`: it answers UNREGISTERED."""
        self.client.post(f"/sandbox/devices/{token}/uninstall").raise_for_status()

    def messages(self) -> list[dict]:
        response = self.client.get("/sandbox/messages")
        response.raise_for_status()
        return list(response.json())

    def set_faults(self, **faults: object) -> None:
        self.client.put("/sandbox/faults", json=faults).raise_for_status()

    def stats(self) -> dict:
        response = self.client.get("/sandbox/stats")
        response.raise_for_status()
        return dict(response.json())


@pytest.fixture
def sandbox(sandbox_server: str) -> Iterator[Sandbox]:
    box = Sandbox(sandbox_server)
    box.reset()
    yield box
    box.reset()


@pytest.fixture(scope="session")
def beat(database: str, broker: Service) -> Iterator[Service]:
    """Celery beat, which runs the reconciler."""
    service = Service(
        "celery-beat",
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "kit.celery:celery_app",
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            str(RUN_DIR / "celerybeat-schedule"),
        ],
        ready=lambda log: b"beat: Starting" in log,
    )
    service.start()
    yield service
    service.stop()


@pytest.fixture(scope="session")
def worker(sandbox_server: str, beat: Service) -> Iterator[Service]:
    """A real Celery worker process (prefork, two children) on a purged test queue, with
    Celery beat beside it. Tests that need workers of their own stop this one and start it
    again."""
    from kit.celery import celery_app

    celery_app.control.purge()
    service = celery_worker("celery-worker")
    service.start()
    yield service
    service.stop()


@pytest.fixture
def api(clean_db: None) -> Iterator[httpx.Client]:
    """The public HTTP API, in-process through its ASGI app."""
    from fastapi.testclient import TestClient

    from alerts.api import create_app

    with TestClient(create_app()) as client:
        yield client


@pytest.fixture
def counting_previews(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Reach previews that show every count, of any area, as often as a test asks: for tests
    of counting a handful of devices. tests/test_reach_privacy.py keeps the production
    limits."""
    from kit.config import get_settings

    monkeypatch.setenv("HEXCAST_REACH_MIN_DEVICES_SHOWN", "0")
    monkeypatch.setenv("HEXCAST_REACH_MIN_AREA_KM2", "0")
    monkeypatch.setenv("HEXCAST_REACH_PREVIEWS_PER_MINUTE", "100000")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
def bootstrap_headers() -> dict[str, str]:
    """The bootstrap credential (HEXCAST_OPERATOR_TOKEN): an admin, but nobody's second
    person, so it approves nothing Actual."""
    return {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


@pytest.fixture
def operator_headers(api: httpx.Client, bootstrap_headers: dict[str, str]) -> dict[str, str]:
    """The operator on duty: a logged-in admin account (the bootstrap credential created
    it), who approves the notices the tests' agencies submit."""
    from tests.helpers import create_operator, log_in

    create_operator(api, bootstrap_headers, "duty@hexcast.example", role="admin")
    return log_in(api, "duty@hexcast.example")


@pytest.fixture
def agency_headers(api: httpx.Client, bootstrap_headers: dict[str, str]) -> dict[str, str]:
    """An agency and its first key, issued by an admin account of its own ("keys"), so that
    the operator on duty is a second person for what the key submits."""
    from tests.helpers import create_agency, create_operator, log_in

    create_operator(api, bootstrap_headers, "keys@hexcast.example", role="admin")
    return create_agency(api, log_in(api, "keys@hexcast.example"), "Test Police")


@pytest.fixture
def admin_headers(api: httpx.Client, bootstrap_headers: dict[str, str]) -> dict[str, str]:
    """A logged-in admin account (the bootstrap credential created it)."""
    from tests.helpers import create_operator, log_in

    create_operator(api, bootstrap_headers, "admin@hexcast.example", role="admin")
    return log_in(api, "admin@hexcast.example")


@pytest.fixture
def reviewer_headers(api: httpx.Client, bootstrap_headers: dict[str, str]) -> dict[str, str]:
    """A logged-in reviewer account."""
    from tests.helpers import create_operator, log_in

    create_operator(api, bootstrap_headers, "reviewer@hexcast.example")
    return log_in(api, "reviewer@hexcast.example")


@pytest.fixture(scope="session")
def live_server(database: str, broker: Service) -> Iterator[str]:
    """The API as a real HTTP server (uvicorn, one process), for browsers and load; its URL."""
    port = _free_port()
    service = Service(
        "api",
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
        env={"HEXCAST_API_URL": f"http://127.0.0.1:{port}"},
    )
    service.start()
    yield f"http://127.0.0.1:{port}"
    service.stop()


@pytest.fixture
def live_api(clean_db: None, live_server: str) -> Iterator[httpx.Client]:
    """A client of the live server, on the emptied database."""
    with httpx.Client(base_url=live_server, timeout=30) as client:
        yield client


CHROMIUM = "/usr/bin/chromium"
# As the machine's probe found: without these, Chromium's background connections are refused
# by a closed network, many at a time, and it looks up Google's hosts at every start.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator["Browser"]:
    """Debian's Chromium, headless, driven by Playwright (scripts/stack.sh installs it). One
    per test module: Playwright's sync API keeps an event loop running in this thread while
    it is open, and later tests that call asyncio.run (the FCM channel's) cannot run then."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: "Browser") -> Iterator["Page"]:
    """A fresh browser context (no cookies, no storage) and a page in it; failures in the
    page's own scripts fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"the page's scripts failed: {errors}"


@dataclass(frozen=True)
class Delivery:
    at: float
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


class Receiver:
    """A webhook endpoint (an agency's, in this process): records each POST and answers from
    a script, then 200."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.script: list[tuple[int, dict[str, str]]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.deliveries.append(Delivery(time.time(), dict(self.headers), body))
                    status, headers = receiver.script.pop(0) if receiver.script else (200, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/hexcast"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, *responses: int | tuple[int, dict[str, str]]) -> None:
        with self.lock:
            self.script.extend(r if isinstance(r, tuple) else (r, {}) for r in responses)

    def wait_for(self, count: int, timeout: float = 20) -> list[Delivery]:
        wait_until(lambda: len(self.deliveries) >= count, timeout=timeout, what=f"{count} POSTs")
        with self.lock:
            return list(self.deliveries)

    def of_type(self, event_type: str) -> list[Delivery]:
        with self.lock:
            return [d for d in self.deliveries if d.event["type"] == event_type]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()
