"""JSON rendering: the field names of CONTRACT.md, plus documented extras.

Every function returns plain ``dict``/``list`` values; ``dumps`` writes them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mtls_doctor.model import (
    Alert,
    AppAnswer,
    CertFacts,
    Diagnosis,
    Finding,
    HandshakeFacts,
    IdentityFacts,
    IdentityReport,
    InspectReport,
    LoadProblem,
    Verdict,
)
from mtls_doctor.rules.identity import allows_client_auth, days_left

if TYPE_CHECKING:
    from mtls_doctor.probing import ProbeReport
    from mtls_doctor.tls.target import Target

JSON = dict[str, Any]


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` suffix."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def finding(item: Finding) -> JSON:
    """A finding: code, severity, message (+ cause, file, line when known)."""
    out: JSON = {"code": str(item.code), "severity": str(item.severity), "message": item.message}
    if item.cause is not None:
        out["cause"] = str(item.cause)
    if item.file is not None:
        out["file"] = item.file
        out["line"] = item.line
    return out


def verdict(item: Verdict) -> JSON:
    """The verdict object of CONTRACT.md; ``fixes`` also split by who acts."""
    return {
        "cause": str(item.cause),
        "summary": item.summary,
        "fixes": list(item.fixes),
        "user_fixes": list(item.user_fixes),
        "server_fixes": list(item.server_fixes),
    }


def certificate(cert: CertFacts, now: datetime | None = None) -> JSON:
    """Every fact about one certificate."""
    out: JSON = {
        "subject": cert.subject,
        "issuer": cert.issuer,
        "serial": cert.serial,
        "not_before": iso(cert.not_before),
        "not_after": iso(cert.not_after),
    }
    if now is not None:
        out["days_left"] = days_left(cert, now)
    out.update(
        {
            "key": {"type": cert.key_type, "bits": cert.key_bits, "curve": cert.curve},
            "signature_algorithm": cert.signature_algorithm,
            "key_usage": list(cert.key_usage) if cert.key_usage is not None else None,
            "extended_key_usage": (
                list(cert.extended_key_usage) if cert.extended_key_usage is not None else None
            ),
            "is_ca": cert.is_ca,
            "san": list(cert.san),
            "subject_key_id": cert.subject_key_id,
            "authority_key_id": cert.authority_key_id,
            "ocsp_urls": list(cert.ocsp_urls),
            "ca_issuer_urls": list(cert.ca_issuer_urls),
            "crl_urls": list(cert.crl_urls),
            "fingerprint_sha256": cert.fingerprint_sha256,
            "self_signed": cert.self_signed,
            "unreadable": list(cert.unreadable),
        }
    )
    return out


def identity(facts: IdentityFacts, findings: tuple[Finding, ...], now: datetime) -> JSON:
    """The identity object of CONTRACT.md (``inspect``, ``check``, ``watch``)."""
    cert = facts.certificate
    out = {
        "source": facts.source,
        "format": facts.format,
        **certificate(cert, now),
        "has_private_key": facts.has_private_key,
        "key_matches": facts.key_matches,
        "client_auth_eku": allows_client_auth(cert),
        "chain": [
            {
                "subject": c.subject,
                "issuer": c.issuer,
                "serial": c.serial,
                "not_after": iso(c.not_after),
                "fingerprint_sha256": c.fingerprint_sha256,
                "on_issuing_path": index < facts.path_length,
            }
            for index, c in enumerate(facts.chain)
        ],
        "bundle_in_order": facts.bundle_in_order,
        "findings": [finding(f) for f in findings],
    }
    return out


def problem(item: LoadProblem) -> JSON:
    """A file that could not be used."""
    return {"path": item.path, "code": item.code, "message": item.message}


def identity_report(report: IdentityReport, now: datetime) -> JSON:
    """An identity with its findings."""
    return identity(report.identity, report.findings, now)


def inspect_report(report: InspectReport) -> JSON:
    """The ``inspect`` document."""
    return {
        "checked_at": iso(report.checked_at),
        "identities": [identity_report(r, report.checked_at) for r in report.identities],
        "problems": [problem(p) for p in report.problems],
    }


def dumps(document: JSON) -> str:
    """Stable, readable JSON."""
    return json.dumps(document, indent=2, ensure_ascii=False)


def alert(item: Alert | None) -> JSON | None:
    """``{"code": int, "name": str}`` or None."""
    return None if item is None else {"code": item.code, "name": item.name}


def application(answer: AppAnswer | None) -> JSON | None:
    """What a non-HTTP application answered (None for HTTP or no answer)."""
    if answer is None:
        return None
    return {
        "protocol": answer.protocol,
        "accepted": answer.accepted,
        "said": answer.said,
        "meaning": answer.meaning,
    }


def handshake(facts: HandshakeFacts) -> JSON:
    """One connection: the contract's ``tls_alert`` and ``http_status``, plus the rest."""
    return {
        "tls_alert": alert(facts.alert_received),
        "http_status": facts.http.status if facts.http else None,
        "http_reason": facts.http.reason if facts.http else None,
        "http_first_line": facts.http.first_line if facts.http else None,
        "http_version": facts.http.version if facts.http else None,
        "http_verify_reason": facts.http.verify_reason if facts.http else None,
        "server_software": facts.http.server if facts.http else None,
        "application": application(facts.app),
        "alpn": facts.alpn,
        "certificate_sent": facts.certificate_sent,
        "handshake_completed": facts.handshake_completed,
        "closed_without_answer": facts.closed_without_answer,
        "alert_sent": alert(facts.alert_sent),
        "tls_version": facts.tls_version,
        "cipher": facts.cipher,
        "error": facts.error,
    }


def probe_report(report: ProbeReport) -> JSON:
    """The ``probe`` document (and the ``probe`` object inside ``check``)."""
    facts = report.facts
    return {
        "target": str(report.target),
        "url": report.target.url,
        "protocol": report.target.protocol,
        "sni": report.target.sni,
        "client_auth": str(report.client_auth) if report.client_auth is not None else None,
        "client_auth_evidence": report.reason,
        "certificate_requested": facts.certificate_requested,
        "acceptable_ca_names": list(facts.acceptable_ca_names),
        "acceptable_ca_names_dropped": facts.ca_names_dropped,
        "signature_algorithms": list(facts.signature_algorithms),
        "certificate_types": list(facts.certificate_types),
        "tls_version": facts.tls_version,
        "cipher": facts.cipher,
        "server_certificates": [
            {
                "subject": c.subject,
                "issuer": c.issuer,
                "not_after": iso(c.not_after),
                "unreadable": list(c.unreadable),
            }
            for c in facts.server_chain
        ],
        "tls_alert": alert(facts.alert_received),
        "http_status": facts.http.status if facts.http else None,
        "http_first_line": facts.http.first_line if facts.http else None,
        "application": application(facts.app),
        "handshakes": report.handshakes,
    }


def check_probe(diagnosis: Diagnosis, target: Target) -> JSON:
    """The ``probe`` object inside ``check`` (``client_auth`` as
    :func:`mtls_doctor.rules.probe.client_auth_in_check` decided it)."""
    from mtls_doctor.probing import ProbeReport
    from mtls_doctor.rules.probe import client_auth_in_check

    facts = diagnosis.facts
    source = facts.without_certificate or facts.attempt
    if source is None:
        return {"client_auth": None, "acceptable_ca_names": [], "tls_version": None}
    client_auth, evidence = client_auth_in_check(facts.without_certificate, facts.attempt)
    report = ProbeReport(target=target, facts=source, client_auth=client_auth, reason=evidence)
    document = probe_report(report)
    if facts.without_certificate is None:
        # The probe object describes a connection without a certificate; none was made.
        document["tls_alert"] = None
        document["http_status"] = None
        document["http_first_line"] = None
        document["application"] = None
    document["handshakes"] = diagnosis.handshakes
    return document


def diagnosis(item: Diagnosis, target: Target) -> JSON:
    """The ``check`` document."""
    facts = item.facts
    chain = facts.chain
    return {
        "target": str(target),
        "url": target.url,
        "protocol": target.protocol,
        "checked_at": iso(item.checked_at),
        "verdict": verdict(item.verdict),
        "probe": check_probe(item, target),
        "identity": (
            identity(facts.identity, (), item.checked_at) if facts.identity is not None else None
        ),
        "handshake": handshake(facts.attempt) if facts.attempt is not None else None,
        "findings": [finding(f) for f in item.findings],
        "chain": [
            {
                "subject": link.certificate.subject,
                "issuer": link.certificate.issuer,
                "source": link.source.value,
                "sent": link.sent,
            }
            for link in (chain.path if chain else ())
        ],
        "revocation": [
            {"status": r.status, "method": r.method, "detail": r.detail, "subject": r.subject}
            for r in facts.revocation
        ],
        "alternatives": [
            {
                "source": alt.identity.source,
                "subject": alt.identity.certificate.subject,
                "fits": alt.fits,
                "accepted": alt.accepted,
            }
            for alt in facts.alternatives
        ],
        "handshakes": item.handshakes,
    }
