"""The lab PKI: a root, an issuing intermediate, an unrelated CA, a rotated CA,
and one client identity for every way a client certificate fails.

Everything is generated with ``cryptography`` at run time (no key material is
ever committed). Time is a parameter so tests are reproducible; serial numbers
and keys are random. The manifest says which identity shows which cause.
How a certificate or CRL is issued is ``issuing.py``'s; this module decides
what the lab holds and writes it.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID

from mtls_doctor.causes import Cause
from mtls_doctor.errors import UsageError
from mtls_doctor.lab.issuing import (
    Issuer,
    LabCA,
    PrivateKey,
    build_crl,
    ec_key,
    lab_name,
    rsa_key,
    self_signed_ca,
)
from mtls_doctor.lab.store import Staging, classify, refuse_foreign

__all__ = [
    "IDENTITY_CATALOGUE",
    "LabCA",
    "LabIdentity",
    "LabPKI",
    "build_crl",
    "build_lab_pki",
    "manifest",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class LabIdentity:
    """One client identity of the lab and the cause it demonstrates."""

    name: str
    expected: Cause
    description: str
    certificate: x509.Certificate
    #: What the bundle files hold beside the leaf (may omit the intermediate on purpose).
    chain: tuple[x509.Certificate, ...]
    #: The key written into the bundle (None: no key; another key: mismatch).
    bundle_key: PrivateKey | None = field(repr=False)
    #: Leaf, chain and key in one PEM file.
    pem: Path
    #: PKCS#12 without / with password (None where a PKCS#12 cannot exist).
    p12: Path | None
    p12_protected: Path | None

    @property
    def crt(self) -> Path:
        """Leaf and chain, PEM, without the key."""
        return self.pem.with_suffix(".crt")

    @property
    def key(self) -> Path | None:
        """The key alone, PEM (None for the no-key identity)."""
        return self.pem.with_suffix(".key") if self.bundle_key is not None else None


@dataclass(frozen=True, slots=True, kw_only=True)
class LabPKI:
    """A generated lab: where its files are, and the objects for in-process servers."""

    directory: Path
    now: datetime
    root: LabCA
    intermediate: LabCA
    unrelated: LabCA
    rotated: LabCA
    server_cert: x509.Certificate
    server_key: PrivateKey = field(repr=False)
    identities: dict[str, LabIdentity]
    #: The CRL of the intermediate (revokes the ``revoked`` identity).
    crl: x509.CertificateRevocationList
    password_file: Path
    base_url: str | None = None

    @property
    def client_ca_bundle(self) -> Path:
        """The CAs a lab server trusts for client certificates (the root)."""
        return self.directory / "ca" / "client-ca-bundle.pem"

    @property
    def server_pem(self) -> Path:
        """The lab server's certificate chain."""
        return self.directory / "server" / "server.pem"

    @property
    def server_key_file(self) -> Path:
        """The lab server's private key (mode 0600)."""
        return self.directory / "server" / "server.key"

    @property
    def crl_file(self) -> Path:
        """The intermediate's CRL, PEM."""
        return self.directory / "ca" / "intermediate.crl.pem"

    @property
    def manifest_file(self) -> Path:
        """manifest.json: which identity shows which cause."""
        return self.directory / "manifest.json"


#: (name, expected cause, what it demonstrates). The order is the demo's order.
IDENTITY_CATALOGUE: tuple[tuple[str, Cause, str], ...] = (
    ("good-rsa", Cause.ACCEPTED, "RSA 2048 client certificate with its full chain"),
    ("good-ecdsa", Cause.ACCEPTED, "ECDSA P-256 client certificate with its full chain"),
    ("expiring-soon", Cause.ACCEPTED, "valid, but expires in 10 days (a warning)"),
    ("expired", Cause.CERTIFICATE_EXPIRED, "notAfter was yesterday"),
    ("not-yet-valid", Cause.CERTIFICATE_NOT_YET_VALID, "notBefore is in two days"),
    ("revoked", Cause.CERTIFICATE_REVOKED, "listed in the intermediate's CRL"),
    (
        "revoked-crl-only",
        Cause.CERTIFICATE_REVOKED,
        "revoked; names a CRL distribution point but no OCSP responder",
    ),
    (
        "revoked-ocsp-only",
        Cause.CERTIFICATE_REVOKED,
        "revoked; names an OCSP responder but no CRL distribution point",
    ),
    ("untrusted", Cause.UNTRUSTED_ISSUER, "issued by a CA the servers do not trust"),
    ("rotated", Cause.ISSUER_ROTATED, "issued by a new CA key under the trusted root's name"),
    (
        "missing-intermediate",
        Cause.MISSING_INTERMEDIATE,
        "issued by the intermediate, bundle without the intermediate",
    ),
    ("no-key", Cause.PRIVATE_KEY_MISSING, "the bundle holds the certificates but no key"),
    ("mismatched-key", Cause.PRIVATE_KEY_MISMATCH, "the bundle's key belongs to another cert"),
    ("no-client-auth", Cause.WRONG_KEY_USAGE, "extended key usage serverAuth only"),
    ("rsa-1024", Cause.UNSUPPORTED_KEY, "RSA 1024-bit key"),
)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: PrivateKey) -> bytes:
    return bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _write_ca(files: Staging, stem: str, ca: LabCA) -> None:
    folder = files.target / "ca"
    files.write(folder / f"{stem}.pem", _pem(ca.certificate))
    files.write(folder / f"{stem}.der", ca.certificate.public_bytes(serialization.Encoding.DER))
    files.write(folder / f"{stem}.key", _key_pem(ca.key), secret=True)


def build_lab_pki(
    directory: str | os.PathLike[str],
    *,
    now: datetime | None = None,
    base_url: str | None = None,
    server_names: Sequence[str] = ("localhost", "127.0.0.1"),
    overwrite: bool = False,
) -> LabPKI:
    """Generate the lab into ``directory`` and return it.

    ``now`` fixes every validity period (default: the current time).
    ``base_url`` (e.g. ``http://127.0.0.1:8080``) puts AIA (OCSP, caIssuers)
    and CRL distribution point URLs into the issued certificates.

    The directory must be empty or new, or hold a lab PKI (replaced only with
    ``overwrite``); files the lab did not make are never touched. Files are
    written into a private staging directory and renamed into place, so a
    link planted in the directory is replaced, never written through.
    """
    out = Path(directory)
    refuse_foreign(out)
    if classify(out) == "lab" and not overwrite:
        raise UsageError(
            f"{out}: already holds a lab PKI (`mtls-doctor lab pki {out} --force` replaces it)"
        )
    files = Staging(out)
    try:
        pki = _build(out, files, now, base_url, server_names)
        files.install()
    except BaseException:
        files.discard()
        raise
    return pki


def _build(
    out: Path,
    files: Staging,
    now: datetime | None,
    base_url: str | None,
    server_names: Sequence[str],
) -> LabPKI:
    now = (now or datetime.now(UTC)).replace(microsecond=0)

    root = LabCA("root", self_signed_ca(lab_name("Lab Root CA"), k := ec_key(), now), k)
    rotated = LabCA("rotated", self_signed_ca(lab_name("Lab Root CA"), k := ec_key(), now), k)
    unrelated = LabCA(
        "unrelated",
        self_signed_ca(lab_name("Unrelated Root CA", "elsewhere"), k := ec_key(), now),
        k,
    )
    inter_key = ec_key()
    inter_cert = Issuer(root, base_url).sign(
        subject=lab_name("Lab Issuing CA"),
        public_key=inter_key.public_key(),
        not_before=now - timedelta(days=30),
        not_after=now + timedelta(days=1825),
        ca=True,
        path_length=0,
        eku=None,
        aia_name="root",
    )
    intermediate = LabCA("intermediate", inter_cert, inter_key)
    for stem, ca in (
        ("root", root),
        ("intermediate", intermediate),
        ("unrelated-ca", unrelated),
        ("rotated-root", rotated),
    ):
        _write_ca(files, stem, ca)
    files.write(out / "ca" / "client-ca-bundle.pem", _pem(root.certificate))

    server_key = ec_key()
    sans: list[x509.GeneralName] = []
    for name in server_names:
        try:
            sans.append(x509.IPAddress(ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    server_cert = Issuer(intermediate, None).sign(
        subject=lab_name(server_names[0], "server"),
        public_key=server_key.public_key(),
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=365),
        eku=(ExtendedKeyUsageOID.SERVER_AUTH,),
        san=sans,
    )
    files.write(out / "server" / "server.pem", _pem(server_cert) + _pem(inter_cert))
    files.write(out / "server" / "server.key", _key_pem(server_key), secret=True)

    password = secrets.token_urlsafe(18).encode()
    password_file = out / "p12-password.txt"
    files.write(password_file, password + b"\n", secret=True)

    issuers = {
        "intermediate": Issuer(intermediate, base_url),
        "unrelated": Issuer(unrelated, base_url),
        "rotated": Issuer(rotated, base_url),
    }
    identities: dict[str, LabIdentity] = {}
    year = timedelta(days=365)
    for name, expected, description in IDENTITY_CATALOGUE:
        key = (
            rsa_key(2048)
            if name == "good-rsa"
            else rsa_key(1024)
            if name == "rsa-1024"
            else ec_key()
        )
        issuer_name = {"untrusted": "unrelated", "rotated": "rotated"}.get(name, "intermediate")
        issuer = issuers[issuer_name]
        not_before, not_after = now - timedelta(hours=1), now + year
        if name == "expired":
            not_before, not_after = now - 2 * year, now - timedelta(days=1)
        elif name == "not-yet-valid":
            not_before = now + timedelta(days=2)
        elif name == "expiring-soon":
            not_after = now + timedelta(days=10)
        cert = issuer.sign(
            subject=lab_name(f"{name}@lab.test", "clients"),
            public_key=key.public_key(),
            not_before=not_before,
            not_after=not_after,
            eku=(ExtendedKeyUsageOID.SERVER_AUTH,)
            if name == "no-client-auth"
            else (ExtendedKeyUsageOID.CLIENT_AUTH,),
            san=[x509.RFC822Name(f"{name}@lab.test")],
            aia_name=issuer_name,
            ocsp=name != "revoked-crl-only",
            cdp=name != "revoked-ocsp-only",
        )
        chain: tuple[x509.Certificate, ...] = (issuer.ca.certificate,)
        if name == "missing-intermediate":
            chain = ()
        bundle_key: PrivateKey | None = key
        if name == "no-key":
            bundle_key = None
        elif name == "mismatched-key":
            bundle_key = ec_key()
        identities[name] = _write_identity(
            files, name, expected, description, cert, chain, bundle_key, password
        )

    # A CA's full CRL lists every certificate it revoked, whether or not the
    # certificate names a distribution point (RFC 5280 5.2.5: without an issuing
    # distribution point a CRL covers all its issuer issued): so the servers,
    # which load this CRL, reject revoked-ocsp-only too, while a client can only
    # learn it by OCSP.
    revoked_serials = [
        ident.certificate.serial_number
        for ident in identities.values()
        if ident.expected is Cause.CERTIFICATE_REVOKED
    ]
    crl = build_crl(intermediate, revoked_serials, now=now)
    files.write(out / "ca" / "intermediate.crl.pem", crl.public_bytes(serialization.Encoding.PEM))
    files.write(out / "ca" / "intermediate.crl", crl.public_bytes(serialization.Encoding.DER))
    root_crl = build_crl(root, [], now=now)
    files.write(out / "ca" / "root.crl.pem", root_crl.public_bytes(serialization.Encoding.PEM))
    files.write(out / "ca" / "root.crl", root_crl.public_bytes(serialization.Encoding.DER))

    pki = LabPKI(
        directory=out,
        now=now,
        root=root,
        intermediate=intermediate,
        unrelated=unrelated,
        rotated=rotated,
        server_cert=server_cert,
        server_key=server_key,
        identities=identities,
        crl=crl,
        password_file=password_file,
        base_url=base_url,
    )
    files.write(pki.manifest_file, json.dumps(manifest(pki), indent=2).encode() + b"\n")
    return pki


def _write_identity(
    files: Staging,
    name: str,
    expected: Cause,
    description: str,
    cert: x509.Certificate,
    chain: tuple[x509.Certificate, ...],
    bundle_key: PrivateKey | None,
    password: bytes,
) -> LabIdentity:
    folder = files.target / "identities"
    certs_pem = _pem(cert) + b"".join(_pem(c) for c in chain)
    files.write(folder / f"{name}.crt", certs_pem)
    has_key = bundle_key is not None
    if bundle_key is not None:
        files.write(folder / f"{name}.key", _key_pem(bundle_key), secret=True)
    pem = folder / f"{name}.pem"
    files.write(pem, certs_pem + (_key_pem(bundle_key) if has_key else b""), secret=has_key)
    p12: Path | None = None
    p12_protected: Path | None = None
    # PKCS#12 writers (cryptography, openssl) refuse a key that does not match
    # its certificate, so that failure only exists as separate PEM files.
    if name != "mismatched-key":
        p12, p12_protected = folder / f"{name}.p12", folder / f"{name}.protected.p12"
        for path, encryption in (
            (p12, serialization.NoEncryption()),
            (p12_protected, serialization.BestAvailableEncryption(password)),
        ):
            data = pkcs12.serialize_key_and_certificates(
                name.encode(), bundle_key, cert, list(chain) or None, encryption
            )
            files.write(path, data, secret=has_key)
    return LabIdentity(
        name=name,
        expected=expected,
        description=description,
        certificate=cert,
        chain=chain,
        bundle_key=bundle_key,
        pem=pem,
        p12=p12,
        p12_protected=p12_protected,
    )


def manifest(pki: LabPKI) -> dict[str, Any]:
    """The manifest: what each file is and which cause each identity shows."""

    def rel(path: Path) -> str:
        return str(path.relative_to(pki.directory))

    return {
        "schema_version": 1,
        "generated_for": pki.now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "base_url": pki.base_url,
        "client_ca_bundle": rel(pki.client_ca_bundle),
        "crl": rel(pki.crl_file),
        "server": {"certificate": rel(pki.server_pem), "key": rel(pki.server_key_file)},
        "password_file": rel(pki.password_file),
        "cas": {
            stem: {
                "certificate": f"ca/{stem}.pem",
                "subject": ca.certificate.subject.rfc4514_string(),
            }
            for stem, ca in (
                ("root", pki.root),
                ("intermediate", pki.intermediate),
                ("unrelated-ca", pki.unrelated),
                ("rotated-root", pki.rotated),
            )
        },
        "identities": [
            {
                "name": ident.name,
                "expected_cause": str(ident.expected),
                "description": ident.description,
                "subject": ident.certificate.subject.rfc4514_string(),
                "serial": format(ident.certificate.serial_number, "x"),
                "pem": rel(ident.pem),
                "crt": rel(ident.crt),
                "key": rel(ident.key) if ident.key else None,
                "p12": rel(ident.p12) if ident.p12 else None,
                "p12_protected": rel(ident.p12_protected) if ident.p12_protected else None,
            }
            for ident in pki.identities.values()
        ],
    }
