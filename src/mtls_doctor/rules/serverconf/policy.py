"""Block rules about optional verification, per-location verification, ignored errors."""

from __future__ import annotations

from mtls_doctor.model import Finding, Severity
from mtls_doctor.rules.serverconf.context import (
    Context,
)
from mtls_doctor.rules.serverconf.table import (
    finding,
)
from mtls_doctor.serverconf.facts import (
    ServerKind,
    VerifyMode,
)
from mtls_doctor.x509errors import X509Error

_VERIFY_VARIABLE = {
    ServerKind.NGINX: "$ssl_client_verify",
    ServerKind.APACHE: "SSL_CLIENT_VERIFY",
    ServerKind.HAPROXY: "ssl_c_used / ssl_c_verify",
    ServerKind.LIGHTTPD: "SSL_CLIENT_VERIFY",
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
    if block.kind is ServerKind.LIGHTTPD:
        return [
            finding(
                "optional_no_ca_unchecked",
                where,
                'ssl.verifyclient.enforce = "disable" serves clients without a certificate '
                "and with any certificate (expired, revoked, from any CA): lighttpd lets every "
                f"verification error through, and nothing here checks {variable}. Set "
                '`ssl.verifyclient.enforce = "enable"`, or have the application refuse '
                f"requests unless {variable} is SUCCESS.",
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
        directive = f"SSLVerifyClient {scoped.written or scoped.mode}"
        if tls13:
            message = (
                f"{directive} inside {scoped.scope}: with TLS 1.3 Apache asks "
                "for the certificate after the handshake (post-handshake authentication), "
                "which browsers do not support: they get 403 Forbidden and the log says "
                "AH10158. Move SSLVerifyClient to the VirtualHost (a separate host name for the "
                "mTLS part), or limit this host to TLS 1.2."
            )
            severity = Severity.ERROR
        else:
            message = (
                f"{directive} inside {scoped.scope}: Apache renegotiates the "
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
