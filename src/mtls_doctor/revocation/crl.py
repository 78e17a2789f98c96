"""Judging a CRL (RFC 5280): read it, check it may be believed, say what it says.

A CRL counts only when it was issued under the issuer's name and signed by
its key (RFC 5280 6.3.3 (b)(1), (g)), the issuer may sign CRLs (4.2.1.3), its
nextUpdate is not past (6.3.3 (a)(2)), its issuing distribution point covers
the certificate (5.2.5, 6.3.3 (b)(2)), it is not a delta CRL (5.2.4) and it
has no critical extension we do not understand (5.2, 5.3). Pure judgement on
parsed objects plus the readers of ``--crl`` files and downloaded bodies; the
lookup decides where the CRL comes from.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from mtls_doctor.errors import InputError
from mtls_doctor.files import read_regular_file
from mtls_doctor.model import RevocationStatus
from mtls_doctor.pem import scan_pem
from mtls_doctor.revocation.answer import (
    CLOCK_SKEW,
    UntrustedAnswer,
    VerifiedAnswer,
    extension_value,
    revoked_words,
    when,
)
from mtls_doctor.x509facts import extension

__all__ = [
    "CRL_FILE_MAX_BYTES",
    "CRL_MAX_BYTES",
    "crl_is_fresh",
    "crl_status",
    "load_crl_files",
    "parse_crl",
]

#: Cap on one CRL download. Large CAs publish CRLs of several MiB; beyond this
#: the download stops and the status is "unknown" (the detail says so).
CRL_MAX_BYTES = 10 * 1024 * 1024
#: Cap on a local ``--crl`` file (read from disk, so more generous than a download).
CRL_FILE_MAX_BYTES = 64 * 1024 * 1024

#: CRL extensions whose meaning is handled below (RFC 5280 5.2); any other
#: critical one makes the CRL unusable.
_HANDLED_CRL_EXTENSIONS = (
    x509.IssuingDistributionPoint,
    x509.CRLNumber,
    x509.AuthorityKeyIdentifier,
    x509.AuthorityInformationAccess,
)


def load_crl_files(paths: Sequence[Path]) -> tuple[tuple[str, x509.CertificateRevocationList], ...]:
    """Every CRL in ``paths`` (PEM with one or more CRLs, or DER), with its path.

    Raises :class:`InputError` for a file that cannot be read or holds no CRL:
    a ``--crl`` the user named must not be silently ignored.
    """
    out: list[tuple[str, x509.CertificateRevocationList]] = []
    for path in paths:
        data = read_regular_file(path, limit=CRL_FILE_MAX_BYTES, what="CRL file")
        blocks = [b.text for b in scan_pem(data).blocks if b.label == b"X509 CRL"]
        try:
            if blocks:
                out.extend((str(path), x509.load_pem_x509_crl(block)) for block in blocks)
            else:
                out.append((str(path), x509.load_der_x509_crl(data)))
        except ValueError as exc:
            raise InputError(f"{path}: not a CRL (PEM or DER)") from exc
    return tuple(out)


def parse_crl(body: bytes) -> x509.CertificateRevocationList:
    """A downloaded or cached CRL (PEM or DER); :class:`UntrustedAnswer` when it is none."""
    try:
        if body.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(body)
        return x509.load_der_x509_crl(body)
    except ValueError as exc:
        raise UntrustedAnswer("the answer is not a CRL") from exc


def crl_is_fresh(crl: x509.CertificateRevocationList, now: datetime) -> bool:
    """Whether ``crl`` is current at ``now`` (worth keeping in the cache)."""
    next_update = crl.next_update_utc
    return (
        next_update is not None and now <= next_update and crl.last_update_utc <= now + CLOCK_SKEW
    )


def crl_status(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    crl: x509.CertificateRevocationList,
    *,
    now: datetime,
    source: str,
) -> VerifiedAnswer:
    """What a CRL says about ``cert``, after checking it may be believed (RFC 5280 6.3.3).

    Raises :class:`UntrustedAnswer` with the reason when the CRL is not the issuer's,
    not authentic, out of date (unless it revokes), out of scope or partial.
    """
    if crl.issuer != issuer.subject or cert.issuer != issuer.subject:
        raise UntrustedAnswer(
            f"the CRL was issued by {crl.issuer.rfc4514_string()}, not by the certificate's "
            f"issuer {cert.issuer.rfc4514_string()}"
        )
    usage = extension(issuer, x509.KeyUsage)
    if usage is not None and not usage.crl_sign:
        raise UntrustedAnswer("the issuer's key usage does not allow it to sign CRLs")
    try:
        valid = crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
    except (TypeError, ValueError, UnsupportedAlgorithm):
        valid = False
    if not valid:
        raise UntrustedAnswer("bad signature: the CRL is not signed by the issuer's key")
    for ext in crl.extensions:
        if isinstance(ext.value, x509.DeltaCRLIndicator):
            raise UntrustedAnswer(
                "a delta CRL cannot establish the status on its own (RFC 5280 5.2.4)"
            )
        if ext.critical and not isinstance(ext.value, _HANDLED_CRL_EXTENSIONS):
            raise UntrustedAnswer(f"the CRL has a critical extension we cannot process ({ext.oid})")
    partial = _idp_scope(cert, crl)
    if crl.last_update_utc > now + CLOCK_SKEW:
        raise UntrustedAnswer(f"the CRL's thisUpdate {when(crl.last_update_utc)} is in the future")
    next_update = crl.next_update_utc
    stale = None
    if next_update is None:
        stale = "the CRL has no nextUpdate, so its freshness cannot be judged"
    elif now > next_update:
        stale = f"stale: the CRL's nextUpdate was {when(next_update)}"
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    if entry is not None:
        for ext in entry.extensions:
            if ext.critical and not isinstance(ext.value, (x509.CRLReason, x509.InvalidityDate)):
                raise UntrustedAnswer(
                    f"the CRL entry has a critical extension we cannot process ({ext.oid})"
                )
        reason = extension_value(entry.extensions, x509.CRLReason)
        flag = reason.reason if reason is not None else x509.ReasonFlags.unspecified
        if flag is x509.ReasonFlags.remove_from_crl:
            entry = None  # only meaningful in delta CRLs, which are refused above
        elif stale is None or flag is not x509.ReasonFlags.certificate_hold:
            detail = revoked_words(flag, entry.revocation_date_utc, f"CRL {source}")
            return VerifiedAnswer(
                RevocationStatus.REVOKED, detail + (f"; note: {stale}" if stale else "")
            )
    if stale is not None:
        raise UntrustedAnswer(stale)
    if partial:
        raise UntrustedAnswer(partial)
    return VerifiedAnswer(
        RevocationStatus.GOOD, f"not on the CRL {source} (valid until {when(next_update)})"
    )


def _idp_scope(cert: x509.Certificate, crl: x509.CertificateRevocationList) -> str | None:
    """Raise when ``cert`` is outside the CRL's scope (RFC 5280 5.2.5, 6.3.3 (b)(2)).

    Returns a reason when the CRL can prove revocation but not good standing
    (it covers only some reasons), else None.
    """
    idp = extension_value(crl.extensions, x509.IssuingDistributionPoint)
    if idp is None:
        return None
    basic = extension(cert, x509.BasicConstraints)
    is_ca = basic is not None and basic.ca
    if idp.only_contains_user_certs and is_ca:
        raise UntrustedAnswer("the CRL covers only end-entity certificates, and this is a CA")
    if idp.only_contains_ca_certs and not is_ca:
        raise UntrustedAnswer("the CRL covers only CA certificates, and this is an end entity")
    if idp.only_contains_attribute_certs:
        raise UntrustedAnswer("the CRL covers only attribute certificates")
    if idp.indirect_crl:
        raise UntrustedAnswer("indirect CRLs are not supported")
    if idp.full_name:
        points = extension(cert, x509.CRLDistributionPoints)
        if points is not None:
            ours = {str(name.value) for point in points for name in point.full_name or ()}
            theirs = {str(name.value) for name in idp.full_name}
            if not ours & theirs:
                raise UntrustedAnswer(
                    "the CRL's issuing distribution point "
                    f"({', '.join(sorted(theirs))}) is not the certificate's"
                )
    if idp.only_some_reasons:
        return "the CRL covers only some revocation reasons, so it cannot show good standing"
    return None
