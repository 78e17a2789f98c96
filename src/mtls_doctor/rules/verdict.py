"""The one place where findings become a verdict: the cause that blocks first.

Order of reasoning (and why):

1. Nothing presented → did the server need it?
2. A certificate that could not be presented (no key, wrong key) is found
   before any network I/O; it matters only if the server asks for one.
3. The server never asked → nothing was rejected here; look elsewhere.
4. The server served the request → accepted (or an authorization refusal).
5. The server refused → the local findings say why. The server's alert
   breaks ties (it says which check failed first on its side); without a
   local finding, only a specific alert (44 revoked) or a chain whose *name*
   is accepted but is still refused (a rotated CA) is named; anything else
   is ``rejected_unexplained`` with what was ruled out. Never a confident
   wrong cause.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from mtls_doctor.causes import Cause
from mtls_doctor.defaults import DEFAULT_WARN_DAYS
from mtls_doctor.model import (
    DiagnosisFacts,
    Finding,
    FindingCode,
    HandshakeFacts,
    RevocationStatus,
    Severity,
    Verdict,
)
from mtls_doctor.rules.answer import evidence_clause, sentence
from mtls_doctor.rules.chain import ChainReach, Reach, Trust, check_chain_against_server
from mtls_doctor.rules.fixes import fill_verdict, fix_context, make_verdict
from mtls_doctor.rules.identity import check_identity
from mtls_doctor.rules.outcome import Outcome, outcome
from mtls_doctor.rules.posthandshake import Note, per_path_client_auth
from mtls_doctor.rules.sigalgs import certificate_not_sent
from mtls_doctor.tls.alerts import TLSAlert

#: When several local problems exist and the server does not say which it hit:
#: the chain first (a renewal from an untrusted CA would not help), then usage,
#: revocation, validity, key strength.
PRIORITY: tuple[Cause, ...] = (
    Cause.PRIVATE_KEY_MISSING,
    Cause.PRIVATE_KEY_MISMATCH,
    Cause.UNTRUSTED_ISSUER,
    Cause.ISSUER_ROTATED,
    Cause.MISSING_INTERMEDIATE,
    Cause.WRONG_KEY_USAGE,
    Cause.CERTIFICATE_REVOKED,
    Cause.CERTIFICATE_EXPIRED,
    Cause.CERTIFICATE_NOT_YET_VALID,
    Cause.UNSUPPORTED_KEY,
)

#: What a server's alert says about the cause (OpenSSL's X509 error → alert
#: mapping in ssl/statem/statem_lib.c; Go sends 42 for most, Java 46).
ALERT_HINTS: dict[TLSAlert, tuple[Cause, ...]] = {
    TLSAlert.CERTIFICATE_REVOKED: (Cause.CERTIFICATE_REVOKED,),
    TLSAlert.CERTIFICATE_EXPIRED: (Cause.CERTIFICATE_EXPIRED,),
    TLSAlert.UNSUPPORTED_CERTIFICATE: (Cause.WRONG_KEY_USAGE, Cause.UNSUPPORTED_KEY),
    TLSAlert.UNKNOWN_CA: (Cause.UNTRUSTED_ISSUER, Cause.MISSING_INTERMEDIATE, Cause.ISSUER_ROTATED),
    TLSAlert.DECRYPT_ERROR: (Cause.ISSUER_ROTATED, Cause.PRIVATE_KEY_MISMATCH),
    TLSAlert.BAD_CERTIFICATE: (
        Cause.CERTIFICATE_NOT_YET_VALID,
        Cause.UNSUPPORTED_KEY,
        Cause.ISSUER_ROTATED,
    ),
    TLSAlert.CERTIFICATE_UNKNOWN: (
        Cause.UNTRUSTED_ISSUER,
        Cause.ISSUER_ROTATED,
        Cause.CERTIFICATE_EXPIRED,
    ),
}
#: Alerts and pages that mean "your chain did not verify" without saying why.
_CHAIN_REFUSALS = frozenset(
    {
        TLSAlert.BAD_CERTIFICATE,
        TLSAlert.CERTIFICATE_UNKNOWN,
        TLSAlert.UNKNOWN_CA,
        TLSAlert.DECRYPT_ERROR,
    }
)
_NGINX_NO_CERT = "No required SSL certificate was sent"
_CHAIN_CAUSES = frozenset(
    {Cause.UNTRUSTED_ISSUER, Cause.MISSING_INTERMEDIATE, Cause.ISSUER_ROTATED}
)


def _blocking(findings: Iterable[Finding]) -> list[Cause]:
    present = {f.cause for f in findings if f.cause is not None and f.severity is Severity.ERROR}
    return [cause for cause in PRIORITY if cause in present]


def _first_message(findings: list[Finding], cause: Cause) -> str:
    return next((f.message for f in findings if f.cause is cause), "")


def diagnose(
    facts: DiagnosisFacts, now: datetime, warn_days: int = DEFAULT_WARN_DAYS
) -> tuple[tuple[Finding, ...], Verdict]:
    """All findings, and the verdict: the cause that blocks first."""
    findings: list[Finding] = []
    identity = facts.identity
    if identity is not None:
        findings.extend(check_identity(identity, now, warn_days))
    findings.extend(_revocation_findings(facts))
    attempt = facts.attempt
    reach = ChainReach(Reach.UNKNOWN)
    if identity is not None and attempt is not None and facts.chain is not None:
        if attempt.certificate_requested:
            reach, chain_findings = check_chain_against_server(
                identity, facts.chain, attempt.acceptable_ca_names
            )
            findings.extend(chain_findings)
    findings.extend(
        Finding(
            code=FindingCode.BETTER_IDENTITY_AVAILABLE,
            severity=Severity.INFO,
            message=f"{alt.identity.source} ({alt.identity.certificate.subject}) fits "
            "this server" + (" and was accepted." if alt.accepted else "."),
        )
        for alt in facts.alternatives
        if alt.fits
    )
    verdict = fill_verdict(_decide(facts, findings, reach), fix_context(facts))
    return tuple(findings), verdict


def _revocation_findings(facts: DiagnosisFacts) -> list[Finding]:
    out = []
    for item in facts.revocation:
        about = f" ({item.subject})" if item.subject else ""
        if item.status is RevocationStatus.REVOKED:
            out.append(
                Finding(
                    code=Cause.CERTIFICATE_REVOKED,
                    severity=Severity.ERROR,
                    cause=Cause.CERTIFICATE_REVOKED,
                    message=f"{item.method.upper()} says the certificate{about} is revoked"
                    + (f": {item.detail}" if item.detail else "."),
                )
            )
        elif item.status is RevocationStatus.UNKNOWN:
            out.append(
                Finding(
                    code=FindingCode.REVOCATION_UNKNOWN,
                    severity=Severity.WARNING,
                    message=f"Revocation status{about} could not be established: {item.detail}.",
                )
            )
        elif item.status is RevocationStatus.SKIPPED and item.detail != "offline":
            out.append(
                Finding(
                    code=FindingCode.REVOCATION_NOT_CHECKED,
                    severity=Severity.INFO,
                    message=f"Revocation{about} was not checked: {item.detail}.",
                )
            )
    return out


def _decide(facts: DiagnosisFacts, findings: list[Finding], chain: ChainReach) -> Verdict:
    reach = chain.reach
    identity = facts.identity
    if identity is None:
        return _without_certificate(facts.without_certificate or facts.attempt)
    blocking = _blocking(findings)
    key_problem = next(
        (c for c in blocking if c in (Cause.PRIVATE_KEY_MISSING, Cause.PRIVATE_KEY_MISMATCH)),
        None,
    )
    attempt = facts.attempt
    if attempt is None:
        probe = facts.without_certificate
        if probe is not None and not probe.certificate_requested:
            return _not_requested(probe)
        cause = key_problem or Cause.REJECTED_UNEXPLAINED
        return make_verdict(
            cause,
            _first_message(findings, cause) + " The TLS library refuses to present it, so no "
            "handshake with it was attempted.",
        )
    result = outcome(attempt)
    if result is Outcome.MISDIRECTED:
        return _misdirected(attempt)
    if result is Outcome.NOT_REQUESTED or not attempt.certificate_requested:
        return _not_requested(attempt)
    if result is Outcome.SERVED:
        return make_verdict(
            Cause.ACCEPTED,
            f"Presented {identity.source} ({identity.certificate.subject}).{_app_note(attempt)}",
        )
    evidence = evidence_clause(attempt)
    if result is Outcome.APP_REFUSED and not blocking:
        app_fix = (attempt.app.fix,) if attempt.app is not None and attempt.app.fix else ()
        return make_verdict(
            Cause.REJECTED_BY_APPLICATION,
            f"The handshake with {identity.certificate.subject} completed, then {evidence}.",
            app_fix,
        )
    if not attempt.certificate_sent:
        return make_verdict(
            Cause.UNSUPPORTED_KEY,
            certificate_not_sent(identity.certificate.key_type, attempt.signature_algorithms),
        )
    if facts.selected_by_user:
        better = next((alt for alt in facts.alternatives if alt.fits), None)
        if better is not None:
            return make_verdict(
                Cause.WRONG_CERTIFICATE_SELECTED,
                f"{identity.source} was refused ({evidence}); {better.identity.source} "
                f"({better.identity.certificate.subject}) fits this server.",
                (f"Use {better.identity.source} ({better.identity.certificate.subject}).",),
            )
    hints = _hints(attempt)
    if blocking:
        chosen = next((c for c in blocking if c in hints), blocking[0])
        return make_verdict(chosen, f"{_first_message(findings, chosen)} Evidence: {evidence}.")
    if Cause.CERTIFICATE_REVOKED in hints and len(hints) == 1:
        return make_verdict(
            Cause.CERTIFICATE_REVOKED,
            f"Evidence: {evidence}; no local check contradicts it.",
        )
    bundle_silent = chain.bundle in (None, Trust.UNDETERMINED)
    if reach is Reach.REACHES and bundle_silent and _rotationevidence(facts, attempt):
        return make_verdict(
            Cause.ISSUER_ROTATED,
            f"The issuer's name is one the server accepts, yet {evidence}: the server holds a "
            "different key under that name.",
        )
    candidates = chain.candidates
    if chain.bundle is Trust.UNDETERMINED:
        candidates = (Cause.UNTRUSTED_ISSUER, Cause.MISSING_INTERMEDIATE)
    if candidates and _refuses_chain(attempt):
        return _ranked(facts, candidates, evidence)
    ruled_out = "expiry, validity dates, key, usage, key strength" + (
        ", the chain against the given client-CA bundle"
        if chain.bundle is Trust.TRUSTED
        else ", issuer versus the accepted CA names"
        if reach is Reach.REACHES
        else ""
    )
    unchecked = []
    if not any(
        r.status in (RevocationStatus.GOOD, RevocationStatus.REVOKED) for r in facts.revocation
    ):
        unchecked.append("revocation (no CRL/OCSP answer)")
    if facts.chain is None or not facts.chain.ca_bundle_given:
        unchecked.append("the server's CA keys (pass --ca-bundle)")
    open_questions = f" Not verifiable from here: {', '.join(unchecked)}." if unchecked else ""
    return make_verdict(
        Cause.REJECTED_UNEXPLAINED,
        f"{sentence(evidence)}, but every local check passes ({ruled_out}).{open_questions}",
    )


def _ranked(facts: DiagnosisFacts, candidates: tuple[Cause, ...], evidence: str) -> Verdict:
    """Several chain causes remain: name the most likely, and say which others are open."""
    first, *others = candidates
    why = {
        Cause.MISSING_INTERMEDIATE: "the client does not send the intermediate found for it",
        Cause.UNTRUSTED_ISSUER: "nothing shows that the server trusts the chain's CA",
    }.get(first, "")
    settle = (
        ""
        if facts.chain is not None and facts.chain.ca_bundle_given
        else " The server's client-CA bundle (--ca-bundle) settles it."
    )
    return make_verdict(
        first,
        f"{sentence(evidence)} and names no CA it accepts, so the cause cannot be proven from "
        f"here; most likely {first}" + (f" ({why})" if why else "") + ", otherwise "
        f"{' or '.join(others)}.{settle}",
    )


def _hints(attempt: HandshakeFacts) -> tuple[Cause, ...]:
    if attempt.alert_received is not None:
        code = attempt.alert_received.code
        return next((h for a, h in ALERT_HINTS.items() if a == code), ())
    if attempt.http is not None and attempt.http.verify_reason:
        from mtls_doctor.protocols.http import reason_causes

        return tuple(Cause(c) for c in reason_causes(attempt.http.verify_reason))
    return ()


def _app_note(facts: HandshakeFacts) -> str:
    """What the application said, when it was not HTTP."""
    app = facts.app
    if app is None:
        return ""
    if app.accepted is None:
        return f" {app.meaning[0].upper()}{app.meaning[1:]}."
    return f" {app.meaning[0].upper()}{app.meaning[1:]} ({app.said})."


def _misdirected(facts: HandshakeFacts) -> Verdict:
    """HTTP 421: the certificate was not judged by the site that was asked for."""
    return make_verdict(
        Cause.CLIENT_AUTH_NOT_REQUESTED,
        f"{sentence(evidence_clause(facts))} (421 Misdirected Request): the server picked a site "
        "for the TLS server name (SNI) it was sent, and that site does not serve this host "
        "name; the site you meant, and its client-certificate rule, was never reached.",
        (
            "Send the site's own name as SNI: use https://NAME[:PORT]/ with --connect-to IP, "
            "or pass --sni NAME (the name the site is configured for).",
        ),
    )


def _rotationevidence(facts: DiagnosisFacts, attempt: HandshakeFacts) -> bool:
    """A refusal of a chain whose issuer *name* is accepted points to a re-keyed CA when:
    the server says so in its alert (unknown_ca, decrypt_error), we know a same-name CA
    with another key, or the refusal is generic but revocation is known good and we hold
    the named CA's certificate ourselves (so we know the key the server does not accept).
    """
    if facts.chain is not None and facts.chain.same_name_other_key:
        return True
    alert = attempt.alert_received
    if alert is not None and alert.code in (TLSAlert.UNKNOWN_CA, TLSAlert.DECRYPT_ERROR):
        return True
    revocation_good = bool(facts.revocation) and all(
        r.status is RevocationStatus.GOOD for r in facts.revocation
    )
    holds_named_ca = facts.chain is not None and any(
        link.certificate.subject in attempt.acceptable_ca_names for link in facts.chain.path
    )
    return revocation_good and holds_named_ca and _refuses_chain(attempt)


def _refuses_chain(attempt: HandshakeFacts) -> bool:
    if attempt.alert_received is not None:
        return attempt.alert_received.code in _CHAIN_REFUSALS
    if attempt.http is not None:
        if attempt.http.verify_reason is not None:
            return bool(set(_hints(attempt)) & _CHAIN_CAUSES)
        return attempt.http.status in (400, 495) and _NGINX_NO_CERT not in attempt.http.first_line
    return attempt.closed_without_answer


def _with_note(cause: Cause, detail: str, note: Note) -> Verdict:
    """The verdict with the per-path client-auth note: its sentence and both fixes."""
    return make_verdict(
        cause, f"{detail} {note.sentence}", (note.user_fix,), server_fixes=(note.server_fix,)
    )


def _not_requested(facts: HandshakeFacts) -> Verdict:
    served = f" ({evidence_clause(facts)})" if facts.http is not None else ""
    note = per_path_client_auth(facts)
    if note is not None:
        return _with_note(
            Cause.CLIENT_AUTH_NOT_REQUESTED,
            f"No CertificateRequest came during the TLS 1.3 handshake{served}.",
            note,
        )
    return make_verdict(
        Cause.CLIENT_AUTH_NOT_REQUESTED,
        f"No CertificateRequest came on this host name and port{served}.",
    )


#: ``accepted`` when no certificate was sent: nothing to have been accepted.
_IN_WITHOUT = "The server let the client in without a certificate."


def _without_certificate(facts: HandshakeFacts | None) -> Verdict:
    if facts is None:
        return make_verdict(Cause.REJECTED_UNEXPLAINED, "No connection was made.")
    result = outcome(facts)
    evidence = evidence_clause(facts)
    if result is Outcome.MISDIRECTED:
        return _misdirected(facts)
    if result is Outcome.NOT_REQUESTED:
        return make_verdict(
            Cause.ACCEPTED,
            "The server does not ask for a client certificate here and served the request."
            + _app_note(facts),
            title=_IN_WITHOUT,
        )
    if result is Outcome.SERVED:
        return make_verdict(
            Cause.ACCEPTED,
            "The server asks for a client certificate but serves clients without one."
            + _app_note(facts),
            title=_IN_WITHOUT,
        )
    if result is Outcome.APP_REFUSED and not facts.certificate_requested:
        note = per_path_client_auth(facts)
        if note is not None:
            return _with_note(
                Cause.REJECTED_BY_APPLICATION, f"Without a certificate, {evidence}.", note
            )
        return make_verdict(Cause.REJECTED_BY_APPLICATION, f"Without a certificate, {evidence}.")
    names = "; ".join(facts.acceptable_ca_names) or "none listed (any CA it trusts)"
    return make_verdict(
        Cause.NO_CERTIFICATE_SENT,
        f"Without a certificate, {evidence}. Accepted CAs: {names}.",
    )
