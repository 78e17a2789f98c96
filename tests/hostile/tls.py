"""A TLS server whose every string is hostile: certificate subject, CA names, HTTP answer.

pyOpenSSL, because only it lets a server advertise CA names of its choosing.
127.0.0.1, a free port, stopped by the context manager.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from OpenSSL import SSL

from tests.servers.hostile import serve_loopback

#: Clears the screen, retitles the window, then a C1 CSI and a bidi override.
HOSTILE = "\x1b[2J\x1b]0;pwned\x07evil\x9b31m\u202egnp.exe"


def hostile_name(label: str) -> x509.Name:
    """A name whose CN carries the escapes after ``label``."""
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{label}{HOSTILE}")])


def self_signed(name: x509.Name) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


@contextmanager
def hostile_tls_server() -> Iterator[int]:
    """Serve TLS with hostile strings everywhere; yield the port."""
    cert, key = self_signed(hostile_name("server"))
    ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
    ctx.use_certificate(cert)
    ctx.use_privatekey(key)
    ctx.add_client_ca(cert)
    ctx.set_verify(SSL.VERIFY_PEER, lambda *_args: True)
    stop = threading.Event()
    answer = (
        "HTTP/1.1 403 "
        + HOSTILE
        + "\r\nContent-Length: 12\r\nConnection: close\r\n\r\n"
        + HOSTILE[:12]
    ).encode("latin-1", errors="replace")

    def handle(raw: socket.socket) -> None:
        raw.setblocking(True)  # pyOpenSSL on a socket with a timeout raises WantRead
        conn = SSL.Connection(ctx, raw)
        conn.set_accept_state()
        try:
            conn.do_handshake()
            conn.recv(65536)
            conn.sendall(answer)
            conn.shutdown()
        except (SSL.Error, OSError):
            pass
        raw.close()

    with serve_loopback(handle, stop, backlog=16) as port:
        yield port
