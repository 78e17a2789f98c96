"""The CRLs and OCSP pieces the lab responder serves, built with ``cryptography``.

Kept apart from the HTTP server (``responder.py``), which only decides what
to answer: here are the CRL a CA would publish, the delegated OCSP responder
certificates (RFC 6960 4.2.2.2), and the broken forms that no builder makes
on purpose (a flipped signature bit, an OCSP response with zero
SingleResponses), made by hand on the DER.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mtls_doctor.lab.issuing import LabCA, crl_builder

__all__ = [
    "CRL_VALIDITY",
    "Revocation",
    "build_served_crl",
    "entry_reason",
    "flip_last_bit",
    "names_issuer",
    "ocsp_reason",
    "responder_certificate",
    "without_single_responses",
]

#: How long the CRLs the responder builds itself are valid (as ``build_crl``'s default).
CRL_VALIDITY = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Revocation:
    """When and why a CA revoked a serial number (its CRL and OCSP both say it)."""

    time: datetime
    reason: x509.ReasonFlags


def entry_reason(entry: x509.RevokedCertificate) -> x509.ReasonFlags:
    """The reason code of a CRL entry (``unspecified`` when it has none)."""
    try:
        value: x509.CRLReason = entry.extensions.get_extension_for_class(x509.CRLReason).value
    except x509.ExtensionNotFound:
        return x509.ReasonFlags.unspecified
    return value.reason


def ocsp_reason(reason: x509.ReasonFlags) -> x509.ReasonFlags | None:
    """The revocationReason to put in an OCSP answer."""
    # RFC 5280 5.3.1: "unspecified" is better left out than written.
    return None if reason is x509.ReasonFlags.unspecified else reason


def build_served_crl(
    ca: LabCA, revoked: dict[int, Revocation], this_update: datetime, idp_url: str | None
) -> bytes:
    """``ca``'s CRL revoking ``revoked`` as of ``this_update`` (DER); an IDP naming ``idp_url``."""
    builder = crl_builder(
        ca, this_update=this_update, next_update=this_update + CRL_VALIDITY, number=2
    )
    if idp_url is not None:
        builder = builder.add_extension(
            x509.IssuingDistributionPoint(
                full_name=[x509.UniformResourceIdentifier(idp_url)],
                relative_name=None,
                only_contains_user_certs=False,
                only_contains_ca_certs=False,
                only_some_reasons=None,
                indirect_crl=False,
                only_contains_attribute_certs=False,
            ),
            critical=True,
        )
    for serial, revocation in revoked.items():
        entry = x509.RevokedCertificateBuilder().serial_number(serial)
        entry = entry.revocation_date(revocation.time)
        if revocation.reason is not x509.ReasonFlags.unspecified:
            entry = entry.add_extension(x509.CRLReason(revocation.reason), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    crl = builder.sign(ca.key, hashes.SHA256())
    return crl.public_bytes(serialization.Encoding.DER)


def responder_certificate(
    issuer: LabCA, about: str, now: datetime, *, eku: bool
) -> tuple[x509.Certificate, Any]:
    """A delegated OCSP responder certificate issued by ``issuer`` (RFC 6960 4.2.2.2)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mtls-doctor lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Lab OCSP responder for {about}"),
        ]
    )
    usage = ExtendedKeyUsageOID.OCSP_SIGNING if eku else ExtendedKeyUsageOID.CLIENT_AUTH
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        # RFC 6960 4.2.2.2.1: nobody should ask about the responder's own status.
        .add_extension(x509.OCSPNoCheck(), critical=False)
        .sign(issuer.key, hashes.SHA256())
    )
    return cert, key


def names_issuer(request: ocsp.OCSPRequest, ca: x509.Certificate) -> bool:
    """Whether the request's CertID names ``ca`` as the issuer (RFC 6960 4.1.1)."""
    algorithm = request.hash_algorithm
    name_hash = hashes.Hash(algorithm)
    name_hash.update(ca.subject.public_bytes())
    key_hash = hashes.Hash(algorithm)
    key_hash.update(_public_key_bits(ca))
    return (
        name_hash.finalize() == request.issuer_name_hash
        and key_hash.finalize() == request.issuer_key_hash
    )


def _public_key_bits(cert: x509.Certificate) -> bytes:
    """The subjectPublicKey BIT STRING's value (what CertID's issuerKeyHash hashes)."""
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _algorithm, bits = _der_children(_der_content(spki))
    return _der_content(bits)[1:]  # skip the unused-bits byte


def flip_last_bit(der: bytes) -> bytes:
    """Corrupt the signature when it is the last thing in ``der`` (CRL, OCSP without certs)."""
    return der[:-1] + bytes([der[-1] ^ 0x01])


def without_single_responses(der: bytes, key: Any) -> bytes:
    """The same OCSP response with an empty ``responses`` list, signed again.

    ``OCSPResponseBuilder`` refuses to build one, but real responders send
    them, and a client that reads "no status" as "good" is broken.
    """
    status, wrapped = _der_children(_der_content(der))
    response_type, octets = _der_children(_der_content(_der_content(wrapped)))
    basic_parts = _der_children(_der_content(_der_content(octets)))
    tbs, algorithm, _signature, *rest = basic_parts
    fields = [b"\x30\x00" if part[0] == 0x30 else part for part in _der_children(_der_content(tbs))]
    new_tbs = _der(0x30, b"".join(fields))
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(new_tbs, padding.PKCS1v15(), hashes.SHA256())
    else:
        signature = key.sign(new_tbs, ec.ECDSA(hashes.SHA256()))
    basic = _der(0x30, new_tbs + algorithm + _der(0x03, b"\0" + signature) + b"".join(rest))
    response_bytes = _der(0x30, response_type + _der(0x04, basic))
    return _der(0x30, status + _der(0xA0, response_bytes))


def _der_header(data: bytes, offset: int) -> tuple[int, int]:
    """(start of the content, end) of the DER element at ``offset`` (definite lengths)."""
    length = data[offset + 1]
    start = offset + 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    return start, start + length


def _der_content(element: bytes) -> bytes:
    start, end = _der_header(element, 0)
    return element[start:end]


def _der_children(content: bytes) -> list[bytes]:
    out, offset = [], 0
    while offset < len(content):
        _start, end = _der_header(content, offset)
        out.append(content[offset:end])
        offset = end
    return out


def _der(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + content
