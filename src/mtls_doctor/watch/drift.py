"""Pure rules of ``watch``: usage, expiry, and issuing CA x server drift.

Whether a server's bundle trusts an issuing CA is decided here by name *and*
key (SPKI hash when both certificates are known, else subject / authority
key identifiers), one level up the CA's known chain at a time. A rotated CA
keeps its name, so a same-name certificate with another key in a bundle is
the signature of a stale bundle. When only the advertised CA names are known
(a probe), a name match is reported as such, unconfirmed, unless a real
handshake with an identity issued by that CA settled it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from mtls_doctor.causes import Cause
from mtls_doctor.graph import IssuanceGraph
from mtls_doctor.model import CertFacts, Finding, FindingCode, IdentityFacts, Severity
from mtls_doctor.rules.identity import days_left
from mtls_doctor.rules.probe import ClientAuth
from mtls_doctor.rules.walk import End, reaches_trust
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


def _same_key(cert: CertFacts | None, key_id: str | None, spki: str | None) -> bool | None:
    """Whether ``cert`` has the key described; None when nothing can be compared."""
    if cert is None:
        return None
    if spki is not None:
        return cert.spki_sha256 == spki
    if key_id is not None and cert.subject_key_id is not None:
        return cert.subject_key_id == key_id
    return None


def issued_by(identity: IdentityFacts, ca: IssuingCA) -> bool:
    """``ca`` issued ``identity``: same name and, where known, same key."""
    cert = identity.certificate
    if cert.issuer != ca.subject:
        return False
    parent = identity.issuing_path[0] if identity.issuing_path else None
    if parent is not None and ca.certificate is not None:
        return parent.spki_sha256 == ca.certificate.spki_sha256
    if cert.authority_key_id is not None and ca.key_id is not None:
        return cert.authority_key_id == ca.key_id
    if parent is not None and ca.key_id is not None and parent.subject_key_id is not None:
        return parent.subject_key_id == ca.key_id
    return True  # names match and no key can be compared


def issuing_cas(
    identities: Sequence[IdentityFacts], explicit: Sequence[IssuingCA]
) -> tuple[IssuingCA, ...]:
    """The CAs given, then every other issuer of an identity (once per name and key)."""
    cas = list(explicit)
    for identity in identities:
        if any(issued_by(identity, ca) for ca in cas):
            continue
        cert = identity.certificate
        parent = identity.issuing_path[0] if identity.issuing_path else None
        if parent is not None:
            cas.append(
                IssuingCA(
                    subject=parent.subject,
                    key_id=parent.subject_key_id,
                    certificate=parent,
                    chain=identity.issuing_path[1:],
                    source=f"issuer of {identity.source}",
                )
            )
        else:
            cas.append(
                IssuingCA(
                    subject=cert.issuer,
                    key_id=cert.authority_key_id,
                    source=f"issuer named by {identity.source}",
                )
            )
    return tuple(cas)


@dataclass(frozen=True, slots=True)
class _Level:
    subject: str
    key_id: str | None
    spki: str | None
    issuer: str | None
    issuer_key_id: str | None


def _levels(ca: IssuingCA) -> list[_Level]:
    """The CA, then its known issuers."""
    levels = []
    cert = ca.certificate
    levels.append(
        _Level(
            ca.subject,
            ca.key_id,
            cert.spki_sha256 if cert else None,
            cert.issuer if cert else None,
            cert.authority_key_id if cert else None,
        )
    )
    levels.extend(
        _Level(c.subject, c.subject_key_id, c.spki_sha256, c.issuer, c.authority_key_id)
        for c in ca.chain
    )
    return levels


@dataclass(frozen=True, slots=True, kw_only=True)
class Trust:
    """How a bundle relates to an issuing CA."""

    acceptance: Acceptance
    #: The trusted certificate that accepts the CA (its own or an issuer's).
    via: CertFacts | None = None
    #: A trusted certificate with the CA's (or an issuer's) name but another key.
    stale: CertFacts | None = None
    #: The key id the bundle should have had under ``stale``'s name.
    expected_key_id: str | None = None


def trust_in_graph(ca: IssuingCA, graph: IssuanceGraph) -> Trust | None:
    """Trust decided on the verified issuance graph; None when the CA is not in it."""
    if ca.certificate is None or ca.certificate.fingerprint_sha256 not in graph.nodes:
        return None
    path = reaches_trust(graph, ca.certificate.fingerprint_sha256)
    if path.end is End.STOPPED:
        return Trust(acceptance=Acceptance.BY_KEY, via=path.top.cert)
    on_path = {node.fp for node in path.nodes}
    for node in path.nodes:
        cert = node.cert
        for name, key_id in (
            (cert.subject, cert.subject_key_id),
            (cert.issuer, cert.authority_key_id),
        ):
            stale = next((n for n in graph.named(name) if n.trusted and n.fp not in on_path), None)
            if stale is not None:
                return Trust(
                    acceptance=Acceptance.ROTATED, stale=stale.cert, expected_key_id=key_id
                )
    return Trust(acceptance=Acceptance.REJECTED)


def trust_in_bundle(
    ca: IssuingCA, trusted: Sequence[CertFacts], graph: IssuanceGraph | None = None
) -> Trust:
    """Does a bundle trust ``ca`` by name and key?

    On the verified issuance graph when the CA's certificate is in it (the
    signatures decide). Otherwise (an issuer known only by the name and
    authority key id its identities carry) each known level of the CA's
    chain is compared with the bundle, first as itself (name and key), then
    through its issuer (name and authority key identifier).
    """
    if graph is not None:
        decided = trust_in_graph(ca, graph)
        if decided is not None:
            return decided
    levels = _levels(ca)
    name_only: CertFacts | None = None
    for level in levels:
        for cert in trusted:
            if cert.subject != level.subject:
                continue
            same = _same_key(cert, level.key_id, level.spki)
            if same:
                return Trust(acceptance=Acceptance.BY_KEY, via=cert)
            if same is None:
                name_only = name_only or cert
        if level.issuer is not None and level.issuer != level.subject:
            for cert in trusted:
                if cert.subject != level.issuer:
                    continue
                same = _same_key(cert, level.issuer_key_id, None)
                if same:
                    return Trust(acceptance=Acceptance.BY_KEY, via=cert)
                if same is None:
                    name_only = name_only or cert
    if name_only is not None:
        return Trust(acceptance=Acceptance.BY_NAME, via=name_only)
    for level in levels:
        pairs = ((level.subject, level.key_id), (level.issuer, level.issuer_key_id))
        for name, key_id in pairs:
            stale = next((c for c in trusted if name is not None and c.subject == name), None)
            if stale is not None:
                return Trust(acceptance=Acceptance.ROTATED, stale=stale, expected_key_id=key_id)
    return Trust(acceptance=Acceptance.REJECTED)


def ca_names(ca: IssuingCA) -> tuple[str, ...]:
    """Names a server may advertise to accept ``ca``: its own and its issuers'."""
    names: list[str] = []
    for level in _levels(ca):
        names.append(level.subject)
        if level.issuer is not None:
            names.append(level.issuer)
    return tuple(dict.fromkeys(names))


def acceptance(
    index: int, ca: IssuingCA, server: ServerView
) -> tuple[Acceptance, Trust | Handshake | None]:
    """What is known about ``server`` accepting ``ca``, and the evidence."""
    if server.client_auth is None:
        return Acceptance.UNREACHABLE, None
    if server.client_auth is ClientAuth.NOT_REQUESTED:
        return Acceptance.NOT_REQUESTED, None
    shake = next((h for h in server.handshakes if h.ca == index), None)
    named = server.advertised is not None and bool(set(ca_names(ca)) & set(server.advertised))
    if shake is not None:
        if shake.accepted:
            return Acceptance.BY_HANDSHAKE, shake
        return (Acceptance.ROTATED if named else Acceptance.REJECTED), shake
    if server.trusted is not None:
        trust = trust_in_bundle(ca, server.trusted, server.graph)
        return trust.acceptance, trust
    if named:
        return Acceptance.BY_NAME, None
    if not server.advertised:
        return Acceptance.UNKNOWN, None
    return Acceptance.NOT_ADVERTISED, None


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
