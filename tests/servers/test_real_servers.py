"""Smoke tests: each real server starts, requires a client certificate, and stops.

They also pin down, with curl as the client, what each server really does
when the certificate is missing or untrusted: the product's diagnosis is
built on exactly these behaviours (nginx answers HTTP 400 where the others
send a TLS alert; each one logs the reason in its own words).
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mtls_doctor.lab.pki import LabPKI
from tests.servers import real
from tests.servers.real import (
    RunningServer,
    ServerRunner,
    ServerStartError,
    require_binary,
    start_apache,
    start_apache_config,
    start_haproxy,
    start_haproxy_config,
    start_nginx,
    start_nginx_config,
    start_s_server,
)

pytestmark = pytest.mark.realserver

KINDS = ("nginx", "apache", "haproxy", "s_server")


@dataclass(frozen=True)
class Answer:
    """What curl got: its exit code, the HTTP status (0: none), the body, its error text."""

    exit_code: int
    status: int
    body: str
    error: str


def fetch(server: RunningServer, lab: LabPKI, identity: str | None, *curl_args: str) -> Answer:
    """GET / from ``server`` with curl, presenting the lab identity ``identity`` (or none)."""
    argv = [require_binary("curl"), "-sS", "--max-time", "5", "-w", "\n%{http_code}"]
    argv += ["--cacert", str(lab.directory / "ca" / "root.pem"), *curl_args]
    if identity is not None:
        chosen = lab.identities[identity]
        assert chosen.key is not None
        argv += ["--cert", str(chosen.crt), "--key", str(chosen.key)]
    done = subprocess.run([*argv, server.url()], capture_output=True, text=True, check=False)
    body, _, status = done.stdout.rpartition("\n")
    return Answer(done.returncode, int(status or 0), body, done.stderr)


def start_requiring(kind: str, runner: ServerRunner, lab: LabPKI, bundle: Path) -> RunningServer:
    """A ``kind`` server that requires a client certificate issued under the lab root."""
    cert, key, root = lab.server_pem, lab.server_key_file, lab.client_ca_bundle
    if kind == "nginx":
        return runner(start_nginx, cert=cert, key=key, client_certificate=root)
    if kind == "apache":
        # Apache's default SSLVerifyDepth is 1: too short for leaf <- issuing CA <- root.
        return runner(start_apache, cert=cert, key=key, ca_file=root, verify_depth=2)
    if kind == "haproxy":
        return runner(start_haproxy, cert_and_key_pem=bundle, ca_file=root)
    return runner(start_s_server, cert=cert, key=key, ca_file=root)


@pytest.fixture(scope="module", params=KINDS)
def required(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    live_lab: LabPKI,
    live_lab_haproxy_pem: Path,
) -> Iterator[RunningServer]:
    """One server of each kind requiring a client certificate, shared by the module."""
    runner = ServerRunner(tmp_path_factory.mktemp("required"))
    try:
        yield start_requiring(request.param, runner, live_lab, live_lab_haproxy_pem)
    finally:
        runner.stop_all()


def test_good_identity_is_served(required: RunningServer, live_lab: LabPKI) -> None:
    answer = fetch(required, live_lab, "good-ecdsa")

    assert (answer.exit_code, answer.status) == (0, 200), answer
    if required.kind == "s_server":
        # -www answers with a status page that shows the client's certificate.
        assert "good-ecdsa@lab.test" in answer.body or "BEGIN CERTIFICATE" in answer.body
    else:
        assert answer.body.strip() == "ok"


#: With no certificate (TLS 1.3): nginx completes the handshake and answers 400;
#: the others abort the handshake with alert 116 certificate_required.
NO_CERTIFICATE_LOG = {
    "nginx": "client sent no required SSL certificate while reading client request headers",
    "apache": "peer did not return a certificate",
    "haproxy": "SSL handshake failure",
    "s_server": "peer did not return a certificate",
}


def test_no_certificate_is_refused(required: RunningServer, live_lab: LabPKI) -> None:
    answer = fetch(required, live_lab, None)

    if required.kind == "nginx":
        assert (answer.exit_code, answer.status) == (0, 400), answer
        assert "No required SSL certificate was sent" in answer.body
    else:
        assert (answer.exit_code, answer.status) == (56, 0), answer
        assert "tlsv13 alert certificate required" in answer.error
    assert_logged(required, NO_CERTIFICATE_LOG[required.kind])


#: An identity from a CA the server does not trust: nginx answers 400 "The SSL
#: certificate error"; the others send alert 48 unknown_ca.
UNTRUSTED_LOG = {
    "nginx": "client SSL certificate verify error: (19:self-signed certificate in certificate",
    "apache": "AH02276: Certificate Verification: Error (19): self-signed certificate in",
    "haproxy": "SSL client CA chain cannot be verified",
    "s_server": "verify error:num=19:self-signed certificate in certificate chain",
}


def test_untrusted_identity_is_refused(required: RunningServer, live_lab: LabPKI) -> None:
    answer = fetch(required, live_lab, "untrusted")

    if required.kind == "nginx":
        assert (answer.exit_code, answer.status) == (0, 400), answer
        assert "The SSL certificate error" in answer.body
    else:
        assert (answer.exit_code, answer.status) == (56, 0), answer
        assert "tlsv1 alert unknown ca" in answer.error
    assert_logged(required, UNTRUSTED_LOG[required.kind])


def assert_logged(server: RunningServer, text: str) -> None:
    """``text`` shows up in the server's log (servers write it a moment after answering)."""
    deadline = time.monotonic() + 2
    while text not in server.error_log_text() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert text in server.error_log_text(), server.describe_logs()


@pytest.mark.parametrize("kind", KINDS)
def test_stop_ends_the_server(
    kind: str, servers: ServerRunner, live_lab: LabPKI, live_lab_haproxy_pem: Path
) -> None:
    server = start_requiring(kind, servers, live_lab, live_lab_haproxy_pem)
    assert server.running

    server.stop()
    server.stop()  # idempotent

    assert server.process.returncode is not None
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()


#: How a revoked identity is refused, and the log line that says why.
REVOKED = {
    "nginx": "client SSL certificate verify error: (23:certificate revoked)",
    "apache": "AH02276: Certificate Verification: Error (23): certificate revoked",
    "haproxy": "SSL client certificate not trusted",
    "s_server": "verify error:num=23:certificate revoked",
}


@pytest.mark.parametrize("kind", KINDS)
def test_crl_refuses_the_revoked_identity(
    kind: str,
    servers: ServerRunner,
    live_lab: LabPKI,
    live_lab_haproxy_pem: Path,
    live_lab_all_crls: Path,
) -> None:
    cert, key, root = live_lab.server_pem, live_lab.server_key_file, live_lab.client_ca_bundle
    crls = live_lab_all_crls  # nginx, Apache (chain) and HAProxy check every CA's CRL
    if kind == "nginx":
        server = servers(start_nginx, cert=cert, key=key, client_certificate=root, crl=crls)
    elif kind == "apache":
        server = servers(start_apache, cert=cert, key=key, ca_file=root, verify_depth=2, crl=crls)
    elif kind == "haproxy":
        server = servers(
            start_haproxy, cert_and_key_pem=live_lab_haproxy_pem, ca_file=root, crl_file=crls
        )
    else:  # s_server checks the leaf only: the intermediate's CRL is enough
        server = servers(start_s_server, cert=cert, key=key, ca_file=root, crl=live_lab.crl_file)

    good = fetch(server, live_lab, "good-ecdsa")
    revoked = fetch(server, live_lab, "revoked")

    assert good.status == 200, good
    if kind == "nginx":
        assert (revoked.status, "The SSL certificate error" in revoked.body) == (400, True)
    else:
        assert "sslv3 alert certificate revoked" in revoked.error, revoked
    assert_logged(server, REVOKED[kind])


@pytest.mark.parametrize(
    ("tls", "no_cert_exit", "no_cert_alert"),
    [
        ("1.2", 35, "sslv3 alert handshake failure"),
        ("1.3", 56, "tlsv13 alert certificate required"),
    ],
)
def test_s_server_per_tls_version(
    tls: str,
    no_cert_exit: int,
    no_cert_alert: str,
    servers: ServerRunner,
    live_lab: LabPKI,
) -> None:
    server = servers(
        start_s_server,
        cert=live_lab.server_pem,
        key=live_lab.server_key_file,
        ca_file=live_lab.client_ca_bundle,
        tls=tls,
    )

    good = fetch(server, live_lab, "good-rsa", "-v")
    refused = fetch(server, live_lab, None)

    assert (good.exit_code, good.status) == (0, 200), good
    assert f"SSL connection using TLSv{tls}" in good.error
    assert refused.exit_code == no_cert_exit, refused
    assert no_cert_alert in refused.error


RAW_OPTIONAL: dict[str, Callable[[ServerRunner, LabPKI], RunningServer]] = {
    "nginx": lambda run, lab: run(
        start_nginx_config,
        f"""server {{
            listen 127.0.0.1:{{port}} ssl;
            ssl_certificate {lab.server_pem};
            ssl_certificate_key {lab.server_key_file};
            ssl_verify_client optional;
            ssl_client_certificate {lab.client_ca_bundle};
            ssl_verify_depth 2;
            location / {{ return 200 "verify=$ssl_client_verify\\n"; }}
        }}""",
    ),
    "apache": lambda run, lab: run(
        start_apache_config,
        f"""<VirtualHost 127.0.0.1:{{port}}>
            SSLEngine on
            SSLCertificateFile {lab.server_pem}
            SSLCertificateKeyFile {lab.server_key_file}
            SSLVerifyClient optional
            SSLVerifyDepth 2
            SSLCACertificateFile {lab.client_ca_bundle}
        </VirtualHost>""",
    ),
    "haproxy": lambda run, lab: run(
        start_haproxy_config,
        f"""frontend raw
            bind 127.0.0.1:{{port}} ssl crt {
            real.write_bundle(
                lab.directory / "server" / "raw-haproxy.pem", lab.server_pem, lab.server_key_file
            )
        } verify optional ca-file {lab.client_ca_bundle}
            http-request return status 200 content-type text/plain string "ok\\n"
        """,
    ),
}


@pytest.mark.parametrize("kind", sorted(RAW_OPTIONAL))
def test_raw_config_with_optional_client_auth(
    kind: str, servers: ServerRunner, live_lab: LabPKI
) -> None:
    server = RAW_OPTIONAL[kind](servers, live_lab)

    without = fetch(server, live_lab, None)
    with_cert = fetch(server, live_lab, "good-ecdsa")

    assert (without.status, with_cert.status) == (200, 200), (without, with_cert)
    if kind == "nginx":
        assert (without.body, with_cert.body) == ("verify=NONE\n", "verify=SUCCESS\n")


@pytest.mark.parametrize(
    ("start", "block"),
    [
        (start_nginx_config, "server { listen 0.0.0.0:{port} ssl; }"),
        (start_nginx_config, "server { listen {port} ssl; }"),
        (start_apache_config, "Listen 8443\n<VirtualHost 127.0.0.1:{port}>\n</VirtualHost>"),
        (start_haproxy_config, "frontend f\n    bind :{port} ssl crt x.pem"),
        (start_haproxy_config, "frontend f\n    mode http"),
    ],
)
def test_raw_config_must_listen_on_loopback_only(
    start: Callable[[Path, str], RunningServer], block: str, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
        start(tmp_path, block)


def test_config_check_failure_is_loud(servers: ServerRunner) -> None:
    with pytest.raises(ServerStartError, match='unknown directive "no_such_directive"'):
        servers(start_nginx_config, "server { listen 127.0.0.1:{port}; no_such_directive on; }")


def test_start_retries_when_the_port_was_taken(
    servers: ServerRunner, live_lab: LabPKI, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as thief:
        taken = thief.getsockname()[1]
        ports = iter([taken])
        pick_free = real.free_port
        monkeypatch.setattr(real, "free_port", lambda: next(ports, None) or pick_free())

        server = servers(
            start_nginx, cert=live_lab.server_pem, key=live_lab.server_key_file, verify_client=None
        )

        assert server.port != taken
        assert fetch(server, live_lab, None).status == 200
        first_try = sorted(server.directory.parent.glob("nginx-*"))
        logs = "".join(p.joinpath("error.log").read_text() for p in first_try)
        assert f"bind() to 127.0.0.1:{taken} failed (98: Address already in use)" in logs
