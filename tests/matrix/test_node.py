"""Node.js ``https`` servers: the TLS layer refuses, or the application answers 403 itself.

With ``rejectUnauthorized: true`` Node's OpenSSL binding closes the
connection after the handshake, with no alert and nothing in any log (the
verify error is not passed to the application); the server lists the CA
names of its ``ca``. With ``rejectUnauthorized: false`` the common recipe
answers 403 with ``authorizationError`` (``CERT_HAS_EXPIRED``, ...) in the
body: the TLS library's verdict in the application's words, which is a
certificate problem, not an access rule. Node's OpenSSL accepts RSA 1024.
"""

from __future__ import annotations

import pytest

from mtls_doctor.causes import Cause
from mtls_doctor.lab.pki import LabPKI
from tests.matrix.conftest import Truth, assert_agrees, assert_probe, cases, root_name
from tests.servers.real import RunningServer, ServerRunner
from tests.servers.runtimes import start_node

pytestmark = pytest.mark.realserver

C = Cause
SERVED = r"served: "


def _served(name: str) -> Truth:
    return Truth(C.ACCEPTED, SERVED + name)


def _closed(cause: Cause) -> Truth:
    """Refused by Node's TLS layer: no log line says why; it must not have served."""
    return Truth(cause, None, absent=SERVED)


TLS_LAYER = {
    "good-ecdsa": _served("good-ecdsa@"),
    "expired": _closed(C.CERTIFICATE_EXPIRED),
    "not-yet-valid": _closed(C.CERTIFICATE_NOT_YET_VALID),
    "revoked": _served("revoked@"),  # no CRL given
    "untrusted": _closed(C.UNTRUSTED_ISSUER),
    "rotated": _closed(C.ISSUER_ROTATED),
    "missing-intermediate": _closed(C.MISSING_INTERMEDIATE),
    "no-client-auth": _closed(C.WRONG_KEY_USAGE),
    "mismatched-key": _closed(C.PRIVATE_KEY_MISMATCH),
    "rsa-1024": _served("rsa-1024@"),
    None: Truth(C.NO_CERTIFICATE_SENT, r"ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE"),
}

APP = {
    "good-ecdsa": _served("good-ecdsa@"),
    "expired": Truth(C.CERTIFICATE_EXPIRED, r"refused: CERT_HAS_EXPIRED"),
    "not-yet-valid": Truth(C.CERTIFICATE_NOT_YET_VALID, r"refused: CERT_NOT_YET_VALID"),
    "revoked": _served("revoked@"),
    "untrusted": Truth(C.UNTRUSTED_ISSUER, r"refused: SELF_SIGNED_CERT_IN_CHAIN"),
    "rotated": Truth(C.ISSUER_ROTATED, r"refused: SELF_SIGNED_CERT_IN_CHAIN"),
    "missing-intermediate": Truth(
        C.MISSING_INTERMEDIATE, r"refused: UNABLE_TO_VERIFY_LEAF_SIGNATURE"
    ),
    "no-client-auth": Truth(C.WRONG_KEY_USAGE, r"refused: INVALID_PURPOSE"),
    "mismatched-key": Truth(C.PRIVATE_KEY_MISMATCH, None, absent=SERVED),
    "rsa-1024": _served("rsa-1024@"),
    # Node reports a missing certificate as UNABLE_TO_GET_ISSUER_CERT.
    None: Truth(C.NO_CERTIFICATE_SENT, r"refused: UNABLE_TO_GET_ISSUER_CERT"),
}


@pytest.fixture(scope="module")
def node(module_servers: ServerRunner, matrix_lab: LabPKI) -> dict[str, RunningServer]:
    """Both Node servers, shared by the module."""
    lab = matrix_lab
    common = {"cert": lab.server_pem, "key": lab.server_key_file, "ca_file": lab.client_ca_bundle}
    return {mode: module_servers(start_node, mode=mode, **common) for mode in ("tls", "app")}  # type: ignore[arg-type]


@pytest.mark.parametrize(("identity", "truth"), cases(TLS_LAYER))
def test_check_agrees_with_node_tls_layer(
    identity: str | None,
    truth: Truth,
    node: dict[str, RunningServer],
    matrix_lab: LabPKI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert_agrees(capsys, node["tls"], matrix_lab, identity, truth)


@pytest.mark.parametrize(("identity", "truth"), cases(APP))
def test_check_agrees_with_node_app_403(
    identity: str | None,
    truth: Truth,
    node: dict[str, RunningServer],
    matrix_lab: LabPKI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert_agrees(capsys, node["app"], matrix_lab, identity, truth)


def test_probe_node(
    node: dict[str, RunningServer], matrix_lab: LabPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    assert_probe(capsys, node["tls"].target, [root_name(matrix_lab)])
    # The application's 403 to a client without a certificate is a refusal too.
    assert_probe(capsys, node["app"].target, [root_name(matrix_lab)])
