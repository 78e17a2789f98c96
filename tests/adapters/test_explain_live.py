"""``explain`` on messages captured live from real programs against real servers.

Real servers (openssl s_server with TLS 1.3 and 1.2, nginx, Apache httpd,
HAProxy) trust the lab's root CA and check the intermediate's CRL; real
clients (curl, openssl s_client, Python's ssl and urllib) present each lab
identity. For every run, the *reason lines* (selected by the regexes below,
not by explain) of the client's output and of the server's log must be
explained, and the identity's known cause (lab manifest) must be among the
causes explain gives.

``MTLS_DOCTOR_WRITE_CORPUS=1`` also writes every reason line to
tests/corpus/live.txt, the reviewable copy the corpus test checks on every
run (without servers).
"""

from __future__ import annotations

import os
import re
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mtls_doctor.causes import Cause
from mtls_doctor.knowledge import explain
from mtls_doctor.lab.pki import LabPKI
from tests.servers.real import (
    RunningServer,
    ServerRunner,
    require_binary,
    start_apache,
    start_haproxy,
    start_nginx,
    start_s_server,
    write_bundle,
)

pytestmark = pytest.mark.realserver

CORPUS = Path(__file__).parent.parent / "corpus" / "live.txt"

#: Identities that fail on the server, and those the client itself refuses.
REMOTE = [
    "expired", "not-yet-valid", "revoked", "untrusted", "rotated",
    "missing-intermediate", "no-client-auth", "none",
]  # fmt: skip
LOCAL = ["no-key", "mismatched-key", "rsa-1024"]
EXPECTED = {"none": Cause.NO_CERTIFICATE_SENT}

#: Which lines of a client's output or a server's log state the reason.
CLIENT_REASON = re.compile(
    r"curl: \(\d+\)|<title>|error:[0-9A-F]{8}:|\[(?:SSL|X509)[:\]]|Could not read|urlopen error"
    r"|code: 'ERR_"
)
#: What a client's own messages can know, where it differs from the lab's cause:
#: Node silently drops a certificate given without its key, so the server
#: reports (and the message says) that no certificate was sent.
EXPECTED_BY_CLIENT = {("node", "no-key"): Cause.NO_CERTIFICATE_SENT}
NODE_CLIENT = """
const https = require('https'); const fs = require('fs');
const [url, ca, cert, key] = process.argv.slice(2);
const opts = { ca: fs.readFileSync(ca), timeout: 10000 };
if (cert) opts.cert = fs.readFileSync(cert);
if (key) opts.key = fs.readFileSync(key);
const req = https.get(url, opts, (res) => {
  let body = ''; res.on('data', (d) => { body += d; }); res.on('end', () => console.log(body));
});
req.on('error', (e) => { console.error(e); process.exitCode = 1; });
"""
SERVER_REASON = {
    "s_server": re.compile(r"verify error:num=|peer did not return|SSL alert number"),
    "nginx": re.compile(r"client SSL certificate verify error|client sent no required"),
    "apache": re.compile(r"AH02039|AH02276|AH10158|peer did not return"),
    "haproxy": re.compile(r"SSL client certificate|SSL client CA chain|SSL handshake failure"),
}


def expected_cause(lab: LabPKI, name: str) -> Cause:
    return EXPECTED.get(name) or lab.identities[name].expected


@dataclass
class Capture:
    scenario: str
    identity: str
    lines: list[str]
    cause: Cause


_captures: list[Capture] = []


@pytest.fixture(scope="module", autouse=True)
def _write_corpus(live_lab: LabPKI) -> Iterator[None]:
    yield
    if os.environ.get("MTLS_DOCTOR_WRITE_CORPUS") != "1" or not _captures:
        return
    out = [
        "# Captured live by tests/adapters/test_explain_live.py (MTLS_DOCTOR_WRITE_CORPUS=1).",
        "# `> cause | line`: explain must list `cause` (the lab identity's) among the line's",
        "# causes. Paths, ports and times are those of the run that wrote the file.",
    ]
    for capture in _captures:
        out.append(f"# {capture.scenario} / {capture.identity}")
        out.extend(f"> {capture.cause} | {line}" for line in capture.lines)
    CORPUS.write_text("\n".join(out) + "\n", encoding="utf-8")


def _check(
    lab: LabPKI, scenario: str, identity: str, lines: list[str], cause: Cause | None = None
) -> None:
    """Every reason line is explained and names the identity's cause."""
    assert lines, f"{scenario}/{identity}: nothing captured"
    cause = cause or expected_cause(lab, identity)
    for line in lines:
        result = explain(line)
        assert result.known, f"{scenario}/{identity}: not explained: {line!r}"
        causes = [c for m in result.matches for c in m.causes]
        assert cause in causes, f"{scenario}/{identity}: {cause} not in {causes}: {line!r}"
    _captures.append(Capture(scenario, identity, lines, cause))


# --------------------------------------------------------------------------- clients


def _files(lab: LabPKI, name: str) -> tuple[Path, Path | None] | None:
    if name == "none":
        return None
    ident = lab.identities[name]
    if name == "no-key":
        return ident.pem, None
    return ident.crt, ident.key


def run_curl(lab: LabPKI, server: RunningServer, name: str) -> list[str]:
    argv = [
        require_binary("curl"),
        "-sS",
        "--max-time",
        "10",
        "--cacert",
        str(lab.client_ca_bundle),
    ]
    files = _files(lab, name)
    if files:
        argv += ["--cert", str(files[0])] + (["--key", str(files[1])] if files[1] else [])
    done = subprocess.run(
        [*argv, server.url()], capture_output=True, text=True, timeout=30, check=False
    )
    return [ln for ln in (done.stderr + done.stdout).splitlines() if CLIENT_REASON.search(ln)]


def run_s_client(lab: LabPKI, server: RunningServer, name: str) -> list[str]:
    argv = [
        require_binary("openssl"), "s_client", "-connect", server.target, "-ign_eof",
        "-CAfile", str(lab.client_ca_bundle), "-verify_return_error",
    ]  # fmt: skip
    files = _files(lab, name)
    if files:
        argv += ["-cert", str(files[0])] + (["-key", str(files[1])] if files[1] else [])
        argv += ["-cert_chain", str(files[0])]
    done = subprocess.run(
        argv,
        input="GET / HTTP/1.0\r\n\r\n",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    lines = (done.stderr + done.stdout).splitlines()
    return [ln for ln in lines if CLIENT_REASON.search(ln) and "Verify return code" not in ln]


def _context(lab: LabPKI, name: str) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(lab.client_ca_bundle))
    files = _files(lab, name)
    if files:
        context.load_cert_chain(str(files[0]), str(files[1]) if files[1] else None)
    return context


def _python_line(exc: BaseException) -> str:
    """The last line of the traceback a user sees."""
    return f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}"


def run_python_ssl(lab: LabPKI, server: RunningServer, name: str) -> list[str]:
    import socket

    try:
        context = _context(lab, name)
        with (
            socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            tls.sendall(b"GET / HTTP/1.0\r\n\r\n")
            body = b""
            while chunk := tls.recv(4096):
                body += chunk
    except (ssl.SSLError, OSError) as exc:
        return [_python_line(exc)]
    return [ln for ln in body.decode(errors="replace").splitlines() if "<title>" in ln]


def run_urllib(lab: LabPKI, server: RunningServer, name: str) -> list[str]:
    try:
        with urllib.request.urlopen(server.url(), context=_context(lab, name), timeout=10) as r:
            r.read()
    except urllib.error.HTTPError as exc:
        return [line for line in exc.read().decode().splitlines() if "<title>" in line]
    except (urllib.error.URLError, ssl.SSLError, OSError) as exc:
        return [_python_line(exc)]
    return []


def run_node(lab: LabPKI, server: RunningServer, name: str) -> list[str]:
    script = lab.directory / "explain-client.js"
    if not script.exists():
        script.write_text(NODE_CLIENT)
    argv = [str(shutil.which("node")), str(script), server.url(), str(lab.client_ca_bundle)]
    files = _files(lab, name)
    if files:
        argv += [str(files[0])] + ([str(files[1])] if files[1] else [])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    return [ln for ln in (done.stderr + done.stdout).splitlines() if CLIENT_REASON.search(ln)]


CLIENTS: dict[str, Callable[[LabPKI, RunningServer, str], list[str]]] = {
    "curl": run_curl,
    "s_client": run_s_client,
    "python-ssl": run_python_ssl,
    "urllib": run_urllib,
}
if shutil.which("node"):
    CLIENTS["node"] = run_node


# --------------------------------------------------------------------------- servers


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerRunner]:
    servers = ServerRunner(tmp_path_factory.mktemp("explain-live"))
    try:
        yield servers
    finally:
        servers.stop_all()


@pytest.fixture(scope="module")
def fleet(live_lab: LabPKI, runner: ServerRunner) -> dict[str, RunningServer]:
    lab = live_lab
    crls = write_bundle(
        lab.directory / "ca" / "explain-crls.pem",
        lab.directory / "ca" / "root.crl.pem",
        lab.crl_file,
    )
    pem = write_bundle(
        lab.directory / "server" / "explain-server.pem", lab.server_pem, lab.server_key_file
    )
    common = {"cert": lab.server_pem, "key": lab.server_key_file}
    return {
        "s_server": runner(
            start_s_server, **common, ca_file=lab.client_ca_bundle, crl=lab.crl_file
        ),
        "s_server-tls1.2": runner(
            start_s_server, **common, ca_file=lab.client_ca_bundle, crl=lab.crl_file, tls="1.2"
        ),
        "nginx": runner(
            start_nginx, **common, client_certificate=lab.client_ca_bundle, verify_depth=2, crl=crls
        ),
        "apache": runner(
            start_apache, **common, ca_file=lab.client_ca_bundle, verify_depth=2, crl=crls
        ),
        "haproxy": runner(
            start_haproxy, cert_and_key_pem=pem, ca_file=lab.client_ca_bundle, crl_file=crls
        ),
    }


def _server_log(server: RunningServer) -> str:
    return (
        server.console_text()
        if server.kind in ("s_server", "haproxy")
        else (server.error_log_text())
    )


def _reason_lines(server: RunningServer, before: int) -> list[str]:
    """The server's reason lines written after offset ``before`` (waits for the log)."""
    pattern = SERVER_REASON[server.kind]
    deadline = time.monotonic() + 5
    while True:
        lines = [ln for ln in _server_log(server)[before:].splitlines() if pattern.search(ln)]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


# --------------------------------------------------------------------------- tests

SERVER_KINDS = ["s_server", "s_server-tls1.2", "nginx", "apache", "haproxy"]


@pytest.mark.parametrize("server_name", SERVER_KINDS)
@pytest.mark.parametrize("identity", REMOTE)
def test_server_rejections_are_explained(
    identity: str, server_name: str, live_lab: LabPKI, fleet: dict[str, RunningServer]
) -> None:
    server = fleet[server_name]
    for client_name, client in CLIENTS.items():
        before = len(_server_log(server))
        lines = client(live_lab, server, identity)
        cause = EXPECTED_BY_CLIENT.get((client_name, identity))
        _check(live_lab, f"{client_name} → {server_name}", identity, lines, cause)
        server_lines = _reason_lines(server, before)
        # The server said why in its log: at least one reason line per run.
        _check(live_lab, f"{server_name} log ({client_name})", identity, server_lines)


@pytest.mark.parametrize("identity", LOCAL)
def test_client_side_refusals_are_explained(
    identity: str, live_lab: LabPKI, fleet: dict[str, RunningServer]
) -> None:
    for client_name, client in CLIENTS.items():
        lines = client(live_lab, fleet["s_server"], identity)
        if identity == "rsa-1024" and not lines:
            continue  # this client's security level accepted the key; the server rejects it
        cause = EXPECTED_BY_CLIENT.get((client_name, identity))
        _check(live_lab, f"{client_name} (local)", identity, lines, cause)


def test_a_good_identity_leaves_nothing_to_explain(
    live_lab: LabPKI, fleet: dict[str, RunningServer]
) -> None:
    for client in (run_curl, run_urllib):
        assert client(live_lab, fleet["nginx"], "good-rsa") == []
