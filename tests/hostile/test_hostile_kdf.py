"""PKCS#12 bundles and encrypted keys that demand absurd key-derivation work: refused, exit 2.

The files are made at test time with a small, distinctive iteration count
(0x010203), which is then patched to 0x7fffff (8,388,607) in place: same
length, so the DER stays valid, and the MAC and every PBE ask for it.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from mtls_doctor.kdfcost import excessive_work
from mtls_doctor.lab.pki import LabPKI
from tests.cli import assert_one_clean_error_line, run_process
from tests.conftest import LAB_NOW
from tests.hostile.pki import client_cert

SMALL = bytes.fromhex("0203010203")  # INTEGER 66051
HUGE = bytes.fromhex("02037fffff")  # INTEGER 8388607
LIMIT = 60


def _p12(lab: LabPKI, *, legacy: bool) -> bytes:
    cert, key = client_cert(lab.intermediate, now=LAB_NOW)
    builder = serialization.PrivateFormat.PKCS12.encryption_builder().kdf_rounds(0x010203)
    if legacy:
        builder = builder.key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC).hmac_hash(
            hashes.SHA1()
        )
    else:
        builder = builder.key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
    return pkcs12.serialize_key_and_certificates(
        b"alice", key, cert, None, builder.build(b"secret")
    )


@pytest.mark.parametrize("legacy", [True, False])
def test_normal_counts_pass_and_patched_counts_are_found(lab: LabPKI, legacy: bool) -> None:
    data = _p12(lab, legacy=legacy)
    assert SMALL in data
    assert excessive_work(data) is None
    assert "8,388,607 key-derivation iterations" in (
        excessive_work(data.replace(SMALL, HUGE)) or ""
    )
    # Only the MAC patched: found too.
    mac_only = data[::-1].replace(SMALL[::-1], HUGE[::-1], 1)[::-1]
    assert excessive_work(mac_only) is not None


def test_cli_refuses_a_pkcs12_with_a_huge_mac_count(lab: LabPKI, tmp_path: Path) -> None:
    path = tmp_path / "slow.p12"
    path.write_bytes(_p12(lab, legacy=True).replace(SMALL, HUGE))
    password = tmp_path / "pw"
    password.write_text("secret\n")
    result = run_process("inspect", str(path), "--password-file", str(password), timeout=LIMIT)
    assert_one_clean_error_line(result, 2)
    assert "key-derivation iterations" in result.err and "secret" not in result.err


def test_cli_refuses_an_encrypted_key_with_a_huge_pbkdf2_count(lab: LabPKI, tmp_path: Path) -> None:
    cert, key = client_cert(lab.intermediate, now=LAB_NOW)
    plain = tmp_path / "plain.key"
    plain.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    der = subprocess.run(
        [openssl, "pkcs8", "-topk8", "-in", str(plain), "-passout", "pass:secret",
         "-iter", str(0x010203), "-v2", "aes256", "-outform", "DER"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    assert SMALL in der
    body = base64.encodebytes(der.replace(SMALL, HUGE))
    key_path = tmp_path / "slow.key"
    key_path.write_bytes(
        b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n" + body + b"-----END ENCRYPTED PRIVATE KEY-----\n"
    )
    cert_path = tmp_path / "alice.crt"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    password = tmp_path / "pw"
    password.write_text("secret\n")
    result = run_process(
        "inspect",
        str(cert_path),
        "--key",
        str(key_path),
        "--password-file",
        str(password),
        timeout=LIMIT,
    )
    assert_one_clean_error_line(result, 2)
    assert "8,388,607 key-derivation iterations" in result.err


def test_unparsable_data_is_left_to_the_library() -> None:
    assert excessive_work(b"\x30\x84\xff\xff\xff\xff") is None
    assert excessive_work(b"") is None
    assert excessive_work(b"\x30\x80" * 5000) is None


def test_a_folder_shares_one_budget(
    lab: LabPKI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mtls_doctor.kdfcost as kdfcost
    from mtls_doctor.bundle import load_identities

    for number in range(3):
        (tmp_path / f"id{number}.p12").write_bytes(_p12(lab, legacy=False))
    monkeypatch.setattr(kdfcost, "MAX_RUN_ITERATIONS", 3 * 0x010203 + 1)  # one file's worth
    result = load_identities([tmp_path], password=lambda _path: b"secret")
    assert len(result.identities) == 1
    assert len(result.problems) == 2
    assert all("key-derivation budget" in p.message for p in result.problems)
    # A new run has a new budget.
    assert (
        len(load_identities([tmp_path / "id2.p12"], password=lambda _p: b"secret").identities) == 1
    )
