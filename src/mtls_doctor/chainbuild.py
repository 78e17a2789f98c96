"""Adapter: build the leaf's issuing path from every source we have.

Sources, in order: the bundle (what is sent), CA certificates found beside
the identity (a directory), the server's client-CA bundle when the user has
it (``--ca-bundle``), and the AIA caIssuers URLs of the certificates
(fetched, bounded, unless offline). A link is made only when the issuer's
key verifies the signature; a CA with the right name and another key is
recorded as evidence of a rotation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs7

from mtls_doctor.bundle import LoadedIdentity
from mtls_doctor.errors import FetchError
from mtls_doctor.model import ChainFacts, ChainLink
from mtls_doctor.x509facts import cert_facts, is_issued_by

MAX_DEPTH = 8
MAX_AIA_FETCHES = 4

Fetcher = Callable[[str], bytes]


@dataclass(frozen=True, slots=True)
class BuiltChain:
    """The path as facts for the rules, and as certificates for revocation lookups."""

    facts: ChainFacts
    #: The issuing path above the leaf, leaf's issuer first.
    certificates: tuple[x509.Certificate, ...]


def parse_certificates(data: bytes) -> list[x509.Certificate]:
    """Certificates from a DER, PEM or PKCS#7 download (AIA serves any of them)."""
    for loader in (
        lambda d: [x509.load_der_x509_certificate(d)],
        x509.load_pem_x509_certificates,
        pkcs7.load_der_pkcs7_certificates,
        pkcs7.load_pem_pkcs7_certificates,
    ):
        try:
            found = loader(data)
        except (ValueError, TypeError):
            continue
        except Exception:  # UnsupportedAlgorithm in odd PKCS#7
            continue
        if found:
            return list(found)
    return []


def build_chain(
    identity: LoadedIdentity,
    *,
    directory_cas: Sequence[x509.Certificate] = (),
    ca_bundle: Sequence[x509.Certificate] = (),
    fetcher: Fetcher | None = None,
    now: datetime | None = None,
) -> BuiltChain:
    """The issuing path of ``identity``'s leaf, with where each link came from."""
    pools: list[tuple[x509.Certificate, str]] = [
        *((c, "bundle") for c in identity.chain),
        *((c, "directory") for c in directory_cas),
        *((c, "ca-bundle") for c in ca_bundle),
    ]
    path: list[ChainLink] = []
    certificates: list[x509.Certificate] = []
    other_key: list[str] = []
    failures: list[str] = []
    fetches = 0
    current = identity.certificate
    for _ in range(MAX_DEPTH):
        if current.subject == current.issuer and is_issued_by(current, current):
            break
        parent, source, rivals = _find_parent(current, pools)
        if parent is None and fetcher is not None and fetches < MAX_AIA_FETCHES:
            for url in cert_facts(current).ca_issuer_urls[:2]:
                fetches += 1
                try:
                    fetched = parse_certificates(fetcher(url))
                except FetchError as exc:
                    failures.append(str(exc))
                    continue
                if not fetched:
                    failures.append(f"{url}: not a certificate")
                pools.extend((c, "aia") for c in fetched)
            parent, source, rivals = _find_parent(current, pools)
        other_key.extend(r for r in rivals if r not in other_key)
        if parent is None:
            break
        path.append(
            ChainLink(certificate=cert_facts(parent), source=source, sent=source == "bundle")
        )
        certificates.append(parent)
        current = parent
    facts = ChainFacts(
        path=tuple(path),
        same_name_other_key=tuple(other_key),
        ca_bundle_error=_validate(identity, pools, ca_bundle, now) if ca_bundle else None,
        fetch_failures=tuple(failures),
    )
    return BuiltChain(facts=facts, certificates=tuple(certificates))


def _find_parent(
    cert: x509.Certificate, pools: Sequence[tuple[x509.Certificate, str]]
) -> tuple[x509.Certificate | None, str, list[str]]:
    """The certificate that signed ``cert``, its source, and same-name CAs with other keys.

    A same-name CA counts as a rival when it is what the server trusts
    (``ca-bundle``), or when nothing else signed ``cert``: both say the CA was
    re-keyed. Two generations side by side in a user's folder say nothing.
    """
    rivals: list[tuple[str, str]] = []
    parent: tuple[x509.Certificate, str] | None = None
    for candidate, source in pools:
        if candidate.subject != cert.issuer or candidate is cert:
            continue
        if parent is None and is_issued_by(cert, candidate):
            parent = (candidate, source)
        elif not is_issued_by(cert, candidate):
            rivals.append((candidate.subject.rfc4514_string(), source))
    if parent is None:
        return None, "", [name for name, _ in rivals]
    return parent[0], parent[1], [name for name, source in rivals if source == "ca-bundle"]


def _validate(
    identity: LoadedIdentity,
    pools: Sequence[tuple[x509.Certificate, str]],
    anchors: Sequence[x509.Certificate],
    now: datetime | None,
) -> str:
    """Validate against the server's client-CA bundle with cryptography's verifier."""
    from cryptography.x509.verification import (
        Criticality,
        ExtensionPolicy,
        PolicyBuilder,
        Store,
        VerificationError,
    )

    builder = PolicyBuilder().store(Store(list(anchors))).max_chain_depth(MAX_DEPTH)
    if now is not None:
        builder = builder.time(now)
    # Usage and key checks are our rules' job (with better words); here we only ask
    # "does a path to this bundle exist?".
    # (A CA policy must still require basicConstraints: cryptography insists, rightly.)
    ca_policy = ExtensionPolicy.permit_all().require_present(
        x509.BasicConstraints, Criticality.AGNOSTIC, None
    )
    builder = builder.extension_policies(
        ca_policy=ca_policy, ee_policy=ExtensionPolicy.permit_all()
    )
    intermediates = [c for c, source in pools if source != "ca-bundle"]
    try:
        builder.build_client_verifier().verify(identity.certificate, intermediates)
    except (VerificationError, ValueError) as exc:
        return str(exc)
    return ""
