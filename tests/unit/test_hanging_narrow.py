"""Narrow windows: ``hanging`` never makes a line wider than the window, and never
wraps a line twice (which put words at column 0 and split the text oddly)."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from rich.console import Console

from mtls_doctor.terminal import hanging

BODY = "The server accepted the certificate and answered the request with a page of text."


@pytest.mark.parametrize("width", [20, 30, 40])
@pytest.mark.parametrize("prefix", ["+ accepted  ", "  [dim]signature algorithms[/] ", "  x "])
def test_every_line_fits_and_every_word_stays_whole(width: int, prefix: str) -> None:
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, soft_wrap=False)
    hanging(console, prefix, BODY)
    lines = out.getvalue().splitlines()
    assert all(len(line) <= width for line in lines), lines
    # A continuation is indented: no word of the body falls back to column 0.
    first = next(n for n, line in enumerate(lines) if BODY.split()[0] in line)
    assert all(line.startswith(" ") for line in lines[first + 1 :]), lines
    words = " ".join(lines).split()
    for word in BODY.split():
        assert word in words, (word, lines)


@pytest.mark.parametrize("columns", ["20", "30"])
def test_explain_output_fits_a_narrow_window(columns: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MTLS_DOCTOR_DEBUG"}
    env.update(COLUMNS=columns, TERM="dumb")
    text = "SSL routines::tlsv13 alert certificate required"
    result = subprocess.run(
        [sys.executable, "-m", "mtls_doctor", "explain", text],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    lines = result.stdout.splitlines()
    assert lines
    long = [line for line in lines if len(line) > int(columns) and " " in line.strip()]
    assert not long, lines
