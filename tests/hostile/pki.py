"""Certificates made at test time whose URLs point where a test wants (hostile endpoints)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from mtls_doctor.lab.pki import LabCA


def _uri(url: str) -> x509.UniformResourceIdentifier:
    return x509.UniformResourceIdentifier(url)


def client_cert(
    issuer: LabCA,
    *,
    now: datetime,
    ocsp: list[str] = (),  # type: ignore[assignment]
    crl: list[str] = (),  # type: ignore[assignment]
    ca_issuers: list[str] = (),  # type: ignore[assignment]
    cn: str = "hostile@lab.test",
    days: int = 30,
    expired: bool = False,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A client certificate signed by ``issuer`` with the given OCSP, CRL and caIssuers URLs."""
    key = ec.generate_private_key(ec.SECP256R1())
    start = now - timedelta(days=2 * days if expired else 1)
    end = now - timedelta(days=1) if expired else now + timedelta(days=days)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(issuer.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    )
    access = [
        *(x509.AccessDescription(AuthorityInformationAccessOID.OCSP, _uri(u)) for u in ocsp),
        *(
            x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS, _uri(u))
            for u in ca_issuers
        ),
    ]
    if access:
        builder = builder.add_extension(x509.AuthorityInformationAccess(access), critical=False)
    if crl:
        points = [
            x509.DistributionPoint(
                full_name=[_uri(u)], relative_name=None, reasons=None, crl_issuer=None
            )
            for u in crl
        ]
        builder = builder.add_extension(x509.CRLDistributionPoints(points), critical=False)
    return builder.sign(issuer.key, hashes.SHA256()), key


def write_identity(
    path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey, *chain: x509.Certificate
) -> Path:
    """Leaf, chain and unencrypted key in one PEM file."""
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (cert, *chain))
    pem += key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.write_bytes(pem)
    return path
