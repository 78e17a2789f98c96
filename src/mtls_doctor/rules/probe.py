"""What a server asks of a client, decided from one handshake without a certificate."""

from __future__ import annotations

from enum import StrEnum

from mtls_doctor.model import HandshakeFacts

#: HTTP answers that mean "no certificate, no service": nginx's 400 page, its
#: 495/496 codes (used when error_page maps them), and a plain refusal.
REFUSING_STATUSES = frozenset({400, 401, 403, 495, 496})


class ClientAuth(StrEnum):
    """CONTRACT.md ``client_auth``."""

    REQUIRED = "required"
    OPTIONAL = "optional"
    NOT_REQUESTED = "not_requested"


def classify_client_auth(facts: HandshakeFacts) -> tuple[ClientAuth, str]:
    """``required`` / ``optional`` / ``not_requested``, with the evidence in words.

    ``facts`` is a connection that presented no certificate. Required means
    the server refuses to serve us, by TLS alert or by an HTTP error page.
    """
    if not facts.certificate_requested:
        return ClientAuth.NOT_REQUESTED, "the server sent no CertificateRequest"
    if facts.alert_received is not None:
        a = facts.alert_received
        return ClientAuth.REQUIRED, f"it refused the connection with TLS alert {a.code} {a.name}"
    if facts.http is not None:
        status = facts.http.status
        said = f" ({facts.http.first_line})" if facts.http.first_line else ""
        if status in REFUSING_STATUSES:
            return ClientAuth.REQUIRED, f"it answered HTTP {status}{said}"
        return ClientAuth.OPTIONAL, f"it served the request anyway (HTTP {status})"
    if facts.closed_without_answer or not facts.handshake_completed:
        return ClientAuth.REQUIRED, "it closed the connection without answering"
    return ClientAuth.OPTIONAL, "the handshake completed without a certificate"
