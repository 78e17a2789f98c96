"""Adapter: one TLS connection to a target, with or without a client identity.

The handshake runs over memory BIOs and a plain socket that we drive
ourselves: every wait is a ``select`` against one deadline (``--timeout``
bounds the whole connection), and we see the server's first bytes, so a port
that speaks plain HTTP or garbage is named as such instead of surfacing as an
OpenSSL error string.

A rejection is a fact, not an exception: the alert number, the HTTP status
and the first line of the body end up in :class:`HandshakeFacts`. Only
failures that prevent any diagnosis raise (``ConnectError``,
``ConnectTimeout``, ``NotTLSError``, ``HandshakeError``).

TLS 1.3 detail: the client finishes its handshake before the server has
judged the client certificate, so the rejection arrives after. Sending the
request right away can lose that alert (the server closes with our request
unread and the kernel resets the connection), so we first wait briefly for
the server's first post-handshake record (a session ticket or the alert),
then send the request.
"""

from __future__ import annotations

import ipaddress
import select
import socket
import time
from dataclasses import dataclass
from typing import Any

from OpenSSL import SSL

from mtls_doctor.errors import (
    ConnectTimeout,
    HandshakeError,
    NotTLSError,
)
from mtls_doctor.model import AppAnswer, CertFacts, HandshakeFacts, HttpAnswer
from mtls_doctor.protocols.base import ConnectionEnded
from mtls_doctor.tls.alerts import ALERT_NAMES, TLSAlert, alert
from mtls_doctor.tls.keys import use_private_key
from mtls_doctor.tls.target import Target
from mtls_doctor.tls.tcp import Deadline, PlainStream, connect, name_a_silent_service
from mtls_doctor.tls.wire import WireObserver, install
from mtls_doctor.tlsversion import TLSVersion
from mtls_doctor.x509facts import cert_facts

#: How many CA names we report; the rest is counted, not listed.
MAX_CA_NAMES = 256
#: TLS 1.3: how long to wait for the server's verdict before sending the request.
TLS13_VERDICT_WAIT = 0.5
#: TLS only (no application data): how long to wait for a TLS 1.3 server's alert.
TLS_GRACE = 1.0
#: TLS only: after a session ticket, how long a server that judges the certificate
#: after the handshake (nginx) may take to close the connection.
TICKET_SETTLE = 0.3
_NEW_SESSION_TICKET = 4
#: Alerts that are no refusal (RFC 8446 6.1): close_notify, and user_canceled, which
#: Java's JSSE sends before close_notify when it closes a connection it served.
NOT_REFUSALS = frozenset({TLSAlert.CLOSE_NOTIFY, TLSAlert.USER_CANCELED})
#: How much of the server's first bytes is kept to name a service that is not TLS.
_FIRST_BYTES = 512
_TLS_RECORD_TYPES = {20, 21, 22, 23}
_VERSIONS = {TLSVersion.TLS1_2: SSL.TLS1_2_VERSION, TLSVersion.TLS1_3: SSL.TLS1_3_VERSION}


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientIdentity:
    """What the handshake presents: a leaf, its chain, its key (never logged)."""

    certificate: Any  # cryptography x509.Certificate
    chain: tuple[Any, ...] = ()
    private_key: Any = None


class _Channel:
    """A pyOpenSSL connection over memory BIOs, pumped through a non-blocking socket."""

    def __init__(
        self, sock: socket.socket, conn: SSL.Connection, deadline: Deadline, target: Target
    ) -> None:
        self.target = target
        self.sock = sock
        self.conn = conn
        self.deadline = deadline
        self.first_bytes = b""
        self.eof = False
        self.reset = False

    def flush(self) -> None:
        while True:
            try:
                data = self.conn.bio_read(65536)
            except SSL.WantReadError:
                return
            if not data:
                return
            view = memoryview(data)
            while view:
                if not select.select([], [self.sock], [], self.deadline.left())[1]:
                    raise ConnectTimeout("the server stopped reading (timeout while sending)")
                try:
                    sent = self.sock.send(view)
                except (BrokenPipeError, ConnectionResetError):
                    self.reset = True
                    return
                view = view[sent:]

    def fill(self, wait: float | None = None) -> bool:
        """Read what the socket has into the BIO; False when nothing came in ``wait``."""
        limit = self.deadline.left() if wait is None else min(wait, self.deadline.left())
        if not select.select([self.sock], [], [], limit)[0]:
            if wait is not None and self.deadline.left() > 0:
                return False
            raise ConnectTimeout(f"the server did not answer within {self.deadline.seconds:g} s")
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
            self.reset = True
        if len(self.first_bytes) < _FIRST_BYTES:
            self.first_bytes += data[: _FIRST_BYTES - len(self.first_bytes)]
        if not data:
            self.eof = True
            self.conn.bio_shutdown()
            return True
        self.conn.bio_write(data)
        return True


def _context(
    identity: ClientIdentity | None, tls_version: TLSVersion | None, observer: WireObserver
) -> SSL.Context:
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    # We diagnose the client certificate, not the server's: never fail on its chain.
    ctx.set_verify(SSL.VERIFY_NONE)
    # Security level 0: present even a weak client key, so the *server* says what it
    # thinks of it (our rules flag the weakness separately).
    ctx.set_cipher_list(b"DEFAULT:@SECLEVEL=0")
    if tls_version is None:
        ctx.set_min_proto_version(SSL.TLS1_VERSION)
    else:
        ctx.set_min_proto_version(_VERSIONS[tls_version])
        ctx.set_max_proto_version(_VERSIONS[tls_version])
    if identity is not None:
        ctx.use_certificate(identity.certificate)
        for extra in identity.chain:
            ctx.add_extra_chain_cert(extra)
        if identity.private_key is not None:
            use_private_key(ctx, identity.certificate, identity.private_key)
    install(ctx, observer)
    return ctx


def _not_tls_error(channel: _Channel) -> NotTLSError:
    from mtls_doctor.protocols.sniff import describe

    # Server-first protocols greet in lines: give the greeting a moment to arrive whole.
    if b"\n" not in channel.first_bytes and not channel.eof:
        channel.fill(wait=min(0.2, channel.deadline.left()))
    return NotTLSError(describe(channel.first_bytes, channel.target))


def _not_tls(first: bytes) -> bool:
    return bool(first) and (first[0] not in _TLS_RECORD_TYPES or first[1:2] != b"\x03")


def _server_chain(conn: SSL.Connection) -> tuple[CertFacts, ...]:
    try:
        chain = conn.get_peer_cert_chain(as_cryptography=True) or []
    except SSL.Error:
        return ()
    facts = []
    for cert in chain[:10]:
        try:
            facts.append(cert_facts(cert))
        except ValueError:  # a server certificate cryptography cannot parse
            continue
    return tuple(facts)


def handshake(
    target: Target,
    *,
    identity: ClientIdentity | None = None,
    timeout: float = 10.0,
    tls_version: TLSVersion | None = None,
    send_request: bool = True,
    timeout_shown: float | None = None,
    log_in_as_certificate: bool = True,
) -> HandshakeFacts:
    """Connect, handshake (presenting ``identity`` if given), send one request, observe.

    Raises only when no diagnosis is possible: no TCP connection, a timeout,
    a peer that is not TLS, or a handshake refused before client auth.
    ``timeout_shown``: the --timeout to quote when ``timeout`` is what is left of it.
    ``log_in_as_certificate``: a protocol that logs in may use the certificate's CN
    as the user name when the target names none.
    """
    deadline = Deadline(timeout, timeout_shown)
    sock = connect(target, deadline)
    observer = WireObserver()
    try:
        if target.spec.starttls:
            from mtls_doctor.protocols import session

            session.before_tls(PlainStream(sock, deadline), target)
        ctx = _context(identity, tls_version, observer)
        if target.protocol == "https" or target.protocol_source == "default":
            # Offer HTTP by ALPN: the server's choice says whether it speaks HTTP (and which).
            ctx.set_alpn_protos([b"h2", b"http/1.1"])
        conn = SSL.Connection(ctx, None)
        sni = target.sni
        if sni and not _is_ip(sni):
            conn.set_tlsext_host_name(sni.encode("idna"))
        conn.set_connect_state()
        channel = _Channel(sock, conn, deadline, target)
        failure = _run_handshake(channel)
        if failure is not None and not channel.first_bytes and not target.spec.starttls:
            name_a_silent_service(target, deadline)
        completed = failure is None
        http_answer: HttpAnswer | None = None
        app: AppAnswer | None = None
        if completed and send_request:
            named = identity if log_in_as_certificate else None
            http_answer, app, failure = _converse(channel, target, observer, named)
        return _facts(conn, observer, identity, channel, completed, (http_answer, app), failure)
    finally:
        sock.close()


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _run_handshake(channel: _Channel) -> str | None:
    """Drive the handshake; None on success, else a short reason."""
    conn = channel.conn
    while True:
        try:
            conn.do_handshake()
            channel.flush()
            return None
        except SSL.WantReadError:
            channel.flush()
            if channel.eof:
                return "the server closed the connection during the handshake"
            channel.fill()
            if _not_tls(channel.first_bytes):
                raise _not_tls_error(channel) from None
        except SSL.Error as exc:
            channel.flush()
            if _not_tls(channel.first_bytes):
                raise _not_tls_error(channel) from None
            return _ssl_reason(exc)


def _ssl_reason(exc: SSL.Error) -> str:
    if isinstance(exc, SSL.SysCallError):
        return "the connection was closed or reset"
    try:
        return "; ".join(str(item[2]) for item in exc.args[0])
    except (IndexError, TypeError):
        return str(exc)


def _converse(
    channel: _Channel,
    target: Target,
    observer: WireObserver,
    identity: ClientIdentity | None,
) -> tuple[HttpAnswer | None, AppAnswer | None, str | None]:
    """After the handshake: catch a TLS 1.3 verdict, then speak the target's protocol."""
    from mtls_doctor.protocols import session

    conn = channel.conn
    tls13 = TLSVersion.named(conn.get_protocol_version_name()) is TLSVersion.TLS1_3
    alpn = (conn.get_alpn_proto_negotiated() or b"").decode("ascii", "replace")
    plan = session.plan(target, alpn)
    failure = _await_verdict(channel, observer, tls13, tls_only=plan == "tls")
    if failure is not None:
        return None, None, failure
    if plan == "tls":
        if channel.eof or channel.reset:
            return None, None, None
        return None, session.tls_only(target, tls13, TLS_GRACE, TICKET_SETTLE), None
    stream = _TLSStream(channel)
    try:
        return session.converse(plan, stream, target, _common_name(identity))
    except ConnectionEnded as exc:
        return None, None, str(exc)


def _common_name(identity: ClientIdentity | None) -> str | None:
    if identity is None:
        return None
    from cryptography.x509.oid import NameOID

    names = identity.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


def _await_verdict(
    channel: _Channel, observer: WireObserver, tls13: bool, *, tls_only: bool
) -> str | None:
    """TLS 1.3: wait for the server's first post-handshake record (a ticket, or its alert).

    With no application data to come (TLS only), keep waiting up to TLS_GRACE
    until data shows that the server is content. A session ticket alone does
    not: OpenSSL sends it before the application looks at the certificate
    (nginx verifies after the handshake and then closes), so after a ticket
    the wait goes on a little (TICKET_SETTLE) for a close or an alert; TLS 1.2
    gets that moment too.
    """
    if tls13:
        grace = TLS_GRACE if tls_only else TLS13_VERDICT_WAIT
    elif tls_only:
        # TLS 1.2 judged the certificate in the handshake, unless the application does
        # it right after (nginx's stream module): a moment for that close.
        grace = TICKET_SETTLE
    else:
        return None
    end = time.monotonic() + min(grace, channel.deadline.left())
    while True:
        # What came with the handshake's last flight first: a close_notify may be in the
        # same read as the server's Finished (nginx then waits 3 s before closing).
        failure, has_data = _peek(channel)
        if failure is not None:
            return failure
        if has_data:
            return None
        if _NEW_SESSION_TICKET in observer.received:
            if not tls_only:
                return None
            end = min(end, time.monotonic() + TICKET_SETTLE)
        left = end - time.monotonic()
        if left <= 0 or channel.eof or not channel.fill(wait=left):
            return None


def _peek(channel: _Channel) -> tuple[str | None, bool]:
    """Process records already received without consuming data: (rejection, data waiting)."""
    try:
        data = channel.conn.recv(1, socket.MSG_PEEK)
    except SSL.WantReadError:
        return None, False
    except SSL.ZeroReturnError:
        return "the server closed the connection", False
    except SSL.Error as exc:
        return _ssl_reason(exc), False
    return None, bool(data)


class _TLSStream:
    """The application's view of the TLS connection (see protocols.base.Stream)."""

    def __init__(self, channel: _Channel) -> None:
        self.channel = channel

    def send(self, data: bytes) -> None:
        try:
            self.channel.conn.sendall(data)
        except SSL.Error as exc:
            raise ConnectionEnded(_ssl_reason(exc)) from None
        self.channel.flush()

    def recv(self) -> bytes:
        channel = self.channel
        while True:
            try:
                return channel.conn.recv(65536)
            except SSL.WantReadError:
                channel.flush()
                if channel.eof:
                    return b""
                channel.fill()
            except SSL.ZeroReturnError:
                return b""
            except SSL.Error as exc:
                raise ConnectionEnded(_ssl_reason(exc)) from None


def _facts(
    conn: SSL.Connection,
    observer: WireObserver,
    identity: ClientIdentity | None,
    channel: _Channel,
    completed: bool,
    answers: tuple[HttpAnswer | None, AppAnswer | None],
    failure: str | None,
) -> HandshakeFacts:
    http_answer, app = answers
    names = [n.rfc4514_string() for n in conn.get_client_ca_list(as_cryptography=True)]
    info = observer.request_info()
    received = next((a for a in observer.alerts_received if a not in NOT_REFUSALS), None)
    sent = next((a for a in observer.alerts_sent if a != 0), None)
    version = conn.get_protocol_version_name() if observer.server_hello_seen else None
    if not observer.server_hello_seen and received is not None:
        raise HandshakeError(
            f"the server refused the connection before client authentication: TLS alert "
            f"{received} {ALERT_NAMES.get(received, '')} (no common TLS version or cipher?)"
        )
    if not observer.server_hello_seen and failure is not None:
        raise HandshakeError(f"the TLS handshake failed before client authentication: {failure}")
    if failure is not None and not completed and observer.certificate_request is None:
        # It failed after ServerHello but before any CertificateRequest: whatever this is,
        # it says nothing about client authentication (and is not "not requested").
        said = f"TLS alert {received} {ALERT_NAMES.get(received, '')}" if received else failure
        raise HandshakeError(
            f"the server broke off the handshake before asking for a client certificate ({said})"
        )
    return HandshakeFacts(
        certificate_sent=observer.certificate_sent,
        certificate_requested=observer.certificate_request is not None,
        handshake_completed=completed,
        tls_version=TLSVersion.named(version),
        cipher=conn.get_cipher_name() if completed else None,
        acceptable_ca_names=tuple(names[:MAX_CA_NAMES]),
        ca_names_dropped=max(0, len(names) - MAX_CA_NAMES),
        signature_algorithms=info.signature_algorithms if info else (),
        certificate_types=info.certificate_types if info else (),
        server_chain=_server_chain(conn),
        alert_received=alert(received) if received is not None else None,
        alert_sent=alert(sent) if sent is not None else None,
        http=http_answer,
        app=app,
        alpn=(conn.get_alpn_proto_negotiated() or b"").decode("ascii", "replace") or None,
        closed_without_answer=(
            http_answer is None
            and app is None
            and received is None
            and (channel.eof or channel.reset)
        ),
        error=failure,
    )
