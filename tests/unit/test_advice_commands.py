"""Advice must be true: every `mtls-doctor COMMAND --flag` the tool suggests exists.

Scans the cause catalogue, the explain knowledge files and the picker's
next steps for backticked ``mtls-doctor ...`` commands, and checks each
command and each ``--flag`` against the real parser.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

import mtls_doctor
from mtls_doctor.cli import build_parser

_SNIPPET = re.compile(r"`(mtls-doctor [^`]+)`")
SOURCES = [
    *sorted((Path(mtls_doctor.__file__).parent / "knowledge").glob("*.toml")),
    Path(mtls_doctor.__file__).parent / "causes.py",
    Path(mtls_doctor.__file__).parent / "rules" / "picker.py",
]


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _snippets() -> list[tuple[str, str]]:
    return [
        (path.name, match.group(1))
        for path in SOURCES
        for match in _SNIPPET.finditer(path.read_text(encoding="utf-8"))
    ]


def test_there_is_advice_to_check() -> None:
    assert any("identities --for" in text for _, text in _snippets())


@pytest.mark.parametrize(("source", "snippet"), _snippets())
def test_suggested_command_and_flags_exist(source: str, snippet: str) -> None:
    commands = _commands()
    words = snippet.split()
    assert words[1] in commands, f"{source}: `{snippet}` names no command"
    options = {option for action in commands[words[1]]._actions for option in action.option_strings}
    for word in words[2:]:
        flag = word.split("=")[0].rstrip(".,;)")
        if flag.startswith("--"):
            assert flag in options, f"{source}: `{snippet}`: {words[1]} has no {flag}"
