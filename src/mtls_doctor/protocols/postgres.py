"""PostgreSQL: SSLRequest before TLS, a StartupMessage after it, the first answer.

Protocol 3.0 (PostgreSQL docs, "Frontend/Backend Protocol", 55.2.10 and
55.7): the client sends SSLRequest (code 80877103), the server answers one
byte ``S`` (go ahead with TLS) or ``N`` (no TLS here). After the handshake
the StartupMessage names the user and database; the first answer is an
authentication request (``R``: the TLS layer and pg_hba.conf let us through)
or an ErrorResponse (``E``), whose message says what the server refused.

With ``clientcert=verify-full`` or ``cert`` authentication the server
compares the certificate's CN with the user name asked for, so the user
matters: the default is the certificate's CN (what such a server expects).
Hand-written: a driver (psycopg) would hide exactly the messages we read.
"""

from __future__ import annotations

import struct

from mtls_doctor.model import AppAnswer
from mtls_doctor.protocols.base import StartTLSRefusedError, Stream, read_exact
from mtls_doctor.tls.target import Target

SSL_REQUEST = struct.pack(">II", 8, 80877103)
_TERMINATE = b"X\x00\x00\x00\x04"
_AUTH = {
    0: "authentication ok",
    2: "Kerberos",
    3: "a clear-text password",
    5: "an MD5 password",
    7: "GSSAPI",
    9: "SSPI",
    10: "SASL (SCRAM) password",
}


def before_tls(stream: Stream, target: Target) -> None:
    """SSLRequest; the server must answer ``S``."""
    stream.send(SSL_REQUEST)
    reply = read_exact(stream, 1)
    if reply == b"S":
        return
    if reply == b"N":
        raise StartTLSRefusedError(
            f"{target}: PostgreSQL answered the SSLRequest with N: TLS is off on this server "
            "(ssl = off in postgresql.conf), so no client certificate can be checked"
        )
    if reply[:1] == b"E":
        raise StartTLSRefusedError(f"{target}: the server refused the SSLRequest with an error")
    if reply[:1] in (b"\x16", b"\x15"):
        raise StartTLSRefusedError(
            f"{target}: the server answered the SSLRequest with TLS: it is not PostgreSQL "
            "(try tls:// or host:port)"
        )
    raise StartTLSRefusedError(
        f"{target}: no PostgreSQL answer to the SSLRequest "
        + (f"({reply[:8].hex(' ')})" if reply else "(connection closed)")
    )


def startup_message(user: str, database: str | None) -> bytes:
    """StartupMessage, protocol 3.0."""
    params = [("user", user), ("application_name", "mtls-doctor")]
    if database:
        params.append(("database", database))
    body = struct.pack(">I", 196608)
    body += b"".join(k.encode() + b"\x00" + v.encode() + b"\x00" for k, v in params) + b"\x00"
    return struct.pack(">I", len(body) + 4) + body


def after_tls(stream: Stream, target: Target, common_name: str | None) -> AppAnswer:
    """StartupMessage, and what the first answer says."""
    user = target.user or common_name or "postgres"
    stream.send(startup_message(user, target.database))
    head = read_exact(stream, 5)
    if len(head) < 5:
        return interpret(head[:1], b"", user, common_name)
    size = struct.unpack(">I", head[1:5])[0]
    body = read_exact(stream, 5 + min(max(size - 4, 0), 8192), head)[5:]
    if head[:1] == b"R":
        stream.send(_TERMINATE)
    return interpret(head[:1], body, user, common_name)


def error_fields(body: bytes) -> dict[str, str]:
    """An ErrorResponse's fields (S severity, C SQLSTATE, M message, ...)."""
    fields: dict[str, str] = {}
    for part in body.split(b"\x00"):
        if part:
            fields.setdefault(chr(part[0]), part[1:].decode("utf-8", "replace"))
    return fields


def interpret(kind: bytes, body: bytes, user: str, common_name: str | None) -> AppAnswer:
    """The meaning of the server's first answer to the StartupMessage."""
    if kind == b"R" and len(body) >= 4:
        code = struct.unpack(">I", body[:4])[0]
        wants = _AUTH.get(code, f"authentication method {code}")
        said = f"AuthenticationRequest ({wants})"
        meaning = (
            f"PostgreSQL let user {user!r} in"
            if code == 0
            else f"PostgreSQL accepted the TLS client and asks user {user!r} for {wants}; that is "
            "not a certificate matter"
        )
        return AppAnswer(protocol="postgres", accepted=True, said=said, meaning=meaning)
    if kind != b"E":
        return AppAnswer(
            protocol="postgres",
            accepted=False,
            said="(connection closed)" if not kind else f"message {kind!r}",
            meaning="PostgreSQL closed the connection without answering the StartupMessage",
        )
    fields = error_fields(body)
    message = fields.get("M", "")
    said = f"{fields.get('S', 'ERROR')}: {message}"[:300]
    lowered = message.lower()
    if "requires a valid client certificate" in lowered:
        return AppAnswer(
            protocol="postgres",
            accepted=False,
            said=said,
            meaning="pg_hba.conf requires a client certificate (clientcert=verify-ca/verify-full "
            "or cert authentication) and none was presented",
            cause="no_certificate_sent",
        )
    if "certificate authentication failed for user" in lowered or (
        "clientcert" in lowered and "does not match" in lowered
    ):
        cn = f"CN={common_name!r}" if common_name else "its CN"
        return AppAnswer(
            protocol="postgres",
            accepted=False,
            said=said,
            meaning=f"the certificate passed TLS, but its name does not match user {user!r}",
            cause="rejected_by_application",
            fix=f"PostgreSQL's cert authentication (and clientcert=verify-full) compares the "
            f"certificate's common name ({cn}) with the user name ({user!r}): connect as that "
            "user (postgres://CN@host/db), or map the name in pg_ident.conf (map=... on the "
            "pg_hba.conf line).",
        )
    if "pg_hba.conf" in lowered or "does not exist" in lowered or fields.get("C") == "28000":
        return AppAnswer(
            protocol="postgres",
            accepted=False,
            said=said,
            meaning="the certificate passed TLS; PostgreSQL's access rules (pg_hba.conf, roles) "
            "refused this user or database",
            cause="rejected_by_application",
            fix="Ask the database owner for a pg_hba.conf line (hostssl) for this user, database "
            "and address, or connect as another user (postgres://USER@host/db).",
        )
    return AppAnswer(
        protocol="postgres",
        accepted=False,
        said=said,
        meaning="PostgreSQL refused the connection after TLS",
        cause="rejected_by_application",
    )
