"""nginx's ``stream`` module (a TCP proxy for databases, MQTT, anything) requiring a certificate.

The same ``ssl_verify_client`` directives as ``http``, but a refused
certificate gets a closed connection (no 400 page); the reason is in the
error log at level info. ``check`` names the cause, ``probe`` sees the CA
names, and ``lint-server`` reads the ``stream`` server.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mtls_doctor.lab.pki import LabPKI
from tests.cli import run_cli
from tests.realservers.conftest import assert_logged, config_of
from tests.servers.real import RunningServer, ServerRunner, start_nginx

pytestmark = pytest.mark.realserver


@pytest.fixture(scope="module")
def stream(module_servers: ServerRunner, live_lab: LabPKI) -> RunningServer:
    return module_servers(
        start_nginx,
        cert=live_lab.server_pem,
        key=live_lab.server_key_file,
        client_certificate=live_lab.client_ca_bundle,
        stream=True,
    )


@pytest.mark.parametrize(
    ("identity", "code", "cause", "logged"),
    [
        ("good-ecdsa", 0, "accepted", None),
        ("expired", 1, "certificate_expired", "(10:certificate has expired)"),
        ("untrusted", 1, "untrusted_issuer", "client SSL certificate verify error"),
        (None, 1, "no_certificate_sent", "client sent no required SSL certificate"),
    ],
)
@pytest.mark.parametrize(
    ("scheme", "version"), [("https", None), ("tls", None), ("https", "1.2"), ("tls", "1.2")]
)
def test_check_on_a_stream_server(
    capsys: pytest.CaptureFixture[str],
    stream: RunningServer,
    live_lab: LabPKI,
    scheme: str,
    version: str | None,
    identity: str | None,
    code: int,
    cause: str,
    logged: str | None,
) -> None:
    args = ["check", "--json", f"{scheme}://{stream.target}"]
    if version is not None:
        # TLS 1.2: nginx's close_notify comes in the same read as its Finished.
        args += ["--tls", version]
    if identity is not None:
        args += ["--cert", str(live_lab.identities[identity].pem)]
    result = run_cli(capsys, *args)
    document = json.loads(result.out)
    assert (result.code, document["verdict"]["cause"]) == (code, cause), document["verdict"]
    if logged is not None:
        assert_logged(stream, logged)


def test_lint_reads_the_stream_server(
    capsys: pytest.CaptureFixture[str], stream: RunningServer
) -> None:
    result = run_cli(capsys, "lint-server", "--json", str(config_of(stream)))
    document = json.loads(result.out)
    (server,) = document["servers"]
    assert (server["client_auth"], server["label"]) == (
        "required",
        f"stream server {stream.target}",
    )


def test_explain_reads_the_stream_servers_own_log(
    capsys: pytest.CaptureFixture[str], stream: RunningServer, live_lab: LabPKI, tmp_path: Path
) -> None:
    run_cli(
        capsys, "check", f"tls://{stream.target}", "--cert", str(live_lab.identities["expired"].pem)
    )
    assert_logged(stream, "(10:certificate has expired) while SSL handshaking")
    log = tmp_path / "error.log"
    log.write_text(stream.error_log_text())
    result = run_cli(capsys, "explain", "--json", "--file", str(log))
    matches = json.loads(result.out)["matches"]
    expired = [m for m in matches if "certificate has expired" in m["text"]]
    assert expired and all(m["program"].startswith("nginx (stream module") for m in expired)
    assert "certificate_expired" in expired[0]["causes"]
