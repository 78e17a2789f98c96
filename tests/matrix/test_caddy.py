"""Caddy (Go's crypto/tls) with ``client_auth`` ``require_and_verify``, by name and by IP.

Reached by its name (SNI ``localhost``), Caddy verifies the client
certificate in the handshake and says why in its debug log, in Go's words.
Reached by IP, the client sends no SNI: Caddy's policy for the site is not
chosen, no certificate is asked for, and the request gets 421 Misdirected
Request. That is no acceptance: the verdict must say that client
authentication was not requested on this name.
"""

from __future__ import annotations

import pytest

from mtls_doctor.causes import Cause
from mtls_doctor.lab.pki import LabPKI
from tests.cli import run_cli
from tests.matrix.conftest import IDENTITIES, Truth, assert_agrees, assert_probe, cases, root_name
from tests.servers.real import RunningServer, ServerRunner
from tests.servers.web import start_caddy

pytestmark = pytest.mark.realserver

C = Cause
SERVED = r'"logger":"http\.log\.access[^"]*".*"status":200'
MISDIRECTED = r'"logger":"http\.log\.access[^"]*".*"status":421'
VERIFY = r"TLS handshake error from [\d.:]+: tls: failed to verify client certificate: x509: "

BY_NAME = {
    "good-ecdsa": Truth(C.ACCEPTED, SERVED),
    "expired": Truth(C.CERTIFICATE_EXPIRED, VERIFY + "certificate has expired or is not yet valid"),
    "not-yet-valid": Truth(
        C.CERTIFICATE_NOT_YET_VALID, VERIFY + "certificate has expired or is not yet valid"
    ),
    "revoked": Truth(C.ACCEPTED, SERVED),  # Caddy checks no CRL here
    "untrusted": Truth(C.UNTRUSTED_ISSUER, VERIFY + "certificate signed by unknown authority"),
    "rotated": Truth(C.ISSUER_ROTATED, VERIFY + r".*ECDSA verification failure.*Lab Root CA"),
    "missing-intermediate": Truth(
        C.MISSING_INTERMEDIATE, VERIFY + "certificate signed by unknown authority"
    ),
    "no-client-auth": Truth(C.WRONG_KEY_USAGE, VERIFY + "certificate specifies an incompatible"),
    "mismatched-key": Truth(C.PRIVATE_KEY_MISMATCH, None),
    "rsa-1024": Truth(C.ACCEPTED, SERVED),  # Go accepts RSA 1024
    None: Truth(C.NO_CERTIFICATE_SENT, r"tls: client didn't provide a certificate"),
}
BY_IP: dict[str | None, Truth] = {
    name: Truth(C.CLIENT_AUTH_NOT_REQUESTED, None if name == "mismatched-key" else MISDIRECTED)
    for name in IDENTITIES
}


@pytest.fixture(scope="module")
def caddy(module_servers: ServerRunner, matrix_lab: LabPKI) -> RunningServer:
    """One Caddy site for ``localhost`` and ``127.0.0.1``, shared by the module."""
    return module_servers(
        start_caddy,
        cert=matrix_lab.server_pem,
        key=matrix_lab.server_key_file,
        ca_file=matrix_lab.client_ca_bundle,
        names=("localhost", "127.0.0.1"),
    )


@pytest.mark.parametrize(("identity", "truth"), cases(BY_NAME))
def test_check_agrees_with_caddy_by_name(
    identity: str | None,
    truth: Truth,
    caddy: RunningServer,
    matrix_lab: LabPKI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = f"https://localhost:{caddy.port}/"
    assert_agrees(capsys, caddy, matrix_lab, identity, truth, target, "--connect-to", "127.0.0.1")


@pytest.mark.parametrize(("identity", "truth"), cases(BY_IP))
def test_check_agrees_with_caddy_by_ip(
    identity: str | None,
    truth: Truth,
    caddy: RunningServer,
    matrix_lab: LabPKI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert_agrees(capsys, caddy, matrix_lab, identity, truth)


def test_probe_caddy_by_ip(caddy: RunningServer, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "probe", caddy.target, "--json", "--timeout", "5")
    assert result.json["client_auth"] == "not_requested", result.json


def test_probe_caddy_by_name(
    caddy: RunningServer, matrix_lab: LabPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    target = f"https://localhost:{caddy.port}/"
    assert_probe(capsys, target, [root_name(matrix_lab)], "--connect-to", "127.0.0.1")
