"""Devices, FIFOs and oversized files wherever the tool opens a file: refused in one line.

Run as subprocesses: a regression that blocks on a FIFO or reads /dev/zero for
ever ends in the subprocess timeout (a failed test), never in a hung suite.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mtls_doctor.errors import InputError
from mtls_doctor.lab.pki import LabPKI
from mtls_doctor.revocation import load_crl_files
from tests.cli import assert_one_clean_error_line, run_process
from tests.servers.hostile import closed_port

LIMIT = 30  # seconds: the safety net, not a measurement


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    """A named pipe no one ever writes to."""
    path = tmp_path / "pipe.pem"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_check_ca_bundle_device(device: str, lab: LabPKI) -> None:
    result = run_process(
        "check",
        f"127.0.0.1:{closed_port()}",
        "--cert",
        str(lab.identities["good-ecdsa"].pem),
        "--ca-bundle",
        device,
        timeout=LIMIT,
    )
    assert_one_clean_error_line(result, 2)
    assert f"{device}: is a device, not a regular file" in result.err


def test_inspect_fifo_and_device(fifo: Path) -> None:
    result = run_process("inspect", "--json", str(fifo), "/dev/zero", timeout=LIMIT)
    assert result.code == 2, result.err
    text = result.out + result.err
    assert "FIFO" in text and "/dev/zero: is a device" in text
    assert "Traceback" not in text


def test_password_file_fifo(fifo: Path, lab: LabPKI) -> None:
    result = run_process(
        "inspect",
        str(lab.identities["good-ecdsa"].p12_protected),
        "--password-file",
        str(fifo),
        timeout=LIMIT,
    )
    assert_one_clean_error_line(result, 2)
    assert "--password-file" in result.err and "FIFO" in result.err


def test_crl_file_fifo_and_device(fifo: Path) -> None:
    for path in (fifo, Path("/dev/zero")):
        with pytest.raises(InputError, match="not a regular file"):
            load_crl_files([path])


def _nginx(tmp_path: Path, server_lines: str, http_lines: str = "") -> Path:
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        "events {}\nhttp {\n" + http_lines + "  server {\n    listen 443 ssl;\n"
        "    ssl_certificate /x.pem;\n    ssl_certificate_key /x.key;\n"
        "    ssl_verify_client on;\n" + server_lines + "  }\n}\n"
    )
    return conf


@pytest.mark.parametrize("directive", ["ssl_client_certificate", "ssl_crl"])
def test_nginx_file_directive_names_a_device(directive: str, tmp_path: Path, fifo: Path) -> None:
    for target in ("/dev/zero", str(fifo)):
        conf = _nginx(tmp_path, f"    {directive} {target};\n")
        result = run_process("lint-server", "--json", str(conf), timeout=LIMIT)
        assert result.code in (0, 1), result.err
        (server,) = json.loads(result.out)["servers"]
        (named,) = [f for f in server["files"] if f["path"] == target]
        assert named["problem"] == "wrong_type"
        assert "not a regular file" in named["detail"]


def test_nginx_include_of_a_fifo(tmp_path: Path, fifo: Path) -> None:
    conf = _nginx(tmp_path, "", http_lines=f"  include {fifo};\n")
    result = run_process("lint-server", str(conf), timeout=LIMIT)
    assert_one_clean_error_line(result, 2)
    assert f"{conf}:3: cannot read {fifo}: is a FIFO" in result.err


def test_apache_include_and_ca_file(tmp_path: Path, fifo: Path) -> None:
    conf = tmp_path / "httpd.conf"
    conf.write_text(
        "Listen 443\n<VirtualHost *:443>\n  SSLEngine on\n  SSLVerifyClient require\n"
        "  SSLCACertificateFile /dev/urandom\n</VirtualHost>\n"
    )
    result = run_process("lint-server", "--json", str(conf), timeout=LIMIT)
    assert result.code in (0, 1), result.err
    (server,) = json.loads(result.out)["servers"]
    assert [f["problem"] for f in server["files"] if f["path"] == "/dev/urandom"] == ["wrong_type"]

    conf.write_text(f"Listen 443\nInclude {fifo}\n")
    included = run_process("lint-server", str(conf), timeout=LIMIT)
    assert_one_clean_error_line(included, 2)
    assert "FIFO" in included.err


def test_haproxy_ca_file_fifo(tmp_path: Path, fifo: Path) -> None:
    conf = tmp_path / "haproxy.cfg"
    conf.write_text(
        "global\n  log stdout local0\n\nfrontend web\n"
        f"  bind :443 ssl crt /x.pem ca-file {fifo} verify required\n"
        "  mode http\n  default_backend app\n\nbackend app\n  server a 127.0.0.1:8080\n"
    )
    result = run_process("lint-server", "--json", str(conf), timeout=LIMIT)
    assert result.code in (0, 1), result.err
    (server,) = json.loads(result.out)["servers"]
    assert [f["problem"] for f in server["files"] if f["path"] == str(fifo)] == ["wrong_type"]


def test_config_itself_is_a_fifo(fifo: Path) -> None:
    result = run_process("lint-server", "--type", "nginx", str(fifo), timeout=LIMIT)
    assert_one_clean_error_line(result, 2)


def test_password_with_a_nul_byte_never_reaches_the_library(lab: LabPKI, tmp_path: Path) -> None:
    secret = "hunter2-\x00-secret"
    password = tmp_path / "pw.txt"
    password.write_bytes(secret.encode() + b"\n")
    p12 = str(lab.identities["good-ecdsa"].p12_protected)

    text = run_process("inspect", p12, "--password-file", str(password), timeout=LIMIT)
    assert_one_clean_error_line(text, 2)
    assert "NUL byte" in text.err

    as_json = run_process("inspect", "--json", p12, "--password-file", str(password), timeout=LIMIT)
    assert as_json.code == 2
    assert json.loads(as_json.out)["error"]["code"] == "wrong_password"
    for output in (text.out + text.err, as_json.out + as_json.err):
        assert "panicked" not in output and "NulError" not in output
        assert "hunter2" not in output and "104, 117, 110" not in output


def test_a_library_panic_is_one_line_and_a_json_error(
    monkeypatch: pytest.MonkeyPatch, lab: LabPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    from cryptography.hazmat.primitives.serialization import pkcs12

    from tests.cli import run_cli

    try:  # the real panic type, from the real library (its hook prints to this test's stderr)
        pkcs12.load_key_and_certificates(
            lab.identities["good-ecdsa"].p12_protected.read_bytes(), b"a\x00b"
        )  # type: ignore[union-attr]
    except BaseException as exc:
        panic = type(exc)
    assert not issubclass(panic, Exception)

    def explode(*_args: object, **_kwargs: object) -> None:
        raise panic("called `Result::unwrap()` on an `Err` value: NulError(1, [104, 117])")

    monkeypatch.setattr("mtls_doctor.bundle.load_material", explode)
    capsys.readouterr()
    result = run_cli(capsys, "inspect", "--json", str(lab.identities["good-ecdsa"].pem))
    assert result.code == 70
    assert result.json["error"]["code"] == "internal"
    assert "NulError" not in result.out + result.err and "104, 117" not in result.out + result.err
