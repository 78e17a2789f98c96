"""https:// offers h2 and http/1.1 by ALPN and speaks the one chosen: nginx with HTTP/2.

A server that chooses h2 is judged by its HTTP/2 answer (status and page),
exactly as by its HTTP/1.1 one; a bare host:port on a port that is not
well known still gets HTTP when the server's ALPN choice says so.
"""

from __future__ import annotations

import pytest

from mtls_doctor.lab.pki import LabPKI
from tests.servers.real import RunningServer, ServerRunner, start_nginx_config
from tests.services.common import cert_args, check_json

pytestmark = pytest.mark.realserver


@pytest.fixture(scope="module")
def nginx_h2(module_servers: ServerRunner, live_lab: LabPKI) -> RunningServer:
    block = f"""
    server {{
        listen 127.0.0.1:{{port}} ssl http2;
        ssl_certificate {live_lab.server_pem};
        ssl_certificate_key {live_lab.server_key_file};
        ssl_client_certificate {live_lab.client_ca_bundle};
        ssl_verify_client on;
        ssl_verify_depth 3;
        location /admin {{ return 403 "forbidden for $ssl_client_s_dn\\n"; }}
        location / {{ return 200 "hello over $server_protocol\\n"; }}
    }}
    """
    return module_servers(start_nginx_config, block)


def test_good_certificate_is_accepted_over_http2(
    capsys: pytest.CaptureFixture[str], nginx_h2: RunningServer, live_lab: LabPKI
) -> None:
    code, doc = check_json(capsys, nginx_h2.url(), *cert_args(live_lab, "good-rsa"))
    assert (code, doc["verdict"]["cause"]) == (0, "accepted"), doc["verdict"]
    assert doc["handshake"]["alpn"] == "h2"
    assert doc["handshake"]["http_version"] == "HTTP/2"
    assert doc["handshake"]["http_first_line"] == "hello over HTTP/2.0"


def test_nginx_400_page_over_http2_means_no_certificate(
    capsys: pytest.CaptureFixture[str], nginx_h2: RunningServer
) -> None:
    code, doc = check_json(capsys, nginx_h2.url())
    assert (code, doc["verdict"]["cause"]) == (1, "no_certificate_sent"), doc["verdict"]
    assert doc["probe"]["http_status"] == 400


def test_expired_certificate_over_http2(
    capsys: pytest.CaptureFixture[str], nginx_h2: RunningServer, live_lab: LabPKI
) -> None:
    code, doc = check_json(capsys, nginx_h2.url(), *cert_args(live_lab, "expired"))
    assert (code, doc["verdict"]["cause"]) == (1, "certificate_expired"), doc["verdict"]
    assert "certificate has expired" in nginx_h2.error_log_text()


def test_403_over_http2_is_an_authorization_rule(
    capsys: pytest.CaptureFixture[str], nginx_h2: RunningServer, live_lab: LabPKI
) -> None:
    code, doc = check_json(capsys, nginx_h2.url("/admin"), *cert_args(live_lab, "good-ecdsa"))
    assert (code, doc["verdict"]["cause"]) == (1, "rejected_by_application"), doc["verdict"]


def test_bare_port_speaks_http_when_alpn_says_so(
    capsys: pytest.CaptureFixture[str], nginx_h2: RunningServer, live_lab: LabPKI
) -> None:
    code, doc = check_json(capsys, nginx_h2.target, *cert_args(live_lab, "good-rsa"))
    assert (code, doc["verdict"]["cause"]) == (0, "accepted"), doc["verdict"]
    assert doc["protocol"] == "tls"
    assert doc["handshake"]["http_status"] == 200
