"""The lab never acts on what is not its own: planted links, foreign files,
stale or corrupt state files, a pid that now belongs to someone else."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mtls_doctor.lab.control import process_start_time
from tests.cli import assert_one_clean_error_line, run_cli, run_process


@pytest.fixture
def bystander() -> Iterator[subprocess.Popen[bytes]]:
    """An unrelated process whose pid a stale lab-state.json could name."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process
    process.kill()
    process.wait()


@pytest.mark.parametrize("started", ["real", "other"])
def test_lab_down_leaves_a_process_that_is_not_the_lab_alone(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    bystander: subprocess.Popen[bytes],
    started: str,
) -> None:
    # The pid was reused by an unrelated process (even one started at the
    # recorded time is not the lab: its command line is not `lab serve DIR`).
    ticks = process_start_time(bystander.pid)
    assert ticks is not None
    state = tmp_path / "lab-state.json"
    state.write_text(
        json.dumps({"pid": bystander.pid, "started": ticks if started == "real" else ticks + 1})
    )
    result = run_cli(capsys, "lab", "down", str(tmp_path), "--json")
    assert result.code == 0
    assert result.json["stopped"] is False
    assert bystander.poll() is None, "lab down signalled a process that is not the lab"
    assert not state.exists()
    assert "stale" in result.err


@pytest.mark.parametrize(
    "content",
    ['{"pid": "abc"}', "[1, 2]", "{not json", '{"pid": true, "started": 1}', '{"pid": 1}'],
)
@pytest.mark.parametrize("action", ["down", "up"])
def test_a_corrupt_lab_state_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, action: str
) -> None:
    (tmp_path / "lab-state.json").write_text(content)
    result = run_cli(capsys, "lab", action, str(tmp_path))
    assert_one_clean_error_line(result, 2)
    assert "corrupt lab state" in result.err
    assert "internal" not in result.err


def test_lab_pki_refuses_a_directory_of_foreign_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.key"
    outside.write_text("precious")
    (tmp_path / "ca").mkdir()
    (tmp_path / "ca" / "root.key").symlink_to(outside)
    result = run_cli(capsys, "lab", "pki", str(tmp_path))
    assert_one_clean_error_line(result, 2)
    assert "did not make" in result.err
    assert outside.read_text() == "precious"
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_lab_pki_keeps_an_existing_lab_and_force_never_writes_through_links(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lab = tmp_path / "lab"
    assert run_cli(capsys, "lab", "pki", str(lab)).code == 0
    root = (lab / "ca" / "root.pem").read_bytes()
    kept = run_cli(capsys, "lab", "pki", str(lab), "--json")
    assert kept.code == 0 and kept.json["pki"] == "kept"
    assert (lab / "ca" / "root.pem").read_bytes() == root  # an imported root keeps working
    assert "Kept the lab PKI" in run_cli(capsys, "lab", "pki", str(lab)).out

    # Someone plants links to files outside the lab, one world-readable.
    outside = tmp_path / "outside.key"
    outside.write_text("precious")
    outside.chmod(0o644)
    (lab / "ca" / "root.key").unlink()
    (lab / "ca" / "root.key").symlink_to(outside)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    identities = lab / "identities"
    for item in identities.iterdir():
        item.unlink()
    identities.rmdir()
    identities.symlink_to(elsewhere)

    forced = run_cli(capsys, "lab", "pki", str(lab), "--force", "--json")
    assert forced.code == 0 and forced.json["pki"] == "generated"
    assert outside.read_text() == "precious"
    assert list(elsewhere.iterdir()) == []
    key = lab / "ca" / "root.key"
    assert not key.is_symlink() and key.stat().st_mode & 0o777 == 0o600
    assert not identities.is_symlink()
    assert (identities / "good-rsa.key").stat().st_mode & 0o777 == 0o600
    assert (lab / "ca" / "root.pem").read_bytes() != root
    assert not [p for p in lab.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_lab_up_keeps_the_lab_pki_in_the_directory(tmp_path: Path) -> None:
    lab = tmp_path / "lab"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        made = run_process("lab", "pki", str(lab), "--base-url", f"http://127.0.0.1:{port}")
        assert made.code == 0, made.err
        root = (lab / "ca" / "root.pem").read_bytes()
        # The PKI's URLs name a port someone else holds: say so, do not regenerate.
        refused = run_process("lab", "up", str(lab))
        assert_one_clean_error_line(refused, 2)
        assert f"127.0.0.1:{port}" in refused.err and "not free" in refused.err
    up = run_process("lab", "up", str(lab), "--json")
    try:
        assert up.code == 0, up.err
        state = json.loads(up.out)
        assert state["pki"] == "kept"
        assert state["ca_server"]["port"] == port
        assert (lab / "ca" / "root.pem").read_bytes() == root
        probe = run_process("probe", "--json", state["servers"]["strict"]["url"])
        assert json.loads(probe.out)["client_auth"] == "required"
    finally:
        down = run_process("lab", "down", str(lab), "--json")
    assert json.loads(down.out)["stopped"] is True
    assert os.path.exists(lab / "manifest.json")
