"""Text → recognised messages. Pure: no I/O beyond reading the package's TOML.

The knowledge is in the TOML files beside this module (one file per family
of programs, plus the TLS alert and X.509 error tables); this module only
loads, validates and applies it:

1. a line is examined only if it contains a trigger word (matching.toml);
2. the entries are tried by descending priority; the first that matches
   explains the line;
3. an entry may *derive* its alert or X.509 error from the line (or take a
   fixed alert) and with it the cause codes;
4. messages that read the same on both sides of a connection are assigned
   to a side by the writer rules (matching.toml);
5. identical messages (same entry, same wording) are grouped with a count
   (explaining.py, which also streams long logs).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any, TypeVar

from mtls_doctor.causes import Cause
from mtls_doctor.knowledge.patterns import (
    Prefilter,
    alternatives,
    lower_pattern,
    lowered,
    needles,
)
from mtls_doctor.knowledge.vocabulary import Derive, Scope, Writer


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """A TLS alert (RFC 8446 §6) and what it means for a client certificate."""

    code: int
    #: RFC name, e.g. ``unknown_ca``.
    name: str
    #: Cause codes, most likely first; empty when not about the certificate.
    causes: tuple[Cause, ...]
    meaning: str
    cannot_distinguish: str | None = None
    spellings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifyError:
    """An OpenSSL X.509 verification error about a client certificate."""

    code: int
    #: OpenSSL 3.0's wording (X509_verify_cert_error_string).
    text: str
    causes: tuple[Cause, ...]
    meaning: str
    other_texts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """One known message (see browsers.toml for the meaning of each field)."""

    id: str
    file: str
    source: str
    program: str
    layer: str
    pattern: str
    priority: int
    said: str
    meaning: str
    causes: tuple[Cause, ...] | None
    derive: Derive | None
    alert: int | None
    scope: Scope
    if_server_wrote: Scope | None
    #: For ``either`` lines no writer rule recognises: assume this side wrote it.
    unknown_writer: Writer | None
    cannot_distinguish: str | None
    next_step: str
    reference: str
    examples: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Knowledge:
    """The loaded knowledge base."""

    entries: tuple[Entry, ...]
    alerts: Mapping[int, Alert]
    verify_errors: tuple[VerifyError, ...]
    triggers: tuple[str, ...]
    #: (side, pattern) rules telling who wrote a line.
    writers: tuple[tuple[Writer, str], ...]
    #: Spellings made from each alert's number (templates).
    number_spellings: tuple[str, ...]
    _compiled: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def regex(self, entry: Entry) -> re.Pattern[str]:
        """The entry's pattern for lower-cased lines, compiled on first use."""
        return self.compiled(entry)[0]

    def compiled(self, entry: Entry) -> tuple[re.Pattern[str], tuple[str, ...] | None]:
        """The entry's pattern for lower-cased lines, and its needles (None: always try)."""
        key = f"entry:{entry.id}"
        compiled = self._compiled.get(key)
        if compiled is None:
            found = needles(entry.pattern)
            compiled = self._compiled[key] = (
                re.compile(lower_pattern(entry.pattern)),
                tuple(found) if found else None,
            )
        return compiled

    def plan(self) -> Prefilter[tuple[Entry, re.Pattern[str]]]:
        """Every entry with its compiled pattern, behind its needles (cached)."""
        compiled = self._compiled.get("plan")
        if compiled is None:
            rows = []
            for entry in self.entries:
                regex, entry_needles = self.compiled(entry)
                rows.append(((entry, regex), entry_needles))
            compiled = self._compiled["plan"] = Prefilter(rows)
        return compiled

    def alert_regexes(self) -> Prefilter[tuple[Alert, re.Pattern[str]]]:
        """One regex per spelling of each alert (lower case), behind its needles.

        Separate literal spellings let the regex engine search for their text
        instead of trying every alternative at every position.
        """
        compiled = self._compiled.get("alerts")
        if compiled is None:
            items = []
            for alert in self.alerts.values():
                numbered = [
                    template.format(code=alert.code, reason=format(1000 + alert.code, "X"))
                    for template in self.number_spellings
                ]
                for spelling in (*alert.spellings, *numbered):
                    for branch in alternatives(spelling):
                        regex = re.compile(lower_pattern(branch))
                        items.append(((alert, regex), needles(branch)))
            compiled = self._compiled["alerts"] = Prefilter(items)
        return compiled

    def verify_regex(self) -> tuple[re.Pattern[str], dict[str, VerifyError]]:
        """One regex over every X.509 error text (lower case), and text → error."""
        compiled = self._compiled.get("verify")
        if compiled is None:
            by_text: dict[str, VerifyError] = {}
            for error in self.verify_errors:
                for text in (error.text, *error.other_texts):
                    by_text[_norm(text)] = error
            texts = sorted(by_text, key=len, reverse=True)
            pattern = re.compile("|".join(re.escape(t) for t in texts))
            compiled = self._compiled["verify"] = (pattern, by_text)
        return compiled

    def writer_regexes(self) -> tuple[tuple[Writer, re.Pattern[str]], ...]:
        """The writer rules, compiled for lower-cased lines."""
        compiled = self._compiled.get("writers")
        if compiled is None:
            compiled = self._compiled["writers"] = tuple(
                (side, re.compile(lower_pattern(pattern))) for side, pattern in self.writers
            )
        return compiled


class KnowledgeError(ValueError):
    """The knowledge base is malformed (a packaging or editing mistake)."""


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _causes(raw: Iterable[str], where: str) -> tuple[Cause, ...]:
    try:
        return tuple(Cause(code) for code in raw)
    except ValueError as exc:
        raise KnowledgeError(f"{where}: {exc}") from None


def _text(item: Mapping[str, Any], key: str, where: str, *, default: str | None = None) -> str:
    value = item.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise KnowledgeError(f"{where}: `{key}` must be a non-empty string")
    return value


_E = TypeVar("_E", bound=StrEnum)


def _member(kind: type[_E], value: Any, key: str, where: str) -> _E | None:
    """``value`` as a member of ``kind`` (None stays None); else a KnowledgeError."""
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(repr(member.value) for member in kind)
        raise KnowledgeError(f"{where}: {key} is {value!r}, not one of {choices}") from None


def _entry(item: Mapping[str, Any], file: str) -> Entry:
    where = f"{file}: entry {item.get('id', '?')}"
    causes = item.get("causes")
    scope = _member(Scope, item.get("scope"), "scope", where) or Scope.CLIENT_CERTIFICATE
    derive = _member(Derive, item.get("derive"), "derive", where)
    alert = item.get("alert")
    if causes is None and derive is None and alert is None:
        raise KnowledgeError(f"{where}: needs `causes`, `derive` or `alert`")
    if_server = _member(Scope, item.get("if_server_wrote"), "if_server_wrote", where)
    if if_server in (Scope.EITHER, Scope.PROTOCOL):
        raise KnowledgeError(f"{where}: if_server_wrote names a certificate, not {if_server!r}")
    unknown_writer = _member(Writer, item.get("unknown_writer"), "unknown_writer", where)
    unknown = set(item) - {
        "id", "source", "program", "layer", "pattern", "priority", "said", "meaning", "causes",
        "derive", "alert", "scope", "if_server_wrote", "unknown_writer", "cannot_distinguish",
        "next_step", "reference", "examples",
    }  # fmt: skip
    if unknown:
        raise KnowledgeError(f"{where}: unknown field(s) {sorted(unknown)}")
    return Entry(
        id=_text(item, "id", where),
        file=file,
        source=_text(item, "source", where),
        program=_text(item, "program", where),
        layer=_text(item, "layer", where),
        pattern=_text(item, "pattern", where),
        priority=int(item.get("priority", 0)),
        said=_text(item, "said", where),
        meaning=_text(item, "meaning", where),
        causes=None if causes is None else _causes(causes, where),
        derive=derive,
        alert=None if alert is None else int(alert),
        scope=scope,
        if_server_wrote=if_server,
        unknown_writer=unknown_writer,
        cannot_distinguish=item.get("cannot_distinguish"),
        next_step=_text(item, "next_step", where),
        reference=_text(item, "reference", where),
        examples=tuple(item.get("examples", ())),
    )


def _read(name: str) -> dict[str, Any]:
    data = resources.files(__package__).joinpath(name).read_bytes()
    try:
        return tomllib.loads(data.decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise KnowledgeError(f"{name}: {exc}") from None


@cache
def load_knowledge() -> Knowledge:
    """Load and validate every TOML file of the package (once per process)."""
    entries: list[Entry] = []
    alerts: dict[int, Alert] = {}
    verify_errors: list[VerifyError] = []
    triggers: tuple[str, ...] = ()
    writers: tuple[tuple[Writer, str], ...] = ()
    number_spellings: tuple[str, ...] = ()
    names = sorted(
        item.name for item in resources.files(__package__).iterdir() if item.name.endswith(".toml")
    )
    for name in names:
        data = _read(name)
        entries.extend(_entry(item, name) for item in data.get("entry", ()))
        for item in data.get("alert", ()):
            where = f"{name}: alert {item.get('code')}"
            alerts[int(item["code"])] = Alert(
                code=int(item["code"]),
                name=_text(item, "name", where),
                causes=_causes(item.get("causes", ()), where),
                meaning=_text(item, "meaning", where),
                cannot_distinguish=item.get("cannot_distinguish"),
                spellings=tuple(item.get("spellings", ())),
            )
        if "number_spellings" in data:
            number_spellings = tuple(data["number_spellings"])
        for item in data.get("verify", ()):
            where = f"{name}: verify {item.get('code')}"
            verify_errors.append(
                VerifyError(
                    code=int(item["code"]),
                    text=_text(item, "text", where),
                    causes=_causes(item.get("causes", ()), where),
                    meaning=_text(item, "meaning", where),
                    other_texts=tuple(item.get("other_texts", ())),
                )
            )
        if "triggers" in data:
            triggers = tuple(word.lower() for word in data["triggers"])
        if "writer" in data:
            writers = tuple((Writer(w["side"]), w["pattern"]) for w in data["writer"])
    ids = [e.id for e in entries]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise KnowledgeError(f"duplicate entry ids: {duplicates}")
    for entry in entries:
        if entry.alert is not None and entry.alert not in alerts:
            raise KnowledgeError(f"entry {entry.id}: alert {entry.alert} is not in alerts.toml")
    # Highest priority first; the sort is stable, so file order breaks ties.
    entries.sort(key=lambda e: -e.priority)
    return Knowledge(
        entries=tuple(entries),
        alerts=alerts,
        verify_errors=tuple(verify_errors),
        triggers=triggers,
        writers=writers,
        number_spellings=number_spellings,
    )


# --- matching -----------------------------------------------------------------


def find_alert(kb: Knowledge, text: str) -> Alert | None:
    """The alert a text names (the longest matching spelling wins)."""
    low = lowered(text)
    best: tuple[int, int, Alert] | None = None
    for alert, regex in kb.alert_regexes().candidates(low):
        for found in regex.finditer(low):
            length = found.end() - found.start()
            if best is None or (length, -alert.code) > (best[0], best[1]):
                best = (length, -alert.code, alert)
    return best[2] if best else None


def _alert_from(kb: Knowledge, found: re.Match[str], line: str) -> Alert | None:
    record = found.groupdict().get("alert_record")
    if record:  # level * 256 + description, as curl's trace prints it
        return kb.alerts.get(int(record) % 256)
    group = found.groupdict().get("alert")
    if group:
        if group.isdigit():
            return kb.alerts.get(int(group))
        alert = find_alert(kb, group)
        if alert is not None:
            return alert
    return find_alert(kb, line)


def find_verify_error(kb: Knowledge, text: str) -> VerifyError | None:
    """The X.509 verification error a text names (the longest text wins)."""
    regex, by_text = kb.verify_regex()
    best = max(regex.finditer(lowered(text)), key=lambda m: len(m.group(0)), default=None)
    return by_text[_norm(best.group(0))] if best else None


def _verify_from(kb: Knowledge, found: re.Match[str], line: str) -> VerifyError | None:
    groups = found.groupdict()
    _, by_text = kb.verify_regex()
    text = groups.get("verify_text")
    if text and _norm(text) in by_text:
        return by_text[_norm(text)]
    code = groups.get("verify")
    if code:
        for error in kb.verify_errors:
            if error.code == int(code):
                return error
        return None
    return find_verify_error(kb, line)


def writer_of(kb: Knowledge, line: str) -> Writer | None:
    """The side that printed the line, when a writer rule recognises it."""
    low = lowered(line)
    for side, regex in kb.writer_regexes():
        if regex.search(low):
            return side
    return None


def best_entry(
    kb: Knowledge, line: str, *, use_needles: bool = True
) -> tuple[Entry, re.Match[str]] | None:
    """The highest-priority entry that matches a line (first in file order on ties).

    The match is against the lower-cased line; its spans index ``line`` too.
    """
    low = lowered(line)
    plan = kb.plan()
    for entry, regex in plan.candidates(low) if use_needles else plan.items():
        found = regex.search(low)
        if found:
            return entry, found
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Reading:
    """What one line says, before grouping: the entry and everything derived from it."""

    #: Lines that say the same thing share a key (entry, wording, alert, error, side).
    key: tuple[Any, ...]
    entry: Entry
    scope: Scope
    causes: tuple[Cause, ...]
    said: str
    alert: Alert | None
    verify_error: VerifyError | None
    notes: tuple[str, ...]


def read_line(kb: Knowledge, line: str) -> Reading | None:
    """What a line means, or None when no entry knows it."""
    hit = best_entry(kb, line)
    if hit is None:
        return None
    entry, found = hit
    alert: Alert | None = None
    verify: VerifyError | None = None
    if entry.alert is not None:
        alert = kb.alerts[entry.alert]
    elif entry.derive is Derive.ALERT:
        alert = _alert_from(kb, found, line)
    elif entry.derive is Derive.VERIFY:
        verify = _verify_from(kb, found, line)
    scope = entry.scope
    notes: list[str] = []
    if scope is Scope.EITHER and entry.if_server_wrote is not None:
        writer = writer_of(kb, line) or entry.unknown_writer
        if writer is Writer.SERVER:
            scope = entry.if_server_wrote
        elif writer is Writer.CLIENT:
            scope = entry.if_server_wrote.other_side()
    if entry.cannot_distinguish:
        notes.append(entry.cannot_distinguish)
    if scope in (Scope.SERVER_CERTIFICATE, Scope.PROTOCOL):
        causes: tuple[Cause, ...] = ()
    elif alert is not None and (entry.causes is None or entry.derive is Derive.ALERT):
        causes = alert.causes
        if alert.cannot_distinguish:
            notes.append(alert.cannot_distinguish)
    elif verify is not None:
        causes = verify.causes
    else:
        causes = entry.causes or ()
    said = entry.said
    if alert is not None:
        said = said.replace("{alert}", f"{alert.code} {alert.name}")
    said = said.replace("{alert}", "(an alert it does not name)")
    if verify is not None:
        said = said.replace("{verify}", f"{verify.code} ({verify.text})")
    said = said.replace("{verify}", "(not named)")
    key = (
        entry.id,
        _norm(found.group(0)),
        alert.code if alert else None,
        verify.code if verify else None,
        scope,
    )
    return Reading(
        key=key,
        entry=entry,
        scope=scope,
        causes=causes,
        said=said,
        alert=alert,
        verify_error=verify,
        notes=tuple(notes),
    )
