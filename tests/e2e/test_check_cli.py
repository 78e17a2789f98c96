"""``mtls-doctor check`` and ``demo`` as a user runs them, on the built-in lab."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mtls_doctor.lab.pki import LabPKI
from mtls_doctor.lab.server import LabFleet, running_lab
from tests.cli import assert_one_clean_error_line, run_cli, run_process
from tests.servers.hostile import closed_port, hostile_server

CONTRACT_TOP = {"verdict", "probe", "identity", "handshake", "findings", "handshakes"}


@pytest.fixture(scope="module")
def fleet(live_lab: LabPKI) -> Iterator[LabFleet]:
    with running_lab(live_lab) as running:
        yield running


def _check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    result = run_cli(capsys, "check", "--json", *args)
    return result.code, json.loads(result.out)


def test_accepted_in_one_handshake(
    fleet: LabFleet, live_lab: LabPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = _check(
        capsys, fleet.servers["strict"].target, "--cert", str(live_lab.identities["good-rsa"].pem)
    )
    assert code == 0
    assert CONTRACT_TOP <= set(doc)
    assert doc["verdict"]["cause"] == "accepted"
    assert doc["handshakes"] == 1
    assert doc["handshake"]["tls_alert"] is None and doc["handshake"]["http_status"] == 200
    assert doc["identity"]["subject"].startswith("CN=good-rsa@lab.test")
    assert doc["probe"]["acceptable_ca_names"] == ["CN=Lab Root CA,O=mtls-doctor lab"]


def test_rejected_has_alert_evidence_and_fixes(
    fleet: LabFleet, live_lab: LabPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = _check(
        capsys, fleet.servers["strict"].target, "--cert", str(live_lab.identities["expired"].p12)
    )
    assert code == 1
    assert doc["verdict"]["cause"] == "certificate_expired"
    assert doc["verdict"]["fixes"]
    assert doc["handshake"]["tls_alert"] == {"code": 45, "name": "certificate_expired"}
    assert doc["probe"]["client_auth"] == "required"
    assert doc["handshakes"] == 2
    assert "certificate_expired" in {f["code"] for f in doc["findings"]}


_LOADED = (
    "import sys\n"
    "from mtls_doctor.cli import main\n"
    "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
    "names = ('http.client', 'urllib.request', 'h2', 'mtls_doctor.fetch', 'email.policy')\n"
    "print('LOADED', sorted(m for m in names if m in sys.modules), file=sys.stderr)\n"
)


def _loaded(*argv: str) -> str:
    """The heavy HTTP modules a fresh ``check`` process imported (one stderr line)."""
    done = subprocess.run(
        [sys.executable, "-c", _LOADED, "check", "--json", "--offline", *argv],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return next(line for line in done.stderr.splitlines() if line.startswith("LOADED"))


def test_http_code_loads_only_for_an_http_conversation(fleet: LabFleet, live_lab: LabPKI) -> None:
    """Refused in the handshake, offline: no HTTP spoken, no download, no PKCS#7 file."""
    target = fleet.servers["strict"].target
    refused = _loaded(target, "--cert", str(live_lab.identities["expired"].pem))
    assert refused == "LOADED []"
    accepted = _loaded(target, "--cert", str(live_lab.identities["good-rsa"].pem))
    assert accepted == "LOADED ['http.client']"


def test_text_output_names_cause_evidence_and_fix(
    fleet: LabFleet, live_lab: LabPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(
        capsys, "check", fleet.servers["nginx-like"].target,
        "--cert", str(live_lab.identities["no-client-auth"].pem),
    )  # fmt: skip
    assert result.code == 1
    assert "wrong_key_usage" in result.out
    assert "The SSL certificate error" in result.out  # what the server said
    assert "\nYou\n" in result.out and "clientAuth" in result.out  # the fix, for who acts


def test_several_identities_picks_the_one_that_fits(
    fleet: LabFleet, live_lab: LabPKI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("untrusted", "good-ecdsa", "expired"):
        shutil.copy(live_lab.identities[name].pem, tmp_path / f"{name}.pem")
    code, doc = _check(capsys, fleet.servers["strict"].target, "--cert", str(tmp_path))
    assert code == 0
    assert doc["identity"]["subject"].startswith("CN=good-ecdsa@lab.test")
    assert doc["handshakes"] == 1


def test_select_the_wrong_one(
    fleet: LabFleet, live_lab: LabPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = _check(
        capsys, fleet.servers["strict"].target,
        "--cert", str(live_lab.identities["untrusted"].pem),
        "--cert", str(live_lab.identities["good-rsa"].p12),
        "--select", "untrusted@lab.test",
    )  # fmt: skip
    assert code == 1
    assert doc["verdict"]["cause"] == "wrong_certificate_selected"
    assert "good-rsa" in doc["verdict"]["summary"]
    assert doc["handshakes"] == 2
    assert [a["accepted"] for a in doc["alternatives"]] == [True]


def test_select_matches_nothing(
    fleet: LabFleet, live_lab: LabPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(
        capsys, "check", fleet.servers["strict"].target,
        "--cert", str(live_lab.identities["good-rsa"].pem), "--select", "nobody",
    )  # fmt: skip
    assert_one_clean_error_line(result, 2)


def test_no_certificate_and_optional(fleet: LabFleet, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = _check(capsys, fleet.servers["nginx-like"].target)
    assert (code, doc["verdict"]["cause"]) == (1, "no_certificate_sent")
    assert doc["identity"] is None and doc["handshakes"] == 1
    code, doc = _check(capsys, fleet.servers["optional"].target)
    assert (code, doc["verdict"]["cause"]) == (0, "accepted")


def test_key_problems_are_found_before_presenting(
    fleet: LabFleet, live_lab: LabPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = _check(
        capsys, fleet.servers["strict"].target, "--cert", str(live_lab.identities["no-key"].p12)
    )
    assert (code, doc["verdict"]["cause"]) == (1, "private_key_missing")
    assert doc["handshake"] is None and doc["handshakes"] == 1
    code, doc = _check(
        capsys, fleet.servers["no-client-auth"].target,
        "--cert", str(live_lab.identities["mismatched-key"].pem),
    )  # fmt: skip
    assert doc["verdict"]["cause"] == "client_auth_not_requested"


def test_network_verdicts_exit_3(capsys: pytest.CaptureFixture[str], live_lab: LabPKI) -> None:
    result = run_cli(capsys, "check", "--json", f"127.0.0.1:{closed_port()}")
    assert result.code == 3
    assert result.json["verdict"]["cause"] == "unreachable"
    with hostile_server("http") as port:
        result = run_cli(capsys, "check", "--json", f"127.0.0.1:{port}", "--timeout", "3")
    assert result.code == 3 and result.json["verdict"]["cause"] == "not_tls"
    with hostile_server("silent") as port:
        result = run_cli(
            capsys, "check", f"127.0.0.1:{port}", "--timeout", "0.3",
            "--cert", str(live_lab.identities["good-rsa"].pem),
        )  # fmt: skip
    assert_one_clean_error_line(result, 3)
    # The user's --timeout, not what was left of it after loading the identity (0.29871 s).
    assert "within 0.3 s" in result.err, result.err


def test_bad_identity_file_is_exit_2(
    fleet: LabFleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "client.p12"
    junk.write_bytes(b"\x30\x82\x01\x00garbage")
    result = run_cli(capsys, "check", fleet.servers["strict"].target, "--cert", str(junk))
    assert_one_clean_error_line(result, 2)


def test_secrets_do_not_leak(
    fleet: LabFleet, live_lab: LabPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    password = live_lab.password_file.read_text().strip()
    key_line = live_lab.identities["good-rsa"].key.read_text().splitlines()[1]  # type: ignore[union-attr]
    for name in ("good-rsa", "expired"):
        ident = live_lab.identities[name]
        for args in (["--json"], []):
            result = run_cli(
                capsys, "check", *args, fleet.servers["strict"].target,
                "--cert", str(ident.p12_protected), "--password-file", str(live_lab.password_file),
            )  # fmt: skip
            assert password not in result.out + result.err
            assert key_line not in result.out + result.err
            assert "PRIVATE KEY" not in result.out + result.err


def test_demo_passes_in_a_subprocess() -> None:
    result = run_process("demo", "--json", "--no-browser", timeout=120)
    assert result.code == 0, result.out + result.err
    document = json.loads(result.out)
    assert document["passed"] is True
    causes = {s["expected"] for s in document["scenarios"]}
    network = {"unreachable", "timeout", "not_tls"}
    from mtls_doctor.causes import Cause

    assert causes == {c.value for c in Cause} - network
    assert all(s["handshakes"] <= 2 for s in document["scenarios"])


def test_missing_intermediate_found_through_aia(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mtls_doctor.lab.responder import start_responder

    with start_responder(tmp_path / "lab") as responder:
        pki = responder.pki
        assert pki is not None
        with running_lab(pki) as fleet:
            target = fleet.servers["strict"].target
            leaf_only = str(pki.identities["missing-intermediate"].pem)
            code, doc = _check(capsys, target, "--cert", leaf_only)
            assert (code, doc["verdict"]["cause"]) == (1, "missing_intermediate")
            first = doc["chain"][0]
            assert (first["subject"], first["source"], first["sent"]) == (
                "CN=Lab Issuing CA,O=mtls-doctor lab",
                "aia",
                False,
            )
            assert any("/ca/intermediate.der" in r for r in responder.requests)
            # Offline, nothing is fetched: the issuer cannot be found, and it says so.
            before = len(responder.requests)
            code, doc = _check(capsys, target, "--cert", leaf_only, "--offline")
            assert (code, doc["verdict"]["cause"]) == (1, "untrusted_issuer")
            assert "not available here" in doc["verdict"]["summary"]
            assert len(responder.requests) == before
            # Accepted: no missing link to look for, so no download (the root stays unknown).
            good = str(pki.identities["good-ecdsa"].pem)
            code, doc = _check(capsys, target, "--cert", good, "--no-revocation")
            assert (code, doc["verdict"]["cause"]) == (0, "accepted")
            assert [link["source"] for link in doc["chain"]] == ["bundle"]
            assert len(responder.requests) == before


def test_a_bad_crl_file_is_bad_input_even_when_accepted(
    fleet: LabFleet, live_lab: LabPKI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_a_crl = tmp_path / "list.crl"
    not_a_crl.write_text("hello\n")
    for crl in (str(tmp_path / "missing.crl"), str(not_a_crl)):
        result = run_cli(
            capsys,
            "check",
            fleet.servers["strict"].target,
            "--cert",
            str(live_lab.identities["good-rsa"].pem),
            "--crl",
            crl,
        )
        assert_one_clean_error_line(result, 2)
        assert crl in result.err
