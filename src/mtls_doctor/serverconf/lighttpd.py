"""Adapter: a lighttpd configuration -> :class:`ServerConfigFacts`.

Hand-written: no maintained Python library reads lighttpd's format (its own
parser is a lemon grammar in C, ``src/configparser.y``). What is read, as far
as TLS client authentication needs it:

- ``key = value``, ``key += value``, ``key := value``; strings (``\\"``
  escapes), integers, arrays ``( "a", "b" )`` and ``( "k" => "v" )``, ``+``
  concatenation; ``#`` comments;
- ``var.NAME`` (and a bare ``NAME``, which lighttpd reads as ``var.NAME``)
  references, ``env.NAME`` from the environment;
- ``include "file"`` (glob allowed; a relative name resolves against the main
  configuration's directory, as lighttpd's ``basedir`` does; bounded depth);
- ``$SERVER["socket"] == "ADDR" { ... }``: one TLS block each when
  ``ssl.engine`` is enabled (inherited from the global scope), its ``ssl.*``
  settings over the global ones, as mod_openssl's per-socket defaults do.

Not read, said in the block's ``notes``: other conditionals (``$HTTP[...]``,
``else`` branches; lighttpd can switch ``ssl.verifyclient.*`` and
``ssl.ca-file`` per SNI host there) and ``include_shell`` (never executed).
Relative file names resolve against lighttpd's working directory, taken as the
configuration's directory (or ``--root``).

Semantics (lighttpd 1.4.69 ``src/mod_openssl.c``): ``ssl.verifyclient.activate``
asks for a certificate; ``ssl.verifyclient.enforce`` (default enable) refuses
a missing one, and with ``disable`` the verify callback returns success for
*every* error (bad certificates are served too). ``ssl.verifyclient.depth``
(default 9) is lighttpd's own check ``depth > limit`` -> certificate chain too
long, the root counted. ``ssl.ca-crl-file`` sets ``X509_V_FLAG_CRL_CHECK |
X509_V_FLAG_CRL_CHECK_ALL`` (every CA of the chain). ``ssl.ca-file`` is
trusted and its names advertised unless ``ssl.ca-dn-file`` names them.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from mtls_doctor.errors import ConfigParseError
from mtls_doctor.serverconf.facts import (
    ConfigFile,
    CrlCheck,
    FileRole,
    ServerConfigFacts,
    ServerKind,
    TLSServerBlock,
    VerifyMode,
    Where,
)
from mtls_doctor.serverconf.reading import read_config_text

#: Nested includes deeper than this, or more files than this, are refused.
MAX_INCLUDE_DEPTH = 16
MAX_FILES = 10_000
#: Blocks and arrays nested deeper than this are refused (the reader recurses).
MAX_NESTING = 64
#: The TLS modules lighttpd 1.4 ships; without one, ``ssl.engine`` loads mod_openssl.
TLS_MODULES = ("mod_openssl", "mod_gnutls", "mod_mbedtls", "mod_wolfssl", "mod_nss")

Value = str | int | list["Value"] | tuple[str, "Value"]

_TOKEN = re.compile(
    r"""
    (?P<space>[ \t\r\f\v]+|\\\n)
  | (?P<newline>\n)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<cond>\$[A-Za-z_]+\[\s*"[^"\n]*"\s*\])
  | (?P<op>\+=|:=|=>|==|!=|=~|!~|=\^|=\$|[=+(),{}])
  | (?P<number>\d+(?![\w.-]))
  | (?P<word>[A-Za-z_][\w.-]*)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str
    file: str
    line: int


@dataclass(slots=True)
class _Setting:
    value: Value
    where: Where


@dataclass(slots=True)
class _Scope:
    """The global scope or one ``$SERVER["socket"]`` block."""

    where: Where
    socket: str = ""
    settings: dict[str, _Setting] = field(default_factory=dict)


def _tokens(text: str, file: str) -> list[_Token]:
    out: list[_Token] = []
    line, pos = 1, 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            snippet = text[pos : pos + 20].split("\n")[0]
            raise ConfigParseError(file, line, f"unexpected {snippet!r}")
        kind = match.lastgroup or ""
        if kind in ("op", "string", "number", "word", "cond"):
            out.append(_Token(kind, match.group(), file, line))
        line += match.group().count("\n")
        pos = match.end()
    return out


def _unquote(token: _Token) -> str:
    return re.sub(r"\\(.)", r"\1", token.text[1:-1])


class _Parser:
    """A recursive-descent reader over the tokens of every file, includes inlined."""

    def __init__(self, main: Path, base: Path) -> None:
        self.main = main
        self.base = base
        self.files: list[str] = []
        self.vars: dict[str, Value] = {}
        self.top = _Scope(where=Where(file=str(main), line=1))
        self.sockets: list[_Scope] = []
        self.skipped: list[str] = []
        self.stack: list[str] = []
        self.nesting = 0

    # ------------------------------------------------------------------ files
    def read(self, path: Path, depth: int, scope: _Scope | None, at: Where | None = None) -> None:
        file, line = (at.file, at.line) if at else (str(path), None)
        if depth > MAX_INCLUDE_DEPTH or str(path) in self.stack:
            raise ConfigParseError(file, line, f"{path} includes itself (an include loop)")
        if len(self.files) >= MAX_FILES:
            raise ConfigParseError(file, line, f"more than {MAX_FILES} files are included")
        self.files.append(str(path))
        self.stack.append(str(path))
        tokens = _tokens(read_config_text(path, at), str(path))
        self.statements(tokens, 0, scope, depth, nested=False)
        self.stack.pop()

    def include(self, name: str, token: _Token, scope: _Scope | None, depth: int) -> None:
        relative = not name.startswith(("/", "./", "../"))
        pattern = str(self.main.parent / name) if relative else str(self.base / name)
        matches = sorted(glob.glob(pattern))
        if not matches and not glob.has_magic(pattern):
            raise ConfigParseError(token.file, token.line, f"include file not found: {pattern}")
        for match in matches:
            self.read(Path(match), depth + 1, scope, Where(file=token.file, line=token.line))

    @staticmethod
    def fail(token: _Token, message: str) -> NoReturn:
        raise ConfigParseError(token.file, token.line, message)

    # ------------------------------------------------------------ statements
    def statements(
        self, tokens: list[_Token], i: int, scope: _Scope | None, depth: int, *, nested: bool
    ) -> int:
        """Read statements up to a closing ``}`` (not consumed) or the end.

        ``scope`` None: inside a block that is not read (values are parsed, dropped).
        """
        while i < len(tokens):
            token = tokens[i]
            if token.text == "}" and token.kind == "op":
                if not nested:
                    self.fail(token, "'}' without an opening block")
                return i
            if token.kind == "cond":
                i = self.condition(tokens, i, scope, depth)
            elif token.kind == "word" and token.text in ("include", "include_shell"):
                value, i = self.expression(tokens, i + 1)
                if not isinstance(value, str):
                    self.fail(token, f"{token.text} expects a string")
                if token.text == "include_shell":
                    self.skipped.append(
                        f'include_shell "{value}" ({token.file}:{token.line}) is not run: '
                        "whatever it prints is not read."
                    )
                else:
                    self.include(str(value), token, scope, depth)
            elif token.kind == "word" and token.text in ("else", "elseif"):
                self.fail(token, f"'{token.text}' without a condition before it")
            elif token.kind == "word":
                i = self.assignment(tokens, i, scope)
            else:
                self.fail(token, f"unexpected '{token.text}'")
        if nested:
            self.fail(tokens[-1], "a '{' block is not closed")
        return i

    def assignment(self, tokens: list[_Token], i: int, scope: _Scope | None) -> int:
        key_token = tokens[i]
        key = key_token.text if "." in key_token.text else f"var.{key_token.text}"
        key = _ALIASES.get(key, key)
        if i + 1 >= len(tokens) or tokens[i + 1].text not in ("=", "+=", ":="):
            self.fail(key_token, f"'{key_token.text}' must be followed by =, += or :=")
        op = tokens[i + 1].text
        value, i = self.expression(tokens, i + 2)
        where = Where(file=key_token.file, line=key_token.line)
        if key.startswith("var."):
            old = self.vars.get(key)
            self.vars[key] = _concat(old, value, key_token) if op == "+=" and old else value
            return i
        if scope is None:
            return i
        old_setting = scope.settings.get(key)
        if op == "+=" and old_setting is not None:
            value = _concat(old_setting.value, value, key_token)
        scope.settings[key] = _Setting(value, where)
        return i

    def nested(self, token: _Token) -> None:
        """One level deeper (a block or an array); refused past MAX_NESTING."""
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            self.fail(token, f"blocks or arrays nested more than {MAX_NESTING} deep")

    def condition(self, tokens: list[_Token], i: int, scope: _Scope | None, depth: int) -> int:
        start = tokens[i]
        self.nested(start)
        try:
            return self._condition(tokens, i, scope, depth)
        finally:
            self.nesting -= 1

    def _condition(self, tokens: list[_Token], i: int, scope: _Scope | None, depth: int) -> int:
        start = tokens[i]
        field_name = re.sub(r"\s", "", start.text)
        if (
            i + 1 >= len(tokens)
            or tokens[i + 1].kind != "op"
            or tokens[i + 1].text not in ("==", "!=", "=~", "!~", "=^", "=$")
        ):
            self.fail(start, f"{field_name} must be followed by a comparison (==, !=, =~ ...)")
        op = tokens[i + 1].text
        operand, i = self.expression(tokens, i + 2)
        if i >= len(tokens) or tokens[i].text != "{":
            self.fail(start, f"{field_name} {op} ... must open a block with '{{'")
        where = f"{start.file}:{start.line}"
        inner: _Scope | None = None
        if field_name == '$SERVER["socket"]' and op == "==" and scope is self.top:
            inner = _Scope(where=Where(file=start.file, line=start.line), socket=str(operand))
            self.sockets.append(inner)
        else:
            self.skipped.append(
                f'{field_name} {op} "{operand}" ({where}) is not read: settings there '
                "(ssl.verifyclient.*, ssl.ca-file per host) are not taken into account."
            )
        i = self.statements(tokens, i + 1, inner, depth, nested=True)
        i += 1  # the closing '}'
        while i < len(tokens) and tokens[i].text in ("else", "elseif"):
            token = tokens[i]
            i += 1
            if i < len(tokens) and tokens[i].kind == "cond":
                self.skipped.append(f"an else branch ({token.file}:{token.line}) is not read.")
                i = self.condition(tokens, i, None, depth)
            elif i < len(tokens) and tokens[i].text == "{":
                self.skipped.append(f"an else branch ({token.file}:{token.line}) is not read.")
                i = self.statements(tokens, i + 1, None, depth, nested=True) + 1
            else:
                self.fail(token, "'else' must be followed by a condition or '{'")
        return i

    # ------------------------------------------------------------ expressions
    def expression(self, tokens: list[_Token], i: int) -> tuple[Value, int]:
        value, i = self.term(tokens, i)
        while i < len(tokens) and tokens[i].kind == "op" and tokens[i].text == "+":
            right, i = self.term(tokens, i + 1)
            value = _concat(value, right, tokens[i - 1])
        return value, i

    def term(self, tokens: list[_Token], i: int) -> tuple[Value, int]:
        if i >= len(tokens):
            self.fail(tokens[-1], "a value is missing at the end of the file")
        token = tokens[i]
        if token.kind == "string":
            return _unquote(token), i + 1
        if token.kind == "number":
            return int(token.text), i + 1
        if token.kind == "word":
            return self.reference(token), i + 1
        if token.text == "(":
            self.nested(token)
            try:
                return self.array(tokens, i + 1)
            finally:
                self.nesting -= 1
        self.fail(token, f"expected a value, not '{token.text}'")

    def reference(self, token: _Token) -> Value:
        name = token.text
        if name.startswith("env."):
            value = os.environ.get(name[4:])
            if value is None:
                self.fail(token, f"undefined environment variable {name[4:]}")
            return str(value)
        key = name if "." in name else f"var.{name}"
        if key not in self.vars:
            self.fail(token, f"undefined variable {name}")
        return self.vars[key]

    def array(self, tokens: list[_Token], i: int) -> tuple[Value, int]:
        items: list[Value] = []
        while True:
            if i >= len(tokens):
                self.fail(tokens[-1], "an array '(' is not closed")
            if tokens[i].text == ")":
                return items, i + 1
            value, i = self.expression(tokens, i)
            if i < len(tokens) and tokens[i].text == "=>":
                item, i = self.expression(tokens, i + 1)
                value = (str(value), item)
            items.append(value)
            if i < len(tokens) and tokens[i].text == ",":
                i += 1
            elif i < len(tokens) and tokens[i].text != ")":
                self.fail(tokens[i], f"expected ',' or ')' in an array, not '{tokens[i].text}'")


def _concat(left: Value | None, right: Value, token: _Token) -> Value:
    if left is None:
        return right
    if isinstance(left, list):
        return [*left, *(right if isinstance(right, list) else [right])]
    if isinstance(left, str) and isinstance(right, str | int):
        return left + str(right)
    if isinstance(left, int) and isinstance(right, int):
        return left + right
    raise ConfigParseError(token.file, token.line, "these values cannot be joined with '+'")


_TRUE = frozenset({"enable", "true", "1", "on"})
_FALSE = frozenset({"disable", "false", "0", "off", ""})


def _flag(setting: _Setting | None, default: bool) -> bool:
    if setting is None:
        return default
    value = setting.value
    if isinstance(value, int):
        return value != 0
    text = str(value).lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ConfigParseError(
        setting.where.file, setting.where.line, f'expected "enable" or "disable", not {value!r}'
    )


def _tls_module(settings: dict[str, _Setting]) -> str:
    modules = settings.get("server.modules")
    listed = modules.value if modules and isinstance(modules.value, list) else []
    found = [m for m in listed if isinstance(m, str) and m in TLS_MODULES]
    return found[0] if found else "mod_openssl"


#: lighttpd 1.4.69 aliases (mod_openssl/mod_gnutls set_defaults: the same settings).
_ALIASES = {
    "ssl.verifyclient.ca-file": "ssl.ca-file",
    "ssl.verifyclient.ca-dn-file": "ssl.ca-dn-file",
    "ssl.verifyclient.ca-crl-file": "ssl.ca-crl-file",
}


def _block(
    top: _Scope, scope: _Scope, base: Path, module: str, skipped: list[str]
) -> TLSServerBlock:
    merged = {**top.settings, **scope.settings} if scope is not top else dict(top.settings)

    def file(key: str, role: FileRole) -> list[ConfigFile]:
        setting = merged.get(key)
        if setting is None or not isinstance(setting.value, str) or not setting.value:
            return []
        path = Path(setting.value)
        return [
            ConfigFile(
                role=role,
                path=str(path if path.is_absolute() else base / path),
                written=setting.value,
                directive=key,
                where=setting.where,
            )
        ]

    activate = merged.get("ssl.verifyclient.activate")
    enforce = merged.get("ssl.verifyclient.enforce")
    verify, verify_at = VerifyMode.NONE, None
    if activate is not None and _flag(activate, False):
        verify, verify_at = VerifyMode.REQUIRED, activate.where
        if enforce is not None and not _flag(enforce, True):
            # Every verification error is let through, not only unknown CAs.
            verify, verify_at = VerifyMode.OPTIONAL_NO_CA, enforce.where
    names = file("ssl.ca-dn-file", FileRole.CA_NAMES)
    advertised = module == "mod_openssl" and not names
    files = [
        *file("ssl.ca-file", FileRole.CLIENT_CA if advertised else FileRole.TRUSTED_ONLY),
        *names,
        *file("ssl.ca-crl-file", FileRole.CRL),
    ]
    crl = next((f for f in files if f.role is FileRole.CRL), None)
    depth = merged.get("ssl.verifyclient.depth")
    if depth is not None and not str(depth.value).isdigit():
        raise ConfigParseError(
            depth.where.file, depth.where.line, "ssl.verifyclient.depth expects a number"
        )
    notes = list(skipped)
    if module == "mod_gnutls":
        # lighttpd 1.4.69 mod_gnutls_verify_set_tlist(): CRLs only join the CA-name list.
        crl = None
        notes.append(
            "TLS by mod_gnutls: no CA names are sent without ssl.ca-dn-file; "
            "ssl.ca-crl-file is not applied to client certificates; GnuTLS ignores extended "
            "key usage and accepts RSA keys below 2048 bits; only the first certificate of "
            "ssl.ca-file (and its issuers there) is trusted, the other CAs there are not; "
            "ssl.verifyclient.depth is GnuTLS's limit, not lighttpd's own check (not modelled)."
        )
    elif module != "mod_openssl":
        notes.append(
            f"TLS by {module}: verdicts follow mod_openssl (OpenSSL's verification); "
            f"{module} may differ."
        )
    if scope is top:
        port = top.settings.get("server.port")
        bind = top.settings.get("server.bind")
        listen = f"{bind.value if bind else ''}:{port.value if port else 80}"
    else:
        listen = scope.socket
    return TLSServerBlock(
        kind=ServerKind.LIGHTTPD,
        where=scope.where,
        name=module,
        listen=(listen,),
        verify=verify,
        verify_at=verify_at,
        files=tuple(files),
        verify_depth=int(str(depth.value)) if depth is not None else None,
        verify_depth_at=depth.where if depth is not None else None,
        crl_check=CrlCheck.CHAIN if crl else CrlCheck.NONE,
        crl_check_at=crl.where if crl else None,
        notes=tuple(notes),
        trusts_first_ca_only=module == "mod_gnutls",
    )


def parse_lighttpd(path: str | Path, *, root: str | Path | None = None) -> ServerConfigFacts:
    """Parse a lighttpd configuration file and its includes."""
    main = Path(path).absolute()
    base = Path(root).absolute() if root is not None else main.parent
    parser = _Parser(main, base)
    parser.read(main, 0, parser.top)
    module = _tls_module(parser.top.settings)
    blocks = []
    global_tls = _flag(parser.top.settings.get("ssl.engine"), False)
    if global_tls:
        blocks.append(_block(parser.top, parser.top, base, module, parser.skipped))
    blocks.extend(
        _block(parser.top, scope, base, module, parser.skipped)
        for scope in parser.sockets
        if _flag(scope.settings.get("ssl.engine"), global_tls)
    )
    reason = (
        "--root"
        if root is not None
        else "the directory of the configuration file (lighttpd's working directory; "
        "pass --root to change it)"
    )
    return ServerConfigFacts(
        kind=ServerKind.LIGHTTPD,
        path=str(main),
        files=tuple(parser.files),
        root=str(base),
        root_reason=reason,
        blocks=tuple(blocks),
    )
