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
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Chromium net errors seen against client-auth servers (net/base/net_error_list.h).
NET_ERRORS = {
    -15: "ERR_SOCKET_NOT_CONNECTED",
    -100: "ERR_CONNECTION_CLOSED",
    -101: "ERR_CONNECTION_RESET",
    -107: "ERR_SSL_PROTOCOL_ERROR",
    -110: "ERR_SSL_CLIENT_AUTH_CERT_NEEDED",
    -117: "ERR_BAD_SSL_CLIENT_AUTH_CERT",
}
POLICY_DIR = Path("/etc/chromium/policies/managed")
#: Serializes our runs that write a policy (see ``managed_policy``).
LOCK_PATH = Path(tempfile.gettempdir()) / "mtls-doctor-chromium-policy.lock"
_CANDIDATES = ("/usr/lib/chromium/chromium", "chromium", "chromium-browser")
#: One page load takes 2-3 s; a run that waits for a certificate prompt never ends.
CHROMIUM_TIMEOUT = 45.0


def find_chromium() -> str | None:
    """The Chromium binary (Debian's real one, not its wrapper script, when present)."""
    for candidate in _CANDIDATES:
        path = candidate if os.path.isabs(candidate) else shutil.which(candidate)
        if path and os.access(path, os.X_OK):
            return path
    return None


def browser_available() -> bool:
    """Chromium, the NSS tools, a writable policy directory and no foreign auto-selection
    policy (Chromium would keep that one and ours would not apply)."""
    if find_chromium() is None or shutil.which("certutil") is None:
        return False
    if shutil.which("pk12util") is None:
        return False
    try:
        POLICY_DIR.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(POLICY_DIR, os.W_OK) and conflicting_policy() is None


def autoselect_everything(patterns: Sequence[str]) -> Any:
    """A managed policy that auto-selects the first offered certificate for ``patterns``."""
    rules = [json.dumps({"pattern": p, "filter": {}}) for p in patterns]
    return managed_policy({"AutoSelectCertificateForUrls": rules})


@contextmanager
def managed_policy(policy: dict[str, Any]) -> Iterator[Path]:
    """``policy`` in force for every Chromium started inside the block.

    The file has a random name of ours and is removed on exit; nothing else
    in the directory is touched. Chromium keeps only one file's value of a
    policy, so two runs at once (a demo beside the tests) would each lose
    the other's patterns and wait forever for a prompt: a lock of our own
    serializes them.
    """
    import fcntl

    POLICY_DIR.mkdir(parents=True, exist_ok=True)
    lock = os.open(LOCK_PATH, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    path = POLICY_DIR / f"mtls-doctor-{os.getpid()}-{secrets.token_hex(4)}.json"
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _remove_orphans()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "w") as handle:
            json.dump(policy, handle)
        yield path
    finally:
        path.unlink(missing_ok=True)
        os.close(lock)  # releases the lock


_OURS = re.compile(r"mtls-doctor-(\d+)-[0-9a-f]{8}\.json")


def _remove_orphans() -> None:
    """Policy files of ours left by a run that was killed (its process is gone).

    Chromium keeps one file's value of a policy: a stale file would hide the
    live one. Only files with our name pattern whose process is dead go.
    """
    for path in POLICY_DIR.glob("mtls-doctor-*.json"):
        match = _OURS.fullmatch(path.name)
        if match is None or int(match.group(1)) == os.getpid():
            continue
        try:
            os.kill(int(match.group(1)), 0)
        except ProcessLookupError:
            path.unlink(missing_ok=True)
        except PermissionError:
            pass  # alive, someone else's


def conflicting_policy() -> Path | None:
    """A policy file that is not ours and sets AutoSelectCertificateForUrls (it would win)."""
    if not POLICY_DIR.is_dir():
        return None
    for path in sorted(POLICY_DIR.glob("*.json")):
        if _OURS.fullmatch(path.name):
            continue
        try:
            if "AutoSelectCertificateForUrls" in path.read_text(errors="replace"):
                return path
        except OSError:
            continue
    return None


def nss_database_with(home: Path, p12: Path, password: bytes | None) -> Path:
    """``HOME/.pki/nssdb`` (created without a password if absent) with one more PKCS#12."""
    database = home / ".pki" / "nssdb"
    database.mkdir(parents=True, exist_ok=True)
    spec = f"sql:{database}"
    if not (database / "cert9.db").exists():
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
    #: Chromium did not finish in time (it waits for a certificate prompt headless
    #: cannot show when the auto-selection policy is not in force).
    timed_out: bool = False


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
    timed_out = False
    try:
        done = subprocess.run(
            args,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            env=env,
            check=False,
        )
        page = done.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:  # subprocess.run has killed it
        timed_out, page = True, ""
    sent, requested, error = read_net_log(net_log, url)
    shutil.rmtree(profile, ignore_errors=True)
    net_log.unlink(missing_ok=True)
    return BrowserRun(
        url=url,
        certificate_sent=sent,
        certificate_requested=requested,
        net_error=error,
        page=page,
        timed_out=timed_out,
    )


def read_net_log(path: Path, url: str) -> tuple[bool, bool, int]:
    """(certificate sent, certificate requested, the page's net error) from a net log."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False, False, 0
    try:
        log: dict[str, Any] = json.loads(text)
    except ValueError:
        # A Chromium killed mid-run leaves the events array open: close it.
        try:
            log = json.loads(text.rstrip().rstrip(",") + "]}")
        except ValueError:
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


#: Identities the demo shows in the browser: one sent and served, one sent and
#: rejected, and three the browser never offers.
DEMO_IDENTITIES = ("good-ecdsa", "revoked", "expired", "missing-intermediate", "no-client-auth")


@dataclass(frozen=True, slots=True, kw_only=True)
class BrowserCase:
    """Chromium and mtls-doctor side by side, for one identity on one server."""

    identity: str
    server: str
    run: BrowserRun
    #: ``identities --for`` predicted that a certificate would be sent.
    predicted_sent: bool
    #: The reasons the picker gave when it would offer nothing.
    reasons: tuple[str, ...]
    #: ``check --store``'s cause.
    cause: str

    @property
    def showed(self) -> str:
        """What the browser showed, in a few words."""
        if self.run.timed_out:
            return "nothing: it was still waiting after the timeout"
        if "client certificate accepted" in self.run.page:
            return "the page (served)"
        for said in ("No required SSL certificate was sent", "The SSL certificate error"):
            if said in self.run.page:
                return f"400 {said}"
        if self.run.net_error in NET_ERRORS:
            return NET_ERRORS[self.run.net_error]
        return f"net error {self.run.net_error}" if self.run.net_error else "an empty page"

    @property
    def agrees(self) -> bool:
        """The prediction matches what Chromium did."""
        return not self.run.timed_out and self.predicted_sent == self.run.certificate_sent


def compare_with_chromium(
    pki: Any, urls: dict[str, str], workdir: Path, identities: Sequence[str] = DEMO_IDENTITIES
) -> list[BrowserCase]:
    """Each identity in its own NSS database, loaded by Chromium on each server in ``urls``."""
    from mtls_doctor.browser import browser_view, load_sources
    from mtls_doctor.diagnosis import CheckRequest, check
    from mtls_doctor.tls.target import parse_target

    password = pki.password_file.read_bytes().strip()
    cases: list[BrowserCase] = []
    with autoselect_everything([url.rstrip("/") for url in urls.values()]):
        for name in identities:
            identity = pki.identities[name]
            if identity.p12_protected is None:
                continue
            home = workdir / name
            database = nss_database_with(home, identity.p12_protected, password)
            spec = f"nss:{database}"
            for server, url in urls.items():
                target = parse_target(url.rstrip("/"))
                run = run_chromium(url, home)
                view = browser_view(target, load_sources([spec], []))
                best = view.picker.not_offered[0] if not view.picker.offered else None
                diagnosis = check(CheckRequest(target=target, stores=(spec,)))
                cases.append(
                    BrowserCase(
                        identity=name,
                        server=server,
                        run=run,
                        predicted_sent=view.picker.chosen is not None,
                        reasons=tuple(str(r) for r in best.reasons) if best else (),
                        cause=str(diagnosis.verdict.cause),
                    )
                )
    return cases
