"""lighttpd with client certificates required, over mod_openssl and over mod_gnutls.

mod_openssl behaves like nginx's OpenSSL: CA names listed, one precise
alert per failure, the verify error in the error log. mod_gnutls is the
hard case: it lists no CA names and answers every chain failure with alert
49 access_denied, and its log only says "Error in the certificate
verification"; GnuTLS ignores extended key usage and accepts RSA 1024.
Both are given the CRLs of the root and the intermediate.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mtls_doctor.causes import Cause
from mtls_doctor.lab.pki import LabPKI
from tests.matrix.conftest import (
    CHAIN_TRIPLE,
    Truth,
    assert_agrees,
    assert_bundle_settles,
    assert_probe,
    cases,
    root_name,
)
from tests.servers.real import RunningServer, ServerRunner, write_bundle
from tests.servers.web import start_lighttpd

pytestmark = pytest.mark.realserver

SERVED = r"resp: (HTTP/1\.1 200 OK|:status: 200)"
C = Cause

OPENSSL = {
    "good-ecdsa": Truth(C.ACCEPTED, SERVED),
    "expired": Truth(C.CERTIFICATE_EXPIRED, r"verify error:num=10:certificate has expired"),
    "not-yet-valid": Truth(
        C.CERTIFICATE_NOT_YET_VALID, r"verify error:num=9:certificate is not yet valid"
    ),
    "revoked": Truth(C.CERTIFICATE_REVOKED, r"verify error:num=23:certificate revoked"),
    "untrusted": Truth(
        C.UNTRUSTED_ISSUER, r"num=19:self-signed certificate in certificate chain.*Unrelated"
    ),
    "rotated": Truth(
        C.ISSUER_ROTATED, r"num=19:self-signed certificate in certificate chain.*Lab Root CA"
    ),
    "missing-intermediate": Truth(
        C.MISSING_INTERMEDIATE, r"num=20:unable to get local issuer certificate"
    ),
    "no-client-auth": Truth(C.WRONG_KEY_USAGE, r"num=26:unsuitable certificate purpose"),
    "mismatched-key": Truth(C.PRIVATE_KEY_MISMATCH, None),
    "rsa-1024": Truth(C.UNSUPPORTED_KEY, r"num=66:EE certificate key too weak"),
    None: Truth(C.NO_CERTIFICATE_SENT, r"peer did not return a certificate"),
}

#: GnuTLS says only this for every chain failure, and alerts 49 access_denied.
UNSAID = r"GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR"
GNUTLS = {
    "good-ecdsa": Truth(C.ACCEPTED, SERVED),
    "expired": Truth(C.CERTIFICATE_EXPIRED, UNSAID),
    "not-yet-valid": Truth(C.CERTIFICATE_NOT_YET_VALID, UNSAID),
    # mod_gnutls serves it: it loads the CRL file but does not apply it to client certificates.
    "revoked": Truth(C.ACCEPTED, SERVED),
    "untrusted": Truth(C.UNTRUSTED_ISSUER, UNSAID, honest=(C.REJECTED_UNEXPLAINED,)),
    "rotated": Truth(C.ISSUER_ROTATED, UNSAID, honest=(C.REJECTED_UNEXPLAINED,)),
    "missing-intermediate": Truth(C.MISSING_INTERMEDIATE, UNSAID, honest=(C.REJECTED_UNEXPLAINED,)),
    "no-client-auth": Truth(C.ACCEPTED, SERVED),
    "mismatched-key": Truth(C.PRIVATE_KEY_MISMATCH, None),
    "rsa-1024": Truth(C.ACCEPTED, SERVED),
    None: Truth(C.NO_CERTIFICATE_SENT, r"GNUTLS_E_CERTIFICATE_REQUIRED"),
}


def _start(runner: ServerRunner, lab: LabPKI, tls_module: str) -> RunningServer:
    ca = lab.directory / "ca"
    crls = write_bundle(
        lab.directory / "lighttpd-crls.pem", ca / "root.crl.pem", ca / "intermediate.crl.pem"
    )
    return runner(
        start_lighttpd,
        cert=lab.server_pem,
        key=lab.server_key_file,
        ca_file=lab.client_ca_bundle,
        tls_module=tls_module,
        crl=crls,
    )


@pytest.fixture(scope="module")
def lighttpd_openssl(module_servers: ServerRunner, matrix_lab: LabPKI) -> Iterator[RunningServer]:
    """lighttpd + mod_openssl, shared by the module."""
    yield _start(module_servers, matrix_lab, "openssl")


@pytest.fixture(scope="module")
def lighttpd_gnutls(module_servers: ServerRunner, matrix_lab: LabPKI) -> Iterator[RunningServer]:
    """lighttpd + mod_gnutls, shared by the module."""
    yield _start(module_servers, matrix_lab, "gnutls")


@pytest.mark.parametrize(("identity", "truth"), cases(OPENSSL))
def test_check_agrees_with_lighttpd_openssl(
    identity: str | None,
    truth: Truth,
    lighttpd_openssl: RunningServer,
    matrix_lab: LabPKI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert_agrees(capsys, lighttpd_openssl, matrix_lab, identity, truth)


@pytest.mark.parametrize(("identity", "truth"), cases(GNUTLS))
def test_check_agrees_with_lighttpd_gnutls(
    identity: str | None,
    truth: Truth,
    lighttpd_gnutls: RunningServer,
    matrix_lab: LabPKI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert_agrees(capsys, lighttpd_gnutls, matrix_lab, identity, truth)


@pytest.mark.parametrize("identity", CHAIN_TRIPLE)
def test_server_bundle_settles_the_chain_cause_on_lighttpd_gnutls(
    identity: str,
    lighttpd_gnutls: RunningServer,
    matrix_lab: LabPKI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert_bundle_settles(capsys, lighttpd_gnutls, matrix_lab, identity, GNUTLS[identity], None)


def test_probe_lighttpd(
    lighttpd_openssl: RunningServer,
    lighttpd_gnutls: RunningServer,
    matrix_lab: LabPKI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert_probe(capsys, lighttpd_openssl.target, [root_name(matrix_lab)])
    assert_probe(capsys, lighttpd_gnutls.target, [])
