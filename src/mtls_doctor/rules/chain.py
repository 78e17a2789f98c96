"""Does the identity's chain reach a CA the server accepts, and what was not sent?

Two kinds of evidence, strongest first: the server's own client-CA bundle
(``--ca-bundle``), asked of the verified issuance graph with the same walk
OpenSSL does inside the server (trusted first); else the CA names the server
listed in its CertificateRequest. When the server listed none and no bundle
was given, the causes that remain are ranked by what the graph shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import assert_never

from mtls_doctor.causes import Cause
from mtls_doctor.model import ChainFacts, Finding, FindingCode, IdentityFacts, Severity
from mtls_doctor.rules.walk import End, reaches_trust


class Reach(StrEnum):
    """How the chain relates to the server's acceptable CA names."""

    REACHES = "reaches"  # an accepted CA signed the leaf or a sent intermediate
    MISSING_INTERMEDIATE = "missing_intermediate"  # only through a CA that was not sent
    UNTRUSTED = "untrusted"  # no accepted CA anywhere on the path we could build
    UNKNOWN = "unknown"  # the server listed no names: nothing to compare with


@dataclass(frozen=True, slots=True)
class ChainReach:
    """The answer, with the names that make it specific."""

    reach: Reach
    #: The accepted CA name the chain reaches (REACHES / MISSING_INTERMEDIATE).
    accepted_name: str | None = None
    #: Intermediates needed to reach it that were not sent.
    missing: tuple[str, ...] = ()
    #: Names on the path we could build (leaf's issuer upwards).
    path_names: tuple[str, ...] = ()
    #: What the server's client-CA bundle says, when it was given.
    bundle: Trust | None = None
    #: When neither names nor bundle settle it: the causes that remain, most likely first.
    candidates: tuple[Cause, ...] = ()


class Trust(StrEnum):
    """The chain against the server's own client-CA bundle (``--ca-bundle``)."""

    TRUSTED = "trusted"  # reaches a CA of the bundle through certificates the client sends
    MISSING_INTERMEDIATE = "missing_intermediate"  # reaches one only through unsent CAs
    ROTATED = "rotated"  # a certificate names a bundle CA as issuer; that CA's key did not sign
    UNTRUSTED = "untrusted"  # the chain ends at a root the bundle does not hold
    UNDETERMINED = "undetermined"  # it breaks at an issuer we do not have (offline, no URL)


@dataclass(frozen=True, slots=True)
class BundleTrust:
    """The answer, with the names that make it specific."""

    trust: Trust
    #: The bundle CA reached (TRUSTED / MISSING_INTERMEDIATE).
    anchor: str | None = None
    #: CAs needed to reach it that the client does not send.
    missing: tuple[str, ...] = ()
    #: The bundle CA name signed by another key (ROTATED).
    rotated_name: str | None = None
    #: Where the path stops (UNTRUSTED / UNDETERMINED): the last certificate and its issuer.
    top: str = ""
    top_issuer: str = ""


def bundle_trust(chain: ChainFacts) -> BundleTrust | None:
    """The chain judged by the server's client-CA bundle; None without a bundle."""
    graph = chain.graph
    if not chain.ca_bundle_given or graph is None or not chain.leaf:
        return None
    path = reaches_trust(graph, chain.leaf)
    if path.end is End.STOPPED:
        missing = tuple(n.cert.subject for n in path.not_sent(upto=len(path.nodes) - 1))
        trust = Trust.MISSING_INTERMEDIATE if missing else Trust.TRUSTED
        return BundleTrust(trust, anchor=path.top.cert.subject, missing=missing)
    trusted_names = {n.cert.subject for n in graph.trusted()}
    rotated = next((n.cert.issuer for n in path.nodes if n.cert.issuer in trusted_names), None)
    if rotated is not None:
        return BundleTrust(Trust.ROTATED, rotated_name=rotated)
    top = path.top.cert
    trust = Trust.UNDETERMINED if path.end is End.NO_ISSUER else Trust.UNTRUSTED
    return BundleTrust(trust, top=top.subject, top_issuer=top.issuer)


def rank_without_names(identity: IdentityFacts, chain: ChainFacts) -> tuple[Cause, ...]:
    """The chain causes that remain when the server named no CA and no bundle was given.

    A leaf sent without the intermediate that we found (directory, AIA) and
    that links to a root is most likely a missing intermediate; a chain sent
    whole to its root is most likely from a CA the server does not trust.
    """
    if any(not link.sent for link in chain.path):
        return (Cause.MISSING_INTERMEDIATE, Cause.UNTRUSTED_ISSUER, Cause.ISSUER_ROTATED)
    if not chain.path and not identity.certificate.self_signed:
        # Its issuer's certificate is not available: an unsent intermediate, or an unknown CA.
        return (Cause.UNTRUSTED_ISSUER, Cause.MISSING_INTERMEDIATE, Cause.ISSUER_ROTATED)
    return (Cause.UNTRUSTED_ISSUER, Cause.ISSUER_ROTATED)


def analyze_chain(
    identity: IdentityFacts, chain: ChainFacts, acceptable: tuple[str, ...]
) -> ChainReach:
    """Walk up from the leaf until a certificate's issuer is an acceptable name."""
    issuers = (identity.certificate.issuer, *(link.certificate.issuer for link in chain.path))
    path_names = tuple(dict.fromkeys(issuers))  # a self-signed top repeats its own name
    if not acceptable:
        return ChainReach(Reach.UNKNOWN, path_names=path_names)
    accepted = set(acceptable)
    certificates = (identity.certificate, *(link.certificate for link in chain.path))
    for index, cert in enumerate(certificates):
        if cert.issuer in accepted:
            missing = tuple(
                link.certificate.subject for link in chain.path[:index] if not link.sent
            )
            reach = Reach.MISSING_INTERMEDIATE if missing else Reach.REACHES
            return ChainReach(reach, cert.issuer, missing, path_names)
    return ChainReach(Reach.UNTRUSTED, path_names=path_names)


def check_chain_against_server(
    identity: IdentityFacts, chain: ChainFacts, acceptable: tuple[str, ...]
) -> tuple[ChainReach, list[Finding]]:
    """Findings about the chain versus the server's bundle, else the CA names it sent."""
    result = analyze_chain(identity, chain, acceptable)
    bundle = bundle_trust(chain)
    findings: list[Finding] = []
    if bundle is not None:
        result = ChainReach(
            result.reach, result.accepted_name, result.missing, result.path_names, bundle.trust
        )
        findings.extend(_bundle_findings(bundle))
    else:
        if result.reach is Reach.UNKNOWN:
            result = ChainReach(
                result.reach, path_names=result.path_names,
                candidates=rank_without_names(identity, chain),
            )  # fmt: skip
        findings.extend(_names_findings(identity, chain, acceptable, result))
        if chain.same_name_other_key:
            findings.append(
                Finding(
                    code=FindingCode.ISSUER_KEY_DIFFERS,
                    severity=Severity.ERROR,
                    cause=Cause.ISSUER_ROTATED,
                    message="A CA certificate named "
                    f"{', '.join(chain.same_name_other_key)} is known, but its key did not sign "
                    "this chain: the CA has been re-keyed (rotated).",
                )
            )
    findings.extend(
        Finding(
            code=FindingCode.AIA_FETCH_FAILED,
            severity=Severity.INFO,
            message=f"Could not fetch an issuer certificate: {failure}.",
        )
        for failure in chain.fetch_failures
    )
    return result, findings


def _bundle_findings(bundle: BundleTrust) -> list[Finding]:
    match bundle.trust:
        case Trust.TRUSTED:
            return [
                Finding(
                    code=FindingCode.CA_BUNDLE_TRUSTS,
                    severity=Severity.INFO,
                    message=f"The chain reaches {bundle.anchor}, which the given client-CA "
                    "bundle holds, through certificates the client sends.",
                )
            ]
        case Trust.MISSING_INTERMEDIATE:
            return [
                Finding(
                    code=Cause.MISSING_INTERMEDIATE,
                    severity=Severity.ERROR,
                    cause=Cause.MISSING_INTERMEDIATE,
                    message=f"The certificate reaches {bundle.anchor} (in the given client-CA "
                    f"bundle) only through {', '.join(bundle.missing)}, which the client did "
                    "not send.",
                )
            ]
        case Trust.ROTATED:
            return [
                Finding(
                    code=FindingCode.ISSUER_KEY_DIFFERS,
                    severity=Severity.ERROR,
                    cause=Cause.ISSUER_ROTATED,
                    message=f"The chain names {bundle.rotated_name} as issuer, and the given "
                    "client-CA bundle holds a CA of that name, but its key did not sign the "
                    "chain: the CA has been re-keyed (rotated).",
                )
            ]
        case Trust.UNTRUSTED:
            return [
                Finding(
                    code=Cause.UNTRUSTED_ISSUER,
                    severity=Severity.ERROR,
                    cause=Cause.UNTRUSTED_ISSUER,
                    message=f"The chain ends at {bundle.top}, and neither it nor any CA "
                    "above the certificate is in the given client-CA bundle.",
                )
            ]
        case Trust.UNDETERMINED:
            return [
                Finding(
                    code=FindingCode.ISSUER_UNAVAILABLE,
                    severity=Severity.WARNING,
                    message=f"The certificate of {bundle.top_issuer}, issuer of {bundle.top}, "
                    "is not available here (not sent, not beside the identity, no caIssuers "
                    "URL that answered) and that name is not in the given client-CA bundle: "
                    "either it is an intermediate the client must send, or a CA the server "
                    "does not trust.",
                )
            ]
    assert_never(bundle.trust)


def _names_findings(
    identity: IdentityFacts, chain: ChainFacts, acceptable: tuple[str, ...], result: ChainReach
) -> list[Finding]:
    match result.reach:
        case Reach.UNKNOWN:
            return [
                Finding(
                    code=FindingCode.NO_CA_NAMES_LISTED,
                    severity=Severity.INFO,
                    message="The server did not list which CAs it accepts (an empty list means "
                    "any CA it trusts), so the issuer cannot be compared with its list.",
                )
            ]
        case Reach.UNTRUSTED:
            top = chain.path[-1].certificate if chain.path else identity.certificate
            unknown_above = (
                ""
                if top.self_signed
                else f" The certificate of {top.issuer} is not available here (not in the "
                "bundle, no caIssuers URL that answered), so this cannot be told apart from "
                f"{Cause.MISSING_INTERMEDIATE}: if {top.issuer} is an intermediate of an "
                "accepted CA, the client must send it with the certificate (appended to the "
                "PEM file); giving its certificate to check (a second --cert) tells which."
            )
            return [
                Finding(
                    code=Cause.UNTRUSTED_ISSUER,
                    severity=Severity.ERROR,
                    cause=Cause.UNTRUSTED_ISSUER,
                    message=f"No certificate on the chain ({', '.join(result.path_names)}) was "
                    f"issued by a CA the server accepts ({'; '.join(acceptable)})." + unknown_above,
                )
            ]
        case Reach.MISSING_INTERMEDIATE:
            return [
                Finding(
                    code=Cause.MISSING_INTERMEDIATE,
                    severity=Severity.ERROR,
                    cause=Cause.MISSING_INTERMEDIATE,
                    message=f"The certificate reaches the accepted CA {result.accepted_name} "
                    f"only through {', '.join(result.missing)}, which the client did not send.",
                )
            ]
        case Reach.REACHES:
            return []
    assert_never(result.reach)
