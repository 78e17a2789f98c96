"""probe on real servers, cross-checked with ``openssl s_client``.

For each server, the CA names ``probe`` reports equal the "Acceptable client
certificate CA names" that s_client prints for the same server, and the
client-auth mode is what the configuration says, in TLS 1.2 and 1.3.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

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

ROOT = "CN=Lab Root CA,O=mtls-doctor lab"
INTERMEDIATE = "CN=Lab Issuing CA,O=mtls-doctor lab"


Factory = Callable[[ServerRunner, LabPKI], RunningServer]


def _root_and_intermediate(lab: LabPKI) -> Path:
    return write_bundle(
        lab.directory / "ca" / "root-and-intermediate.pem",
        lab.client_ca_bundle,
        lab.directory / "ca" / "intermediate.pem",
    )


#: name → (start, client_auth, CA names probe must report)
CASES: dict[str, tuple[Factory, str, list[str]]] = {
    "s_server -Verify": (
        lambda run, lab: run(start_s_server, cert=lab.server_pem, key=lab.server_key_file,
                             ca_file=lab.client_ca_bundle, verify="require"),
        "required", [ROOT],
    ),
    "s_server -verify": (
        lambda run, lab: run(start_s_server, cert=lab.server_pem, key=lab.server_key_file,
                             ca_file=lab.client_ca_bundle, verify="request"),
        "optional", [ROOT],
    ),
    "s_server -no_ca_names": (
        lambda run, lab: run(start_s_server, cert=lab.server_pem, key=lab.server_key_file,
                             ca_file=lab.client_ca_bundle, verify="require", no_ca_names=True),
        "required", [],
    ),
    "s_server no client auth": (
        lambda run, lab: run(start_s_server, cert=lab.server_pem, key=lab.server_key_file,
                             verify=None),
        "not_requested", [],
    ),
    "nginx on": (
        lambda run, lab: run(start_nginx, cert=lab.server_pem, key=lab.server_key_file,
                             verify_client="on", client_certificate=_root_and_intermediate(lab),
                             verify_depth=2),
        "required", [ROOT, INTERMEDIATE],
    ),
    "nginx optional": (
        lambda run, lab: run(start_nginx, cert=lab.server_pem, key=lab.server_key_file,
                             verify_client="optional", client_certificate=lab.client_ca_bundle),
        "optional", [ROOT],
    ),
    "nginx optional_no_ca": (
        lambda run, lab: run(start_nginx, cert=lab.server_pem, key=lab.server_key_file,
                             verify_client="optional_no_ca",
                             client_certificate=lab.client_ca_bundle),
        "optional", [ROOT],
    ),
    "nginx ssl_trusted_certificate (trusted, not advertised)": (
        lambda run, lab: run(start_nginx, cert=lab.server_pem, key=lab.server_key_file,
                             verify_client="on", client_certificate=lab.client_ca_bundle,
                             trusted_certificate=lab.directory / "ca" / "intermediate.pem",
                             verify_depth=2),
        "required", [ROOT],
    ),
    "apache require": (
        lambda run, lab: run(start_apache, cert=lab.server_pem, key=lab.server_key_file,
                             verify_client="require", ca_file=lab.client_ca_bundle,
                             verify_depth=2),
        "required", [ROOT],
    ),
    "apache optional": (
        lambda run, lab: run(start_apache, cert=lab.server_pem, key=lab.server_key_file,
                             verify_client="optional", ca_file=lab.client_ca_bundle,
                             verify_depth=2),
        "optional", [ROOT],
    ),
    "apache SSLCADNRequestFile": (
        lambda run, lab: run(start_apache, cert=lab.server_pem, key=lab.server_key_file,
                             verify_client="require", ca_file=lab.client_ca_bundle,
                             ca_dn_file=lab.directory / "ca" / "unrelated-ca.pem",
                             verify_depth=2),
        "required", ["CN=Unrelated Root CA,OU=elsewhere,O=mtls-doctor lab"],
    ),
}  # fmt: skip


def s_client_ca_names(target: str, version: str) -> list[str]:
    """What ``openssl s_client`` lists as acceptable CA names, in RFC 4514 order."""
    openssl = require_binary("openssl")
    done = subprocess.run(
        [openssl, "s_client", "-connect", target, f"-tls{version.replace('.', '_')}"],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=30,
    )  # fmt: skip
    lines = done.stdout.splitlines()
    if "Acceptable client certificate CA names" not in done.stdout:
        return []
    start = lines.index("Acceptable client certificate CA names") + 1
    names = []
    for line in lines[start:]:
        if "=" not in line or line.startswith(("Requested", "Client Certificate", "Shared")):
            break
        parts = [p.strip().replace(" = ", "=") for p in line.split(", ")]
        names.append(",".join(reversed(parts)))
    return names


_STARTED: dict[str, RunningServer] = {}


@pytest.mark.parametrize("version", ["1.2", "1.3"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_probe_agrees_with_s_client(
    case: str,
    version: str,
    module_servers: ServerRunner,
    live_lab: LabPKI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    start, client_auth, names = CASES[case]
    if case not in _STARTED:
        _STARTED[case] = start(module_servers, live_lab)
    server = _STARTED[case]
    result = run_cli(capsys, "probe", "--json", server.target, "--tls", version)
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert document["client_auth"] == client_auth, document
    assert document["tls_version"] == f"TLSv{version}"
    assert document["acceptable_ca_names"] == names
    assert document["acceptable_ca_names"] == s_client_ca_names(server.target, version)
    assert document["handshakes"] == 1


def teardown_module() -> None:
    _STARTED.clear()
