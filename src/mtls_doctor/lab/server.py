"""Built-in mTLS servers for the lab, on 127.0.0.1 and free ports.

pyOpenSSL rather than the stdlib ``ssl``: only it lets a server choose the CA
names it advertises (``set_client_ca_list``), which the lab needs to show
servers that list no CAs or CAs that disagree with what they trust.

Each server is configurable the ways real servers differ: client auth
required / optional / not requested; which CA names it advertises; TLS 1.2
and/or 1.3; and how it answers a bad certificate: with a TLS alert like
OpenSSL-based servers, or with an HTTP 400 page like nginx (whose verify
callback lets the handshake finish and then says "The SSL certificate error").
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from cryptography import x509
from OpenSSL import SSL, crypto

from mtls_doctor.lab.pki import LabPKI, build_crl
from mtls_doctor.rules.probe import ClientAuth
from mtls_doctor.tlsversion import TLSVersion

_VERSIONS = {TLSVersion.TLS1_2: SSL.TLS1_2_VERSION, TLSVersion.TLS1_3: SSL.TLS1_3_VERSION}
_IO_TIMEOUT = 5.0


class FailureStyle(StrEnum):
    """How a server answers a client certificate it does not accept."""

    #: Abort the handshake with a TLS alert (OpenSSL s_server, Apache, HAProxy, Go).
    ALERT = "alert"
    #: Finish the handshake, answer HTTP 400 (nginx).
    HTTP = "http"


class Advertise(StrEnum):
    """Which CA names the CertificateRequest carries."""

    TRUSTED = "trusted"  # the CAs the server trusts (the usual)
    NONE = "none"  # an empty list ("any CA I trust")
    OTHER = "other"  # a CA it does not trust (a misconfiguration)


@dataclass(frozen=True, slots=True, kw_only=True)
class LabServerConfig:
    """How one lab server behaves."""

    name: str = "strict"
    client_auth: ClientAuth = ClientAuth.REQUIRED
    advertise: Advertise = Advertise.TRUSTED
    tls_versions: tuple[TLSVersion, ...] = (TLSVersion.TLS1_2, TLSVersion.TLS1_3)
    failure_style: FailureStyle = FailureStyle.ALERT
    #: Check the lab CRLs (root and intermediate).
    check_crl: bool = True
    #: The server's CRL expired (every client is then rejected: a server-side fault).
    stale_crl: bool = False
    #: Subjects the application allows (others get 403); None allows all.
    allowed_subjects: tuple[str, ...] | None = None
    #: Advertise this many extra dummy CA names (to test clients against absurd lists).
    extra_ca_names: int = 0
    description: str = ""


@dataclass
class _Verification:
    """What the verify callback saw for one connection."""

    error: int = 0
    depth: int = 0


NGINX_PAGE = (
    "<html>\r\n<head><title>400 {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>400 Bad Request</h1></center>\r\n<center>{reason}</center>\r\n"
    "<hr><center>mtls-doctor-lab</center>\r\n</body>\r\n</html>\r\n"
)


class LabServer:
    """One lab server; ``start()`` binds 127.0.0.1 on a free port and serves in threads."""

    def __init__(self, pki: LabPKI, config: LabServerConfig | None = None) -> None:
        self.pki = pki
        self.config = config or LabServerConfig()
        self._listener: socket.socket | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._context = self._make_context()

    @property
    def port(self) -> int:
        """The bound port (after ``start``)."""
        assert self._listener is not None, "server not started"
        return int(self._listener.getsockname()[1])

    @property
    def target(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """``https://127.0.0.1:PORT/``."""
        return f"https://127.0.0.1:{self.port}/"

    def _make_context(self) -> SSL.Context:
        cfg = self.config
        ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
        ctx.set_min_proto_version(min(_VERSIONS[version] for version in cfg.tls_versions))
        ctx.set_max_proto_version(max(_VERSIONS[version] for version in cfg.tls_versions))
        ctx.use_certificate_chain_file(str(self.pki.server_pem))
        ctx.use_privatekey_file(str(self.pki.server_key_file))
        # An HTTPS server says so by ALPN, as nginx and Apache do.
        ctx.set_alpn_select_callback(_choose_http11)
        if cfg.client_auth is ClientAuth.NOT_REQUESTED:
            return ctx
        mode = SSL.VERIFY_PEER
        if cfg.client_auth is ClientAuth.REQUIRED and cfg.failure_style is FailureStyle.ALERT:
            mode |= SSL.VERIFY_FAIL_IF_NO_PEER_CERT
        ctx.set_verify(mode, self._verify)
        ctx.set_verify_depth(5)
        ctx.load_verify_locations(str(self.pki.client_ca_bundle))
        names = {
            Advertise.TRUSTED: [self.pki.root.certificate],
            Advertise.NONE: [],
            Advertise.OTHER: [self.pki.unrelated.certificate],
        }[cfg.advertise]
        for cert in [*names, *_decoy_cas(cfg.extra_ca_names)]:
            ctx.add_client_ca(cert)
        if cfg.check_crl:
            store = ctx.get_cert_store()
            assert store is not None
            for crl in self._crls():
                store.add_crl(crl)
            store.set_flags(crypto.X509StoreFlags.CRL_CHECK | crypto.X509StoreFlags.CRL_CHECK_ALL)
        return ctx

    def _crls(self) -> list[x509.CertificateRevocationList]:
        pki = self.pki
        if not self.config.stale_crl:
            root_crl = x509.load_pem_x509_crl((pki.directory / "ca" / "root.crl.pem").read_bytes())
            return [pki.crl, root_crl]
        # An expired CRL for every CA: what an unattended CRL cron job leaves behind.
        long_ago = pki.now - timedelta(days=30)
        revoked = [r.serial_number for r in pki.crl]
        return [
            build_crl(pki.intermediate, revoked, now=pki.now, this_update=long_ago),
            build_crl(pki.root, [], now=pki.now, this_update=long_ago),
        ]

    def _verify(self, conn: SSL.Connection, _cert: Any, errnum: int, depth: int, ok: int) -> bool:
        seen = conn.get_app_data()
        if isinstance(seen, _Verification) and not ok and not seen.error:
            seen.error, seen.depth = errnum, depth
        if self.config.failure_style is FailureStyle.HTTP:
            return True  # nginx: finish the handshake, judge at the HTTP layer
        return bool(ok)

    def start(self) -> LabServer:
        """Bind and start serving; returns self."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        self._listener = listener
        self._thread = threading.Thread(target=self._serve, name=f"lab-{self.config.name}")
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting and close the listener."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._listener is not None:
            self._listener.close()

    def __enter__(self) -> LabServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            if not select.select([self._listener], [], [], 0.1)[0]:
                continue
            try:
                client, _ = self._listener.accept()
            except OSError:
                continue
            worker = threading.Thread(target=self._handle, args=(client,), daemon=True)
            worker.start()

    def _handle(self, sock: socket.socket) -> None:
        sock.settimeout(_IO_TIMEOUT)
        conn = SSL.Connection(self._context, sock)
        verification = _Verification()
        conn.set_app_data(verification)
        conn.set_accept_state()
        deadline = time.monotonic() + _IO_TIMEOUT
        try:
            _with_retry(conn.do_handshake, sock, deadline)
            request = _read_request(conn, sock, deadline)
            if request is None:
                return
            status, reason, body = self._answer(conn, verification)
            payload = body.encode()
            head = (
                f"HTTP/1.1 {status} {reason}\r\nServer: mtls-doctor-lab\r\n"
                f"Content-Type: text/html\r\nContent-Length: {len(payload)}\r\n"
                "Connection: close\r\n\r\n"
            )
            _with_retry(lambda: conn.sendall(head.encode() + payload), sock, deadline)
            conn.shutdown()
        except (SSL.Error, OSError, TimeoutError):
            pass  # the client went away or was rejected: the alert is already sent
        finally:
            sock.close()

    def _answer(self, conn: SSL.Connection, verification: _Verification) -> tuple[int, str, str]:
        cfg = self.config
        peer = conn.get_peer_certificate(as_cryptography=True)
        if (
            cfg.failure_style is FailureStyle.HTTP
            and cfg.client_auth is not ClientAuth.NOT_REQUESTED
        ):
            if verification.error:
                return 400, "Bad Request", NGINX_PAGE.format(reason="The SSL certificate error")
            if peer is None and cfg.client_auth is ClientAuth.REQUIRED:
                return (
                    400,
                    "Bad Request",
                    NGINX_PAGE.format(reason="No required SSL certificate was sent"),
                )
        subject = peer.subject.rfc4514_string() if peer is not None else None
        if cfg.allowed_subjects is not None and (
            subject is None or not any(a in subject for a in cfg.allowed_subjects)
        ):
            return 403, "Forbidden", f"<h1>403 Forbidden</h1>\r\n{subject} may not access this.\r\n"
        who = subject or "anonymous (no client certificate)"
        return 200, "OK", f"Hello {who}\r\nlab server {cfg.name}: client certificate accepted\r\n"


def _decoy_cas(count: int) -> list[x509.Certificate]:
    """Throw-away CA certificates whose only use is their name in the CA list."""
    if not count:
        return []
    from datetime import UTC, datetime

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    decoys = []
    for number in range(count):
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mtls-doctor lab"),
                x509.NameAttribute(NameOID.COMMON_NAME, f"Decoy CA {number:05d}"),
            ]
        )
        decoys.append(
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(number + 1)
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=1))
            .sign(key, hashes.SHA256())
        )
    return decoys


def _with_retry(action: Any, sock: socket.socket, deadline: float) -> Any:
    """Run a pyOpenSSL call on a socket with a timeout (it raises Want* instead of blocking)."""
    while True:
        try:
            return action()
        except SSL.WantReadError:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([sock], [], [], wait)[0]:
                raise TimeoutError from None
        except SSL.WantWriteError:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([], [sock], [], wait)[1]:
                raise TimeoutError from None


def _read_request(conn: SSL.Connection, sock: socket.socket, deadline: float) -> bytes | None:
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 16384:
        try:
            chunk = _with_retry(lambda: conn.recv(4096), sock, deadline)
        except SSL.ZeroReturnError:
            return None
        if not chunk:
            return None
        data += chunk
    return data


#: The servers ``lab up`` and ``demo`` run, by name.
LAB_SERVERS: tuple[LabServerConfig, ...] = (
    LabServerConfig(
        name="strict",
        description="requires a client certificate; rejects with TLS alerts (like OpenSSL)",
    ),
    LabServerConfig(
        name="nginx-like",
        failure_style=FailureStyle.HTTP,
        description="requires a client certificate; rejects with HTTP 400 pages (like nginx)",
    ),
    LabServerConfig(
        name="optional",
        client_auth=ClientAuth.OPTIONAL,
        description="asks for a client certificate but serves clients without one",
    ),
    LabServerConfig(
        name="no-client-auth",
        client_auth=ClientAuth.NOT_REQUESTED,
        description="never asks for a client certificate",
    ),
    LabServerConfig(
        name="authz",
        allowed_subjects=("CN=good-rsa@lab.test",),
        description="accepts any valid certificate, but the application allows only good-rsa",
    ),
    LabServerConfig(
        name="stale-crl",
        stale_crl=True,
        description="its own CRL has expired, so it rejects every client (server-side fault)",
    ),
    LabServerConfig(
        name="no-ca-names",
        advertise=Advertise.NONE,
        description="requires a certificate but lists no acceptable CA names",
    ),
)


@dataclass
class LabFleet:
    """Several lab servers started together."""

    servers: dict[str, LabServer] = field(default_factory=dict)

    def stop(self) -> None:
        """Stop every server."""
        for server in self.servers.values():
            server.stop()


@contextmanager
def running_lab(
    pki: LabPKI, configs: tuple[LabServerConfig, ...] = LAB_SERVERS
) -> Iterator[LabFleet]:
    """Start ``configs`` against ``pki``; stop them all on exit."""
    fleet = LabFleet()
    try:
        for config in configs:
            fleet.servers[config.name] = LabServer(pki, config).start()
        yield fleet
    finally:
        fleet.stop()


def _choose_http11(_conn: SSL.Connection, offered: list[bytes]) -> Any:
    return b"http/1.1" if b"http/1.1" in offered else SSL.NO_OVERLAPPING_PROTOCOLS
