"""``check`` against real servers that list no CA names, with and without ``--ca-bundle``.

Such a server says only "unknown CA" (or nginx's bare 400) for every chain
problem. The server's own client-CA bundle settles untrusted / rotated /
missing intermediate; without it the remaining causes are ranked, the leaf
sent alone whose intermediate exists (found here through its caIssuers URL,
served by the lab responder on 127.0.0.1) first.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mtls_doctor.lab.pki import LabPKI
from mtls_doctor.lab.responder import Responder, start_responder
from mtls_doctor.lab.server import Advertise, LabServer, LabServerConfig
from tests.cli import run_cli
from tests.servers.real import (
    ServerRunner,
    require_binary,
    start_apache,
    start_haproxy,
    start_nginx,
    start_s_server,
    write_bundle,
)

pytestmark = pytest.mark.realserver

#: What the lab responder's AIA makes findable, and the server's bundle settles.
WITH_BUNDLE = {
    "missing-intermediate": "missing_intermediate",
    "untrusted": "untrusted_issuer",
    "rotated": "issuer_rotated",
    "good-rsa": "accepted",
}
RAW_VERIFIER_WORDS = ("candidates exhausted", "validation failed", "max depth")


@pytest.fixture(scope="module")
def responder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Responder]:
    with start_responder(tmp_path_factory.mktemp("aia-lab")) as running:
        yield running


Start = Callable[[ServerRunner, LabPKI], str]


def _lab(run: ServerRunner, pki: LabPKI) -> str:
    server = LabServer(pki, LabServerConfig(name="no-names", advertise=Advertise.NONE)).start()
    _LAB_SERVERS.append(server)
    return server.target


_LAB_SERVERS: list[LabServer] = []

SERVERS: dict[str, Start] = {
    "lab-no-ca-names": _lab,
    "s_server-no_ca_names": lambda run, pki: run(
        start_s_server, cert=pki.server_pem, key=pki.server_key_file,
        ca_file=pki.client_ca_bundle, tls="1.3", no_ca_names=True,
    ).target,
    "haproxy-no-ca-names": lambda run, pki: run(
        start_haproxy,
        cert_and_key_pem=write_bundle(
            pki.directory / "server" / "server-with-key.pem", pki.server_pem, pki.server_key_file
        ),
        ca_file=pki.client_ca_bundle, extra_bind="no-ca-names",
    ).target,
}  # fmt: skip
#: nginx 1.22 cannot verify without advertising (ssl_client_certificate is required), and
#: Apache refuses an empty SSLCADNRequestFile: these list their names, and the bundle
#: must agree with them.
LISTING: dict[str, Start] = {
    "nginx-on": lambda run, pki: run(
        start_nginx, cert=pki.server_pem, key=pki.server_key_file,
        client_certificate=pki.client_ca_bundle, verify_depth=2,
    ).target,
    "apache-require": lambda run, pki: run(
        start_apache, cert=pki.server_pem, key=pki.server_key_file, verify_client="require",
        ca_file=pki.client_ca_bundle, verify_depth=2,
    ).target,
}  # fmt: skip


@pytest.fixture(scope="module")
def targets(responder: Responder, module_servers: ServerRunner) -> Iterator[dict[str, str]]:
    pki = responder.pki
    assert pki is not None
    started: dict[str, str] = {}
    try:
        for name, start in {**SERVERS, **LISTING}.items():
            binary = {"nginx": "nginx", "apache": "apache2", "haproxy": "haproxy"}
            for prefix, program in binary.items():
                if name.startswith(prefix):
                    require_binary(program)
            started[name] = start(module_servers, pki)
        yield started
    finally:
        while _LAB_SERVERS:
            _LAB_SERVERS.pop().stop()


def _check(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    result = run_cli(capsys, "check", "--json", "--no-revocation", "--timeout", "10", *args)
    document: dict[str, Any] = json.loads(result.out)
    assert "verdict" in document, (result.out, result.err)
    assert result.code == (0 if document["verdict"]["cause"] == "accepted" else 1)
    return document


def _text(document: dict[str, Any]) -> str:
    verdict = document["verdict"]
    return " ".join([verdict["summary"], *(f["message"] for f in document["findings"])])


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_server_lists_no_names(
    server: str, targets: dict[str, str], capsys: pytest.CaptureFixture[str], responder: Responder
) -> None:
    pki = responder.pki
    assert pki is not None
    document = _check(capsys, targets[server])
    assert document["probe"]["acceptable_ca_names"] == []


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_leaf_alone_whose_intermediate_exists_is_most_likely_missing_intermediate(
    server: str, targets: dict[str, str], capsys: pytest.CaptureFixture[str], responder: Responder
) -> None:
    pki = responder.pki
    assert pki is not None
    leaf = str(pki.identities["missing-intermediate"].pem)
    document = _check(capsys, targets[server], "--cert", leaf)
    verdict = document["verdict"]
    assert verdict["cause"] == "missing_intermediate", verdict
    # Not proven: it says so, names the others, and how to settle it.
    assert "most likely" in verdict["summary"]
    assert "untrusted_issuer" in verdict["summary"]
    assert "--ca-bundle" in verdict["summary"]
    first = document["chain"][0]
    assert (first["source"], first["sent"]) == ("aia", False)


@pytest.mark.parametrize("identity", sorted(WITH_BUNDLE))
@pytest.mark.parametrize("server", sorted({**SERVERS, **LISTING}))
def test_the_servers_bundle_settles_it(
    server: str,
    identity: str,
    targets: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    responder: Responder,
) -> None:
    pki = responder.pki
    assert pki is not None
    args = ["--cert", str(pki.identities[identity].pem), "--ca-bundle", str(pki.client_ca_bundle)]
    document = _check(capsys, targets[server], *args)
    verdict = document["verdict"]
    assert verdict["cause"] == WITH_BUNDLE[identity], verdict
    text = _text(document)
    assert "most likely" not in verdict["summary"]
    assert "--ca-bundle" not in text  # it was given: never asked for again
    assert not any(word in text for word in RAW_VERIFIER_WORDS), text


def test_offline_with_bundle_and_no_intermediate_names_both_candidates(
    targets: dict[str, str], capsys: pytest.CaptureFixture[str], responder: Responder
) -> None:
    pki = responder.pki
    assert pki is not None
    before = len(responder.requests)
    leaf = str(pki.identities["missing-intermediate"].pem)
    document = _check(
        capsys, targets["s_server-no_ca_names"], "--offline", "--cert", leaf,
        "--ca-bundle", str(pki.client_ca_bundle),
    )  # fmt: skip
    verdict = document["verdict"]
    assert verdict["cause"] in ("untrusted_issuer", "missing_intermediate")
    assert "untrusted_issuer" in verdict["summary"]
    assert "missing_intermediate" in verdict["summary"]
    assert "--ca-bundle" not in _text(document)
    assert len(responder.requests) == before


def test_a_missing_bundle_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(capsys, "check", "--json", "127.0.0.1:1", "--ca-bundle", str(tmp_path / "x"))
    assert result.code == 2
    assert json.loads(result.out)["error"]["message"]


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_self_signed_ca_true_certificate_is_untrusted_not_wrong_usage(
    server: str, targets: dict[str, str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """``openssl req -x509`` writes CA:TRUE by default; OpenSSL servers accept such a leaf.

    Refused by a server that names no CA, it was blamed on its CA:TRUE
    (wrong_key_usage), a confident wrong cause: the issuer is what is unknown.
    """
    openssl = require_binary("openssl")
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", "self.key", "-out", "self.pem", "-days", "30",
         "-subj", "/CN=self-signed client", "-addext", "extendedKeyUsage=clientAuth"],
        check=True, capture_output=True, cwd=tmp_path,
    )  # fmt: skip
    key = str(tmp_path / "self.key")
    document = _check(capsys, targets[server], "--cert", str(tmp_path / "self.pem"), "--key", key)
    assert document["verdict"]["cause"] == "untrusted_issuer", document["verdict"]
    leaf_note = [f for f in document["findings"] if f["code"] == "ca_certificate_as_leaf"]
    assert [f["severity"] for f in leaf_note] == ["warning"]
