"""Regex patterns of the knowledge base, seen as text: lower-casing and needles.

The matcher lower-cases each line once and matches case-sensitive patterns
written for lower-case text (what IGNORECASE means for ASCII, but the regex
engine can then use its fast literal search). A pattern's *needles* are
literal texts one of which every match must contain: a line that contains
none of an entry's needles cannot match it, so the entry is not tried.
Hand-written because ``re`` exposes no parse tree of a pattern; the scan
only reads the literal prefix of each top-level alternative and gives up
(None: "always try") on anything it does not understand.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")

#: Regex metacharacters that end a literal run.
_SPECIAL = frozenset(".^$*+?{}[]()|")
#: Needles shorter than this are not worth a prefilter.
_MIN_NEEDLE = 3
#: Needle sets whose candidates are remembered.
_MAX_CHOICES = 4096


def lower_pattern(pattern: str) -> str:
    """The pattern for a lower-cased line: literals lowered, escapes and group syntax kept.

    Matching a lower-cased line with a case-sensitive pattern is what
    IGNORECASE means for ASCII, but lets the regex engine use its fast
    literal search (about three times faster on long log lines).
    """
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            out.append(pattern[i : i + 2])
            i += 2
        elif pattern.startswith("(?P", i):
            out.append("(?P")
            i += 3
        else:
            out.append(pattern[i].lower())
            i += 1
    return "".join(out)


def _split_top(pattern: str) -> list[str]:
    """Top-level alternatives of a pattern."""
    branches, depth, start, i, in_class = [], 0, 0, 0, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if pattern.startswith("[]", i) or pattern.startswith("[^]", i):
                i += 2 if pattern[i + 1] == "]" else 3
                continue
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            branches.append(pattern[start:i])
            start = i + 1
        i += 1
    branches.append(pattern[start:])
    return branches


def _group_end(pattern: str, start: int) -> int:
    """Index of the parenthesis closing the group opened at ``start``."""
    depth, i, in_class = 0, start, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _leading_group(branch: str, end: int) -> list[str] | None:
    """Needles of a group that opens the branch (None when optional or a lookaround)."""
    if (
        end < 0
        or branch[end + 1 : end + 2] in ("*", "?", "{")
        or branch.startswith(("(?=", "(?!", "(?<=", "(?<!"))
    ):
        return None
    inner = branch[1:end]
    if inner.startswith("?:"):
        inner = inner[2:]
    elif inner.startswith("?P<"):
        inner = inner[inner.index(">") + 1 :]
    elif inner.startswith("?"):
        return None
    return needles(inner)


def _skip_quantifier(branch: str, i: int) -> int:
    """The index after a quantifier at ``i`` (``*``, ``+``, ``?``, ``{m,n}``, lazy or not)."""
    if branch[i : i + 1] == "{":
        close = branch.find("}", i)
        i = len(branch) if close < 0 else close + 1
    elif branch[i : i + 1] in ("*", "+", "?"):
        i += 1
    if branch[i : i + 1] == "?":
        i += 1
    return i


def _branch_needles(branch: str) -> list[str] | None:
    """Literal texts one of which any match of ``branch`` must contain (None: unknown).

    The longest run of mandatory literal characters outside groups; when it
    is too short and the branch opens with a group, that group's needles.
    """
    runs: list[str] = []
    literal: list[str] = []
    lead: list[str] | None = None

    def close() -> None:
        if literal:
            runs.append("".join(literal))
            literal.clear()

    i = 0
    while i < len(branch):
        char = branch[i]
        if char == "\\":
            if i + 1 >= len(branch):
                break
            nxt = branch[i + 1]
            if nxt.isalnum():  # \b, \d, \s, ...: not literal text
                close()
                i = _skip_quantifier(branch, i + 2)
                continue
            char, step = nxt, 2
        elif char == "(":
            end = _group_end(branch, i)
            if end < 0:
                return None
            if i == 0:
                lead = _leading_group(branch, end)
            close()
            i = _skip_quantifier(branch, end + 1)
            continue
        elif char == "[":
            close()
            end = branch.find("]", i + (3 if branch.startswith("[^]", i) else 2))
            if end < 0:
                return None
            i = _skip_quantifier(branch, end + 1)
            continue
        elif char in _SPECIAL:
            close()
            i = _skip_quantifier(branch, i + 1) if char in "{*+?" else i + 1
            continue
        else:
            step = 1
        following = branch[i + step : i + step + 1]
        if following in ("*", "?", "{"):
            close()  # an optional character belongs to no run
            i = _skip_quantifier(branch, i + step)
            continue
        literal.append(char)
        i += step
        if following == "+":
            close()
            i = _skip_quantifier(branch, i)
    close()
    best = max(runs, key=len, default="").lower()
    if len(best) >= _MIN_NEEDLE:
        return [best]
    return lead


def _expand_choice(branch: str, budget: int = 16) -> list[str]:
    """``x(?:a|b)y`` as ``xay`` and ``xby`` when a and b are plain words.

    Longer needles: "sslv3 alert bad certificate" rather than "sslv3", and
    "error:0a0000c7" rather than "error:", which most log lines contain.
    """
    i = 0
    while i < len(branch):
        if branch[i] == "\\":
            i += 2
            continue
        if branch[i] == "[":
            close = branch.find("]", i + 2)
            if close < 0:
                return [branch]
            i = close + 1
            continue
        if branch.startswith("(?:", i):
            end = _group_end(branch, i)
            if end < 0:
                return [branch]
            inner, rest = branch[i + 3 : end], branch[end + 1 :]
            plain = not any(c in _SPECIAL - {"|"} or c == "\\" for c in inner)
            if plain and rest[:1] not in ("*", "?", "{", "+"):
                choices = inner.split("|")
                if len(choices) <= budget:
                    head = branch[:i]
                    return [
                        expanded
                        for choice in choices
                        for expanded in _expand_choice(head + choice + rest, budget // len(choices))
                    ]
        i += 1
    return [branch]


def alternatives(pattern: str) -> list[str]:
    """The pattern's top-level alternatives, plain-word choices spelled out."""
    return [b for top in _split_top(pattern) for b in _expand_choice(top)]


def needles(pattern: str) -> list[str] | None:
    """Literal texts one of which every match of ``pattern`` contains (None: unknown)."""
    found: list[str] = []
    for branch in alternatives(pattern):
        part = _branch_needles(branch)
        if part is None:
            return None
        found.extend(part)
    return found


def lowered(line: str) -> str:
    """The line in lower case, with the same length (so that spans carry over)."""
    low = line.lower()
    if len(low) == len(line):
        return low
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in line)


class Prefilter(Generic[T]):
    """Items behind their needles: those a text may match, in order, found in one pass.

    All needles are searched at once (Aho-Corasick, ``ahocorasick_rs``): one
    pass over the line instead of one substring search per needle.
    """

    def __init__(self, items: Sequence[tuple[T, Sequence[str] | None]]) -> None:
        from ahocorasick_rs import AhoCorasick

        self._items = tuple(item for item, _ in items)
        self._always = frozenset(i for i, (_, found) in enumerate(items) if not found)
        by_word: dict[str, list[int]] = {}
        for index, (_, found) in enumerate(items):
            for word in found or ():
                by_word.setdefault(word, []).append(index)
        self._by_word = by_word
        self._automaton = AhoCorasick(sorted(by_word), store_patterns=True) if by_word else None
        #: Candidates by the set of needles present (few distinct sets in a log).
        self._chosen: dict[frozenset[str], list[T]] = {}

    def items(self) -> Iterator[T]:
        """Every item, needles or not."""
        return iter(self._items)

    def candidates(self, low: str) -> list[T]:
        """The items whose needles occur in ``low`` (a lower-cased text), and those without."""
        if self._automaton is None:
            return list(self._items)
        present = frozenset(self._automaton.find_matches_as_strings(low, overlapping=True))
        chosen = self._chosen.get(present)
        if chosen is None:
            indexes = set(self._always)
            for word in present:
                indexes.update(self._by_word[word])
            chosen = [self._items[i] for i in sorted(indexes)]
            if len(self._chosen) < _MAX_CHOICES:
                self._chosen[present] = chosen
        return chosen
