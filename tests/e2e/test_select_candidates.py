"""``--select`` that matches nothing lists the candidates with serials that tell them
apart: sequential serials share their first 12 hex digits, so none is cut."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.cli import assert_one_clean_error_line, run_cli

BASE = 0x5A17C0FFEE0000000000000001


def _write_identity(path: Path, serial: int) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "same client")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def test_candidates_show_serials_that_differ(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "ids"
    folder.mkdir()
    serials = [BASE, BASE + 1]
    for number, serial in enumerate(serials):
        _write_identity(folder / f"client{number}.pem", serial)
    result = run_cli(capsys, "check", "127.0.0.1:9", "--cert", str(folder), "--select", "zzz")
    assert_one_clean_error_line(result, 2)
    for serial in serials:
        assert format(serial, "x") in result.err.lower().replace(":", ""), result.err
