"""Endpoints that misbehave: plain HTTP, silence, garbage, hang-ups. 127.0.0.1 only."""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def serve_loopback(
    handle: Callable[[socket.socket], None], stop: threading.Event, backlog: int = 16
) -> Iterator[int]:
    """Accept on a free 127.0.0.1 port, each connection to ``handle`` in a thread of its own.

    Yields the port; on exit sets ``stop`` (which handlers may wait on) and closes the listener.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(backlog)

    def serve() -> None:
        while not stop.is_set():
            if select.select([listener], [], [], 0.05)[0]:
                conn, _ = listener.accept()
                threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        listener.close()


BEHAVIOURS = ("http", "silent", "garbage", "close_after_hello", "ssh")


@contextmanager
def hostile_server(behaviour: str) -> Iterator[int]:
    """Serve ``behaviour`` on a free loopback port; yield the port; stop on exit."""
    assert behaviour in BEHAVIOURS
    stop = threading.Event()
    held: list[socket.socket] = []

    def handle(conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            if behaviour == "ssh":
                conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
            conn.recv(4096)  # the ClientHello
            if behaviour == "http":
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            elif behaviour == "garbage":
                conn.sendall(bytes(range(7, 200)))
            elif behaviour == "silent":
                held.append(conn)  # keep it open, say nothing
                return
        except OSError:
            pass
        conn.close()

    try:
        with serve_loopback(handle, stop, backlog=8) as port:
            yield port
    finally:
        for conn in held:
            conn.close()


def closed_port() -> int:
    """A loopback port with nothing listening (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: HTTP answers that misbehave (for CRL / OCSP / caIssuers URLs).
HTTP_BEHAVIOURS = (
    "drip",  # a valid-looking answer whose body comes one byte every 0.1 s
    "silent",  # reads the request, says nothing
    "bad_status",  # a status line that is not HTTP
    "bad_chunking",  # chunked encoding with a size that is not hex
    "many_headers",  # 150 header lines
    "long_status",  # a 100 KB status line
    "escapes",  # a 403 whose reason phrase carries terminal escape sequences
)
ESCAPE_REASON = "\x1b[2J\x1b]0;pwned\x07Denied"
_CANNED = {
    "bad_status": b"HTTQ/9.9 sure, why not\r\n\r\n",
    "bad_chunking": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    "many_headers": b"HTTP/1.1 200 OK\r\n"
    + b"".join(b"X-H%d: v\r\n" % i for i in range(150))
    + b"Content-Length: 0\r\n\r\n",
    "long_status": b"HTTP/1.1 200 " + b"O" * 100_000 + b"\r\n\r\n",
    "escapes": b"HTTP/1.1 403 "
    + ESCAPE_REASON.encode("latin-1")
    + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
}


@contextmanager
def hostile_http(behaviour: str) -> Iterator[str]:
    """Serve ``behaviour`` over plain HTTP on a free loopback port; yield its base URL."""
    assert behaviour in HTTP_BEHAVIOURS
    stop = threading.Event()
    held: list[socket.socket] = []

    def handle(conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            conn.recv(65536)  # the request (small: headers and an OCSP request)
            if behaviour == "silent":
                held.append(conn)
                return
            if behaviour == "drip":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
                while not stop.wait(0.1):
                    conn.sendall(b"0")
            else:
                conn.sendall(_CANNED[behaviour])
        except OSError:
            pass
        conn.close()

    with serve_loopback(handle, stop, backlog=64) as port:
        yield f"http://127.0.0.1:{port}"
        for conn in held:
            conn.close()
