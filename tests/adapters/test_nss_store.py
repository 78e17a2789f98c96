"""The NSS store adapter against real databases made with certutil / pk12util.

An empty database, a password-protected one, a Firefox profile layout, a
bundle made by the openssl CLI; the key exported for ``check`` never touches
the disk and the password never appears in an error.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mtls_doctor.errors import BundleLoadError, InputError, PasswordError
from mtls_doctor.lab.browser import nss_database_with
from mtls_doctor.lab.pki import LabPKI
from mtls_doctor.stores.nss import (
    NssIdentity,
    default_nss_stores,
    load_nss_identities,
    parse_store,
    with_private_key,
)

pytestmark = pytest.mark.skipif(
    shutil.which("certutil") is None or shutil.which("pk12util") is None,
    reason="needs libnss3-tools (certutil, pk12util)",
)

DB_PASSWORD = b"nss-db-secret-4711"


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, stdin=subprocess.DEVNULL)


def protected_database(directory: Path, p12: Path) -> Path:
    """A database with a password, holding one plain PKCS#12."""
    directory.mkdir(parents=True)
    secret = directory.parent / f"{directory.name}.pw"
    secret.write_bytes(DB_PASSWORD + b"\n")
    empty = directory.parent / f"{directory.name}.p12pw"
    empty.write_bytes(b"\n")
    _run("certutil", "-N", "-d", f"sql:{directory}", "-f", str(secret))
    _run("pk12util", "-i", str(p12), "-d", f"sql:{directory}", "-k", str(secret), "-w", str(empty))
    secret.unlink()
    empty.unlink()
    return directory


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def test_empty_database(tmp_path: Path) -> None:
    directory = tmp_path / "empty"
    directory.mkdir()
    _run("certutil", "-N", "-d", f"sql:{directory}", "--empty-password")
    result = load_nss_identities(f"nss:{directory}")
    assert result.identities == []
    assert result.problems == []


def test_identity_with_its_intermediate(tmp_path: Path, lab: LabPKI, lab_password: bytes) -> None:
    good = lab.identities["good-rsa"]
    assert good.p12_protected is not None
    database = nss_database_with(tmp_path, good.p12_protected, lab_password)
    result = load_nss_identities(f"nss:{database}")
    (item,) = result.identities
    assert isinstance(item, NssIdentity)
    assert item.facts.source == f"nss:{database}#good-rsa"
    assert item.facts.format == "nss"
    assert item.facts.has_private_key and item.facts.key_matches is True
    assert item.certificate == good.certificate
    assert [c.subject for c in item.facts.issuing_path] == ["CN=Lab Issuing CA,O=mtls-doctor lab"]
    assert item.private_key is None  # listing never touches the key
    keyed = with_private_key(item, lambda _where: None)
    assert keyed.private_key is not None
    assert keyed.private_key.public_key().public_numbers() == (
        good.certificate.public_key().public_numbers()  # type: ignore[union-attr]
    )


def test_certificate_without_key_and_leaf_without_intermediate(tmp_path: Path, lab: LabPKI) -> None:
    no_key = lab.identities["no-key"].p12
    missing = lab.identities["missing-intermediate"].p12
    assert no_key is not None and missing is not None
    database = nss_database_with(tmp_path / "a", no_key, None)
    (item,) = load_nss_identities(f"nss:{database}").identities
    assert item.facts.has_private_key is False and item.facts.key_matches is None
    database = nss_database_with(tmp_path / "b", missing, None)
    (item,) = load_nss_identities(f"nss:{database}").identities
    assert item.facts.path_length == 0


def test_other_peoples_certificates_are_not_identities(tmp_path: Path, lab: LabPKI) -> None:
    """Firefox keeps server certificates (exceptions) in the same database: not identities."""
    directory = tmp_path / "profile"
    directory.mkdir()
    _run("certutil", "-N", "-d", f"sql:{directory}", "--empty-password")
    server = directory.parent / "server.pem"
    server.write_bytes(lab.server_pem.read_bytes().split(b"-----END CERTIFICATE-----")[0]
                       + b"-----END CERTIFICATE-----\n")  # fmt: skip
    _run("certutil", "-A", "-d", f"sql:{directory}", "-n", "site", "-t", "P,,", "-a",
         "-i", str(server))  # fmt: skip
    no_key = lab.identities["no-key"].crt
    _run("certutil", "-A", "-d", f"sql:{directory}", "-n", "mine", "-t", ",,", "-a",
         "-i", str(no_key))  # fmt: skip
    result = load_nss_identities(f"nss:{directory}")
    assert [i.facts.source.rpartition("#")[2] for i in result.identities] == ["mine"]


def test_password_protected_database(tmp_path: Path, lab: LabPKI) -> None:
    p12 = lab.identities["good-ecdsa"].p12
    assert p12 is not None
    database = protected_database(tmp_path / "db", p12)
    before = _files(tmp_path)
    # Listing needs no password; the key does.
    (item,) = load_nss_identities(f"nss:{database}").identities
    assert item.facts.has_private_key
    assert isinstance(item, NssIdentity)
    with pytest.raises(PasswordError) as needed:
        with_private_key(item, lambda _where: None)
    assert needed.value.code == "password_needed"
    assert "--password-file" in str(needed.value)
    with pytest.raises(PasswordError) as wrong:
        with_private_key(item, lambda _where: b"not-it")
    assert wrong.value.code == "wrong_password"
    asked: list[str] = []

    def source(where: str) -> bytes:
        asked.append(where)
        return DB_PASSWORD

    keyed = with_private_key(item, source)
    assert keyed.private_key is not None
    assert asked == [f"nss:{database}"]
    # Nothing was written: no PKCS#12, no password file, anywhere under the test dir.
    assert _files(tmp_path) <= before | set(_files(database))
    assert not any(p.suffix in {".p12", ".pfx", ".pw"} for p in _files(tmp_path))


def test_firefox_profiles_and_chromium_are_the_default_locations(
    tmp_path: Path, lab: LabPKI
) -> None:
    p12 = lab.identities["good-rsa"].p12
    assert p12 is not None
    home = tmp_path / "home"
    nss_database_with(home, p12, None)  # ~/.pki/nssdb
    profile = home / ".mozilla" / "firefox" / "x1y2z3.default-release"
    protected_database(profile, p12)
    (home / ".mozilla" / "firefox" / "profiles.ini").write_text("[General]\n")
    stores = default_nss_stores(home)
    assert [(s.kind, s.directory) for s in stores] == [
        ("chromium", home / ".pki" / "nssdb"),
        ("firefox", profile),
    ]
    assert parse_store("nss", home) == stores
    result = load_nss_identities("nss", home)
    assert sorted(i.facts.source for i in result.identities) == sorted(
        [f"nss:{home / '.pki' / 'nssdb'}#good-rsa", f"nss:{profile}#good-rsa"]
    )


def test_openssl_cli_bundle(tmp_path: Path, lab: LabPKI) -> None:
    """A PKCS#12 made by the openssl CLI (not by cryptography) goes through NSS too."""
    good = lab.identities["good-ecdsa"]
    assert good.key is not None
    p12 = tmp_path / "openssl.p12"
    _run(
        "openssl", "pkcs12", "-export", "-in", str(good.crt), "-inkey", str(good.key),
        "-name", "from openssl", "-out", str(p12), "-passout", "pass:",
    )  # fmt: skip
    database = nss_database_with(tmp_path / "home", p12, None)
    (item,) = load_nss_identities(f"nss:{database}").identities
    assert item.facts.source.endswith("#from openssl")
    assert isinstance(item, NssIdentity)
    assert with_private_key(item, lambda _where: None).private_key is not None


def test_bad_store_specs(tmp_path: Path) -> None:
    with pytest.raises(BundleLoadError, match="no such directory"):
        parse_store(f"nss:{tmp_path / 'nope'}")
    with pytest.raises(BundleLoadError, match=r"neither cert9\.db nor cert8\.db"):
        parse_store(f"nss:{tmp_path}")
    with pytest.raises(InputError, match="unknown store"):
        parse_store("keychain")
    with pytest.raises(InputError, match="no NSS database found"):
        parse_store("nss", tmp_path)


def test_corrupt_database_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    directory = tmp_path / "corrupt"
    directory.mkdir()
    (directory / "cert9.db").write_bytes(b"this is not sqlite" * 10)
    (directory / "key4.db").write_bytes(b"nor this" * 10)
    result = load_nss_identities(f"nss:{directory}")
    assert result.identities == []
    (problem,) = result.problems
    assert "NSS cannot open this database" in problem.message


def test_missing_tools_say_which_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "db"
    directory.mkdir()
    _run("certutil", "-N", "-d", f"sql:{directory}", "--empty-password")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(InputError, match="libnss3-tools") as missing:
        load_nss_identities(f"nss:{directory}")
    assert missing.value.code == "nss_tools_missing"
    assert os.environ["PATH"] == str(tmp_path / "empty-bin")
