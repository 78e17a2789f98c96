"""Name the plain-text service behind a port that did not answer TLS.

From the first bytes a server sent (greetings: SMTP ``220``, IMAP ``* OK``,
POP3 ``+OK``, MySQL's handshake packet, SSH; answers to our ClientHello:
Redis's ``-ERR``, HTTP, an LDAP notice of disconnection), or, when the
server closed without a word, from its answer to PostgreSQL's SSLRequest
(PostgreSQL drops a ClientHello as an "invalid length of startup packet"
and says nothing). Every suggestion is a target form that works.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from mtls_doctor.protocols import example
from mtls_doctor.tls.target import Target


def describe(first: bytes, target: Target, expected: str = "TLS") -> str:
    """Why ``first`` is not ``expected`` (TLS, or the greeting of a STARTTLS protocol), and
    what to try instead."""
    host, port = target.host, target.port
    text = first[:200].decode("latin-1")
    upper = text.upper()
    if first[:5] in (b"HTTP/", b"<html", b"<!DOC") or first[:4] in (b"GET ", b"HEAD"):
        return (
            f"the port speaks plain HTTP, not {expected} (try https:// on the TLS port, usually "
            "443)"
        )
    if first.startswith(b"SSH-"):
        return f"the port speaks SSH, not {expected}"
    if text.startswith("220") and "FTP" in upper:
        return f"this is an FTP server (plain text), not {expected}"
    if text.startswith("220"):
        return (
            "this is an SMTP server that starts in plain text: try "
            f"{example('smtp', host, port)} (STARTTLS)"
        )
    if text.startswith("* OK") or text.startswith("* PREAUTH"):
        return (
            f"this is an IMAP server that starts in plain text: try {example('imap', host, port)}"
        )
    if text.startswith("+OK"):
        return (
            "this is a POP3 server in plain text (STARTTLS for POP3 is not supported here); "
            f"its TLS port is usually 995: try {example('pop3s', host)}"
        )
    if text.startswith("-ERR") or text.startswith("-DENIED"):
        return (
            "this is Redis without TLS on this port (it answered our ClientHello with "
            f"{text.splitlines()[0][:60]!r}); {example('redis', host)} needs Redis's tls-port"
        )
    if _mysql_greeting(first):
        return (
            "this is MySQL/MariaDB, whose TLS starts after its greeting and an SSLRequest: try "
            f"{example('mysql', host, port)}"
        )
    if first[:1] == b"0" and b"1.3.6.1.4.1.1466.20036" in first:
        return (
            "this is an LDAP server in plain text (it sent a notice of disconnection): try "
            f"{example('ldap', host, port)} (StartTLS)"
        )
    return f"the server answered with bytes that are not {expected} ({first[:8].hex(' ')})"


def _mysql_greeting(first: bytes) -> bool:
    """A MySQL protocol-10 handshake: 3-byte length, sequence 0, version 10, a version string."""
    if len(first) < 6 or first[3] != 0 or first[4] != 10:
        return False
    length = struct.unpack("<I", first[:3] + b"\x00")[0]
    return 20 < length < 1024 and first[5:6].isdigit()


def _postgres(reply: bytes, target: Target) -> str | None:
    """A one-byte S or N answers PostgreSQL's SSLRequest."""
    if reply not in (b"S", b"N"):
        return None
    return (
        "this is PostgreSQL, whose TLS starts after an SSLRequest: try "
        f"{example('postgres', target.host, target.port)}"
    )


def _ldap(reply: bytes, target: Target) -> str | None:
    """An LDAPMessage with an ExtendedResponse answers the StartTLS request."""
    if reply[:1] != b"\x30" or b"\x78" not in reply[:12]:
        return None
    return (
        "this is an LDAP server in plain text, whose TLS starts with the StartTLS operation: "
        f"try {example('ldap', target.host, target.port)}"
    )


def _silent_services() -> tuple[tuple[bytes, Callable[[bytes, Target], str | None]], ...]:
    from mtls_doctor.protocols.ldap import STARTTLS_REQUEST
    from mtls_doctor.protocols.postgres import SSL_REQUEST

    return ((SSL_REQUEST, _postgres), (STARTTLS_REQUEST, _ldap))


#: What to send to a server that said nothing to a ClientHello, and how to read its answer.
SILENT_SERVICES = _silent_services()
