"""Pure rules of ``watch``: which issuing CAs there are, and whether a server accepts each.

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

from mtls_doctor.graph import IssuanceGraph
from mtls_doctor.model import CertFacts, IdentityFacts
from mtls_doctor.rules.probe import ClientAuth
from mtls_doctor.rules.walk import End, reaches_trust
from mtls_doctor.watch.facts import (
    Acceptance,
    Handshake,
    IssuingCA,
    ServerView,
)

__all__ = [
    "Trust",
    "acceptance",
    "ca_names",
    "issued_by",
    "issuing_cas",
    "trust_in_bundle",
    "trust_in_graph",
]


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
