"""The byte stream a conversation runs over, and the errors it can end with.

A conversation module sees only :class:`Stream` (plain TCP before STARTTLS,
TLS after), so it is the same code over both and never touches OpenSSL.
Every read is bounded by the command's deadline inside the stream.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol as Interface

from mtls_doctor.errors import NotTLSError

#: No greeting, banner or answer we parse is longer than this.
MAX_ANSWER = 64 * 1024


class Stream(Interface):
    """Send bytes, receive bytes (``b""`` at the end of the stream)."""

    def send(self, data: bytes) -> None:
        """Send all of ``data``."""

    def recv(self) -> bytes:
        """What arrived next; ``b""`` when the peer closed. Raises ConnectTimeout."""


class ConnectionEnded(Exception):  # noqa: N818 (an event, not a bug)
    """The TLS layer ended the conversation (an alert, a reset); the reason is the message."""


class StartTLSRefusedError(NotTLSError):
    """A plain-text service did not switch to TLS when asked (STARTTLS, SSLRequest)."""


def read_until(stream: Stream, done: Callable[[bytes], bool], start: bytes = b"") -> bytes:
    """Read until ``done(buffer)``, the end of the stream, or MAX_ANSWER bytes."""
    buffer = start
    while not done(buffer) and len(buffer) < MAX_ANSWER:
        chunk = stream.recv()
        if not chunk:
            break
        buffer += chunk
    return buffer


def read_exact(stream: Stream, count: int, start: bytes = b"") -> bytes:
    """Read ``count`` bytes (fewer when the stream ends)."""
    return read_until(stream, lambda buf: len(buf) >= count, start)


def first_line(data: bytes, limit: int = 200) -> str:
    """The first line of ``data`` as printable ASCII (for quoting what a server said)."""
    line = data.split(b"\n", 1)[0].rstrip(b"\r")
    text = line.decode("ascii", "replace")
    return "".join(ch if ch.isprintable() else "?" for ch in text)[:limit]
