"""A password typed on the command line (curl's ``FILE:PASSWORD``, ``--password``)
is refused and never printed back: not on stdout, stderr or in JSON."""

from __future__ import annotations

from pathlib import Path

import pytest

from mtls_doctor.lab.pki import LabPKI
from tests.cli import assert_one_clean_error_line, run_cli

SECRET = "hunter2-Sekr1t"


def _commands(p12: str, config: str) -> list[list[str]]:
    with_secret = f"{p12}:{SECRET}"
    missing = f"/nonexistent/alice.p12:{SECRET}"
    return [
        ["check", "127.0.0.1:9", "--cert", with_secret],
        ["check", "127.0.0.1:9", "--cert", missing],
        ["check", "127.0.0.1:9", "--cert", p12, "--key", with_secret],
        ["check", "127.0.0.1:9", "--ca-bundle", with_secret],
        ["check", "127.0.0.1:9", "--crl", with_secret],
        ["check", "127.0.0.1:9", "--cert", p12, "--password", SECRET],
        ["check", "127.0.0.1:9", "--cert", p12, f"--password={SECRET}"],
        ["check", "127.0.0.1:9", "--cert", p12, "--pw", SECRET],
        ["inspect", with_secret],
        ["inspect", missing],
        ["inspect", p12, "--pass", SECRET],
        ["lint-server", f"{config}:{SECRET}"],
        ["lint-server", config, "--user-cert", with_secret],
        ["explain", "--file", with_secret],
        ["watch", "--cert", with_secret],
        ["watch", "--cert", p12, "--password", SECRET],
        ["exporter", "--cert", with_secret],
        ["identities", "--for", "127.0.0.1:9", "--cert", with_secret],
        ["identities", "--for", "127.0.0.1:9", "--cert", p12, "--key", with_secret],
    ]


@pytest.mark.parametrize("json_mode", [False, True])
def test_no_command_prints_a_password_given_on_the_command_line(
    lab: LabPKI, tmp_path: Path, capsys: pytest.CaptureFixture[str], json_mode: bool
) -> None:
    config = tmp_path / "nginx.conf"
    config.write_text("events {}\n")
    p12 = lab.identities["good-rsa"].p12_protected
    assert p12 is not None
    for argv in _commands(str(p12), str(config)):
        result = run_cli(capsys, *argv, *(["--json"] if json_mode else []))
        assert_one_clean_error_line(result, 2)
        assert SECRET not in result.out + result.err, argv
        if json_mode:
            assert result.json["error"]["code"] == "usage"


def test_curl_style_password_gets_the_way_that_works(
    lab: LabPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    p12 = lab.identities["good-rsa"].p12_protected
    result = run_cli(capsys, "check", "127.0.0.1:9", "--cert", f"{p12}:{SECRET}")
    assert f"{p12}:" in result.err and "FILE:PASSWORD" in result.err
    assert "--password-env" in result.err and "--password-file" in result.err


BARE = "s3cretPW"


def test_a_password_typed_where_a_path_or_variable_goes_is_never_echoed(
    lab: LabPKI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p12 = str(lab.identities["good-rsa"].p12_protected)
    config = tmp_path / "nginx.conf"
    config.write_text("events {}\n")
    cases = [
        (["check", "127.0.0.1:9", "--cert", p12, "--password-file", BARE], "--password-file"),
        (["inspect", p12, "--password-file", f"/nonexistent/{BARE}"], "--password-file"),
        (["inspect", p12, "--password-env", BARE], "--password-env"),
        (["check", "127.0.0.1:9", "--cert", BARE], "--cert"),
        (["check", "127.0.0.1:9", "--cert", p12, "--key", BARE], "--key"),
        (["check", "127.0.0.1:9", "--ca-bundle", BARE], "--ca-bundle"),
        (["check", "127.0.0.1:9", "--crl", BARE], "--crl"),
        (["inspect", BARE], "PATH"),
        (["lint-server", str(config), "--user-cert", BARE], "--user-cert"),
        (["explain", "--file", BARE], "--file"),
        (["identities", "--for", "127.0.0.1:9", "--cert", BARE], "--cert"),
    ]
    for argv, option in cases:
        result = run_cli(capsys, *argv)
        assert_one_clean_error_line(result, 2)
        assert BARE not in result.out + result.err, argv
        assert option in result.err, argv


def test_a_value_that_looks_like_a_path_is_still_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for missing in (str(tmp_path / "client"), "client.pem"):
        result = run_cli(capsys, "check", "127.0.0.1:9", "--cert", missing)
        assert_one_clean_error_line(result, 2)
        assert missing in result.err
