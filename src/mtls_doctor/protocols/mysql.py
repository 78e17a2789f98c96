"""MySQL and MariaDB: greeting, SSLRequest, TLS, HandshakeResponse41, the first answer.

Client/server protocol 4.1: the server speaks first (Initial Handshake
Packet, protocol 10) and offers TLS with the CLIENT_SSL capability; the
client answers with an SSLRequest (the first 32 bytes of a handshake
response) and starts TLS on the same socket. Inside TLS it sends
HandshakeResponse41 (user, auth response, plugin) and the server answers
OK, ERR (code, SQLSTATE, message) or an authentication switch.

We log in with an empty ``mysql_native_password`` response (no password):
the point is whether the account's certificate rule (``REQUIRE X509``,
``SUBJECT``, ``ISSUER``) lets the user in. Both servers check that rule only
*after* the password (MariaDB's and MySQL's ``acl_authenticate`` call
``acl_check_ssl`` once authentication succeeded) and refuse both with the
same ERR 1045 "Access denied"; only the server's error log tells them apart
("X509 subject mismatch: ..."). So a 1045 names both candidates.

Hand-written: the drivers (PyMySQL, mysqlclient) hide the packets we read,
need the password to log in, and cannot stop halfway to start our own TLS.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from mtls_doctor.errors import ConnectTimeout
from mtls_doctor.model import AppAnswer
from mtls_doctor.protocols.base import MAX_ANSWER, StartTLSRefusedError, Stream, read_exact
from mtls_doctor.tls.target import Target

CLIENT_LONG_PASSWORD = 0x1
CLIENT_LONG_FLAG = 0x4
CLIENT_CONNECT_WITH_DB = 0x8
CLIENT_PROTOCOL_41 = 0x200
CLIENT_SSL = 0x800
CLIENT_TRANSACTIONS = 0x2000
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_PLUGIN_AUTH = 0x80000
_FLAGS = (
    CLIENT_LONG_PASSWORD
    | CLIENT_LONG_FLAG
    | CLIENT_PROTOCOL_41
    | CLIENT_SSL
    | CLIENT_TRANSACTIONS
    | CLIENT_SECURE_CONNECTION
    | CLIENT_PLUGIN_AUTH
)
_MAX_PACKET = 16 * 1024 * 1024
_UTF8MB4 = 45  # utf8mb4_general_ci: known to MySQL 5.5+ and every MariaDB
_NATIVE = "mysql_native_password"
#: Plugins whose empty password is an empty response (what their clients send without one).
_EMPTY_OK = (_NATIVE, "caching_sha2_password")
_QUIT = b"\x01\x00\x00\x00\x01"  # COM_QUIT, sequence 0
ACCESS_DENIED = 1045
#: A greeting is a few hundred bytes (version, salt, capabilities, plugin name).
_MAX_GREETING = 4096


@dataclass(frozen=True, slots=True)
class Greeting:
    """What the server's Initial Handshake Packet says."""

    version: str
    capabilities: int
    plugin: str

    @property
    def product(self) -> str:
        """``MariaDB`` or ``MySQL`` (MariaDB's version reads ``5.5.5-10.11.6-MariaDB``)."""
        return "MariaDB" if "mariadb" in self.version.lower() else "MySQL"

    @property
    def shown_version(self) -> str:
        """The version without MariaDB's ``5.5.5-`` compatibility prefix."""
        return self.version.removeprefix("5.5.5-")


@dataclass(frozen=True, slots=True)
class ServerError:
    """An ERR packet: code, SQLSTATE (may be empty) and message."""

    code: int
    state: str
    message: str

    def __str__(self) -> str:
        """As the mysql client prints it: ``ERROR 1045 (28000): Access denied ...``."""
        state = f" ({self.state})" if self.state else ""
        return f"ERROR {self.code}{state}: {self.message}"[:300]


def packet(payload: bytes, sequence: int) -> bytes:
    """One packet: 3-byte little-endian length, sequence id, payload."""
    return struct.pack("<I", len(payload))[:3] + bytes([sequence & 0xFF]) + payload


def _header(flags: int) -> bytes:
    return struct.pack("<IIB", flags, _MAX_PACKET, _UTF8MB4) + b"\x00" * 23


def ssl_request(flags: int = _FLAGS) -> bytes:
    """The SSLRequest packet (sequence 1): capabilities, max packet, charset, 23 zeros."""
    return packet(_header(flags), 1)


def handshake_response(user: str, database: str | None) -> bytes:
    """HandshakeResponse41 (sequence 2) with an empty mysql_native_password response."""
    flags = _FLAGS | (CLIENT_CONNECT_WITH_DB if database else 0)
    body = _header(flags) + user.encode() + b"\x00" + b"\x00"  # auth response: 0 bytes
    if database:
        body += database.encode() + b"\x00"
    return packet(body + _NATIVE.encode() + b"\x00", 2)


def parse_greeting(payload: bytes) -> Greeting | ServerError | None:
    """The Initial Handshake Packet (or the ERR a server sends instead); None: neither."""
    if payload[:1] == b"\xff":
        return parse_error(payload)
    if payload[:1] != b"\x0a" or b"\x00" not in payload[1:64]:
        return None
    end = payload.index(b"\x00", 1)
    version = payload[1:end].decode("ascii", "replace")
    rest = payload[end + 1 :]
    # connection id (4), auth data part 1 (8), filler (1), capabilities (2)
    if len(rest) < 15:
        return None
    capabilities = struct.unpack("<H", rest[13:15])[0]
    plugin = ""
    if len(rest) >= 20:
        capabilities |= struct.unpack("<H", rest[18:20])[0] << 16
        data_length = rest[20] if len(rest) > 20 else 0
        tail = rest[31 + max(13, data_length - 8) :]
        if capabilities & CLIENT_PLUGIN_AUTH and tail:
            plugin = tail.split(b"\x00", 1)[0].decode("ascii", "replace")
    return Greeting(version, capabilities, plugin)


def parse_error(payload: bytes) -> ServerError | None:
    """An ERR packet (``0xff``, code, optional ``#`` and SQLSTATE, message); None if not one."""
    if payload[:1] != b"\xff" or len(payload) < 3:
        return None
    code = struct.unpack("<H", payload[1:3])[0]
    rest = payload[3:]
    state = ""
    if rest[:1] == b"#" and len(rest) >= 6:
        state, rest = rest[1:6].decode("ascii", "replace"), rest[6:]
    message = rest.decode("utf-8", "replace")
    return ServerError(code, state, "".join(c if c.isprintable() else "?" for c in message))


def read_packet(stream: Stream, start: bytes = b"") -> tuple[int, bytes] | None:
    """The next packet's (sequence, payload), at most MAX_ANSWER bytes; None at the end."""
    head = read_exact(stream, 4, start)
    if len(head) < 4:
        return None
    size = struct.unpack("<I", head[:3] + b"\x00")[0]
    data = read_exact(stream, 4 + min(size, MAX_ANSWER - 4), head)
    return head[3], data[4 : 4 + size]


def before_tls(stream: Stream, target: Target) -> None:
    """Read the greeting; when it offers TLS, send the SSLRequest."""
    try:
        head = read_exact(stream, 4)
    except ConnectTimeout as exc:
        raise ConnectTimeout(
            f"{target}: {exc}, and a MySQL/MariaDB server greets at once: this port is probably "
            f"not one (if it speaks TLS from the start, try tls://{target.host}:{target.port})"
        ) from None
    if len(head) >= 4 and (head[3] != 0 or int.from_bytes(head[:3], "little") > _MAX_GREETING):
        # Not the header of a greeting (sequence 0, a few hundred bytes): say what it is
        # rather than wait for megabytes that will never come.
        from mtls_doctor.protocols.sniff import describe

        raise StartTLSRefusedError(
            f"{target}: no MySQL/MariaDB greeting: {describe(head, target, 'MySQL')}"
        )
    read = read_packet(stream, head)
    greeting = parse_greeting(read[1]) if read is not None else None
    if isinstance(greeting, ServerError):
        raise StartTLSRefusedError(
            f"{target}: the server refused the connection before TLS: {greeting}"
        )
    if greeting is None:
        said = f"({read[1][:8].hex(' ')})" if read is not None else "(connection closed)"
        raise StartTLSRefusedError(f"{target}: no MySQL/MariaDB greeting {said}")
    if not greeting.capabilities & CLIENT_SSL:
        raise StartTLSRefusedError(
            f"{target}: {greeting.product} {greeting.shown_version} does not offer TLS (no "
            "CLIENT_SSL in its greeting: TLS is off on this server, e.g. no ssl_cert and "
            "ssl_key, or --skip-ssl), so no client certificate can be checked"
        )
    stream.send(ssl_request())


def after_tls(stream: Stream, target: Target, common_name: str | None) -> AppAnswer:
    """Log in as the URL's user (else the certificate's CN) without a password.

    With neither there is no account to ask about: guessing one (``root``) would
    be a failed login on someone else's account, so none is tried.
    """
    user = target.user or common_name
    if user is None:
        return AppAnswer(
            protocol="mysql",
            accepted=None,
            said="(no login tried)",
            meaning="the TLS handshake completed; no account was named (mysql://USER@host) "
            "and no certificate gives one, so no login was tried and whether an account "
            "requires a certificate (REQUIRE X509) is not known",
        )
    stream.send(handshake_response(user, target.database))
    read = read_packet(stream)
    if read is not None and read[1][:1] == b"\xfe":
        plugin = read[1][1:].split(b"\x00", 1)[0].decode("ascii", "replace")
        if plugin not in _EMPTY_OK:
            return interpret(read[1], user)
        stream.send(packet(b"", read[0] + 1))
        read = read_packet(stream)
    payload = b"" if read is None else read[1]
    if payload[:1] == b"\x00":
        stream.send(_QUIT)
    return interpret(payload, user)


def interpret(payload: bytes, user: str) -> AppAnswer:
    """The meaning of the server's answer to the login."""
    kind = payload[:1]
    if kind == b"\x00":
        return AppAnswer(
            protocol="mysql",
            accepted=True,
            said="OK",
            meaning=f"the server let user {user!r} in without a password: the account's "
            "certificate rule (REQUIRE X509, SUBJECT or ISSUER), if it has one, is met",
        )
    if kind == b"\xfe" or kind == b"\x01":
        plugin = payload[1:].split(b"\x00", 1)[0].decode("ascii", "replace")
        what = f"authentication plugin {plugin}" if kind == b"\xfe" and plugin else "more"
        return AppAnswer(
            protocol="mysql",
            accepted=None,
            said=f"authentication switch ({what})"[:120],
            meaning=f"the certificate passed TLS; the server asks user {user!r} for {what} "
            "authentication, which this tool cannot answer without a password, and it checks "
            "the account's certificate rule (REQUIRE X509, SUBJECT, ISSUER) only after that",
        )
    error = parse_error(payload)
    if error is None:
        return AppAnswer(
            protocol="mysql",
            accepted=False,
            said="(connection closed)" if not payload else f"packet {payload[:8].hex(' ')}",
            meaning="the server closed the connection without answering the login",
        )
    if error.code == ACCESS_DENIED:
        return AppAnswer(
            protocol="mysql",
            accepted=False,
            said=str(error),
            meaning=f"the server refused user {user!r}: its certificate rule (REQUIRE X509, "
            "SUBJECT or ISSUER), its password (none was sent) or the user name itself; the "
            "server answers all three with this same error",
            cause="rejected_by_application",
            fix=_ACCESS_DENIED_FIX.format(user=user),
        )
    return AppAnswer(
        protocol="mysql",
        accepted=False,
        said=str(error),
        meaning="the certificate passed TLS; the server refused the login after it",
        cause="rejected_by_application",
    )


_ACCESS_DENIED_FIX = (
    "Read the server's error log at the time of this check: a note 'X509 subject mismatch: "
    "should be ... but is ...' (or 'X509 issuer mismatch') just before 'Access denied' names "
    "the certificate rule that failed; with log_warnings on (MariaDB's default) no such note "
    "means the password or the user name was refused. SHOW GRANTS FOR '{user}'@'HOST' shows "
    "the account's REQUIRE rule: SUBJECT and ISSUER must equal the certificate's names in "
    "OpenSSL's one-line form (/C=../O=../CN=..). The rule is checked only after the password, "
    "and this tool sends none: connect as the account meant for this certificate "
    "(mysql://USER@host)."
)
