"""Identities made by GnuTLS ``certtool`` on lighttpd (mod_openssl and mod_gnutls).

The servers' ``ssl.ca-file`` holds certtool's CA and the lab root; the
identities are certtool's own files (certificate, and a key file with
certtool's text dump before the PEM block). Each verdict is proved by the
server's log, as in test_lighttpd.py.

lighttpd's mod_gnutls uses only the first certificate of ``ssl.ca-file``: a
CA listed second is in the file but not trusted, and the server says nothing
more than alert 49. The verdict must stay honest there too.
"""

from __future__ import annotations

import pytest

from mtls_doctor.causes import Cause
from mtls_doctor.lab.pki import LabPKI
from tests.cli import run_cli
from tests.matrix.certtool import CerttoolPKI, build_certtool_pki
from tests.matrix.conftest import LogCursor, Truth, nameless
from tests.servers.real import RunningServer, ServerRunner, write_bundle
from tests.servers.web import start_lighttpd

pytestmark = pytest.mark.realserver

C = Cause
SERVED = r"resp: (HTTP/1\.1 200 OK|:status: 200)"
UNSAID = r"GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR"

TRUTH = {
    "openssl": {
        "good": Truth(C.ACCEPTED, SERVED),
        "expired": Truth(C.CERTIFICATE_EXPIRED, r"verify error:num=10:certificate has expired"),
        "untrusted": Truth(C.UNTRUSTED_ISSUER, r"num=20:unable to get local issuer certificate"),
        "no-client-auth": Truth(C.WRONG_KEY_USAGE, r"num=26:unsuitable certificate purpose"),
    },
    "gnutls": {
        "good": Truth(C.ACCEPTED, SERVED),
        "expired": Truth(C.CERTIFICATE_EXPIRED, UNSAID),
        "untrusted": nameless(C.UNTRUSTED_ISSUER, UNSAID),
        "no-client-auth": Truth(C.ACCEPTED, SERVED),  # GnuTLS does not check the usage
    },
    # certtool's CA is second in ssl.ca-file: mod_gnutls does not trust it.
    "gnutls-ca-second": {"good": nameless(C.UNTRUSTED_ISSUER, UNSAID)},
}


@pytest.fixture(scope="module")
def certtool_pki(tmp_path_factory: pytest.TempPathFactory) -> CerttoolPKI:
    """certtool's CA and identities, made once for the module."""
    return build_certtool_pki(tmp_path_factory.mktemp("certtool"))


@pytest.fixture(scope="module")
def lighttpd(
    module_servers: ServerRunner, matrix_lab: LabPKI, certtool_pki: CerttoolPKI
) -> dict[str, RunningServer]:
    """lighttpd over each TLS library, trusting the lab root and certtool's CA."""
    lab, directory = matrix_lab, matrix_lab.directory
    first = write_bundle(directory / "certtool-ca-first.pem", certtool_pki.ca, lab.client_ca_bundle)
    second = write_bundle(directory / "lab-ca-first.pem", lab.client_ca_bundle, certtool_pki.ca)
    common = {"cert": lab.server_pem, "key": lab.server_key_file}
    return {
        "openssl": module_servers(start_lighttpd, ca_file=first, tls_module="openssl", **common),  # type: ignore[arg-type]
        "gnutls": module_servers(start_lighttpd, ca_file=first, tls_module="gnutls", **common),  # type: ignore[arg-type]
        "gnutls-ca-second": module_servers(
            start_lighttpd,
            ca_file=second,
            tls_module="gnutls",
            **common,  # type: ignore[arg-type]
        ),
    }


@pytest.mark.parametrize(
    ("module", "identity"), [(m, i) for m, table in TRUTH.items() for i in table]
)
def test_check_agrees_on_certtool_identities(
    module: str,
    identity: str,
    lighttpd: dict[str, RunningServer],
    certtool_pki: CerttoolPKI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server, truth = lighttpd[module], TRUTH[module][identity]
    cert, key = certtool_pki.identities[identity]
    logs = LogCursor(server)

    result = run_cli(
        capsys, "check", server.url(), "--json", "--timeout", "5",
        "--cert", str(cert), "--key", str(key),
    )  # fmt: skip
    verdict = result.json["verdict"]

    assert truth.evidence is not None
    logs.wait_for(truth.evidence, verdict)
    assert verdict["cause"] in {truth.cause, *truth.honest}, verdict
    if verdict["cause"] != truth.cause and verdict["cause"] != C.REJECTED_UNEXPLAINED:
        assert str(truth.cause) in verdict["summary"], verdict
