"""Run a real Chromium against lab servers and read what it did (demo and tests).

Headless Chromium shows no certificate prompt: without the
``AutoSelectCertificateForUrls`` policy it sends nothing. Debian's chromium
reads policies only from ``/etc/chromium/policies/managed/`` (the path is
compiled in; there is no per-user or command-line policy directory in
release builds), so :func:`autoselect_everything` writes one file there,
named by us, and removes it; it needs root. The identity comes from
``$HOME/.pki/nssdb``: each run gets its own HOME and a fresh profile.

What Chromium did is read from its net log (``SSL_CLIENT_CERT_PROVIDED``
with ``cert_count``; the ``net_error`` of the page request) and the page
text (``--dump-dom``). Flags keep it off the network: background
networking, component updates and sync are off, and the host resolver maps
every name except 127.0.0.1 to "not found".
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

POLICY_DIR = Path("/etc/chromium/policies/managed")
_CANDIDATES = ("/usr/lib/chromium/chromium", "chromium", "chromium-browser")
CHROMIUM_TIMEOUT = 60.0


def find_chromium() -> str | None:
    """The Chromium binary (Debian's real one, not its wrapper script, when present)."""
    for candidate in _CANDIDATES:
        path = candidate if os.path.isabs(candidate) else shutil.which(candidate)
        if path and os.access(path, os.X_OK):
            return path
    return None


def browser_available() -> bool:
    """Chromium, the NSS tools and a writable policy directory: the browser's view can run."""
    if find_chromium() is None or shutil.which("certutil") is None:
        return False
    if shutil.which("pk12util") is None:
        return False
    try:
        POLICY_DIR.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(POLICY_DIR, os.W_OK)


@contextmanager
def autoselect_everything(patterns: Sequence[str]) -> Iterator[Path]:
    """A managed policy that auto-selects the first offered certificate for ``patterns``.

    The file has a random name of ours and is removed on exit; nothing else
    in the directory is touched.
    """
    POLICY_DIR.mkdir(parents=True, exist_ok=True)
    path = POLICY_DIR / f"mtls-doctor-{os.getpid()}-{secrets.token_hex(4)}.json"
    rules = [json.dumps({"pattern": p, "filter": {}}) for p in patterns]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump({"AutoSelectCertificateForUrls": rules}, handle)
        yield path
    finally:
        path.unlink(missing_ok=True)


def nss_database_with(home: Path, p12: Path, password: bytes | None) -> Path:
    """``HOME/.pki/nssdb`` (no database password) holding one PKCS#12 bundle."""
    database = home / ".pki" / "nssdb"
    database.mkdir(parents=True, exist_ok=True)
    spec = f"sql:{database}"
    _tool(["certutil", "-N", "-d", spec, "--empty-password"])
    read_end, write_end = os.pipe()
    os.write(write_end, (password or b"") + b"\n")
    os.close(write_end)
    try:
        _tool(
            ["pk12util", "-i", str(p12), "-d", spec, "-w", f"/dev/fd/{read_end}"],
            pass_fds=(read_end,),
        )
    finally:
        os.close(read_end)
    return database


def _tool(args: list[str], pass_fds: tuple[int, ...] = ()) -> None:
    done = subprocess.run(
        args,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=30,
        pass_fds=pass_fds,
        check=False,
        env={**os.environ, "LC_ALL": "C"},
    )
    if done.returncode != 0:
        raise RuntimeError(f"{args[0]} failed: {done.stderr.decode(errors='replace').strip()}")


@dataclass(frozen=True, slots=True, kw_only=True)
class BrowserRun:
    """What Chromium did for one page load."""

    url: str
    #: It sent a client certificate (net log: SSL_CLIENT_CERT_PROVIDED with cert_count > 0).
    certificate_sent: bool
    #: The server asked for one (SSL_CLIENT_CERT_REQUESTED).
    certificate_requested: bool
    #: The page request's final net error (0: loaded), e.g. -117 ERR_BAD_SSL_CLIENT_AUTH_CERT.
    net_error: int
    #: The page as Chromium rendered it (``--dump-dom``), empty on an error page.
    page: str


def run_chromium(url: str, home: Path, timeout: float = CHROMIUM_TIMEOUT) -> BrowserRun:
    """Load ``url`` once in headless Chromium with ``HOME=home`` (its NSS database)."""
    binary = find_chromium()
    if binary is None:
        raise RuntimeError("chromium is not installed")
    profile = home / f"profile-{secrets.token_hex(4)}"
    net_log = profile.with_suffix(".netlog.json")
    args = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--ignore-certificate-errors",  # the lab's server CA is not in this profile
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        f"--user-data-dir={profile}",
        f"--log-net-log={net_log}",
        "--dump-dom",
        url,
    ]
    env = {**os.environ, "HOME": str(home), "LC_ALL": "C"}
    done = subprocess.run(
        args, capture_output=True, stdin=subprocess.DEVNULL, timeout=timeout, env=env, check=False
    )
    sent, requested, error = read_net_log(net_log, url)
    shutil.rmtree(profile, ignore_errors=True)
    return BrowserRun(
        url=url,
        certificate_sent=sent,
        certificate_requested=requested,
        net_error=error,
        page=done.stdout.decode("utf-8", "replace"),
    )


def read_net_log(path: Path, url: str) -> tuple[bool, bool, int]:
    """(certificate sent, certificate requested, the page's net error) from a net log."""
    try:
        log: dict[str, Any] = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError):
        return False, False, 0
    names = {number: name for name, number in log["constants"]["logEventTypes"].items()}
    page_sources: set[int] = set()
    sent = requested = False
    error = 0
    for event in log.get("events", []):
        name = names.get(event["type"], "")
        params = event.get("params") or {}
        source = event["source"]["id"]
        if name == "SSL_CLIENT_CERT_REQUESTED":
            requested = True
        elif name == "SSL_CLIENT_CERT_PROVIDED" and params.get("cert_count", 0) > 0:
            sent = True
        elif name == "URL_REQUEST_START_JOB" and params.get("url") == url:
            page_sources.add(source)
        elif name == "REQUEST_ALIVE" and source in page_sources and "net_error" in params:
            error = int(params["net_error"])
    return sent, requested, error
