"""``lab up`` / ``lab down``: keep the lab servers running in the background.

``lab up`` starts ``mtls-doctor lab serve DIR`` as a detached process, waits
for it to write ``DIR/lab-state.json`` (pid and ports) and returns; ``lab
down`` reads that file and stops the process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from mtls_doctor.errors import UsageError

STATE_FILE = "lab-state.json"


def default_directory() -> Path:
    """``$XDG_STATE_HOME/mtls-doctor/lab`` (``~/.local/state/...`` by default)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "mtls-doctor" / "lab"


def read_state(directory: Path) -> dict[str, Any] | None:
    """The running lab's state, or None when none is running there."""
    try:
        state: dict[str, Any] = json.loads((directory / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not _alive(int(state.get("pid", 0))):
        return None
    return state


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def serve_forever(directory: Path) -> None:
    """Run the lab servers (foreground) until SIGTERM/SIGINT; write the state file."""
    from mtls_doctor.lab.responder import start_responder
    from mtls_doctor.lab.server import running_lab

    # The CA web server (CRLs, CA certificates, OCSP) binds first: its URL goes
    # into the certificates the PKI issues.
    responder = start_responder(directory)
    pki = responder.pki
    assert pki is not None
    stopping = False

    def stop(*_args: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with responder, running_lab(pki) as fleet:
        state = {
            "pid": os.getpid(),
            "directory": str(directory),
            "ca_server": {
                "url": responder.base_url,
                "port": responder.port,
                "description": "CRLs, CA certificates and OCSP for the lab certificates",
            },
            "servers": {
                name: {
                    "url": server.url,
                    "port": server.port,
                    "description": server.config.description,
                }
                for name, server in fleet.servers.items()
            },
        }
        state_path = directory / STATE_FILE
        state_path.write_text(json.dumps(state, indent=2) + "\n")
        try:
            while not stopping:
                time.sleep(0.2)
        finally:
            state_path.unlink(missing_ok=True)


def start_background(directory: Path, timeout: float = 30.0) -> dict[str, Any]:
    """Start ``lab serve`` detached; return its state once it is serving."""
    running = read_state(directory)
    if running is not None:
        return running
    directory.mkdir(parents=True, exist_ok=True)
    (directory / STATE_FILE).unlink(missing_ok=True)
    log = (directory / "lab.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "mtls_doctor", "lab", "serve", str(directory)],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    log.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = read_state(directory)
        if state is not None:
            return state
        if process.poll() is not None:
            raise UsageError(f"the lab failed to start; see {directory / 'lab.log'}")
        time.sleep(0.05)
    process.terminate()
    raise UsageError(f"the lab did not start within {timeout:g} s; see {directory / 'lab.log'}")


def stop_background(directory: Path, timeout: float = 10.0) -> bool:
    """Stop the lab running from ``directory``; False when none was running."""
    state = read_state(directory)
    if state is None:
        return False
    pid = int(state["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
        try:  # reap it if it is our child (tests start and stop in one process)
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    return True
