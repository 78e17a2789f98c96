"""lighttpd-specific ``lint-server`` findings, proven on Debian's lighttpd.

The CA names ``lint-server`` says a block sends are the ones the real server
sends (mod_openssl: ``ssl.ca-file``'s subjects; mod_gnutls: none), mod_gnutls
serves a revoked certificate although ``ssl.ca-crl-file`` lists it, and
``ssl.verifyclient.enforce = "disable"`` serves an expired one; a trusted
intermediate left out of ``ssl.ca-dn-file`` gets its certificates refused. Verdicts for
every lab identity are in test_lint_proofs_agreement.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mtls_doctor.lab.pki import LabPKI
from tests.realservers.conftest import Material, codes, lint_block, present, served
from tests.servers.real import RunningServer, ServerRunner
from tests.servers.web import start_lighttpd

pytestmark = pytest.mark.realserver


@pytest.fixture(scope="module")
def lighttpds(
    tmp_path_factory: pytest.TempPathFactory, live_lab: LabPKI, material: Material
) -> Iterator[dict[str, RunningServer]]:
    """mod_openssl, mod_gnutls and mod_openssl without enforce, trusting the lab root."""
    runner = ServerRunner(tmp_path_factory.mktemp("lighttpd-lint"))
    common = {
        "cert": live_lab.server_pem,
        "key": live_lab.server_key_file,
        "ca_file": material.root,
        "crl": material.all_crls,
    }
    try:
        yield {
            "openssl": runner(start_lighttpd, **common),  # type: ignore[arg-type]
            "gnutls": runner(start_lighttpd, tls_module="gnutls", **common),  # type: ignore[arg-type]
            "no-enforce": runner(start_lighttpd, enforce=False, **common),  # type: ignore[arg-type]
        }
    finally:
        runner.stop_all()


def test_advertised_names_are_what_the_real_server_sends(
    lighttpds: dict[str, RunningServer], live_lab: LabPKI
) -> None:
    for module in ("openssl", "gnutls"):
        server = lighttpds[module]
        report = lint_block(server)
        sent = present(server, live_lab, None).acceptable_ca_names
        assert report.advertised == sent, module
    assert lint_block(lighttpds["openssl"]).advertised  # the lab root's name
    assert "ca_names_empty" in codes(lint_block(lighttpds["gnutls"]))


def test_mod_gnutls_does_not_apply_the_crl(
    lighttpds: dict[str, RunningServer], live_lab: LabPKI
) -> None:
    gnutls, openssl = lint_block(lighttpds["gnutls"]), lint_block(lighttpds["openssl"])
    assert "crl_not_checked" in codes(gnutls)
    assert "crl_not_checked" not in codes(openssl)
    assert served(present(lighttpds["gnutls"], live_lab, "revoked"))
    assert not served(present(lighttpds["openssl"], live_lab, "revoked"))


def test_enforce_disabled_serves_a_bad_certificate_and_is_reported(
    lighttpds: dict[str, RunningServer], live_lab: LabPKI
) -> None:
    report = lint_block(lighttpds["no-enforce"])
    assert "optional_no_ca_unchecked" in codes(report)
    assert "optional_no_ca_unchecked" not in codes(lint_block(lighttpds["openssl"]))
    assert served(present(lighttpds["no-enforce"], live_lab, "expired"))
    assert served(present(lighttpds["no-enforce"], live_lab, None))
    assert not served(present(lighttpds["openssl"], live_lab, "expired"))


@pytest.mark.parametrize(("named", "refused"), [("root", True), ("intermediate", False)])
def test_a_trusted_issuer_left_out_of_ca_dn_file_is_refused(
    tmp_path_factory: pytest.TempPathFactory,
    live_lab: LabPKI,
    material: Material,
    named: str,
    refused: bool,
) -> None:
    runner = ServerRunner(tmp_path_factory.mktemp("lighttpd-ca-dn"))
    try:
        server = runner(
            start_lighttpd,
            cert=live_lab.server_pem,
            key=live_lab.server_key_file,
            ca_file=material.root_and_intermediate,
            ca_dn_file=getattr(material, named),
        )
        report = lint_block(server)
        assert ("ca_dn_file_excludes_issuer" in codes(report)) is refused
        assert served(present(server, live_lab, "good-ecdsa")) is not refused
    finally:
        runner.stop_all()
