"""The rule table of ``lint-server``: every rule's code, severity, title and the
server behaviour it predicts (published as SARIF rule metadata), and shared helpers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from mtls_doctor.model import Finding, Severity
from mtls_doctor.serverconf.facts import (
    ServerKind,
    Where,
)

#: CRLs live days, not years: warn this long before nextUpdate.
DEFAULT_CRL_WARN = timedelta(hours=72)

#: ``ssl_verify_depth`` / ``SSLVerifyDepth`` when not set (HAProxy: OpenSSL's default).
DEFAULT_VERIFY_DEPTH = {
    ServerKind.NGINX: 1,
    ServerKind.APACHE: 1,
    ServerKind.HAPROXY: 100,
    ServerKind.LIGHTTPD: 9,
}
DEPTH_DIRECTIVE = {
    ServerKind.NGINX: "ssl_verify_depth",
    ServerKind.APACHE: "SSLVerifyDepth",
    ServerKind.HAPROXY: "(no setting)",
    ServerKind.LIGHTTPD: "ssl.verifyclient.depth =",
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
        "ca_dn_file_excludes_issuer",
        Severity.WARNING,
        "A trusted CA is not named in lighttpd's ssl.ca-dn-file.",
        "lighttpd (mod_openssl) accepts only client certificates whose own issuer is named in "
        "ssl.ca-dn-file: certificates this CA issues are rejected (certificate rejected), "
        "even though their chain verifies.",
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


def fmt(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"
