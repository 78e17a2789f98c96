"""``check`` names ``certificate_revoked`` on nginx, Apache httpd and openssl s_server.

The lab's CA web server runs on 127.0.0.1 and the lab certificates point at
it (CRL distribution points, AIA OCSP). The servers load the lab's CRLs
(nginx ``ssl_crl``; Apache ``SSLCARevocationFile`` with
``SSLCARevocationCheck chain``; s_server ``-crl_check``), so each refuses
the three revoked identities. Apache and s_server say so with the alert
certificate_revoked; nginx only answers 400 "The SSL certificate error", so
there ``check`` must find out by its own lookup: by OCSP for
``revoked-ocsp-only``, by CRL for ``revoked-crl-only``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mtls_doctor.lab.pki import LabPKI
from mtls_doctor.lab.responder import Mode, Responder, start_responder
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

REVOKED = ("revoked", "revoked-crl-only", "revoked-ocsp-only")
#: How the client itself learns each identity is revoked (the URLs its certificate names).
LOOKUP = {"revoked": "OCSP", "revoked-crl-only": "CRL", "revoked-ocsp-only": "OCSP"}
#: alert 44 certificate_revoked (RFC 8446 6.2); nginx sends none.
ALERT = {"nginx": None, "apache": 44, "s_server": 44}

ServerFactory = Callable[[ServerRunner, LabPKI, Path], RunningServer]
SERVERS: dict[str, ServerFactory] = {
    "nginx": lambda run, lab, crls: run(
        start_nginx, cert=lab.server_pem, key=lab.server_key_file, verify_client="on",
        client_certificate=lab.client_ca_bundle, verify_depth=2, crl=crls,
    ),
    "apache": lambda run, lab, crls: run(
        start_apache, cert=lab.server_pem, key=lab.server_key_file, verify_client="require",
        ca_file=lab.client_ca_bundle, verify_depth=2, crl=crls,
    ),
    # s_server checks the leaf only, against the first CRL of the file.
    "s_server": lambda run, lab, crls: run(
        start_s_server, cert=lab.server_pem, key=lab.server_key_file,
        ca_file=lab.client_ca_bundle, crl=lab.crl_file,
    ),
}  # fmt: skip
BINARY = {"nginx": "nginx", "apache": "apache2", "s_server": "openssl"}


@pytest.fixture(scope="module")
def ca_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Responder]:
    """A live lab (real clock) whose certificates point at this running responder."""
    responder = start_responder(tmp_path_factory.mktemp("revocation") / "lab")
    try:
        yield responder
    finally:
        responder.stop()


@pytest.fixture
def ca(
    ca_server: Responder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Responder]:
    """The responder answering normally, an empty request log, a private CRL cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    ca_server.reset()
    yield ca_server
    ca_server.reset()


@pytest.fixture(scope="module")
def started(
    ca_server: Responder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], RunningServer]]:
    """``started(kind)``: the ``kind`` server for the lab, started once per module."""
    runner = ServerRunner(tmp_path_factory.mktemp("servers"))
    lab = ca_server.pki
    assert lab is not None
    crls = write_bundle(
        lab.directory / "ca" / "all-crls.pem",
        lab.directory / "ca" / "root.crl.pem",
        lab.crl_file,
    )
    running: dict[str, RunningServer] = {}

    def get(kind: str) -> RunningServer:
        require_binary(BINARY[kind])
        if kind not in running:
            running[kind] = SERVERS[kind](runner, lab, crls)
        return running[kind]

    try:
        yield get
    finally:
        runner.stop_all()


def check(
    capsys: pytest.CaptureFixture[str], server: RunningServer, lab: LabPKI, name: str, *args: str
) -> dict[str, Any]:
    """``mtls-doctor check --json TARGET --cert IDENTITY.pem``; the JSON, exit code checked."""
    pem = str(lab.identities[name].pem)
    result = run_cli(
        capsys, "check", "--json", "--timeout", "10", server.target, "--cert", pem, *args
    )
    document: dict[str, Any] = json.loads(result.out)
    cause = document["verdict"]["cause"]
    assert result.code == (0 if cause == "accepted" else 1), (result.code, result.err)
    return document


@pytest.mark.parametrize("name", REVOKED)
@pytest.mark.parametrize("kind", SERVERS)
def test_check_names_certificate_revoked(
    kind: str,
    name: str,
    ca: Responder,
    started: Callable[[str], RunningServer],
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert ca.pki is not None
    document = check(capsys, started(kind), ca.pki, name)
    assert document["verdict"]["cause"] == "certificate_revoked", document["verdict"]
    alert = document["handshake"]["tls_alert"]
    assert (alert["code"] if alert else None) == ALERT[kind]
    if kind == "nginx":
        assert document["handshake"]["http_status"] == 400
    # The client's own lookup agrees, by the route the certificate offers.
    leaf = document["revocation"][0]
    assert (leaf["status"], leaf["method"]) == ("revoked", LOOKUP[name].lower()), leaf
    assert "keyCompromise" in leaf["detail"]
    revoked = [f for f in document["findings"] if f["code"] == "certificate_revoked"]
    assert revoked and revoked[0]["message"].startswith(f"{LOOKUP[name]} says the certificate")
    # The intermediate was checked too, and is in good standing.
    assert document["revocation"][1]["status"] == "good"


@pytest.mark.parametrize("kind", SERVERS)
def test_good_identity_is_accepted(
    kind: str,
    ca: Responder,
    started: Callable[[str], RunningServer],
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert ca.pki is not None
    document = check(capsys, started(kind), ca.pki, "good-ecdsa")
    assert document["verdict"]["cause"] == "accepted"


@pytest.mark.parametrize("kind", SERVERS)
def test_offline_leaves_the_verdict_to_the_server(
    kind: str,
    ca: Responder,
    started: Callable[[str], RunningServer],
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert ca.pki is not None
    document = check(capsys, started(kind), ca.pki, "revoked-ocsp-only", "--offline")
    assert ca.requests == []  # no lookup at all
    assert all(r["status"] == "skipped" for r in document["revocation"])
    if ALERT[kind] == 44:
        assert document["verdict"]["cause"] == "certificate_revoked"  # the alert alone says it
    else:
        # nginx's 400 names no reason, and nothing was looked up: not a revocation verdict.
        assert document["verdict"]["cause"] != "certificate_revoked"


def test_unverified_answer_is_no_verdict_on_nginx(
    ca: Responder,
    started: Callable[[str], RunningServer],
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert ca.pki is not None
    ca.set_mode(ocsp=Mode.BAD_SIGNATURE, ca="intermediate")
    document = check(capsys, started("nginx"), ca.pki, "revoked-ocsp-only")
    assert document["verdict"]["cause"] != "certificate_revoked"
    assert document["revocation"][0]["status"] == "unknown"
    unknown = [f for f in document["findings"] if f["code"] == "revocation_unknown"]
    assert unknown and "bad signature" in unknown[0]["message"]
