"""``mtls-doctor exporter``: scraped over HTTP, parsed with prometheus_client's parser."""

from __future__ import annotations

import shutil
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from mtls_doctor.lab.pki import LabPKI
from mtls_doctor.lab.server import LabServer, LabServerConfig
from mtls_doctor.watch.exporter import Exporter, parse_listen
from mtls_doctor.watch.sources import ConfigSource, Sources
from tests.cli import assert_one_clean_error_line, run_cli
from tests.servers.real import RunningServer, ServerRunner, free_port, start_exporter

Samples = dict[str, list[tuple[dict[str, str], float]]]


def parse(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return out


def scrape(exporter: RunningServer, path: str = "/metrics") -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{exporter.port}{path}", timeout=5) as answer:
        assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return str(answer.read().decode())


def refreshed(exporter: RunningServer, timeout: float = 120) -> Samples:
    """Scrape until the first refresh is in the cache."""
    deadline = time.monotonic() + timeout
    while True:
        samples = parse(scrape(exporter))
        [(_, at)] = samples["mtls_exporter_last_refresh_timestamp_seconds"]
        if at > 0:
            return samples
        assert time.monotonic() < deadline, exporter.describe_logs()
        time.sleep(0.2)


@dataclass
class Fleet:
    lab: LabPKI
    certs: Path
    server: LabServer
    dead: str
    exporter: RunningServer


@pytest.fixture(scope="module")
def fleet(
    live_lab: LabPKI, module_servers: ServerRunner, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fleet]:
    certs = tmp_path_factory.mktemp("fleet-certs")
    for name in ("good-rsa", "expiring-soon", "expired"):
        shutil.copy(live_lab.identities[name].pem, certs / f"{name}.pem")
    (certs / "broken.pem").write_text("-----BEGIN CERTIFICATE-----\nnot base64\n")
    dead = f"127.0.0.1:{free_port()}"
    with LabServer(live_lab, LabServerConfig(name="strict")) as server:
        exporter = module_servers(
            start_exporter,
            "--cert",
            str(certs),
            "--server",
            server.target,
            "--server",
            dead,
            "--issuing-ca",
            str(live_lab.directory / "ca" / "intermediate.pem"),
            "--timeout",
            "10",
            "--interval",
            "3600",
        )
        yield Fleet(live_lab, certs, server, dead, exporter)


def test_certificate_metrics_equal_the_certificates_dates(fleet: Fleet) -> None:
    samples = refreshed(fleet.exporter)
    by_file = {
        labels["filename"]: (labels, value) for labels, value in samples["x509_cert_not_after"]
    }
    assert set(by_file) == {"good-rsa.pem", "expiring-soon.pem", "expired.pem"}
    for name in ("good-rsa", "expiring-soon", "expired"):
        cert = fleet.lab.identities[name].certificate
        labels, not_after = by_file[f"{name}.pem"]
        assert not_after == cert.not_valid_after_utc.timestamp()
        assert labels["filepath"] == str(fleet.certs / f"{name}.pem")
        assert labels["subject_CN"] == f"{name}@lab.test"
        assert labels["subject_OU"] == "clients"
        assert labels["issuer_CN"] == "Lab Issuing CA"
        assert labels["serial_number"] == format(cert.serial_number, "x")
        assert labels["usage"] == "client"
        assert labels["authority_key_id"] and labels["subject_key_id"]
    not_before = {lb["filename"]: v for lb, v in samples["x509_cert_not_before"]}
    expired = {lb["filename"]: v for lb, v in samples["x509_cert_expired"]}
    good = fleet.lab.identities["good-rsa"].certificate
    assert not_before["good-rsa.pem"] == good.not_valid_before_utc.timestamp()
    assert expired == {"good-rsa.pem": 0.0, "expiring-soon.pem": 0.0, "expired.pem": 1.0}
    assert samples["x509_read_errors"] == [({}, 1.0)]


def test_server_metrics_and_a_failing_target_is_a_metric(fleet: Fleet) -> None:
    samples = refreshed(fleet.exporter)
    live, dead = fleet.server.target, fleet.dead
    success = {lb["target"]: v for lb, v in samples["mtls_probe_success"]}
    assert success == {live: 1.0, dead: 0.0}
    durations = {lb["target"]: v for lb, v in samples["mtls_probe_duration_seconds"]}
    assert durations[live] > 0
    assert {lb["target"]: v for lb, v in samples["mtls_server_client_auth"]} == {live: 2.0}
    [(labels, value)] = samples["mtls_server_accepts_issuer"]
    assert labels["target"] == live
    assert labels["issuer"] == "CN=Lab Issuing CA,O=mtls-doctor lab"
    assert labels["evidence"] == "accepted_by_handshake"  # good-rsa settled it
    assert value == 1.0


def test_serves_only_metrics(fleet: Fleet) -> None:
    for path in ("/", "/debug", "/metrics/../etc"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            scrape(fleet.exporter, path)
        assert refused.value.code == 404
        refused.value.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stops_cleanly_on_a_signal(
    sig: signal.Signals, live_lab: LabPKI, servers: ServerRunner
) -> None:
    exporter = servers(start_exporter, "--cert", str(live_lab.identities["good-rsa"].pem))
    refreshed(exporter)
    exporter.process.send_signal(sig)
    assert exporter.process.wait(timeout=10) == 0
    assert "stopped" in exporter.console_text()
    assert "Traceback" not in exporter.console_text()


def test_a_failed_refresh_keeps_the_previous_data(lab: LabPKI, tmp_path: Path) -> None:
    config = tmp_path / "nginx.conf"
    config.write_text(
        "events {}\nhttp {\n  server {\n    listen 443 ssl;\n"
        f"    ssl_certificate {lab.server_pem};\n    ssl_certificate_key {lab.server_key_file};\n"
        f"    ssl_verify_client on;\n    ssl_client_certificate {lab.client_ca_bundle};\n"
        "  }\n}\n"
    )
    logged: list[str] = []
    exporter = Exporter(
        Sources(server_configs=(ConfigSource(path=str(config)),)), log=logged.append
    )
    exporter.refresh()
    before = parse(generate_latest(exporter.registry).decode())
    assert before["mtls_server_client_auth"][0][1] == 2.0
    config.unlink()
    exporter.refresh()
    after = parse(generate_latest(exporter.registry).decode())
    assert after["mtls_server_client_auth"] == before["mtls_server_client_auth"]
    assert after["mtls_exporter_refresh_errors_total"] == [({}, 1.0)]
    assert len(logged) == 1 and "keeping the previous data" in logged[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:9793", ("127.0.0.1", 9793)),
        ("9793", ("127.0.0.1", 9793)),
        ("[::1]:0", ("::1", 0)),
        ("0.0.0.0:80", ("0.0.0.0", 80)),
    ],
)
def test_listen_addresses(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen(text) == expected


@pytest.mark.parametrize("listen", ["127.0.0.1:http", "127.0.0.1:70000"])
def test_bad_listen_is_exit_2(listen: str, lab: LabPKI, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(
        capsys, "exporter", "--cert", str(lab.identities["good-rsa"].pem), "--listen", listen
    )
    assert_one_clean_error_line(result, 2)


def test_address_in_use_is_exit_2(lab: LabPKI, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(
            capsys,
            "exporter",
            "--cert",
            str(lab.identities["good-rsa"].pem),
            "--listen",
            f"127.0.0.1:{port}",
        )
    assert_one_clean_error_line(result, 2)
    assert "cannot listen" in result.err
