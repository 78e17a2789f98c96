"""Advice is rendered from the facts at hand: no "listed above" when nothing
is listed, the fixes split by who acts, a server-side reason labelled as
such, a directive quoted as it is written, no path into a deleted lab."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from mtls_doctor.lab.pki import LabPKI
from mtls_doctor.lab.server import LabFleet, running_lab
from tests.cli import run_cli, run_process
from tests.conftest import LAB_NOW


@pytest.fixture(scope="module")
def fleet(live_lab: LabPKI) -> Iterator[LabFleet]:
    with running_lab(live_lab) as running:
        yield running


def test_a_server_without_ca_names_is_not_said_to_list_them(
    fleet: LabFleet, live_lab: LabPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    target = fleet.servers["no-ca-names"].target
    for cert in (["--cert", str(live_lab.identities["untrusted"].pem)], []):
        text = run_cli(capsys, "check", target, *cert).out
        assert "above" not in text, text
        assert "lists no CA names" in text
        document = run_cli(capsys, "check", target, *cert, "--json").json
        assert not any("above" in fix for fix in document["verdict"]["fixes"])


def test_fixes_are_split_by_who_acts(
    fleet: LabFleet, live_lab: LabPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "check",
        fleet.servers["strict"].target,
        "--cert",
        str(live_lab.identities["untrusted"].pem),
    ]
    verdict = run_cli(capsys, *argv, "--json").json["verdict"]
    assert verdict["user_fixes"] and verdict["server_fixes"]
    assert (
        verdict["fixes"] == verdict["user_fixes"] + verdict["server_fixes"]
    )  # the contract's list
    # The CA names the server sent are quoted where the fix needs them.
    assert "CN=Lab Root CA,O=mtls-doctor lab" in verdict["user_fixes"][0]
    text = run_cli(capsys, *argv).out
    you, owner = text.index("\nYou\n"), text.index("\nThe server's owner\n")
    assert you < owner
    assert verdict["user_fixes"][0] in text[you:owner]
    assert verdict["server_fixes"][0][:60] in text[owner:]


def _configs(lab: LabPKI, folder: Path) -> tuple[Path, Path]:
    nginx = folder / "nginx.conf"
    nginx.write_text(
        "events {}\nhttp {\n  server {\n    listen 443 ssl;\n"
        f"    ssl_certificate {lab.server_pem};\n    ssl_certificate_key {lab.server_key_file};\n"
        f"    ssl_client_certificate {lab.client_ca_bundle};\n    ssl_verify_client on;\n"
        f"    ssl_verify_depth 2;\n    ssl_crl {lab.crl_file};\n  }}\n}}\n"
    )
    apache = folder / "apache.conf"
    apache.write_text(
        "Listen 8443\n<VirtualHost *:8443>\n  SSLEngine on\n"
        f"  SSLCertificateFile {lab.server_pem}\n  SSLCertificateKeyFile {lab.server_key_file}\n"
        f"  SSLCACertificateFile {lab.client_ca_bundle}\n"
        "  <Location /secure>\n    SSLVerifyClient require\n  </Location>\n</VirtualHost>\n"
    )
    return nginx, apache


def test_lint_server_labels_a_server_side_reason_as_such(
    lab: LabPKI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nginx, _ = _configs(lab, tmp_path)
    later = (LAB_NOW + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%S")  # the CRL has expired
    argv = ["lint-server", str(nginx), "--user-cert", str(lab.identities["good-rsa"].pem)]
    document = run_cli(capsys, *argv, "--at", later, "--json").json
    verdict = document["servers"][0]["verdict"]
    assert (
        verdict["cause"] == "rejected_unexplained"
    )  # the contract's code for a server-side policy
    assert "passes every local check" not in verdict["summary"]
    assert "server's own configuration" in verdict["summary"]
    assert "CRL" in verdict["summary"]
    assert any("fresh CRL" in fix for fix in verdict["server_fixes"])
    text = run_cli(capsys, *argv, "--at", later).out
    assert "passes every local check" not in text


def test_apache_directive_is_quoted_as_written(
    lab: LabPKI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, apache = _configs(lab, tmp_path)
    document = run_cli(capsys, "lint-server", str(apache), "--json").json
    messages = [f["message"] for s in document["servers"] for f in s["findings"]]
    scoped = [m for m in messages if "inside <Location /secure>" in m]
    assert scoped and all("SSLVerifyClient require " in m for m in scoped), scoped
    assert not any("SSLVerifyClient required" in m for m in messages)


def test_demo_points_at_no_file_of_its_deleted_lab() -> None:
    done = run_process("demo", "--no-browser", timeout=120)
    assert done.code == 0, done.err
    assert "mtls-doctor-demo-" not in done.out
    assert "above" not in done.out
    assert "--keep DIR" in done.out
