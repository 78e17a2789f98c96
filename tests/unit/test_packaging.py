"""What a user installs: a licence, the contract in the repository, a bounded
pyOpenSSL, and a typed library API (mypy --strict sees real types, not Any)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from mtls_doctor.causes import Cause

ROOT = Path(__file__).resolve().parents[2]


def test_licence_matches_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_the_contract_the_code_cites_is_in_the_repository() -> None:
    contract = (ROOT / "docs" / "CONTRACT.md").read_text()
    codes = set(re.findall(r"^\| `([a-z_]+)` \|", contract, flags=re.MULTILINE))
    assert codes == {str(cause) for cause in Cause}
    assert "schema_version" in contract and "70" in contract
    assert "docs/CONTRACT.md" in (ROOT / "README.md").read_text()


def test_pyopenssl_has_an_upper_bound_on_its_major_version() -> None:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (pyopenssl,) = [d for d in dependencies if d.lower().startswith("pyopenssl")]
    assert re.search(r"<\s*\d+", pyopenssl), pyopenssl


USER_FILE = """
from mtls_doctor import CheckRequest, Diagnosis, Verdict, check, parse_target


def cause_of(url: str) -> str:
    result: Diagnosis = check(CheckRequest(target=parse_target(url)))
    verdict: Verdict = result.verdict
    return str(verdict.cause)
"""


def test_a_users_code_is_type_checked_against_the_real_api(tmp_path: Path) -> None:
    good = tmp_path / "good.py"
    good.write_text(USER_FILE)
    wrong = tmp_path / "wrong.py"
    wrong.write_text(
        USER_FILE + '\n\nnumber: int = check(CheckRequest(target=parse_target("a:1")))\n'
    )

    def mypy(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mypy", "--strict", "--no-error-summary",
             "--cache-dir", str(tmp_path / ".mypy"), path.name],
            capture_output=True, text=True, cwd=tmp_path, timeout=300,
        )  # fmt: skip

    passed = mypy(good)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    # Were check() typed Any, assigning it to an int would pass: it must not.
    failed = mypy(wrong)
    assert failed.returncode == 1
    assert 'expression has type "Diagnosis", variable has type "int"' in failed.stdout
