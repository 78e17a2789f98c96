"""Hand-built facts for the pure rules (no files, no crypto)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from mtls_doctor.model import (
    CertFacts,
    ChainFacts,
    ChainLink,
    HandshakeFacts,
    HttpAnswer,
    IdentityFacts,
    Source,
)
from mtls_doctor.tls.alerts import alert
from mtls_doctor.tlsversion import TLSVersion

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ROOT = "CN=Root CA,O=Example"
ISSUING = "CN=Issuing CA,O=Example"


def cert(**overrides: Any) -> CertFacts:
    """A healthy client certificate issued by ISSUING, valid around NOW."""
    base = CertFacts(
        subject="CN=alice,O=Example",
        issuer=ISSUING,
        serial="1f",
        not_before=NOW - timedelta(days=10),
        not_after=NOW + timedelta(days=365),
        key_type="EC",
        key_bits=256,
        curve="secp256r1",
        signature_algorithm="ecdsa-with-SHA256",
        signature_hash="sha256",
        key_usage=("digital_signature",),
        extended_key_usage=("clientAuth",),
        is_ca=False,
        path_length=None,
        san=("email:alice@example.com",),
        subject_key_id="aa",
        authority_key_id="bb",
        ocsp_urls=(),
        ca_issuer_urls=(),
        crl_urls=(),
        fingerprint_sha256="00" * 32,
        spki_sha256="11" * 32,
        self_signed=False,
    )
    return replace(base, **overrides)


def ca(subject: str, issuer: str | None = None, **overrides: Any) -> CertFacts:
    """A CA certificate; self-signed when ``issuer`` is None."""
    return cert(
        subject=subject,
        issuer=issuer or subject,
        is_ca=True,
        key_usage=("digital_signature", "key_cert_sign", "crl_sign"),
        extended_key_usage=None,
        self_signed=issuer is None,
        spki_sha256=f"{abs(hash(subject)):064x}"[:64],
        **overrides,
    )


def identity(**overrides: Any) -> IdentityFacts:
    """An identity with its key and its intermediate (the root is on the server)."""
    base = IdentityFacts(
        source="alice.p12",
        format="pkcs12",
        certificate=cert(),
        chain=(ca(ISSUING, ROOT),),
        path_length=1,
        bundle_in_order=None,
        has_private_key=True,
        key_matches=True,
    )
    return replace(base, **overrides)


def handshake(**overrides: Any) -> HandshakeFacts:
    """A TLS 1.3 connection where the server asked for a certificate, listing ROOT."""
    base = HandshakeFacts(
        certificate_sent=True,
        certificate_requested=True,
        handshake_completed=True,
        tls_version=TLSVersion.TLS1_3,
        acceptable_ca_names=(ROOT,),
        http=HttpAnswer(status=200, reason="OK", first_line="hello"),
    )
    return replace(base, **overrides)


def refused(code: int, **overrides: Any) -> HandshakeFacts:
    """The server refused with TLS alert ``code``."""
    return handshake(alert_received=alert(code), http=None, **overrides)


def nginx_page(reason: str = "The SSL certificate error") -> HttpAnswer:
    """nginx's 400 page."""
    return HttpAnswer(status=400, reason="Bad Request", first_line=f"400 {reason}")


def chain_facts(*links: ChainLink, **overrides: Any) -> ChainFacts:
    """The issuing path: by default the intermediate, sent."""
    if not links:
        links = (ChainLink(certificate=ca(ISSUING, ROOT), source=Source.SENT, sent=True),)
    return replace(ChainFacts(path=links), **overrides)


class ScriptedServer:
    """A byte stream that answers each command with the next scripted chunk.

    After the script: the end of the stream, or (``then_silent``) a server that keeps
    the connection open and says nothing, i.e. the run's deadline passing.
    """

    def __init__(self, *chunks: bytes, then_silent: bool = False) -> None:
        self.chunks = list(chunks)
        self.sent: list[bytes] = []
        self.then_silent = then_silent

    def send(self, data: bytes) -> None:
        self.sent.append(data)

    def recv(self) -> bytes:
        if self.chunks:
            return self.chunks.pop(0)
        if self.then_silent:
            from mtls_doctor.errors import ConnectTimeout

            raise ConnectTimeout("the server did not answer within 3 s")
        return b""
