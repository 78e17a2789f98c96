"""Advice must be true: every `mtls-doctor ...` command that output can suggest
exists in this build and accepts the flags it is given; a suggestion of a
command this build lacks is dropped before it reaches a person."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

import mtls_doctor
from mtls_doctor.advice import available_commands, only_existing, suggested_commands
from mtls_doctor.causes import (
    CATALOGUE,
    FIX_CONTEXT_DEFAULTS,
    NOT_OFFERED_WITHOUT_CA_NAMES,
    NOT_WEB_SERVER,
    fill,
)
from mtls_doctor.cli import main

PACKAGE = Path(mtls_doctor.__file__).parent
LAB_ACTIONS = ("pki", "up", "down", "serve")


def _strings(value: object, key: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield key, value
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from _strings(item, name)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, key)


def _knowledge() -> Iterator[tuple[str, str]]:
    # next_step passes through only_existing on its way out; nothing else does.
    for path in sorted((PACKAGE / "knowledge").glob("*.toml")):
        for key, text in _strings(tomllib.loads(path.read_text())):
            yield path.name, only_existing(text) if key == "next_step" else text


def _catalogue() -> Iterator[tuple[str, str]]:
    # Fixes pass through make_verdict (only_existing), then fill with or without facts.
    contexts = [{}, {"installed_but_not_offered": NOT_OFFERED_WITHOUT_CA_NAMES}, NOT_WEB_SERVER]
    for cause, info in CATALOGUE.items():
        for text in (info.title, info.explanation):
            yield str(cause), text
        for fix in (*info.user_fixes, *info.server_fixes):
            for context in contexts:
                yield str(cause), fill(only_existing(fix), context)


def _sources() -> Iterator[tuple[str, str]]:
    # Every module (renderers, commands, watch, rules) prints its suggestions as they are.
    for path in sorted(PACKAGE.rglob("*.py")):
        yield str(path.relative_to(PACKAGE)), path.read_text()


def _suggestions() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for origin, text in (*_knowledge(), *_catalogue(), *_sources()):
        for suggestion in suggested_commands(text):
            found.setdefault(suggestion, set()).add(origin)
    return found


SUGGESTIONS = _suggestions()


def test_the_collection_sees_the_suggestions() -> None:
    commands = {s.split()[1] for s in SUGGESTIONS}
    assert {"check", "probe", "inspect", "lint-server", "lab", "watch", "exporter"} <= commands
    assert len(SUGGESTIONS) > 20


@pytest.mark.parametrize("suggestion", sorted(SUGGESTIONS))
def test_every_suggested_command_exists_with_its_flags(
    suggestion: str, capsys: pytest.CaptureFixture[str]
) -> None:
    words = suggestion.split()[1:]
    command = [words[0]]
    if words[0] == "lab" and len(words) > 1 and words[1] in LAB_ACTIONS:
        command.append(words[1])
    if words[0] == "--help":
        command = []
    assert not command or command[0] in available_commands(), (suggestion, SUGGESTIONS[suggestion])
    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])
    assert done.value.code == 0
    help_text = capsys.readouterr().out
    for flag in (w.split("=")[0] for w in words if w.startswith("--") and w != "--help"):
        assert re.search(rf"{re.escape(flag)}\b", help_text), (suggestion, flag)


def test_a_missing_command_is_dropped_with_its_clause_only() -> None:
    text = (
        "Export it and run `mtls-doctor check {url} --cert YOUR.p12`; "
        "`mtls-doctor no-such-command --for {url}` lists them. Quit the browser first."
    )
    assert only_existing(text) == (
        "Export it and run `mtls-doctor check {url} --cert YOUR.p12`. Quit the browser first."
    )
    assert only_existing("Run `mtls-doctor check X`.") == "Run `mtls-doctor check X`."


def test_no_placeholder_is_left_in_a_fix() -> None:
    for info in CATALOGUE.values():
        for fix in (*info.user_fixes, *info.server_fixes):
            filled = fill(fix)
            assert "{" not in filled.replace("{url}", ""), filled
    assert set(FIX_CONTEXT_DEFAULTS) >= {"accepted_cas", "installed_but_not_offered"}
