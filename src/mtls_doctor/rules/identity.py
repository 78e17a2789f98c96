"""Rules about one client identity on its own, before any server is involved."""

from __future__ import annotations

from datetime import datetime, timedelta

from mtls_doctor.causes import Cause
from mtls_doctor.defaults import DEFAULT_WARN_DAYS
from mtls_doctor.model import CertFacts, Finding, FindingCode, IdentityFacts, Severity

#: EKU values that permit TLS client authentication (RFC 5280 4.2.1.12).
_CLIENT_AUTH_EKUS = frozenset({"clientAuth", "anyExtendedKeyUsage"})
#: RSA below this is refused by OpenSSL 3 at its default security level (2).
MIN_RSA_BITS = 2048


def days_left(cert: CertFacts, now: datetime) -> int:
    """Whole days until notAfter; negative once expired (floored, so -1 an hour after)."""
    return (cert.not_after - now).days


def allows_client_auth(cert: CertFacts) -> bool:
    """The certificate may be used for TLS client authentication.

    An absent EKU extension allows every usage; an absent key usage too.
    """
    eku_ok = cert.extended_key_usage is None or bool(
        _CLIENT_AUTH_EKUS.intersection(cert.extended_key_usage)
    )
    return eku_ok and key_usage_allows_signing(cert)


def key_usage_allows_signing(cert: CertFacts) -> bool:
    """keyUsage is absent or has digitalSignature (needed for CertificateVerify)."""
    return cert.key_usage is None or "digital_signature" in cert.key_usage


def _fmt(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def check_validity(cert: CertFacts, now: datetime, warn_days: int) -> list[Finding]:
    """Expired, not yet valid, or expiring within ``warn_days``."""
    if now > cert.not_after:
        ago = (now - cert.not_after).days
        return [
            Finding(
                code=Cause.CERTIFICATE_EXPIRED,
                severity=Severity.ERROR,
                cause=Cause.CERTIFICATE_EXPIRED,
                message=f"The certificate expired on {_fmt(cert.not_after)} "
                f"({ago} day{'s' if ago != 1 else ''} ago).",
            )
        ]
    if now < cert.not_before:
        return [
            Finding(
                code=Cause.CERTIFICATE_NOT_YET_VALID,
                severity=Severity.ERROR,
                cause=Cause.CERTIFICATE_NOT_YET_VALID,
                message=f"The certificate is valid only from {_fmt(cert.not_before)}; "
                "check the clock if that date looks right.",
            )
        ]
    if cert.not_after - now <= timedelta(days=warn_days):
        left = days_left(cert, now)
        return [
            Finding(
                code=FindingCode.EXPIRING_SOON,
                severity=Severity.WARNING,
                message=f"The certificate expires on {_fmt(cert.not_after)}, in {left} "
                f"day{'s' if left != 1 else ''}: renew it now.",
            )
        ]
    return []


def check_usage(cert: CertFacts) -> list[Finding]:
    """Extended key usage and key usage must allow TLS client authentication."""
    findings = []
    eku = cert.extended_key_usage
    if eku is not None and not _CLIENT_AUTH_EKUS.intersection(eku):
        findings.append(
            Finding(
                code=FindingCode.EKU_LACKS_CLIENT_AUTH,
                severity=Severity.ERROR,
                cause=Cause.WRONG_KEY_USAGE,
                message="Extended key usage is "
                f"{', '.join(eku) or '(empty)'}, without clientAuth: the certificate may "
                "not be used for TLS client authentication.",
            )
        )
    if not key_usage_allows_signing(cert):
        findings.append(
            Finding(
                code=FindingCode.KU_LACKS_DIGITAL_SIGNATURE,
                severity=Severity.ERROR,
                cause=Cause.WRONG_KEY_USAGE,
                message=f"Key usage is {', '.join(cert.key_usage or ()) or '(empty)'}, "
                "without digitalSignature: the key may not sign the TLS handshake.",
            )
        )
    return findings


def check_key_strength(cert: CertFacts) -> list[Finding]:
    """Small RSA keys and SHA-1 (or MD5) signatures are refused by modern servers."""
    findings = []
    if cert.key_type in ("RSA", "RSA-PSS", "DSA") and cert.key_bits is not None:
        if cert.key_bits < MIN_RSA_BITS:
            findings.append(
                Finding(
                    code=FindingCode.WEAK_KEY,
                    severity=Severity.ERROR,
                    cause=Cause.UNSUPPORTED_KEY,
                    message=f"{cert.key_type} {cert.key_bits}-bit key: servers built on "
                    f"OpenSSL 3 refuse keys below {MIN_RSA_BITS} bits.",
                )
            )
    if cert.key_type == "DSA":
        findings.append(
            Finding(
                code=FindingCode.DSA_KEY,
                severity=Severity.ERROR,
                cause=Cause.UNSUPPORTED_KEY,
                message="DSA keys cannot be used with TLS 1.3 and most servers refuse them.",
            )
        )
    if cert.signature_hash in ("sha1", "md5") and not cert.self_signed:
        findings.append(
            Finding(
                code=FindingCode.WEAK_SIGNATURE,
                severity=Severity.WARNING,
                cause=Cause.UNSUPPORTED_KEY,
                message=f"Signed with {cert.signature_algorithm}: OpenSSL 3 servers at "
                "their default security level reject SHA-1 and MD5 signatures.",
            )
        )
    return findings


def check_key(identity: IdentityFacts) -> list[Finding]:
    """The private key must be present and belong to the certificate."""
    if not identity.has_private_key:
        return [
            Finding(
                code=Cause.PRIVATE_KEY_MISSING,
                severity=Severity.ERROR,
                cause=Cause.PRIVATE_KEY_MISSING,
                message="No private key was found for this certificate: without it the "
                "client cannot prove it owns the certificate.",
            )
        ]
    if identity.key_matches is False:
        return [
            Finding(
                code=Cause.PRIVATE_KEY_MISMATCH,
                severity=Severity.ERROR,
                cause=Cause.PRIVATE_KEY_MISMATCH,
                message="The private key does not belong to this certificate (their public "
                "keys differ).",
            )
        ]
    return []


def check_chain(identity: IdentityFacts) -> list[Finding]:
    """The bundle's chain: a CA as leaf, order, what is missing, what does not belong."""
    leaf = identity.certificate
    findings = []
    if leaf.is_ca:
        findings.append(
            Finding(
                # OpenSSL-based servers (nginx, Apache, HAProxy, s_server) accept a
                # CA:TRUE leaf, and `openssl req -x509` makes one by default: a
                # warning, never the blocking cause.
                code=FindingCode.CA_CERTIFICATE_AS_LEAF,
                severity=Severity.WARNING,
                message="This is a CA certificate (basicConstraints CA:TRUE) used as a client "
                "identity: OpenSSL-based servers accept it, but some policies refuse one; a "
                "certificate made for client authentication is the usual form.",
            )
        )
    path = identity.issuing_path
    if path and not path[-1].self_signed:
        message = (
            f"The bundle's chain ends at {path[-1].subject}; its issuer {path[-1].issuer} is "
            "not included, so the server must hold that CA itself."
        )
    elif not path and not leaf.self_signed:
        message = (
            f"The bundle holds no issuer certificate: the server must hold {leaf.issuer} "
            "itself (include it if it is an intermediate CA)."
        )
    else:
        message = ""
    if message:
        findings.append(
            Finding(code=FindingCode.CHAIN_INCOMPLETE, severity=Severity.INFO, message=message)
        )
    findings.extend(
        Finding(
            code=FindingCode.CHAIN_UNRELATED_CERTIFICATE,
            severity=Severity.WARNING,
            message=f"The bundle holds a certificate that is not on the leaf's issuing "
            f"path: {extra.subject}.",
        )
        for extra in identity.unrelated
    )
    if identity.bundle_in_order is False:
        findings.append(
            Finding(
                code=FindingCode.CHAIN_OUT_OF_ORDER,
                severity=Severity.WARNING,
                message="The bundle's certificates are not in order (leaf first, then each "
                "issuer): TLS 1.2 requires that order and some clients send it as is.",
            )
        )
    return findings


def check_identity(
    identity: IdentityFacts, now: datetime, warn_days: int = DEFAULT_WARN_DAYS
) -> tuple[Finding, ...]:
    """Every finding about an identity on its own, most blocking first."""
    cert = identity.certificate
    findings = [
        *check_key(identity),
        *check_validity(cert, now, warn_days),
        *check_usage(cert),
        *check_key_strength(cert),
        *check_chain(identity),
    ]
    for ca in identity.issuing_path:
        findings.extend(_chain_cert_validity(ca, now))
    return tuple(findings)


def _chain_cert_validity(ca: CertFacts, now: datetime) -> list[Finding]:
    if now > ca.not_after:
        return [
            Finding(
                code=FindingCode.CHAIN_CERTIFICATE_EXPIRED,
                severity=Severity.ERROR,
                cause=Cause.CERTIFICATE_EXPIRED,
                message=f"The CA certificate {ca.subject} in the bundle expired on "
                f"{_fmt(ca.not_after)}.",
            )
        ]
    if now < ca.not_before:
        return [
            Finding(
                code=FindingCode.CHAIN_CERTIFICATE_NOT_YET_VALID,
                severity=Severity.ERROR,
                cause=Cause.CERTIFICATE_NOT_YET_VALID,
                message=f"The CA certificate {ca.subject} in the bundle is valid only from "
                f"{_fmt(ca.not_before)}.",
            )
        ]
    return []
