"""A Java JSSE ``SSLServerSocket`` with ``setNeedClientAuth(true)``, run from source.

JSSE answers verify failures with alert 46 certificate_unknown, lists the
CA names of its trust store, checks no CRL unless told, accepts RSA 1024,
and closes a connection it served with user_canceled then close_notify
(neither is a refusal). The server prints each refusal's exception chain.
"""

from __future__ import annotations

import pytest

from mtls_doctor.causes import Cause
from mtls_doctor.lab.pki import LabPKI
from tests.matrix.conftest import Truth, assert_agrees, assert_probe, cases, root_name
from tests.servers.real import RunningServer, ServerRunner
from tests.servers.runtimes import start_java

pytestmark = pytest.mark.realserver

C = Cause
#: JDK 17.0.21 and later put the alert's name before the reason: "(certificate_unknown) PKIX ...".
ALERT = r"(?:\(\w+\) )?"
PKIX = r"refused: javax\.net\.ssl\.SSLHandshakeException: " + ALERT + r"PKIX path "

TRUTH = {
    "good-ecdsa": Truth(C.ACCEPTED, r"served: CN=good-ecdsa@"),
    "expired": Truth(C.CERTIFICATE_EXPIRED, PKIX + r"validation failed.*CertificateExpired"),
    "not-yet-valid": Truth(
        C.CERTIFICATE_NOT_YET_VALID, PKIX + r"validation failed.*CertificateNotYetValid"
    ),
    "revoked": Truth(C.ACCEPTED, r"served: CN=revoked@"),
    "untrusted": Truth(C.UNTRUSTED_ISSUER, PKIX + r"building failed"),
    "rotated": Truth(C.ISSUER_ROTATED, PKIX + r"validation failed.*signature check failed"),
    "missing-intermediate": Truth(C.MISSING_INTERMEDIATE, PKIX + r"building failed"),
    "no-client-auth": Truth(
        C.WRONG_KEY_USAGE, r"Extended key usage does not permit use for TLS client auth"
    ),
    "mismatched-key": Truth(C.PRIVATE_KEY_MISMATCH, None, absent="served: "),
    "rsa-1024": Truth(C.ACCEPTED, r"served: CN=rsa-1024@"),
    None: Truth(
        C.NO_CERTIFICATE_SENT,
        r"SSLHandshakeException: " + ALERT + r"Empty client certificate chain",
    ),
}


@pytest.fixture(scope="module")
def java_server(module_servers: ServerRunner, matrix_lab: LabPKI) -> RunningServer:
    """The JSSE server, shared by the module."""
    return module_servers(
        start_java,
        cert=matrix_lab.server_pem,
        key=matrix_lab.server_key_file,
        ca_file=matrix_lab.client_ca_bundle,
    )


@pytest.mark.parametrize(("identity", "truth"), cases(TRUTH))
def test_check_agrees_with_java(
    identity: str | None,
    truth: Truth,
    java_server: RunningServer,
    matrix_lab: LabPKI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert_agrees(capsys, java_server, matrix_lab, identity, truth)


def test_probe_java(
    java_server: RunningServer, matrix_lab: LabPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    assert_probe(capsys, java_server.target, [root_name(matrix_lab)])
