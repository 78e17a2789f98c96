"""OpenSSL's X.509 verification errors: one home for their numbers, names and texts.

The numbers are what servers log (nginx ``(20: unable to get local issuer
certificate)``), the names are what HAProxy's ``crt-ignore-err`` takes, the
texts are ``X509_verify_cert_error_string``'s (OpenSSL 3.0, Debian 12's). Only
the errors a client certificate meets are listed; ``explain``'s knowledge
(``knowledge/x509_verify.toml``, which also knows older wordings) agrees with
them (a test holds both to it).
"""

from __future__ import annotations

from enum import IntEnum


class X509Error(IntEnum):
    """``X509_V_ERR_*``: the member name without the prefix, the value is OpenSSL's number."""

    UNABLE_TO_GET_ISSUER_CERT = 2
    UNABLE_TO_GET_CRL = 3
    CERT_SIGNATURE_FAILURE = 7
    CERT_NOT_YET_VALID = 9
    CERT_HAS_EXPIRED = 10
    CRL_NOT_YET_VALID = 11
    CRL_HAS_EXPIRED = 12
    DEPTH_ZERO_SELF_SIGNED_CERT = 18
    SELF_SIGNED_CERT_IN_CHAIN = 19
    UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20
    UNABLE_TO_VERIFY_LEAF_SIGNATURE = 21
    CERT_CHAIN_TOO_LONG = 22
    CERT_REVOKED = 23
    INVALID_PURPOSE = 26
    CERT_UNTRUSTED = 27
    CERT_REJECTED = 28
    UNABLE_TO_GET_CRL_ISSUER = 33
    EE_KEY_TOO_SMALL = 66
    CA_KEY_TOO_SMALL = 67
    CA_MD_TOO_WEAK = 68
    #: 24 in OpenSSL 1.1; 3.0 gave 24 to NO_ISSUER_PUBLIC_KEY.
    INVALID_CA = 79

    @property
    def text(self) -> str:
        """OpenSSL's own words for it."""
        return _TEXT[self]

    @property
    def openssl_name(self) -> str:
        """``X509_V_ERR_...``, as HAProxy's ``crt-ignore-err`` accepts it."""
        return f"X509_V_ERR_{self.name}"

    @classmethod
    def parse(cls, value: str) -> X509Error | None:
        """A number or an ``X509_V_ERR_*`` name (any case); None when not one of ours."""
        if value.isdigit():
            number = int(value)
            return cls(number) if number in cls._value2member_map_ else None
        upper = value.upper()
        if not upper.startswith("X509_V_ERR_"):
            return None
        return cls.__members__.get(upper.removeprefix("X509_V_ERR_"))


_TEXT: dict[X509Error, str] = {
    X509Error.UNABLE_TO_GET_ISSUER_CERT: "unable to get issuer certificate",
    X509Error.UNABLE_TO_GET_CRL: "unable to get certificate CRL",
    X509Error.CERT_SIGNATURE_FAILURE: "certificate signature failure",
    X509Error.CERT_NOT_YET_VALID: "certificate is not yet valid",
    X509Error.CERT_HAS_EXPIRED: "certificate has expired",
    X509Error.CRL_NOT_YET_VALID: "CRL is not yet valid",
    X509Error.CRL_HAS_EXPIRED: "CRL has expired",
    X509Error.DEPTH_ZERO_SELF_SIGNED_CERT: "self-signed certificate",
    X509Error.SELF_SIGNED_CERT_IN_CHAIN: "self-signed certificate in certificate chain",
    X509Error.UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "unable to get local issuer certificate",
    X509Error.UNABLE_TO_VERIFY_LEAF_SIGNATURE: "unable to verify the first certificate",
    X509Error.CERT_CHAIN_TOO_LONG: "certificate chain too long",
    X509Error.CERT_REVOKED: "certificate revoked",
    X509Error.INVALID_CA: "invalid CA certificate",
    X509Error.INVALID_PURPOSE: "unsuitable certificate purpose",
    X509Error.CERT_UNTRUSTED: "certificate not trusted",
    X509Error.CERT_REJECTED: "certificate rejected",
    X509Error.UNABLE_TO_GET_CRL_ISSUER: "unable to get CRL issuer certificate",
    X509Error.EE_KEY_TOO_SMALL: "EE certificate key too weak",
    X509Error.CA_KEY_TOO_SMALL: "CA certificate key too weak",
    X509Error.CA_MD_TOO_WEAK: "CA signature digest algorithm too weak",
}
