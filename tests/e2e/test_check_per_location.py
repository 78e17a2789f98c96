"""``check`` on Apache asking for a certificate on one path only (``<Location>``).

With TLS 1.3 Apache can ask only after the handshake (post-handshake
authentication), which our client does not offer: it answers 403 and logs
AH10158, and no CertificateRequest is ever seen. The verdict must not stop at
"not requested": it names that possibility and ``--tls 1.2`` (Apache then
renegotiates), which a second check proves.
"""

from __future__ import annotations

import json
import shutil
import subprocess
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


def test_explain_does_not_say_curl_lacks_post_handshake_auth(
    apache: RunningServer, live_lab: LabPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    """curl (OpenSSL) answers Apache's post-handshake request: the explanation must not deny it."""
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl not installed")
    ids = live_lab.directory / "identities"
    done = subprocess.run(
        [curl, "-sk", "--tlsv1.3", "-o", "/dev/null", "-w", "%{http_code}",
         "--cert", str(ids / "good-rsa.crt"), "--key", str(ids / "good-rsa.key"),
         apache.url("/secure")],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.stdout == "200", done.stderr
    _check(capsys, apache.url("/secure"), "--tls", "1.3")  # no post-handshake auth: AH10158
    line = next(x for x in apache.error_log_text().splitlines() if "AH10158" in x)
    result = run_cli(capsys, "explain", "--json", line)
    meaning = json.loads(result.out)["matches"][0]["meaning"]
    assert "curl, browsers" not in meaning
    assert "curl built with OpenSSL does" in meaning


def test_without_a_certificate_the_403_is_not_only_an_authorization_rule(
    apache: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    document = _check(capsys, apache.url("/secure"), "--tls", "1.3")
    assert document["verdict"]["cause"] == "rejected_by_application"
    assert "--tls 1.2" in document["verdict"]["summary"]
    # The advice holds: over TLS 1.2 Apache renegotiates and asks.
    document = _check(capsys, apache.url("/secure"), "--tls", "1.2")
    assert document["verdict"]["cause"] == "no_certificate_sent", document["verdict"]
