"""Redis with TLS only and ``tls-auth-clients yes``, checked as ``rediss://``.

Redis lists no CA names, answers with OpenSSL's precise alerts, checks no
CRL, and logs only "certificate verify failed" whatever the reason. Its
application answer (``PING`` -> ``PONG``) shows acceptance; no HTTP is sent.
Without CA names untrusted / rotated / missing intermediate cannot be told
apart from the alert: the verdict may name the candidates, and with the
server's bundle (``--ca-bundle``) it must be exact.
"""

from __future__ import annotations

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
    nameless,
)
from tests.servers.real import RunningServer, ServerRunner
from tests.servers.services import start_redis

pytestmark = pytest.mark.realserver

C = Cause
REFUSED = r"Error accepting a client connection: .*certificate verify failed"
SERVED = Truth(C.ACCEPTED, r"- Accepted 127\.0\.0\.1:", absent="Error accepting")

TRUTH = {
    "good-ecdsa": SERVED,
    "expired": Truth(C.CERTIFICATE_EXPIRED, REFUSED),
    "not-yet-valid": Truth(C.CERTIFICATE_NOT_YET_VALID, REFUSED),
    "revoked": SERVED,  # Redis checks no CRL
    "untrusted": nameless(C.UNTRUSTED_ISSUER, REFUSED),
    "rotated": nameless(C.ISSUER_ROTATED, REFUSED),
    "missing-intermediate": nameless(C.MISSING_INTERMEDIATE, REFUSED),
    "no-client-auth": Truth(C.WRONG_KEY_USAGE, REFUSED),
    "mismatched-key": Truth(C.PRIVATE_KEY_MISMATCH, None),
    "rsa-1024": Truth(C.UNSUPPORTED_KEY, REFUSED),
    None: Truth(C.NO_CERTIFICATE_SENT, r"peer did not return a certificate"),
}


@pytest.fixture(scope="module")
def redis(module_servers: ServerRunner, matrix_lab: LabPKI) -> RunningServer:
    """Redis requiring client certificates, shared by the module."""
    return module_servers(
        start_redis,
        cert=matrix_lab.server_pem,
        key=matrix_lab.server_key_file,
        ca_file=matrix_lab.client_ca_bundle,
    )


@pytest.mark.parametrize(("identity", "truth"), cases(TRUTH))
def test_check_agrees_with_redis(
    identity: str | None,
    truth: Truth,
    redis: RunningServer,
    matrix_lab: LabPKI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert_agrees(capsys, redis, matrix_lab, identity, truth, f"rediss://{redis.target}")


@pytest.mark.parametrize("identity", CHAIN_TRIPLE)
def test_server_bundle_settles_the_chain_cause_on_redis(
    identity: str, redis: RunningServer, matrix_lab: LabPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    assert_bundle_settles(
        capsys, redis, matrix_lab, identity, TRUTH[identity], f"rediss://{redis.target}"
    )


def test_probe_redis(redis: RunningServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert_probe(capsys, f"rediss://{redis.target}", [])
