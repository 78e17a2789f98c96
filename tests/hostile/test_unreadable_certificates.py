"""Certificates with a duplicate extension or an unknown signature algorithm.

A server that presents one (probe, check) gets its other facts reported and
what cannot be read named; a local one (inspect) is one clear load problem.
Never an internal error.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from OpenSSL import SSL

from tests.cli import assert_one_clean_error_line, run_cli
from tests.hostile.tls import self_signed
from tests.servers.hostile import serve_loopback

BASIC_CONSTRAINTS = bytes.fromhex("0603551d13")
SUBJECT_KEY_ID = bytes.fromhex("0603551d0e")
ECDSA_SHA256 = bytes.fromhex("06082a8648ce3d040302")
UNKNOWN_SIGNATURE = bytes.fromhex("06082a8648ce3d04037f")  # 1.2.840.10045.4.3.127

KINDS = {
    "duplicate_extension": ((BASIC_CONSTRAINTS, SUBJECT_KEY_ID), "appears twice"),
    "unknown_signature": ((ECDSA_SHA256, UNKNOWN_SIGNATURE), "signature algorithm"),
}


def odd_certificate(kind: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A self-signed certificate patched in place (same lengths: the DER stays well formed)."""
    cert, key = self_signed(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, kind)]))
    der = cert.public_bytes(serialization.Encoding.DER)
    (old, new), _words = KINDS[kind]
    assert old in der
    return x509.load_der_x509_certificate(der.replace(old, new)), key


@contextmanager
def serving(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Iterator[int]:
    ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
    ctx.use_certificate(cert)
    ctx.use_privatekey(key)
    stop = threading.Event()

    def handle(raw: socket.socket) -> None:
        raw.setblocking(True)
        conn = SSL.Connection(ctx, raw)
        conn.set_accept_state()
        try:
            conn.do_handshake()
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            conn.shutdown()
        except (SSL.Error, OSError):
            pass
        raw.close()

    with serve_loopback(handle, stop, backlog=8) as port:
        yield port


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_server_certificate(kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    cert, key = odd_certificate(kind)
    with serving(cert, key) as port:
        probe = run_cli(capsys, "probe", "--json", f"127.0.0.1:{port}")
        text = run_cli(capsys, "probe", f"127.0.0.1:{port}")
        check = run_cli(capsys, "check", "--json", f"127.0.0.1:{port}")
    assert probe.code == 0, probe.err
    (server,) = probe.json["server_certificates"]
    assert server["subject"] == f"CN={kind}"
    assert KINDS[kind][1] in " ".join(server["unreadable"])
    assert text.code == 0 and "cannot be read" in text.out
    assert check.code == 0, check.err
    assert check.json["verdict"]["cause"] == "accepted"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_local_certificate(kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cert, key = odd_certificate(kind)
    path = tmp_path / "odd.pem"
    path.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    result = run_cli(capsys, "inspect", str(path))
    assert_one_clean_error_line(result, 2)
    assert KINDS[kind][1] in result.err
    as_json = run_cli(capsys, "inspect", "--json", str(path))
    assert as_json.code == 2
    assert KINDS[kind][1] in as_json.out
