"""Judging an OCSP response (RFC 6960): check it may be believed, say what it says.

An answer counts only when it is a successful response signed by the issuer
or by a delegated responder whose certificate the issuer signed with the
id-kp-OCSPSigning EKU (RFC 6960 4.2.2.2; ``cryptography`` checks none of
this), holds a SingleResponse whose CertID is the one we asked about (3.2
items 1 and 2), with thisUpdate not in the future and nextUpdate not past
(3.2 items 4 and 5), and echoes our nonce if it echoes one (RFC 8954). A
successful response with zero SingleResponses is "unknown", not "good".
Pure judgement on parsed objects; the lookup asks the responder.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from mtls_doctor.model import RevocationStatus
from mtls_doctor.revocation.answer import (
    CLOCK_SKEW,
    UntrustedAnswer,
    VerifiedAnswer,
    extension_value,
    revoked_words,
    when,
)
from mtls_doctor.x509facts import extension, is_issued_by

__all__ = ["OCSP_MAX_AGE", "OCSP_MAX_BYTES", "ocsp_status", "parse_ocsp"]

#: Cap on one OCSP response (a few KiB in practice, even with certificates).
OCSP_MAX_BYTES = 64 * 1024
#: How old an OCSP answer without nextUpdate may be ("newer information is
#: always available", RFC 6960 4.2.2.1: such an answer is only good when recent).
OCSP_MAX_AGE = timedelta(days=1)

_OCSP_STATUS_NAMES = {
    ocsp.OCSPResponseStatus.MALFORMED_REQUEST: "malformedRequest",
    ocsp.OCSPResponseStatus.INTERNAL_ERROR: "internalError",
    ocsp.OCSPResponseStatus.TRY_LATER: "tryLater",
    ocsp.OCSPResponseStatus.SIG_REQUIRED: "sigRequired",
    ocsp.OCSPResponseStatus.UNAUTHORIZED: "unauthorized",
}


def parse_ocsp(body: bytes) -> ocsp.OCSPResponse:
    """A responder's DER body; :class:`UntrustedAnswer` when it is no OCSP response."""
    try:
        return ocsp.load_der_ocsp_response(body)
    except ValueError as exc:
        raise UntrustedAnswer("the answer is not an OCSP response") from exc


def ocsp_status(
    response: ocsp.OCSPResponse,
    request: ocsp.OCSPRequest,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    *,
    now: datetime,
    source: str,
    nonce: bytes | None,
) -> VerifiedAnswer:
    """What an OCSP response says about ``cert``, after checking it may be believed.

    Raises :class:`UntrustedAnswer` with the reason otherwise (RFC 6960 3.2).
    """
    status = response.response_status
    if status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise UntrustedAnswer(
            f"the responder answered {_OCSP_STATUS_NAMES.get(status, status.name)}"
        )
    singles = list(response.responses)
    if not singles:
        raise UntrustedAnswer("the response holds no certificate status (zero single responses)")
    signer = _ocsp_signer(response, issuer, now)
    _verify_signature(signer, response)
    single = next((s for s in singles if _same_cert_id(s, request)), None)
    if single is None:
        raise UntrustedAnswer("the response is about another certificate (its CertID differs)")
    if nonce is not None:
        echoed = extension_value(response.extensions, x509.OCSPNonce)
        if echoed is not None and echoed.nonce != nonce:
            raise UntrustedAnswer("the response's nonce is not ours (a replayed answer?)")
    if single.this_update_utc > now + CLOCK_SKEW:
        raise UntrustedAnswer(
            f"the response's thisUpdate {when(single.this_update_utc)} is in the future"
        )
    next_update = single.next_update_utc
    stale = None
    if next_update is not None and now > next_update + CLOCK_SKEW:
        stale = f"stale: the response's nextUpdate was {when(next_update)}"
    elif next_update is None and now > single.this_update_utc + OCSP_MAX_AGE:
        stale = (
            f"stale: the response (thisUpdate {when(single.this_update_utc)}, no nextUpdate) "
            "is older than a day"
        )
    match single.certificate_status:
        case ocsp.OCSPCertStatus.REVOKED:
            flag = single.revocation_reason or x509.ReasonFlags.unspecified
            if stale is None or flag is not x509.ReasonFlags.certificate_hold:
                assert single.revocation_time_utc is not None
                detail = revoked_words(flag, single.revocation_time_utc, f"OCSP {source}")
                return VerifiedAnswer(
                    RevocationStatus.REVOKED, detail + (f"; note: {stale}" if stale else "")
                )
            raise UntrustedAnswer(stale)
        case ocsp.OCSPCertStatus.UNKNOWN:
            raise UntrustedAnswer("the responder does not know this certificate (status unknown)")
        case ocsp.OCSPCertStatus.GOOD:
            if stale is not None:
                raise UntrustedAnswer(stale)
            until = f", valid until {when(next_update)}" if next_update else ""
            return VerifiedAnswer(RevocationStatus.GOOD, f"OCSP {source} says good{until}")
    raise UntrustedAnswer("the response has a status we do not know")  # pragma: no cover


def _same_cert_id(single: ocsp.OCSPSingleResponse, request: ocsp.OCSPRequest) -> bool:
    return (
        single.serial_number == request.serial_number
        and single.issuer_key_hash == request.issuer_key_hash
        and single.issuer_name_hash == request.issuer_name_hash
        and single.hash_algorithm.name == request.hash_algorithm.name
    )


def _is_responder(response: ocsp.OCSPResponse, cert: x509.Certificate) -> bool:
    """Whether ``cert`` is the one the ResponderID names (RFC 6960 4.2.2.3)."""
    if response.responder_name is not None:
        return response.responder_name == cert.subject
    digest = x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest
    return response.responder_key_hash == digest


def _ocsp_signer(
    response: ocsp.OCSPResponse, issuer: x509.Certificate, now: datetime
) -> x509.Certificate:
    """The certificate whose key must have signed the response (RFC 6960 4.2.2.2).

    The issuer itself, or a responder certificate included in the response
    that the issuer signed, with id-kp-OCSPSigning, valid now.
    """
    if _is_responder(response, issuer):
        return issuer
    for candidate in response.certificates:
        if not _is_responder(response, candidate):
            continue
        who = candidate.subject.rfc4514_string()
        if not is_issued_by(candidate, issuer):
            raise UntrustedAnswer(
                f"wrong responder: signed by {who}, which the certificate's issuer did not certify"
            )
        usage = extension(candidate, x509.ExtendedKeyUsage)
        if usage is None or ExtendedKeyUsageOID.OCSP_SIGNING not in usage:
            raise UntrustedAnswer(
                f"wrong responder: {who} lacks the OCSPSigning extended key usage"
            )
        if not candidate.not_valid_before_utc <= now <= candidate.not_valid_after_utc:
            raise UntrustedAnswer(f"wrong responder: {who}'s certificate is not valid now")
        return candidate
    raise UntrustedAnswer(
        "wrong responder: signed by neither the issuer nor a responder certificate it issued"
    )


def _verify_signature(signer: x509.Certificate, response: ocsp.OCSPResponse) -> None:
    """Check the BasicOCSPResponse signature with ``signer``'s key."""
    key = signer.public_key()
    data, signature = response.tbs_response_bytes, response.signature
    try:
        algorithm = response.signature_hash_algorithm
        if isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
            key.verify(signature, data, ec.ECDSA(algorithm))
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(signature, data)
        elif isinstance(key, dsa.DSAPublicKey) and algorithm is not None:
            key.verify(signature, data, algorithm)
        else:
            raise UntrustedAnswer("the response's signature algorithm is not supported")
    except InvalidSignature as exc:
        who = signer.subject.rfc4514_string()
        raise UntrustedAnswer(
            f"bad signature: the response does not verify with {who}'s key"
        ) from exc
    except (UnsupportedAlgorithm, ValueError, TypeError) as exc:
        raise UntrustedAnswer("the response's signature algorithm is not supported") from exc
