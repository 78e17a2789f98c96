"""Run the CLI as a user does: in-process ``main(argv)`` or a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pytest

from mtls_doctor.cli import main


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> Run:
    """``mtls-doctor ARGV`` in this process."""
    capsys.readouterr()
    code = main(list(argv))
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)


def run_process(*argv: str, input_text: str | None = None, timeout: float = 60) -> Run:
    """``python -m mtls_doctor ARGV`` as a separate process (no TTY)."""
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    env.pop("MTLS_DOCTOR_DEBUG", None)
    done = subprocess.run(
        [sys.executable, "-m", "mtls_doctor", *argv],
        capture_output=True,
        text=True,
        input=input_text if input_text is not None else "",
        timeout=timeout,
        env=env,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def assert_one_clean_error_line(result: Run, code: int) -> None:
    """Exit ``code``, one ``mtls-doctor: error:`` line on stderr, no traceback."""
    assert result.code == code, (result.code, result.out, result.err)
    assert "Traceback" not in result.err + result.out
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("mtls-doctor: error: ")
