"""``check`` on Apache asking for a certificate on one path only (``<Location>``).

With TLS 1.3 Apache can ask only after the handshake (post-handshake
authentication), which our client does not offer: it answers 403 and logs
AH10158, and no CertificateRequest is ever seen. The verdict must not stop at
"not requested": it names that possibility and ``--tls 1.2`` (Apache then
renegotiates), which a second check proves.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from mtls_doctor.lab.pki import LabPKI
from tests.cli import run_cli
from tests.servers.real import RunningServer, ServerRunner, require_binary, start_apache

pytestmark = pytest.mark.realserver

_LOCATION = """<Location /secure>
        SSLVerifyClient require
        SSLVerifyDepth 2
    </Location>"""


@pytest.fixture(scope="module")
def apache(live_lab: LabPKI, module_servers: ServerRunner) -> RunningServer:
    require_binary("apache2")
    return module_servers(
        start_apache, cert=live_lab.server_pem, key=live_lab.server_key_file,
        verify_client=None, ca_file=live_lab.client_ca_bundle, extra_vhost=_LOCATION,
    )  # fmt: skip


def _check(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    result = run_cli(capsys, "check", "--json", "--offline", "--timeout", "10", *args)
    document: dict[str, Any] = json.loads(result.out)
    assert "verdict" in document, (result.out, result.err)
    return document


def test_tls13_403_names_per_path_client_auth_and_tls12(
    apache: RunningServer, live_lab: LabPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    cert = str(live_lab.identities["good-rsa"].pem)
    document = _check(capsys, apache.url("/secure"), "--tls", "1.3", "--cert", cert)
    verdict = document["verdict"]
    assert verdict["cause"] == "client_auth_not_requested"
    assert document["handshake"]["http_status"] == 403
    assert "<Location>" in verdict["summary"]
    assert "--tls 1.2" in verdict["summary"]
    assert any("--tls 1.2" in fix for fix in verdict["fixes"])
    assert "AH10158" in apache.error_log_text()


def test_the_suggested_tls12_check_sees_the_request(
    apache: RunningServer, live_lab: LabPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    good = str(live_lab.identities["good-rsa"].pem)
    document = _check(capsys, apache.url("/secure"), "--tls", "1.2", "--cert", good)
    assert document["verdict"]["cause"] == "accepted", document["verdict"]
    untrusted = str(live_lab.identities["untrusted"].pem)
    document = _check(capsys, apache.url("/secure"), "--tls", "1.2", "--cert", untrusted)
    assert document["verdict"]["cause"] == "untrusted_issuer", document["verdict"]


def test_the_rest_of_the_site_is_not_asked(
    apache: RunningServer, live_lab: LabPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 200 on a path without client auth stays a plain 'not requested'."""
    cert = str(live_lab.identities["good-rsa"].pem)
    document = _check(capsys, apache.url("/"), "--cert", cert)
    assert document["verdict"]["cause"] == "client_auth_not_requested"
    assert "--tls 1.2" not in document["verdict"]["summary"]
