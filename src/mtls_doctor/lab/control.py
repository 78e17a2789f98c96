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
from typing import TYPE_CHECKING, Any

from mtls_doctor.errors import UsageError

if TYPE_CHECKING:
    from mtls_doctor.lab.responder import Responder

STATE_FILE = "lab-state.json"


def default_directory() -> Path:
    """``$XDG_STATE_HOME/mtls-doctor/lab`` (``~/.local/state/...`` by default)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "mtls-doctor" / "lab"


class LabState:
    """What ``lab-state.json`` says, checked: a lab process we can prove is ours, or nothing."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / STATE_FILE

    def read(self) -> dict[str, Any] | None:
        """The state file's content; None when absent; UsageError when corrupt."""
        if not os.path.lexists(self.path):
            return None
        try:
            if self.path.is_symlink() or not self.path.is_file():
                raise ValueError("not a regular file")
            state = json.loads(self.path.read_bytes()[: 1024 * 1024])
        except (OSError, ValueError) as exc:
            raise self._corrupt(str(exc)) from None
        if not isinstance(state, dict):
            raise self._corrupt("not a JSON object")
        pid, started = state.get("pid"), state.get("started")
        for name, value in (("pid", pid), ("started", started)):
            if type(value) is not int or value <= 0:
                raise self._corrupt(f"{name} is not a positive integer")
        return state

    def running(self) -> dict[str, Any] | None:
        """The state of the lab running from this directory, or None (a stale file is removed)."""
        state = self.read()
        if state is None:
            return None
        if is_lab_process(state["pid"], state["started"], self.directory):
            return state
        # The pid is gone or now belongs to another process: never act on it.
        print(
            f"mtls-doctor: note: {self.path} named process {state['pid']}, which is not this "
            "lab's (it exited, the pid was reused); removed the stale file",
            file=sys.stderr,
        )
        self.path.unlink(missing_ok=True)
        return None

    def _corrupt(self, why: str) -> UsageError:
        return UsageError(
            f"{self.path}: corrupt lab state ({why}); nothing was signalled. If no lab is "
            "running, delete the file"
        )


def process_start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (``/proc/PID/stat`` field 22)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read(4096)
    except OSError:
        return None
    fields = stat.rsplit(b")", 1)[-1].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def is_lab_process(pid: int, started: int, directory: Path) -> bool:
    """True only when ``pid`` is provably the ``lab serve`` of ``directory`` we recorded.

    A pid alone proves nothing (pids are reused): the start time must be the
    one recorded at ``lab up`` and the command line must be ``lab serve DIR``.
    """
    if process_start_time(pid) != started:
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            argv = handle.read(65536).split(b"\0")
    except OSError:
        return False
    words = [os.fsdecode(word) for word in argv]
    return "lab" in words and "serve" in words and str(directory) in words


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lab_responder(directory: Path) -> tuple[Responder, str]:
    """The CA web server for the lab in ``directory``: its existing PKI ("kept") or a new one.

    The CA web server (CRLs, CA certificates, OCSP) binds before a new PKI is
    built: its URL goes into the certificates. An existing PKI is kept (the
    user may have imported its root): it is served on the port its URLs name.
    """
    from mtls_doctor.lab.responder import Responder, start_responder
    from mtls_doctor.lab.store import classify, load_lab_pki, refuse_foreign

    refuse_foreign(directory)
    if classify(directory) != "lab":
        return start_responder(directory), "generated"
    pki = load_lab_pki(directory)
    try:
        if pki.base_url is None:
            return Responder().serve(pki), "kept"
        return start_responder(pki), "kept"
    except OSError as exc:
        raise UsageError(
            f"{directory}: the lab PKI's CA server address {pki.base_url} is not free "
            f"({exc.strerror or exc}); stop what uses it, or regenerate the lab with "
            f"`mtls-doctor lab pki {directory} --force`"
        ) from None


def serve_forever(directory: Path) -> None:
    """Run the lab servers (foreground) until SIGTERM/SIGINT; write the state file."""
    from mtls_doctor.lab.server import running_lab
    from mtls_doctor.lab.store import replace_file

    responder, kept = lab_responder(directory)
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
            "started": process_start_time(os.getpid()),
            "directory": str(directory),
            "pki": kept,
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
        replace_file(state_path, json.dumps(state, indent=2).encode() + b"\n")
        try:
            while not stopping:
                time.sleep(0.2)
        finally:
            state_path.unlink(missing_ok=True)


def start_background(directory: Path, timeout: float = 30.0) -> dict[str, Any]:
    """Start ``lab serve`` detached; return its state once it is serving."""
    from mtls_doctor.lab.store import refuse_foreign

    directory = directory.absolute()
    lab_state = LabState(directory)
    running = lab_state.running()
    if running is not None:
        return running
    refuse_foreign(directory)
    directory.mkdir(parents=True, exist_ok=True)
    lab_state.path.unlink(missing_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW
    try:
        log = os.open(directory / "lab.log", flags, 0o644)
    except OSError as exc:
        raise UsageError(f"{directory / 'lab.log'}: cannot write ({exc.strerror})") from None
    process = subprocess.Popen(
        [sys.executable, "-m", "mtls_doctor", "lab", "serve", str(directory)],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    os.close(log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.lexists(lab_state.path):
            state = lab_state.read()
            if state is not None and state["pid"] == process.pid:
                return state
        if process.poll() is not None:
            raise UsageError(f"the lab failed to start: {_last_line(directory / 'lab.log')}")
        time.sleep(0.05)
    process.terminate()
    raise UsageError(f"the lab did not start within {timeout:g} s; see {directory / 'lab.log'}")


def _last_line(log: Path) -> str:
    """The last line the lab wrote (its one-line error), or where to look."""
    try:
        with log.open("rb") as handle:
            handle.seek(max(0, log.stat().st_size - 4096))
            lines = [line for line in handle.read().decode(errors="replace").splitlines() if line]
    except OSError:
        lines = []
    return lines[-1].removeprefix("mtls-doctor: error: ") if lines else f"see {log}"


def stop_background(directory: Path, timeout: float = 10.0) -> bool:
    """Stop the lab running from ``directory``; False when none was running.

    Only a process proven to be this directory's ``lab serve`` is signalled.
    """
    directory = directory.absolute()
    state = LabState(directory).running()
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
    if _alive(pid) and is_lab_process(pid, state["started"], directory):
        os.kill(pid, signal.SIGKILL)
    return True
