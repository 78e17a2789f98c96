"""Block rules about CRLs: one valid CRL from every CA of the chain when checking is on."""

from __future__ import annotations

from mtls_doctor.model import CertFacts, Finding, Severity
from mtls_doctor.rules.serverconf.context import (
    Context,
    issues,
)
from mtls_doctor.rules.serverconf.table import (
    finding,
    fmt,
    plural,
)
from mtls_doctor.serverconf.facts import (
    CrlCheck,
    CRLFacts,
    FileRole,
    ServerKind,
    VerifyMode,
    Where,
)


def _crl_for(ca: CertFacts, crls: tuple[CRLFacts, ...]) -> tuple[CRLFacts | None, bool]:
    """The newest CRL that ``ca`` signed, and whether another key signed one in its name."""
    own = [c for c in crls if c.verified_by == ca.fingerprint_sha256]
    claims = any(c.issuer == ca.subject and c.verified_by is None for c in crls)
    if not own:
        return None, claims
    return max(own, key=lambda c: c.this_update), claims


def check_crls(ctx: Context) -> list[Finding]:
    """CRLs: consulted at all, one per CA, valid now, signed by the CA they name."""
    block = ctx.block
    crl_files = ctx.material.of(FileRole.CRL, FileRole.CRL_PATH)
    if not crl_files or block.verify is VerifyMode.NONE:
        return []
    where = crl_files[0].config.where
    if block.crl_check is CrlCheck.NONE and block.kind is ServerKind.LIGHTTPD:
        return [
            finding(
                "crl_not_checked",
                where,
                f"{crl_files[0].config.directive} is set but lighttpd's mod_gnutls does not "
                "apply it to client certificates: revoked certificates are accepted. Use "
                'mod_openssl (server.modules = ("mod_openssl")) to check revocation.',
            )
        ]
    if block.crl_check is CrlCheck.NONE:
        return [
            finding(
                "crl_not_checked",
                where,
                f"{crl_files[0].config.directive} is set but SSLCARevocationCheck is "
                f"{'none' if block.crl_check_at else 'not set (default: none)'}: the CRLs are "
                "never consulted and revoked certificates are accepted. Add "
                "`SSLCARevocationCheck chain`.",
            )
        ]
    findings: list[Finding] = []
    if block.crl_check is CrlCheck.LEAF:
        findings.append(
            finding(
                "crl_leaf_only",
                block.crl_check_at or where,
                "SSLCARevocationCheck leaf checks only the client certificate: a revoked "
                "intermediate CA still lets its certificates in.",
            )
        )
    crls = ctx.material.crls
    trusted = ctx.material.trusted
    trusted_names = {c.subject for c in trusted}
    foreign = any(crl.issuer not in trusted_names for crl in crls)
    for ca in trusted:
        if not (ca.is_ca or ca.self_signed):
            continue
        crl, forged = _crl_for(ca, crls)
        children = [c for c in trusted if issues(ctx.material, ca, c)]
        if block.crl_check is CrlCheck.LEAF and (children or (ca.self_signed and foreign)):
            # Leaf mode consults only the client certificate's issuer: not a CA that
            # issues intermediates, nor a root when CRLs of client-sent intermediates are here.
            continue
        if crl is None:
            findings.append(_missing_crl(ctx, ca, forged, where))
    # Validity of the CRL each issuer would be judged by: the newest one signed by the
    # trusted CA of that name, or (for intermediates the clients send) the newest one.
    by_issuer: dict[str, CRLFacts] = {}
    for crl in crls:
        if crl.issuer in trusted_names and crl.verified_by is None:
            continue  # not signed by the trusted CA it names: reported above
        known = by_issuer.get(crl.issuer)
        if known is None or crl.this_update > known.this_update:
            by_issuer[crl.issuer] = crl
    for issuer, crl in by_issuer.items():
        findings.extend(_crl_validity(ctx, issuer, crl, where))
    return findings


def _missing_crl(ctx: Context, ca: CertFacts, forged: bool, where: Where) -> Finding:
    if forged:
        return finding(
            "crl_bad_signature",
            where,
            f"The CRL naming {ca.subject} as issuer is not signed by that CA's key (forged, or "
            f"from a re-keyed CA): {ctx.block.kind} ignores it, so every client whose chain "
            "includes this CA is rejected (unable to get certificate CRL).",
        )
    if ctx.block.crl_missing_ok:
        return finding(
            "crl_missing_for_ca",
            where,
            f"No CRL from {ca.subject}: its certificates are not checked for revocation "
            "(no_crl_for_cert_ok).",
            Severity.INFO,
        )
    per_ca = " (nginx checks the CRL of every CA in the chain)" * (
        ctx.block.kind is ServerKind.NGINX
    )
    return finding(
        "crl_missing_for_ca",
        where,
        f"CRL checking is on but there is no CRL from {ca.subject}: every client whose "
        f"chain includes this CA is rejected (unable to get certificate CRL){per_ca}. Add "
        "its CRL to the CRL file.",
    )


def _crl_validity(ctx: Context, issuer: str, crl: CRLFacts, where: Where) -> list[Finding]:
    alert = (
        " HAProxy answers with the alert certificate_expired, which clients misread as their "
        "own certificate expiring."
    ) * (ctx.block.kind is ServerKind.HAPROXY)
    if crl.next_update is not None and ctx.now > crl.next_update:
        return [
            finding(
                "crl_expired",
                where,
                f"The CRL from {issuer} expired on {fmt(crl.next_update)} (its nextUpdate):"
                f" every client whose chain includes this CA is rejected (CRL has expired)."
                f"{alert} Fetch a fresh CRL and reload the server; automate it.",
            )
        ]
    if ctx.now < crl.this_update:
        return [
            finding(
                "crl_not_yet_valid",
                where,
                f"The CRL from {issuer} is valid only from {fmt(crl.this_update)}: until "
                "then every client whose chain includes this CA is rejected (check the clocks).",
            )
        ]
    if crl.next_update is not None and crl.next_update - ctx.now <= ctx.crl_warn:
        hours = int((crl.next_update - ctx.now).total_seconds() // 3600)
        return [
            finding(
                "crl_expiring",
                where,
                f"The CRL from {issuer} reaches its nextUpdate on {fmt(crl.next_update)} "
                f"(in {plural(hours, 'hour')}): refresh it before then or every client of this "
                "CA is rejected.",
            )
        ]
    return []
