"""Endpoints that misbehave: plain HTTP, silence, garbage, hang-ups. 127.0.0.1 only."""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

BEHAVIOURS = ("http", "silent", "garbage", "close_after_hello", "ssh")


@contextmanager
def hostile_server(behaviour: str) -> Iterator[int]:
    """Serve ``behaviour`` on a free loopback port; yield the port; stop on exit."""
    assert behaviour in BEHAVIOURS
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
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
        for conn in held:
            conn.close()


def closed_port() -> int:
    """A loopback port with nothing listening (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
