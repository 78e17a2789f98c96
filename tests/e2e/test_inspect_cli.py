"""``mtls-doctor inspect`` as a user runs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mtls_doctor.cli import COMMANDS
from mtls_doctor.lab.pki import LabPKI
from tests.cli import assert_one_clean_error_line, run_cli, run_process
from tests.conftest import LAB_NOW

CONTRACT_IDENTITY_FIELDS = {
    "source", "subject", "issuer", "serial", "not_before", "not_after", "days_left",
    "has_private_key", "key_matches", "client_auth_eku", "chain", "findings",
}  # fmt: skip

#: What inspect alone must say about each lab identity (finding codes that must appear).
EXPECTED_FINDINGS = {
    "good-rsa": set(),
    "good-ecdsa": set(),
    "expiring-soon": {"expiring_soon"},
    "expired": {"certificate_expired"},
    "not-yet-valid": {"certificate_not_yet_valid"},
    "revoked": set(),  # revocation needs a CRL lookup, not inspect
    "untrusted": set(),
    "rotated": set(),
    "missing-intermediate": {"chain_incomplete"},
    "no-key": {"private_key_missing"},
    "mismatched-key": {"private_key_mismatch"},
    "no-client-auth": {"eku_lacks_client_auth"},
    "rsa-1024": {"weak_key"},
}


def _inspect_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:  # type: ignore[type-arg]
    result = run_cli(capsys, "inspect", "--json", *args)
    assert result.code in (0, 1), result.err
    document: dict = result.json  # type: ignore[type-arg]
    return document


@pytest.mark.parametrize("name", sorted(EXPECTED_FINDINGS))
def test_every_lab_identity_in_json(
    name: str, lab: LabPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    ident = lab.identities[name]
    document = _inspect_json(capsys, str(ident.pem), "--at", LAB_NOW.isoformat())
    [item] = document["identities"]
    assert CONTRACT_IDENTITY_FIELDS <= set(item)
    assert item["subject"] == ident.certificate.subject.rfc4514_string()
    assert item["issuer"] == ident.certificate.issuer.rfc4514_string()
    assert item["serial"] == format(ident.certificate.serial_number, "x")
    assert item["not_after"].endswith("Z")
    codes = {f["code"] for f in item["findings"]}
    assert EXPECTED_FINDINGS[name] <= codes
    if not EXPECTED_FINDINGS[name]:
        assert all(f["severity"] == "info" for f in item["findings"]), item["findings"]
    assert item["has_private_key"] is (name != "no-key")
    assert item["key_matches"] == {"no-key": None, "mismatched-key": False}.get(name, True)
    assert item["client_auth_eku"] is (name != "no-client-auth")
    assert item["days_left"] == (ident.certificate.not_valid_after_utc - LAB_NOW).days
    expected_chain = [c.subject.rfc4514_string() for c in ident.chain]
    assert [c["subject"] for c in item["chain"]] == expected_chain
    for finding in item["findings"]:
        assert set(finding) >= {"code", "severity", "message"}
        assert finding["severity"] in ("error", "warning", "info")


def test_directory_of_p12_with_password_file(
    lab: LabPKI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("good-rsa", "expired"):
        shutil.copy(lab.identities[name].p12_protected, tmp_path / f"{name}.pfx")  # type: ignore[arg-type]
    result = run_cli(
        capsys, "inspect", "--json", str(tmp_path), "--password-file", str(lab.password_file)
    )
    assert result.code == 1  # the expired one
    subjects = sorted(i["subject"].split(",")[0] for i in result.json["identities"])
    assert subjects == ["CN=expired@lab.test", "CN=good-rsa@lab.test"]


def test_exit_zero_when_healthy_and_text_output(
    lab: LabPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(capsys, "inspect", str(lab.identities["good-ecdsa"].pem))
    assert result.code == 0
    assert "good-ecdsa@lab.test" in result.out
    assert "private key present and matching" in result.out


def test_password_env(
    lab: LabPKI, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAB_P12", lab.password_file.read_text().strip())
    result = run_cli(
        capsys, "inspect", "--json", str(lab.identities["good-ecdsa"].p12_protected),
        "--password-env", "LAB_P12",
    )  # fmt: skip
    assert result.code == 0
    assert result.json["identities"][0]["key_matches"] is True


def test_password_env_unset_is_a_usage_error(
    lab: LabPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(
        capsys, "inspect", str(lab.identities["good-ecdsa"].p12_protected),
        "--password-env", "MTLS_DOCTOR_SURELY_UNSET",
    )  # fmt: skip
    assert_one_clean_error_line(result, 2)
    assert "not set" in result.err


BAD = {
    "empty": b"",
    "garbage": b"\x00\x01\x02 binary junk",
    "truncated": b"-----BEGIN CERTIFICATE-----\nMIIB\n",
    "base64": b"-----BEGIN CERTIFICATE-----\n%%%%\n-----END CERTIFICATE-----\n",
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_files_give_one_line_and_exit_2(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / f"{name}.pem"
    path.write_bytes(BAD[name])
    assert_one_clean_error_line(run_cli(capsys, "inspect", str(path)), 2)
    result = run_cli(capsys, "inspect", "--json", str(path))
    assert result.code == 2
    assert set(result.json["error"]) == {"code", "message"}


def test_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    result = run_cli(capsys, "inspect", str(tmp_path / "nope.p12"))
    assert_one_clean_error_line(result, 2)
    assert "no such file" in result.err


def test_wrong_and_missing_password_are_different_errors(
    lab: LabPKI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p12 = str(lab.identities["good-rsa"].p12_protected)
    missing = run_cli(capsys, "inspect", "--json", p12)
    assert missing.code == 2 and missing.json["error"]["code"] == "password_needed"
    wrong_file = tmp_path / "wrong.txt"
    wrong_file.write_text("definitely-wrong-password\n")
    wrong = run_cli(capsys, "inspect", "--json", p12, "--password-file", str(wrong_file))
    assert wrong.code == 2 and wrong.json["error"]["code"] == "wrong_password"
    assert "definitely-wrong-password" not in wrong.out + wrong.err


def test_junk_beside_good_identities_keeps_the_good_ones(
    lab: LabPKI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(lab.identities["good-ecdsa"].pem, tmp_path / "alice.pem")
    (tmp_path / "junk.bin").write_bytes(b"\x30\x82junk")
    result = run_cli(capsys, "inspect", "--json", str(tmp_path))
    assert result.code == 2
    document = result.json
    assert "junk.bin" in document["error"]["message"]
    assert [i["subject"].split(",")[0] for i in document["identities"]] == [
        "CN=good-ecdsa@lab.test"
    ]


def test_usage_error_is_json_too(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "inspect", "--json", "--warn-days", "soon", "x.pem")
    assert result.code == 2
    assert result.json["error"]["code"] == "usage"


def test_secrets_never_leak(
    lab: LabPKI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No output contains the password or any private key material."""
    from cryptography.hazmat.primitives import serialization

    password = lab.password_file.read_text().strip()
    ident = lab.identities["good-rsa"]
    key = serialization.load_pem_private_key(ident.key.read_bytes(), None)  # type: ignore[union-attr]
    secrets = [password, ident.key.read_text().splitlines()[1]]  # type: ignore[union-attr]
    secrets.append(format(key.private_numbers().d, "x")[:32])  # type: ignore[union-attr]
    outputs = []
    for args in (
        ["inspect", str(ident.p12_protected), "--password-file", str(lab.password_file)],
        ["inspect", "--json", str(ident.p12_protected), "--password-file", str(lab.password_file)],
        ["inspect", "--json", str(ident.pem)],
        ["inspect", str(lab.identities["mismatched-key"].pem)],
    ):
        result = run_cli(capsys, *args)
        outputs.append(result.out + result.err)
    wrong = tmp_path / "pw"
    wrong.write_text(password + "x\n")
    result = run_cli(capsys, "inspect", str(ident.p12_protected), "--password-file", str(wrong))
    outputs.append(result.out + result.err)
    for text in outputs:
        for secret in secrets:
            assert secret not in text
        assert "PRIVATE KEY" not in text


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_help_does_not_import_cryptography(command: str) -> None:
    """`--help` (and each command's) loads no TLS or terminal library."""
    argv = [command, "--help"] if command else ["--help"]
    code = (
        "import sys\n"
        "from mtls_doctor.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('cryptography', 'OpenSSL', 'rich') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert "HEAVY []" in done.stdout, done.stdout
    assert f"usage: mtls-doctor {command}".rstrip() in done.stdout
    if not command:
        assert all(name in done.stdout for name in COMMANDS)


def test_module_entry_point_and_version() -> None:
    result = run_process("--version")
    assert result.code == 0 and "mtls-doctor" in result.out


def test_subprocess_inspect_without_tty_never_prompts(lab: LabPKI) -> None:
    result = run_process("inspect", str(lab.identities["good-rsa"].p12_protected))
    assert_one_clean_error_line(result, 2)
    assert "password" in result.err


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_prompts_for_the_password_on_a_tty(lab: LabPKI) -> None:
    import pty

    password = lab.password_file.read_text().strip()
    pid, fd = pty.fork()
    if pid == 0:  # child: a real terminal on stdin
        os.execv(
            sys.executable,
            [sys.executable, "-m", "mtls_doctor", "inspect", "--json",
             str(lab.identities["good-ecdsa"].p12_protected)],
        )  # fmt: skip
    output = b""
    sent = False
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
        if not sent and b"Password for" in output:
            os.write(fd, password.encode() + b"\n")
            sent = True
    _, status = os.waitpid(pid, 0)
    assert sent, output
    assert os.waitstatus_to_exitcode(status) == 0, output
    assert password.encode() not in output  # getpass does not echo
    assert b'"key_matches": true' in output
