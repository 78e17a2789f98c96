"""Watch the handshake messages and alerts as OpenSSL sees them.

Why hand-written: neither pyOpenSSL nor the stdlib ``ssl`` module exposes the
CertificateRequest's signature algorithms and certificate types, whether our
Certificate message was empty, or the alert numbers. OpenSSL's message
callback (``SSL_CTX_set_msg_callback``) sees all of it, in TLS 1.2 and in
TLS 1.3 (where the messages are encrypted on the wire). pyOpenSSL ships the
binding but no public API, so the one private touch point (``Context._context``
and ``OpenSSL._util``) lives in :func:`install` and is guarded by a test that
fails loudly if a pyOpenSSL upgrade breaks it.

The parsers below follow RFC 5246 7.4.4 (TLS 1.2 CertificateRequest) and
RFC 8446 4.3.2 (TLS 1.3 CertificateRequest with its extensions).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

_RECORD_ALERT = 21
_RECORD_HANDSHAKE = 22
_HS_CERTIFICATE = 11
_HS_CERTIFICATE_REQUEST = 13
_HS_SERVER_HELLO = 2
_EXT_SIGNATURE_ALGORITHMS = 13
_EXT_CERTIFICATE_AUTHORITIES = 47
_TLS13 = 0x0304
#: A CertificateRequest is small; anything above this is kept only in part.
_MAX_KEPT = 1 << 20

#: IANA TLS SignatureScheme names (RFC 8446 4.2.3, RFC 8422, RFC 5246 7.4.1.4.1).
SIGNATURE_SCHEMES: dict[int, str] = {
    0x0401: "rsa_pkcs1_sha256",
    0x0501: "rsa_pkcs1_sha384",
    0x0601: "rsa_pkcs1_sha512",
    0x0403: "ecdsa_secp256r1_sha256",
    0x0503: "ecdsa_secp384r1_sha384",
    0x0603: "ecdsa_secp521r1_sha512",
    0x0804: "rsa_pss_rsae_sha256",
    0x0805: "rsa_pss_rsae_sha384",
    0x0806: "rsa_pss_rsae_sha512",
    0x0807: "ed25519",
    0x0808: "ed448",
    0x0809: "rsa_pss_pss_sha256",
    0x080A: "rsa_pss_pss_sha384",
    0x080B: "rsa_pss_pss_sha512",
    0x0201: "rsa_pkcs1_sha1",
    0x0203: "ecdsa_sha1",
    0x0202: "dsa_sha1",
    0x0402: "dsa_sha256",
    0x0303: "ecdsa_sha224",
    0x0301: "rsa_pkcs1_sha224",
    0x081A: "ecdsa_brainpoolP256r1tls13_sha256",
    0x081B: "ecdsa_brainpoolP384r1tls13_sha384",
    0x081C: "ecdsa_brainpoolP512r1tls13_sha512",
    0x0904: "mldsa44",
    0x0905: "mldsa65",
    0x0906: "mldsa87",
}

#: TLS 1.2 ClientCertificateType (RFC 5246 7.4.4, RFC 8422 5.5).
CERTIFICATE_TYPES: dict[int, str] = {
    1: "rsa_sign",
    2: "dss_sign",
    3: "rsa_fixed_dh",
    4: "dss_fixed_dh",
    64: "ecdsa_sign",
    65: "rsa_fixed_ecdh",
    66: "ecdsa_fixed_ecdh",
}


def scheme_name(code: int) -> str:
    """The IANA name of a SignatureScheme, or its hex code."""
    return SIGNATURE_SCHEMES.get(code, f"0x{code:04x}")


@dataclass(frozen=True, slots=True)
class CertificateRequestInfo:
    """What a CertificateRequest asks for (the CA names come from pyOpenSSL)."""

    signature_algorithms: tuple[str, ...]
    certificate_types: tuple[str, ...]
    #: Number of distinguished names it carried.
    ca_name_count: int


class _Reader:
    """Length-prefixed reads over a bytes buffer; raises ValueError when short."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, count: int) -> bytes:
        if self.pos + count > len(self.data):
            raise ValueError("truncated")
        chunk = self.data[self.pos : self.pos + count]
        self.pos += count
        return chunk

    def vector(self, length_bytes: int) -> bytes:
        size = int.from_bytes(self.take(length_bytes), "big")
        return self.take(size)

    @property
    def done(self) -> bool:
        return self.pos >= len(self.data)


def _u16s(data: bytes) -> list[int]:
    return [value for (value,) in struct.iter_unpack(">H", data[: len(data) // 2 * 2])]


def _count_names(data: bytes) -> int:
    reader = _Reader(data)
    count = 0
    while not reader.done:
        reader.vector(2)
        count += 1
    return count


def parse_certificate_request(body: bytes, tls13: bool) -> CertificateRequestInfo:
    """Parse a CertificateRequest handshake body (without the 4-byte header)."""
    reader = _Reader(body)
    if not tls13:
        types = tuple(CERTIFICATE_TYPES.get(t, f"type_{t}") for t in reader.vector(1))
        schemes = tuple(scheme_name(c) for c in _u16s(reader.vector(2)))
        return CertificateRequestInfo(schemes, types, _count_names(reader.vector(2)))
    reader.vector(1)  # certificate_request_context
    extensions = _Reader(reader.vector(2))
    sigalgs: tuple[str, ...] = ()
    names = 0
    while not extensions.done:
        kind = int.from_bytes(extensions.take(2), "big")
        payload = extensions.vector(2)
        if kind == _EXT_SIGNATURE_ALGORITHMS:
            sigalgs = tuple(scheme_name(c) for c in _u16s(_Reader(payload).vector(2)))
        elif kind == _EXT_CERTIFICATE_AUTHORITIES:
            names = _count_names(_Reader(payload).vector(2))
    return CertificateRequestInfo(sigalgs, (), names)


@dataclass
class WireObserver:
    """Records what crossed the wire during one connection."""

    #: Handshake message types received, in order.
    received: list[int] = field(default_factory=list)
    #: Alert descriptions received / sent (level is not kept: all we see are fatal).
    alerts_received: list[int] = field(default_factory=list)
    alerts_sent: list[int] = field(default_factory=list)
    certificate_request: bytes | None = None
    #: The protocol version of the record that carried the CertificateRequest.
    request_version: int = 0
    #: Our Certificate message carried at least one certificate.
    certificate_sent: bool = False
    _callback: Any = None

    def record(self, write_p: int, version: int, content_type: int, data: bytes) -> None:
        """One message callback, already copied out of C memory."""
        if content_type == _RECORD_ALERT and len(data) >= 2:
            (self.alerts_sent if write_p else self.alerts_received).append(data[1])
        elif content_type == _RECORD_HANDSHAKE and len(data) >= 4:
            kind = data[0]
            if write_p:
                if kind == _HS_CERTIFICATE:
                    self.certificate_sent = _certificate_message_has_certs(data[4:], version)
                return
            self.received.append(kind)
            if kind == _HS_CERTIFICATE_REQUEST:
                self.certificate_request = data[4:_MAX_KEPT]
                self.request_version = version

    @property
    def server_hello_seen(self) -> bool:
        """The server answered our ClientHello with a ServerHello."""
        return _HS_SERVER_HELLO in self.received

    def request_info(self) -> CertificateRequestInfo | None:
        """The parsed CertificateRequest, if one was received and parses."""
        if self.certificate_request is None:
            return None
        try:
            return parse_certificate_request(
                self.certificate_request, tls13=self.request_version >= _TLS13
            )
        except ValueError:
            return None


def _certificate_message_has_certs(body: bytes, version: int) -> bool:
    try:
        reader = _Reader(body)
        if version >= _TLS13:
            reader.vector(1)  # certificate_request_context
        return len(reader.vector(3)) > 0
    except ValueError:
        return False


def install(context: Any, observer: WireObserver) -> None:
    """Attach ``observer`` to a pyOpenSSL ``Context`` through OpenSSL's message callback."""
    from OpenSSL._util import ffi, lib

    @ffi.callback("void(int, int, int, void *, size_t, SSL *, void *)")  # type: ignore[untyped-decorator]
    def callback(
        write_p: int, version: int, content_type: int, buf: Any, length: int, ssl: Any, arg: Any
    ) -> None:
        try:
            data = bytes(ffi.buffer(buf, min(length, _MAX_KEPT)))
            observer.record(write_p, version, content_type, data)
        except Exception:  # never raise into OpenSSL's C stack
            pass

    observer._callback = callback  # keep the C callback alive as long as the observer
    lib.SSL_CTX_set_msg_callback(context._context, callback)
