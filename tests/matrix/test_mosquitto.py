"""Mosquitto with ``require_certificate true`` and the issuing CA's CRL, checked as ``mqtts://``.

Mosquitto lists no CA names, answers with OpenSSL's precise alerts (44 for
the revoked certificate), and logs only "certificate verify failed"; an
accepted client is logged with its certificate's CN as user name and gets
CONNACK 0. No HTTP is sent.
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
from tests.servers.services import start_mosquitto

pytestmark = pytest.mark.realserver

C = Cause
REFUSED = r"OpenSSL Error\[0\]: .*certificate verify failed"


def _served(name: str) -> Truth:
    return Truth(C.ACCEPTED, rf"New client connected from .*u'{name}@lab\.test'")


TRUTH = {
    "good-ecdsa": _served("good-ecdsa"),
    "expired": Truth(C.CERTIFICATE_EXPIRED, REFUSED),
    "not-yet-valid": Truth(C.CERTIFICATE_NOT_YET_VALID, REFUSED),
    "revoked": Truth(C.CERTIFICATE_REVOKED, REFUSED),
    "untrusted": nameless(C.UNTRUSTED_ISSUER, REFUSED),
    "rotated": nameless(C.ISSUER_ROTATED, REFUSED),
    "missing-intermediate": nameless(C.MISSING_INTERMEDIATE, REFUSED),
    "no-client-auth": Truth(C.WRONG_KEY_USAGE, REFUSED),
    "mismatched-key": Truth(C.PRIVATE_KEY_MISMATCH, None),
    "rsa-1024": Truth(C.UNSUPPORTED_KEY, REFUSED),
    None: Truth(C.NO_CERTIFICATE_SENT, r"peer did not return a certificate"),
}


@pytest.fixture(scope="module")
def mosquitto(module_servers: ServerRunner, matrix_lab: LabPKI) -> RunningServer:
    """Mosquitto requiring client certificates, with a CRL, shared by the module."""
    return module_servers(
        start_mosquitto,
        cert=matrix_lab.server_pem,
        key=matrix_lab.server_key_file,
        ca_file=matrix_lab.client_ca_bundle,
        crl=matrix_lab.crl_file,
    )


@pytest.mark.parametrize(("identity", "truth"), cases(TRUTH))
def test_check_agrees_with_mosquitto(
    identity: str | None,
    truth: Truth,
    mosquitto: RunningServer,
    matrix_lab: LabPKI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert_agrees(capsys, mosquitto, matrix_lab, identity, truth, f"mqtts://{mosquitto.target}")


@pytest.mark.parametrize("identity", CHAIN_TRIPLE)
def test_server_bundle_settles_the_chain_cause_on_mosquitto(
    identity: str,
    mosquitto: RunningServer,
    matrix_lab: LabPKI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert_bundle_settles(
        capsys, mosquitto, matrix_lab, identity, TRUTH[identity], f"mqtts://{mosquitto.target}"
    )


def test_probe_mosquitto(mosquitto: RunningServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert_probe(capsys, f"mqtts://{mosquitto.target}", [])
