"""Adapter: certificates and CRLs → the verified issuance graph.

Collects every certificate the run knows, tagged with where it came from,
and checks each signature once: an edge exists only where the issuer's key
verifies (``cryptography``'s ``verify_directly_issued_by``), and a CRL is
linked to the CA certificates whose key signed it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from mtls_doctor.graph import CrlNode, IssuanceGraph, Node, Source
from mtls_doctor.x509facts import cert_facts, is_issued_by

_SHA256 = hashes.SHA256()


@dataclass(slots=True)
class GraphBuilder:
    """Add certificates (and CRLs) as they are found; ``graph()`` any time."""

    certificates: dict[str, x509.Certificate] = field(default_factory=dict)
    sources: dict[str, set[Source]] = field(default_factory=dict)
    crls: dict[str, x509.CertificateRevocationList] = field(default_factory=dict)
    #: Signature checks already made, so each pair is verified once per run.
    _checked: dict[tuple[str, str], bool] = field(default_factory=dict)

    def add(self, certs: Iterable[x509.Certificate], source: Source) -> list[str]:
        """Add certificates found in ``source``; returns their fingerprints."""
        out = []
        for cert in certs:
            fp = cert.fingerprint(_SHA256).hex()
            self.certificates.setdefault(fp, cert)
            self.sources.setdefault(fp, set()).add(source)
            out.append(fp)
        return out

    def add_crls(self, crls: Iterable[x509.CertificateRevocationList]) -> None:
        """Add CRLs (linked to the CA whose key signed them)."""
        for crl in crls:
            self.crls.setdefault(crl.fingerprint(_SHA256).hex(), crl)

    def certificate(self, fp: str) -> x509.Certificate:
        """The live certificate behind a node (for revocation lookups, handshakes)."""
        return self.certificates[fp]

    def _issued(self, issuer: str, subject: str) -> bool:
        key = (issuer, subject)
        if key not in self._checked:
            self._checked[key] = is_issued_by(self.certificates[subject], self.certificates[issuer])
        return self._checked[key]

    def graph(self) -> IssuanceGraph:
        """The graph of everything added so far."""
        by_name: dict[x509.Name, list[str]] = {}
        for fp, cert in self.certificates.items():
            by_name.setdefault(cert.subject, []).append(fp)
        signed = [
            (issuer, fp)
            for fp, cert in self.certificates.items()
            for issuer in by_name.get(cert.issuer, ())
            if self._issued(issuer, fp)
        ]
        nodes = [
            Node(cert_facts(cert), frozenset(self.sources[fp]))
            for fp, cert in self.certificates.items()
        ]
        crls = [
            CrlNode(
                fp=fp,
                issuer=crl.issuer.rfc4514_string(),
                signed_by=tuple(
                    issuer
                    for issuer in by_name.get(crl.issuer, ())
                    if _crl_signed(crl, self.certificates[issuer])
                ),
            )
            for fp, crl in self.crls.items()
        ]
        return IssuanceGraph.of(nodes, signed, crls)


def _crl_signed(crl: x509.CertificateRevocationList, ca: x509.Certificate) -> bool:
    try:
        return crl.is_signature_valid(ca.public_key())  # type: ignore[arg-type]
    except (TypeError, ValueError):  # a key type that cannot sign CRLs
        return False
