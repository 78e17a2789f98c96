"""``check`` against real servers: openssl s_server (TLS 1.2 and 1.3), nginx, Apache httpd.

Every lab identity against each server, with the cause the lab was built to
show; the exceptions are where a server's own behaviour differs, each with
its reason. Identities made by the openssl CLI too.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mtls_doctor.lab.pki import LabPKI
from tests.cli import run_cli
from tests.servers.real import (
    RunningServer,
    ServerRunner,
    require_binary,
    start_apache,
    start_nginx,
    start_s_server,
    write_bundle,
)

pytestmark = pytest.mark.realserver

IDENTITIES = [
    "good-rsa", "good-ecdsa", "expiring-soon", "expired", "not-yet-valid", "untrusted",
    "rotated", "missing-intermediate", "no-key", "mismatched-key", "no-client-auth", "rsa-1024",
    "revoked",
]  # fmt: skip


@pytest.fixture(scope="module")
def all_crls(live_lab: LabPKI) -> Path:
    return write_bundle(
        live_lab.directory / "ca" / "both-crls.pem",
        live_lab.directory / "ca" / "root.crl.pem",
        live_lab.crl_file,
    )


ServerFactory = Callable[[ServerRunner, LabPKI, Path], RunningServer]

SERVERS: dict[str, ServerFactory] = {
    "s_server-1.2": lambda run, lab, crls: run(
        start_s_server, cert=lab.server_pem, key=lab.server_key_file,
        ca_file=lab.client_ca_bundle, tls="1.2", crl=lab.crl_file,
    ),
    "s_server-1.3": lambda run, lab, crls: run(
        start_s_server, cert=lab.server_pem, key=lab.server_key_file,
        ca_file=lab.client_ca_bundle, tls="1.3", crl=lab.crl_file,
    ),
    "nginx-on": lambda run, lab, crls: run(
        start_nginx, cert=lab.server_pem, key=lab.server_key_file, verify_client="on",
        client_certificate=lab.client_ca_bundle, verify_depth=2, crl=crls,
    ),
    "nginx-optional": lambda run, lab, crls: run(
        start_nginx, cert=lab.server_pem, key=lab.server_key_file, verify_client="optional",
        client_certificate=lab.client_ca_bundle, verify_depth=2,
    ),
    "nginx-optional_no_ca": lambda run, lab, crls: run(
        start_nginx, cert=lab.server_pem, key=lab.server_key_file,
        verify_client="optional_no_ca", client_certificate=lab.client_ca_bundle, verify_depth=2,
    ),
    "apache-require": lambda run, lab, crls: run(
        start_apache, cert=lab.server_pem, key=lab.server_key_file, verify_client="require",
        ca_file=lab.client_ca_bundle, verify_depth=2, crl=crls,
    ),
    "apache-optional": lambda run, lab, crls: run(
        start_apache, cert=lab.server_pem, key=lab.server_key_file, verify_client="optional",
        ca_file=lab.client_ca_bundle, verify_depth=2,
    ),
}  # fmt: skip

#: (server, identity) → expected cause where it is not the lab's own expectation, and why.
EXCEPTIONS: dict[tuple[str, str], tuple[str, str]] = {}
for _server in ("nginx-optional", "apache-optional"):
    EXCEPTIONS[(_server, "revoked")] = ("accepted", "no CRL configured: the server accepts it")
for _server in ("nginx-on",):
    EXCEPTIONS[(_server, "revoked")] = (
        "rejected_unexplained",
        "nginx answers 400 without a reason and the lab has no CRL URL to look up",
    )
EXCEPTIONS[("nginx-optional_no_ca", "untrusted")] = (
    "accepted",
    "optional_no_ca lets an unknown issuer through; the request is served",
)
EXCEPTIONS[("nginx-optional_no_ca", "missing-intermediate")] = (
    "accepted",
    "optional_no_ca lets an unknown issuer through; the request is served",
)
EXCEPTIONS[("nginx-optional_no_ca", "revoked")] = ("accepted", "no CRL configured")
EXCEPTIONS[("nginx-optional_no_ca", "rotated")] = (
    "accepted",
    "the client sends the new self-signed root, an error optional_no_ca lets through",
)


def _started(
    cache: dict[str, RunningServer],
    name: str,
    module_servers: ServerRunner,
    lab: LabPKI,
    crls: Path,
) -> RunningServer:
    if name.startswith("nginx"):
        require_binary("nginx")
    if name.startswith("apache"):
        require_binary("apache2")
    if name not in cache:
        cache[name] = SERVERS[name](module_servers, lab, crls)
    return cache[name]


_CACHE: dict[str, RunningServer] = {}


def _check(capsys: pytest.CaptureFixture[str], target: str, *args: str) -> dict[str, Any]:
    result = run_cli(capsys, "check", "--json", "--offline", "--timeout", "10", target, *args)
    document: dict[str, Any] = json.loads(result.out)
    assert "verdict" in document, (result.out, result.err)
    assert result.code == (0 if document["verdict"]["cause"] == "accepted" else 1), result.err
    return document


def _identity_args(lab: LabPKI, name: str, server: str) -> list[str]:
    args = ["--cert", str(lab.identities[name].pem)]
    if name == "missing-intermediate":
        args += ["--cert", str(lab.directory / "ca" / "intermediate.pem")]
    if name == "rotated" and server.startswith("nginx"):
        # nginx says only "400 The SSL certificate error"; the server's bundle settles it.
        args += ["--ca-bundle", str(lab.client_ca_bundle)]
    return args


@pytest.mark.parametrize("identity", IDENTITIES)
@pytest.mark.parametrize("server", sorted(SERVERS))
def test_lab_identity_gets_its_cause(
    server: str,
    identity: str,
    live_lab: LabPKI,
    module_servers: ServerRunner,
    all_crls: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    running = _started(_CACHE, server, module_servers, live_lab, all_crls)
    expected = str(live_lab.identities[identity].expected)
    expected = EXCEPTIONS.get((server, identity), (expected, ""))[0]
    document = _check(capsys, running.target, *_identity_args(live_lab, identity, server))
    assert document["verdict"]["cause"] == expected, (
        document["verdict"],
        document["handshake"],
        running.error_log_text()[-2000:],
    )
    assert document["handshakes"] == (1 if expected == "accepted" else document["handshakes"])
    assert 1 <= document["handshakes"] <= 2


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_no_certificate(
    server: str,
    live_lab: LabPKI,
    module_servers: ServerRunner,
    all_crls: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    running = _started(_CACHE, server, module_servers, live_lab, all_crls)
    document = _check(capsys, running.target)
    optional = "optional" in server
    assert document["verdict"]["cause"] == ("accepted" if optional else "no_certificate_sent")
    assert document["probe"]["client_auth"] == ("optional" if optional else "required")
    assert document["probe"]["acceptable_ca_names"] == ["CN=Lab Root CA,O=mtls-doctor lab"]
    assert document["handshakes"] == 1


@pytest.fixture(scope="module")
def openssl_identities(live_lab: LabPKI, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Client identities made by the openssl CLI, not by our generator."""
    openssl = require_binary("openssl")
    d = tmp_path_factory.mktemp("openssl-ids")
    ca = live_lab.directory / "ca"

    def sh(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True, cwd=d)

    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\n")
    (d / "server.ext").write_text("extendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n")
    (d / "no-eku.ext").write_text("keyUsage=critical,digitalSignature\n")
    (d / "certsign.ext").write_text("keyUsage=critical,keyCertSign\n")
    rsa = ("-newkey", "rsa:2048")
    sh("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
       "-keyout", "other-ca.key", "-out", "other-ca.pem", "-days", "30",
       "-subj", "/CN=Some Other CA", "-addext", "basicConstraints=critical,CA:TRUE",
       "-addext", "keyUsage=keyCertSign,cRLSign")  # fmt: skip
    intermediate = (ca / "intermediate.pem", ca / "intermediate.key")
    for name, (ca_cert, ca_key), ext, key in (
        ("good", intermediate, "client.ext", rsa),
        ("serveronly", intermediate, "server.ext", rsa),
        ("foreign", (d / "other-ca.pem", d / "other-ca.key"), "client.ext", rsa),
        ("no-eku", intermediate, "no-eku.ext", rsa),
        ("certsign-only", intermediate, "certsign.ext", rsa),
        # An RSA-PSS key (OID rsassaPss) was loaded as plain RSA and never sent.
        (
            "rsa-pss",
            intermediate,
            "client.ext",
            ("-newkey", "rsa-pss", "-pkeyopt", "rsa_keygen_bits:2048"),
        ),
        ("ed25519", intermediate, "client.ext", ("-newkey", "ed25519")),
        (
            "p384",
            intermediate,
            "client.ext",
            ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"),
        ),
    ):
        sh("req", *key, "-nodes", "-keyout", f"{name}.key", "-out",
           f"{name}.csr", "-subj", f"/CN=openssl-{name}")  # fmt: skip
        sh("x509", "-req", "-in", f"{name}.csr", "-CA", str(ca_cert), "-CAkey", str(ca_key),
           "-CAcreateserial", "-out", f"{name}.crt", "-days", "30", "-extfile", ext)  # fmt: skip
        (d / f"{name}-chain.pem").write_bytes(
            (d / f"{name}.crt").read_bytes() + Path(ca_cert).read_bytes()
        )
    (d / "pw.txt").write_text("openssl-secret\n")
    sh("pkcs12", "-export", "-in", "good-chain.pem", "-inkey", "good.key", "-out", "good.p12",
       "-passout", "file:pw.txt")  # fmt: skip
    sh("pkcs12", "-export", "-legacy", "-in", "good-chain.pem", "-inkey", "good.key",
       "-out", "good-legacy.p12", "-passout", "file:pw.txt")  # fmt: skip
    return d


OPENSSL_CASES = [
    ("good.p12", "accepted"),
    ("good-legacy.p12", "accepted"),
    ("serveronly", "wrong_key_usage"),
    ("foreign", "untrusted_issuer"),
    ("no-eku", "accepted"),
    ("certsign-only", "wrong_key_usage"),
    ("rsa-pss", "accepted"),
    ("ed25519", "accepted"),
    ("p384", "accepted"),
]


@pytest.mark.parametrize(("name", "expected"), OPENSSL_CASES)
@pytest.mark.parametrize("server", ["s_server-1.3", "nginx-on", "apache-require"])
def test_openssl_made_identities(
    server: str,
    name: str,
    expected: str,
    live_lab: LabPKI,
    module_servers: ServerRunner,
    all_crls: Path,
    openssl_identities: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    running = _started(_CACHE, server, module_servers, live_lab, all_crls)
    d = openssl_identities
    if name.endswith(".p12"):
        args = ["--cert", str(d / name), "--password-file", str(d / "pw.txt")]
    else:
        args = ["--cert", str(d / f"{name}-chain.pem"), "--key", str(d / f"{name}.key")]
    document = _check(capsys, running.target, *args)
    assert document["verdict"]["cause"] == expected, document["verdict"]
    assert "openssl-secret" not in json.dumps(document)


@pytest.mark.parametrize("server", ["s_server-1.3", "nginx-on"])
def test_leaf_alone_with_no_intermediate_anywhere_names_both_causes(
    server: str,
    live_lab: LabPKI,
    module_servers: ServerRunner,
    all_crls: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The server lists its root; the leaf's issuer is nowhere here (offline, not sent).

    Untrusted CA and unsent intermediate look the same: the summary must say
    so (it named only untrusted_issuer), and how to tell them apart.
    """
    running = _started(_CACHE, server, module_servers, live_lab, all_crls)
    leaf = str(live_lab.identities["missing-intermediate"].pem)
    verdict = _check(capsys, running.target, "--cert", leaf)["verdict"]
    assert verdict["cause"] == "untrusted_issuer", verdict
    assert "missing_intermediate" in verdict["summary"]
    assert "second --cert" in verdict["summary"]
    intermediate = str(live_lab.directory / "ca" / "intermediate.pem")
    verdict = _check(capsys, running.target, "--cert", leaf, "--cert", intermediate)["verdict"]
    assert verdict["cause"] == "missing_intermediate", verdict


def teardown_module() -> None:
    _CACHE.clear()
