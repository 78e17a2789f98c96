"""Text for people: wrapped to the terminal's width, the one sentence needed
first, long lists behind -v (JSON keeps everything), cause codes with their
plain title; on a pipe, lines stay whole."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mtls_doctor.lab.pki import LabPKI
from mtls_doctor.lab.server import LabFleet, running_lab
from tests.cli import run_cli


@pytest.fixture(scope="module")
def fleet(live_lab: LabPKI) -> Iterator[LabFleet]:
    with running_lab(live_lab) as running:
        yield running


def test_check_wraps_to_the_width_with_the_verdict_first(
    fleet: LabFleet, live_lab: LabPKI, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("COLUMNS", "60")
    argv = [
        "check",
        fleet.servers["strict"].target,
        "--cert",
        str(live_lab.identities["expired"].pem),
    ]
    out = run_cli(capsys, *argv).out
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 60, max(lines, key=len)
    assert lines[0] == "✗ certificate_expired  The client certificate has expired."
    # Wrapped lines hang under their text, not at column 0.
    fixes = lines[lines.index("You") + 1 :]
    assert fixes[0].startswith("  1. ") and fixes[1].startswith("     ")


def test_on_a_pipe_lines_stay_whole(
    fleet: LabFleet, live_lab: LabPKI, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.delenv("COLUMNS", raising=False)
    argv = [
        "check",
        fleet.servers["strict"].target,
        "--cert",
        str(live_lab.identities["expired"].pem),
    ]
    out = run_cli(capsys, *argv).out
    assert any(len(line) > 100 for line in out.splitlines())  # grep sees a whole sentence


def test_probe_lists_signature_algorithms_only_with_v(
    fleet: LabFleet, capsys: pytest.CaptureFixture[str]
) -> None:
    target = fleet.servers["strict"].target
    short = run_cli(capsys, "probe", target).out
    assert "rsa_pss_rsae_sha256" not in short and "-v lists them" in short
    assert "rsa_pss_rsae_sha256" in run_cli(capsys, "probe", target, "-v").out
    assert (
        "rsa_pss_rsae_sha256"
        in run_cli(capsys, "probe", target, "--json").json["signature_algorithms"]
    )


def test_inspect_keeps_identifiers_behind_v(
    lab: LabPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = str(lab.directory / "identities")
    password = ["--password-file", str(lab.password_file)]
    short = run_cli(capsys, "inspect", folder, *password).out
    full = run_cli(capsys, "inspect", folder, *password, "-v").out
    assert "SHA-256" not in short and "SHA-256" in full
    blocks = short.strip().split("\n\n")
    assert max(len(block.splitlines()) for block in blocks) <= 12
    document = run_cli(capsys, "inspect", folder, *password, "--json").json
    assert all(item["fingerprint_sha256"] for item in document["identities"])


def test_cause_codes_come_with_their_plain_title(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run_cli(capsys, "lab", "pki", str(tmp_path)).out
    assert "certificate_expired (The client certificate has expired)" in out
