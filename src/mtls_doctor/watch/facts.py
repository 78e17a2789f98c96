"""Facts of a watch run: issuing CAs, servers as observed, and the report.

Frozen and free of ``cryptography`` objects, like :mod:`mtls_doctor.model`,
so the drift rules are tested with hand-built values and a fixed ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from mtls_doctor.graph import IssuanceGraph
from mtls_doctor.model import CertFacts, Finding, IdentityFacts, LoadProblem
from mtls_doctor.rules.probe import ClientAuth


class Usage(StrEnum):
    """What a certificate may authenticate, from its extended key usage."""

    CLIENT = "client"
    SERVER = "server"
    BOTH = "both"
    #: Neither clientAuth nor serverAuth (e.g. emailProtection only).
    OTHER = "other"


class Acceptance(StrEnum):
    """What is known about one server accepting one issuing CA."""

    #: The server's bundle trusts the CA's name *and* key (configuration known).
    BY_KEY = "accepted_by_key"
    #: A handshake with an identity issued by the CA was accepted.
    BY_HANDSHAKE = "accepted_by_handshake"
    #: The CA's name (or an issuer's) is among the advertised names; the key is unknown.
    BY_NAME = "accepted_by_name"
    #: The bundle trusts a CA of the same name with another key: a stale bundle.
    ROTATED = "rotated"
    #: The bundle does not trust the CA, or a handshake with its identity was refused.
    REJECTED = "rejected"
    #: The server lists CA names and this CA's is not among them (no handshake settled it).
    NOT_ADVERTISED = "not_advertised"
    #: The server sends no CA names and no handshake settled it.
    UNKNOWN = "unknown"
    #: The server does not ask for client certificates.
    NOT_REQUESTED = "not_requested"
    #: The server could not be probed.
    UNREACHABLE = "unreachable"

    @property
    def accepted(self) -> bool:
        """Accepted by key, by handshake or (unconfirmed) by name."""
        return self in (Acceptance.BY_KEY, Acceptance.BY_HANDSHAKE, Acceptance.BY_NAME)


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuingCA:
    """A CA that issues client certificates: given (``--issuing-ca``) or seen as an issuer."""

    subject: str
    #: Subject key identifier (hex); None when the certificate is unknown or has none.
    key_id: str | None
    #: The certificate, when known (always for ``--issuing-ca``).
    certificate: CertFacts | None = None
    #: Its own issuers, as far as known (the rest of the ``--issuing-ca`` file).
    chain: tuple[CertFacts, ...] = ()
    #: Given explicitly (``--issuing-ca``), not only inferred from identities.
    explicit: bool = False
    #: Where it came from, for people.
    source: str = ""

    @property
    def label(self) -> str:
        """``subject (key id 1a2b...)``."""
        return f"{self.subject} (key id {short_key_id(self.key_id)})"


def short_key_id(key_id: str | None, size: int = 8) -> str:
    """A key identifier as people compare them: colon-separated, the first ``size`` bytes."""
    if not key_id:
        return "unknown"
    pairs = [key_id[i : i + 2] for i in range(0, len(key_id), 2)]
    return ":".join(pairs[:size]) + ("..." if len(pairs) > size else "")


@dataclass(frozen=True, slots=True, kw_only=True)
class Handshake:
    """One settling handshake: an identity issued by a CA presented to a server."""

    #: Index of the CA in :attr:`WatchFacts.issuing_cas`.
    ca: int
    identity: str
    accepted: bool
    #: What the server did, in words (``TLS alert 48 (unknown_ca)``, ``HTTP 200``).
    evidence: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerView:
    """One server as watch sees it: probed over the network or read from its configuration."""

    #: The target (``host:port``) or ``file:line`` of a configuration block.
    name: str
    #: ``probe`` or ``config``.
    source: str
    #: ``required`` | ``optional`` | ``not_requested``; None when the probe failed.
    client_auth: ClientAuth | None
    #: The CA names the server sends (RFC 4514); None when not known.
    advertised: tuple[str, ...] | None = None
    #: What the server trusts for client certificates; None when its bundle is unknown.
    trusted: tuple[CertFacts, ...] | None = None
    #: Its trusted certificates and every known CA, with verified signature edges
    #: (configurations only): trust is then decided by signatures, not by key ids.
    graph: IssuanceGraph | None = None
    #: Why the probe failed (unreachable, timeout, not TLS), None when it worked.
    error: str | None = None
    #: Seconds the probe took; None for configurations.
    duration: float | None = None
    handshakes: tuple[Handshake, ...] = ()
    #: A short description for people (``nginx server 127.0.0.1:8443 (api)``).
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchFacts:
    """Everything gathered by one watch run."""

    now: datetime
    identities: tuple[IdentityFacts, ...]
    issuing_cas: tuple[IssuingCA, ...]
    servers: tuple[ServerView, ...]
    problems: tuple[LoadProblem, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class DriftFinding:
    """A finding about one issuing CA and one server (or the CA alone)."""

    finding: Finding
    ca: IssuingCA | None = None
    server: str | None = None
    acceptance: Acceptance | None = None
    #: Sources of the identities concerned.
    identities: tuple[str, ...] = ()
    #: The key id the server trusts under the CA's name, for a stale bundle.
    trusted_key_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class IdentityStatus:
    """One identity with what watch says about it."""

    identity: IdentityFacts
    usage: Usage
    days_left: int
    #: ``ok`` | ``warning`` | ``critical`` | ``expired`` | ``not_yet_valid``.
    state: str
    findings: tuple[Finding, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchReport:
    """The result of ``watch``: the inventory, the matrix, the drift."""

    facts: WatchFacts
    identities: tuple[IdentityStatus, ...]
    #: (CA index, server index) → acceptance.
    matrix: dict[tuple[int, int], Acceptance] = field(default_factory=dict)
    drift: tuple[DriftFinding, ...] = ()

    @property
    def has_findings(self) -> bool:
        """Any warning or error: the exit code 1 of a cron job."""
        findings = [
            *(f for item in self.identities for f in item.findings),
            *(d.finding for d in self.drift),
        ]
        return any(f.severity != "info" for f in findings)
