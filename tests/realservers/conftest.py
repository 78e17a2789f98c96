"""Fixtures and helpers for the lint-server proofs on real servers.

The ``servers`` runner and the lab bundles come from ``tests/servers``; the
extra material here (stale, forged and future CRLs, multi-CA bundles) is
built once per session from the live lab.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from mtls_doctor.lab.pki import LabCA, LabPKI, build_crl
from mtls_doctor.model import HandshakeFacts
from mtls_doctor.serverconf.facts import BlockReport
from mtls_doctor.serverconf.lint import lint_server
from mtls_doctor.tls.client import ClientIdentity, handshake
from mtls_doctor.tls.target import parse_target
from mtls_doctor.tlsversion import TLSVersion
from tests.servers.conftest import live_lab_all_crls, live_lab_haproxy_pem, servers
from tests.servers.real import RunningServer

__all__ = ["live_lab_all_crls", "live_lab_haproxy_pem", "servers"]

#: The configuration file each launcher of tests/servers/real.py writes.
CONFIG_NAME = {
    "nginx": "nginx.conf",
    "apache": "httpd.conf",
    "haproxy": "haproxy.cfg",
    "lighttpd-openssl": "lighttpd.conf",
    "lighttpd-gnutls": "lighttpd.conf",
}


@dataclass(frozen=True)
class Material:
    """Bundles and CRL files for the proofs (PEM, in the session's lab directory)."""

    root: Path
    intermediate: Path
    unrelated: Path
    root_and_intermediate: Path
    root_and_rotated: Path
    #: Fresh CRLs of the root and the intermediate.
    all_crls: Path
    #: Only the intermediate's CRL (the root's is missing).
    intermediate_crl_only: Path
    #: The intermediate's CRL expired three days ago; the root's is fresh.
    intermediate_crl_expired: Path
    #: The intermediate's CRL starts in two days.
    intermediate_crl_future: Path
    #: A "root" CRL signed by another key under the root's name, and a good intermediate CRL.
    root_crl_forged: Path


def _pem(*crls: x509.CertificateRevocationList) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in crls)


@pytest.fixture(scope="session")
def material(live_lab: LabPKI) -> Material:
    """Every bundle and CRL file the proofs need, built from the live lab."""
    lab = live_lab
    ca = lab.directory / "ca"
    out = lab.directory / "lint-proofs"
    out.mkdir(exist_ok=True)
    now = datetime.now(UTC)
    revoked = [i.certificate.serial_number for i in lab.identities.values() if "revoked" in i.name]
    fresh_inter = build_crl(lab.intermediate, revoked, now=now)
    fresh_root = build_crl(lab.root, [], now=now)
    stale_inter = build_crl(
        lab.intermediate,
        revoked,
        now=now,
        this_update=now - timedelta(days=10),
        next_update=timedelta(days=7),
    )
    future_inter = build_crl(
        lab.intermediate, revoked, now=now, this_update=now + timedelta(days=2)
    )
    forger = LabCA("forger", lab.root.certificate, lab.unrelated.key)
    forged_root = build_crl(forger, [], now=now)

    def write(name: str, data: bytes) -> Path:
        path = out / name
        path.write_bytes(data)
        return path

    root_pem = (ca / "root.pem").read_bytes()
    return Material(
        root=ca / "root.pem",
        intermediate=ca / "intermediate.pem",
        unrelated=ca / "unrelated-ca.pem",
        root_and_intermediate=write(
            "root-and-intermediate.pem", root_pem + (ca / "intermediate.pem").read_bytes()
        ),
        root_and_rotated=write(
            "root-and-rotated.pem", root_pem + (ca / "rotated-root.pem").read_bytes()
        ),
        all_crls=write("all-crls.pem", _pem(fresh_inter, fresh_root)),
        intermediate_crl_only=write("intermediate-crl.pem", _pem(fresh_inter)),
        intermediate_crl_expired=write("inter-expired.pem", _pem(stale_inter, fresh_root)),
        intermediate_crl_future=write("inter-future.pem", _pem(future_inter, fresh_root)),
        root_crl_forged=write("root-forged.pem", _pem(fresh_inter, forged_root)),
    )


def config_of(server: RunningServer) -> Path:
    """The configuration file the real server was started from (it passed its -t check)."""
    return server.directory / CONFIG_NAME[server.kind]


def lint_block(server: RunningServer, **options: object) -> BlockReport:
    """``lint-server`` on the running server's own configuration: its one TLS block."""
    reports = lint_server([str(config_of(server))], **options)  # type: ignore[arg-type]
    blocks = [b for r in reports for b in r.blocks]
    assert len(blocks) == 1, blocks
    return blocks[0]


def codes(report: BlockReport) -> set[str]:
    """The finding codes of a block."""
    return {f.code for f in report.findings}


def present(
    server: RunningServer,
    lab: LabPKI,
    name: str | None,
    path: str = "/",
    tls_version: TLSVersion | None = None,
) -> HandshakeFacts:
    """One connection with the project's TLS client, presenting lab identity ``name``."""
    identity = None
    if name is not None:
        chosen = lab.identities[name]
        identity = ClientIdentity(
            certificate=chosen.certificate, chain=chosen.chain, private_key=chosen.bundle_key
        )
    return handshake(
        parse_target(server.url(path)), identity=identity, timeout=5, tls_version=tls_version
    )


def served(facts: HandshakeFacts) -> bool:
    """The real server answered the request with 200: it accepted the client."""
    return facts.alert_received is None and facts.http is not None and facts.http.status == 200


def assert_logged(server: RunningServer, text: str) -> None:
    """``text`` shows up in the server's log (servers write it a moment after answering)."""
    deadline = time.monotonic() + 2
    while text not in server.error_log_text() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert text in server.error_log_text(), server.describe_logs()


@dataclass(frozen=True)
class ExpiredRootPKI:
    """A root CA that expired yesterday and a still-valid client certificate under it."""

    root: Path
    leaf: Path
    key: Path


def expired_root_pki(directory: Path) -> ExpiredRootPKI:
    """Write :class:`ExpiredRootPKI` into ``directory`` (the lab has no expired CA)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(UTC)
    root_key, leaf_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Expired Root CA")])
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=400))
        .not_valid_after(now - timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "client")]))
        .issuer_name(root_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    out = ExpiredRootPKI(directory / "root.pem", directory / "leaf.crt", directory / "leaf.key")
    out.root.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    out.leaf.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    out.key.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return out
