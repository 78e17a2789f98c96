"""A Go ``net/http`` server with ``tls.RequireAndVerifyClientCert``, built at test time.

Go answers every verify failure with alert 42 bad_certificate and lists the
CA names of ``ClientCAs``; net/http logs the reason in Go's words. Go checks
no CRL and accepts RSA 1024 (Go 1.19).
"""

from __future__ import annotations

import pytest

from mtls_doctor.causes import Cause
from mtls_doctor.lab.pki import LabPKI
from tests.matrix.conftest import Truth, assert_agrees, assert_probe, cases, root_name
from tests.servers.real import RunningServer, ServerRunner, require_binary
from tests.servers.runtimes import build_go_server, start_go

pytestmark = pytest.mark.realserver

C = Cause
VERIFY = r"TLS handshake error from [\d.:]+: tls: failed to verify client certificate: x509: "

TRUTH = {
    "good-ecdsa": Truth(C.ACCEPTED, r"served: good-ecdsa@"),
    "expired": Truth(C.CERTIFICATE_EXPIRED, VERIFY + r"certificate has expired .* is after"),
    "not-yet-valid": Truth(
        C.CERTIFICATE_NOT_YET_VALID, VERIFY + r"certificate has expired .* is before"
    ),
    "revoked": Truth(C.ACCEPTED, r"served: revoked@"),
    "untrusted": Truth(C.UNTRUSTED_ISSUER, VERIFY + r"certificate signed by unknown authority$"),
    "rotated": Truth(C.ISSUER_ROTATED, VERIFY + r".*ECDSA verification failure.*Lab Root CA"),
    "missing-intermediate": Truth(
        C.MISSING_INTERMEDIATE, VERIFY + r"certificate signed by unknown authority$"
    ),
    "no-client-auth": Truth(C.WRONG_KEY_USAGE, VERIFY + r"certificate specifies an incompatible"),
    "mismatched-key": Truth(C.PRIVATE_KEY_MISMATCH, None, absent="served: "),
    "rsa-1024": Truth(C.ACCEPTED, r"served: rsa-1024@"),
    None: Truth(C.NO_CERTIFICATE_SENT, r"tls: client didn't provide a certificate"),
}


@pytest.fixture(scope="module")
def go_server(
    module_servers: ServerRunner, matrix_lab: LabPKI, tmp_path_factory: pytest.TempPathFactory
) -> RunningServer:
    """The Go server, built once and shared by the module."""
    require_binary("go")
    binary = build_go_server(tmp_path_factory.mktemp("go-build"))
    return module_servers(
        start_go,
        binary=binary,
        cert=matrix_lab.server_pem,
        key=matrix_lab.server_key_file,
        ca_file=matrix_lab.client_ca_bundle,
    )


@pytest.mark.parametrize(("identity", "truth"), cases(TRUTH))
def test_check_agrees_with_go(
    identity: str | None,
    truth: Truth,
    go_server: RunningServer,
    matrix_lab: LabPKI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert_agrees(capsys, go_server, matrix_lab, identity, truth)


def test_probe_go(
    go_server: RunningServer, matrix_lab: LabPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    assert_probe(capsys, go_server.target, [root_name(matrix_lab)])
