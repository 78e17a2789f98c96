"""Rules about a server's client-authentication settings (``lint-server``).

Pure: a parsed block (:class:`TLSServerBlock`), what its files hold
(:class:`BlockMaterial`) and ``now`` → findings with file and line. Every rule
is a row of :data:`RULES` (its code, default severity, title and the
behaviour it predicts); the SARIF renderer publishes that table as the
tool's rule metadata. Each predicted behaviour is proven against the real
server in ``tests/realservers/test_lint_proofs.py``.

Facts measured on nginx 1.22, Apache 2.4 and HAProxy 2.6 with OpenSSL 3.0
that these rules encode:

- Verify depth: nginx and HAProxy pass it to OpenSSL, where depth N allows N
  intermediate CAs between the client certificate and the trusted root.
  Apache checks ``error depth > N`` itself, so N allows N - 1 intermediates
  (depth 0 rejects everything). nginx and Apache default to 1; HAProxy has no
  setting (OpenSSL's 100).
- None of the three sets ``X509_V_FLAG_PARTIAL_CHAIN``: a trusted
  intermediate without its root trusts nothing.
- CRL checking (nginx ``ssl_crl``, HAProxy ``crl-file``, Apache
  ``SSLCARevocationCheck chain``) needs a valid CRL from every CA of the
  chain; a missing, expired or not-yet-valid one rejects every client.
  Apache's default ``SSLCARevocationCheck`` is ``none``: a CRL file alone is
  never consulted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from mtls_doctor.model import CertFacts, Finding, Severity
from mtls_doctor.serverconf.facts import (
    BlockMaterial,
    CrlCheck,
    CRLFacts,
    FileProblem,
    FileRole,
    IgnoredSetting,
    ServerKind,
    TLSServerBlock,
    VerifyMode,
    Where,
)
from mtls_doctor.x509errors import X509Error

DEFAULT_WARN_DAYS = 30
#: CRLs live days, not years: warn this long before nextUpdate.
DEFAULT_CRL_WARN = timedelta(hours=72)

#: ``ssl_verify_depth`` / ``SSLVerifyDepth`` when not set (HAProxy: OpenSSL's default).
DEFAULT_VERIFY_DEPTH = {ServerKind.NGINX: 1, ServerKind.APACHE: 1, ServerKind.HAPROXY: 100}
DEPTH_DIRECTIVE = {
    ServerKind.NGINX: "ssl_verify_depth",
    ServerKind.APACHE: "SSLVerifyDepth",
    ServerKind.HAPROXY: "(no setting)",
}


@dataclass(frozen=True, slots=True)
class Rule:
    """One lint rule: what it finds and the behaviour it predicts."""

    code: str
    severity: Severity
    #: One line: the problem.
    title: str
    #: Why it matters: what the server does (proven on the real server).
    behaviour: str


_RULE_ROWS: tuple[Rule, ...] = (
    Rule(
        "client_auth_not_requested",
        Severity.INFO,
        "This TLS block does not ask for client certificates.",
        "No CertificateRequest is sent; client certificates are neither asked for nor checked.",
    ),
    Rule(
        "client_auth_off",
        Severity.WARNING,
        "Client-CA settings are present but client certificates are never requested.",
        "Without ssl_verify_client / SSLVerifyClient / `verify`, the CA files are ignored and "
        "every client is served without a certificate.",
    ),
    Rule(
        "no_client_ca",
        Severity.ERROR,
        "Client certificates are requested but no CA is configured to verify them.",
        "nginx and HAProxy refuse to start; Apache starts and rejects every certificate.",
    ),
    Rule(
        "file_missing",
        Severity.ERROR,
        "A CA or CRL file named in the configuration does not exist.",
        "The server refuses to start (`nginx -t`, `apache2 -t`, `haproxy -c` fail).",
    ),
    Rule(
        "file_unreadable",
        Severity.ERROR,
        "A CA or CRL file cannot be read.",
        "The server refuses to start.",
    ),
    Rule(
        "file_empty",
        Severity.ERROR,
        "A CA or CRL file is empty.",
        "The server refuses to start (OpenSSL: no certificate or crl found).",
    ),
    Rule(
        "file_no_content",
        Severity.ERROR,
        "A CA or CRL file holds no PEM certificate / CRL.",
        "The server refuses to start (OpenSSL: no certificate or crl found).",
    ),
    Rule(
        "file_wrong_type",
        Severity.ERROR,
        "A directory is named where a file is expected, or the reverse.",
        "The server refuses to start.",
    ),
    Rule(
        "file_corrupt_block",
        Severity.WARNING,
        "Some PEM blocks of a CA or CRL file do not parse.",
        "OpenSSL stops or skips at the broken block: the CAs after it may not be trusted.",
    ),
    Rule(
        "ca_not_ca",
        Severity.WARNING,
        "A certificate in the client-CA file is not a CA certificate.",
        "It cannot issue client certificates (OpenSSL: invalid CA certificate), yet its name "
        "is advertised to clients.",
    ),
    Rule(
        "ca_expired",
        Severity.ERROR,
        "A trusted client CA certificate has expired.",
        "Every client certificate issued under it is rejected (certificate has expired).",
    ),
    Rule(
        "ca_not_yet_valid",
        Severity.ERROR,
        "A trusted client CA certificate is not valid yet.",
        "Every client certificate issued under it is rejected until that date.",
    ),
    Rule(
        "ca_expiring",
        Severity.WARNING,
        "A trusted client CA certificate expires soon.",
        "On that date every client certificate issued under it stops working.",
    ),
    Rule(
        "ca_duplicate",
        Severity.INFO,
        "The same CA certificate is configured more than once.",
        "Harmless, but its name is advertised twice and the bundle is harder to audit.",
    ),
    Rule(
        "ca_same_name_other_key",
        Severity.INFO,
        "Two trusted CAs have the same name and different keys (a rotation overlap).",
        "Both are tried; fine while clients of the old and the new key coexist.",
    ),
    Rule(
        "ca_chain_incomplete",
        Severity.ERROR,
        "A trusted CA's issuer is not trusted (an intermediate without its root).",
        "nginx, Apache and HAProxy do not allow partial chains: every certificate issued "
        "under that intermediate is rejected (unable to get issuer certificate).",
    ),
    Rule(
        "ca_names_hide_trusted",
        Severity.WARNING,
        "A trusted CA is not among the CA names sent to clients.",
        "Browsers only offer certificates whose chain matches an advertised name: users of "
        "this CA get no certificate prompt (curl and scripts are unaffected).",
    ),
    Rule(
        "ca_names_untrusted",
        Severity.WARNING,
        "A CA name is advertised that the server does not trust.",
        "Browsers offer certificates from that CA, and the server then rejects them.",
    ),
    Rule(
        "ca_names_empty",
        Severity.INFO,
        "No acceptable CA names are sent.",
        "Browsers then offer every certificate the user has, not just the right one.",
    ),
    Rule(
        "verify_depth_too_small",
        Severity.ERROR,
        "The verify depth is too small for the chains the trusted CAs imply.",
        "Client certificates from deeper CAs are rejected (certificate chain too long; "
        "Apache AH02040).",
    ),
    Rule(
        "verify_depth_default",
        Severity.INFO,
        "Apache's default SSLVerifyDepth 1 accepts only certificates issued by a trusted CA "
        "directly.",
        "A client certificate issued by an intermediate CA is rejected (AH02040).",
    ),
    Rule(
        "crl_missing_for_ca",
        Severity.ERROR,
        "CRL checking is on, and a CA of the chain has no CRL.",
        "Every client whose chain includes that CA is rejected (unable to get certificate CRL).",
    ),
    Rule(
        "crl_expired",
        Severity.ERROR,
        "A CRL has passed its nextUpdate.",
        "Every client whose chain includes its CA is rejected (CRL has expired); HAProxy "
        "even sends the alert certificate_expired.",
    ),
    Rule(
        "crl_expiring",
        Severity.WARNING,
        "A CRL reaches its nextUpdate soon.",
        "Unless it is refreshed in time, every client of its CA is rejected from then on.",
    ),
    Rule(
        "crl_not_yet_valid",
        Severity.ERROR,
        "A CRL's thisUpdate is in the future.",
        "Every client whose chain includes its CA is rejected (CRL is not yet valid).",
    ),
    Rule(
        "crl_bad_signature",
        Severity.ERROR,
        "A CRL claims a trusted CA as issuer but that CA's key did not sign it.",
        "The server treats it as absent: with CRL checking on, the CA's clients are rejected.",
    ),
    Rule(
        "crl_not_checked",
        Severity.WARNING,
        "CRLs are configured but never consulted.",
        "Apache's SSLCARevocationCheck defaults to none: revoked certificates are accepted.",
    ),
    Rule(
        "crl_leaf_only",
        Severity.INFO,
        "Only the client certificate is checked against CRLs, not its intermediates.",
        "A revoked intermediate CA still lets its certificates in.",
    ),
    Rule(
        "optional_unchecked",
        Severity.WARNING,
        "Client certificates are optional and nothing checks the verification result.",
        "Clients without a certificate are served like everyone else.",
    ),
    Rule(
        "optional_no_ca_unchecked",
        Severity.ERROR,
        "optional_no_ca lets certificates from any CA through and nothing checks the result.",
        "A certificate from an unknown CA (or none) is served like a trusted one.",
    ),
    Rule(
        "verify_result_forwarded",
        Severity.INFO,
        "The verification result is only passed on to the application.",
        "Unless the application checks it, unverified clients are served.",
    ),
    Rule(
        "scoped_verify_client",
        Severity.ERROR,
        "SSLVerifyClient inside <Location>/<Directory> needs a second handshake step.",
        "TLS 1.3: post-handshake authentication, which browsers do not do: they get 403 "
        "(AH10158). TLS 1.2: renegotiation, refused by HTTP/2 and some clients.",
    ),
    Rule(
        "verify_errors_ignored",
        Severity.ERROR,
        "HAProxy crt-ignore-err / ca-ignore-err switches certificate checks off.",
        "Expired, not-yet-valid or untrusted client certificates are accepted.",
    ),
    Rule(
        "setting_ignored",
        Severity.WARNING,
        "A client-authentication directive stands where the server ignores it.",
        "The server starts without complaint and does not request client certificates.",
    ),
    Rule(
        "user_cert_rejected",
        Severity.ERROR,
        "The certificate given with --user-cert would be rejected by this block.",
        "The verdict's cause says which check fails first.",
    ),
    Rule(
        "issuing_ca_rejected",
        Severity.ERROR,
        "Certificates from the given issuing CA would be rejected by this block.",
        "Users with certificates from the current CA are locked out.",
    ),
    Rule(
        "issuing_ca_not_advertised",
        Severity.WARNING,
        "The given issuing CA is accepted but its name is not advertised.",
        "Browsers will not offer its certificates.",
    ),
)

#: Every rule by code.
RULES: dict[str, Rule] = {rule.code: rule for rule in _RULE_ROWS}


def finding(
    code: str, where: Where | None, message: str, severity: Severity | None = None
) -> Finding:
    """A finding of rule ``code`` at ``where``."""
    rule = RULES[code]
    return Finding(
        code=code,
        severity=severity or rule.severity,
        message=message,
        file=where.file if where else None,
        line=where.line if where else None,
    )


def _fmt(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


# --------------------------------------------------------------------------- chains (by name)


def _issues(issuer: CertFacts, cert: CertFacts) -> bool:
    """By name and key identifiers (the rules have no keys): ``issuer`` issued ``cert``."""
    if issuer.subject != cert.issuer or issuer.fingerprint_sha256 == cert.fingerprint_sha256:
        return False
    return (
        cert.authority_key_id is None
        or issuer.subject_key_id is None
        or cert.authority_key_id == issuer.subject_key_id
    )


def issuer_in(cert: CertFacts, pool: Iterable[CertFacts]) -> CertFacts | None:
    """The certificate of ``pool`` that issued ``cert`` (by name and key id), or None."""
    return next((c for c in pool if _issues(c, cert)), None)


def chain_up(cert: CertFacts, pool: tuple[CertFacts, ...]) -> tuple[CertFacts, ...]:
    """``cert`` and its issuers within ``pool``, up to a self-signed one or a gap."""
    chain = [cert]
    while not chain[-1].self_signed and len(chain) <= len(pool):
        parent = issuer_in(chain[-1], pool)
        if parent is None or parent in chain:
            break
        chain.append(parent)
    return tuple(chain)


def allowed_intermediates(kind: ServerKind, depth: int | None) -> int:
    """How many intermediate CAs a client chain may have under this depth setting."""
    value = DEFAULT_VERIFY_DEPTH[kind] if depth is None else depth
    return value - 1 if kind is ServerKind.APACHE else value


def depth_needed(kind: ServerKind, intermediates: int) -> int:
    """The smallest depth setting that accepts ``intermediates`` intermediate CAs."""
    return intermediates + 1 if kind is ServerKind.APACHE else intermediates


def advertised_names(block: TLSServerBlock, material: BlockMaterial) -> tuple[str, ...]:
    """The CA names the server sends in its CertificateRequest, in order, deduplicated."""
    if block.verify is VerifyMode.NONE or block.no_ca_names_at is not None:
        return ()
    roles: tuple[FileRole, ...] = (FileRole.CLIENT_CA, FileRole.CA_PATH)
    if block.kind is ServerKind.APACHE and block.files_with(
        FileRole.CA_NAMES, FileRole.CA_NAMES_PATH
    ):
        roles = (FileRole.CA_NAMES, FileRole.CA_NAMES_PATH)
    names: list[str] = []
    for item in material.of(*roles):
        names.extend(c.subject for c in item.certificates if c.subject not in names)
    return tuple(names)


# --------------------------------------------------------------------------- the rules


@dataclass(frozen=True, slots=True)
class Context:
    """What every rule needs beside the block."""

    block: TLSServerBlock
    material: BlockMaterial
    now: datetime
    warn_days: int
    crl_warn: timedelta

    @property
    def first_ca_where(self) -> Where:
        """The first CA directive, else the verify directive, else the block."""
        trusted = [f for f in self.block.files if f.role.trusted]
        if trusted:
            return trusted[0].where
        return self.block.verify_at or self.block.where

    def where_of(self, cert: CertFacts) -> Where:
        """The directive of the first trusted file that holds ``cert``."""
        for item in self.material.files:
            if item.config.role.trusted and cert in item.certificates:
                return item.config.where
        return self.first_ca_where


_STARTS = {
    ServerKind.NGINX: "nginx refuses to start (`nginx -t` fails)",
    ServerKind.APACHE: "Apache refuses to start",
    ServerKind.HAPROXY: "HAProxy refuses to start (`haproxy -c` fails)",
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
            f"{_plural(len(keys), 'trusted CA')} named {name} with different keys: a rotation "
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
                f"The client CA {cert.subject} expired on {_fmt(cert.not_after)}: every client "
                "certificate issued under it is rejected.",
            )
        )
    elif ctx.now < cert.not_before:
        out.append(
            finding(
                "ca_not_yet_valid",
                where,
                f"The client CA {cert.subject} is valid only from {_fmt(cert.not_before)}: "
                "client certificates under it are rejected until then.",
            )
        )
    elif cert.not_after - ctx.now <= timedelta(days=ctx.warn_days):
        days = (cert.not_after - ctx.now).days
        out.append(
            finding(
                "ca_expiring",
                where,
                f"The client CA {cert.subject} expires on {_fmt(cert.not_after)} (in "
                f"{_plural(days, 'day')}): every client certificate under it stops working "
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
        chain = chain_up(cert, trusted)
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
        if any(c.subject in names for c in chain_up(cert, trusted)):
            continue
        if any(_issues(cert, c) and c.subject in names for c in trusted):
            continue  # a root above advertised intermediates (HAProxy's documented layout)
        hint = {
            ServerKind.NGINX: "ssl_trusted_certificate is trusted but never advertised; put "
            "the CA (or its root) into ssl_client_certificate",
            ServerKind.APACHE: "add it (or its root) to SSLCADNRequestFile",
            ServerKind.HAPROXY: "ca-verify-file is trusted but never advertised; move it "
            "(or its root) to ca-file",
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
        chain = chain_up(cert, trusted)
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
                f"{setting.capitalize()} allows {_plural(allowed, 'intermediate CA')}, but a "
                f"client certificate issued by {cert.subject} has "
                f"{_plural(intermediates, 'intermediate CA')} below the root: it is rejected "
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
        children = [c for c in trusted if _issues(ca, c)]
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
                f"The CRL from {issuer} expired on {_fmt(crl.next_update)} (its nextUpdate):"
                f" every client whose chain includes this CA is rejected (CRL has expired)."
                f"{alert} Fetch a fresh CRL and reload the server; automate it.",
            )
        ]
    if ctx.now < crl.this_update:
        return [
            finding(
                "crl_not_yet_valid",
                where,
                f"The CRL from {issuer} is valid only from {_fmt(crl.this_update)}: until "
                "then every client whose chain includes this CA is rejected (check the clocks).",
            )
        ]
    if crl.next_update is not None and crl.next_update - ctx.now <= ctx.crl_warn:
        hours = int((crl.next_update - ctx.now).total_seconds() // 3600)
        return [
            finding(
                "crl_expiring",
                where,
                f"The CRL from {issuer} reaches its nextUpdate on {_fmt(crl.next_update)} "
                f"(in {_plural(hours, 'hour')}): refresh it before then or every client of this "
                "CA is rejected.",
            )
        ]
    return []


_VERIFY_VARIABLE = {
    ServerKind.NGINX: "$ssl_client_verify",
    ServerKind.APACHE: "SSL_CLIENT_VERIFY",
    ServerKind.HAPROXY: "ssl_c_used / ssl_c_verify",
}


def check_optional(ctx: Context) -> list[Finding]:
    """optional / optional_no_ca must come with a check of the verification result."""
    block = ctx.block
    if block.verify not in (VerifyMode.OPTIONAL, VerifyMode.OPTIONAL_NO_CA):
        return []
    variable = _VERIFY_VARIABLE[block.kind]
    where = block.verify_at or block.where
    if any(not check.forwarded for check in block.verify_checks):
        return []
    forwarded = [check for check in block.verify_checks if check.forwarded]
    if forwarded:
        return [
            finding(
                "verify_result_forwarded",
                forwarded[0].where,
                f"Client certificates are {block.verify}; {variable} is only passed on "
                f"({forwarded[0].text}): make sure the application refuses requests where it "
                "is not SUCCESS.",
            )
        ]
    if block.verify is VerifyMode.OPTIONAL_NO_CA:
        return [
            finding(
                "optional_no_ca_unchecked",
                where,
                f"optional_no_ca lets clients in without a certificate and with certificates "
                f"from any CA, and nothing here checks {variable}: an unverified client is "
                "served like a verified one. Use `required`, or refuse requests unless "
                f"{variable} is SUCCESS.",
            )
        ]
    return [
        finding(
            "optional_unchecked",
            where,
            f"Client certificates are optional and nothing here checks {variable}: clients "
            "without a certificate are served like everyone else. Use `required`, or refuse "
            f"requests unless {variable} is SUCCESS.",
        )
    ]


def allows_tls13(protocols: str | None) -> bool:
    """Whether an Apache ``SSLProtocol`` / nginx ``ssl_protocols`` value enables TLS 1.3."""
    if protocols is None:
        return True  # the defaults of nginx 1.22+ and Apache 2.4 with OpenSSL 3
    tokens = protocols.split()
    enabled = False
    for token in tokens:
        name = token.lstrip("+-")
        if name.lower() in ("all", "tlsv1.3"):
            enabled = not token.startswith("-")
    return enabled


def check_scoped_verify(ctx: Context) -> list[Finding]:
    """Apache per-directory SSLVerifyClient: renegotiation (1.2) or post-handshake auth (1.3)."""
    findings = []
    tls13 = allows_tls13(ctx.block.protocols)
    for scoped in ctx.block.scoped_verify:
        if scoped.mode is VerifyMode.NONE:
            continue
        if tls13:
            message = (
                f"SSLVerifyClient {scoped.mode} inside {scoped.scope}: with TLS 1.3 Apache asks "
                "for the certificate after the handshake (post-handshake authentication), "
                "which browsers do not support: they get 403 Forbidden and the log says "
                "AH10158. Move SSLVerifyClient to the VirtualHost (a separate host name for the "
                "mTLS part), or limit this host to TLS 1.2."
            )
            severity = Severity.ERROR
        else:
            message = (
                f"SSLVerifyClient {scoped.mode} inside {scoped.scope}: Apache renegotiates the "
                "TLS 1.2 connection to ask for the certificate; HTTP/2 forbids renegotiation "
                "and some clients refuse it. Prefer SSLVerifyClient on the VirtualHost."
            )
            severity = Severity.WARNING
        findings.append(finding("scoped_verify_client", scoped.where, message, severity))
    return findings


def check_ignored_errors(ctx: Context) -> list[Finding]:
    """HAProxy crt-ignore-err / ca-ignore-err."""
    findings = []
    for item in ctx.block.ignore_errors:
        about = (
            "the client certificate itself"
            if item.option == "crt-ignore-err"
            else ("the client certificate's CA chain")
        )
        if "all" in (v.lower() for v in item.values):
            effect = (
                "expired and not-yet-valid client certificates are accepted"
                if item.option == "crt-ignore-err"
                else "certificates from CAs the server does not trust are accepted"
            )
            findings.append(
                finding(
                    "verify_errors_ignored",
                    item.where,
                    f"{item.option} all ignores every verification error about {about}: "
                    f"{effect}. Remove it, or list only the error numbers you mean to ignore.",
                )
            )
            continue
        names = ", ".join(
            f"{v} ({known.text})" if v.isdigit() and (known := X509Error.parse(v)) else v
            for v in item.values
        )
        findings.append(
            finding(
                "verify_errors_ignored",
                item.where,
                f"{item.option} {','.join(item.values)} ignores these verification errors "
                f"about {about}: {names}. Certificates failing only these checks are accepted.",
                Severity.WARNING,
            )
        )
    return findings


#: Every block rule, in the order findings are listed.
BLOCK_RULES: tuple[Callable[[Context], list[Finding]], ...] = (
    check_verify_mode,
    check_files,
    check_ca_certificates,
    check_chain_completeness,
    check_ca_names,
    check_verify_depth,
    check_crls,
    check_optional,
    check_scoped_verify,
    check_ignored_errors,
)


def check_block(
    block: TLSServerBlock,
    material: BlockMaterial,
    now: datetime,
    *,
    warn_days: int = DEFAULT_WARN_DAYS,
    crl_warn: timedelta = DEFAULT_CRL_WARN,
) -> tuple[Finding, ...]:
    """Every finding about one TLS block, with file and line."""
    ctx = Context(block, material, now, warn_days, crl_warn)
    return tuple(f for rule in BLOCK_RULES for f in rule(ctx))


def check_config(ignored: Iterable[IgnoredSetting]) -> tuple[Finding, ...]:
    """Findings about the configuration as a whole: directives the server ignores."""
    return tuple(
        finding("setting_ignored", item.where, f"{item.directive}: {item.reason}")
        for item in ignored
    )
