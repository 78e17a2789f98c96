"""LDAP: the StartTLS extended operation before TLS, an anonymous bind after it.

RFC 4511 4.14 (StartTLS, OID 1.3.6.1.4.1.1466.20037) and 4.2 (BindRequest).
Any BindResponse means the directory answered past TLS (an anonymous bind
does not test what the certificate maps to, so a non-zero result code is
reported, not judged). Hand-written BER for two fixed messages: an LDAP
library would want its own socket.
"""

from __future__ import annotations

from mtls_doctor.model import AppAnswer
from mtls_doctor.protocols.base import StartTLSRefusedError, Stream, read_until
from mtls_doctor.tls.target import Target

_STARTTLS_OID = b"1.3.6.1.4.1.1466.20037"
_RESULTS = {
    0: "success",
    1: "operationsError",
    2: "protocolError",
    7: "authMethodNotSupported",
    8: "strongerAuthRequired",
    13: "confidentialityRequired",
    48: "inappropriateAuthentication",
    49: "invalidCredentials",
    50: "insufficientAccessRights",
    53: "unwillingToPerform",
}


def _tlv(tag: int, value: bytes) -> bytes:
    if len(value) < 0x80:
        return bytes([tag, len(value)]) + value
    size = len(value).to_bytes((len(value).bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + value


def _message(message_id: int, op: bytes) -> bytes:
    return _tlv(0x30, _tlv(0x02, bytes([message_id])) + op)


STARTTLS_REQUEST = _message(1, _tlv(0x77, _tlv(0x80, _STARTTLS_OID)))
#: BindRequest: version 3, empty name, simple authentication with an empty password.
ANONYMOUS_BIND = _message(2, _tlv(0x60, _tlv(0x02, b"\x03") + _tlv(0x04, b"") + _tlv(0x80, b"")))
UNBIND = _message(3, b"\x42\x00")


def _complete(buf: bytes) -> bool:
    """One whole BER element has arrived."""
    if len(buf) < 2:
        return False
    size = buf[1]
    if size < 0x80:
        return len(buf) >= 2 + size
    count = size & 0x7F
    if len(buf) < 2 + count:
        return False
    return len(buf) >= 2 + count + int.from_bytes(buf[2 : 2 + count], "big")


def result_code(message: bytes) -> int | None:
    """The resultCode of an LDAPResult-shaped response (the first ENUMERATED in it)."""
    at = message.find(b"\x0a\x01", 2)
    return message[at + 2] if at >= 0 and at + 2 < len(message) else None


def before_tls(stream: Stream, target: Target) -> None:
    """The StartTLS extended request; the server must answer success."""
    stream.send(STARTTLS_REQUEST)
    reply = read_until(stream, _complete)
    code = result_code(reply) if reply[:1] == b"\x30" else None
    if code is None:
        from mtls_doctor.protocols.sniff import describe

        said = describe(reply, target, "LDAP") if reply else "the server closed the connection"
        raise StartTLSRefusedError(f"{target}: no LDAP answer to StartTLS: {said}")
    if code != 0:
        said = _RESULTS.get(code, str(code))
        raise StartTLSRefusedError(f"{target}: LDAP StartTLS refused ({said})")


def after_tls(stream: Stream, target: Target, common_name: str | None) -> AppAnswer:
    """An anonymous bind, and the directory's answer."""
    stream.send(ANONYMOUS_BIND)
    reply = read_until(stream, _complete)
    code = result_code(reply) if reply[:1] == b"\x30" else None
    if code is None:
        return AppAnswer(
            protocol="ldap",
            accepted=False,
            said="(connection closed)" if not reply else f"({reply[:8].hex(' ')})",
            meaning="the directory closed the connection after TLS without answering a bind",
        )
    stream.send(UNBIND)
    return AppAnswer(
        protocol="ldap",
        accepted=True,
        said=f"BindResponse {code} ({_RESULTS.get(code, 'result')})",
        meaning="the directory answered an anonymous bind after TLS",
    )
