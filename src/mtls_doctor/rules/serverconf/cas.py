"""Block rules about verification mode, CA files, CA certificates, CA names and depth."""

from __future__ import annotations

from datetime import timedelta

from mtls_doctor.model import CertFacts, Finding
from mtls_doctor.rules.serverconf.context import (
    Context,
    advertised_names,
    allowed_intermediates,
    chain_up,
    depth_needed,
    issues,
)
from mtls_doctor.rules.serverconf.table import (
    DEFAULT_VERIFY_DEPTH,
    DEPTH_DIRECTIVE,
    finding,
    fmt,
    plural,
)
from mtls_doctor.serverconf.facts import (
    FileProblem,
    FileRole,
    ServerKind,
    VerifyMode,
    Where,
)

_STARTS = {
    ServerKind.NGINX: "nginx refuses to start (`nginx -t` fails)",
    ServerKind.APACHE: "Apache refuses to start",
    ServerKind.HAPROXY: "HAProxy refuses to start (`haproxy -c` fails)",
    ServerKind.LIGHTTPD: "lighttpd refuses to start (`lighttpd -tt -f` fails)",
}


def check_verify_mode(ctx: Context) -> list[Finding]:
    """Client auth off while CA files are set; on without any CA."""
    block = ctx.block
    trusted = [f for f in block.files if f.role.trusted]
    if block.verify is VerifyMode.NONE:
        configured = [f for f in block.files if f.role.trusted or f.role.is_crl]
        if configured:
            switch = {
                ServerKind.NGINX: "`ssl_verify_client on;`",
                ServerKind.APACHE: "`SSLVerifyClient require`",
                ServerKind.HAPROXY: "`verify required` on the bind line",
                ServerKind.LIGHTTPD: '`ssl.verifyclient.activate = "enable"`',
            }[block.kind]
            return [
                finding(
                    "client_auth_off",
                    configured[0].where,
                    f"{configured[0].directive} is set but client certificates are never "
                    f"requested (verification is off{'' if block.verify_at else ' by default'}"
                    f"): the CA settings are silently ignored. Add {switch} to turn on mutual "
                    "TLS.",
                )
            ]
        return [
            finding(
                "client_auth_not_requested",
                block.where,
                "This TLS block does not ask for client certificates.",
            )
        ]
    if trusted:
        return []
    if block.kind is ServerKind.APACHE:
        effect = "Apache starts and rejects every client certificate (no CA to verify it)"
        if block.verify is VerifyMode.OPTIONAL_NO_CA:
            effect = "every certificate passes TLS unverified"
    elif block.kind is ServerKind.NGINX and block.verify is VerifyMode.OPTIONAL_NO_CA:
        effect = "every certificate passes TLS unverified"
    else:
        effect = _STARTS[block.kind]
    return [
        finding(
            "no_client_ca",
            block.verify_at or block.where,
            f"Client certificates are requested ({block.verify}) but no CA file is configured "
            f"to verify them: {effect}.",
        )
    ]


_FILE_PROBLEM_CODE = {
    FileProblem.MISSING: "file_missing",
    FileProblem.UNREADABLE: "file_unreadable",
    FileProblem.EMPTY: "file_empty",
    FileProblem.NO_CONTENT: "file_no_content",
    FileProblem.WRONG_TYPE: "file_wrong_type",
}


def check_files(ctx: Context) -> list[Finding]:
    """Every named file exists, is readable and holds what its directive wants."""
    findings = []
    for item in ctx.material.files:
        config = item.config
        if item.problem is not None:
            effect = _STARTS[ctx.block.kind]
            if config.role is FileRole.CA_NAMES and ctx.block.kind is ServerKind.APACHE:
                effect = "Apache refuses to start"
            findings.append(
                finding(
                    _FILE_PROBLEM_CODE[item.problem],
                    config.where,
                    f"{config.directive} {config.path}: {item.detail}. {effect}.",
                )
            )
        elif item.detail:
            findings.append(
                finding("file_corrupt_block", config.where, f"{config.path}: {item.detail}.")
            )
    return findings


def check_ca_certificates(ctx: Context) -> list[Finding]:
    """Each trusted CA: is a CA, valid now and for a while, configured once."""
    findings: list[Finding] = []
    seen: dict[str, str] = {}
    by_name: dict[str, set[str]] = {}
    for item in ctx.material.files:
        if not item.config.role.trusted:
            continue
        where = item.config.where
        for cert in item.certificates:
            if cert.fingerprint_sha256 in seen:
                findings.append(
                    finding(
                        "ca_duplicate",
                        where,
                        f"{cert.subject} is configured twice (also in "
                        f"{seen[cert.fingerprint_sha256]}).",
                    )
                )
                continue
            seen[cert.fingerprint_sha256] = item.config.path
            by_name.setdefault(cert.subject, set()).add(cert.spki_sha256)
            findings.extend(_ca_cert_findings(ctx, cert, where))
    findings.extend(
        finding(
            "ca_same_name_other_key",
            ctx.first_ca_where,
            f"{plural(len(keys), 'trusted CA')} named {name} with different keys: a rotation "
            "overlap. Remove the old one once every client certificate from it has expired.",
        )
        for name, keys in by_name.items()
        if len(keys) > 1
    )
    return findings


def _ca_cert_findings(ctx: Context, cert: CertFacts, where: Where) -> list[Finding]:
    out = []
    if cert.is_ca is not True and not cert.self_signed:
        out.append(
            finding(
                "ca_not_ca",
                where,
                f"{cert.subject} is not a CA certificate (basicConstraints CA:FALSE or absent): "
                "it cannot issue client certificates, yet its name is advertised as an "
                "accepted CA.",
            )
        )
    if ctx.now > cert.not_after:
        out.append(
            finding(
                "ca_expired",
                where,
                f"The client CA {cert.subject} expired on {fmt(cert.not_after)}: every client "
                "certificate issued under it is rejected.",
            )
        )
    elif ctx.now < cert.not_before:
        out.append(
            finding(
                "ca_not_yet_valid",
                where,
                f"The client CA {cert.subject} is valid only from {fmt(cert.not_before)}: "
                "client certificates under it are rejected until then.",
            )
        )
    elif cert.not_after - ctx.now <= timedelta(days=ctx.warn_days):
        days = (cert.not_after - ctx.now).days
        out.append(
            finding(
                "ca_expiring",
                where,
                f"The client CA {cert.subject} expires on {fmt(cert.not_after)} (in "
                f"{plural(days, 'day')}): every client certificate under it stops working "
                "then. Add its successor to the bundle now.",
            )
        )
    return out


def check_chain_completeness(ctx: Context) -> list[Finding]:
    """Every trusted intermediate's chain ends at a trusted self-signed root."""
    trusted = ctx.material.trusted
    has_root = any(c.self_signed for c in trusted)
    findings = []
    for cert in trusted:
        chain = chain_up(cert, ctx.material)
        top = chain[-1]
        if top.self_signed or (cert.is_ca is not True and not cert.self_signed):
            continue
        what = (
            "The client-CA bundle holds no root at all (an intermediate-only bundle)"
            if not has_root
            else f"The issuer of {top.subject}, {top.issuer}, is not trusted"
        )
        findings.append(
            finding(
                "ca_chain_incomplete",
                ctx.where_of(cert),
                f"{what}: {ctx.block.kind} verifies a chain only up to a trusted self-signed "
                f"root, so every certificate issued under {cert.subject} is rejected (unable "
                f"to get issuer certificate). Add the root {top.issuer} to the trusted CAs.",
            )
        )
    return findings


def check_ca_names(ctx: Context) -> list[Finding]:
    """What clients are told: every trusted CA reachable, nothing untrusted advertised."""
    block = ctx.block
    if block.verify is VerifyMode.NONE:
        return []
    advertised = advertised_names(block, ctx.material)
    trusted = ctx.material.trusted
    findings = []
    if not advertised and trusted:
        why = {
            ServerKind.NGINX: "ssl_client_certificate names no certificate",
            ServerKind.APACHE: "the CA-name files hold no certificate",
            ServerKind.HAPROXY: "`no-ca-names` is set"
            if block.no_ca_names_at
            else "only `ca-verify-file` is set (its CAs are never advertised)",
            ServerKind.LIGHTTPD: "the TLS module sends none without ssl.ca-dn-file"
            if not block.files_with(FileRole.CA_NAMES)
            else "ssl.ca-dn-file holds no certificate",
        }[block.kind]
        findings.append(
            finding(
                "ca_names_empty",
                block.no_ca_names_at or ctx.first_ca_where,
                f"No acceptable CA names are sent ({why}): browsers offer every certificate "
                "the user has, not just those from the trusted CAs.",
            )
        )
        return findings
    names = set(advertised)
    for cert in trusted:
        if not (cert.is_ca or cert.self_signed):
            continue
        if any(c.subject in names for c in chain_up(cert, ctx.material)):
            continue
        if any(issues(ctx.material, cert, c) and c.subject in names for c in trusted):
            continue  # a root above advertised intermediates (HAProxy's documented layout)
        hint = {
            ServerKind.NGINX: "ssl_trusted_certificate is trusted but never advertised; put "
            "the CA (or its root) into ssl_client_certificate",
            ServerKind.APACHE: "add it (or its root) to SSLCADNRequestFile",
            ServerKind.HAPROXY: "ca-verify-file is trusted but never advertised; move it "
            "(or its root) to ca-file",
            ServerKind.LIGHTTPD: "add it (or its root) to ssl.ca-dn-file",
        }[block.kind]
        findings.append(
            finding(
                "ca_names_hide_trusted",
                ctx.where_of(cert),
                f"{cert.subject} is trusted but neither it nor its issuers are among the CA "
                f"names sent to clients: browsers will not offer certificates from it "
                f"({hint}).",
            )
        )
    if block.kind is ServerKind.APACHE:
        trusted_names = {c.subject for c in trusted}
        for item in ctx.material.of(FileRole.CA_NAMES, FileRole.CA_NAMES_PATH):
            findings.extend(
                finding(
                    "ca_names_untrusted",
                    item.config.where,
                    f"{cert.subject} is advertised (SSLCADNRequestFile) but not trusted: "
                    "browsers offer certificates from it and Apache then rejects them.",
                )
                for cert in item.certificates
                if cert.subject not in trusted_names
            )
    return findings


def check_ca_dn_file(ctx: Context) -> list[Finding]:
    """lighttpd + mod_openssl: a client certificate's issuer must be named in ssl.ca-dn-file."""
    block = ctx.block
    if (
        block.kind is not ServerKind.LIGHTTPD
        or block.name != "mod_openssl"
        or block.verify is VerifyMode.NONE
        or not block.files_with(FileRole.CA_NAMES)
    ):
        return []
    names = set(advertised_names(block, ctx.material))
    trusted = ctx.material.trusted
    return [
        finding(
            "ca_dn_file_excludes_issuer",
            ctx.where_of(cert),
            f"{cert.subject} is trusted but not named in ssl.ca-dn-file: lighttpd rejects "
            "client certificates it issues (their issuer must be named there), even though "
            "the chain verifies. Add it to ssl.ca-dn-file.",
        )
        for cert in trusted
        if (cert.is_ca or cert.self_signed)
        and cert.subject not in names
        # A root that only issues trusted intermediates issues no client certificates.
        and not (cert.self_signed and any(issues(ctx.material, cert, c) for c in trusted))
    ]


def check_verify_depth(ctx: Context) -> list[Finding]:
    """The depth setting against the deepest chain the trusted CAs imply."""
    block = ctx.block
    if block.verify is VerifyMode.NONE or block.kind is ServerKind.HAPROXY:
        return []
    allowed = allowed_intermediates(block.kind, block.verify_depth)
    directive = DEPTH_DIRECTIVE[block.kind]
    setting = (
        f"{directive} {block.verify_depth}"
        if block.verify_depth is not None
        else f"the default {directive} {DEFAULT_VERIFY_DEPTH[block.kind]}"
    )
    trusted = ctx.material.trusted
    deepest: tuple[CertFacts, int] | None = None
    for cert in trusted:
        chain = chain_up(cert, ctx.material)
        if not chain[-1].self_signed or not (cert.is_ca or cert.self_signed):
            continue
        intermediates = len(chain) - 1  # a leaf issued by ``cert``: every CA but the root
        if deepest is None or intermediates > deepest[1]:
            deepest = (cert, intermediates)
    where = block.verify_depth_at or ctx.first_ca_where
    if deepest is not None and deepest[1] > allowed:
        cert, intermediates = deepest
        needed = depth_needed(block.kind, intermediates)
        return [
            finding(
                "verify_depth_too_small",
                where,
                f"{setting.capitalize()} allows {plural(allowed, 'intermediate CA')}, but a "
                f"client certificate issued by {cert.subject} has "
                f"{plural(intermediates, 'intermediate CA')} below the root: it is rejected "
                f"(certificate chain too long). Set `{directive} {needed}`.",
            )
        ]
    if (
        block.kind is ServerKind.APACHE
        and allowed == 0
        and block.verify_depth is None
        and any(c.self_signed for c in trusted)
    ):
        return [
            finding(
                "verify_depth_default",
                where,
                "SSLVerifyDepth is not set: Apache's default of 1 accepts only client "
                "certificates issued directly by a trusted CA; one issued by an intermediate "
                "CA (sent by the client) is rejected with AH02040 'Certificate Chain too long'. "
                "Set `SSLVerifyDepth 2` (or more) if your clients use intermediates.",
            )
        ]
    return []
