"""Client identities made by GnuTLS ``certtool``, not by the lab's ``cryptography`` code.

The matrix must not be tuned to one PKI tool: certtool writes its own
extensions, serials and key files (a text dump of the key before its PEM
block). The CAs' keys are RSA 2048; the identities' are ECDSA P-256, whose
private scalar certtool writes with a leading zero byte about half the time
(keys OpenSSL loads, and so must the product).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.servers.real import require_binary

_CA = """cn = "{name}"
organization = "certtool lab"
expiration_days = 3650
ca
cert_signing_key
crl_signing_key
"""
_LEAF = """cn = "certtool-{name}"
organization = "certtool lab"
{dates}
{usage}
signing_key
"""
VALID = "expiration_days = 30"
EXPIRED = 'activation_date = "2020-01-01 00:00:00"\nexpiration_date = "2021-01-01 00:00:00"'


@dataclass(frozen=True)
class CerttoolPKI:
    """A certtool CA the servers trust, and the identities (name -> certificate, key)."""

    ca: Path
    identities: dict[str, tuple[Path, Path]]


def _run(certtool: str, directory: Path, *args: str) -> None:
    done = subprocess.run(
        [certtool, *args], cwd=directory, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"certtool {' '.join(args)} failed:\n{done.stdout}{done.stderr}")


def _key(certtool: str, directory: Path, name: str, kind: str) -> Path:
    key = directory / f"{name}.key"
    size = ["--bits", "2048"] if kind == "rsa" else ["--curve", "secp256r1"]
    _run(
        certtool, directory, "--generate-privkey", "--key-type", kind, *size, "--outfile", key.name
    )
    return key


def build_certtool_pki(directory: Path) -> CerttoolPKI:
    """A trusted CA, an untrusted one, and four identities, all written by certtool."""
    certtool = require_binary("certtool")
    directory.mkdir(parents=True, exist_ok=True)
    cas = {}
    for ca in ("trusted-ca", "other-ca"):
        (directory / f"{ca}.tmpl").write_text(_CA.format(name=f"certtool {ca}"))
        _key(certtool, directory, ca, "rsa")
        _run(certtool, directory, "--generate-self-signed", "--load-privkey", f"{ca}.key",
             "--template", f"{ca}.tmpl", "--outfile", f"{ca}.pem")  # fmt: skip
        cas[ca] = directory / f"{ca}.pem"
    leaves = {
        "good": ("trusted-ca", VALID, "tls_www_client"),
        "expired": ("trusted-ca", EXPIRED, "tls_www_client"),
        "untrusted": ("other-ca", VALID, "tls_www_client"),
        "no-client-auth": ("trusted-ca", VALID, "tls_www_server"),
    }
    identities = {}
    for name, (ca, dates, usage) in leaves.items():
        (directory / f"{name}.tmpl").write_text(_LEAF.format(name=name, dates=dates, usage=usage))
        key = _key(certtool, directory, name, "ecdsa")
        _run(certtool, directory, "--generate-certificate", "--load-privkey", key.name,
             "--load-ca-certificate", f"{ca}.pem", "--load-ca-privkey", f"{ca}.key",
             "--template", f"{name}.tmpl", "--outfile", f"{name}.pem")  # fmt: skip
        identities[name] = (directory / f"{name}.pem", key)
    return CerttoolPKI(ca=cas["trusted-ca"], identities=identities)
