"""Text of any length → recognised messages, grouped, in bounded memory.

:class:`Explainer` takes a log block by block (bytes, whole lines) and keeps
only what it recognised: a group per distinct message with its count and the
numbers of its first lines. A block is searched for the trigger words
(matching.toml) in one pass over its bytes; only the lines that contain one
are decoded and matched (matcher.py). :func:`explain` does the same for a
text already in memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mtls_doctor.advice import only_existing
from mtls_doctor.causes import Cause
from mtls_doctor.knowledge.matcher import (
    Alert,
    Entry,
    Knowledge,
    Reading,
    VerifyError,
    load_knowledge,
    read_line,
)
from mtls_doctor.knowledge.vocabulary import Scope

#: Lines longer than this (in characters) are cut before matching (bounds the regex work).
MAX_LINE = 4000
#: What stands in for the target in a next step when the input names none.
URL_PLACEHOLDER = "https://HOST[:PORT]"
#: Line numbers kept per message (the count goes on).
MAX_LINE_NUMBERS = 1000
#: Distinct wordings kept apart; past this, lines join their entry's group.
MAX_GROUPS = 1000

_URL = re.compile(rb"https://[^\s'\"<>()\[\]]+")
_HOST = re.compile(rb'\bhost: "([^"\s]+)"')


@dataclass(frozen=True, slots=True, kw_only=True)
class Match:
    """A recognised message (identical lines grouped)."""

    #: The first line that said it, stripped.
    text: str
    #: 1-based numbers of the first lines that said it (at most MAX_LINE_NUMBERS).
    lines: tuple[int, ...]
    #: How many lines said it.
    count: int
    entry: Entry
    #: Whose certificate it is about (after the writer rules).
    scope: Scope
    causes: tuple[Cause, ...]
    said: str
    alert: Alert | None
    verify_error: VerifyError | None
    cannot_distinguish: tuple[str, ...]
    next_step: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Explanation:
    """Everything recognised in a text."""

    matches: tuple[Match, ...]
    #: Lines read (including those that matched nothing).
    lines_read: int
    #: Lines left out (--since, --tail).
    lines_skipped: int = 0
    #: The target named in the text (first https URL or Host), if any.
    url: str | None
    #: The causes the matches agree on, most likely first.
    likely_causes: tuple[Cause, ...]

    @property
    def known(self) -> bool:
        """True when at least one message was recognised."""
        return bool(self.matches)


def find_url(text: str) -> str | None:
    """The first https URL in the text, else an nginx ``host: "..."`` field."""
    finder = _UrlFinder()
    finder.feed(text.encode("utf-8", "replace"))
    return finder.url


class _UrlFinder:
    """The first https URL, else the first nginx host field, over a stream of blocks."""

    def __init__(self) -> None:
        self._url: bytes | None = None
        self._host: bytes | None = None

    def feed(self, block: bytes) -> None:
        if self._url is None:
            found = _URL.search(block)
            if found:
                self._url = found.group(0).rstrip(b".,;:!?'\"")
        if self._host is None:
            host = _HOST.search(block)
            if host:
                self._host = b"https://" + host.group(1)

    @property
    def url(self) -> str | None:
        found = self._url or self._host
        return found.decode("utf-8", "replace") if found else None


@dataclass(slots=True)
class _Group:
    reading: Reading
    text: str
    lines: list[int]
    count: int


class Explainer:
    """Recognises messages in a stream of blocks; memory does not grow with the input."""

    def __init__(self, kb: Knowledge | None = None) -> None:
        from ahocorasick_rs import BytesAhoCorasick

        self.kb = kb or load_knowledge()
        self._triggers = BytesAhoCorasick([word.encode() for word in self.kb.triggers])
        self._groups: dict[tuple[Any, ...], _Group] = {}
        self._urls = _UrlFinder()
        #: Lines examined so far.
        self.lines_read = 0
        #: Lines left out so far.
        self.lines_skipped = 0
        #: The number of the next line.
        self.next_line = 1

    def skip(self, count: int) -> None:
        """``count`` lines were left out (--since, --tail): keep the numbering."""
        self.next_line += count
        self.lines_skipped += count

    def feed(self, block: bytes) -> None:
        """Whole lines; the block ends with a newline unless it ends the input."""
        if not block:
            return
        base = self.next_line
        lines = block.count(b"\n") + (not block.endswith(b"\n"))
        self.next_line += lines
        self.lines_read += lines
        self._urls.feed(block)
        low = block.lower()
        spans: list[tuple[int, int]] = []
        end = -1
        for _, position, _ in self._triggers.find_matches_as_indexes(low):
            if position < end:
                continue  # another trigger on a line already taken
            start = low.rfind(b"\n", 0, position) + 1
            end = low.find(b"\n", position)
            if end < 0:
                end = len(low)
            spans.append((start, end))
        number, previous = base, 0
        for start, stop in spans:
            number += block.count(b"\n", previous, start)
            previous = start
            self._line(number, block[start : min(stop, start + 4 * MAX_LINE)])

    def _line(self, number: int, raw: bytes) -> None:
        line = raw.decode("utf-8", "replace")
        if len(line) > MAX_LINE:
            line = line[:MAX_LINE]
            low = line.lower()
            if not any(word in low for word in self.kb.triggers):
                return
        reading = read_line(self.kb, line.rstrip("\r"))
        if reading is None:
            return
        key = reading.key
        if key not in self._groups and len(self._groups) >= MAX_GROUPS:
            key = (reading.entry.id, *key[2:])  # any wording: a bounded set of keys
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group(reading, line.strip(), [], 0)
        group.count += 1
        if len(group.lines) < MAX_LINE_NUMBERS:
            group.lines.append(number)

    def result(self) -> Explanation:
        """What was recognised so far."""
        url = self._urls.url
        target = url or URL_PLACEHOLDER
        matches = tuple(
            Match(
                text=g.text,
                lines=tuple(g.lines),
                count=g.count,
                entry=g.reading.entry,
                scope=g.reading.scope,
                causes=g.reading.causes,
                said=g.reading.said,
                alert=g.reading.alert,
                verify_error=g.reading.verify_error,
                cannot_distinguish=g.reading.notes,
                next_step=only_existing(g.reading.entry.next_step).replace("{url}", target),
            )
            for g in self._groups.values()
        )
        return Explanation(
            matches=matches,
            lines_read=self.lines_read,
            lines_skipped=self.lines_skipped,
            url=url,
            likely_causes=likely_causes(matches),
        )


def likely_causes(matches: Iterable[Match]) -> tuple[Cause, ...]:
    """The causes every client-certificate match allows, most likely first.

    When the matches contradict each other (no cause in common), the union,
    ordered by how many matches name each cause and then by rank.
    """
    lists = [m.causes for m in matches if m.causes]
    if not lists:
        return ()
    narrowest = min(lists, key=len)
    common = tuple(c for c in narrowest if all(c in other for other in lists))
    if common:
        return common
    score: dict[Cause, tuple[int, int]] = {}
    for causes in lists:
        for rank, cause in enumerate(causes):
            votes, best_rank = score.get(cause, (0, rank))
            score[cause] = (votes + 1, min(best_rank, rank))
    return tuple(sorted(score, key=lambda c: (-score[c][0], score[c][1])))


def explain(text: str, kb: Knowledge | None = None) -> Explanation:
    """Recognise every known message in ``text`` (a line, a paste, a whole log)."""
    explainer = Explainer(kb)
    explainer.feed(text.encode("utf-8", "replace"))
    return explainer.result()
