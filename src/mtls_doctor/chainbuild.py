"""Adapter: build the leaf's issuing path from every source we have.

Sources, in order: the bundle (what is sent), CA certificates found beside
the identity (a directory), the server's client-CA bundle when the user has
it (``--ca-bundle``), and the AIA caIssuers URLs of the certificates
(fetched, bounded, unless offline), all in one verified issuance graph
(:mod:`mtls_doctor.graphbuild`). A link is made only when the issuer's key
verifies the signature; a CA with the right name and another key is recorded
as evidence of a rotation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

from cryptography import x509

from mtls_doctor.bundle import LoadedIdentity
from mtls_doctor.deadline import Deadline
from mtls_doctor.errors import FetchError
from mtls_doctor.graph import Node, Source
from mtls_doctor.graphbuild import GraphBuilder
from mtls_doctor.model import ChainFacts, ChainLink
from mtls_doctor.rules.walk import CLIENT_FIRST, End, walk

MAX_AIA_FETCHES = 4
#: AIA downloads are small and must not eat a whole --timeout.
AIA_TIMEOUT = 5.0
AIA_MAX_BYTES = 256 * 1024

#: AIA downloads must not eat the whole --timeout: they get half of the time left
#: (a handshake may still follow), at most AIA_TIMEOUT.
AIA_SHARE = 0.5
#: caIssuers URLs downloaded at once for the identities of a folder.
MAX_PREFETCH = 16

Fetcher = Callable[[str], bytes]


@dataclass
class CaIssuers:
    """One run's caIssuers downloads: each URL once, all within one shared budget."""

    #: The run's clock; downloads get a share of what is left of it.
    run_deadline: Deadline
    #: Answers by URL (several identities often share an issuer).
    downloads: dict[str, bytes | FetchError] = field(default_factory=dict)
    _budget: Deadline | None = None

    def budget(self) -> Deadline:
        """Part of the run's time left, at most AIA_TIMEOUT (fixed at the first download)."""
        if self._budget is None:
            self._budget = self.run_deadline.share(AIA_SHARE, AIA_TIMEOUT)
        return self._budget

    def _download(self, url: str) -> bytes | FetchError:
        from mtls_doctor.fetch import fetch

        try:
            return fetch(url, deadline=self.budget(), max_bytes=AIA_MAX_BYTES)
        except FetchError as exc:
            return exc

    def fetch(self, url: str) -> bytes:
        """One caIssuers download (a :data:`Fetcher`), once per run."""
        if url not in self.downloads:
            self.downloads[url] = self._download(url)
        found = self.downloads[url]
        if isinstance(found, FetchError):
            raise found
        return found

    def prefetch(self, leaves: Sequence[x509.Certificate]) -> None:
        """Download the caIssuers of several leaves at once, not one after another."""
        from mtls_doctor.deadline import run_before
        from mtls_doctor.x509facts import cert_facts

        urls = list(
            dict.fromkeys(
                url
                for leaf in leaves
                for url in cert_facts(leaf).ca_issuer_urls[:2]
                if url not in self.downloads
            )
        )[:MAX_PREFETCH]
        tasks = [partial(self._download, url) for url in urls]
        for url, done in zip(urls, run_before(self.budget(), tasks), strict=True):
            if done.finished and done.error is None and done.value is not None:
                self.downloads[url] = done.value


@dataclass(frozen=True, slots=True)
class BuiltChain:
    """The path as facts for the rules, and as certificates for revocation lookups."""

    facts: ChainFacts
    #: The issuing path above the leaf, leaf's issuer first.
    certificates: tuple[x509.Certificate, ...]


def parse_certificates(data: bytes) -> list[x509.Certificate]:
    """Certificates from a DER, PEM or PKCS#7 download (AIA serves any of them)."""

    def pkcs7_der(d: bytes) -> list[x509.Certificate]:
        # PKCS#7 support pulls in email.message and email.policy (~5 ms): only for .p7c answers.
        from cryptography.hazmat.primitives.serialization import pkcs7

        return pkcs7.load_der_pkcs7_certificates(d)

    def pkcs7_pem(d: bytes) -> list[x509.Certificate]:
        from cryptography.hazmat.primitives.serialization import pkcs7

        return pkcs7.load_pem_pkcs7_certificates(d)

    for loader in (
        lambda d: [x509.load_der_x509_certificate(d)],
        x509.load_pem_x509_certificates,
        pkcs7_der,
        pkcs7_pem,
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
) -> BuiltChain:
    """The issuing path of ``identity``'s leaf, with where each link came from.

    The path is :func:`mtls_doctor.rules.walk.walk` over the verified graph;
    when it breaks and a caIssuers URL is there, the download joins the graph
    and the walk is asked again.
    """
    builder = GraphBuilder()
    (leaf,) = builder.add([identity.certificate], Source.SENT)
    builder.add(identity.chain, Source.SENT)
    builder.add(directory_cas, Source.DIRECTORY)
    builder.add(ca_bundle, Source.CA_BUNDLE)
    failures: list[str] = []
    fetched_for: set[str] = set()
    fetches = 0
    graph = builder.graph()
    path = walk(graph, leaf)
    while (
        path.end in (End.NO_ISSUER, End.OTHER_KEY)
        and fetcher is not None
        and fetches < MAX_AIA_FETCHES
        and path.top.fp not in fetched_for
    ):
        fetched_for.add(path.top.fp)
        urls = path.top.cert.ca_issuer_urls[:2]
        if not urls:
            break
        for url in urls:
            fetches += 1
            try:
                found = parse_certificates(fetcher(url))
            except FetchError as exc:
                failures.append(str(exc))
                continue
            if not found:
                failures.append(f"{url}: not a certificate")
            builder.add(found, Source.AIA)
        graph = builder.graph()
        path = walk(graph, leaf)
    links = tuple(
        ChainLink(certificate=node.cert, source=_link_source(node), sent=node.sent)
        for node in path.above
    )
    facts = ChainFacts(
        path=links,
        same_name_other_key=tuple(dict.fromkeys(n.cert.subject for n in path.rivals)),
        fetch_failures=tuple(failures),
        graph=graph,
        leaf=leaf,
        ca_bundle_given=bool(ca_bundle),
    )
    return BuiltChain(
        facts=facts, certificates=tuple(builder.certificate(n.fp) for n in path.above)
    )


def _link_source(node: Node) -> Source:
    """The first source in ``check``'s order (what the JSON ``chain`` shows)."""
    return next(s for s in CLIENT_FIRST if s in node.sources)
