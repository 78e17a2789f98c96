"""stunnel (OpenSSL) requiring a client certificate in front of plain HTTP and of plain Redis.

stunnel checks the chain itself (``verifyChain``, ``requireCert``, the
intermediate's CRL) and logs each verdict ("Rejected by CERT at depth=N",
"Certificate accepted at depth=0"); the application behind it only sees
the connections stunnel lets through. In front of Redis the check is
``rediss://``: no HTTP request may reach a service that is not HTTP.
"""

from __future__ import annotations

import re

import pytest

from mtls_doctor.causes import Cause
from mtls_doctor.lab.pki import LabPKI
from tests.matrix.conftest import Truth, assert_agrees, assert_probe, cases, root_name
from tests.servers.real import RunningServer, ServerRunner
from tests.servers.services import start_redis
from tests.servers.web import start_http_backend, start_stunnel

pytestmark = pytest.mark.realserver

C = Cause
#: The application behind stunnel answered (Python's http.server logs each request).
SERVED = r'"GET / HTTP/1\.1" 200'


def _rejected(error: str, depth: int, name: str) -> str:
    return rf"Pre-verification error: {error}\s.*Rejected by CERT at depth={depth}: .*{name}"


TRUTH = {
    "good-ecdsa": Truth(C.ACCEPTED, SERVED),
    "expired": Truth(C.CERTIFICATE_EXPIRED, _rejected("certificate has expired", 0, "expired@")),
    "not-yet-valid": Truth(
        C.CERTIFICATE_NOT_YET_VALID, _rejected("certificate is not yet valid", 0, "not-yet")
    ),
    "revoked": Truth(C.CERTIFICATE_REVOKED, _rejected("certificate revoked", 0, "revoked@")),
    "untrusted": Truth(
        C.UNTRUSTED_ISSUER, _rejected("self-signed certificate in certificate chain", 1, "Unrel")
    ),
    "rotated": Truth(
        C.ISSUER_ROTATED, _rejected("self-signed certificate in certificate chain", 1, "Lab Root")
    ),
    "missing-intermediate": Truth(
        C.MISSING_INTERMEDIATE, _rejected("unable to get local issuer certificate", 0, "missing")
    ),
    "no-client-auth": Truth(
        C.WRONG_KEY_USAGE, _rejected("unsuitable certificate purpose", 0, "no-client-auth@")
    ),
    "mismatched-key": Truth(C.PRIVATE_KEY_MISMATCH, None),
    "rsa-1024": Truth(C.UNSUPPORTED_KEY, _rejected("EE certificate key too weak", 0, "rsa-1024@")),
    None: Truth(C.NO_CERTIFICATE_SENT, r"peer did not return a certificate"),
}


#: In front of Redis: Redis logs the connection stunnel opens for an accepted client.
REDIS_TRUTH = {
    name: Truth(C.ACCEPTED, r"- Accepted 127\.0\.0\.1:") if truth.cause == C.ACCEPTED else truth
    for name, truth in TRUTH.items()
}


@pytest.fixture(scope="module")
def stunnel_http(
    module_servers: ServerRunner, matrix_lab: LabPKI
) -> tuple[RunningServer, RunningServer]:
    """stunnel and the HTTP application behind it, shared by the module."""
    backend = module_servers(start_http_backend)
    tunnel = module_servers(
        start_stunnel,
        cert=matrix_lab.server_pem,
        key=matrix_lab.server_key_file,
        ca_file=matrix_lab.client_ca_bundle,
        backend=backend.port,
        crl=matrix_lab.crl_file,
    )
    return tunnel, backend


@pytest.mark.parametrize(("identity", "truth"), cases(TRUTH))
def test_check_agrees_with_stunnel(
    identity: str | None,
    truth: Truth,
    stunnel_http: tuple[RunningServer, RunningServer],
    matrix_lab: LabPKI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert_agrees(capsys, stunnel_http, matrix_lab, identity, truth)


@pytest.fixture(scope="module")
def stunnel_redis(
    module_servers: ServerRunner, matrix_lab: LabPKI
) -> tuple[RunningServer, RunningServer]:
    """stunnel and a plain-TCP Redis behind it, shared by the module."""
    lab = matrix_lab
    server = {"cert": lab.server_pem, "key": lab.server_key_file, "ca_file": lab.client_ca_bundle}
    backend = module_servers(start_redis, plain=True, **server)  # type: ignore[arg-type]
    tunnel = module_servers(start_stunnel, backend=backend.port, crl=lab.crl_file, **server)  # type: ignore[arg-type]
    return tunnel, backend


@pytest.mark.parametrize(("identity", "truth"), cases(REDIS_TRUTH))
def test_check_agrees_with_stunnel_in_front_of_redis(
    identity: str | None,
    truth: Truth,
    stunnel_redis: tuple[RunningServer, RunningServer],
    matrix_lab: LabPKI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = f"rediss://{stunnel_redis[0].target}"
    result = assert_agrees(capsys, stunnel_redis, matrix_lab, identity, truth, target)
    # Redis logs "Possible SECURITY ATTACK detected" when it is sent an HTTP request.
    assert "SECURITY ATTACK" not in stunnel_redis[1].error_log_text(), result


def test_probe_stunnel(
    stunnel_http: tuple[RunningServer, RunningServer],
    matrix_lab: LabPKI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert_probe(capsys, stunnel_http[0].target, [root_name(matrix_lab)])


def test_probe_stunnel_in_front_of_redis(
    stunnel_redis: tuple[RunningServer, RunningServer],
    matrix_lab: LabPKI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert_probe(capsys, f"rediss://{stunnel_redis[0].target}", [root_name(matrix_lab)])


@pytest.mark.parametrize(
    ("identity", "cause"), [("good-ecdsa", C.ACCEPTED), ("expired", C.CERTIFICATE_EXPIRED)]
)
def test_bare_target_sends_no_http_through_stunnel(
    identity: str,
    cause: Cause,
    stunnel_redis: tuple[RunningServer, RunningServer],
    matrix_lab: LabPKI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # host:port on a port that says nothing: the TLS-level verdict, and no application data.
    truth = TRUTH[identity] if cause != C.ACCEPTED else REDIS_TRUTH[identity]
    result = assert_agrees(
        capsys, stunnel_redis, matrix_lab, identity, truth, stunnel_redis[0].target
    )
    assert result.json["handshake"]["http_status"] is None, result.json["handshake"]
    assert "SECURITY ATTACK" not in stunnel_redis[1].error_log_text()


#: tls:// sends nothing: stunnel's own log is the only proof of what it accepted.
TLS_ONLY_TRUTH = {
    name: Truth(C.ACCEPTED, r"Certificate accepted at depth=0")
    if truth.cause == C.ACCEPTED
    else truth
    for name, truth in TRUTH.items()
}


@pytest.mark.parametrize("version", ["1.2", "1.3"])
@pytest.mark.parametrize(("identity", "truth"), cases(TLS_ONLY_TRUTH))
def test_tls_only_check_agrees_with_stunnel(
    identity: str | None,
    truth: Truth,
    version: str,
    stunnel_http: tuple[RunningServer, RunningServer],
    matrix_lab: LabPKI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """No application data at all, in either TLS version: the TLS layer's answer alone."""
    target = f"tls://{stunnel_http[0].target}"
    before = len(stunnel_http[1].error_log_text())
    assert_agrees(capsys, stunnel_http, matrix_lab, identity, truth, target, "--tls", version)
    assert not re.search(SERVED, stunnel_http[1].error_log_text()[before:])
