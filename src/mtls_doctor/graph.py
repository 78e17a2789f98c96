"""The verified issuance graph: every certificate a run knows, and who signed whom.

A fact like the others: frozen, no ``cryptography`` objects, so the walk
(:mod:`mtls_doctor.rules.walk`) and the rules on top of it are tested with
hand-built graphs. The adapter that checks the signatures is
:mod:`mtls_doctor.graphbuild`; it checks each (issuer, subject) pair once.

Nodes are keyed by the certificate's SHA-256 fingerprint; an edge
``(issuer, subject)`` means the issuer's *key* verified the subject's
signature (names alone never make an edge: a rotated CA has the right name
and another key).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from mtls_doctor.model import CertFacts
from mtls_doctor.model import Source as Source  # its home is the model: ChainLink names it

#: Sources that say "the server trusts this certificate".
TRUSTED_SOURCES = frozenset({Source.CA_BUNDLE, Source.SERVER_CA})


@dataclass(frozen=True, slots=True)
class Node:
    """One certificate and every source it was found in."""

    cert: CertFacts
    sources: frozenset[Source]

    @property
    def fp(self) -> str:
        """The certificate's SHA-256 fingerprint (the node's key)."""
        return self.cert.fingerprint_sha256

    @property
    def trusted(self) -> bool:
        """The server trusts it (it is in the server's own CA file)."""
        return bool(self.sources & TRUSTED_SOURCES)

    @property
    def sent(self) -> bool:
        """The client sends it in the handshake."""
        return Source.SENT in self.sources


@dataclass(frozen=True, slots=True)
class CrlNode:
    """A CRL, with the CA certificates whose key verified its signature."""

    #: SHA-256 of the DER CRL.
    fp: str
    #: The CRL's issuer name (RFC 4514).
    issuer: str
    #: Fingerprints of the certificates whose key signed it (usually one).
    signed_by: tuple[str, ...] = ()
    this_update: datetime | None = None
    next_update: datetime | None = None
    #: Serial numbers it lists, lower-case hex (as :attr:`CertFacts.serial`).
    revoked: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class IssuanceGraph:
    """Nodes by fingerprint, verified signature edges, CRLs."""

    nodes: Mapping[str, Node]
    #: ``(issuer fp, subject fp)``: the issuer's key verified the subject's signature.
    signed: frozenset[tuple[str, str]]
    crls: tuple[CrlNode, ...] = ()
    _by_subject: dict[str, tuple[Node, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_subject: dict[str, list[Node]] = {}
        for node in self.nodes.values():
            by_subject.setdefault(node.cert.subject, []).append(node)
        object.__setattr__(
            self, "_by_subject", {name: tuple(nodes) for name, nodes in by_subject.items()}
        )

    @classmethod
    def of(
        cls,
        nodes: Iterable[Node],
        signed: Iterable[tuple[str, str]],
        crls: Iterable[CrlNode] = (),
    ) -> IssuanceGraph:
        """A graph from nodes (merged by fingerprint) and edges."""
        merged: dict[str, Node] = {}
        for node in nodes:
            known = merged.get(node.fp)
            merged[node.fp] = (
                node if known is None else Node(known.cert, known.sources | node.sources)
            )
        return cls(merged, frozenset(signed), tuple(crls))

    def named(self, name: str) -> tuple[Node, ...]:
        """Every certificate whose subject is ``name``."""
        return self._by_subject.get(name, ())

    def issuers(self, fp: str) -> tuple[Node, ...]:
        """The certificates whose key signed ``fp`` (a self-signed one includes itself)."""
        cert = self.nodes[fp].cert
        return tuple(n for n in self.named(cert.issuer) if (n.fp, fp) in self.signed)

    def rivals(self, fp: str) -> tuple[Node, ...]:
        """Certificates carrying ``fp``'s issuer name whose key did NOT sign it."""
        cert = self.nodes[fp].cert
        return tuple(
            n for n in self.named(cert.issuer) if (n.fp, fp) not in self.signed and n.fp != fp
        )

    def self_signed(self, fp: str) -> bool:
        """Subject equals issuer and its own key verified it."""
        return (fp, fp) in self.signed and self.nodes[fp].cert.subject == self.nodes[fp].cert.issuer

    def trusted(self) -> tuple[Node, ...]:
        """The certificates the server trusts."""
        return tuple(n for n in self.nodes.values() if n.trusted)
