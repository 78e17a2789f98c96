"""``inspect -`` reads standard input; a Java keystore gets the keytool line;
every JSON document carries ``schema_version``."""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from mtls_doctor.lab.pki import LabPKI
from mtls_doctor.ui import SCHEMA_VERSION
from tests.cli import assert_one_clean_error_line, run_cli, run_process


def test_inspect_dash_reads_standard_input(lab: LabPKI) -> None:
    pem = lab.identities["good-ecdsa"].pem.read_text()
    result = run_process("inspect", "-", "--json", "--at", "2026-06-01T12:00:00Z", input_text=pem)
    assert result.code == 0, result.err
    (identity,) = result.json["identities"]
    assert identity["subject"].startswith("CN=good-ecdsa@lab.test")
    assert identity["key_matches"] is True
    # Binary formats too: a PKCS#12 on standard input.
    p12 = lab.identities["good-rsa"].p12
    assert p12 is not None
    done = subprocess.run(
        [sys.executable, "-m", "mtls_doctor", "inspect", "-", "--json"],
        input=p12.read_bytes(), capture_output=True, timeout=60,
    )  # fmt: skip
    assert json.loads(done.stdout)["identities"][0]["subject"].startswith("CN=good-rsa@")


def _empty_jks(password: str) -> bytes:
    """An empty JKS keystore, as the format defines it (magic, version 2, no entries,
    SHA-1 over the UTF-16BE password, "Mighty Aphrodite" and the content)."""
    body = struct.pack(">IiI", 0xFEEDFEED, 2, 0)
    digest = hashlib.sha1(password.encode("utf-16-be") + b"Mighty Aphrodite" + body).digest()
    return body + digest


def _keytool_store(folder: Path, store_type: str) -> Path:
    keytool = shutil.which("keytool")
    if keytool is None:
        pytest.skip("keytool (a Java runtime) is not installed")
    path = folder / f"client.{store_type.lower()}"
    subprocess.run(
        [keytool, "-genkeypair", "-keystore", str(path), "-storetype", store_type,
         "-storepass", "changeit", "-keypass", "changeit", "-alias", "client",
         "-keyalg", "EC", "-dname", "CN=client", "-validity", "30"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return path


@pytest.mark.parametrize("source", ["format", "keytool-jks", "keytool-jceks"])
def test_a_java_keystore_gets_the_keytool_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], source: str
) -> None:
    if source == "format":
        store = tmp_path / "client.jks"
        store.write_bytes(_empty_jks("changeit"))
    else:
        store = _keytool_store(tmp_path, source.split("-")[1].upper())
    for argv in (["inspect", str(store)], ["check", "127.0.0.1:9", "--cert", str(store)]):
        result = run_cli(capsys, *argv)
        assert_one_clean_error_line(result, 2)
        assert "Java keystore" in result.err
        assert "keytool -importkeystore" in result.err and "-deststoretype PKCS12" in result.err


def test_every_json_document_has_a_schema_version(
    lab: LabPKI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pem = str(lab.identities["good-rsa"].pem)
    for argv in (
        ["inspect", pem],
        ["explain", "SSL alert number 48"],
        ["lab", "pki", str(tmp_path / "lab")],
        ["lab", "down", str(tmp_path / "lab")],
        ["check", "127.0.0.1:9", "--cert", pem],  # a network error: the error object
        ["inspect", str(tmp_path / "missing.pem")],  # an input error
    ):
        document = run_cli(capsys, *argv, "--json").json
        assert document["schema_version"] == SCHEMA_VERSION == 1, argv
        assert next(iter(document)) == "schema_version"
    manifest = json.loads((tmp_path / "lab" / "manifest.json").read_text())
    assert manifest["schema_version"] == 1
