"""What to watch: a TOML file (``--config``) and/or the same sources as flags.

Example (every key optional; relative paths are relative to the file)::

    warn_days = 30
    crit_days = 7
    timeout = 10          # seconds, every network step
    concurrency = 32      # probes at once
    interval = 300        # exporter: seconds between refreshes
    issuing_ca = ["ca/issuing-2026.pem", "ca/issuing-2024.pem"]

    [[cert]]              # a file or a directory (recursive)
    path = "clients/"
    password_env = "P12_PASSWORD"     # or password_file = "secret.txt"

    [[server]]            # any target form of ``check``
    target = "https://api.internal:8443"
    connect_to = "10.0.0.5"           # optional; sni = "..." too

    [[server_config]]     # nginx / Apache / HAProxy, through lint-server's parsers
    path = "/etc/nginx/nginx.conf"
    type = "nginx"                    # optional: detected from the content

    store = ["nss", "nss:/home/alice/.pki/nssdb"]   # NSS databases (browsers' stores)

A list may also be written as plain strings: ``cert = ["a.p12", "dir/"]``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mtls_doctor.defaults import DEFAULT_WARN_DAYS
from mtls_doctor.errors import InputError, UsageError

PasswordSource = Callable[[str], "bytes | None"]
#: A configuration file is a few kilobytes; a bigger one is not one.
MAX_CONFIG_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class CertSource:
    """A file or directory of client identities, with where its password is."""

    path: str
    password_env: str | None = None
    password_file: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerSource:
    """A target to probe."""

    target: str
    sni: str | None = None
    connect_to: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigSource:
    """A server configuration file (nginx, Apache httpd, HAProxy)."""

    path: str
    kind: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Sources:
    """Everything one watch / exporter run looks at, and how."""

    certs: tuple[CertSource, ...] = ()
    servers: tuple[ServerSource, ...] = ()
    server_configs: tuple[ConfigSource, ...] = ()
    issuing_cas: tuple[str, ...] = ()
    #: ``nss[:DIR]``: NSS databases (certificates only; their keys are not read).
    stores: tuple[str, ...] = ()
    warn_days: int = DEFAULT_WARN_DAYS
    crit_days: int = 7
    timeout: float = 10.0
    concurrency: int = 32
    interval: float = 300.0
    #: Where the file came from, for messages ("" when flags only).
    origin: str = field(default="")

    @property
    def empty(self) -> bool:
        """Nothing to watch."""
        return not (
            self.certs or self.servers or self.server_configs or self.issuing_cas or self.stores
        )


_LISTS = {"cert", "server", "server_config", "issuing_ca", "store"}
_SCALARS = {
    "warn_days": int,
    "crit_days": int,
    "timeout": float,
    "concurrency": int,
    "interval": float,
}
_ITEM_KEYS = {
    "cert": ({"path", "password_env", "password_file"}, "path"),
    "server": ({"target", "sni", "connect_to"}, "target"),
    "server_config": ({"path", "type"}, "path"),
    "issuing_ca": ({"path"}, "path"),
    "store": ({"store"}, "store"),
}


def _items(name: str, value: Any, where: str) -> list[dict[str, str]]:
    """A list of strings or tables → tables with the main key filled in."""
    allowed, main = _ITEM_KEYS[name]
    values = value if isinstance(value, list) else [value]
    out = []
    for item in values:
        if isinstance(item, str):
            item = {main: item}
        if not isinstance(item, dict):
            raise InputError(f"{where}: `{name}` entries are strings or tables")
        unknown = set(item) - allowed
        if unknown:
            raise InputError(
                f"{where}: unknown key {sorted(unknown)[0]!r} in `{name}` "
                f"(known: {', '.join(sorted(allowed))})"
            )
        if not isinstance(item.get(main), str) or not item[main]:
            raise InputError(f"{where}: every `{name}` entry needs `{main}`")
        if any(not isinstance(v, str) for v in item.values()):
            raise InputError(f"{where}: the values of `{name}` entries are strings")
        out.append(item)
    return out


def _scalar(name: str, value: Any, where: str) -> int | float:
    kind = _SCALARS[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{where}: `{name}` must be a number")
    if kind is int and not isinstance(value, int):
        raise InputError(f"{where}: `{name}` must be a whole number")
    return value


def load_config(path: str) -> Sources:
    """Read a TOML configuration; InputError (exit 2) with one line on any problem."""
    from mtls_doctor.files import FileReadError, read_regular_text

    where = f"--config {path}"
    file = Path(path)
    try:
        text = read_regular_text(file, limit=MAX_CONFIG_BYTES, what="configuration file")
        document = tomllib.loads(text)
    except FileReadError as exc:
        raise InputError(f"{where}: {exc.reason}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{where}: not valid TOML ({exc})") from None
    unknown = set(document) - _LISTS - set(_SCALARS)
    if unknown:
        known = ", ".join(sorted(_LISTS | set(_SCALARS)))
        raise InputError(f"{where}: unknown key {sorted(unknown)[0]!r} (known: {known})")
    base = file.resolve().parent

    def local(value: str) -> str:
        return str(base / os.path.expanduser(value))

    items = {name: _items(name, document[name], where) for name in _LISTS if name in document}
    scalars: dict[str, Any] = {
        name: _scalar(name, document[name], where) for name in _SCALARS if name in document
    }
    sources = Sources(
        certs=tuple(
            CertSource(
                path=local(i["path"]),
                password_env=i.get("password_env"),
                password_file=local(i["password_file"]) if "password_file" in i else None,
            )
            for i in items.get("cert", [])
        ),
        servers=tuple(
            ServerSource(target=i["target"], sni=i.get("sni"), connect_to=i.get("connect_to"))
            for i in items.get("server", [])
        ),
        server_configs=tuple(
            ConfigSource(path=local(i["path"]), kind=i.get("type"))
            for i in items.get("server_config", [])
        ),
        issuing_cas=tuple(local(i["path"]) for i in items.get("issuing_ca", [])),
        stores=tuple(i["store"] for i in items.get("store", [])),
        origin=path,
    )
    return validated(replace(sources, **scalars))


def validated(sources: Sources) -> Sources:
    """Check the numbers; UsageError for a nonsensical one."""
    if sources.warn_days < 0 or sources.crit_days < 0:
        raise UsageError("warn_days and crit_days must be 0 or more")
    if sources.crit_days > sources.warn_days:
        raise UsageError(
            f"crit_days ({sources.crit_days}) is larger than warn_days ({sources.warn_days})"
        )
    if not 0 < sources.timeout <= 3600:
        raise UsageError("timeout must be between 0 and 3600 seconds")
    if not 1 <= sources.concurrency <= 1024:
        raise UsageError("concurrency must be between 1 and 1024")
    if not 1 <= sources.interval <= 86400:
        raise UsageError("interval must be between 1 and 86400 seconds")
    for kind in (c.kind for c in sources.server_configs):
        if kind is not None and kind not in ("nginx", "apache", "haproxy", "lighttpd"):
            raise UsageError(f"server_config type {kind!r}: use nginx, apache, haproxy or lighttpd")
    return sources


def merged(
    base: Sources,
    *,
    certs: Sequence[str] = (),
    servers: Sequence[str] = (),
    server_configs: Sequence[str] = (),
    issuing_cas: Sequence[str] = (),
    stores: Sequence[str] = (),
    password_env: str | None = None,
    password_file: str | None = None,
    sni: str | None = None,
    connect_to: str | None = None,
    warn_days: int | None = None,
    crit_days: int | None = None,
    timeout: float | None = None,
    concurrency: int | None = None,
    interval: float | None = None,
) -> Sources:
    """The configuration plus the flags: lists add up, given numbers win."""
    numbers = {
        "warn_days": warn_days,
        "crit_days": crit_days,
        "timeout": timeout,
        "concurrency": concurrency,
        "interval": interval,
    }
    given: dict[str, Any] = {name: value for name, value in numbers.items() if value is not None}
    return validated(
        replace(
            base,
            certs=base.certs
            + tuple(
                CertSource(path=p, password_env=password_env, password_file=password_file)
                for p in certs
            ),
            servers=base.servers
            + tuple(ServerSource(target=t, sni=sni, connect_to=connect_to) for t in servers),
            server_configs=base.server_configs
            + tuple(ConfigSource(path=p) for p in server_configs),
            issuing_cas=base.issuing_cas + tuple(issuing_cas),
            stores=base.stores + tuple(stores),
            **given,
        )
    )


def password_for(source: CertSource, fallback: PasswordSource) -> PasswordSource:
    """The password of one certificate source: its env var or file, else ``fallback``."""
    if source.password_env is not None:
        variable = source.password_env

        def from_env(_path: str) -> bytes | None:
            value = os.environ.get(variable)
            if value is None:
                raise UsageError(
                    "the environment variable named by password_env is not set "
                    "(its name is not shown: it may be a secret)"
                )
            return value.encode()

        return from_env
    if source.password_file is not None:
        secret_file = source.password_file
        cache: list[bytes] = []

        def from_file(_path: str) -> bytes | None:
            from mtls_doctor.files import FileReadError, read_regular_file

            if not cache:
                try:
                    data = read_regular_file(secret_file, limit=65536, what="password file")
                except FileReadError as exc:
                    raise UsageError(
                        f"the file given as password_file: {exc.reason} (its name is not shown)"
                    ) from None
                cache.append(data.split(b"\n", 1)[0].rstrip(b"\r"))
            return cache[0]

        return from_file
    return fallback
