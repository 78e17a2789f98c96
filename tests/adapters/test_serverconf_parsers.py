"""The configuration adapters on real files: includes, file:line, inheritance, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from mtls_doctor.errors import ConfigParseError
from mtls_doctor.lab.pki import LabPKI
from mtls_doctor.serverconf.apache import parse_apache
from mtls_doctor.serverconf.facts import (
    CrlCheck,
    FileProblem,
    FileRole,
    ServerKind,
    VerifyMode,
    Where,
)
from mtls_doctor.serverconf.haproxy import parse_haproxy
from mtls_doctor.serverconf.lint import detect_kind
from mtls_doctor.serverconf.material import MaterialLoader
from mtls_doctor.serverconf.nginx import parse_nginx


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# --------------------------------------------------------------------------- nginx


def test_nginx_follows_includes_with_the_right_file_and_line(tmp_path: Path) -> None:
    main = write(
        tmp_path / "nginx.conf",
        "events {}\nhttp {\n    ssl_verify_client on;\n    include sites/*.conf;\n}\n",
    )
    site = write(
        tmp_path / "sites" / "b.conf",
        "# site b\nserver {\n    listen 443 ssl;\n    server_name b.example;\n"
        "    ssl_client_certificate ca/clients.pem;\n    ssl_verify_depth 2;\n}\n",
    )
    write(tmp_path / "sites" / "a.conf", "server {\n    listen 80;\n}\n")

    facts = parse_nginx(main)

    assert facts.files == (str(main), str(tmp_path / "sites" / "a.conf"), str(site))
    (block,) = facts.blocks
    assert block.where == Where(file=str(site), line=2)
    assert block.verify is VerifyMode.REQUIRED
    assert block.verify_at == Where(file=str(main), line=3)  # inherited from http
    (ca,) = block.files
    assert (ca.role, ca.path, ca.where.line) == (
        FileRole.CLIENT_CA,
        str(tmp_path / "ca" / "clients.pem"),
        5,
    )
    assert (block.verify_depth, block.verify_depth_at) == (2, Where(file=str(site), line=6))
    assert block.name == "b.example" and block.listen == ("443",)


def test_nginx_root_option_moves_relative_paths(tmp_path: Path) -> None:
    site = write(
        tmp_path / "site.conf",
        "server {\n listen 443 ssl;\n ssl_verify_client optional;\n"
        " ssl_client_certificate ca.pem;\n ssl_crl crl.pem;\n}\n",
    )

    (block,) = parse_nginx(site, root="/etc/nginx").blocks

    assert [f.path for f in block.files] == ["/etc/nginx/ca.pem", "/etc/nginx/crl.pem"]
    assert block.crl_check is CrlCheck.CHAIN
    assert block.verify is VerifyMode.OPTIONAL


def test_nginx_verify_checks_and_map(tmp_path: Path) -> None:
    site = write(
        tmp_path / "site.conf",
        "map $ssl_client_verify $refuse { default 1; SUCCESS 0; }\n"
        "server {\n listen 443 ssl;\n ssl_verify_client optional;\n"
        " location / { if ($refuse) { return 403; } }\n"
        " location /api { proxy_set_header X-Verify $ssl_client_verify; }\n}\n",
    )

    (block,) = parse_nginx(site).blocks

    assert {(c.where.line, c.forwarded) for c in block.verify_checks} == {
        (5, False),
        (1, False),
        (6, True),
    }


def test_nginx_client_auth_in_a_plain_server_is_recorded_as_ignored(tmp_path: Path) -> None:
    site = write(tmp_path / "site.conf", "server {\n listen 80;\n ssl_verify_client on;\n}\n")

    facts = parse_nginx(site)

    assert facts.blocks == ()
    assert [(i.directive, i.where.line) for i in facts.ignored] == [("ssl_verify_client", 3)]


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("http {\n server {\n listen 443 ssl;\n", 3, "unexpected end of file"),
        ("http {\n include nothere.conf;\n}\n", 2, "no such file"),
    ],
)
def test_nginx_errors_name_file_and_line(tmp_path: Path, text: str, line: int, reason: str) -> None:
    main = write(tmp_path / "nginx.conf", text)

    with pytest.raises(ConfigParseError, match=reason) as caught:
        parse_nginx(main)

    assert (caught.value.path, caught.value.line) == (str(main), line)


def test_nginx_include_loop_is_an_error(tmp_path: Path) -> None:
    main = write(tmp_path / "nginx.conf", "http { include loop.conf; }\n")
    write(tmp_path / "loop.conf", "include loop.conf;\n")

    with pytest.raises(ConfigParseError, match="include loop"):
        parse_nginx(main)


# --------------------------------------------------------------------------- Apache


def test_apache_includes_defines_continuations_and_inheritance(tmp_path: Path) -> None:
    main = write(
        tmp_path / "apache2.conf",
        f"ServerRoot {tmp_path}\nDefine CERTS /srv/certs\nSSLVerifyClient require\n"
        "SSLVerifyDepth 3\nIncludeOptional conf-enabled/*.conf\nIncludeOptional missing/*.conf\n"
        "Include sites-enabled/\n",
    )
    write(
        tmp_path / "conf-enabled" / "ssl.conf",
        "<IfModule ssl_module>\n SSLProtocol all\n</IfModule>\n",
    )
    site = write(
        tmp_path / "sites-enabled" / "one.conf",
        "<VirtualHost *:443 \\\n    [::]:443>\n  ServerName one.example\n  SSLEngine on\n"
        '  SSLCACertificateFile "${CERTS}/clients.pem"\n  SSLCARevocationFile crl.pem\n'
        "  SSLCARevocationCheck chain no_crl_for_cert_ok\n"
        "  <Location /admin>\n    SSLVerifyClient require\n  </Location>\n"
        "</VirtualHost>\n<VirtualHost *:80>\n  SSLVerifyClient require\n</VirtualHost>\n",
    )

    facts = parse_apache(main)

    assert facts.root_reason == "ServerRoot"
    (block,) = facts.blocks
    assert block.where == Where(file=str(site), line=1)
    assert block.listen == ("*:443", "[::]:443")
    assert block.verify_at == Where(file=str(main), line=3)
    assert block.verify_depth == 3
    assert [(f.role, f.path) for f in block.files] == [
        (FileRole.CLIENT_CA, "/srv/certs/clients.pem"),
        (FileRole.CRL, str(tmp_path / "crl.pem")),
    ]
    assert (block.crl_check, block.crl_missing_ok) == (CrlCheck.CHAIN, True)
    assert block.protocols == "all"
    assert [(s.scope, s.where.line) for s in block.scoped_verify] == [("<Location /admin>", 9)]
    assert [(i.directive, i.where.line) for i in facts.ignored] == [("SSLVerifyClient", 13)]


def test_apache_ifdefine_is_evaluated(tmp_path: Path) -> None:
    main = write(
        tmp_path / "httpd.conf",
        "Define MTLS\n<VirtualHost *:443>\nSSLEngine on\n<IfDefine MTLS>\nSSLVerifyClient require\n"
        "</IfDefine>\n<IfDefine !MTLS>\nSSLVerifyClient none\n</IfDefine>\n</VirtualHost>\n",
    )

    (block,) = parse_apache(main).blocks

    assert block.verify is VerifyMode.REQUIRED and block.verify_at is not None
    assert block.verify_at.line == 5


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("<VirtualHost *:443>\nSSLEngine on\n", 1, "never closed"),
        ("<VirtualHost *:443>\n</Location>\n", 2, "closes"),
        ("Include nowhere/*.conf\n", 1, "no matches"),
        ("Include nowhere.conf\n", 1, "no such file"),
        ('SSLCACertificateFile "unterminated\n', 1, "unterminated quote"),
    ],
)
def test_apache_errors_name_file_and_line(
    tmp_path: Path, text: str, line: int, reason: str
) -> None:
    main = write(tmp_path / "httpd.conf", text)

    with pytest.raises(ConfigParseError, match=reason) as caught:
        parse_apache(main)

    assert caught.value.line == line


# --------------------------------------------------------------------------- HAProxy


def test_haproxy_bind_options_ca_base_and_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CA_DIR", "/env/ca")
    cfg = write(
        tmp_path / "haproxy.cfg",
        "global\n    ca-base /etc/haproxy/ca   # comment\n\ndefaults\n    mode http\n\n"
        "frontend www\n"
        '    bind :443,:8443 ssl crt "/etc/x y.pem" verify optional ca-file root.pem '
        "crl-file crl.pem crt-ignore-err 10,12 ca-ignore-err all no-ca-names\n"
        '    bind :9443 ssl crt x.pem verify required ca-file "${CA_DIR}/r.pem" '
        "crt-list list.txt\n"
        "    bind :80\n"
        "    http-request deny if !{ ssl_c_used }  # refuse without a certificate\n"
        "    http-request set-header X-Verify %[ssl_c_verify]\n",
    )

    facts = parse_haproxy(cfg)

    first, second = facts.blocks
    assert (first.where.line, first.listen, first.verify) == (
        8,
        (":443", ":8443"),
        VerifyMode.OPTIONAL,
    )
    assert [f.path for f in first.files] == ["/etc/haproxy/ca/root.pem", "/etc/haproxy/ca/crl.pem"]
    assert first.crl_check is CrlCheck.CHAIN
    assert [(i.option, i.values) for i in first.ignore_errors] == [
        ("crt-ignore-err", ("10", "12")),
        ("ca-ignore-err", ("all",)),
    ]
    assert first.no_ca_names_at == Where(file=str(cfg), line=8)
    assert {(c.where.line, c.forwarded) for c in first.verify_checks} == {(11, False), (12, True)}
    assert second.files[0].path == "/env/ca/r.pem"
    assert second.notes and "crt-list" in second.notes[0]
    assert facts.root_reason == "ca-base (line 2)"


def test_haproxy_errors(tmp_path: Path) -> None:
    cfg = write(tmp_path / "haproxy.cfg", "frontend f\n    bind :443 ssl crt\n")

    with pytest.raises(ConfigParseError, match="'crt' expects a value") as caught:
        parse_haproxy(cfg)

    assert caught.value.line == 2


# --------------------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("events {}\nhttp {\n server {\n  listen 443 ssl;\n }\n}\n", ServerKind.NGINX),
        ("server {\n    listen 443 ssl;\n}\n", ServerKind.NGINX),
        ("<VirtualHost *:443>\n SSLEngine on\n</VirtualHost>\n", ServerKind.APACHE),
        ("ServerRoot /etc/apache2\nIncludeOptional sites-enabled/*.conf\n", ServerKind.APACHE),
        ("global\n    daemon\nfrontend f\n    bind :443 ssl crt x.pem\n", ServerKind.HAPROXY),
    ],
)
def test_detect_kind(tmp_path: Path, text: str, kind: ServerKind) -> None:
    assert detect_kind(write(tmp_path / "some.conf", text)) is kind


def test_detect_kind_gives_up_plainly(tmp_path: Path) -> None:
    with pytest.raises(ConfigParseError, match="--type"):
        detect_kind(write(tmp_path / "notes.txt", "hello world\n"))


# --------------------------------------------------------------------------- CA / CRL files


def test_material_loader_reads_files_like_the_servers(lab: LabPKI, tmp_path: Path) -> None:
    write(tmp_path / "empty.pem", "")
    (tmp_path / "root.der").write_bytes(
        lab.root.certificate.public_bytes(serialization.Encoding.DER)
    )
    broken = lab.client_ca_bundle.read_text().replace("MII", "!!!", 1)
    write(tmp_path / "broken.pem", broken + lab.client_ca_bundle.read_text())
    crls = tmp_path / "crls.pem"
    crls.write_bytes(
        (lab.directory / "ca" / "root.crl.pem").read_bytes() + lab.crl_file.read_bytes()
    )
    site = write(
        tmp_path / "nginx.conf",
        "server {\n listen 443 ssl;\n ssl_verify_client on;\n"
        f" ssl_client_certificate {lab.client_ca_bundle};\n"
        " ssl_trusted_certificate broken.pem;\n"
        f" ssl_crl {crls};\n}}\n",
    )
    der_site = write(
        tmp_path / "der.conf",
        "server {\n listen 443 ssl;\n ssl_verify_client on;\n ssl_client_certificate root.der;\n"
        " ssl_trusted_certificate empty.pem;\n ssl_crl nothere.pem;\n}\n",
    )
    loader = MaterialLoader()

    (block,) = parse_nginx(site).blocks
    ca, trusted, crl = loader.load(block).material.files
    (der_block,) = parse_nginx(der_site).blocks
    der, empty, missing = loader.load(der_block).material.files

    assert ca.problem is None and ca.certificates[0].subject == "CN=Lab Root CA,O=mtls-doctor lab"
    assert trusted.problem is None and "do not parse" in trusted.detail
    root_crl, inter_crl = crl.crls
    assert root_crl.verified_by == ca.certificates[0].fingerprint_sha256
    assert inter_crl.verified_by is None  # its CA is not trusted here: the client sends it
    assert (der.problem, "DER" in der.detail) == (FileProblem.NO_CONTENT, True)
    assert empty.problem is FileProblem.EMPTY
    assert missing.problem is FileProblem.MISSING
