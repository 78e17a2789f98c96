"""lint-server names the server formats it does not read yet, in one line, exit 2.

Each sample is what the server's own documentation writes for client
certificates (written under the name the server gives it, and under a
neutral name, since detection reads content, not names).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli import assert_one_clean_error_line, run_cli

SAMPLES = {
    "Caddy": (
        "Caddyfile",
        "mtls.example:8443 {\n"
        "\ttls /etc/caddy/server.pem /etc/caddy/server.key {\n"
        "\t\tclient_auth {\n"
        "\t\t\tmode require_and_verify\n"
        "\t\t\ttrusted_ca_cert_file /etc/caddy/clients.pem\n"
        "\t\t}\n"
        "\t}\n"
        "\treverse_proxy 127.0.0.1:8080\n"
        "}\n",
    ),
    "Caddy (Caddyfile)": (
        "Caddyfile",
        "mtls.example {\n\ttls internal\n\treverse_proxy 127.0.0.1:8080\n}\n",
    ),
    "stunnel": (
        "stunnel.conf",
        "foreground = yes\n[redis-tls]\naccept = 6380\nconnect = 127.0.0.1:6379\n"
        "cert = /etc/stunnel/server.pem\nCAfile = /etc/stunnel/clients.pem\nverifyChain = yes\n",
    ),
    "Mosquitto": (
        "mosquitto.conf",
        "listener 8883\ncafile /etc/mosquitto/ca.pem\ncertfile /etc/mosquitto/server.pem\n"
        "keyfile /etc/mosquitto/server.key\nrequire_certificate true\n"
        "use_identity_as_username true\nallow_anonymous false\n",
    ),
    "Redis": (
        "redis.conf",
        "port 0\ntls-port 6379\ntls-cert-file /etc/redis/server.pem\n"
        "tls-key-file /etc/redis/server.key\ntls-ca-cert-file /etc/redis/ca.pem\n"
        "tls-auth-clients yes\nappendonly no\n",
    ),
    "PostgreSQL (postgresql.conf)": (
        "postgresql.conf",
        "listen_addresses = '*'\nmax_connections = 100\nssl = on\n"
        "ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nssl_ca_file = 'root.crt'\n",
    ),
    "MySQL/MariaDB (my.cnf)": (
        "my.cnf",
        "[mariadb]\nbind-address = 0.0.0.0\nrequire_secure_transport = ON\n"
        "ssl_cert = /etc/my.cnf.d/certificates/server-cert.pem\n"
        "ssl_key = /etc/my.cnf.d/certificates/server-key.pem\n"
        "ssl_ca = /etc/my.cnf.d/certificates/ca.pem\n",
    ),
    "PostgreSQL (pg_hba.conf)": (
        "pg_hba.conf",
        "# TYPE  DATABASE  USER  ADDRESS  METHOD\nlocal   all   all   peer\n"
        "hostssl all   all   0.0.0.0/0   cert\n"
        "hostssl app   all   10.0.0.0/8  scram-sha-256 clientcert=verify-full\n",
    ),
}


@pytest.mark.parametrize("kind", sorted(SAMPLES))
@pytest.mark.parametrize("named", [True, False], ids=["own-name", "neutral-name"])
def test_unsupported_formats_are_named_not_misparsed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, named: bool
) -> None:
    file_name, text = SAMPLES[kind]
    config = tmp_path / (file_name if named else "server.conf")
    config.write_text(text)

    result = run_cli(capsys, "lint-server", str(config))
    as_json = run_cli(capsys, "lint-server", "--json", str(config))

    assert_one_clean_error_line(result, 2)
    assert kind in result.err and "not supported yet" in result.err
    assert as_json.code == 2
    assert as_json.json["error"]["code"] == "unsupported_config"


@pytest.mark.parametrize("kind", ["haproxy", "nginx", "apache", None])
def test_an_empty_file_holds_no_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str | None
) -> None:
    empty = tmp_path / "empty-file"
    empty.write_text("\n# nothing here\n")
    result = run_cli(capsys, "lint-server", str(empty), *(["--type", kind] if kind else []))
    assert result.code == 2, result.out + result.err
    assert "holds no configuration" in result.err


def test_a_picture_is_not_a_text_configuration_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    picture = tmp_path / "pic.jpg"
    picture.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00" + bytes(range(256)))
    result = run_cli(capsys, "lint-server", str(picture))
    assert result.code == 2
    assert "not a text configuration file" in result.err
    assert "--type" not in result.err
