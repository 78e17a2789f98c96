"""Adapter: an Apache httpd configuration → :class:`ServerConfigFacts`.

A small parser of our own: the PyPI ones drop ``IncludeOptional`` and give
no line numbers. It follows what httpd's config reader does where it
matters for client authentication:

- ``Include`` / ``IncludeOptional`` with wildcards (in directories too) and
  directories (every file, sorted), relative to ``ServerRoot``; an
  ``Include`` that matches nothing is an error, as in httpd 2.4;
- ``Define`` and ``${VAR}`` (then the environment), backslash line
  continuation, ``#`` comment lines, quoted arguments;
- ``<IfModule>`` / ``<IfVersion>`` are taken as true (the mod_ssl settings
  are what we audit), ``<IfDefine>`` is evaluated against ``Define``;
- mod_ssl settings of the main server are inherited by every
  ``<VirtualHost>`` that does not set them; ``SSLVerifyClient`` inside
  ``<Location>``, ``<Directory>``, ``<Files>`` (and their Match forms) is
  per-directory: a second handshake step.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from mtls_doctor.errors import ConfigParseError
from mtls_doctor.serverconf.facts import (
    ConfigFile,
    CrlCheck,
    FileRole,
    IgnoredSetting,
    ScopedVerify,
    ServerConfigFacts,
    ServerKind,
    TLSServerBlock,
    VerifyCheck,
    VerifyMode,
    Where,
)
from mtls_doctor.serverconf.reading import read_config_text

MAX_INCLUDE_DEPTH = 16
MAX_FILES = 2000

_VERIFY = {
    "require": VerifyMode.REQUIRED,
    "optional": VerifyMode.OPTIONAL,
    "optional_no_ca": VerifyMode.OPTIONAL_NO_CA,
    "none": VerifyMode.NONE,
}
_FILE_DIRECTIVES = {
    "sslcacertificatefile": FileRole.CLIENT_CA,
    "sslcacertificatepath": FileRole.CA_PATH,
    "sslcadnrequestfile": FileRole.CA_NAMES,
    "sslcadnrequestpath": FileRole.CA_NAMES_PATH,
    "sslcarevocationfile": FileRole.CRL,
    "sslcarevocationpath": FileRole.CRL_PATH,
}
_SERVER_SETTINGS = (
    "sslengine",
    "sslverifyclient",
    "sslverifydepth",
    "sslcarevocationcheck",
    "sslprotocol",
    *_FILE_DIRECTIVES,
)
_CLIENT_AUTH = ("sslverifyclient", "sslcacertificatefile", "sslcacertificatepath")
_PER_DIRECTORY = frozenset(
    {"location", "locationmatch", "directory", "directorymatch", "files", "filesmatch", "if"}
)
_TRANSPARENT = frozenset({"ifmodule", "ifversion", "ifdefine", "else", "elseif"})
#: Directives that test the verification result (a condition, not just passing it on).
_CONDITIONS = frozenset(
    {"sslrequire", "require", "rewritecond", "setenvif", "setenvifexpr", "if", "elseif"}
)
_VERIFY_VARIABLE = "SSL_CLIENT_VERIFY"
_VAR = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


@dataclass(slots=True)
class Node:
    """A directive or a section, with the file and line it came from."""

    name: str
    args: list[str]
    file: str
    line: int
    children: list[Node] | None = None

    @property
    def key(self) -> str:
        return self.name.lower()

    @property
    def where(self) -> Where:
        return Where(file=self.file, line=self.line)


def _split_args(text: str, file: str, line: int) -> list[str]:
    """httpd's ap_getword_conf: whitespace-separated, "..." or '...' quoted, \\ escapes."""
    args: list[str] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        if text[i] in "\"'":
            quote = text[i]
            i += 1
            word: list[str] = []
            while i < n and text[i] != quote:
                if text[i] == "\\" and i + 1 < n and text[i + 1] == quote:
                    i += 1
                word.append(text[i])
                i += 1
            if i >= n:
                raise ConfigParseError(file, line, f"unterminated quote {quote}...")
            i += 1
            args.append("".join(word))
        else:
            start = i
            while i < n and not text[i].isspace():
                i += 1
            args.append(text[start:i])
    return args


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, text) with backslash continuations joined and comments dropped."""
    out: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if not pending:
            start = number
        if line.endswith("\\"):
            pending.append(line[:-1])
            continue
        pending.append(line)
        joined = " ".join(part.strip() for part in pending).strip()
        pending = []
        if joined and not joined.startswith("#"):
            out.append((start, joined))
    if pending:
        joined = " ".join(part.strip() for part in pending).strip()
        if joined and not joined.startswith("#"):
            out.append((start, joined))
    return out


@dataclass(slots=True)
class _Reader:
    root: Path
    root_fixed: bool
    #: A ServerRoot directive was seen (and used).
    root_set: bool = False
    defines: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def _expand(self, text: str) -> str:
        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            return self.defines.get(name, os.environ.get(name, match.group(0)))

        return _VAR.sub(value, text)

    def read(self, path: Path, depth: int = 0, at: Where | None = None) -> list[Node]:
        if depth > MAX_INCLUDE_DEPTH:
            raise ConfigParseError(
                at.file if at else str(path),
                at.line if at else None,
                f"includes nested more than {MAX_INCLUDE_DEPTH} deep (an include loop?)",
            )
        if len(self.files) >= MAX_FILES:
            raise ConfigParseError(str(path), None, f"more than {MAX_FILES} included files")
        name = str(path)
        text = read_config_text(path, at)
        self.files.append(name)
        stack: list[Node] = [Node("(file)", [], name, 0, [])]
        for number, line in _logical_lines(text):
            if line.startswith("</"):
                closing = line[2:].rstrip(">").strip().lower()
                if len(stack) == 1 or stack[-1].key != closing:
                    expected = f"</{stack[-1].name}>" if len(stack) > 1 else "nothing"
                    raise ConfigParseError(
                        name, number, f"</{line[2:].rstrip('>')}> closes {expected}"
                    )
                section = stack.pop()
                self._close(section, stack[-1], depth)
                continue
            if line.startswith("<"):
                if not line.endswith(">"):
                    raise ConfigParseError(name, number, f"section {line.split()[0]} lacks '>'")
                inner = self._expand(line[1:-1].strip())
                head, _, rest = inner.partition(" ")
                node = Node(head, _split_args(rest, name, number), name, number, [])
                stack.append(node)
                continue
            head, _, rest = self._expand(line).partition(" ")
            node = Node(head, _split_args(rest, name, number), name, number)
            self._directive(node, stack[-1], depth)
        if len(stack) > 1:
            open_section = stack[-1]
            raise ConfigParseError(
                name, open_section.line, f"<{open_section.name}> is never closed"
            )
        return stack[0].children or []

    def _close(self, section: Node, parent: Node, depth: int) -> None:
        assert parent.children is not None
        if section.key == "ifdefine":
            if not self._defined(section.args):
                return
            parent.children.extend(section.children or [])
            return
        if section.key in ("ifmodule", "ifversion"):
            negated = bool(section.args) and section.args[0].startswith("!")
            if not negated:
                parent.children.extend(section.children or [])
            return
        parent.children.append(section)

    def _defined(self, args: list[str]) -> bool:
        if not args:
            return True
        name = args[0]
        if name.startswith("!"):
            return name[1:] not in self.defines
        return name in self.defines

    def _directive(self, node: Node, parent: Node, depth: int) -> None:
        assert parent.children is not None
        key = node.key
        if key == "define" and node.args:
            self.defines[node.args[0]] = node.args[1] if len(node.args) > 1 else ""
        elif key == "undefine" and node.args:
            self.defines.pop(node.args[0], None)
        elif key == "serverroot" and node.args and not self.root_fixed:
            self.root = Path(node.args[0])
            self.root_set = True
        elif key in ("include", "includeoptional") and node.args:
            parent.children.extend(self._include(node, depth, optional=key == "includeoptional"))
            return
        parent.children.append(node)

    def _include(self, node: Node, depth: int, *, optional: bool) -> list[Node]:
        pattern = node.args[-1]
        full = pattern if Path(pattern).is_absolute() else str(self.root / pattern)
        if glob.has_magic(full):
            matches = sorted(glob.glob(full))
            if not matches and not optional:
                raise ConfigParseError(
                    node.file, node.line, f"Include {pattern}: no matches for the wildcard"
                )
        elif Path(full).exists():
            matches = [full]
        elif optional:
            matches = []
        else:
            raise ConfigParseError(node.file, node.line, f"Include {pattern}: no such file")
        out: list[Node] = []
        for match in matches:
            target = Path(match)
            files = (
                sorted(islice((p for p in target.rglob("*") if p.is_file()), MAX_FILES + 1))
                if target.is_dir()
                else [target]
            )
            for item in files:
                out.extend(self.read(item, depth + 1, node.where))
        return out


def _resolve(root: Path, value: str) -> str:
    path = Path(value)
    return str(path if path.is_absolute() else root / path)


def _walk(nodes: list[Node]) -> list[Node]:
    """Every node below ``nodes`` (sections and directives), depth first."""
    out: list[Node] = []
    for node in nodes:
        out.append(node)
        if node.children:
            out.extend(_walk(node.children))
    return out


def _verify_checks(nodes: list[Node]) -> list[VerifyCheck]:
    checks = []
    for node in _walk(nodes):
        text = " ".join(node.args)
        exports = node.key == "ssloptions" and "stdenvvars" in text.lower()
        if _VERIFY_VARIABLE not in text and not exports:
            continue
        short = " ".join([node.name, *node.args])
        checks.append(
            VerifyCheck(
                where=node.where,
                forwarded=node.key not in _CONDITIONS,
                text=short if len(short) <= 80 else short[:77] + "...",
            )
        )
    return checks


def _scoped(nodes: list[Node]) -> list[ScopedVerify]:
    found = []
    for node in nodes:
        if node.children is None:
            continue
        if node.key in _PER_DIRECTORY:
            for inner in _walk(node.children):
                if inner.key == "sslverifyclient" and inner.args:
                    scope = f"<{node.name} {' '.join(node.args)}>".replace(" >", ">")
                    mode = _VERIFY.get(inner.args[0].lower(), VerifyMode.NONE)
                    found.append(
                        ScopedVerify(
                            scope=scope, mode=mode, where=inner.where, written=inner.args[0]
                        )
                    )
        elif node.key not in ("virtualhost",):
            found.extend(_scoped(node.children))
    return found


def _settings(nodes: list[Node]) -> dict[str, Node]:
    """The last server-level value of each mod_ssl setting among ``nodes``."""
    out: dict[str, Node] = {}
    for node in nodes:
        if node.children is None and node.key in _SERVER_SETTINGS:
            out[node.key] = node
    return out


def _block(
    name: str,
    where: Where,
    listen: tuple[str, ...],
    settings: dict[str, Node],
    scope_nodes: list[Node],
    scoped: list[ScopedVerify],
    root: Path,
) -> TLSServerBlock:
    verify_node = settings.get("sslverifyclient")
    verify = VerifyMode.NONE
    if verify_node is not None and verify_node.args:
        verify = _VERIFY.get(verify_node.args[0].lower(), VerifyMode.NONE)
    files = [
        ConfigFile(
            role=role,
            path=_resolve(root, node.args[0]),
            written=node.args[0],
            directive=node.name,
            where=node.where,
        )
        for key, role in _FILE_DIRECTIVES.items()
        if (node := settings.get(key)) is not None and node.args
    ]
    depth_node = settings.get("sslverifydepth")
    depth = None
    if depth_node is not None and depth_node.args and depth_node.args[0].isdigit():
        depth = int(depth_node.args[0])
    check_node = settings.get("sslcarevocationcheck")
    crl_check, missing_ok = CrlCheck.NONE, False
    if check_node is not None and check_node.args:
        crl_check = {"leaf": CrlCheck.LEAF, "chain": CrlCheck.CHAIN}.get(
            check_node.args[0].lower(), CrlCheck.NONE
        )
        missing_ok = any(a.lower() == "no_crl_for_cert_ok" for a in check_node.args[1:])
    protocols = settings.get("sslprotocol")
    return TLSServerBlock(
        kind=ServerKind.APACHE,
        where=where,
        name=name,
        listen=listen,
        verify=verify,
        verify_at=verify_node.where if verify_node is not None else None,
        files=tuple(files),
        verify_depth=depth,
        verify_depth_at=depth_node.where if depth_node is not None else None,
        crl_check=crl_check,
        crl_check_at=check_node.where if check_node is not None else None,
        crl_missing_ok=missing_ok,
        verify_checks=tuple(_verify_checks(scope_nodes)),
        scoped_verify=tuple(scoped),
        protocols=" ".join(protocols.args) if protocols is not None else None,
    )


def _tls(settings: dict[str, Node]) -> bool:
    engine = settings.get("sslengine")
    return engine is not None and engine.args[:1] != [] and engine.args[0].lower() == "on"


def parse_apache(path: str | Path, *, root: str | Path | None = None) -> ServerConfigFacts:
    """Parse an Apache configuration (``apache2.conf`` or a site file) and its includes."""
    main = Path(path).absolute()
    base = Path(root).absolute() if root is not None else main.parent
    reader = _Reader(base, root_fixed=root is not None)
    nodes = reader.read(main)
    if root is not None:
        reason = "--root"
    elif reader.root_set:
        reason = "ServerRoot"
    else:
        reason = "the directory of the main configuration file (no ServerRoot; pass --root)"
    server_root = reader.root
    global_settings = _settings(nodes)
    global_scoped = _scoped(nodes)
    global_checks = [n for n in nodes if n.key != "virtualhost"]
    vhosts = [n for n in _walk(nodes) if n.key == "virtualhost"]
    blocks: list[TLSServerBlock] = []
    ignored: list[IgnoredSetting] = []
    for vhost in vhosts:
        body = vhost.children or []
        settings = {**global_settings, **_settings(body)}
        names = [n.args[0] for n in body if n.key == "servername" and n.args]
        if not _tls(settings):
            ignored.extend(
                IgnoredSetting(
                    directive=node.name,
                    where=node.where,
                    reason="this VirtualHost has no `SSLEngine on`: it does not do TLS, so "
                    "client certificates are never requested here.",
                )
                for node in body
                if node.key in _CLIENT_AUTH and node.children is None
            )
            continue
        blocks.append(
            _block(
                names[0] if names else "",
                vhost.where,
                tuple(vhost.args),
                settings,
                [*global_checks, *body],
                [*global_scoped, *_scoped(body)],
                server_root,
            )
        )
    if not vhosts and _tls(global_settings):
        engine = global_settings["sslengine"]
        listen = tuple(n.args[0] for n in nodes if n.key == "listen" and n.args)
        names = [n.args[0] for n in nodes if n.key == "servername" and n.args]
        blocks.append(
            _block(
                names[0] if names else "(main server)",
                engine.where,
                listen,
                global_settings,
                global_checks,
                global_scoped,
                server_root,
            )
        )
    return ServerConfigFacts(
        kind=ServerKind.APACHE,
        path=str(main),
        files=tuple(reader.files),
        root=str(server_root),
        root_reason=reason,
        blocks=tuple(blocks),
        ignored=tuple(ignored),
    )
