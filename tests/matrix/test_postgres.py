"""PostgreSQL with ``hostssl ... clientcert=verify-full``, checked as ``postgres://CN@host/db``.

PostgreSQL speaks first in its own protocol (SSLRequest), then TLS. It lists
its CA names and answers with OpenSSL's alerts; it asks for a certificate
but does not require one in the handshake: without one, the startup gets
"connection requires a valid client certificate". With ``verify-full`` the
user name must be the certificate's CN: a valid certificate presented for
another user is refused with "CN mismatch" after the handshake, which is an
access rule, not a certificate problem. No CRL is configured.
"""

from __future__ import annotations

import pytest

from mtls_doctor.causes import Cause
from mtls_doctor.lab.pki import LabPKI
from tests.matrix.conftest import Truth, assert_agrees, assert_probe, cases, root_name
from tests.servers.real import RunningServer, ServerRunner
from tests.servers.services import start_postgres

pytestmark = pytest.mark.realserver

C = Cause
REFUSED = r"could not accept SSL connection: certificate verify failed"
HBA = "hostssl all all 127.0.0.1/32 trust clientcert=verify-full"


def _served(name: str) -> Truth:
    return Truth(C.ACCEPTED, rf"connection authorized: user={name}@lab\.test ")


TRUTH = {
    "good-ecdsa": _served("good-ecdsa"),
    "expired": Truth(C.CERTIFICATE_EXPIRED, REFUSED),
    "not-yet-valid": Truth(C.CERTIFICATE_NOT_YET_VALID, REFUSED),
    "revoked": _served("revoked"),
    "untrusted": Truth(C.UNTRUSTED_ISSUER, REFUSED),
    "rotated": Truth(C.ISSUER_ROTATED, REFUSED),
    "missing-intermediate": Truth(C.MISSING_INTERMEDIATE, REFUSED),
    "no-client-auth": Truth(C.WRONG_KEY_USAGE, REFUSED),
    "mismatched-key": Truth(C.PRIVATE_KEY_MISMATCH, None),
    "rsa-1024": Truth(C.UNSUPPORTED_KEY, REFUSED),
    None: Truth(C.NO_CERTIFICATE_SENT, r"FATAL:  connection requires a valid client certificate"),
}


@pytest.fixture(scope="module")
def postgres(module_servers: ServerRunner, matrix_lab: LabPKI) -> RunningServer:
    """PostgreSQL requiring a verified certificate whose CN is the user, shared by the module."""
    return module_servers(
        start_postgres,
        cert=matrix_lab.server_pem,
        key=matrix_lab.server_key_file,
        ca_file=matrix_lab.client_ca_bundle,
        hba=HBA,
    )


def _url(server: RunningServer, identity: str | None) -> str:
    return f"postgres://{identity or 'nobody'}%40lab.test@{server.target}/postgres"


@pytest.mark.parametrize(("identity", "truth"), cases(TRUTH))
def test_check_agrees_with_postgres(
    identity: str | None,
    truth: Truth,
    postgres: RunningServer,
    matrix_lab: LabPKI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert_agrees(capsys, postgres, matrix_lab, identity, truth, _url(postgres, identity))


def test_check_names_the_user_rule_on_postgres(
    postgres: RunningServer, matrix_lab: LabPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    truth = Truth(
        C.REJECTED_BY_APPLICATION,
        r'clientcert=verify-full\) failed for user "someone-else": CN mismatch',
    )
    target = f"postgres://someone-else@{postgres.target}/postgres"
    result = assert_agrees(capsys, postgres, matrix_lab, "good-ecdsa", truth, target)
    assert "good-ecdsa@lab.test" in result.out


def test_probe_postgres(
    postgres: RunningServer, matrix_lab: LabPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    assert_probe(capsys, f"postgres://nobody@{postgres.target}/postgres", [root_name(matrix_lab)])
