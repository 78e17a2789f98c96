"""Offline acceptance: would this server block accept this client certificate?

Pure: a parsed block, the verified issuance graph (the block's trusted CAs as
``server-ca``, what the client sends as ``bundle``, CAs the user knows as
``candidate`` / ``aia``, the block's CRLs) and ``now`` → a judgement. It
applies the block's settings the way OpenSSL applies them inside nginx,
Apache httpd and HAProxy (each behaviour measured on the real servers, see
``tests/realservers``):

1. Build the chain trusted-first (OpenSSL's default) with the one walker,
   from the client certificate up through the trusted CAs and the
   certificates the client sends. It must end at a trusted *self-signed* CA:
   no server sets ``X509_V_FLAG_PARTIAL_CHAIN``.
2. Check each certificate's validity dates, the leaf's purpose, key sizes and
   signature hashes at OpenSSL's security level 2 (Debian's default).
3. Count the intermediates against the verify depth.
4. With CRL checking on, find for every certificate checked a CRL signed by
   its issuer (:mod:`mtls_doctor.rules.acceptance_crl`).
5. Drop the errors the block's policy ignores
   (:func:`mtls_doctor.rules.verify_policy.ignored_by_policy`).

Every error is kept with its OpenSSL number and depth; the verdict is the
cause that blocks first, in the order of :data:`mtls_doctor.rules.verdict.PRIORITY`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mtls_doctor.causes import Cause
from mtls_doctor.graph import IssuanceGraph, Node, Source
from mtls_doctor.model import Verdict
from mtls_doctor.rules.acceptance_crl import check_crls
from mtls_doctor.rules.fixes import make_verdict
from mtls_doctor.rules.identity import MIN_RSA_BITS, allows_client_auth
from mtls_doctor.rules.serverconf import DEPTH_DIRECTIVE, allowed_intermediates, depth_needed
from mtls_doctor.rules.verdict import PRIORITY
from mtls_doctor.rules.verify_policy import VerifyError, Walk, ignored_by_policy, openssl_order
from mtls_doctor.rules.walk import TRUSTED_FIRST, End, walk
from mtls_doctor.serverconf.facts import (
    FileRole,
    ServerKind,
    TLSServerBlock,
    VerifyCheck,
    VerifyMode,
)
from mtls_doctor.x509errors import X509Error

#: The title of a rejection whose reason is the server's own configuration.
SERVER_SIDE_TITLE = (
    "The server's own configuration rejects this certificate (the certificate is not at fault)."
)

#: What OpenSSL inside the server builds from: its own CAs and what the client sends.
_SERVER_SEES = frozenset({Source.SERVER_CA, Source.SENT})
_WEAK_HASHES = ("sha1", "md5")


@dataclass(frozen=True, slots=True)
class Judgement:
    """The verdict, and the evidence it rests on."""

    verdict: Verdict
    #: Every error found, ignored ones included.
    errors: tuple[VerifyError, ...] = ()
    #: Errors the block's policy lets through.
    ignored: tuple[VerifyError, ...] = ()
    #: Subjects of the chain that was built, from the first certificate up.
    chain: tuple[str, ...] = ()
    #: Whether a name on the chain is advertised (browsers would offer it).
    advertised: bool = True


def _server_view(graph: IssuanceGraph) -> IssuanceGraph:
    """The graph OpenSSL inside the server can build from (no candidates, no AIA)."""
    nodes = [n for n in graph.nodes.values() if n.sources & _SERVER_SEES]
    keep = {n.fp for n in nodes}
    edges = [(a, b) for a, b in graph.signed if a in keep and b in keep]
    return IssuanceGraph.of(nodes, edges, graph.crls)


def _rotated_name(walk_: Walk) -> str | None:
    """A trusted CA's name that a chain certificate names as issuer without being linked."""
    graph = walk_.graph
    names = {n.cert.subject for n in graph.trusted()}
    for node in walk_.chain:
        if node.cert.issuer in names and not any(n.trusted for n in graph.issuers(node.fp)):
            return node.cert.issuer
    return None


def _reaches_trust(graph: IssuanceGraph, start: str) -> bool:
    """``start`` chains to a trusted self-signed CA through any certificate we know."""
    path = walk(graph, start, prefer=TRUSTED_FIRST)
    return path.end is End.ROOT and path.top.trusted


def _unverifiable_leaf(walk_: Walk, index: int, cause: Cause) -> None:
    """OpenSSL's internal_verify reports error 21 when the chain is the leaf alone."""
    if index + walk_.offset == 0:
        walk_.error(
            X509Error.UNABLE_TO_VERIFY_LEAF_SIGNATURE,
            0,
            cause,
            "The client certificate's signature cannot be verified: its issuer is unknown "
            "(unable to verify the first certificate).",
        )


def build(walk_: Walk, start: str) -> None:
    """Step 1: the chain, trusted-first; records why it cannot be completed."""
    full = walk_.graph
    path = walk(_server_view(full), start, prefer=TRUSTED_FIRST)
    walk_.chain = [full.nodes[n.fp] for n in path.nodes]
    top, index = path.top, len(path.nodes) - 1
    depth = index + walk_.offset
    if path.end is End.ROOT:
        if top.trusted:
            walk_.anchored = True
            return
        rotated = _rotated_name(walk_)
        what = (
            "client certificate is self-signed"
            if depth == 0
            else f"chain ends at {top.cert.subject}, a root the server does not trust"
        )
        walk_.error(
            X509Error.DEPTH_ZERO_SELF_SIGNED_CERT
            if depth == 0
            else X509Error.SELF_SIGNED_CERT_IN_CHAIN,
            index,
            Cause.ISSUER_ROTATED if rotated else Cause.UNTRUSTED_ISSUER,
            f"The {what}"
            + (f"; the server trusts a different key under the name {rotated}" if rotated else "")
            + ".",
        )
        return
    if path.end is End.TOO_DEEP:
        walk_.error(
            X509Error.CERT_CHAIN_TOO_LONG,
            index,
            Cause.REJECTED_UNEXPLAINED,
            f"The chain above {top.cert.subject} does not end (longer than any server builds).",
        )
        return
    issuer = top.cert.issuer
    if top.trusted:
        walk_.error(
            X509Error.UNABLE_TO_GET_ISSUER_CERT,
            index,
            Cause.REJECTED_UNEXPLAINED,
            f"The server trusts {top.cert.subject} but not its issuer {issuer}: OpenSSL "
            "needs the chain to end at a trusted root (no partial chains).",
            f"Add the root {issuer} to the server's client-CA file.",
        )
        return
    rotated = _rotated_name(walk_)
    missing = _missing_link(full, top)
    cause = (
        Cause.ISSUER_ROTATED
        if rotated
        else Cause.MISSING_INTERMEDIATE
        if missing is not None
        else Cause.UNTRUSTED_ISSUER
    )
    _unverifiable_leaf(walk_, index, cause)
    if rotated:
        message = (
            f"{top.cert.subject} was issued under the name {rotated}, which the server "
            "trusts, but by a different key: the CA was re-keyed (rotated)."
        )
    elif missing is not None:
        message = (
            f"{top.cert.subject} reaches a trusted CA only through {missing.cert.subject}, "
            "which the client does not send."
        )
    else:
        trusted = "; ".join(n.cert.subject for n in full.trusted()) or "none"
        message = (
            f"The issuer of {top.cert.subject}, {issuer}, is not among the CAs this block trusts "
            f"({trusted}), and the client does not send a certificate that links them."
        )
    walk_.error(X509Error.UNABLE_TO_GET_ISSUER_CERT_LOCALLY, index, cause, message)


def _missing_link(graph: IssuanceGraph, top: Node) -> Node | None:
    """A CA the user knows (not sent) that signed ``top`` and links it to the server's trust."""
    return next(
        (
            n
            for n in graph.issuers(top.fp)
            if n.sources & {Source.CANDIDATE, Source.AIA, Source.DIRECTORY}
            and _reaches_trust(graph, n.fp)
        ),
        None,
    )


def check_certificates(walk_: Walk) -> None:
    """Step 2: validity, purpose, key strength, CA flags."""
    for index, node in enumerate(walk_.chain):
        facts = node.cert
        depth = index + walk_.offset
        is_leaf = depth == 0
        who = (
            "the client certificate"
            if is_leaf
            else f"the server's trusted CA {facts.subject}"
            if node.trusted
            else f"the CA certificate {facts.subject} sent by the client"
        )
        server_side = node.trusted and not is_leaf
        if walk_.now > facts.not_after:
            walk_.error(
                X509Error.CERT_HAS_EXPIRED,
                index,
                Cause.REJECTED_UNEXPLAINED if server_side else Cause.CERTIFICATE_EXPIRED,
                f"{who.capitalize()} expired on {facts.not_after:%Y-%m-%d %H:%M} UTC.",
                "Replace the expired CA in the server's client-CA file." if server_side else "",
            )
        elif walk_.now < facts.not_before:
            walk_.error(
                X509Error.CERT_NOT_YET_VALID,
                index,
                Cause.REJECTED_UNEXPLAINED if server_side else Cause.CERTIFICATE_NOT_YET_VALID,
                f"{who.capitalize()} is valid only from {facts.not_before:%Y-%m-%d %H:%M} UTC.",
            )
        if is_leaf and not allows_client_auth(facts):
            walk_.error(
                X509Error.INVALID_PURPOSE,
                index,
                Cause.WRONG_KEY_USAGE,
                "The client certificate's key usage / extended key usage does not allow TLS "
                "client authentication (OpenSSL: unsuitable certificate purpose).",
            )
        if not is_leaf and facts.is_ca is not True and not facts.self_signed:
            walk_.error(
                X509Error.INVALID_CA,
                index,
                Cause.UNTRUSTED_ISSUER,
                f"{facts.subject} signs certificates but is not a CA certificate.",
            )
        if facts.key_type in ("RSA", "RSA-PSS", "DSA") and (facts.key_bits or 0) < MIN_RSA_BITS:
            walk_.error(
                X509Error.EE_KEY_TOO_SMALL if is_leaf else X509Error.CA_KEY_TOO_SMALL,
                index,
                Cause.UNSUPPORTED_KEY,
                f"{who.capitalize()} has a {facts.key_type} {facts.key_bits}-bit key: OpenSSL 3 "
                f"at security level 2 (Debian's default) refuses keys below {MIN_RSA_BITS} bits.",
            )
        if facts.signature_hash in _WEAK_HASHES and not facts.self_signed:
            walk_.error(
                X509Error.CA_MD_TOO_WEAK,
                index,
                Cause.UNSUPPORTED_KEY,
                f"{who.capitalize()} is signed with {facts.signature_algorithm}: refused at "
                "OpenSSL's security level 2.",
            )


def check_depth(walk_: Walk) -> None:
    """Step 3: intermediates between the client certificate and the root."""
    block = walk_.block
    intermediates = len(walk_.chain) + walk_.offset - 2
    allowed = allowed_intermediates(block.kind, block.verify_depth)
    if intermediates <= allowed:
        return
    directive = DEPTH_DIRECTIVE[block.kind]
    needed = depth_needed(block.kind, intermediates)
    where = f" ({block.verify_depth_at})" if block.verify_depth_at else " (the default)"
    walk_.error(
        X509Error.CERT_CHAIN_TOO_LONG,
        len(walk_.chain) - 1,
        Cause.REJECTED_UNEXPLAINED,
        f"The chain has {intermediates} intermediate CA(s) and the block's {directive}"
        f"{where} allows {allowed}: the server rejects it (certificate chain too long).",
        f"Set `{directive} {needed}` in this block.",
    )


def check_issuer_named(walk_: Walk, advertised: tuple[str, ...]) -> None:
    """lighttpd (mod_openssl) with ``ssl.ca-dn-file``: the client certificate's own issuer
    must be one of its names, else X509_V_ERR_CERT_REJECTED at depth 0 (verify_callback)."""
    block = walk_.block
    if (
        block.kind is not ServerKind.LIGHTTPD
        or block.name != "mod_openssl"
        or not block.files_with(FileRole.CA_NAMES)
        or not advertised
        or not walk_.chain
    ):
        return
    top = walk_.chain[0].cert
    issuer = top.subject if walk_.offset else top.issuer
    if issuer in advertised:
        return
    walk_.errors.append(
        VerifyError(
            X509Error.CERT_REJECTED,
            0,
            Cause.UNTRUSTED_ISSUER,
            f"The client certificate's issuer {issuer} is not named in ssl.ca-dn-file: "
            "lighttpd accepts only certificates issued directly by a CA named there "
            "(certificate rejected), even when the chain verifies.",
            f"Add {issuer} to ssl.ca-dn-file.",
        )
    )


def decide(walk_: Walk, subject: str, advertised: tuple[str, ...]) -> Judgement:
    """The errors left after the block's policy → the verdict."""
    ordered = sorted(walk_.errors, key=openssl_order)
    policy = ignored_by_policy(walk_.block, ordered)
    ignored = [e for e in ordered if e in policy]
    remaining = [e for e in ordered if e not in policy]
    chain_names = tuple(n.cert.subject for n in walk_.chain)
    on_list = not advertised or any(
        name in advertised for name in (*chain_names, walk_.chain[-1].cert.issuer)
    )
    if not remaining:
        detail = f"{subject}: the chain verifies against this block's CAs."
        if ignored:
            reasons = sorted(set(policy.values()))
            detail = (
                f"{subject} gets through only because {', '.join(reasons)} lets these "
                f"errors pass: {'; '.join(e.message for e in ignored)}"
            )
            tested = [c for c in walk_.block.verify_checks if not c.forwarded]
            if tested:
                return Judgement(
                    _refused_by_the_check(ignored, tested, detail),
                    tuple(ordered),
                    tuple(ignored),
                    chain_names,
                    on_list,
                )
        verdict = make_verdict(Cause.ACCEPTED, detail)
        return Judgement(verdict, tuple(ordered), tuple(ignored), chain_names, on_list)
    order = {cause: rank for rank, cause in enumerate(PRIORITY)}
    first = min(remaining, key=lambda e: (order.get(e.cause, len(order)), e.depth))
    fixes = tuple(dict.fromkeys(e.fix for e in remaining if e.fix and e.cause is first.cause))
    detail = f"{first.message} (OpenSSL error {first.code}: {first.code.text}, depth {first.depth})"
    others = [e.message for e in remaining if e is not first]
    if others:
        detail += " Also: " + " ".join(others)
    # The configuration's fixes are for the server's owner; a rejection whose reason is
    # the server's own configuration is not "a certificate that passes every check".
    server_side = first.cause is Cause.REJECTED_UNEXPLAINED
    verdict = make_verdict(
        first.cause,
        detail,
        server_fixes=fixes,
        title=SERVER_SIDE_TITLE if server_side else None,
    )
    return Judgement(verdict, tuple(ordered), tuple(ignored), chain_names, on_list)


def _refused_by_the_check(
    ignored: list[VerifyError], tested: list[VerifyCheck], detail: str
) -> Verdict:
    """Let through the TLS layer by an optional mode, then tested by the block itself.

    The test (``if ($ssl_client_verify != SUCCESS)``, ``SSLRequire``, an ACL on
    ``ssl_c_verify``) sees a failed verification for this certificate; such tests
    exist to refuse exactly that, so the cause is the error the mode let pass.
    What the test really does is not evaluated: said, not assumed away.
    """
    order = {cause: rank for rank, cause in enumerate(PRIORITY)}
    first = min(ignored, key=lambda e: (order.get(e.cause, len(order)), e.depth))
    where = "; ".join(f"`{check.text}` ({check.where})" for check in tested[:3])
    return make_verdict(
        first.cause,
        f"{detail} But the block then tests the verification result ({where}), which is "
        "not SUCCESS for this certificate: it is refused there, unless that test lets "
        "failed verifications through.",
    )


def judge(
    block: TLSServerBlock,
    graph: IssuanceGraph,
    start: str,
    *,
    now: datetime,
    offset: int,
    subject: str,
    advertised: tuple[str, ...],
) -> Judgement:
    """Would ``block`` accept the certificate ``start``? (``offset`` 1: ``start`` is an
    issuing CA and a hypothetical leaf is below it.)"""
    if block.verify is VerifyMode.NONE:
        return Judgement(
            make_verdict(
                Cause.CLIENT_AUTH_NOT_REQUESTED,
                "This block never asks for a client certificate, so it is neither needed nor "
                "checked here.",
            )
        )
    walk_ = Walk(block, graph, now, offset)
    build(walk_, start)
    check_certificates(walk_)
    if walk_.anchored:
        check_depth(walk_)
    check_crls(walk_)
    check_issuer_named(walk_, advertised)
    return decide(walk_, subject, advertised)
