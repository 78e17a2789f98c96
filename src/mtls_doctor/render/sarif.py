"""SARIF 2.1.0 rendering of ``lint-server`` findings, for code-scanning UIs.

One run; ``tool.driver.rules`` is the rule table of
:mod:`mtls_doctor.rules.serverconf`; every finding with a file becomes a
result whose ``physicalLocation`` points at the configuration line. Paths
under the current directory are written relative to it with the
``%SRCROOT%`` base id (what GitHub code scanning expects), others as
absolute ``file://`` URIs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mtls_doctor import __version__
from mtls_doctor.model import Finding, Severity
from mtls_doctor.rules.serverconf import RULES
from mtls_doctor.serverconf.facts import LintReport

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/mtls-doctor/mtls-doctor"
SRCROOT = "%SRCROOT%"

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}

JSON = dict[str, Any]


def _artifact(path: str, base: Path) -> JSON:
    absolute = Path(path).absolute()
    try:
        relative = absolute.relative_to(base)
    except ValueError:
        return {"uri": absolute.as_uri()}
    return {"uri": relative.as_posix(), "uriBaseId": SRCROOT}


def _rules() -> list[JSON]:
    return [
        {
            "id": rule.code,
            "name": "".join(word.capitalize() for word in rule.code.split("_")),
            "shortDescription": {"text": rule.title},
            "fullDescription": {"text": f"{rule.title} {rule.behaviour}"},
            "defaultConfiguration": {"level": _LEVEL[rule.severity]},
            "help": {"text": rule.behaviour},
        }
        for rule in RULES.values()
    ]


def _result(item: Finding, index: dict[str, int], base: Path) -> JSON:
    out: JSON = {
        "ruleId": item.code,
        "level": _LEVEL[item.severity],
        "message": {"text": item.message},
    }
    if item.code in index:
        out["ruleIndex"] = index[item.code]
    if item.file is not None:
        region = {"startLine": item.line} if item.line and item.line >= 1 else {}
        location: JSON = {"artifactLocation": _artifact(item.file, base)}
        if region:
            location["region"] = region
        out["locations"] = [{"physicalLocation": location}]
    return out


def sarif_log(reports: tuple[LintReport, ...], base: str | os.PathLike[str] | None = None) -> JSON:
    """The SARIF log of the findings of ``reports`` (``base``: the %SRCROOT% directory)."""
    root = Path(base or os.getcwd()).absolute()
    rules = _rules()
    index = {rule["id"]: number for number, rule in enumerate(rules)}
    findings = [
        f
        for report in reports
        for f in (*report.findings, *(f for b in report.blocks for f in b.findings))
    ]
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "mtls-doctor",
                        "version": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": rules,
                    }
                },
                "originalUriBaseIds": {SRCROOT: {"uri": root.as_uri().rstrip("/") + "/"}},
                "results": [_result(f, index, root) for f in findings],
            }
        ],
    }
