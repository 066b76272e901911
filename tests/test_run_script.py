"""`make run` as a newcomer uses it: the whole service on a stack of its own, then Ctrl-C.
Every process it started is gone within seconds, and so is the stack it started."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.conftest import ROOT, wait_until

STOP_WITHIN_S = 15
_AS_AT_A_TERMINAL = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _alive(pid: int) -> bool:
    """Running, not merely waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_ctrl_c_stops_every_process_and_the_stack_that_run_started(tmp_path: Path) -> None:
    ports = {name: _free_port() for name in ("PG", "REDIS", "API", "SANDBOX")}
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEXCAST_")}
    env.update({f"HEXCAST_{name}_PORT": str(port) for name, port in ports.items()})
    env["HEXCAST_STACK_DIR"] = str(tmp_path / "stack")
    stack = [str(ROOT / "scripts" / "stack.sh")]
    # A terminal's Ctrl-C goes to its foreground process group: run.sh gets a group of its own,
    # and SIGINT at its default, as at a terminal. Started from a background job of a script
    # (as a CI runner may start the suite), SIGINT is ignored, and a shell cannot trap a
    # signal that was ignored when it started.
    run = subprocess.Popen(
        [sys.executable, "-c", _AS_AT_A_TERMINAL, str(ROOT / "scripts" / "run.sh")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    output: list[str] = []
    started: set[int] = set()
    reader = threading.Thread(
        target=lambda: output.extend(line.decode() for line in iter(run.stdout.readline, b"")),  # type: ignore[union-attr]
        daemon=True,
    )
    reader.start()
    try:
        wait_until(
            lambda: "hexcast is running.\n" in output or run.poll() is not None,
            timeout=240,
            what="make run to start",
        )
        assert run.poll() is None, "".join(output)
        started = _descendants(run.pid)
        assert len(started) >= 6, "sandbox, API, two workers with their pools, beat"
        assert all(_listening(port) for port in ports.values())

        began = time.monotonic()
        os.killpg(run.pid, signal.SIGINT)
        try:
            run.wait(timeout=STOP_WITHIN_S)
        except subprocess.TimeoutExpired:
            alive = sorted(pid for pid in started if _alive(pid))
            raise AssertionError(
                f"still running; alive {alive}:\n{''.join(output[-15:])}"
            ) from None
        took = time.monotonic() - began
        reader.join(timeout=5)

        assert took < STOP_WITHIN_S
        assert "[run] stopped\n" in output, "".join(output[-20:])
        assert {pid for pid in started if _alive(pid)} == set()
        assert not any(_listening(port) for port in ports.values()), "API, sandbox, PG, Redis"
        status = subprocess.run([*stack, "status"], env=env, capture_output=True, text=True)
        assert status.stdout.count("stopped") == 2, status.stdout
    finally:
        for pid in [run.pid, *started]:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        subprocess.run([*stack, "destroy"], env=env, capture_output=True, check=False)
