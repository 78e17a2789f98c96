"""``mtls-doctor probe`` as a user runs it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mtls_doctor.lab.pki import LabPKI
from mtls_doctor.lab.server import LabFleet, running_lab
from tests.cli import assert_one_clean_error_line, run_cli, run_process
from tests.servers.hostile import closed_port, hostile_server


@pytest.fixture(scope="module")
def fleet(live_lab: LabPKI) -> Iterator[LabFleet]:
    with running_lab(live_lab) as running:
        yield running


def test_json_has_the_contract_fields(fleet: LabFleet, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "probe", "--json", f"https://{fleet.servers['strict'].target}/x")
    assert result.code == 0, result.err
    document = result.json
    assert document["client_auth"] == "required"
    assert document["acceptable_ca_names"] == ["CN=Lab Root CA,O=mtls-doctor lab"]
    assert document["tls_version"] == "TLSv1.3"
    assert document["handshakes"] == 1
    assert document["tls_alert"] == {"code": 116, "name": "certificate_required"}


def test_text_says_the_answer_and_lists_names(
    fleet: LabFleet, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(capsys, "probe", fleet.servers["no-ca-names"].target, "--tls", "1.2")
    assert result.code == 0
    assert "required" in result.out
    assert "not none" in result.out  # an empty list means any CA, said plainly
    optional = run_cli(capsys, "probe", fleet.servers["optional"].target)
    assert "optional" in optional.out and "Lab Root CA" in optional.out


def test_sni_and_connect_to(fleet: LabFleet, capsys: pytest.CaptureFixture[str]) -> None:
    port = fleet.servers["strict"].port
    result = run_cli(
        capsys, "probe", "--json", f"intranet.example:{port}", "--connect-to", "127.0.0.1",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert result.json["sni"] == "intranet.example"
    assert result.json["client_auth"] == "required"


@pytest.mark.parametrize("behaviour", ["http", "garbage", "close_after_hello"])
def test_hostile_endpoints_exit_3_with_one_line(
    behaviour: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with hostile_server(behaviour) as port:
        result = run_cli(capsys, "probe", f"127.0.0.1:{port}", "--timeout", "3")
        assert_one_clean_error_line(result, 3)
        as_json = run_cli(capsys, "probe", "--json", f"127.0.0.1:{port}", "--timeout", "3")
    assert as_json.code == 3
    assert as_json.json["error"]["code"] in ("not_tls", "handshake_failed")


def test_unreachable_and_timeout_codes(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "probe", "--json", f"127.0.0.1:{closed_port()}")
    assert result.code == 3 and result.json["error"]["code"] == "unreachable"
    with hostile_server("silent") as port:
        result = run_cli(capsys, "probe", "--json", f"127.0.0.1:{port}", "--timeout", "0.3")
    assert result.code == 3 and result.json["error"]["code"] == "timeout"


@pytest.mark.parametrize("bad", ["ftp://host", "https://", "host:notaport", ""])
def test_bad_targets_are_usage_errors(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert_one_clean_error_line(run_cli(capsys, "probe", bad), 2)


def test_probe_in_a_subprocess(fleet: LabFleet) -> None:
    result = run_process("probe", "--json", fleet.servers["optional"].target)
    assert result.code == 0, result.err
    assert '"client_auth": "optional"' in result.out
