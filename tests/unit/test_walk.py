"""The one chain walker and the chain rules on hand-built issuance graphs (no crypto)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mtls_doctor.causes import Cause
from mtls_doctor.graph import IssuanceGraph, Node, Source
from mtls_doctor.model import CertFacts, ChainFacts, ChainLink, DiagnosisFacts
from mtls_doctor.rules.chain import Trust, bundle_trust, rank_without_names
from mtls_doctor.rules.verdict import diagnose
from mtls_doctor.rules.walk import TRUSTED_FIRST, End, reaches_trust, walk
from tests.factories import ISSUING, NOW, ROOT, ca, cert, identity, refused

ROTATED_KEY = "rotated"


def node(facts: CertFacts, *sources: Source) -> Node:
    return Node(facts, frozenset(sources))


def fp(name: str) -> str:
    return f"{name:0>64}"[-64:]


LEAF = cert(fingerprint_sha256=fp("leaf"))
INTER = ca(ISSUING, ROOT, fingerprint_sha256=fp("inter"))
ROOT_CA = ca(ROOT, fingerprint_sha256=fp("root"))
#: The same root name under a new key (a rotation).
NEW_ROOT = ca(ROOT, fingerprint_sha256=fp("newroot"))
OTHER_ROOT = ca("CN=Other Root", fingerprint_sha256=fp("other"))


def graph(nodes: list[Node], edges: list[tuple[CertFacts, CertFacts]]) -> IssuanceGraph:
    """``edges``: (issuer, subject) pairs whose signature verified."""
    signed = [(i.fingerprint_sha256, s.fingerprint_sha256) for i, s in edges]
    return IssuanceGraph.of(nodes, signed)


ROOT_SIGNS = [(INTER, LEAF), (ROOT_CA, INTER), (ROOT_CA, ROOT_CA)]


def test_walk_follows_verified_edges_to_the_root() -> None:
    g = graph([node(LEAF, Source.SENT), node(INTER, Source.SENT), node(ROOT_CA, Source.CA_BUNDLE)],
              ROOT_SIGNS)  # fmt: skip
    path = walk(g, LEAF.fingerprint_sha256)
    assert [n.cert for n in path.nodes] == [LEAF, INTER, ROOT_CA]
    assert path.end is End.ROOT
    assert path.not_sent() == (g.nodes[ROOT_CA.fingerprint_sha256],)


def test_a_name_without_a_signature_is_no_link() -> None:
    g = graph(
        [node(LEAF, Source.SENT), node(INTER, Source.SENT), node(NEW_ROOT, Source.CA_BUNDLE)],
        [(INTER, LEAF), (NEW_ROOT, NEW_ROOT)],
    )
    path = walk(g, LEAF.fingerprint_sha256)
    assert path.end is End.OTHER_KEY
    assert [n.cert for n in path.rivals] == [NEW_ROOT]
    assert path.top.cert == INTER


def test_unknown_issuer_ends_the_walk() -> None:
    path = walk(graph([node(LEAF, Source.SENT)], []), LEAF.fingerprint_sha256)
    assert (path.end, path.nodes[-1].cert, path.rivals) == (End.NO_ISSUER, LEAF, ())


def test_preference_picks_among_two_issuers_with_the_same_name() -> None:
    # Cross-signed: the intermediate's key is held in two certificates, one sent, one trusted.
    trusted_inter = replace(INTER, fingerprint_sha256=fp("inter-trusted"))
    g = graph(
        [node(LEAF, Source.SENT), node(INTER, Source.SENT), node(trusted_inter, Source.CA_BUNDLE)],
        [(INTER, LEAF), (trusted_inter, LEAF)],
    )
    assert walk(g, LEAF.fingerprint_sha256).nodes[1].cert == INTER
    assert walk(g, LEAF.fingerprint_sha256, prefer=TRUSTED_FIRST).nodes[1].cert == trusted_inter


def test_a_signature_loop_does_not_hang() -> None:
    a = ca("CN=A", "CN=B", fingerprint_sha256=fp("a"))
    b = ca("CN=B", "CN=A", fingerprint_sha256=fp("b"))
    path = walk(
        graph([node(a, Source.SENT), node(b, Source.SENT)], [(b, a), (a, b)]), a.fingerprint_sha256
    )
    assert path.end is End.TOO_DEEP
    assert len(path.nodes) == 2


def test_reaches_trust_stops_at_the_first_trusted_certificate() -> None:
    g = graph([node(LEAF, Source.SENT), node(INTER, Source.AIA), node(ROOT_CA, Source.SERVER_CA)],
              ROOT_SIGNS)  # fmt: skip
    path = reaches_trust(g, LEAF.fingerprint_sha256)
    assert (path.end, path.top.cert) == (End.STOPPED, ROOT_CA)
    assert [n.cert for n in path.not_sent(upto=-1)] == [INTER]


# ------------------------------------------------------------------ the server's bundle


def chain_of(g: IssuanceGraph, *, bundle: bool = True) -> ChainFacts:
    path = walk(g, LEAF.fingerprint_sha256)
    links = tuple(
        ChainLink(certificate=n.cert, source=min(n.sources), sent=n.sent) for n in path.above
    )
    return ChainFacts(path=links, graph=g, leaf=LEAF.fingerprint_sha256, ca_bundle_given=bundle)


@pytest.mark.parametrize(
    ("inter_source", "root", "expected"),
    [
        (Source.SENT, ROOT_CA, Trust.TRUSTED),
        (Source.AIA, ROOT_CA, Trust.MISSING_INTERMEDIATE),
        (Source.DIRECTORY, ROOT_CA, Trust.MISSING_INTERMEDIATE),
        (Source.SENT, NEW_ROOT, Trust.ROTATED),
        (None, ROOT_CA, Trust.UNDETERMINED),
    ],
)
def test_bundle_trust(inter_source: Source | None, root: CertFacts, expected: Trust) -> None:
    nodes = [node(LEAF, Source.SENT), node(root, Source.CA_BUNDLE)]
    edges = [(ROOT_CA, ROOT_CA), (NEW_ROOT, NEW_ROOT), (OTHER_ROOT, OTHER_ROOT)]
    if inter_source is not None:
        nodes.append(node(INTER, inter_source))
        edges += [(INTER, LEAF), (ROOT_CA, INTER)]
    result = bundle_trust(chain_of(graph(nodes, edges)))
    assert result is not None
    assert result.trust is expected
    if expected is Trust.MISSING_INTERMEDIATE:
        assert result.missing == (ISSUING,)
    if expected is Trust.ROTATED:
        assert result.rotated_name == ROOT


def test_bundle_trust_untrusted_root() -> None:
    other_inter = ca(ISSUING, OTHER_ROOT.subject, fingerprint_sha256=fp("other-inter"))
    nodes = [node(LEAF, Source.SENT), node(other_inter, Source.SENT)]
    nodes += [node(OTHER_ROOT, Source.SENT), node(ROOT_CA, Source.CA_BUNDLE)]
    edges = [(other_inter, LEAF), (OTHER_ROOT, other_inter), (OTHER_ROOT, OTHER_ROOT)]
    result = bundle_trust(chain_of(graph(nodes, [*edges, (ROOT_CA, ROOT_CA)])))
    assert result is not None
    assert (result.trust, result.top) == (Trust.UNTRUSTED, OTHER_ROOT.subject)


def test_no_bundle_no_bundle_trust() -> None:
    g = graph([node(LEAF, Source.SENT)], [])
    assert bundle_trust(chain_of(g, bundle=False)) is None


# ------------------------------------------------------------------ verdicts


def no_names_verdict(chain: ChainFacts, code: int = 48) -> tuple[Cause, str]:
    facts = DiagnosisFacts(
        identity=identity(chain=(), path_length=0),
        attempt=refused(code, acceptable_ca_names=()),
        chain=chain,
    )
    _, verdict = diagnose(facts, NOW)
    return verdict.cause, verdict.summary


def test_no_names_leaf_alone_with_a_found_intermediate_is_most_likely_missing() -> None:
    g = graph([node(LEAF, Source.SENT), node(INTER, Source.AIA), node(ROOT_CA, Source.AIA)],
              ROOT_SIGNS)  # fmt: skip
    chain = chain_of(g, bundle=False)
    assert (
        rank_without_names(identity(chain=(), path_length=0), chain)[0]
        is Cause.MISSING_INTERMEDIATE
    )
    cause, summary = no_names_verdict(chain)
    assert cause is Cause.MISSING_INTERMEDIATE
    assert "most likely missing_intermediate" in summary
    assert "untrusted_issuer or issuer_rotated" in summary
    assert "--ca-bundle" in summary


def test_no_names_whole_chain_sent_ranks_untrusted_first() -> None:
    g = graph([node(LEAF, Source.SENT), node(INTER, Source.SENT), node(OTHER_ROOT, Source.SENT)],
              [(INTER, LEAF)])  # fmt: skip
    cause, summary = no_names_verdict(chain_of(g, bundle=False))
    assert cause is Cause.UNTRUSTED_ISSUER
    assert "otherwise" in summary


@pytest.mark.parametrize(
    ("inter_source", "root", "expected"),
    [
        (Source.AIA, ROOT_CA, Cause.MISSING_INTERMEDIATE),
        (Source.SENT, NEW_ROOT, Cause.ISSUER_ROTATED),
    ],
)
def test_the_bundle_settles_it_without_names(
    inter_source: Source, root: CertFacts, expected: Cause
) -> None:
    nodes = [node(LEAF, Source.SENT), node(INTER, inter_source), node(root, Source.CA_BUNDLE)]
    edges = [(INTER, LEAF), (ROOT_CA, INTER), (root, root)]
    cause, summary = no_names_verdict(chain_of(graph(nodes, edges)))
    assert cause is expected
    assert "--ca-bundle" not in summary
    assert "most likely" not in summary


def test_bundle_given_and_issuer_unavailable_names_the_candidates_without_asking_for_it() -> None:
    g = graph([node(LEAF, Source.SENT), node(ROOT_CA, Source.CA_BUNDLE)], [(ROOT_CA, ROOT_CA)])
    cause, summary = no_names_verdict(chain_of(g))
    assert cause is Cause.UNTRUSTED_ISSUER
    assert "otherwise missing_intermediate" in summary
    assert "--ca-bundle" not in summary


def test_bundle_that_trusts_the_chain_rules_out_rotation() -> None:
    g = graph([node(LEAF, Source.SENT), node(INTER, Source.SENT), node(ROOT_CA, Source.CA_BUNDLE)],
              ROOT_SIGNS)  # fmt: skip
    facts = DiagnosisFacts(
        identity=identity(), attempt=refused(48), chain=chain_of(g)
    )  # ROOT listed, alert 48: without the bundle this would be called a rotation
    _, verdict = diagnose(facts, NOW)
    assert verdict.cause is Cause.REJECTED_UNEXPLAINED
    assert "given client-CA bundle" in verdict.summary
    assert "pass --ca-bundle" not in verdict.summary
