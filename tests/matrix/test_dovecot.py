"""Dovecot IMAP with STARTTLS, ``ssl_verify_client_cert`` and ``auth_ssl_require_client_cert``.

Dovecot completes the TLS handshake whatever the certificate, and refuses
later, at login: its log says "client sent an invalid cert" (or "client
didn't send a cert"), and nothing more precise. It lists its CA names and
checks the CRLs of the root and the intermediate (it requires one for every
CA). ``check imap://`` logs in with the certificate (``AUTHENTICATE
EXTERNAL``), so a client refused at login is not called accepted.
"""

from __future__ import annotations

import pytest

from mtls_doctor.causes import Cause
from mtls_doctor.lab.pki import LabPKI
from tests.matrix.conftest import Truth, assert_agrees, assert_probe, cases, root_name
from tests.servers.real import RunningServer, ServerRunner
from tests.servers.services import start_dovecot

pytestmark = pytest.mark.realserver

C = Cause
INVALID = r"\(client sent an invalid cert\)"

TRUTH = {
    "good-ecdsa": Truth(C.ACCEPTED, r"Login: user=<good-ecdsa@lab\.test>, method=EXTERNAL"),
    "expired": Truth(C.CERTIFICATE_EXPIRED, INVALID),
    "not-yet-valid": Truth(C.CERTIFICATE_NOT_YET_VALID, INVALID),
    "revoked": Truth(C.CERTIFICATE_REVOKED, INVALID),
    "untrusted": Truth(C.UNTRUSTED_ISSUER, INVALID),
    # Same CA name, no alert: only the server's bundle could tell the key changed.
    "rotated": Truth(C.ISSUER_ROTATED, INVALID, honest=(C.REJECTED_UNEXPLAINED,)),
    "missing-intermediate": Truth(C.MISSING_INTERMEDIATE, INVALID),
    "no-client-auth": Truth(C.WRONG_KEY_USAGE, INVALID),
    "mismatched-key": Truth(C.PRIVATE_KEY_MISMATCH, None),
    "rsa-1024": Truth(C.UNSUPPORTED_KEY, INVALID),
    None: Truth(C.NO_CERTIFICATE_SENT, r"\(client didn't send a cert\)"),
}


@pytest.fixture(scope="module")
def dovecot(module_servers: ServerRunner, matrix_lab: LabPKI) -> RunningServer:
    """Dovecot requiring a valid client certificate, with CRLs, shared by the module."""
    ca = matrix_lab.directory / "ca"
    return module_servers(
        start_dovecot,
        cert=matrix_lab.server_pem,
        key=matrix_lab.server_key_file,
        ca_file=matrix_lab.client_ca_bundle,
        crls=(ca / "root.crl.pem", ca / "intermediate.crl.pem"),
    )


@pytest.mark.parametrize(("identity", "truth"), cases(TRUTH))
def test_check_agrees_with_dovecot(
    identity: str | None,
    truth: Truth,
    dovecot: RunningServer,
    matrix_lab: LabPKI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert_agrees(capsys, dovecot, matrix_lab, identity, truth, f"imap://{dovecot.target}")


def test_probe_dovecot(
    dovecot: RunningServer, matrix_lab: LabPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    assert_probe(capsys, f"imap://{dovecot.target}", [root_name(matrix_lab)])
