"""The corpus: real messages (tests/corpus/) and the causes explain must give.

live.txt was captured from real programs against the lab servers by
tests/adapters/test_explain_live.py (which re-captures and checks on every
run); documented.txt holds the documented wordings of programs we cannot
run here (browsers, Java, Go, .NET, Envoy, ...). Line format: see the header
of documented.txt. The test reports the coverage and fails below 100%.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mtls_doctor.causes import Cause
from mtls_doctor.knowledge import explain

CORPUS = Path(__file__).parent.parent / "corpus"


@dataclass(frozen=True)
class CorpusLine:
    file: str
    number: int
    kind: str
    causes: tuple[Cause, ...]
    text: str


def read_corpus() -> list[CorpusLine]:
    lines = []
    for path in sorted(CORPUS.glob("*.txt")):
        for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not raw.strip() or raw.startswith("#"):
                continue
            head, sep, text = raw.partition(" | ")
            assert sep, f"{path.name}:{number}: no ' | ' separator"
            kind, *codes = head.split()
            assert kind in ("=", ">", "~", "?"), f"{path.name}:{number}: bad kind {kind!r}"
            lines.append(CorpusLine(path.name, number, kind, tuple(Cause(c) for c in codes), text))
    return lines


def problem(line: CorpusLine) -> str | None:
    """Why explain's answer for this line is wrong (None when it is right)."""
    result = explain(line.text)
    given = [c for m in result.matches for c in m.causes]
    if line.kind == "?":
        return None if not result.known else f"should be unknown, got {given}"
    if not result.known:
        return "not recognised"
    if line.kind == "~":
        return None if not given else f"should name no cause, got {given}"
    if line.kind == ">":
        return None if line.causes[0] in given else f"{line.causes[0]} not in {given}"
    if len(result.matches) != 1:
        return f"{len(result.matches)} matches"
    got = result.matches[0].causes
    return None if got == line.causes else f"expected {list(line.causes)}, got {list(got)}"


def test_corpus_is_large_and_mostly_live() -> None:
    lines = read_corpus()
    live = [line for line in lines if line.file == "live.txt"]
    assert len(lines) >= 150
    assert len(live) > len(lines) / 2
    assert sum(line.kind == "?" for line in lines) >= 5, "unknown text must be tested too"


def test_every_corpus_line_is_explained_right() -> None:
    lines = read_corpus()
    failures = [(line, why) for line in lines if (why := problem(line))]
    explained = len(lines) - len(failures)
    coverage = 100 * explained / len(lines)
    report = f"corpus coverage: {explained}/{len(lines)} lines ({coverage:.1f}%)"
    print(report)
    details = "\n".join(f"{c.file}:{c.number}: {why}: {c.text[:120]}" for c, why in failures)
    assert not failures, f"{report}\n{details}"
