"""What a CRL or OCSP answer comes to: believed (:class:`VerifiedAnswer`) or not.

Shared by the CRL and the OCSP judges (``crl.py``, ``ocsp.py``) and by the
lookup that tries them, so that both kinds of answer are judged against the
same clock tolerance and revocations are worded the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509

from mtls_doctor.model import RevocationStatus

__all__ = [
    "CLOCK_SKEW",
    "UntrustedAnswer",
    "VerifiedAnswer",
    "extension_value",
    "revoked_words",
    "when",
]

#: How far a responder's or CA's clock may run ahead of ours.
CLOCK_SKEW = timedelta(minutes=5)


class UntrustedAnswer(Exception):  # noqa: N818 (not an error of ours: a verdict on an answer)
    """A CRL or OCSP answer that cannot be believed, or does not settle the status; says why."""


@dataclass(frozen=True, slots=True)
class VerifiedAnswer:
    """A CRL or OCSP answer about one certificate that passed every check."""

    #: GOOD or REVOKED.
    status: RevocationStatus
    #: Reason and date when revoked, and where the answer came from.
    detail: str


def revoked_words(flag: x509.ReasonFlags, moment: datetime, source: str) -> str:
    """One wording of a revocation (reason, date, source) for CRL and OCSP alike."""
    return f"reason {flag.value}, revoked {when(moment)} (according to {source})"


def when(moment: datetime | None) -> str:
    """``moment`` in UTC to the minute, as every revocation detail shows it."""
    if moment is None:
        return "(none)"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def extension_value(extensions: x509.Extensions, kind: type[Any]) -> Any:
    """The value of the extension of type ``kind`` in a CRL, CRL entry or OCSP response, or None."""
    try:
        return extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
