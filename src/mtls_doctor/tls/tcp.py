"""TCP before (or instead of) TLS: one deadline, the connection, the plain-text stream.

STARTTLS exchanges and the questions asked of a port that said nothing to a
ClientHello run here, over the bare socket, bounded by the same deadline as
the handshake.
"""

from __future__ import annotations

import select
import socket
import time

from mtls_doctor.errors import ConnectError, ConnectTimeout, NetworkError, NotTLSError
from mtls_doctor.protocols.base import ConnectionEnded
from mtls_doctor.tls.target import Target


class Deadline:
    """One deadline for a whole connection (``--timeout``)."""

    def __init__(self, seconds: float, shown: float | None = None) -> None:
        #: What messages quote: the user's --timeout, not the part of it left for us.
        self.seconds = seconds if shown is None else shown
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        """Seconds left (0 when passed)."""
        return max(0.0, self.end - time.monotonic())


def connect(target: Target, deadline: Deadline) -> socket.socket:
    """A non-blocking TCP connection to the target (its --connect-to address if given)."""
    host = target.connect_host
    try:
        infos = socket.getaddrinfo(host, target.port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConnectError(f"{target}: cannot resolve {host!r} ({exc.strerror})") from exc
    last: OSError | None = None
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        sock.settimeout(max(deadline.left(), 0.001))
        try:
            sock.connect(address)
        except TimeoutError as exc:
            sock.close()
            raise ConnectTimeout(
                f"{target}: no TCP connection within {deadline.seconds:g} s "
                "(a firewall dropping packets, or the host is down)"
            ) from exc
        except OSError as exc:
            sock.close()
            last = exc
            continue
        sock.setblocking(False)
        return sock
    reason = last.strerror if last is not None and last.strerror else "no address"
    raise ConnectError(f"{target}: cannot connect: {reason.lower()}") from last


class PlainStream:
    """The socket before TLS starts (STARTTLS, PostgreSQL's SSLRequest)."""

    def __init__(self, sock: socket.socket, deadline: Deadline) -> None:
        self.sock = sock
        self.deadline = deadline

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if not select.select([], [self.sock], [], self.deadline.left())[1]:
                raise ConnectTimeout("the server stopped reading (timeout while sending)")
            try:
                view = view[self.sock.send(view) :]
            except OSError as exc:
                raise ConnectionEnded(f"the connection was closed ({exc.strerror})") from None

    def recv(self) -> bytes:
        if not select.select([self.sock], [], [], self.deadline.left())[0]:
            raise ConnectTimeout(f"the server did not answer within {self.deadline.seconds:g} s")
        try:
            return self.sock.recv(65536)
        except OSError:
            return b""


def name_a_silent_service(target: Target, deadline: Deadline) -> None:
    """The server closed without a byte: ask it as PostgreSQL, then as LDAP, would speak.

    Extra TCP connections, not handshakes (the budget counts handshakes):
    PostgreSQL logs a ClientHello as an "invalid length of startup packet"
    and slapd drops it, both without a word, but each answers its own opening.
    """
    from mtls_doctor.protocols.sniff import SILENT_SERVICES

    for opening, recognise in SILENT_SERVICES:
        if deadline.left() <= 0:
            return
        try:
            sock = connect(target, deadline)
        except NetworkError:
            return
        try:
            stream = PlainStream(sock, deadline)
            stream.send(opening)
            reply = stream.recv()
        except (NetworkError, ConnectionEnded):
            continue
        finally:
            sock.close()
        said = recognise(reply, target)
        if said is not None:
            raise NotTLSError(said)
