"""Every key OpenSSL loads, we load: identities written by GnuTLS certtool, the OpenSSL
CLI, cryptography and Java keytool, generated at test time.

certtool writes about half of its P-256 keys with a 33-byte scalar (a leading
zero byte); cryptography's parser refuses those, OpenSSL, curl and Go use
them. A certtool key with that encoding is searched for (each try is a coin
toss) and the test proves it has it, so the case cannot silently vanish.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.cli import run_cli
from tests.servers.real import ServerRunner, require_binary, start_s_server

PASSWORD = "corpus-secret-7"
_ENV = "MTLS_DOCTOR_CORPUS_PASSWORD"
#: certtool tries to find a leading-zero key; the chance of none in 40 is 2**-40.
_TRIES = 40


@dataclass(frozen=True)
class Item:
    """One identity of the corpus: the files to pass, and whether a password is needed."""

    name: str
    paths: tuple[Path, ...]
    key: Path | None = None
    encrypted: bool = False


def _run(*argv: str, cwd: Path) -> str:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{' '.join(argv)}:\n{done.stdout}{done.stderr}"
    return done.stdout


def _ec_scalar_length(pem: Path) -> int:
    """The length of an ECPrivateKey's privateKey OCTET STRING (RFC 5915)."""
    body = re.search(r"-----BEGIN EC PRIVATE KEY-----(.*?)-----END", pem.read_text(), re.S)
    assert body, f"{pem} holds no EC PRIVATE KEY block"
    der = base64.b64decode("".join(body.group(1).split()))
    # SEQUENCE (short length), INTEGER 1, then OCTET STRING with its length.
    assert der[0] == 0x30 and der[2:5] == b"\x02\x01\x01" and der[5] == 0x04
    return der[6]


def _certtool(tmp: Path) -> list[Item]:
    certtool = require_binary("certtool")
    template = tmp / "certtool.tmpl"
    template.write_text(
        'cn = "certtool client"\ntls_www_client\nsigning_key\nexpiration_days = 30\n'
    )
    key = tmp / "certtool-ec.key"
    for _ in range(_TRIES):
        # certtool writes a text dump of the key before the PEM block.
        _run(certtool, "--generate-privkey", "--key-type", "ecdsa", "--curve", "secp256r1",
             "--outfile", str(key), cwd=tmp)  # fmt: skip
        if _ec_scalar_length(key) == 33:
            break
    assert _ec_scalar_length(key) == 33, "certtool wrote no leading-zero key in 40 tries"
    assert key.read_text().startswith("Public Key Info"), "expected certtool's text dump first"
    cert = tmp / "certtool-ec.crt"
    _run(certtool, "--generate-self-signed", "--load-privkey", str(key), "--template",
         str(template), "--outfile", str(cert), cwd=tmp)  # fmt: skip
    p12 = tmp / "certtool-ec.p12"
    _run(certtool, "--to-p12", "--load-privkey", str(key), "--load-certificate", str(cert),
         "--p12-name", "certtool", "--password", PASSWORD, "--outder", "--outfile", str(p12),
         cwd=tmp)  # fmt: skip
    p8 = tmp / "certtool-ec-p8.key"
    _run(certtool, "--to-p8", "--load-privkey", str(key), "--password", PASSWORD,
         "--outfile", str(p8), cwd=tmp)  # fmt: skip
    rsa_key = tmp / "certtool-rsa.key"
    _run(certtool, "--generate-privkey", "--key-type", "rsa", "--bits", "2048",
         "--outfile", str(rsa_key), cwd=tmp)  # fmt: skip
    rsa_cert = tmp / "certtool-rsa.crt"
    _run(certtool, "--generate-self-signed", "--load-privkey", str(rsa_key), "--template",
         str(template), "--outfile", str(rsa_cert), cwd=tmp)  # fmt: skip
    both = tmp / "certtool-ec-bundle.pem"
    both.write_text(cert.read_text() + key.read_text())
    return [
        Item("certtool EC, leading-zero scalar, text dump before the PEM", (cert,), key),
        Item("certtool EC in one file with its text dumps", (both,)),
        Item("certtool EC as PKCS#12", (p12,), encrypted=True),
        Item("certtool EC as encrypted PKCS#8", (cert,), p8, encrypted=True),
        Item("certtool RSA", (rsa_cert,), rsa_key),
    ]


def _openssl(tmp: Path) -> list[Item]:
    openssl = require_binary("openssl")
    key, cert = tmp / "openssl-ec.key", tmp / "openssl-ec.crt"
    _run(openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-subj", "/CN=openssl client",
         "-days", "30", "-addext", "extendedKeyUsage=clientAuth", cwd=tmp)  # fmt: skip
    traditional = tmp / "openssl-ec-traditional.key"
    _run(openssl, "ec", "-in", str(key), "-out", str(traditional), cwd=tmp)
    encrypted = tmp / "openssl-ec-enc.key"
    _run(openssl, "pkcs8", "-topk8", "-in", str(key), "-out", str(encrypted), "-v2",
         "aes-256-cbc", "-passout", f"pass:{PASSWORD}", cwd=tmp)  # fmt: skip
    der = tmp / "openssl-ec.der.key"
    _run(openssl, "pkey", "-in", str(key), "-outform", "DER", "-out", str(der), cwd=tmp)
    p12 = tmp / "openssl-ec.p12"
    _run(openssl, "pkcs12", "-export", "-in", str(cert), "-inkey", str(key), "-out", str(p12),
         "-passout", f"pass:{PASSWORD}", cwd=tmp)  # fmt: skip
    return [
        Item("openssl EC PKCS#8", (cert,), key),
        Item("openssl EC traditional", (cert,), traditional),
        Item("openssl EC encrypted PKCS#8", (cert,), encrypted, encrypted=True),
        Item("openssl EC DER key", (cert,), der),
        Item("openssl PKCS#12", (p12,), encrypted=True),
    ]


def _cryptography(tmp: Path) -> list[Item]:
    items = []
    now = datetime.now(UTC)
    for label, key in (
        ("EC", ec.generate_private_key(ec.SECP384R1())),
        ("RSA", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    ):
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"cryptography {label}")])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
            .sign(key, hashes.SHA256())
        )
        crt = tmp / f"cryptography-{label}.crt"
        crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        der = tmp / f"cryptography-{label}.der.key"
        der.write_bytes(
            key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        p12 = tmp / f"cryptography-{label}.p12"
        p12.write_bytes(
            pkcs12.serialize_key_and_certificates(
                b"corpus",
                key,
                cert,
                None,
                serialization.BestAvailableEncryption(PASSWORD.encode()),
            )
        )
        items += [
            Item(f"cryptography {label} DER key", (crt,), der),
            Item(f"cryptography {label} PKCS#12", (p12,), encrypted=True),
        ]
    return items


def _keytool(tmp: Path) -> list[Item]:
    keytool = require_binary("keytool")
    items = []
    for alg, extra in (("EC", ["-groupname", "secp256r1"]), ("RSA", ["-keysize", "2048"])):
        store = tmp / f"keytool-{alg}.p12"
        _run(keytool, "-genkeypair", "-alias", "client", "-keyalg", alg, *extra,
             "-dname", f"CN=keytool {alg}", "-validity", "30", "-storetype", "PKCS12",
             "-keystore", str(store), "-storepass", PASSWORD, "-keypass", PASSWORD,
             "-ext", "EKU=clientAuth", cwd=tmp)  # fmt: skip
        items.append(Item(f"Java keytool {alg} PKCS#12", (store,), encrypted=True))
    return items


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Item]:
    tmp = tmp_path_factory.mktemp("key-corpus")
    items = _certtool(tmp) + _openssl(tmp) + _cryptography(tmp) + _keytool(tmp)
    return {item.name: item for item in items}


def _names() -> list[str]:
    return [
        "certtool EC, leading-zero scalar, text dump before the PEM",
        "certtool EC in one file with its text dumps",
        "certtool EC as PKCS#12",
        "certtool EC as encrypted PKCS#8",
        "certtool RSA",
        "openssl EC PKCS#8",
        "openssl EC traditional",
        "openssl EC encrypted PKCS#8",
        "openssl EC DER key",
        "openssl PKCS#12",
        "cryptography EC DER key",
        "cryptography EC PKCS#12",
        "cryptography RSA DER key",
        "cryptography RSA PKCS#12",
        "Java keytool EC PKCS#12",
        "Java keytool RSA PKCS#12",
    ]


@pytest.mark.parametrize("name", _names())
def test_inspect_loads_every_identity_with_its_key(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    corpus: dict[str, Item],
    name: str,
) -> None:
    item = corpus[name]
    monkeypatch.setenv(_ENV, PASSWORD)
    args = [str(p) for p in item.paths]
    if item.key is not None:
        args += ["--key", str(item.key)]
    result = run_cli(capsys, "inspect", "--json", "--password-env", _ENV, *args)
    assert result.code in (0, 1), result.out + result.err
    (identity,) = json.loads(result.out)["identities"]
    assert identity["has_private_key"] is True, identity
    assert identity["key_matches"] is True, identity
    assert PASSWORD not in result.out + result.err


def test_a_wrong_password_on_a_leading_zero_key_is_still_a_wrong_password(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, corpus: dict[str, Item]
) -> None:
    item = corpus["certtool EC as encrypted PKCS#8"]
    monkeypatch.setenv(_ENV, "not-the-password")
    assert item.key is not None
    result = run_cli(
        capsys,
        "inspect",
        "--json",
        "--password-env",
        _ENV,
        str(item.paths[0]),
        "--key",
        str(item.key),
    )
    assert result.code == 2
    assert json.loads(result.out)["error"]["code"] == "wrong_password"


@pytest.mark.realserver
def test_check_presents_a_leading_zero_key_in_a_real_handshake(
    capsys: pytest.CaptureFixture[str],
    module_servers: ServerRunner,
    live_lab: object,
    corpus: dict[str, Item],
) -> None:
    from mtls_doctor.lab.pki import LabPKI

    assert isinstance(live_lab, LabPKI)
    item = corpus["certtool EC, leading-zero scalar, text dump before the PEM"]
    assert item.key is not None
    server = module_servers(
        start_s_server,
        cert=live_lab.server_pem,
        key=live_lab.server_key_file,
        ca_file=item.paths[0],
    )
    result = run_cli(
        capsys, "check", "--json", "--no-revocation", server.url(),
        "--cert", str(item.paths[0]), "--key", str(item.key),
    )  # fmt: skip
    document = json.loads(result.out)
    assert (result.code, document["verdict"]["cause"]) == (0, "accepted"), document["verdict"]
