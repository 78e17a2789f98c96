"""``explain`` on the families issue 16 found missing, captured live from real programs.

Real servers (openssl s_server with TLS 1.3 and 1.2, Apache httpd, nginx with
an access log carrying ``$ssl_client_verify``) trust the lab's root CA and
check its CRLs; real clients present each lab identity: ``curl -v`` (its
trace lines for the alerts the server sends) and GnuTLS's ``gnutls-cli`` (its
``*** Received alert [N]`` and certificate-count lines), including a key that
is not the certificate's, which the servers log as a bad CertificateVerify
signature. Every reason line (selected by the regexes below, not by explain)
must be explained with the identity's cause among its causes.

gnutls-serv listens on every interface, so it runs in a network namespace of
its own: see test_explain_live_gnutls_serv.py.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Iterator
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
    start_nginx_config,
    start_s_server,
    write_bundle,
)

pytestmark = pytest.mark.realserver

REMOTE = [
    "expired", "not-yet-valid", "revoked", "untrusted", "rotated",
    "missing-intermediate", "no-client-auth", "none",
]  # fmt: skip
#: Lines of curl -v that state the reason: an alert the server sent, the bare 60 line.
CURL_TRACE = re.compile(
    r"^\* TLSv1(?:\.\d)? \(IN\), TLS alert, |^\* SSL certificate verification failed"
)
#: gnutls-cli's reason lines (a count of 0 certificates sent is one).
GNUTLS_REASON = re.compile(r"^\*\*\* Received alert|Successfully sent 0 certificate|<title>")
BAD_SIGNATURE = re.compile(r"bad signature")
ACCESS_VERIFY = re.compile(r'verify="FAILED:')
LOG_FORMAT = (
    'log_format verify \'$remote_addr [$time_local] "$request" $status '
    'verify="$ssl_client_verify" dn="$ssl_client_s_dn"\';'
)


def expected(lab: LabPKI, name: str) -> Cause:
    if name == "none":
        return Cause.NO_CERTIFICATE_SENT
    return lab.identities[name].expected


def check(where: str, lines: list[str], cause: Cause) -> None:
    """Every reason line is explained and names ``cause``."""
    assert lines, f"{where}: nothing captured"
    for line in lines:
        result = explain(line)
        assert result.known, f"{where}: not explained: {line!r}"
        causes = [c for m in result.matches for c in m.causes]
        assert cause in causes, f"{where}: {cause} not in {causes}: {line!r}"


# --------------------------------------------------------------------------- clients


def _files(lab: LabPKI, name: str) -> tuple[Path, Path] | None:
    if name == "none":
        return None
    ident = lab.identities[name]
    return ident.crt, ident.key


def run_curl_verbose(lab: LabPKI, server: RunningServer, name: str) -> list[str]:
    argv = [require_binary("curl"), "-v", "-sS", "--max-time", "10", "--cacert",
            str(lab.client_ca_bundle)]  # fmt: skip
    files = _files(lab, name)
    if files:
        argv += ["--cert", str(files[0]), "--key", str(files[1])]
    done = subprocess.run(
        [*argv, server.url()], capture_output=True, text=True, timeout=30, check=False
    )
    return [ln for ln in done.stderr.splitlines() if CURL_TRACE.search(ln)]


def run_gnutls_cli(lab: LabPKI, server: RunningServer, name: str) -> list[str]:
    argv = [require_binary("gnutls-cli"), "--x509cafile", str(lab.client_ca_bundle),
            "-p", str(server.port), "127.0.0.1"]  # fmt: skip
    files = _files(lab, name)
    if files:
        argv += ["--x509certfile", str(files[0]), "--x509keyfile", str(files[1])]
    done = subprocess.run(
        argv,
        input="GET / HTTP/1.0\r\n\r\n",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    lines = (done.stdout + done.stderr).splitlines()
    return [ln for ln in lines if GNUTLS_REASON.search(ln)]


# --------------------------------------------------------------------------- servers


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerRunner]:
    servers = ServerRunner(tmp_path_factory.mktemp("explain-families"))
    try:
        yield servers
    finally:
        servers.stop_all()


@pytest.fixture(scope="module")
def fleet(live_lab: LabPKI, runner: ServerRunner) -> dict[str, RunningServer]:
    lab = live_lab
    crls = write_bundle(
        lab.directory / "ca" / "families-crls.pem",
        lab.directory / "ca" / "root.crl.pem",
        lab.crl_file,
    )
    common = {"cert": lab.server_pem, "key": lab.server_key_file}
    access_log = runner.tmp / "nginx-verify-access.log"
    nginx_block = f"""{LOG_FORMAT}
server {{
    listen 127.0.0.1:{{port}} ssl;
    ssl_certificate "{lab.server_pem}";
    ssl_certificate_key "{lab.server_key_file}";
    ssl_client_certificate "{lab.client_ca_bundle}";
    ssl_verify_client on;
    ssl_verify_depth 2;
    ssl_crl "{crls}";
    access_log "{access_log}" verify;
    location / {{
        return 200 "ok\\n";
    }}
}}"""
    return {
        "s_server": runner(
            start_s_server, **common, ca_file=lab.client_ca_bundle, crl=lab.crl_file
        ),
        "s_server-tls1.2": runner(
            start_s_server, **common, ca_file=lab.client_ca_bundle, crl=lab.crl_file, tls="1.2"
        ),
        "apache": runner(
            start_apache, **common, ca_file=lab.client_ca_bundle, verify_depth=2, crl=crls
        ),
        "nginx": runner(start_nginx_config, nginx_block),
    }


def _log(server: RunningServer) -> str:
    return server.console_text() if server.kind == "s_server" else server.error_log_text()


def _new_lines(read: Callable[[], str], before: int, pattern: re.Pattern[str]) -> list[str]:
    """Lines matching ``pattern`` written after offset ``before`` (waits for the log)."""
    deadline = time.monotonic() + 5
    while True:
        lines = [ln for ln in read()[before:].splitlines() if pattern.search(ln)]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("server_name", ["s_server", "s_server-tls1.2", "apache"])
@pytest.mark.parametrize("identity", REMOTE)
def test_curl_verbose_alert_lines_are_explained(
    identity: str, server_name: str, live_lab: LabPKI, fleet: dict[str, RunningServer]
) -> None:
    lines = run_curl_verbose(live_lab, fleet[server_name], identity)
    check(f"curl -v → {server_name} / {identity}", lines, expected(live_lab, identity))


@pytest.mark.parametrize("server_name", ["s_server", "s_server-tls1.2", "apache", "nginx"])
@pytest.mark.parametrize("identity", [*REMOTE, "mismatched-key"])
def test_gnutls_cli_lines_are_explained(
    identity: str, server_name: str, live_lab: LabPKI, fleet: dict[str, RunningServer]
) -> None:
    lines = run_gnutls_cli(live_lab, fleet[server_name], identity)
    check(f"gnutls-cli → {server_name} / {identity}", lines, expected(live_lab, identity))


@pytest.mark.parametrize("server_name", ["s_server", "s_server-tls1.2", "apache", "nginx"])
def test_a_key_that_is_not_the_certificates_is_a_bad_signature_in_the_server_log(
    server_name: str, live_lab: LabPKI, fleet: dict[str, RunningServer]
) -> None:
    server = fleet[server_name]
    before = len(_log(server))
    run_gnutls_cli(live_lab, server, "mismatched-key")
    lines = _new_lines(lambda: _log(server), before, BAD_SIGNATURE)
    check(f"{server_name} log / mismatched-key", lines, Cause.PRIVATE_KEY_MISMATCH)
    for line in lines:
        assert explain(line).matches[0].causes == (Cause.PRIVATE_KEY_MISMATCH,)


@pytest.mark.parametrize("identity", [name for name in REMOTE if name != "none"])
def test_nginx_ssl_client_verify_in_the_access_log_is_explained(
    identity: str, live_lab: LabPKI, fleet: dict[str, RunningServer], runner: ServerRunner
) -> None:
    access_log = runner.tmp / "nginx-verify-access.log"

    def read() -> str:
        return access_log.read_text() if access_log.exists() else ""

    before = len(read())
    run_gnutls_cli(live_lab, fleet["nginx"], identity)
    lines = _new_lines(read, before, ACCESS_VERIFY)
    check(f"nginx access log / {identity}", lines, expected(live_lab, identity))
