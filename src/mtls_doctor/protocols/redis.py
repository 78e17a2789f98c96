"""Redis (RESP): ``PING`` after the handshake, read one reply line.

``+PONG`` means served; ``-NOAUTH`` means TLS accepted the client and Redis
now wants a password (not a certificate matter); ``-WRONGPASS``/``-NOPERM``
are authorization refusals. Hand-written: one command and one reply line
do not justify a Redis client library.
"""

from __future__ import annotations

from mtls_doctor.model import AppAnswer
from mtls_doctor.protocols.base import Stream, first_line, read_until
from mtls_doctor.tls.target import Target

_PING = b"*1\r\n$4\r\nPING\r\n"
_QUIT = b"*1\r\n$4\r\nQUIT\r\n"


def after_tls(stream: Stream, target: Target, user: str | None) -> AppAnswer:
    """PING, and what the reply says."""
    stream.send(_PING)
    reply = read_until(stream, lambda buf: b"\r\n" in buf)
    if reply:
        stream.send(_QUIT)
    return interpret(reply)


def interpret(reply: bytes) -> AppAnswer:
    """The meaning of Redis's reply to PING."""
    said = first_line(reply)
    if not reply:
        return AppAnswer(
            protocol="redis",
            accepted=False,
            said="(connection closed)",
            meaning="Redis closed the connection without answering PING",
        )
    word = said[1:].split(" ", 1)[0].upper()
    if said.startswith("+"):
        return AppAnswer(protocol="redis", accepted=True, said=said, meaning="Redis answered PING")
    if word == "NOAUTH":
        return AppAnswer(
            protocol="redis",
            accepted=True,
            said=said,
            meaning="Redis accepted the TLS client and now wants a password (AUTH); "
            "that is not a certificate matter",
        )
    if word in ("WRONGPASS", "NOPERM"):
        return AppAnswer(
            protocol="redis",
            accepted=False,
            said=said,
            meaning="Redis refused the command for this user (an ACL rule)",
            cause="rejected_by_application",
        )
    return AppAnswer(
        protocol="redis",
        accepted=True,
        said=said,
        meaning="Redis answered (an error to PING, but past TLS)",
    )
