"""What the server did with one connection: served, refused, refused by the application..."""

from __future__ import annotations

from enum import StrEnum

from mtls_doctor.causes import Cause
from mtls_doctor.model import HandshakeFacts
from mtls_doctor.rules.probe import MISDIRECTED_STATUS, REFUSING_STATUSES


class Outcome(StrEnum):
    """What the server did with one connection."""

    NOT_REQUESTED = "not_requested"
    SERVED = "served"
    APP_REFUSED = "app_refused"  # 401/403 after a completed handshake
    REFUSED = "refused"
    #: HTTP 421: the server picked another site for this name (SNI) than the one asked for.
    MISDIRECTED = "misdirected"


def outcome(facts: HandshakeFacts) -> Outcome:
    """Classify one connection's result."""
    if facts.alert_received is not None:
        return Outcome.REFUSED
    http = facts.http
    if http is not None:
        if http.status == MISDIRECTED_STATUS:
            return Outcome.MISDIRECTED
        if http.verify_reason is not None:
            return Outcome.REFUSED
        if http.status in (401, 403) and facts.handshake_completed:
            return Outcome.APP_REFUSED
        if http.status in REFUSING_STATUSES:
            return Outcome.REFUSED
        return Outcome.SERVED if facts.certificate_requested else Outcome.NOT_REQUESTED
    app = facts.app
    if app is not None:
        if app.accepted is False:
            if app.cause == Cause.REJECTED_BY_APPLICATION and facts.handshake_completed:
                return Outcome.APP_REFUSED
            return Outcome.REFUSED
        return Outcome.SERVED if facts.certificate_requested else Outcome.NOT_REQUESTED
    if not facts.handshake_completed or facts.closed_without_answer or facts.error:
        return Outcome.REFUSED
    return Outcome.SERVED if facts.certificate_requested else Outcome.NOT_REQUESTED
