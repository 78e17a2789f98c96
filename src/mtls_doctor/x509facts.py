"""Adapter: a ``cryptography`` certificate → :class:`CertFacts`.

The only place that reads X.509 extensions; everything downstream works on
the frozen facts.
"""

from __future__ import annotations

import hashlib
from datetime import UTC
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from mtls_doctor.model import CertFacts

_EKU_NAMES = {
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
    ExtendedKeyUsageOID.SMARTCARD_LOGON: "smartcardLogon",
}
_KEY_USAGE_FLAGS = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)


def _ext(cert: x509.Certificate, kind: type[Any]) -> Any:
    return extension(cert, kind)


def extension(cert: x509.Certificate, kind: type[Any]) -> Any:
    """The value of ``cert``'s extension of type ``kind``, or None when absent or unreadable.

    Unreadable: malformed, or the certificate repeats an extension (RFC 5280
    4.2 forbids it; cryptography then refuses all of them). :func:`unreadable`
    says which.
    """
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except (x509.ExtensionNotFound, x509.DuplicateExtension, ValueError, UnsupportedAlgorithm):
        return None


def key_ids_disagree(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """``cert`` names another key as its issuer's than ``issuer`` declares (RFC 5280 4.2.1.1).

    A cheap test before a signature check: among many CAs of the same name
    (a rotated CA, a hostile bundle) it rules most out without verifying.
    """
    aki = extension(cert, x509.AuthorityKeyIdentifier)
    ski = extension(issuer, x509.SubjectKeyIdentifier)
    wanted = aki.key_identifier if aki is not None else None
    return wanted is not None and ski is not None and wanted != ski.digest


def unreadable(cert: x509.Certificate) -> tuple[str, ...]:
    """What cannot be read from ``cert``, in words (empty when everything parses)."""
    problems: list[str] = []
    try:
        _ = cert.extensions
    except x509.DuplicateExtension as exc:
        problems.append(f"the extension {exc.oid.dotted_string} appears twice (RFC 5280 4.2)")
    except (ValueError, UnsupportedAlgorithm):
        problems.append("an extension does not parse")
    try:
        cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        oid = getattr(cert, "public_key_algorithm_oid", None)
        named = f" ({oid.dotted_string})" if oid is not None else ""
        problems.append(f"its public key algorithm{named} is unknown or the key does not parse")
    try:
        _ = cert.signature_hash_algorithm
    except (ValueError, UnsupportedAlgorithm):
        problems.append(
            f"its signature algorithm ({cert.signature_algorithm_oid.dotted_string}) is unknown"
        )
    return tuple(problems)


_RSA_PSS = x509.ObjectIdentifier("1.2.840.113549.1.1.10")


def key_description(public_key: Any) -> tuple[str, int | None, str | None]:
    """(type, bits, curve) of a public key."""
    if isinstance(public_key, rsa.RSAPublicKey):
        return "RSA", public_key.key_size, None
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return "EC", public_key.curve.key_size, public_key.curve.name
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256, None
    if isinstance(public_key, ed448.Ed448PublicKey):
        return "Ed448", 456, None
    if isinstance(public_key, dsa.DSAPublicKey):
        return "DSA", public_key.key_size, None
    return "unknown", None, None


def spki_sha256(public_key: Any) -> str:
    """SHA-256 of a public key's DER SubjectPublicKeyInfo."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def is_issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """``issuer``'s name and key signed ``cert``."""
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        # ValueError: names differ; TypeError/UnsupportedAlgorithm: a key type
        # that cannot sign certificates; InvalidSignature: another key.
        return False
    return True


def _general_names(names: Any) -> tuple[str, ...]:
    out = []
    for name in names:
        if isinstance(name, x509.DNSName):
            out.append(f"DNS:{name.value}")
        elif isinstance(name, x509.RFC822Name):
            out.append(f"email:{name.value}")
        elif isinstance(name, x509.IPAddress):
            out.append(f"IP:{name.value}")
        elif isinstance(name, x509.UniformResourceIdentifier):
            out.append(f"URI:{name.value}")
        elif isinstance(name, x509.DirectoryName):
            out.append(f"DirName:{name.value.rfc4514_string()}")
        else:
            out.append(f"other:{name.value!r}"[:200])
    return tuple(out)


def _urls(cert: x509.Certificate) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    ocsp: list[str] = []
    issuers: list[str] = []
    crls: list[str] = []
    aia = _ext(cert, x509.AuthorityInformationAccess)
    for desc in aia or ():
        if isinstance(desc.access_location, x509.UniformResourceIdentifier):
            if desc.access_method == AuthorityInformationAccessOID.OCSP:
                ocsp.append(desc.access_location.value)
            elif desc.access_method == AuthorityInformationAccessOID.CA_ISSUERS:
                issuers.append(desc.access_location.value)
    cdp = _ext(cert, x509.CRLDistributionPoints)
    for point in cdp or ():
        crls.extend(
            name.value
            for name in point.full_name or ()
            if isinstance(name, x509.UniformResourceIdentifier)
        )
    return tuple(ocsp), tuple(issuers), tuple(crls)


def cert_facts(cert: x509.Certificate) -> CertFacts:
    """Everything mtls-doctor needs to know about one certificate.

    A certificate with parts that cannot be read (see :func:`unreadable`) still
    gets its facts: those parts are None or empty and ``unreadable`` says why.
    """
    problems = unreadable(cert)
    public_key = None
    key_type, key_bits, curve = "unknown", None, None
    try:
        public_key = cert.public_key()
        key_type, key_bits, curve = key_description(public_key)
        if key_type == "RSA" and cert.public_key_algorithm_oid == _RSA_PSS:
            # An RSA-PSS key (id-RSASSA-PSS) signs only with PSS: not the same as "RSA".
            key_type = "RSA-PSS"
    except (ValueError, UnsupportedAlgorithm):
        pass
    try:
        sig_hash = cert.signature_hash_algorithm
    except (ValueError, UnsupportedAlgorithm):
        sig_hash = None
    sig_oid = cert.signature_algorithm_oid
    sig_name = getattr(sig_oid, "_name", None) or sig_oid.dotted_string
    key_usage = _ext(cert, x509.KeyUsage)
    ku: tuple[str, ...] | None = None
    if key_usage is not None:
        ku = tuple(flag for flag in _KEY_USAGE_FLAGS if getattr(key_usage, flag))
    eku_ext = _ext(cert, x509.ExtendedKeyUsage)
    eku = (
        tuple(_EKU_NAMES.get(oid, oid.dotted_string) for oid in eku_ext)
        if eku_ext is not None
        else None
    )
    basic = _ext(cert, x509.BasicConstraints)
    san = _ext(cert, x509.SubjectAlternativeName)
    ski = _ext(cert, x509.SubjectKeyIdentifier)
    aki = _ext(cert, x509.AuthorityKeyIdentifier)
    ocsp, ca_issuers, crls = _urls(cert)
    self_signed = cert.subject == cert.issuer and is_issued_by(cert, cert)
    return CertFacts(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        serial=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before_utc.astimezone(UTC),
        not_after=cert.not_valid_after_utc.astimezone(UTC),
        key_type=key_type,
        key_bits=key_bits,
        curve=curve,
        signature_algorithm=sig_name,
        signature_hash=sig_hash.name if sig_hash is not None else None,
        key_usage=ku,
        extended_key_usage=eku,
        is_ca=basic.ca if basic is not None else None,
        path_length=basic.path_length if basic is not None else None,
        san=_general_names(san) if san is not None else (),
        subject_key_id=ski.digest.hex() if ski is not None else None,
        authority_key_id=(
            aki.key_identifier.hex() if aki is not None and aki.key_identifier else None
        ),
        ocsp_urls=ocsp,
        ca_issuer_urls=ca_issuers,
        crl_urls=crls,
        fingerprint_sha256=cert.fingerprint(hashes.SHA256()).hex(),
        # An unreadable key matches nothing: its stand-in is unique to this certificate.
        spki_sha256=spki_sha256(public_key)
        if public_key is not None
        else f"unreadable-key-{cert.fingerprint(hashes.SHA256()).hex()}",
        self_signed=self_signed,
        unreadable=problems,
    )
