"""``mtls-doctor lab pki|up|down`` as a user runs them."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cli import run_cli, run_process


def test_lab_pki_writes_a_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "lab", "pki", str(tmp_path / "lab"), "--json")
    assert result.code == 0
    manifest = json.loads((tmp_path / "lab" / "manifest.json").read_text())
    causes = {i["name"]: i["expected_cause"] for i in manifest["identities"]}
    assert causes["expired"] == "certificate_expired"
    assert causes["rotated"] == "issuer_rotated"
    for item in manifest["identities"]:
        assert (tmp_path / "lab" / item["pem"]).is_file()
    key_mode = (tmp_path / "lab" / "identities" / "good-rsa.key").stat().st_mode & 0o777
    assert key_mode == 0o600
    assert "PRIVATE KEY" not in result.out


def test_lab_pki_refuses_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    assert run_cli(capsys, "lab", "pki", str(target)).code == 2


def test_lab_up_serves_until_down(tmp_path: Path) -> None:
    directory = tmp_path / "lab"
    up = run_process("lab", "up", str(directory), "--json")
    try:
        assert up.code == 0, up.err
        state = json.loads(up.out)
        strict = state["servers"]["strict"]["url"]
        assert state["ca_server"]["url"].startswith("http://127.0.0.1:")
        probe = run_process("probe", "--json", strict)
        assert json.loads(probe.out)["client_auth"] == "required"
        curl = shutil.which("curl")
        if curl:
            ids = directory / "identities"
            done = subprocess.run(
                [curl, "-sS", "--cacert", str(directory / "ca" / "root.pem"),
                 "--cert", str(ids / "good-ecdsa.crt"), "--key", str(ids / "good-ecdsa.key"),
                 strict],
                capture_output=True, text=True, timeout=30,
            )  # fmt: skip
            assert "Hello CN=good-ecdsa@lab.test" in done.stdout, done.stderr
        again = run_process("lab", "up", str(directory), "--json")
        assert json.loads(again.out)["pid"] == state["pid"]  # idempotent
    finally:
        down = run_process("lab", "down", str(directory), "--json")
    assert json.loads(down.out)["stopped"] is True
    assert json.loads(run_process("lab", "down", str(directory), "--json").out)["stopped"] is False


def test_lab_up_browser_instruction_names_a_bundle_its_password_opens(tmp_path: Path) -> None:
    """The printed password file must open the printed .p12 (it named the passwordless one)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl CLI not installed")
    directory = tmp_path / "lab"
    up = run_process("lab", "up", str(directory))
    try:
        assert up.code == 0, up.err
        line = next(x for x in up.out.splitlines() if "browser: import" in x)
        bundle = line.split("browser: import ", 1)[1].split(" (password in ", 1)[0]
        password_file = line.split(" (password in ", 1)[1].split(")", 1)[0]
        opened = subprocess.run(
            [openssl, "pkcs12", "-in", bundle, "-passin", f"file:{password_file}",
             "-nokeys", "-noout"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert opened.returncode == 0, (line, opened.stderr)
        with_empty = subprocess.run(
            [openssl, "pkcs12", "-in", bundle, "-passin", "pass:", "-nokeys", "-noout"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert with_empty.returncode != 0, "the bundle has no password: nothing to type"
    finally:
        run_process("lab", "down", str(directory))


def test_lab_pki_keeps_the_catalogue_titles_case(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mtls_doctor.causes import CATALOGUE, Cause

    result = run_cli(capsys, "lab", "pki", str(tmp_path / "lab"))
    assert result.code == 0
    manifest = json.loads((tmp_path / "lab" / "manifest.json").read_text())
    text = " ".join(result.out.split())
    for item in manifest["identities"]:
        title = CATALOGUE[Cause(item["expected_cause"])].title.rstrip(".")
        assert f"({title})" in text, title


def test_rejected_by_application_title_holds_with_or_without_a_certificate() -> None:
    from mtls_doctor.causes import CATALOGUE, Cause

    info = CATALOGUE[Cause.REJECTED_BY_APPLICATION]
    assert "accepted the certificate" not in info.title
    assert "certificate itself is fine" not in info.explanation


def test_the_advertised_ca_advice_does_not_offer_an_unadvertised_directive() -> None:
    from mtls_doctor.causes import CATALOGUE, Cause, fill

    (fix,) = CATALOGUE[Cause.NO_CERTIFICATE_SENT].server_fixes
    advertised = fill(fix).split("advertised:", 1)[1]
    assert "ssl_client_certificate" in advertised
    assert "ssl_trusted_certificate" in advertised
    assert "never advertised" in advertised
