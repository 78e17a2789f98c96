"""Terminal escape sequences in untrusted text: shown escaped in text, exact in JSON."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from mtls_doctor.lab.pki import LabPKI
from tests.cli import Run, run_cli
from tests.conftest import LAB_NOW
from tests.hostile.pki import client_cert
from tests.hostile.tls import HOSTILE, hostile_tls_server

RAW = ("\x1b", "\x07", "\x9b", "\u202e")


def assert_tamed(text: str) -> None:
    """No raw control character a terminal would obey; the visible form instead."""
    for char in RAW:
        assert char not in text, repr(char)
    assert "\\x1b[2J" in text


def strings(value: object) -> list[str]:
    """Every string inside a decoded JSON document."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def assert_json_exact(result: Run) -> None:
    for char in RAW[2:]:  # C0 is escaped by JSON itself; C1 and bidi by us, as \uXXXX
        assert char not in result.out


def test_probe(capsys: pytest.CaptureFixture[str]) -> None:
    with hostile_tls_server() as port:
        text = run_cli(capsys, "probe", f"127.0.0.1:{port}")
        as_json = run_cli(capsys, "probe", "--json", f"127.0.0.1:{port}")
    assert_tamed(text.out + text.err)
    document = as_json.json
    assert document["acceptable_ca_names"][0].startswith("CN=server\x1b[2J")
    assert HOSTILE.replace(";", "\\;") in document["acceptable_ca_names"][0]
    assert_json_exact(as_json)


def test_check_without_a_certificate(capsys: pytest.CaptureFixture[str]) -> None:
    with hostile_tls_server() as port:
        text = run_cli(capsys, "check", f"127.0.0.1:{port}")
        as_json = run_cli(capsys, "check", "--json", f"127.0.0.1:{port}")
    assert_tamed(text.out + text.err)
    assert any(HOSTILE.replace(";", "\\;") in s for s in strings(as_json.json))
    assert_json_exact(as_json)


def test_inspect_local_subject_and_file_name(
    lab: LabPKI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cert, key = client_cert(lab.intermediate, now=LAB_NOW, cn=f"alice{HOSTILE}")
    path = tmp_path / "id\x1b[2J.pem"
    path.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    text = run_cli(capsys, "inspect", "--at", LAB_NOW.isoformat(), str(path))
    assert_tamed(text.out + text.err)
    as_json = run_cli(capsys, "inspect", "--json", "--at", LAB_NOW.isoformat(), str(path))
    (identity,) = as_json.json["identities"]
    assert identity["subject"] == "CN=alice" + HOSTILE.replace(";", "\\;")
    assert identity["source"] == str(path)


def test_error_line_with_a_hostile_file_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(capsys, "inspect", str(tmp_path / "gone\x1b[2J.pem"))
    assert result.code == 2
    assert_tamed(result.err)


def test_lint_server_config_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        "events {}\nhttp {\n  server {\n    listen 443 ssl;\n"
        '    server_name "evil\x1b[2J.example";\n'
        "    ssl_certificate /x.pem;\n    ssl_certificate_key /x.key;\n"
        "    ssl_verify_client on;\n"
        '    ssl_client_certificate "/nowhere/\x1b[2Jca.pem";\n  }\n}\n'
    )
    text = run_cli(capsys, "lint-server", str(conf))
    assert text.code == 1, text.err
    assert_tamed(text.out + text.err)
    as_json = run_cli(capsys, "lint-server", "--json", str(conf))
    (server,) = as_json.json["servers"]
    assert server["ca_files"] == ["/nowhere/\x1b[2Jca.pem"]


def test_explain_input(capsys: pytest.CaptureFixture[str]) -> None:
    line = "\x1b[2J\x1b]0;pwned\x07 SSL alert number 48"
    text = run_cli(capsys, "explain", line)
    assert text.code in (0, 1), text.err
    for char in RAW[:2]:
        assert char not in text.out
    as_json = run_cli(capsys, "explain", "--json", line)
    assert line in strings(as_json.json)
