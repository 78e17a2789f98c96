"""Pure rule: a 403 that may be client authentication asked after a TLS 1.3 handshake.

Apache's per-directory ``SSLVerifyClient`` (inside ``<Location>`` or
``<Directory>``) asks for the certificate only after the handshake, by
post-handshake authentication; a client that does not offer it (ours, and
browsers) never sees a CertificateRequest and gets a 403 (AH10158 in the log).
With TLS 1.2 Apache asks by renegotiation instead, which we do see.
"""

from __future__ import annotations

from dataclasses import dataclass

from mtls_doctor.model import HandshakeFacts
from mtls_doctor.tlsversion import TLSVersion


@dataclass(frozen=True, slots=True)
class Note:
    """What to add to a verdict: a sentence, a fix for the user, one for the server."""

    sentence: str
    user_fix: str
    server_fix: str


def per_path_client_auth(facts: HandshakeFacts) -> Note | None:
    """The note when ``facts`` is a TLS 1.3 403 with no CertificateRequest, else None."""
    if (
        facts.tls_version is not TLSVersion.TLS1_3
        or facts.certificate_requested
        or facts.http is None
        or facts.http.status != 403
    ):
        return None
    return Note(
        sentence="A 403 here can also be a certificate required for this path only (Apache's "
        "SSLVerifyClient inside <Location> or <Directory>): with TLS 1.3 it is asked for "
        "after the handshake, which this client and browsers do not support; with --tls 1.2 "
        "the server can ask by renegotiation.",
        user_fix="Run the same check with --tls 1.2 to see whether this path asks for a "
        "certificate.",
        server_fix="If this path requires a client certificate, set SSLVerifyClient on the "
        "VirtualHost (browsers cannot answer a TLS 1.3 post-handshake request); the log says "
        "AH10158 when a client could not be asked.",
    )
