"""The lighttpd adapter on real files: tricky syntax, includes, scopes, errors at file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from mtls_doctor.errors import ConfigParseError
from mtls_doctor.serverconf.facts import CrlCheck, FileRole, ServerKind, VerifyMode, Where
from mtls_doctor.serverconf.lighttpd import parse_lighttpd
from mtls_doctor.serverconf.lint import detect_kind, parse_config
from tests.cli import run_cli


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


TRICKY = """\
# lighttpd.conf with everything the reader must get through
var.confdir = "/etc/lighttpd"   # a variable
var.ca = "clients"
server.modules = (
    "mod_access",
    "mod_openssl",   # trailing comma below
)
server.modules += ( "mod_accesslog" )
server.port = 8080
server.bind = "127.0.0.1"
server.tag = "say \\"hi\\" # not a comment"
mimetype.assign = ( ".html" => "text/html", ".css" => "text/css" )
ssl.ca-file = "ca/" + ca + ".pem"
ssl.verifyclient.depth = 2
include "conf.d/*.conf"
include_shell "/usr/share/lighttpd/create-mime.conf.pl"

$SERVER["socket"] == "127.0.0.1:8443" {
    ssl.engine = "enable"
    ssl.verifyclient.activate = "enable"
    $HTTP["host"] =~ "^admin\\." {
        ssl.verifyclient.enforce = "disable"
    }
    else {
        server.document-root = "/srv/www"
    }
}
$SERVER["socket"] == ":9443" {
    ssl.engine = "enable"
    ssl.verifyclient.activate = "enable"
    ssl.verifyclient.enforce = "disable"
    ssl.ca-file = "/etc/other.pem"
    ssl.verifyclient.depth = 4
}
$SERVER["socket"] == ":8081" {
    server.document-root = "/srv/plain"
}
$REQUEST_HEADER["User-Agent"] =~ "curl" { url.access-deny = ( "" ) }
"""


def test_tricky_syntax_arrays_includes_scopes_and_inheritance(tmp_path: Path) -> None:
    main = write(tmp_path / "lighttpd.conf", TRICKY)
    extra = write(tmp_path / "conf.d" / "10-crl.conf", '\n\nssl.ca-crl-file = "crl.pem"\n')

    facts = parse_lighttpd(main)

    assert facts.kind is ServerKind.LIGHTTPD
    assert facts.files == (str(main), str(extra))
    first, second = facts.blocks  # :8081 does not do TLS
    assert first.listen == ("127.0.0.1:8443",)
    assert first.where == Where(file=str(main), line=18)
    assert first.verify is VerifyMode.REQUIRED  # enforce defaults to enable
    assert first.verify_at == Where(file=str(main), line=20)
    # Inherited from the global scope: the concatenated ca-file, the depth, the included CRL.
    ca, crl = first.files
    assert (ca.role, ca.path, ca.where.line) == (
        FileRole.CLIENT_CA,
        str(tmp_path / "ca" / "clients.pem"),
        13,
    )
    assert (crl.role, crl.where) == (FileRole.CRL, Where(file=str(extra), line=3))
    assert first.crl_check is CrlCheck.CHAIN
    assert (first.verify_depth, first.verify_depth_at) == (2, Where(file=str(main), line=14))
    # The block's own settings win.
    assert second.listen == (":9443",)
    assert second.verify is VerifyMode.OPTIONAL_NO_CA
    assert second.verify_at == Where(file=str(main), line=31)
    assert [f.path for f in second.files if f.role.trusted] == ["/etc/other.pem"]
    assert second.verify_depth == 4
    notes = " ".join(first.notes)
    assert "include_shell" in notes and "not run" in notes
    assert '$HTTP["host"] =~' in notes and "else branch" in notes
    assert '$REQUEST_HEADER["User-Agent"] =~ "curl"' in notes
    assert "TLS by" not in notes  # mod_openssl is what the verdicts model


def test_global_tls_block_and_tls_module(tmp_path: Path) -> None:
    main = write(
        tmp_path / "lighttpd.conf",
        'server.modules = ("mod_gnutls")\nserver.port = 443\nssl.engine = "enable"\n'
        'ssl.ca-file = "/ca.pem"\nssl.ca-dn-file = "/names.pem"\n'
        'ssl.verifyclient.activate = "enable"\n'
        '$SERVER["socket"] == ":8443" { ssl.verifyclient.activate = "disable" }\n',
    )

    global_block, socket = parse_lighttpd(main).blocks

    assert global_block.listen == (":443",)
    assert global_block.name == "mod_gnutls"
    assert [(f.role, f.path) for f in global_block.files] == [
        (FileRole.TRUSTED_ONLY, "/ca.pem"),
        (FileRole.CA_NAMES, "/names.pem"),
    ]
    assert global_block.verify_depth is None
    assert any("TLS by mod_gnutls" in n for n in global_block.notes)
    # ssl.engine is inherited by the socket block; client auth is switched off there.
    assert socket.listen == (":8443",)
    assert socket.verify is VerifyMode.NONE


def test_relative_includes_resolve_against_the_main_files_directory(tmp_path: Path) -> None:
    main = write(tmp_path / "etc" / "lighttpd.conf", 'include "conf.d/a.conf"\n')
    # a.conf names b.conf relative to the main file's directory, as lighttpd's basedir does.
    write(tmp_path / "etc" / "conf.d" / "a.conf", 'include "conf.d/b.conf"\n')
    b = write(tmp_path / "etc" / "conf.d" / "b.conf", 'ssl.engine = "enable"\n')

    facts = parse_lighttpd(main, root=tmp_path)

    assert facts.files[-1] == str(b)
    assert facts.root == str(tmp_path)
    (block,) = facts.blocks
    assert block.verify is VerifyMode.NONE


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ('server.port = 80\nssl.engine = "enable"\nssl.ca-file "x"\n', 3, "followed by ="),
        ('server.modules = ("a", "b"\n\n', 1, "not closed"),
        ('server.port = 80\n$SERVER["socket"] == ":443" {\nssl.engine = "enable"\n', 3, "closed"),
        ("server.port = 80\n}\n", 2, "without an opening"),
        ('ssl.ca-file = unknown + "x"\n', 1, "undefined variable unknown"),
        ('server.port = 80\ninclude "missing.conf"\n', 2, "not found"),
        ('ssl.engine = "enable"\nssl.verifyclient.depth = "deep"\n', 2, "expects a number"),
        ('ssl.engine = "maybe"\n', 1, '"enable" or "disable"'),
        ("server.port = 80\nserver.tag = 'single'\n", 2, "unexpected"),
        ("server.port = 80\nelse { }\n", 2, "without a condition"),
        ('server.tag = "a" + ("b")\n', 1, "cannot be joined"),
    ],
)
def test_bad_syntax_is_a_parse_error_at_file_and_line(
    tmp_path: Path, text: str, line: int, says: str
) -> None:
    main = write(tmp_path / "lighttpd.conf", text)
    with pytest.raises(ConfigParseError) as caught:
        parse_lighttpd(main)
    assert (caught.value.path, caught.value.line) == (str(main), line)
    assert says in str(caught.value)


def test_an_include_loop_is_refused_where_it_is_named(tmp_path: Path) -> None:
    main = write(tmp_path / "lighttpd.conf", 'server.port = 80\ninclude "*.conf"\n')
    with pytest.raises(ConfigParseError) as caught:
        parse_lighttpd(main)
    assert (caught.value.path, caught.value.line) == (str(main), 2)
    assert "include loop" in str(caught.value)


def test_detected_from_the_content_and_forced_with_type(tmp_path: Path) -> None:
    conf = write(tmp_path / "site.conf", TRICKY)
    write(tmp_path / "conf.d" / "none.txt", "")
    assert detect_kind(conf) is ServerKind.LIGHTTPD
    assert parse_config(conf).kind is ServerKind.LIGHTTPD
    assert parse_config(conf, kind=ServerKind.LIGHTTPD).blocks


def test_cli_reads_lighttpd_and_reports_a_parse_error_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write(tmp_path / "lighttpd.conf", TRICKY)
    run = run_cli(capsys, "lint-server", str(good), "--type", "lighttpd")
    assert run.code == 1  # the CA files do not exist
    assert "socket 127.0.0.1:8443 (mod_openssl)" in run.out
    assert "ssl.verifyclient.depth = 2: up to 1 intermediate CA(s)" in run.out
    bad = write(tmp_path / "bad" / "lighttpd.conf", 'ssl.engine = "enable"\nssl.ca-file = (\n')
    run = run_cli(capsys, "lint-server", str(bad))
    assert run.code == 2
    assert "Traceback" not in run.err
    assert f"{bad}:2" in run.err
