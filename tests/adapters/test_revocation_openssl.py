"""The revocation adapter against an independent CA: OpenSSL's own OCSP responder and CRLs.

Our responder and our verifier were written together, so they could share a
misunderstanding. Here the answers come from OpenSSL: ``openssl ocsp -index
... -CA ... -rsigner ...`` builds and signs every OCSP response from a
hand-written ``index.txt``, and ``openssl ca -gencrl`` builds the CRL from the
same index.

``openssl ocsp -port`` of OpenSSL 3.0 takes a port number only and listens
on every interface, so it is not started as a server: a small HTTP front on
127.0.0.1 hands each request (POST or GET) to ``openssl ocsp -reqin
-respout`` and returns its answer unchanged. Nothing listens beyond loopback.
"""

from __future__ import annotations

import base64
import subprocess
import tempfile
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mtls_doctor.lab.pki import LabCA, LabPKI
from mtls_doctor.model import RevocationFacts
from mtls_doctor.revocation import check_revocation
from tests.servers.real import require_binary


@dataclass
class OpensslCA:
    """A directory with index.txt and the files ``openssl ocsp`` / ``openssl ca`` need."""

    directory: Path
    ca_pem: Path
    ca_key: Path
    #: Extra ``openssl ocsp`` arguments for the next answers (signer, flags).
    signer: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def answer(self, request_der: bytes) -> bytes:
        with tempfile.TemporaryDirectory(dir=self.directory) as scratch:
            req, resp = Path(scratch) / "req.der", Path(scratch) / "resp.der"
            req.write_bytes(request_der)
            argv = [require_binary("openssl"), "ocsp", "-index", str(self.directory / "index.txt")]
            argv += ["-CA", str(self.ca_pem), "-reqin", str(req), "-respout", str(resp)]
            argv += ["-ndays", "1", *self.signer]
            done = subprocess.run(argv, capture_output=True, text=True, check=False)
            assert done.returncode == 0, done.stderr
            return resp.read_bytes()

    def gencrl(self) -> Path:
        """``openssl ca -gencrl`` from the same index: the CA's CRL, PEM."""
        config = self.directory / "ca.cnf"
        config.write_text(
            "[ca]\ndefault_ca = lab\n[lab]\n"
            f"database = {self.directory / 'index.txt'}\n"
            f"crlnumber = {self.directory / 'crlnumber'}\n"
            "default_md = sha256\ndefault_crl_days = 7\n"
        )
        (self.directory / "crlnumber").write_text("01\n")
        out = self.directory / "crl.pem"
        argv = [require_binary("openssl"), "ca", "-config", str(config), "-gencrl"]
        argv += ["-keyfile", str(self.ca_key), "-cert", str(self.ca_pem), "-out", str(out)]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        return out


def index_line(cert: x509.Certificate, revoked: datetime | None = None) -> str:
    """One index.txt line (the format ``openssl ca`` keeps its database in)."""
    serial = format(cert.serial_number, "X")
    serial = serial if len(serial) % 2 == 0 else "0" + serial  # as BN_bn2hex writes it
    expiry = cert.not_valid_after_utc.strftime("%y%m%d%H%M%SZ")
    subject = "/" + "/".join(reversed(cert.subject.rfc4514_string().split(",")))
    if revoked is None:
        return f"V\t{expiry}\t\t{serial}\tunknown\t{subject}\n"
    when = revoked.strftime("%y%m%d%H%M%SZ")
    return f"R\t{expiry}\t{when},keyCompromise\t{serial}\tunknown\t{subject}\n"


def responder_cert(issuer: LabCA, directory: Path, label: str, *, eku: bool = True) -> list[str]:
    """A delegated responder certificate and key; the ``-rsigner/-rkey`` arguments."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    usage = ExtendedKeyUsageOID.OCSP_SIGNING if eku else ExtendedKeyUsageOID.CLIENT_AUTH
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"OCSP {label}")]))
        .issuer_name(issuer.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .sign(issuer.key, hashes.SHA256())
    )
    pem, key_file = directory / f"{label}.pem", directory / f"{label}.key"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ["-rsigner", str(pem), "-rkey", str(key_file)]


class _Front(BaseHTTPRequestHandler):
    server: Any
    protocol_version = "HTTP/1.0"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._reply(body)

    def do_GET(self) -> None:
        encoded = urllib.parse.unquote(self.path.split("/", 2)[-1])
        self._reply(base64.b64decode(encoded))

    def _reply(self, request_der: bytes) -> None:
        ca: OpensslCA = self.server.ca
        ca.requests.append(self.command)
        answer = ca.answer(request_der)
        self.send_response(200)
        self.send_header("Content-Type", "application/ocsp-response")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def openssl_ca(live_lab: LabPKI, tmp_path_factory: pytest.TempPathFactory) -> OpensslCA:
    """OpenSSL's view of the lab's issuing CA: good-ecdsa valid, revoked revoked."""
    require_binary("openssl")
    directory = tmp_path_factory.mktemp("openssl-ca")
    ids = live_lab.identities
    revoked_at = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    (directory / "index.txt").write_text(
        index_line(ids["good-ecdsa"].certificate)
        + index_line(ids["revoked"].certificate, revoked=revoked_at)
    )
    return OpensslCA(
        directory, live_lab.directory / "ca" / "intermediate.pem",
        live_lab.directory / "ca" / "intermediate.key",
    )  # fmt: skip


@pytest.fixture(scope="module")
def front(openssl_ca: OpensslCA) -> Iterator[str]:
    """The OCSP URL of OpenSSL's responder, on 127.0.0.1 only."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Front)
    server.ca = openssl_ca  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/ocsp"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


@pytest.fixture
def ca(openssl_ca: OpensslCA) -> Iterator[OpensslCA]:
    """Signed by the CA itself unless a test says otherwise."""
    openssl_ca.signer = ["-rsigner", str(openssl_ca.ca_pem), "-rkey", str(openssl_ca.ca_key)]
    openssl_ca.requests.clear()
    yield openssl_ca


def leaf_status(
    lab: LabPKI, name: str, url: str, tmp_path: Path, **options: Any
) -> RevocationFacts:
    ident = lab.identities[name]
    options.setdefault("timeout", 10.0)
    facts = check_revocation(
        ident.certificate,
        [lab.intermediate.certificate, lab.root.certificate],
        ocsp_url=url,
        cache_dir=tmp_path / "cache",
        **options,
    )
    return facts[0]


@pytest.mark.parametrize("method", ["post", "get"])
def test_openssl_good_and_revoked(
    method: str, live_lab: LabPKI, ca: OpensslCA, front: str, tmp_path: Path
) -> None:
    good = leaf_status(live_lab, "good-ecdsa", front, tmp_path, ocsp_method=method)
    assert (good.status, good.method) == ("good", "ocsp"), good
    revoked = leaf_status(live_lab, "revoked", front, tmp_path, ocsp_method=method)
    assert (revoked.status, revoked.method) == ("revoked", "ocsp"), revoked
    assert "keyCompromise" in revoked.detail
    assert ca.requests == [method.upper()] * 2


def test_openssl_unknown_serial(
    live_lab: LabPKI, ca: OpensslCA, front: str, tmp_path: Path
) -> None:
    # good-rsa is not in index.txt: OpenSSL answers "unknown"; that is not "good".
    fact = leaf_status(live_lab, "good-rsa", front, tmp_path)
    assert fact.status == "unknown"
    assert "does not know this certificate" in fact.detail


def test_openssl_responder_id_by_key(
    live_lab: LabPKI, ca: OpensslCA, front: str, tmp_path: Path
) -> None:
    ca.signer.append("-resp_key_id")
    assert leaf_status(live_lab, "good-ecdsa", front, tmp_path).status == "good"


def test_openssl_delegated_responder(
    live_lab: LabPKI, ca: OpensslCA, front: str, tmp_path: Path
) -> None:
    ca.signer = responder_cert(live_lab.intermediate, ca.directory, "delegate")
    assert leaf_status(live_lab, "good-ecdsa", front, tmp_path).status == "good"
    assert leaf_status(live_lab, "revoked", front, tmp_path).status == "revoked"


@pytest.mark.parametrize(
    ("issuer", "eku", "words"),
    [
        ("unrelated", True, "which the certificate's issuer did not certify"),
        ("intermediate", False, "lacks the OCSPSigning extended key usage"),
    ],
)
def test_openssl_wrong_responder(
    issuer: str,
    eku: bool,
    words: str,
    live_lab: LabPKI,
    ca: OpensslCA,
    front: str,
    tmp_path: Path,
) -> None:
    signer_ca = getattr(live_lab, issuer)
    ca.signer = responder_cert(signer_ca, ca.directory, f"wrong-{issuer}-{eku}", eku=eku)
    for name in ("good-ecdsa", "revoked"):
        fact = leaf_status(live_lab, name, front, tmp_path)
        assert fact.status == "unknown", fact
        assert words in fact.detail


def test_openssl_answer_is_stale_two_days_later(
    live_lab: LabPKI, ca: OpensslCA, front: str, tmp_path: Path
) -> None:
    later = datetime.now(UTC) + timedelta(days=2)  # the answers say -ndays 1
    fact = leaf_status(live_lab, "good-ecdsa", front, tmp_path, now=later)
    assert fact.status == "unknown"
    assert "stale: the response's nextUpdate was" in fact.detail


def test_openssl_crl(live_lab: LabPKI, ca: OpensslCA, tmp_path: Path) -> None:
    crl = ca.gencrl()
    for name, expected in (("good-ecdsa", "good"), ("revoked", "revoked")):
        ident = live_lab.identities[name]
        fact = check_revocation(
            ident.certificate,
            [live_lab.intermediate.certificate],
            timeout=1.0,
            offline=True,
            crl_files=[crl],
        )[0]
        assert (fact.status, fact.method) == (expected, "crl"), fact
    later = datetime.now(UTC) + timedelta(days=8)  # default_crl_days = 7
    fact = check_revocation(
        live_lab.identities["good-ecdsa"].certificate,
        [live_lab.intermediate.certificate],
        timeout=1.0,
        offline=True,
        crl_files=[crl],
        now=later,
    )[0]
    assert fact.status == "unknown"
    assert "stale" in fact.detail
