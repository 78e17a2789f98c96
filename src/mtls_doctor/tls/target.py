"""Targets as CONTRACT.md writes them: ``https://host[:port][/path]``, ``host:port``, ``host``."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from mtls_doctor.errors import UsageError

DEFAULT_PORT = 443


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """Where to connect, which name to send, and which path to request."""

    host: str
    port: int = DEFAULT_PORT
    path: str = "/"
    #: Server name for SNI (default: the host).
    sni: str | None = None
    #: Address to connect to instead of resolving ``host`` (--connect-to / --resolve).
    connect_to: str | None = None

    @property
    def connect_host(self) -> str:
        """The address the TCP connection goes to."""
        return self.connect_to or self.host

    @property
    def host_header(self) -> str:
        """The HTTP Host header value."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORT else f"{host}:{self.port}"

    @property
    def url(self) -> str:
        """The target as an https URL."""
        return f"https://{self.host_header}{self.path}"

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def check_host_name(name: str, what: str) -> None:
    """Raise UsageError unless ``name`` is an IP address or a DNS name TLS can carry.

    DNS labels are 1 to 63 octets and a name at most 253 (RFC 1035 2.3.4);
    the IDNA codec refuses what breaks that (``a..b``, a 64-character label),
    and it would otherwise do so deep inside a connection as a UnicodeError.
    """
    try:
        ipaddress.ip_address(name)
        return
    except ValueError:
        pass
    try:
        encoded = name.removesuffix(".").encode("idna")
    except UnicodeError:
        encoded = b""
    if not encoded or len(encoded) > 253:
        raise UsageError(
            f"{what} {name!r}: not a valid host name (labels between dots must be "
            "1 to 63 characters, the whole name at most 253)"
        )


def parse_target(text: str, *, sni: str | None = None, connect_to: str | None = None) -> Target:
    """Parse a target; raise UsageError with the accepted forms when it is not one."""
    raw = text.strip()
    if not raw:
        raise UsageError("empty target: give https://host[:port][/path], host:port or host")
    if "://" not in raw:
        raw = "https://" + raw
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"{text!r} is not a valid target ({exc})") from exc
    if parts.scheme not in ("https", "tls", "ssl"):
        raise UsageError(
            f"{text!r}: only https:// targets (or host:port) can be checked, not {parts.scheme}://"
        )
    if not parts.hostname:
        raise UsageError(f"{text!r}: no host name (use https://host[:port][/path] or host:port)")
    if port == 0:
        raise UsageError(f"{text!r}: port 0 cannot be connected to; give a port from 1 to 65535")
    check_host_name(parts.hostname, "host")
    if sni:
        check_host_name(sni, "--sni")
    if connect_to:
        check_host_name(connect_to, "--connect-to")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(
        host=parts.hostname,
        port=port or DEFAULT_PORT,
        path=path,
        sni=sni or parts.hostname,
        connect_to=connect_to,
    )
