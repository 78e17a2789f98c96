"""What the command line does at its edges: an unexpected failure is not a
verdict, options that are silently ignored or ambiguous are refused."""

from __future__ import annotations

import json

import pytest

from mtls_doctor import ui as ui_module
from mtls_doctor.commands import inspect as inspect_command
from mtls_doctor.lab.pki import LabPKI
from tests.cli import assert_one_clean_error_line, run_cli

SECRET = "s3cret-in-an-exception"


@pytest.mark.parametrize("json_mode", [False, True])
def test_an_internal_error_has_its_own_exit_code(
    lab: LabPKI,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    json_mode: bool,
) -> None:
    # A bug inside a command (here: a command that raises what no code expects).
    def broken(*_args: object) -> int:
        raise RuntimeError(f"unexpected state {SECRET}")

    monkeypatch.delenv("MTLS_DOCTOR_DEBUG", raising=False)
    monkeypatch.setattr(inspect_command, "run", broken)
    argv = ["inspect", str(lab.identities["good-rsa"].pem), *(["--json"] if json_mode else [])]
    result = run_cli(capsys, *argv)
    assert result.code == ui_module.EXIT_INTERNAL == 70
    assert result.code not in (0, 1, 2, 3)  # never confused with a verdict
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "internal error" in lines[0]
    assert ui_module.REPORT_URL in lines[0]
    assert "Traceback" not in result.err and SECRET not in result.out + result.err
    if json_mode:
        assert json.loads(result.out)["error"]["code"] == "internal"
    else:
        assert result.out == ""


def test_key_or_select_without_cert_is_refused(
    lab: LabPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    key = lab.identities["good-rsa"].key
    assert key is not None
    for argv in (["--key", str(key)], ["--select", "good-rsa"]):
        result = run_cli(capsys, "check", "127.0.0.1:9", *argv)
        assert_one_clean_error_line(result, 2)
        assert "goes with --cert" in result.err


def test_an_ambiguous_select_lists_the_candidates(
    lab: LabPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = str(lab.directory / "identities")
    result = run_cli(
        capsys, "check", "127.0.0.1:9", "--cert", folder, "--select", "good",
        "--password-file", str(lab.password_file),
    )  # fmt: skip
    assert_one_clean_error_line(result, 2)
    assert "matches 2 different certificates" in result.err
    assert "good-rsa@lab.test" in result.err and "good-ecdsa@lab.test" in result.err
    assert format(lab.identities["good-rsa"].certificate.serial_number, "x")[:8] in result.err


def test_a_select_that_matches_nothing_is_short(
    lab: LabPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = str(lab.directory / "identities")
    result = run_cli(
        capsys, "check", "127.0.0.1:9", "--cert", folder, "--select", "nobody",
        "--password-file", str(lab.password_file),
    )  # fmt: skip
    assert_one_clean_error_line(result, 2)
    assert "matches no identity" in result.err
    assert len(result.err) < 1000  # was ~7000 characters: every file, every full subject
    assert "more certificates" in result.err


def test_the_same_certificate_in_several_files_is_not_ambiguous(
    lab: LabPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    # good-rsa.crt, .pem, .p12, .protected.p12 are one certificate: one choice.
    folder = str(lab.directory / "identities")
    result = run_cli(
        capsys, "check", "127.0.0.1:9", "--cert", folder, "--select", "good-rsa@",
        "--password-file", str(lab.password_file),
    )  # fmt: skip
    assert result.code == 3  # it got as far as the network (nothing listens on port 9)
