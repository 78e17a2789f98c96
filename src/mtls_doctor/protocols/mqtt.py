"""MQTT 3.1.1: CONNECT after the handshake, read the CONNACK (OASIS MQTT 3.1.1, 3.1-3.2).

Return code 0 is served; 4 (bad user name or password) means TLS accepted
the client and the broker wants credentials; 5 (not authorized) is an
authorization refusal (an ACL or ``use_identity_as_username`` rule).
Hand-written: two fixed-format packets do not justify an MQTT client library.
"""

from __future__ import annotations

import os

from mtls_doctor.model import AppAnswer
from mtls_doctor.protocols.base import Stream, read_exact
from mtls_doctor.tls.target import Target

RETURN_CODES = {
    0: "connection accepted",
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}
_DISCONNECT = b"\xe0\x00"


def connect_packet(client_id: str) -> bytes:
    """A CONNECT packet: protocol MQTT level 4, clean session, keep-alive 30 s."""
    ident = client_id.encode()
    variable = b"\x00\x04MQTT\x04\x02\x00\x1e"
    payload = len(ident).to_bytes(2, "big") + ident
    remaining = len(variable) + len(payload)  # < 128: one length byte
    return bytes([0x10, remaining]) + variable + payload


def after_tls(stream: Stream, target: Target, user: str | None) -> AppAnswer:
    """CONNECT, and what the CONNACK says."""
    stream.send(connect_packet(f"mtls-doctor-{os.urandom(4).hex()}"))
    reply = read_exact(stream, 4)
    answer = interpret(reply)
    if answer.accepted:
        stream.send(_DISCONNECT)
    return answer


def interpret(reply: bytes) -> AppAnswer:
    """The meaning of the broker's answer to CONNECT."""
    if len(reply) < 4 or reply[0] != 0x20:
        said = f"({len(reply)} bytes: {reply[:8].hex(' ')})" if reply else "(connection closed)"
        return AppAnswer(
            protocol="mqtt",
            accepted=False,
            said=said,
            meaning="the broker closed the connection instead of answering CONNECT with a CONNACK",
        )
    code = reply[3]
    said = f"CONNACK {code}: {RETURN_CODES.get(code, 'unknown return code')}"
    if code == 0:
        return AppAnswer(
            protocol="mqtt", accepted=True, said=said, meaning="the broker accepted the client"
        )
    if code == 5:
        return AppAnswer(
            protocol="mqtt",
            accepted=False,
            said=said,
            meaning="the broker refused this client by an authorization rule (ACL, "
            "allow_anonymous, or the certificate's name used as user name)",
            cause="rejected_by_application",
        )
    return AppAnswer(
        protocol="mqtt",
        accepted=True,
        said=said,
        meaning="the broker accepted the TLS client and wants a user name and password"
        if code == 4
        else "the broker accepted the TLS client and answered at the MQTT level",
    )
