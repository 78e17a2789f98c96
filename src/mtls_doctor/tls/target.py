"""Targets as CONTRACT.md writes them.

``https://host[:port][/path]``, ``host:port``, ``host`` (port 443), and the
schemes of services that are not HTTP (``rediss://``, ``mqtts://``,
``postgres://[user@]host[:port][/db]``, ``mysql://[user@]host[:port][/db]``,
``smtp://``, ``imap://``, ``ldap://``,
``tls://`` ...). The protocol decides what is said after the handshake: a
bare ``host:port`` speaks the protocol its port is known for, and on any
other port sends no application data at all (``protocol_source`` says how the
protocol was chosen, so the output can tell the user that a scheme would
give an application-level answer).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from mtls_doctor.errors import UsageError
from mtls_doctor.protocols import PROTOCOLS, SCHEMES, WELL_KNOWN_PORTS, Protocol

DEFAULT_PORT = 443
#: Protocols whose URL path names a database (postgres://user@host/db, mysql://user@host/db).
_DATABASES = ("postgres", "mysql")
_FORMS = "https://host[:port][/path], host:port, host, or a scheme such as rediss://host:port"


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """Where to connect, which name to send, what to say after the handshake."""

    host: str
    port: int = DEFAULT_PORT
    path: str = "/"
    #: Server name for SNI (default: the host).
    sni: str | None = None
    #: Address to connect to instead of resolving ``host`` (--connect-to / --resolve).
    connect_to: str | None = None
    #: The application protocol (a name of ``mtls_doctor.protocols.PROTOCOLS``).
    protocol: str = "https"
    #: How it was chosen: "scheme", "option" (--protocol), "port" (well known), "default".
    protocol_source: str = "scheme"
    #: User name and database (postgres://user@host/db).
    user: str | None = None
    database: str | None = None

    @property
    def spec(self) -> Protocol:
        """The protocol's registry entry."""
        return PROTOCOLS[self.protocol]

    @property
    def speaks_http(self) -> bool:
        """An HTTP request goes after the handshake."""
        return self.spec.http

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
        """The target as a URL of its scheme."""
        if self.protocol == "https":
            return f"https://{self.host_header}{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = f"{self.user}@" if self.user else ""
        db = f"/{self.database}" if self.database else ""
        return f"{self.spec.scheme}://{user}{host}:{self.port}{db}"

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


def parse_target(
    text: str,
    *,
    sni: str | None = None,
    connect_to: str | None = None,
    protocol: str | None = None,
) -> Target:
    """Parse a target; raise UsageError with the accepted forms when it is not one."""
    raw = text.strip()
    if not raw:
        raise UsageError(f"empty target: give {_FORMS}")
    if protocol is not None and protocol not in PROTOCOLS:
        raise UsageError(
            f"--protocol {protocol!r} is not known; use one of: {', '.join(sorted(PROTOCOLS))}"
        )
    bare = "://" not in raw
    try:
        parts = urlsplit("tls://" + raw if bare else raw)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"{text!r} is not a valid target ({exc})") from exc
    scheme = parts.scheme.lower()
    if not bare and scheme not in SCHEMES:
        raise UsageError(
            f"{text!r}: {scheme}:// is not a TLS target this tool speaks; use one of "
            f"{', '.join(sorted(s + '://' for s in SCHEMES))} (or host:port with --protocol)"
        )
    if not parts.hostname:
        raise UsageError(f"{text!r}: no host name (use {_FORMS})")
    if port == 0:
        raise UsageError(f"{text!r}: port 0 cannot be connected to; give a port from 1 to 65535")
    check_host_name(parts.hostname, "host")
    if sni:
        check_host_name(sni, "--sni")
    if connect_to:
        check_host_name(connect_to, "--connect-to")
    name, source = _choose(bare, scheme, port, protocol)
    if protocol is not None and not bare and SCHEMES[scheme] != protocol:
        raise UsageError(
            f"{text!r}: the scheme says {SCHEMES[scheme]} but --protocol says {protocol}; "
            "give only one"
        )
    spec = PROTOCOLS[name]
    user = unquote(parts.username) if parts.username else None
    path = parts.path or "/"
    if parts.query and spec.http:
        path += "?" + parts.query
    database = unquote(parts.path.lstrip("/")) or None if name in _DATABASES else None
    return Target(
        host=parts.hostname,
        port=port or spec.default_port,
        path=path if spec.http else "/",
        sni=sni or parts.hostname,
        connect_to=connect_to,
        protocol=name,
        protocol_source=source,
        user=user,
        database=database,
    )


def _choose(bare: bool, scheme: str, port: int | None, protocol: str | None) -> tuple[str, str]:
    """The protocol of a target, and how it was chosen."""
    if protocol is not None:
        return protocol, "option"
    if not bare:
        return SCHEMES[scheme], "scheme"
    if port is None:
        return "https", "port"
    known = WELL_KNOWN_PORTS.get(port)
    if known is not None:
        return known, "port"
    # No scheme, no known port: TLS only, unless the server's ALPN choice says HTTP.
    return "tls", "default"
