"""The one chain walker: up the verified issuance graph from a certificate.

Every question about a chain is asked here: the issuing path as ``check``
shows it (client's own certificates first), the path OpenSSL builds inside a
server (trusted certificates first), whether it reaches a certificate the
server trusts, where it breaks, and which certificates were not sent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from mtls_doctor.graph import IssuanceGraph, Node, Source

#: No real chain is longer; the walk stops here (a loop of cross-signatures cannot hang it).
MAX_DEPTH = 16

#: ``check``'s order: what the client sends, then what it has, then the server's, then AIA.
CLIENT_FIRST: tuple[Source, ...] = (
    Source.SENT,
    Source.DIRECTORY,
    Source.CANDIDATE,
    Source.CA_BUNDLE,
    Source.SERVER_CA,
    Source.AIA,
)
#: OpenSSL's default (X509_V_FLAG_TRUSTED_FIRST): the server's own CAs before the client's.
TRUSTED_FIRST: tuple[Source, ...] = (
    Source.CA_BUNDLE,
    Source.SERVER_CA,
    Source.SENT,
    Source.DIRECTORY,
    Source.CANDIDATE,
    Source.AIA,
)


class End(StrEnum):
    """Why the walk stopped."""

    #: A self-signed certificate tops the path.
    ROOT = "root"
    #: The path reached a certificate the caller is looking for (``stop``).
    STOPPED = "stopped"
    #: No certificate carrying the issuer's name is known.
    NO_ISSUER = "no_issuer"
    #: Certificates with the issuer's name are known, but none of their keys signed it.
    OTHER_KEY = "other_key"
    #: Longer than :data:`MAX_DEPTH` (or it loops).
    TOO_DEEP = "too_deep"


@dataclass(frozen=True, slots=True)
class Path:
    """A path from a certificate upwards, and how it ended."""

    #: The starting certificate first, then its issuer, ...
    nodes: tuple[Node, ...]
    end: End
    #: At the break: the certificates with the right name and another key (OTHER_KEY),
    #: elsewhere the same-name certificates the server trusts that were passed over.
    rivals: tuple[Node, ...] = ()

    @property
    def top(self) -> Node:
        """The last certificate reached."""
        return self.nodes[-1]

    @property
    def above(self) -> tuple[Node, ...]:
        """The path without its starting certificate."""
        return self.nodes[1:]

    def not_sent(self, upto: int | None = None) -> tuple[Node, ...]:
        """Certificates above the start, up to index ``upto``, that the client does not send."""
        return tuple(n for n in self.nodes[1:upto] if not n.sent)


def walk(
    graph: IssuanceGraph,
    start: str,
    *,
    prefer: Sequence[Source] = CLIENT_FIRST,
    stop: Callable[[Node], bool] | None = None,
) -> Path:
    """Walk up from ``start`` (a fingerprint), choosing among issuers by ``prefer``.

    ``stop`` ends the walk at the first certificate it accepts (the start
    included): e.g. "a certificate the server trusts".
    """
    rank = {source: index for index, source in enumerate(prefer)}

    def order(node: Node) -> int:
        return min((rank.get(s, len(rank)) for s in node.sources), default=len(rank))

    nodes = [graph.nodes[start]]
    seen = {start}
    passed_over: list[Node] = []
    while True:
        current = nodes[-1]
        if stop is not None and stop(current):
            return Path(tuple(nodes), End.STOPPED, tuple(passed_over))
        if graph.self_signed(current.fp):
            return Path(tuple(nodes), End.ROOT, tuple(passed_over))
        if len(nodes) > MAX_DEPTH:
            return Path(tuple(nodes), End.TOO_DEEP, tuple(passed_over))
        parents = sorted(
            (n for n in graph.issuers(current.fp) if n.fp not in seen), key=order
        )  # fmt: skip
        rivals = graph.rivals(current.fp)
        if not parents:
            end = End.OTHER_KEY if rivals else End.NO_ISSUER
            if graph.issuers(current.fp):  # only certificates already on the path: a loop
                end = End.TOO_DEEP
            return Path(tuple(nodes), end, (*passed_over, *rivals))
        passed_over.extend(r for r in rivals if r.trusted and r not in passed_over)
        nodes.append(parents[0])
        seen.add(parents[0].fp)


def reaches_trust(graph: IssuanceGraph, start: str) -> Path:
    """The path OpenSSL would build inside the server: trusted-first, ending at a trusted CA."""
    return walk(graph, start, prefer=TRUSTED_FIRST, stop=lambda node: node.trusted)
