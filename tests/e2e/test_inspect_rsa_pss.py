"""inspect: an RSA-PSS key (id-RSASSA-PSS, made by the openssl CLI) is shown as RSA-PSS,
not RSA; empty standard input is called that, not "-"."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cli import run_cli


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI absent")
def test_inspect_names_an_rsa_pss_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cert, key = tmp_path / "pss.pem", tmp_path / "pss.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa-pss",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=pss client",
            "-days",
            "30",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    result = run_cli(capsys, "inspect", str(cert))
    assert "RSA-PSS 2048" in result.out, result.out
    result = run_cli(capsys, "inspect", str(cert), "--json")
    assert "RSA-PSS" in result.out


def test_inspect_of_empty_standard_input_says_so() -> None:
    from tests.cli import run_process

    result = run_process("inspect", "-", input_text="")
    assert result.code == 2
    assert "standard input" in result.err and "empty" in result.err
    assert "-: file is empty" not in result.err
