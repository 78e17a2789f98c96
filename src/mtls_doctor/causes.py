"""The cause catalogue: every verdict code of CONTRACT.md, in plain words.

This is data, not branches: a rule decides *which* cause applies, this table
says what it means and how to fix it. Renderers read it; nothing here does
I/O. The wording speaks to the person who sees the error (the user) and, on
a separate list, to whoever runs the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Cause(StrEnum):
    """A verdict cause code (CONTRACT.md). The values are part of the contract."""

    ACCEPTED = "accepted"
    REJECTED_BY_APPLICATION = "rejected_by_application"
    CLIENT_AUTH_NOT_REQUESTED = "client_auth_not_requested"
    NO_CERTIFICATE_SENT = "no_certificate_sent"
    CERTIFICATE_EXPIRED = "certificate_expired"
    CERTIFICATE_NOT_YET_VALID = "certificate_not_yet_valid"
    CERTIFICATE_REVOKED = "certificate_revoked"
    UNTRUSTED_ISSUER = "untrusted_issuer"
    ISSUER_ROTATED = "issuer_rotated"
    MISSING_INTERMEDIATE = "missing_intermediate"
    PRIVATE_KEY_MISSING = "private_key_missing"
    PRIVATE_KEY_MISMATCH = "private_key_mismatch"
    WRONG_KEY_USAGE = "wrong_key_usage"
    UNSUPPORTED_KEY = "unsupported_key"
    WRONG_CERTIFICATE_SELECTED = "wrong_certificate_selected"
    REJECTED_UNEXPLAINED = "rejected_unexplained"
    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    NOT_TLS = "not_tls"


#: The verdicts that mean "the network failed", which exit with code 3.
NETWORK_CAUSES = frozenset({Cause.UNREACHABLE, Cause.TIMEOUT, Cause.NOT_TLS})


#: Placeholders in the fixes, filled from the facts of one diagnosis (``fill``), and
#: what they say without facts (the sentence still reads true).
FIX_CONTEXT_DEFAULTS = {
    "accepted_cas": "",
    "subject": "",
    "not_before": "",
    "installed_but_not_offered": "If you have one installed, check that its issuer is among "
    "the CA names the server accepts: browsers only offer matching certificates.",
    # How the target's usual client presents a certificate (curl's flags for HTTPS).
    "client_options": "with curl pass `--cert` and `--key`",
    # Browser advice; a fix filled with "" is dropped (no browser speaks Redis or LDAP).
    "browser_picker": "A certificate in Chrome/Chromium or Firefox on Linux: "
    "`mtls-doctor identities --for URL` lists what the browser would offer this server "
    "and why it leaves each other one out.",
    "restart_browser": "Browsers remember the certificate chosen for a site: quit the browser "
    "completely (not just the tab) so that the selection prompt appears again.",
    # The server's side, worded for web servers and proxies (nginx, Apache, HAProxy); the
    # protocol registry words it for the others (protocols.Protocol.server_ca_setting).
    "server_ca_setting": "nginx: the CA must be in the file of `ssl_client_certificate` "
    "(advertised to clients) or `ssl_trusted_certificate`; Apache: "
    "`SSLCACertificateFile`/`SSLCACertificatePath`; HAProxy: `ca-file` on the `bind` line. "
    "Reload the server afterwards.",
    "advertise_fix": "If users hold valid certificates that are never offered, make sure the "
    "issuing CA is advertised: nginx: in the file of `ssl_client_certificate` (the CAs "
    "of `ssl_trusted_certificate` are trusted but never advertised); Apache: "
    "`SSLCACertificateFile`/`SSLCACertificatePath` (or `SSLCADNRequestFile`); HAProxy: "
    "`ca-file` on the `bind` line. Reload the server afterwards.",
    "lint_issuing_ca": "Check it with `mtls-doctor lint-server CONFIG --issuing-ca NEW_CA.pem`.",
    "watch_rotation": "Before the next rotation reaches users: `mtls-doctor watch --issuing-ca "
    "NEW_CA.pem --server-config CONFIG --server HOST:PORT` names every server that does not "
    "accept the new CA yet.",
    "server_log": "Read the server's error log at info level (nginx logs the reason as "
    "`client SSL certificate verify error`; Apache as AH02039/AH02261).",
    "crl_files": "Check the CRL files (`ssl_crl`, `SSLCARevocationFile`): an expired CRL "
    "rejects every client. `mtls-doctor lint-server` finds this.",
}
#: The placeholders that only a browser's user needs.
BROWSER_ONLY = ("installed_but_not_offered", "browser_picker", "restart_browser")
#: The placeholders about web servers' configuration (what lint-server reads).
WEB_SERVER_ONLY = ("advertise_fix", "lint_issuing_ca", "crl_files")
#: The same advice for a server that is not a web server or proxy.
NOT_WEB_SERVER = {
    "watch_rotation": "Before the next rotation reaches users: `mtls-doctor watch --issuing-ca "
    "NEW_CA.pem --server HOST:PORT` names every server that does not accept the new CA yet.",
    "server_log": "Read the server's log at the time of the check: it names the reason.",
}
#: ``installed_but_not_offered`` when the server lists no CA names.
NOT_OFFERED_WITHOUT_CA_NAMES = (
    "If you have one installed: this server lists no CA names, so a browser offers every "
    "certificate it holds; one that is never offered lacks its private key or is not valid "
    "for client authentication (`mtls-doctor inspect YOUR.p12` shows which)."
)


def fill(text: str, context: dict[str, str] | None = None) -> str:
    """``text`` with its ``{placeholders}`` replaced (by the default when the fact is unknown)."""
    for key, default in FIX_CONTEXT_DEFAULTS.items():
        text = text.replace("{" + key + "}", (context or {}).get(key, default))
    return text


@dataclass(frozen=True, slots=True, kw_only=True)
class CauseInfo:
    """What a cause means and how to fix it."""

    #: One short line: the verdict as a person would say it.
    title: str
    #: Two or three sentences: what is going on, in plain words.
    explanation: str
    #: Who has to act: "user", "server owner", "issuer", "network", "nobody".
    fixed_by: str
    #: Concrete steps for the person holding the certificate.
    user_fixes: tuple[str, ...] = ()
    #: Concrete steps for whoever runs the server (nginx, Apache, HAProxy).
    server_fixes: tuple[str, ...] = ()


CATALOGUE: dict[Cause, CauseInfo] = {
    Cause.ACCEPTED: CauseInfo(
        title="The server accepted the client certificate.",
        explanation="The TLS handshake with the certificate completed and the server answered "
        "the request.",
        fixed_by="nobody",
    ),
    Cause.REJECTED_BY_APPLICATION: CauseInfo(
        title="The TLS layer let the client in; the application refused the request.",
        explanation="The handshake completed, so TLS let the client in (with the "
        "certificate it sent, or with none if the server does not require one). The web "
        "application answered 401 or 403, which is an authorization rule (who may access "
        "what), not a TLS problem.",
        fixed_by="server owner",
        user_fixes=(
            "Ask the service owner to grant access to the identity in your certificate{subject}.",
        ),
        server_fixes=(
            "Check the authorization rule that maps certificate subjects to access "
            "(nginx `if ($ssl_client_s_dn ...)` / `map`, Apache `Require expr` / "
            "`SSLRequire`, the application's allow-list).",
        ),
    ),
    Cause.CLIENT_AUTH_NOT_REQUESTED: CauseInfo(
        title="The server never asked for a client certificate here.",
        explanation="No CertificateRequest was sent on this host name and port, so no "
        "certificate can have been rejected by TLS. mTLS is probably configured on another "
        "host name (SNI), path or port.",
        fixed_by="nobody (look elsewhere)",
        user_fixes=(
            "Check the exact URL: another host name, port or path may be the one that "
            "requires a certificate.",
            "If a load balancer sits in front, it may terminate TLS without client auth.",
        ),
        server_fixes=(
            "nginx: `ssl_verify_client on;` in the server block for this name; Apache: "
            "`SSLVerifyClient require` in this VirtualHost; HAProxy: `verify required` on "
            "the bind line.",
        ),
    ),
    Cause.NO_CERTIFICATE_SENT: CauseInfo(
        title="The server requires a client certificate and none was sent.",
        explanation="The server asked for a certificate and the client presented none. "
        "Either no certificate is installed, or the client had one but did not consider it "
        "suitable (its issuer is not among the CA names the server listed).",
        fixed_by="user",
        user_fixes=(
            "Install your client certificate with its private key (a .p12/.pfx bundle) and "
            "retry; {client_options}.",
            "{installed_but_not_offered}",
            "{browser_picker}",
            "{restart_browser}",
        ),
        server_fixes=("{advertise_fix}",),
    ),
    Cause.CERTIFICATE_EXPIRED: CauseInfo(
        title="The client certificate has expired.",
        explanation="Its notAfter date is in the past, so every server rejects it.",
        fixed_by="user",
        user_fixes=(
            "Renew the certificate with whoever issued it (IT, the CA portal) and import "
            "the new .p12/.pfx with its private key.",
            "Remove the expired one from your store so that it is not picked again.",
            "{restart_browser}",
        ),
        server_fixes=(
            "Track client-certificate expiry: `mtls-doctor watch --cert CERTS_DIR` (or a cron "
            "job with `--config FILE`: exit 1 on warnings), or `mtls-doctor exporter --config "
            "FILE` for Prometheus.",
        ),
    ),
    Cause.CERTIFICATE_NOT_YET_VALID: CauseInfo(
        title="The client certificate is not valid yet.",
        explanation="Its notBefore date is in the future: it was issued with a future start "
        "date, or a clock (yours or the server's) is wrong.",
        fixed_by="user / issuer",
        user_fixes=(
            "Check this computer's clock and time zone.",
            "Wait until its start date{not_before}, or ask the issuer for a certificate valid now.",
        ),
        server_fixes=("Check the server's clock (NTP).",),
    ),
    Cause.CERTIFICATE_REVOKED: CauseInfo(
        title="The client certificate has been revoked.",
        explanation="The issuing CA has withdrawn it (its CRL or OCSP responder says "
        "revoked). It can never be used again.",
        fixed_by="user",
        user_fixes=(
            "Request a new certificate from the issuer and import it with its key.",
            "Delete the revoked certificate from your store.",
        ),
        server_fixes=(
            "If the revocation is a mistake, the CA must issue a new certificate: a revoked "
            "one cannot be un-revoked (except certificateHold).",
        ),
    ),
    Cause.UNTRUSTED_ISSUER: CauseInfo(
        title="The client certificate comes from a CA the server does not trust.",
        explanation="Its chain leads to no CA in the server's client-CA bundle, so the "
        "server cannot verify it.",
        fixed_by="user or server owner",
        user_fixes=(
            "Use a certificate issued by one of the CAs the server accepts{accepted_cas}.",
            "If you have several certificates, pick the one issued by an accepted CA.",
        ),
        server_fixes=("If this CA should be trusted, add it: {server_ca_setting}",),
    ),
    Cause.ISSUER_ROTATED: CauseInfo(
        title="The issuing CA was rotated: same name, different key.",
        explanation="The certificate's issuer has the name of a CA the server accepts, but "
        "it was signed by a different key. The issuing CA has been replaced and either the "
        "server's client-CA bundle or the client's certificate is stale.",
        fixed_by="server owner",
        user_fixes=(
            "If your certificate is the old one, ask for a certificate from the current CA.",
        ),
        server_fixes=(
            "Add the new CA certificate to the client-CA bundle (keep the old one until "
            "every client has moved): {server_ca_setting}",
            "{lint_issuing_ca}",
            "{watch_rotation}",
        ),
    ),
    Cause.MISSING_INTERMEDIATE: CauseInfo(
        title="The intermediate CA certificate was not sent.",
        explanation="The certificate reaches a CA the server accepts only through an "
        "intermediate CA, and the client did not send that intermediate.",
        fixed_by="user",
        user_fixes=(
            "Import the full chain: the .p12/.pfx with the intermediate certificate, or "
            "append the intermediate to the certificate's PEM file ({client_options}).",
        ),
        server_fixes=(
            "Alternatively add the intermediate to the client-CA bundle and raise the verify "
            "depth (nginx `ssl_verify_depth 2;`, Apache `SSLVerifyDepth 2`).",
        ),
    ),
    Cause.PRIVATE_KEY_MISSING: CauseInfo(
        title="The private key is missing.",
        explanation="The bundle holds the certificate but not its private key, so the client "
        "cannot prove it owns the certificate.",
        fixed_by="user",
        user_fixes=(
            "Import the bundle that includes the private key (.p12/.pfx), not the .crt/.cer "
            "alone; {client_options}.",
            "macOS Keychain: the identity shows a disclosure triangle when its key is "
            "present. Windows certmgr: the icon shows a key.",
        ),
    ),
    Cause.PRIVATE_KEY_MISMATCH: CauseInfo(
        title="The private key does not belong to the certificate.",
        explanation="The key given with the certificate has a different public key: it "
        "belongs to another certificate (often an older one after a renewal).",
        fixed_by="user",
        user_fixes=(
            "Find the key generated with this certificate's request, or re-import the "
            "original .p12/.pfx bundle.",
        ),
    ),
    Cause.WRONG_KEY_USAGE: CauseInfo(
        title="The certificate is not allowed for TLS client authentication.",
        explanation="Its extended key usage lacks clientAuth, or its key usage lacks "
        "digitalSignature, so servers (and browsers) refuse to use it as a client "
        "certificate.",
        fixed_by="issuer",
        user_fixes=("Ask the issuer for a certificate made for client authentication.",),
        server_fixes=(
            "The issuing profile must include extendedKeyUsage=clientAuth and "
            "keyUsage=digitalSignature.",
        ),
    ),
    Cause.UNSUPPORTED_KEY: CauseInfo(
        title="The server does not accept this certificate's key or signature algorithm.",
        explanation="The key is too small (for example RSA below 2048 bits), or its type or "
        "signature algorithm (SHA-1, ...) is not allowed by the server's security level.",
        fixed_by="issuer",
        user_fixes=("Ask for a new certificate with an RSA 2048+ or ECDSA P-256 key.",),
        server_fixes=(
            "OpenSSL 3 servers reject RSA < 2048 and SHA-1 at its default security level.",
        ),
    ),
    Cause.WRONG_CERTIFICATE_SELECTED: CauseInfo(
        title="The wrong certificate was selected; another one fits this server.",
        explanation="Several identities are available. The one used does not fit this "
        "server, and another one does.",
        fixed_by="user",
        user_fixes=(
            "Select the identity the verdict names ({client_options}).",
            "{restart_browser}",
        ),
    ),
    Cause.REJECTED_UNEXPLAINED: CauseInfo(
        title="The server rejected a certificate that passes every local check.",
        explanation="Nothing found on the client side explains the rejection: the reason is "
        "in the server's policy (an expired CRL, a depth limit, an allow-list, a CA bundle "
        "we cannot see). The server's error log says which.",
        fixed_by="server owner",
        server_fixes=(
            "{server_log}",
            "{crl_files}",
        ),
    ),
    Cause.UNREACHABLE: CauseInfo(
        title="The server could not be reached.",
        explanation="No TCP connection could be made: the name does not resolve, nothing "
        "listens on that port, or a firewall drops the connection.",
        fixed_by="network",
        user_fixes=("Check the host name, the port, VPN and proxy settings.",),
    ),
    Cause.TIMEOUT: CauseInfo(
        title="The server did not answer in time.",
        explanation="A network step took longer than the timeout.",
        fixed_by="network / server",
        user_fixes=("Retry with a larger `--timeout`; check VPN and firewalls.",),
    ),
    Cause.NOT_TLS: CauseInfo(
        title="This port does not speak TLS.",
        explanation="Something answered, but not with a TLS handshake: probably plain HTTP "
        "or another protocol.",
        fixed_by="user",
        user_fixes=("Use the HTTPS port (usually 443) or the right URL scheme.",),
    ),
}
