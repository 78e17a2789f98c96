"""probe against the built-in lab servers, TLS 1.2 and 1.3, and against hostile endpoints."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mtls_doctor.errors import ConnectError, ConnectTimeout, HandshakeError, NotTLSError
from mtls_doctor.lab.pki import LabPKI
from mtls_doctor.lab.server import (
    LAB_SERVERS,
    Advertise,
    LabFleet,
    LabServer,
    LabServerConfig,
    running_lab,
)
from mtls_doctor.probing import probe
from mtls_doctor.rules.probe import ClientAuth
from mtls_doctor.tls.target import parse_target
from mtls_doctor.tlsversion import SELECTABLE, TLSVersion
from tests.servers.hostile import closed_port, hostile_server

ROOT_NAME = "CN=Lab Root CA,O=mtls-doctor lab"


@pytest.fixture(scope="module")
def fleet(live_lab: LabPKI) -> Iterator[LabFleet]:
    with running_lab(live_lab) as running:
        yield running


EXPECTED = {
    "strict": (ClientAuth.REQUIRED, [ROOT_NAME]),
    "nginx-like": (ClientAuth.REQUIRED, [ROOT_NAME]),
    "optional": (ClientAuth.OPTIONAL, [ROOT_NAME]),
    "no-client-auth": (ClientAuth.NOT_REQUESTED, []),
    "authz": (ClientAuth.REQUIRED, [ROOT_NAME]),
    "stale-crl": (ClientAuth.REQUIRED, [ROOT_NAME]),
    "no-ca-names": (ClientAuth.REQUIRED, []),
}


@pytest.mark.parametrize("version", list(SELECTABLE))
@pytest.mark.parametrize("name", [c.name for c in LAB_SERVERS])
def test_client_auth_and_ca_names(fleet: LabFleet, name: str, version: TLSVersion) -> None:
    report = probe(parse_target(fleet.servers[name].target), timeout=5, tls_version=version)
    client_auth, names = EXPECTED[name]
    assert report.client_auth is client_auth, report.reason
    assert list(report.facts.acceptable_ca_names) == names
    assert report.facts.tls_version is version
    assert report.facts.certificate_requested is (client_auth is not ClientAuth.NOT_REQUESTED)
    assert report.handshakes == 1
    if report.facts.certificate_requested:
        assert "ecdsa_secp256r1_sha256" in report.facts.signature_algorithms
        if version == "1.2":
            assert "ecdsa_sign" in report.facts.certificate_types
    assert report.facts.server_chain[0].subject.startswith("CN=localhost")


def test_required_evidence_names_the_alert_or_the_page(fleet: LabFleet) -> None:
    tls12 = probe(parse_target(fleet.servers["strict"].target), tls_version=TLSVersion.TLS1_2)
    assert tls12.facts.alert_received is not None and tls12.facts.alert_received.code == 40
    tls13 = probe(parse_target(fleet.servers["strict"].target), tls_version=TLSVersion.TLS1_3)
    assert tls13.facts.alert_received is not None and tls13.facts.alert_received.code == 116
    page = probe(parse_target(fleet.servers["nginx-like"].target))
    assert page.facts.http is not None and page.facts.http.status == 400
    assert "No required SSL certificate was sent" in page.facts.http.first_line


def test_advertised_names_that_disagree_with_trust(live_lab: LabPKI) -> None:
    with LabServer(live_lab, LabServerConfig(advertise=Advertise.OTHER)) as server:
        report = probe(parse_target(server.target))
    assert report.facts.acceptable_ca_names == (
        "CN=Unrelated Root CA,OU=elsewhere,O=mtls-doctor lab",
    )


def test_absurd_ca_list_is_capped_and_counted(live_lab: LabPKI) -> None:
    config = LabServerConfig(advertise=Advertise.TRUSTED, extra_ca_names=600)
    with LabServer(live_lab, config) as server:
        report = probe(parse_target(server.target), tls_version=TLSVersion.TLS1_2)
    assert len(report.facts.acceptable_ca_names) == 256
    assert report.facts.ca_names_dropped == 601 - 256
    assert report.client_auth is ClientAuth.REQUIRED


def test_nothing_listening_is_unreachable() -> None:
    with pytest.raises(ConnectError, match="refused"):
        probe(parse_target(f"127.0.0.1:{closed_port()}"), timeout=3)


@pytest.mark.parametrize(
    ("behaviour", "words"),
    [("http", "plain HTTP"), ("garbage", "not TLS"), ("ssh", "SSH")],
)
def test_not_tls(behaviour: str, words: str) -> None:
    with hostile_server(behaviour) as port, pytest.raises(NotTLSError, match=words):
        probe(parse_target(f"127.0.0.1:{port}"), timeout=3)


def test_silent_server_times_out_within_the_timeout() -> None:
    with hostile_server("silent") as port, pytest.raises(ConnectTimeout, match=r"0\.5 s"):
        probe(parse_target(f"127.0.0.1:{port}"), timeout=0.5)


def test_close_mid_handshake() -> None:
    with hostile_server("close_after_hello") as port, pytest.raises(HandshakeError, match="closed"):
        probe(parse_target(f"127.0.0.1:{port}"), timeout=3)


def test_version_mismatch_alert_on_client_hello(live_lab: LabPKI) -> None:
    with LabServer(live_lab, LabServerConfig(tls_versions=(TLSVersion.TLS1_3,))) as server:
        with pytest.raises(HandshakeError, match="protocol_version"):
            probe(parse_target(server.target), tls_version=TLSVersion.TLS1_2, timeout=3)


def test_server_that_breaks_off_before_asking_is_not_called_not_requested(
    live_lab: LabPKI,
) -> None:
    # 4000 CA names are more than OpenSSL will put in one CertificateRequest: the
    # server aborts with internal_error after its ServerHello.
    with LabServer(live_lab, LabServerConfig(extra_ca_names=4000)) as server:
        for version in SELECTABLE:
            with pytest.raises(HandshakeError, match="before asking for a client certificate"):
                probe(parse_target(server.target), tls_version=version, timeout=5)
