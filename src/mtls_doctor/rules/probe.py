"""What a server asks of a client, decided from one handshake without a certificate."""

from __future__ import annotations

from enum import StrEnum

from mtls_doctor.model import HandshakeFacts

#: HTTP answers that mean "no certificate, no service": nginx's 400 page, its
#: 495/496 codes (used when error_page maps them), and a plain refusal.
REFUSING_STATUSES = frozenset({400, 401, 403, 495, 496})
#: 421 Misdirected Request: the server's site for this SNI is not the one for this Host.
MISDIRECTED_STATUS = 421


class ClientAuth(StrEnum):
    """CONTRACT.md ``client_auth``."""

    REQUIRED = "required"
    OPTIONAL = "optional"
    NOT_REQUESTED = "not_requested"


def client_auth_in_check(
    without: HandshakeFacts | None, attempt: HandshakeFacts | None
) -> tuple[ClientAuth | None, str]:
    """``check``'s ``client_auth``: known for sure only from a connection without a
    certificate. When the certificate was accepted at the first try no such connection
    was made (one handshake): a requested-but-untested mode is None, not guessed."""
    if without is not None:
        return classify_client_auth(without)
    if attempt is None:
        return None, "no connection was made"
    if not attempt.certificate_requested:
        return ClientAuth.NOT_REQUESTED, "the server sent no CertificateRequest"
    return None, "not tested: the certificate was accepted, so no connection without one was made"


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
        if status == MISDIRECTED_STATUS:
            return ClientAuth.REQUIRED, (
                f"it answered HTTP 421 Misdirected Request{said}: the site for this name was not "
                "reached, so whether it needs a certificate is unknown (pass --sni NAME)"
            )
        if status in REFUSING_STATUSES:
            return ClientAuth.REQUIRED, f"it answered HTTP {status}{said}"
        return ClientAuth.OPTIONAL, f"it served the request anyway (HTTP {status})"
    app = facts.app
    if app is not None:
        if app.accepted is False:
            return ClientAuth.REQUIRED, f"{app.meaning} ({app.said})"
        if app.accepted is None:
            return ClientAuth.OPTIONAL, (
                "the handshake completed without a certificate and no alert followed "
                "(no application data was exchanged)"
            )
        return ClientAuth.OPTIONAL, f"it served the client anyway: {app.meaning} ({app.said})"
    if facts.closed_without_answer or not facts.handshake_completed:
        return ClientAuth.REQUIRED, "it closed the connection without answering"
    return ClientAuth.OPTIONAL, "the handshake completed without a certificate"
