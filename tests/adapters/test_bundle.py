"""The bundle loader on real files: our lab, and bundles made by the openssl CLI."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from mtls_doctor.bundle import LoadedIdentity, load_identities
from mtls_doctor.errors import BundleLoadError, PasswordError
from mtls_doctor.lab.pki import LabPKI

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl CLI not installed")


def only(paths: Sequence[str | Path | None], **kwargs: Any) -> LoadedIdentity:
    result = load_identities([p for p in paths if p is not None], **kwargs)
    assert not result.problems, result.problems
    assert len(result.identities) == 1
    return result.identities[0]


def test_pem_with_chain_and_key(lab: LabPKI) -> None:
    ident = only([lab.identities["good-ecdsa"].pem])
    facts = ident.facts
    assert facts.format == "pem"
    assert facts.certificate.subject == "CN=good-ecdsa@lab.test,OU=clients,O=mtls-doctor lab"
    assert facts.has_private_key and facts.key_matches is True
    assert [c.subject for c in facts.issuing_path] == ["CN=Lab Issuing CA,O=mtls-doctor lab"]
    assert facts.bundle_in_order is True


def test_p12_with_and_without_password(lab: LabPKI, lab_password: bytes) -> None:
    plain = only([lab.identities["good-rsa"].p12])
    assert plain.facts.format == "pkcs12"
    protected = only(
        [lab.identities["good-rsa"].p12_protected], password=lambda _path: lab_password
    )
    assert protected.facts.certificate == plain.facts.certificate
    assert protected.facts.key_matches is True


def test_p12_password_needed_and_wrong_are_distinct(lab: LabPKI) -> None:
    path = lab.identities["good-rsa"].p12_protected
    with pytest.raises(PasswordError) as needed:
        from mtls_doctor.bundle import load_material

        load_material(Path(str(path)), lambda _p: None)
    assert needed.value.needed and needed.value.code == "password_needed"
    result = load_identities([path], password=lambda _p: b"not-the-password")
    assert [p.code for p in result.problems] == ["wrong_password"]
    assert "wrong password" in result.problems[0].message


def test_separate_key_file_pairs_by_public_key(lab: LabPKI) -> None:
    ident = lab.identities["good-ecdsa"]
    loaded = only([ident.crt], key_path=ident.key)
    assert loaded.facts.key_matches is True


def test_key_from_another_identity_is_a_mismatch(lab: LabPKI) -> None:
    loaded = only([lab.identities["good-ecdsa"].crt], key_path=lab.identities["expired"].key)
    assert loaded.facts.has_private_key and loaded.facts.key_matches is False


def test_no_key_and_mismatched_key(lab: LabPKI) -> None:
    nokey = only([lab.identities["no-key"].pem]).facts
    assert (nokey.has_private_key, nokey.key_matches) == (False, None)
    mismatch = only([lab.identities["mismatched-key"].pem]).facts
    assert (mismatch.has_private_key, mismatch.key_matches) == (True, False)


def test_der_certificate(lab: LabPKI, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    der = tmp_path / "client.cer.txt"  # the extension lies; the content decides
    der.write_bytes(lab.identities["good-ecdsa"].certificate.public_bytes(Encoding.DER))
    facts = only([der]).facts
    assert facts.format == "der" and not facts.has_private_key


def test_out_of_order_pem_is_reordered_and_flagged(lab: LabPKI, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    ident = lab.identities["good-ecdsa"]
    bundle = tmp_path / "reversed.pem"
    bundle.write_bytes(
        lab.intermediate.certificate.public_bytes(Encoding.PEM)
        + ident.certificate.public_bytes(Encoding.PEM)
        + ident.key.read_bytes()
    )
    facts = only([bundle]).facts
    assert facts.certificate.subject.startswith("CN=good-ecdsa")
    assert facts.bundle_in_order is False and facts.path_length == 1


def test_directory_pairs_across_files_and_keeps_cas_aside(lab: LabPKI, tmp_path: Path) -> None:
    ident = lab.identities["good-ecdsa"]
    (tmp_path / "alice.crt").write_bytes(ident.certificate.public_bytes(_pem()))
    (tmp_path / "alice.key").write_bytes(ident.key.read_bytes())
    shutil.copy(lab.directory / "ca" / "intermediate.pem", tmp_path / "ca.pem")
    shutil.copy(lab.identities["expired"].p12, tmp_path / "bob.pfx")
    (tmp_path / "notes.txt").write_text("remember to renew\n")
    result = load_identities([tmp_path])
    subjects = sorted(i.facts.certificate.subject.split(",")[0] for i in result.identities)
    assert subjects == ["CN=expired@lab.test", "CN=good-ecdsa@lab.test"]
    alice = next(i for i in result.identities if "good-ecdsa" in i.facts.certificate.subject)
    assert alice.facts.key_matches is True
    assert [c.subject.rfc4514_string() for c in result.ca_certificates] == [
        "CN=Lab Issuing CA,O=mtls-doctor lab"
    ]
    assert [Path(p.path).name for p in result.problems] == ["notes.txt"]


def _pem() -> Any:
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.PEM


BAD_INPUTS = {
    "empty": (b"", "file is empty"),
    "garbage": (b"hello, this is not a certificate\n", "unknown format"),
    "truncated": (b"-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n", "truncated PEM"),
    "broken-base64": (
        b"-----BEGIN CERTIFICATE-----\n!!!!not base64@@@\n-----END CERTIFICATE-----\n",
        "corrupt",
    ),
    "der-not-cert": (b"\x30\x03\x02\x01\x05", "DER data that is not"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_is_one_clear_problem(name: str, tmp_path: Path) -> None:
    data, words = BAD_INPUTS[name]
    path = tmp_path / name
    path.write_bytes(data)
    result = load_identities([path])
    assert not result.identities
    assert len(result.problems) == 1
    assert words in result.problems[0].message
    assert "\n" not in result.problems[0].message


def test_truncated_der_certificate(lab: LabPKI, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    der = lab.identities["good-ecdsa"].certificate.public_bytes(Encoding.DER)
    path = tmp_path / "cut.der"
    path.write_bytes(der[: len(der) // 2])
    result = load_identities([path])
    assert result.problems and not result.identities


def test_huge_file_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.pem"
    with path.open("wb") as handle:
        handle.truncate(11 * 1024 * 1024)
    result = load_identities([path])
    assert "larger than" in result.problems[0].message


def test_unreadable_file(tmp_path: Path, lab: LabPKI) -> None:
    import os

    path = tmp_path / "locked.pem"
    shutil.copy(lab.identities["good-ecdsa"].crt, path)
    path.chmod(0)
    if os.access(path, os.R_OK):  # root reads anything: simulate with a missing file
        path = tmp_path / "missing.pem"
    result = load_identities([path])
    assert result.problems[0].code == "bundle_load"


def test_encrypted_pem_key_needs_then_takes_the_password(lab: LabPKI, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    ident = lab.identities["good-ecdsa"]
    key = serialization.load_pem_private_key(ident.key.read_bytes(), None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"s3cret-pw"),
    )
    path = tmp_path / "enc.pem"
    path.write_bytes(ident.crt.read_bytes() + encrypted)
    assert load_identities([path]).problems[0].code == "password_needed"
    assert load_identities([path], password=lambda _p: b"nope").problems[0].code == "wrong_password"
    good = only([path], password=lambda _p: b"s3cret-pw")
    assert good.facts.key_matches is True


@needs_openssl
class TestOpensslMadeBundles:
    """Bundles made by the openssl CLI, not by our own generator."""

    @pytest.fixture
    def made(self, tmp_path: Path) -> Path:
        def sh(*args: str) -> None:
            subprocess.run([OPENSSL, *args], check=True, capture_output=True, cwd=tmp_path)

        sh("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
           "-out", "ca.pem", "-days", "30", "-subj", "/CN=OpenSSL Test CA",
           "-addext", "basicConstraints=critical,CA:TRUE",
           "-addext", "keyUsage=keyCertSign,cRLSign")  # fmt: skip
        sh("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.csr",
           "-subj", "/CN=openssl-client")  # fmt: skip
        (tmp_path / "ext.cnf").write_text(
            "extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n"
        )
        sh("x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
           "-CAcreateserial", "-out", "client.pem", "-days", "10",
           "-extfile", "ext.cnf")  # fmt: skip
        (tmp_path / "pw.txt").write_text("openssl-pw\n")
        sh("pkcs12", "-export", "-in", "client.pem", "-inkey", "client.key", "-certfile", "ca.pem",
           "-out", "modern.p12", "-passout", "file:pw.txt")  # fmt: skip
        sh("pkcs12", "-export", "-legacy", "-in", "client.pem", "-inkey", "client.key",
           "-certfile", "ca.pem", "-out", "legacy.p12", "-passout", "file:pw.txt")  # fmt: skip
        sh("pkcs12", "-export", "-in", "client.pem", "-inkey", "client.key", "-out", "nopass.p12",
           "-passout", "pass:")  # fmt: skip
        sh("rsa", "-in", "client.key", "-traditional", "-out", "client.rsa.key")
        return tmp_path

    @pytest.mark.parametrize("name", ["modern.p12", "legacy.p12"])
    def test_pkcs12(self, made: Path, name: str) -> None:
        loaded = only([made / name], password=lambda _p: b"openssl-pw")
        facts = loaded.facts
        assert facts.certificate.subject == "CN=openssl-client"
        assert facts.key_matches is True
        assert [c.subject for c in facts.issuing_path] == ["CN=OpenSSL Test CA"]
        assert facts.certificate.extended_key_usage == ("clientAuth",)

    def test_pkcs12_with_empty_password(self, made: Path) -> None:
        assert only([made / "nopass.p12"]).facts.key_matches is True

    def test_legacy_pkcs12_wrong_password(self, made: Path) -> None:
        result = load_identities([made / "legacy.p12"], password=lambda _p: b"wrong")
        assert result.problems[0].code == "wrong_password"

    def test_traditional_rsa_key(self, made: Path) -> None:
        loaded = only([made / "client.pem"], key_path=made / "client.rsa.key")
        assert loaded.facts.key_matches is True


def test_explicit_key_file_that_is_not_a_key(lab: LabPKI) -> None:
    with pytest.raises(BundleLoadError):
        load_identities(
            [lab.identities["good-ecdsa"].crt], key_path=lab.identities["good-ecdsa"].crt
        )


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "client.pem"
    os.mkfifo(fifo)
    result = load_identities([fifo])
    assert [p.message for p in result.problems] == [
        f"{fifo}: is a FIFO (named pipe), not a regular file; give the path of the identity file"
    ]


def test_unknown_signature_algorithm_is_one_clear_problem(lab: LabPKI, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    der = lab.identities["good-ecdsa"].certificate.public_bytes(Encoding.DER)
    ecdsa_sha256 = bytes.fromhex("06082a8648ce3d040302")  # OID 1.2.840.10045.4.3.2
    unknown = bytes.fromhex("06082a8648ce3d0403ff")  # same length, unassigned
    assert der.count(ecdsa_sha256) == 2
    path = tmp_path / "odd.der"
    path.write_bytes(der.replace(ecdsa_sha256, unknown))
    result = load_identities([path])
    assert not result.identities
    assert [p.code for p in result.problems] == ["bundle_load"]
    assert "\n" not in result.problems[0].message
