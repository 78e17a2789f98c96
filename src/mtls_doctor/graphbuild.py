"""Adapter: certificates and CRLs → the verified issuance graph.

Collects every certificate the run knows, tagged with where it came from,
and checks each signature once: an edge exists only where the issuer's key
verifies (``cryptography``'s ``verify_directly_issued_by``), and a CRL is
linked to the CA certificates whose key signed it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes

from mtls_doctor.graph import CrlNode, IssuanceGraph, Node, Source
from mtls_doctor.model import CertFacts
from mtls_doctor.x509facts import cert_facts, is_issued_by, key_ids_disagree

#: Signatures checked for one certificate among CAs of its issuer's name.
MAX_SIGNATURE_CHECKS = 8

_SHA256 = hashes.SHA256()


@dataclass(slots=True)
class GraphBuilder:
    """Add certificates (and CRLs) as they are found; ``graph()`` any time."""

    certificates: dict[str, x509.Certificate] = field(default_factory=dict)
    sources: dict[str, set[Source]] = field(default_factory=dict)
    crls: dict[str, x509.CertificateRevocationList] = field(default_factory=dict)
    #: Signature checks already made, so each pair is verified once per run (may be
    #: shared by several builders: lint-server builds one graph per server block).
    checked: dict[tuple[str, str], bool] = field(default_factory=dict)
    _facts: dict[str, CertFacts] = field(default_factory=dict)

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
        if key not in self.checked:
            self.checked[key] = is_issued_by(self.certificates[subject], self.certificates[issuer])
        return self.checked[key]

    def _candidates(self, own: str, cert: x509.Certificate, named: list[str]) -> list[str]:
        """The CAs of ``cert``'s issuer name worth a signature check.

        Those its key ids do not rule out, itself first (a self-signature), at
        most MAX_SIGNATURE_CHECKS: a thousand same-name CAs must not cost a million.
        """
        plausible = [fp for fp in named if not key_ids_disagree(cert, self.certificates[fp])]
        plausible.sort(key=lambda fp: fp != own)
        return plausible[:MAX_SIGNATURE_CHECKS]

    def graph(self) -> IssuanceGraph:
        """The graph of everything added so far."""
        by_name: dict[x509.Name, list[str]] = {}
        for fp, cert in self.certificates.items():
            by_name.setdefault(cert.subject, []).append(fp)
        signed = [
            (issuer, fp)
            for fp, cert in self.certificates.items()
            for issuer in self._candidates(fp, cert, by_name.get(cert.issuer, []))
            if self._issued(issuer, fp)
        ]
        for fp, cert in self.certificates.items():
            if fp not in self._facts:
                self._facts[fp] = cert_facts(cert)
        nodes = [Node(self._facts[fp], frozenset(self.sources[fp])) for fp in self.certificates]
        crls = [
            CrlNode(
                fp=fp,
                issuer=crl.issuer.rfc4514_string(),
                signed_by=tuple(
                    issuer
                    for issuer in by_name.get(crl.issuer, ())
                    if _crl_signed(crl, self.certificates[issuer])
                ),
                this_update=crl.last_update_utc.astimezone(UTC),
                next_update=(crl.next_update_utc.astimezone(UTC) if crl.next_update_utc else None),
                revoked=frozenset(format(r.serial_number, "x") for r in crl),
            )
            for fp, crl in self.crls.items()
        ]
        return IssuanceGraph.of(nodes, signed, crls)


def _crl_signed(crl: x509.CertificateRevocationList, ca: x509.Certificate) -> bool:
    try:
        return crl.is_signature_valid(ca.public_key())  # type: ignore[arg-type]
    except (TypeError, ValueError, UnsupportedAlgorithm):  # a key that cannot sign CRLs
        return False
