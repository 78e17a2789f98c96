"""OpenSSL verification errors as a server meets them: their order, and which a block ignores.

nginx's verify callback accepts everything and judges only the *last* error
OpenSSL recorded (``SSL_get_verify_result``); Apache's and HAProxy's judge
each error as it comes and stop at the first they refuse. lighttpd's
(mod_openssl) refuses the first error, or none at all with
``ssl.verifyclient.enforce = "disable"``. The order is
OpenSSL's (x509_vfy.c ``verify_chain``): building the chain, the extensions,
the security level, revocation, then signatures and dates top-down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from mtls_doctor.causes import Cause
from mtls_doctor.graph import IssuanceGraph, Node
from mtls_doctor.serverconf.facts import ServerKind, TLSServerBlock, VerifyMode
from mtls_doctor.x509errors import X509Error

E = X509Error

#: Errors nginx lets through with ``optional_no_ca`` (ngx_ssl_verify_error_optional).
NGINX_OPTIONAL_NO_CA = frozenset(
    {
        E.UNABLE_TO_GET_ISSUER_CERT,
        E.DEPTH_ZERO_SELF_SIGNED_CERT,
        E.SELF_SIGNED_CERT_IN_CHAIN,
        E.UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
        E.UNABLE_TO_VERIFY_LEAF_SIGNATURE,
    }
)
#: Errors Apache lets through with ``optional_no_ca`` (ssl_verify_error_is_optional).
APACHE_OPTIONAL_NO_CA = frozenset(
    {
        E.DEPTH_ZERO_SELF_SIGNED_CERT,
        E.SELF_SIGNED_CERT_IN_CHAIN,
        E.UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
        E.UNABLE_TO_VERIFY_LEAF_SIGNATURE,
        27,  # X509_V_ERR_CERT_UNTRUSTED: never raised by our checks, listed for completeness
    }
)

#: What lighttpd's mod_gnutls lets through where OpenSSL refuses (proven on Debian's lighttpd).
GNUTLS_UNCHECKED = {
    E.INVALID_PURPOSE: "mod_gnutls (GnuTLS does not check extended key usage)",
    E.EE_KEY_TOO_SMALL: "mod_gnutls (GnuTLS accepts RSA keys below 2048 bits)",
}

#: OpenSSL's verification stages; within "signatures and dates" the order is top-down.
_STAGE: dict[int, int] = {
    **dict.fromkeys(
        (
            E.UNABLE_TO_GET_ISSUER_CERT,
            E.DEPTH_ZERO_SELF_SIGNED_CERT,
            E.SELF_SIGNED_CERT_IN_CHAIN,
            E.UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
            E.CERT_CHAIN_TOO_LONG,
        ),
        0,
    ),
    **dict.fromkeys((E.INVALID_CA, E.INVALID_PURPOSE), 1),
    **dict.fromkeys((E.EE_KEY_TOO_SMALL, E.CA_KEY_TOO_SMALL, E.CA_MD_TOO_WEAK), 2),
    **dict.fromkeys(
        (
            E.UNABLE_TO_GET_CRL,
            E.CRL_NOT_YET_VALID,
            E.CRL_HAS_EXPIRED,
            E.CERT_REVOKED,
            E.UNABLE_TO_GET_CRL_ISSUER,
        ),
        3,
    ),
}
_SIGNATURES_AND_DATES = 4


@dataclass(frozen=True, slots=True)
class VerifyError:
    """One verification error as OpenSSL would report it to the server."""

    code: X509Error
    #: 0 = the client certificate, 1 = its issuer, ...
    depth: int
    cause: Cause
    message: str
    #: A fix specific to this error (first in the verdict's list), "" when generic.
    fix: str = ""


@dataclass(slots=True)
class Walk:
    """State of one verification: the block, the graph, the chain built, the errors."""

    block: TLSServerBlock
    graph: IssuanceGraph
    now: datetime
    #: 1 when the chain starts at an issuing CA (a hypothetical leaf below it).
    offset: int
    chain: list[Node] = field(default_factory=list)
    anchored: bool = False
    errors: list[VerifyError] = field(default_factory=list)

    def error(self, code: X509Error, index: int, cause: Cause, message: str, fix: str = "") -> None:
        """Record an error about the certificate at ``index`` of the chain."""
        self.errors.append(VerifyError(code, index + self.offset, cause, message, fix))


def openssl_order(error: VerifyError) -> tuple[int, int, int]:
    """Sort key: the order in which OpenSSL reports errors to the server's callback
    (internal_verify: top-down, a certificate's signature (21) before its dates)."""
    stage = _STAGE.get(error.code, _SIGNATURES_AND_DATES)
    if stage == _SIGNATURES_AND_DATES:
        leaf_signature = error.code is E.UNABLE_TO_VERIFY_LEAF_SIGNATURE
        return stage, -error.depth, 0 if leaf_signature else 1
    return stage, error.depth, 0


def ignored_by_policy(block: TLSServerBlock, ordered: list[VerifyError]) -> dict[VerifyError, str]:
    """The errors the block lets through, with why."""
    if block.kind is ServerKind.NGINX:
        if (
            block.verify is VerifyMode.OPTIONAL_NO_CA
            and ordered
            and ordered[-1].code in NGINX_OPTIONAL_NO_CA
        ):
            last = ordered[-1]
            reason = f"optional_no_ca (nginx judges only the last error, {int(last.code)})"
            return dict.fromkeys(ordered, reason)
        return {}
    if block.kind is ServerKind.LIGHTTPD:
        if block.verify is VerifyMode.OPTIONAL_NO_CA:
            # mod_openssl's verify_callback returns !enforce for every error.
            return dict.fromkeys(ordered, 'ssl.verifyclient.enforce = "disable"')
        if block.name == "mod_gnutls":
            # GnuTLS never checks these: whatever else is wrong still refuses.
            return {e: GNUTLS_UNCHECKED[e.code] for e in ordered if e.code in GNUTLS_UNCHECKED}
        return {}
    ignored: dict[VerifyError, str] = {}
    for error in ordered:
        if block.verify is VerifyMode.OPTIONAL_NO_CA and error.code in APACHE_OPTIONAL_NO_CA:
            if block.kind is ServerKind.APACHE:
                ignored[error] = "optional_no_ca"
                continue
        for item in block.ignore_errors:
            if (item.option == "crt-ignore-err") != (error.depth == 0):
                continue
            for value in item.values:
                if value.lower() == "all" or X509Error.parse(value) is error.code:
                    ignored[error] = f"{item.option} {value}"
        if error not in ignored:
            break  # the callback refuses here: verification stops
    return ignored
