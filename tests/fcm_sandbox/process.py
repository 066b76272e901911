"""`python -m fcm_sandbox` as a subprocess, for tests that need a sandbox of their own."""

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

PROJECT = "hexcast-dev"
REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Server:
    """Where the sandbox subprocess listens and the credentials it wrote."""

    url: str
    credentials_file: Path

    @property
    def send_url(self) -> str:
        return f"{self.url}/v1/projects/{PROJECT}/messages:send"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def run_sandbox(workdir: Path, *args: str) -> Iterator[Server]:
    """A sandbox for PROJECT started with `args`, up and healthy, stopped on exit."""
    port = _free_port()
    credentials_file = workdir / "service-account.json"
    log_path = workdir / "sandbox.log"
    url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fcm_sandbox",
                "--host=127.0.0.1",
                f"--port={port}",
                f"--project={PROJECT}",
                f"--credentials-out={credentials_file}",
                *args,
            ],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"sandbox exited with {proc.returncode}:\n{log_path.read_text()}")
            try:
                if httpx.get(f"{url}/healthz", timeout=0.5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"sandbox did not come up:\n{log_path.read_text()}")
            time.sleep(0.05)
        yield Server(url=url, credentials_file=credentials_file)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
