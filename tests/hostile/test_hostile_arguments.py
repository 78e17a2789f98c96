"""Arguments that used to crash deep inside a connection: usage errors (exit 2), one line."""

from __future__ import annotations

import json

import pytest

from mtls_doctor.lab.pki import LabPKI
from tests.cli import assert_one_clean_error_line, run_cli
from tests.servers.hostile import closed_port

LONG_LABEL = "a" * 64


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--sni", "a..b"], "--sni 'a..b': not a valid host name"),
        (["--sni", LONG_LABEL], "not a valid host name"),
        (["--sni", "x." * 130 + "com"], "not a valid host name"),
        (["--connect-to", "a..b"], "--connect-to 'a..b'"),
        (["--tls", "1.1"], "--tls: '1.1' is not one of 1.2, 1.3"),
    ],
)
@pytest.mark.parametrize("command", ["probe", "check"])
def test_bad_names_are_usage_errors(
    command: str, args: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(capsys, command, f"127.0.0.1:{closed_port()}", *args)
    assert_one_clean_error_line(result, 2)
    assert says in result.err


@pytest.mark.parametrize("target", [f"{LONG_LABEL}.example:443", "a..b:443", "https://a..b/"])
def test_bad_host_in_target(target: str, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "probe", target)
    assert_one_clean_error_line(result, 2)
    assert "not a valid host name" in result.err


def test_port_zero(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "probe", "127.0.0.1:0")
    assert_one_clean_error_line(result, 2)
    assert "port 0" in result.err
    as_json = run_cli(capsys, "probe", "--json", "127.0.0.1:0")
    assert as_json.code == 2
    assert json.loads(as_json.out)["error"]["code"] == "usage"


def test_ip_addresses_and_idna_names_still_pass(capsys: pytest.CaptureFixture[str]) -> None:
    port = closed_port()
    for target, extra in [
        (f"127.0.0.1:{port}", ["--sni", "bücher.example"]),
        (f"[::1]:{port}", []),
        (f"localhost:{port}", ["--sni", "my_host.internal."]),
    ]:
        result = run_cli(capsys, "probe", target, *extra, "--timeout", "2")
        assert result.code == 3, result.err  # refused: the arguments were fine


@pytest.mark.parametrize("days", ["99999999999999", "-1", "1e3"])
def test_warn_days_out_of_range(days: str, lab: LabPKI, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(
        capsys,
        "check",
        f"127.0.0.1:{closed_port()}",
        "--cert",
        str(lab.identities["good-ecdsa"].pem),
        "--warn-days",
        days,
    )
    assert_one_clean_error_line(result, 2)
    assert "--warn-days" in result.err
