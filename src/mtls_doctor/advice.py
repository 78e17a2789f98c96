"""Advice that is true: never suggest an ``mtls-doctor`` command this build lacks.

The knowledge base and the cause catalogue may name commands that are
planned or optional (the browser picker, ``identities --for``). Before advice
reaches a person, every sentence or ``;``-clause that names a command not in
the CLI's table is dropped, so a suggestion reappears by itself the day the
command lands (its module exists under ``mtls_doctor.commands``).
"""

from __future__ import annotations

import re
from functools import cache

#: A suggested command inside backticks: `mtls-doctor NAME ...`.
_SUGGESTION = re.compile(r"`mtls-doctor ([a-z][a-z-]*)[^`]*`")
#: Sentence ends and ``;`` clause ends, where advice can be cut without breaking grammar.
_CLAUSES = re.compile(r"(?<=[.;])\s+(?=\S)")


@cache
def available_commands() -> frozenset[str]:
    """The command names this build has (the CLI's table, filtered by existing modules)."""
    from mtls_doctor.cli import _available_commands

    return frozenset(_available_commands())


def suggested_commands(text: str) -> list[str]:
    """Every `mtls-doctor ...` suggestion in ``text`` (the text between the backticks)."""
    return [match.group(0).strip("`") for match in _SUGGESTION.finditer(text)]


def only_existing(text: str) -> str:
    """``text`` without the sentences or clauses that suggest a command this build lacks."""
    missing = [name for name in _SUGGESTION.findall(text) if name not in available_commands()]
    if not missing:
        return text
    kept: list[str] = []
    for clause in _CLAUSES.split(text):
        if all(name in available_commands() for name in _SUGGESTION.findall(clause)):
            kept.append(clause)
        elif clause.endswith(".") and kept and kept[-1].endswith(";"):
            kept[-1] = kept[-1][:-1] + "."  # the dropped clause ended the sentence
    result = " ".join(kept).strip()
    if result.endswith(";"):
        result = result[:-1] + "."
    return result


def existing_fixes(fixes: tuple[str, ...]) -> tuple[str, ...]:
    """Each fix with its missing-command clauses dropped; fixes left empty are removed."""
    kept = (only_existing(fix) for fix in fixes)
    return tuple(fix for fix in kept if fix)
