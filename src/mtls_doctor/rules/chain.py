"""Does the identity's chain reach a CA the server accepts, and what was not sent?"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from mtls_doctor.causes import Cause
from mtls_doctor.model import ChainFacts, Finding, IdentityFacts, Severity


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
    """Findings about the chain versus the CA names the server sent."""
    result = analyze_chain(identity, chain, acceptable)
    findings: list[Finding] = []
    match result.reach:
        case Reach.UNKNOWN:
            findings.append(
                Finding(
                    code="no_ca_names_listed",
                    severity=Severity.INFO,
                    message="The server did not list which CAs it accepts (an empty list means "
                    "any CA it trusts), so the issuer cannot be compared with its list.",
                )
            )
        case Reach.UNTRUSTED:
            top = chain.path[-1].certificate if chain.path else identity.certificate
            unknown_above = (
                ""
                if top.self_signed
                else f" The certificate of {top.issuer} is not available here (not in the "
                "bundle, no caIssuers URL that answered), so whether it is an intermediate "
                "of an accepted CA cannot be checked; if it is, send it with the certificate."
            )
            findings.append(
                Finding(
                    code=Cause.UNTRUSTED_ISSUER,
                    severity=Severity.ERROR,
                    cause=Cause.UNTRUSTED_ISSUER,
                    message=f"No certificate on the chain ({', '.join(result.path_names)}) was "
                    f"issued by a CA the server accepts ({'; '.join(acceptable)})." + unknown_above,
                )
            )
        case Reach.MISSING_INTERMEDIATE:
            findings.append(
                Finding(
                    code=Cause.MISSING_INTERMEDIATE,
                    severity=Severity.ERROR,
                    cause=Cause.MISSING_INTERMEDIATE,
                    message=f"The certificate reaches the accepted CA {result.accepted_name} "
                    f"only through {', '.join(result.missing)}, which the client did not send.",
                )
            )
        case Reach.REACHES:
            pass
    if chain.same_name_other_key:
        findings.append(
            Finding(
                code="issuer_key_differs",
                severity=Severity.ERROR,
                cause=Cause.ISSUER_ROTATED,
                message="A CA certificate named "
                f"{', '.join(chain.same_name_other_key)} is known, but its key did not sign "
                "this chain: the CA has been re-keyed (rotated).",
            )
        )
    if chain.ca_bundle_error:
        findings.append(
            Finding(
                code="ca_bundle_rejects",
                severity=Severity.ERROR,
                message="Validation against the given client-CA bundle failed: "
                f"{chain.ca_bundle_error}.",
            )
        )
    findings.extend(
        Finding(
            code="aia_fetch_failed",
            severity=Severity.INFO,
            message=f"Could not fetch an issuer certificate: {failure}.",
        )
        for failure in chain.fetch_failures
    )
    return result, findings
