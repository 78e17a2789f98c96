"""Pure rules of ``watch``: identity expiry and usage, and the drift report.

Each identity's days left and state; then, for every issuing CA x server
cell (whether the server accepts the CA is ``trust.py``'s judgement), the
findings an operator acts on: a stale bundle after a CA rotation, a CA a
server does not trust or does not advertise, trust that ends before the
identities it carries, an old CA still trusted after its rotation.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from mtls_doctor.causes import Cause
from mtls_doctor.model import CertFacts, Finding, FindingCode, IdentityFacts, Severity
from mtls_doctor.rules.identity import days_left
from mtls_doctor.watch.facts import (
    Acceptance,
    DriftFinding,
    Handshake,
    IdentityStatus,
    IssuingCA,
    ServerView,
    Usage,
    WatchFacts,
    WatchReport,
    short_key_id,
)
from mtls_doctor.watch.trust import Trust, acceptance, issued_by

__all__ = ["identity_status", "usage_of", "watch_report"]

DEFAULT_CRIT_DAYS = 7
#: How many identity sources a message names before it counts the rest.
NAMED_IDENTITIES = 5


def usage_of(cert: CertFacts) -> Usage:
    """Client, server or both, from the extended key usage (absent: any usage)."""
    eku = cert.extended_key_usage
    if eku is None or "anyExtendedKeyUsage" in eku:
        return Usage.BOTH
    client, server = "clientAuth" in eku, "serverAuth" in eku
    if client and server:
        return Usage.BOTH
    return Usage.CLIENT if client else Usage.SERVER if server else Usage.OTHER


def identity_status(
    identity: IdentityFacts, now: datetime, *, warn_days: int, crit_days: int
) -> IdentityStatus:
    """Days left, state and findings of one identity."""
    cert = identity.certificate
    left = days_left(cert, now)
    usage = usage_of(cert)
    findings: list[Finding] = []
    when = f"{cert.not_after:%Y-%m-%d}"
    if now > cert.not_after:
        state = "expired"
        findings.append(
            Finding(
                code=Cause.CERTIFICATE_EXPIRED,
                severity=Severity.ERROR,
                cause=Cause.CERTIFICATE_EXPIRED,
                message=f"Expired on {when}: renew it.",
            )
        )
    elif now < cert.not_before:
        state = "not_yet_valid"
        findings.append(
            Finding(
                code=Cause.CERTIFICATE_NOT_YET_VALID,
                severity=Severity.ERROR,
                cause=Cause.CERTIFICATE_NOT_YET_VALID,
                message=f"Valid only from {cert.not_before:%Y-%m-%d}.",
            )
        )
    elif left <= crit_days:
        state = "critical"
        findings.append(
            Finding(
                code=FindingCode.EXPIRES_CRITICAL,
                severity=Severity.ERROR,
                message=f"Expires on {when}, in {left} day{'s' if left != 1 else ''}: "
                "renew it now.",
            )
        )
    elif left <= warn_days:
        state = "warning"
        findings.append(
            Finding(
                code=FindingCode.EXPIRING_SOON,
                severity=Severity.WARNING,
                message=f"Expires on {when}, in {left} days: plan the renewal.",
            )
        )
    else:
        state = "ok"
    if usage in (Usage.SERVER, Usage.OTHER):
        findings.append(
            Finding(
                code=FindingCode.NOT_FOR_CLIENT_AUTH,
                severity=Severity.INFO,
                message="Its extended key usage does not allow TLS client authentication "
                "(not a client identity).",
            )
        )
    return IdentityStatus(
        identity=identity, usage=usage, days_left=left, state=state, findings=tuple(findings)
    )


def _listing(sources: Sequence[str]) -> str:
    named = ", ".join(sources[:NAMED_IDENTITIES])
    more = len(sources) - NAMED_IDENTITIES
    return named + (f" and {more} more" if more > 0 else "")


def _rejected_tail(live: Sequence[str]) -> str:
    if not live:
        return "certificates it issues will be rejected there"
    count = len(live)
    return (
        f"{count} current identit{'ies' if count != 1 else 'y'} issued by it "
        f"{'are' if count != 1 else 'is'} rejected there: {_listing(live)}"
    )


def _pair_findings(
    ca: IssuingCA,
    server: ServerView,
    state: Acceptance,
    evidence: Trust | Handshake | None,
    live: Sequence[IdentityFacts],
) -> list[DriftFinding]:
    """Findings about one CA x server cell."""
    sources = tuple(i.source for i in live)
    where = server.name

    def make(
        code: FindingCode | Cause,
        severity: Severity,
        message: str,
        cause: Cause | None = None,
        **extra: object,
    ) -> DriftFinding:
        return DriftFinding(
            finding=Finding(code=code, severity=severity, message=message, cause=cause),
            ca=ca,
            server=where,
            acceptance=state,
            identities=sources,
            trusted_key_id=extra.get("trusted_key_id"),  # type: ignore[arg-type]
        )

    new = "" if live else "new "
    if state is Acceptance.ROTATED and isinstance(evidence, Trust) and evidence.stale is not None:
        stale = evidence.stale
        return [
            make(
                Cause.ISSUER_ROTATED,
                Severity.ERROR,
                f"{where} trusts {stale.subject} with key id "
                f"{short_key_id(stale.subject_key_id)}, not key id "
                f"{short_key_id(evidence.expected_key_id)} of the {new}issuing CA {ca.label}: "
                f"{_rejected_tail(sources)}. Add the new CA certificate to its client-CA "
                "bundle (keep the old one until no certificate it issued is in use).",
                Cause.ISSUER_ROTATED,
                trusted_key_id=stale.subject_key_id,
            )
        ]
    if isinstance(evidence, Handshake) and not evidence.accepted:
        if state is Acceptance.ROTATED:
            message = (
                f"{where} lists {ca.subject} among its accepted CA names but refused "
                f"{evidence.identity}, issued by key id {short_key_id(ca.key_id)} "
                f"({evidence.evidence}): its client-CA bundle most likely holds an older key "
                "under the same name. Add the new CA certificate to it."
            )
            return [make(Cause.ISSUER_ROTATED, Severity.ERROR, message, Cause.ISSUER_ROTATED)]
        message = (
            f"{where} refused {evidence.identity}, issued by {ca.label} ({evidence.evidence}), "
            f"and does not list that CA among its accepted CA names: {_rejected_tail(sources)}."
        )
        code = (
            FindingCode.IDENTITIES_NOT_ACCEPTED if sources else FindingCode.ISSUING_CA_NOT_ACCEPTED
        )
        return [make(code, Severity.ERROR, message, Cause.UNTRUSTED_ISSUER)]
    if state is Acceptance.REJECTED:
        code = (
            FindingCode.IDENTITIES_NOT_ACCEPTED if sources else FindingCode.ISSUING_CA_NOT_ACCEPTED
        )
        return [
            make(
                code,
                Severity.ERROR,
                f"{where} does not trust the {new}issuing CA {ca.label}: "
                f"{_rejected_tail(sources)}. Add the CA certificate to its client-CA bundle.",
                Cause.UNTRUSTED_ISSUER,
            )
        ]
    if state is Acceptance.NOT_ADVERTISED:
        return [
            make(
                FindingCode.ISSUING_CA_NOT_ADVERTISED,
                Severity.WARNING,
                f"{where} does not list {ca.subject} (or an issuer of it) among the CA names it "
                "accepts: it most likely does not trust the CA, and browsers will not offer "
                "its certificates. "
                + (
                    "No identity issued by it is in the inventory to settle this with a handshake."
                    if not sources
                    else ""
                ),
            )
        ]
    if state is Acceptance.BY_NAME:
        return [
            make(
                FindingCode.ISSUING_CA_KEY_UNCONFIRMED,
                Severity.INFO,
                f"{where} accepts the name {ca.subject}, but a rotated CA keeps its name: "
                "whether it trusts key id "
                f"{short_key_id(ca.key_id)} is unknown. An identity issued by this CA in the "
                "inventory (--cert) settles it with one handshake.",
            )
        ]
    if state is Acceptance.UNKNOWN:
        return [
            make(
                FindingCode.ISSUING_CA_UNCONFIRMED,
                Severity.INFO,
                f"{where} sends no CA names, so whether it accepts {ca.label} is unknown; an "
                "identity issued by this CA in the inventory (--cert) settles it with one "
                "handshake.",
            )
        ]
    if state is Acceptance.BY_KEY and isinstance(evidence, Trust) and evidence.via is not None:
        anchor = evidence.via
        outliving = [i.source for i in live if i.certificate.not_after > anchor.not_after]
        if outliving:
            return [
                make(
                    FindingCode.TRUST_ENDS_BEFORE_IDENTITIES,
                    Severity.WARNING,
                    f"{where} accepts {ca.label} through {anchor.subject}, which expires on "
                    f"{anchor.not_after:%Y-%m-%d}; {len(outliving)} identit"
                    f"{'ies' if len(outliving) != 1 else 'y'} outlive it and will be rejected "
                    f"from then on: {_listing(outliving)}. Renew that CA certificate in the "
                    "bundle.",
                )
            ]
    return []


def _successor(index: int, cas: Sequence[IssuingCA], live: dict[int, list[IdentityFacts]]) -> bool:
    """Another CA with the same name and another key issues current identities."""
    ca = cas[index]
    return any(
        other.subject == ca.subject and other.key_id != ca.key_id and live[j]
        for j, other in enumerate(cas)
        if j != index
    )


def _retired(
    index: int,
    cas: Sequence[IssuingCA],
    issued: dict[int, list[IdentityFacts]],
    live: dict[int, list[IdentityFacts]],
) -> bool:
    """No current identity, and either a successor or only expired identities: an old CA."""
    return not live[index] and (bool(issued[index]) or _successor(index, cas, live))


def _old_ca_findings(
    index: int,
    ca: IssuingCA,
    cas: Sequence[IssuingCA],
    servers: Sequence[ServerView],
    states: dict[tuple[int, int], Acceptance],
    live: dict[int, list[IdentityFacts]],
) -> list[DriftFinding]:
    """An explicit, retired CA (see :func:`_retired`) that a bundle still trusts by key."""
    if not ca.explicit:
        return []
    successor = _successor(index, cas, live)
    reason = (
        "a CA of the same name with another key issues the current ones"
        if successor
        else "every identity it issued in the inventory has expired"
    )
    return [
        DriftFinding(
            finding=Finding(
                code=FindingCode.OLD_ISSUING_CA_STILL_TRUSTED,
                severity=Severity.WARNING,
                message=f"{server.name} still trusts the old issuing CA {ca.label}, although "
                f"no current identity in the inventory was issued by it ({reason}). Remove it "
                "from the client-CA bundle once the rotation is complete.",
            ),
            ca=ca,
            server=server.name,
            acceptance=states[(index, j)],
        )
        for j, server in enumerate(servers)
        if states[(index, j)] is Acceptance.BY_KEY
    ]


def watch_report(facts: WatchFacts, *, warn_days: int, crit_days: int) -> WatchReport:
    """Statuses, the CA x server matrix and every drift finding."""
    statuses = tuple(
        identity_status(i, facts.now, warn_days=warn_days, crit_days=crit_days)
        for i in facts.identities
    )
    cas = facts.issuing_cas
    issued = {
        index: [i for i in facts.identities if issued_by(i, ca)] for index, ca in enumerate(cas)
    }
    live = {
        index: [i for i in items if i.certificate.not_after >= facts.now]
        for index, items in issued.items()
    }
    matrix: dict[tuple[int, int], Acceptance] = {}
    drift: list[DriftFinding] = []
    retired = {index for index in range(len(cas)) if _retired(index, cas, issued, live)}
    for j, server in enumerate(facts.servers):
        if server.error is not None:
            drift.append(
                DriftFinding(
                    finding=Finding(
                        code=FindingCode.SERVER_UNREACHABLE,
                        severity=Severity.WARNING,
                        message=f"{server.name}: {server.error}",
                    ),
                    server=server.name,
                    acceptance=Acceptance.UNREACHABLE,
                )
            )
        for index, ca in enumerate(cas):
            state, evidence = acceptance(index, ca, server)
            matrix[(index, j)] = state
            if index not in retired:
                drift.extend(_pair_findings(ca, server, state, evidence, live[index]))
    for index in sorted(retired):
        drift.extend(_old_ca_findings(index, cas[index], cas, facts.servers, matrix, live))
    return WatchReport(facts=facts, identities=statuses, matrix=matrix, drift=tuple(drift))
