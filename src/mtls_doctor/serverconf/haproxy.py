"""Adapter: an HAProxy configuration → :class:`ServerConfigFacts`.

HAProxy's format is line-based: sections (``global``, ``frontend NAME``,
``listen NAME``, ...) and keyword lines; a ``bind`` line carries every TLS
setting as keywords after the address. Each ``bind ... ssl`` in a
``frontend`` or ``listen`` section is one TLS block. Words follow HAProxy's
rules: ``#`` starts a comment, ``\\`` escapes, ``"..."`` expands
``${VAR}`` from the environment, ``'...'`` is literal.

Relative ``ca-file``, ``ca-verify-file`` and ``crl-file`` paths resolve
against the global ``ca-base`` when set, else against HAProxy's working
directory, taken as the configuration's directory (or ``--root``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from mtls_doctor.errors import ConfigParseError
from mtls_doctor.serverconf.facts import (
    ConfigFile,
    CrlCheck,
    FileRole,
    IgnoredErrors,
    ServerConfigFacts,
    ServerKind,
    TLSServerBlock,
    VerifyCheck,
    VerifyMode,
    Where,
)
from mtls_doctor.serverconf.reading import read_config_text

_SECTIONS = frozenset(
    {
        "global",
        "defaults",
        "frontend",
        "backend",
        "listen",
        "userlist",
        "peers",
        "resolvers",
        "mailers",
        "program",
        "http-errors",
        "ring",
        "cache",
        "log-forward",
        "crt-store",
        "traces",
    }
)
#: ``bind`` keywords that take one value (the others are flags).
_BIND_VALUE_KEYWORDS = frozenset(
    {
        "accept-netscaler-cip",
        "alpn",
        "backlog",
        "ca-file",
        "ca-ignore-err",
        "ca-sign-file",
        "ca-sign-pass",
        "ca-verify-file",
        "ciphers",
        "ciphersuites",
        "client-sigalgs",
        "crl-file",
        "crt",
        "crt-ignore-err",
        "crt-list",
        "curves",
        "ecdhe",
        "expose-fd",
        "gid",
        "group",
        "guid-prefix",
        "id",
        "interface",
        "label",
        "level",
        "maxconn",
        "mode",
        "mss",
        "name",
        "namespace",
        "nbconn",
        "nice",
        "npn",
        "process",
        "proto",
        "quic-cc-algo",
        "quic-socket",
        "severity-output",
        "shards",
        "sigalgs",
        "ssl-max-ver",
        "ssl-min-ver",
        "tcp-md5sig",
        "tcp-ut",
        "thread",
        "tls-ticket-keys",
        "uid",
        "user",
        "verify",
    }
)
_FILE_KEYWORDS = {
    "ca-file": FileRole.CLIENT_CA,
    "ca-verify-file": FileRole.TRUSTED_ONLY,
    "crl-file": FileRole.CRL,
}
_VERIFY = {
    "required": VerifyMode.REQUIRED,
    "optional": VerifyMode.OPTIONAL,
    "none": VerifyMode.NONE,
}
#: Sample fetches that carry the client-certificate verification result.
_VERIFY_FETCH = re.compile(r"\bssl_c_(?:verify|used|ca_err|err)\b")
_FORWARDING = ("set-header", "add-header", "set-var", "log-format", "unique-id-format")
_ENV = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


@dataclass(frozen=True, slots=True)
class _Line:
    words: tuple[str, ...]
    line: int
    text: str


def _words(text: str, file: str, number: int) -> list[str]:
    """One line's words, HAProxy-style (comments, escapes, quotes, ${VAR} in "...")."""
    words: list[str] = []
    current: list[str] = []
    in_word = False
    quote: str | None = None
    i = 0
    while i < len(text):
        char = text[i]
        if quote is None and char == "#":
            break
        if char == "\\" and quote != "'" and i + 1 < len(text):
            current.append(text[i + 1])
            in_word = True
            i += 2
            continue
        if quote is not None:
            if char == quote:
                quote = None
            elif quote == '"' and char == "$" and (m := _ENV.match(text, i)):
                current.append(os.environ.get(m.group(1), ""))
                i = m.end()
                continue
            else:
                current.append(char)
            i += 1
            continue
        if char in "\"'":
            quote = char
            in_word = True
        elif char.isspace():
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
        else:
            current.append(char)
            in_word = True
        i += 1
    if quote is not None:
        raise ConfigParseError(file, number, f"unterminated quote {quote}...")
    if in_word:
        words.append("".join(current))
    return words


def _resolve(base: Path, value: str) -> str:
    path = Path(value)
    return str(path if path.is_absolute() else base / path)


def _bind(
    line: _Line,
    section: str,
    section_lines: list[_Line],
    file: str,
    ca_base: Path,
) -> TLSServerBlock | None:
    words = line.words
    where = Where(file=file, line=line.line)
    if len(words) < 2:
        raise ConfigParseError(file, line.line, "bind without an address")
    options: list[tuple[str, str | None]] = []
    i = 2
    while i < len(words):
        keyword = words[i]
        if keyword in _BIND_VALUE_KEYWORDS:
            if i + 1 >= len(words):
                raise ConfigParseError(file, line.line, f"bind: '{keyword}' expects a value")
            options.append((keyword, words[i + 1]))
            i += 2
        else:
            options.append((keyword, None))
            i += 1
    if not any(keyword == "ssl" for keyword, _ in options):
        return None
    verify = VerifyMode.NONE
    verify_at: Where | None = None
    files: list[ConfigFile] = []
    ignores: list[IgnoredErrors] = []
    no_ca_names: Where | None = None
    notes: list[str] = []
    crl = False
    for keyword, value in options:
        if keyword == "verify" and value is not None:
            verify = _VERIFY.get(value.lower(), VerifyMode.NONE)
            verify_at = where
        elif keyword in _FILE_KEYWORDS and value is not None:
            crl = crl or keyword == "crl-file"
            files.append(
                ConfigFile(
                    role=_FILE_KEYWORDS[keyword],
                    path=_resolve(ca_base, value),
                    written=value,
                    directive=keyword,
                    where=where,
                )
            )
        elif keyword in ("crt-ignore-err", "ca-ignore-err") and value is not None:
            ignores.append(
                IgnoredErrors(option=keyword, values=tuple(value.split(",")), where=where)
            )
        elif keyword == "no-ca-names":
            no_ca_names = where
        elif keyword == "crt-list" and value is not None:
            notes.append(
                f"crt-list {value}: its lines can override verify, ca-file and crl-file per "
                "certificate (SNI); they are not read."
            )
    checks = []
    for other in section_lines:
        if other.words[:1] == ("bind",) or not _VERIFY_FETCH.search(other.text):
            continue
        forwarded = any(word in _FORWARDING for word in other.words)
        text = " ".join(other.words)
        checks.append(
            VerifyCheck(
                where=Where(file=file, line=other.line),
                forwarded=forwarded,
                text=text if len(text) <= 80 else text[:77] + "...",
            )
        )
    return TLSServerBlock(
        kind=ServerKind.HAPROXY,
        where=where,
        name=section,
        listen=tuple(words[1].split(",")),
        verify=verify,
        verify_at=verify_at,
        files=tuple(files),
        # HAProxy sets X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL with crl-file.
        crl_check=CrlCheck.CHAIN if crl else CrlCheck.NONE,
        crl_check_at=where if crl else None,
        verify_checks=tuple(checks),
        ignore_errors=tuple(ignores),
        no_ca_names_at=no_ca_names,
        notes=tuple(notes),
    )


def parse_haproxy(path: str | Path, *, root: str | Path | None = None) -> ServerConfigFacts:
    """Parse an HAProxy configuration file."""
    main = Path(path).absolute()
    base = Path(root).absolute() if root is not None else main.parent
    name = str(main)
    text = read_config_text(main)
    sections: list[tuple[str, str, list[_Line]]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        words = _words(raw, name, number)
        if not words:
            continue
        line = _Line(tuple(words), number, raw)
        if words[0] in _SECTIONS:
            sections.append((words[0], words[1] if len(words) > 1 else "", []))
        elif not sections:
            raise ConfigParseError(name, number, f"'{words[0]}' outside of any section")
        else:
            sections[-1][2].append(line)
    ca_base = base
    reason = (
        "--root"
        if root is not None
        else "the directory of the configuration file (HAProxy's "
        "working directory; pass --root to change it)"
    )
    for kind, _, lines in sections:
        if kind != "global":
            continue
        for line in lines:
            if line.words[0] == "ca-base" and len(line.words) > 1:
                ca_base = Path(_resolve(base, line.words[1]))
                reason = f"ca-base (line {line.line})"
    blocks = []
    for kind, section, lines in sections:
        if kind not in ("frontend", "listen"):
            continue
        for line in lines:
            if line.words[0] == "bind":
                block = _bind(line, section, lines, name, ca_base)
                if block is not None:
                    blocks.append(block)
    return ServerConfigFacts(
        kind=ServerKind.HAPROXY,
        path=name,
        files=(name,),
        root=str(ca_base),
        root_reason=reason,
        blocks=tuple(blocks),
    )
