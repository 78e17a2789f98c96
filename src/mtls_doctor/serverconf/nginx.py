"""Adapter: an nginx configuration → :class:`ServerConfigFacts`.

``crossplane`` parses one file at a time (``single=True``); includes are
followed here, because crossplane's ``combine`` mode labels the directives
after an include with the wrong file. Relative paths (``include``,
``ssl_client_certificate``, ...) resolve against nginx's configuration
prefix, which is the directory of the main ``nginx.conf``: by default the
directory of the file given, or ``--root``.

Client-auth directives are inherited from ``http`` into every ``server``
that does not set them, as nginx does. ``stream`` servers (TCP proxies:
databases, MQTT, anything) verify client certificates with the same
directives and rules; a refused one gets a closed connection, not a 400 page.
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mtls_doctor.errors import ConfigParseError
from mtls_doctor.serverconf.facts import (
    ConfigFile,
    CrlCheck,
    FileRole,
    IgnoredSetting,
    ServerConfigFacts,
    ServerKind,
    TLSServerBlock,
    VerifyCheck,
    VerifyMode,
    Where,
)
from mtls_doctor.serverconf.reading import read_config_text

MAX_INCLUDE_DEPTH = 16
MAX_FILES = 500

_VERIFY = {
    "on": VerifyMode.REQUIRED,
    "optional": VerifyMode.OPTIONAL,
    "optional_no_ca": VerifyMode.OPTIONAL_NO_CA,
    "off": VerifyMode.NONE,
}
_FILE_DIRECTIVES = {
    "ssl_client_certificate": FileRole.CLIENT_CA,
    "ssl_trusted_certificate": FileRole.TRUSTED_ONLY,
    "ssl_crl": FileRole.CRL,
}
#: The blocks whose ``server`` children can do TLS (with the same ``ssl_*`` directives).
_SERVER_CONTEXTS = ("http", "stream")
#: Directives whose value is inherited from ``http`` (``stream``) into ``server``.
_INHERITED = (
    "ssl_verify_client",
    "ssl_verify_depth",
    "ssl_protocols",
    "ssl",
    *_FILE_DIRECTIVES,
)
_CLIENT_AUTH = ("ssl_verify_client", "ssl_client_certificate", "ssl_verify_depth", "ssl_crl")
#: Directives that only pass a variable on (to a backend, a header, a response).
_FORWARDING = frozenset(
    {
        "proxy_set_header",
        "fastcgi_param",
        "uwsgi_param",
        "scgi_param",
        "grpc_set_header",
        "add_header",
        "return",
        "set",
        "log_format",
    }
)
_VERIFY_VARIABLE = "$ssl_client_verify"


@dataclass(slots=True)
class Node:
    """One directive with the file and line it came from (includes spliced in)."""

    name: str
    args: list[str]
    file: str
    line: int
    children: list[Node] | None = None

    @property
    def where(self) -> Where:
        return Where(file=self.file, line=self.line)


@dataclass(slots=True)
class _Reader:
    root: Path
    files: list[str] = field(default_factory=list)

    def read(self, path: Path, depth: int = 0, at: Where | None = None) -> list[Node]:
        import crossplane

        if depth > MAX_INCLUDE_DEPTH:
            raise ConfigParseError(
                at.file if at else str(path),
                at.line if at else None,
                f"includes nested more than {MAX_INCLUDE_DEPTH} deep (an include loop?)",
            )
        if len(self.files) >= MAX_FILES:
            raise ConfigParseError(str(path), None, f"more than {MAX_FILES} included files")
        name = str(path)
        # Through the bounded, regular-files-only reader first: crossplane opens the
        # file again by name (it has no API for text), but only once it is known to
        # be a regular file of sane size, never a FIFO or /dev/zero.
        read_config_text(path, at)
        self.files.append(name)
        result: dict[str, Any] = crossplane.parse(
            name, single=True, catch_errors=True, check_ctx=False, check_args=False
        )
        config = result["config"][0]
        if config["errors"]:
            error = config["errors"][0]
            reason = re.sub(r" in \S+:\d+$", "", str(error.get("error", "syntax error")))
            if "recursion" in reason:  # crossplane's parser recurses once per block
                reason = "blocks nested too deep to read"
            raise ConfigParseError(name, error.get("line"), reason)
        return self._nodes(config["parsed"], name, depth)

    def _nodes(self, parsed: list[dict[str, Any]], name: str, depth: int) -> list[Node]:
        out: list[Node] = []
        for item in parsed:
            node = Node(item["directive"], list(item.get("args", [])), name, item["line"])
            if node.name == "include" and node.args:
                out.extend(self._include(node, depth))
                continue
            if "block" in item:
                node.children = self._nodes(item["block"], name, depth)
            out.append(node)
        return out

    def _include(self, node: Node, depth: int) -> list[Node]:
        pattern = node.args[0]
        full = pattern if Path(pattern).is_absolute() else str(self.root / pattern)
        if glob.has_magic(full):
            matches = sorted(glob.glob(full))
        else:
            if not Path(full).exists():
                raise ConfigParseError(
                    node.file, node.line, f'include "{pattern}": no such file ({full})'
                )
            matches = [full]
        out: list[Node] = []
        for match in matches:
            if not Path(match).is_dir():  # a device or FIFO is refused by the reader
                out.extend(self.read(Path(match), depth + 1, node.where))
        return out


def _resolve(root: Path, value: str) -> str:
    path = Path(value)
    return str(path if path.is_absolute() else root / path)


def _mentions(nodes: list[Node], needle: str) -> list[tuple[Node, bool]]:
    """Directives (recursively) whose arguments mention ``needle``: (node, only forwarded)."""
    pattern = re.compile(re.escape(needle) + r"(?![A-Za-z0-9_])")
    found: list[tuple[Node, bool]] = []
    for node in nodes:
        if any(pattern.search(arg) for arg in node.args):
            found.append((node, node.name in _FORWARDING))
        if node.children:
            found.extend(_mentions(node.children, needle))
    return found


def _map_targets(http: list[Node]) -> list[tuple[Node, str]]:
    """``map $ssl_client_verify $x {...}`` at http level: (map node, ``$x``)."""
    return [
        (node, node.args[1])
        for node in http
        if node.name == "map" and len(node.args) >= 2 and _VERIFY_VARIABLE in node.args[0]
    ]


@dataclass(slots=True)
class _Http:
    """An ``http`` block's own directives, indexed once for all its servers.

    Looking them up in the block's list for every server was quadratic: the
    list holds every server block (100,000 servers took minutes).
    """

    last: dict[str, Node]
    maps: list[tuple[Node, str]]

    @classmethod
    def of(cls, http: list[Node]) -> _Http:
        return cls(last={node.name: node for node in http}, maps=_map_targets(http))


def _verify_checks(server: list[Node], http: _Http) -> tuple[VerifyCheck, ...]:
    checks = [
        VerifyCheck(where=node.where, forwarded=forwarded, text=_short(node))
        for node, forwarded in _mentions(server, _VERIFY_VARIABLE)
    ]
    for map_node, target in http.maps:
        uses = _mentions(server, target)
        checks.extend(
            VerifyCheck(where=node.where, forwarded=forwarded, text=_short(node))
            for node, forwarded in uses
        )
        if uses:
            checks.append(VerifyCheck(where=map_node.where, forwarded=False, text=_short(map_node)))
    return tuple(checks)


def _short(node: Node) -> str:
    text = " ".join([node.name, *node.args])
    return text if len(text) <= 80 else text[:77] + "..."


def _last(nodes: list[Node], name: str) -> Node | None:
    return next((n for n in reversed(nodes) if n.name == name), None)


def _server(server: Node, http: _Http, root: Path, *, stream: bool) -> TLSServerBlock | None:
    body = server.children or []
    listens = [n for n in body if n.name == "listen"]
    settings: dict[str, Node] = {}
    for name in _INHERITED:
        own = _last(body, name)
        inherited = http.last.get(name)
        if own is not None or inherited is not None:
            settings[name] = own or inherited  # type: ignore[assignment]
    legacy_ssl = settings.get("ssl")
    tls = any("ssl" in n.args[1:] or "quic" in n.args[1:] for n in listens) or (
        legacy_ssl is not None and legacy_ssl.args[:1] == ["on"]
    )
    if not tls:
        return None
    verify_node = settings.get("ssl_verify_client")
    verify = VerifyMode.NONE
    if verify_node is not None and verify_node.args:
        verify = _VERIFY.get(verify_node.args[0], VerifyMode.NONE)
    files = []
    for directive, role in _FILE_DIRECTIVES.items():
        node = settings.get(directive)
        if node is not None and node.args:
            files.append(
                ConfigFile(
                    role=role,
                    path=_resolve(root, node.args[0]),
                    written=node.args[0],
                    directive=directive,
                    where=node.where,
                )
            )
    depth_node = settings.get("ssl_verify_depth")
    depth = None
    if depth_node is not None and depth_node.args and depth_node.args[0].isdigit():
        depth = int(depth_node.args[0])
    crl = settings.get("ssl_crl")
    names = [arg for n in body if n.name == "server_name" for arg in n.args]
    protocols = settings.get("ssl_protocols")
    return TLSServerBlock(
        kind=ServerKind.NGINX,
        where=server.where,
        name=" ".join(names),
        listen=tuple(n.args[0] for n in listens if n.args),
        verify=verify,
        verify_at=verify_node.where if verify_node is not None else None,
        files=tuple(files),
        verify_depth=depth,
        verify_depth_at=depth_node.where if depth_node is not None else None,
        # nginx sets X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL with ssl_crl.
        crl_check=CrlCheck.CHAIN if crl is not None else CrlCheck.NONE,
        crl_check_at=crl.where if crl is not None else None,
        verify_checks=_verify_checks(body, http),
        protocols=" ".join(protocols.args) if protocols is not None else None,
        stream=stream,
    )


def _servers(nodes: list[Node]) -> list[tuple[Node, _Http, bool]]:
    """Every ``server`` inside ``http`` or ``stream`` (or at the top of a site file), with
    its enclosing block's body, and whether that is ``stream``."""
    found: list[tuple[Node, _Http, bool]] = []
    top: _Http | None = None
    for node in nodes:
        if node.name in _SERVER_CONTEXTS and node.children is not None:
            http = _Http.of(node.children)
            stream = node.name == "stream"
            found.extend((child, http, stream) for child in node.children if child.name == "server")
        elif node.name == "server" and node.children is not None:
            top = top or _Http.of(nodes)
            found.append((node, top, False))  # a site file included at http level, linted alone
    return found


def parse_nginx(path: str | Path, *, root: str | Path | None = None) -> ServerConfigFacts:
    """Parse an nginx configuration (``nginx.conf`` or a site file) and its includes."""
    main = Path(path).absolute()
    base = Path(root).absolute() if root is not None else main.parent
    reason = (
        "--root"
        if root is not None
        else "the directory of the main configuration file "
        "(nginx's conf prefix; pass --root to change it)"
    )
    reader = _Reader(base)
    nodes = reader.read(main)
    blocks: list[TLSServerBlock] = []
    ignored: list[IgnoredSetting] = []
    for server, http, stream in _servers(nodes):
        block = _server(server, http, base, stream=stream)
        if block is not None:
            blocks.append(block)
            continue
        ignored.extend(
            IgnoredSetting(
                directive=node.name,
                where=node.where,
                reason="this server block has no `listen ... ssl`: nginx does not do TLS here, "
                "so client certificates are never requested.",
            )
            for node in server.children or []
            if node.name in _CLIENT_AUTH
        )
    return ServerConfigFacts(
        kind=ServerKind.NGINX,
        path=str(main),
        files=tuple(reader.files),
        root=str(base),
        root_reason=reason,
        blocks=tuple(blocks),
        ignored=tuple(ignored),
    )
