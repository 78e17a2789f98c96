"""How the lab issues: names, keys, CA and end-entity certificates, CRLs.

The lab's certificate profile in one place (the extensions every lab
certificate carries, the AIA and CRL distribution point URLs under a
``base_url``), apart from ``pki.py``, which decides which identities the lab
holds and writes them to disk. Everything is made with ``cryptography`` at
run time; serial numbers and keys are random, time is a parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    ExtendedKeyUsageOID,
    NameOID,
)

__all__ = [
    "ORG",
    "Issuer",
    "LabCA",
    "PrivateKey",
    "build_crl",
    "ec_key",
    "lab_name",
    "rsa_key",
    "self_signed_ca",
]

PrivateKey = Any

ORG = "mtls-doctor lab"


def lab_name(common_name: str, unit: str | None = None) -> x509.Name:
    """``O=mtls-doctor lab[, OU=unit], CN=common_name``."""
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORG)]
    if unit:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def ec_key() -> PrivateKey:
    """A fresh P-256 key (the lab's default)."""
    return ec.generate_private_key(ec.SECP256R1())


def rsa_key(bits: int) -> PrivateKey:
    """A fresh RSA key of ``bits`` bits."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@dataclass(frozen=True, slots=True)
class LabCA:
    """A CA of the lab: its certificate and key (the key stays in memory and in DIR/ca)."""

    name: str
    certificate: x509.Certificate
    key: PrivateKey = field(repr=False)


class Issuer:
    """Signs certificates for one CA, with the lab's extensions."""

    def __init__(self, ca: LabCA, base_url: str | None) -> None:
        self.ca = ca
        self.base_url = base_url

    def sign(
        self,
        *,
        subject: x509.Name,
        public_key: Any,
        not_before: datetime,
        not_after: datetime,
        ca: bool = False,
        path_length: int | None = None,
        eku: Sequence[x509.ObjectIdentifier] | None = (ExtendedKeyUsageOID.CLIENT_AUTH,),
        san: Sequence[x509.GeneralName] = (),
        aia_name: str | None = None,
        ocsp: bool = True,
        cdp: bool = True,
    ) -> x509.Certificate:
        issuer_cert = self.ca.certificate
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer_cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca.key.public_key()),
                critical=False,
            )
        )
        if ca:
            usage = _key_usage(sign=True, cert_sign=True)
        else:
            usage = _key_usage(sign=True, encipher=isinstance(public_key, rsa.RSAPublicKey))
        builder = builder.add_extension(usage, critical=True)
        if eku:
            builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(list(san)), critical=False)
        if self.base_url and aia_name:
            access = [
                x509.AccessDescription(
                    AuthorityInformationAccessOID.OCSP,
                    x509.UniformResourceIdentifier(f"{self.base_url}/ocsp/{aia_name}"),
                ),
                x509.AccessDescription(
                    AuthorityInformationAccessOID.CA_ISSUERS,
                    x509.UniformResourceIdentifier(f"{self.base_url}/ca/{aia_name}.der"),
                ),
            ]
            builder = builder.add_extension(
                x509.AuthorityInformationAccess(access if ocsp else access[1:]),
                critical=False,
            )
        if self.base_url and aia_name and cdp:
            builder = builder.add_extension(
                x509.CRLDistributionPoints(
                    [
                        x509.DistributionPoint(
                            full_name=[
                                x509.UniformResourceIdentifier(
                                    f"{self.base_url}/crl/{aia_name}.crl"
                                )
                            ],
                            relative_name=None,
                            reasons=None,
                            crl_issuer=None,
                        )
                    ]
                ),
                critical=False,
            )
        return builder.sign(self.ca.key, hashes.SHA256())


def _key_usage(
    *, sign: bool = False, cert_sign: bool = False, encipher: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=False,
        key_encipherment=encipher,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def self_signed_ca(name: x509.Name, key: PrivateKey, now: datetime) -> x509.Certificate:
    """A root CA certificate for ``key``, valid from 30 days before ``now`` for ten years."""
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=30))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(sign=True, cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


def crl_builder(
    ca: LabCA, *, this_update: datetime, next_update: datetime, number: int
) -> x509.CertificateRevocationListBuilder:
    """The lab's CRL profile: ``ca``'s name, the update times, a CRL number, the AKI."""
    return (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(this_update)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    )


def build_crl(
    ca: LabCA,
    revoked_serials: Sequence[int],
    *,
    now: datetime,
    next_update: timedelta = timedelta(days=7),
    this_update: datetime | None = None,
) -> x509.CertificateRevocationList:
    """A CRL signed by ``ca`` revoking ``revoked_serials`` (keyCompromise) as of ``now``."""
    builder = crl_builder(
        ca,
        this_update=this_update or now - timedelta(hours=1),
        next_update=(this_update or now) + next_update,
        number=1,
    )
    for serial in revoked_serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(now - timedelta(hours=1))
            .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
            .build()
        )
    return builder.sign(ca.key, hashes.SHA256())
