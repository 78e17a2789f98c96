"""Finding codes have one home: the Cause and FindingCode enums (and lint's rule table)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from mtls_doctor.causes import Cause
from mtls_doctor.model import FindingCode

SRC = Path(__file__).resolve().parents[2] / "src" / "mtls_doctor"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "CONTRACT.md"


def _literal_codes(tree: ast.AST) -> list[tuple[int, str]]:
    """``code="..."`` string literals passed to a ``Finding(...)`` call."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Finding":
            for keyword in node.keywords:
                value = keyword.value
                if keyword.arg == "code" and isinstance(value, ast.Constant):
                    found.append((node.lineno, str(value.value)))
    return found


def test_no_finding_is_made_with_a_bare_string_code() -> None:
    """A typo in a bare string would be a new, undocumented code in every JSON document."""
    offenders = [
        f"{path.relative_to(SRC)}:{line}: {code}"
        for path in SRC.rglob("*.py")
        if "serverconf" not in path.parts  # lint's codes are its rule table's
        for line, code in _literal_codes(ast.parse(path.read_text(), str(path)))
    ]
    assert offenders == []


def test_the_contract_lists_every_finding_code() -> None:
    section = DOCS.read_text().split("`findings[].code`", 1)[1].split("\n- ", 1)[0]
    items = [line for line in section.splitlines() if line.startswith("  - ")]
    listed = set(re.findall(r"`([a-z_]+)`", "\n".join(items)))
    assert listed == {code.value for code in FindingCode}
    assert not listed & {cause.value for cause in Cause}
