"""Orchestrator for ``probe``: one handshake with no certificate, then the rules."""

from __future__ import annotations

from dataclasses import dataclass

from mtls_doctor.model import HandshakeFacts
from mtls_doctor.rules.probe import ClientAuth, classify_client_auth
from mtls_doctor.tls.target import Target
from mtls_doctor.tlsversion import TLSVersion


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeReport:
    """What the server asks of a client, and the evidence."""

    target: Target
    facts: HandshakeFacts
    #: None where it was not tested (``check`` accepted at the first try).
    client_auth: ClientAuth | None
    #: Why ``client_auth`` was decided so, in words.
    reason: str
    handshakes: int = 1


def probe(
    target: Target, *, timeout: float = 10.0, tls_version: TLSVersion | None = None
) -> ProbeReport:
    """Probe ``target`` without a client certificate (one handshake)."""
    from mtls_doctor.tls.client import handshake

    facts = handshake(target, timeout=timeout, tls_version=tls_version)
    return report_from(target, facts)


def report_from(target: Target, facts: HandshakeFacts, handshakes: int = 1) -> ProbeReport:
    """A probe report from a connection already made without a certificate."""
    client_auth, reason = classify_client_auth(facts)
    return ProbeReport(
        target=target, facts=facts, client_auth=client_auth, reason=reason, handshakes=handshakes
    )
