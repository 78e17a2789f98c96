"""``identities --for`` and ``check --store`` / ``inspect --store`` as a user runs them.

Against the built-in lab servers on 127.0.0.1, with real NSS databases made
by pk12util and identities in files.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from mtls_doctor.lab.browser import nss_database_with
from mtls_doctor.lab.pki import LabPKI
from mtls_doctor.lab.server import (
    Advertise,
    LabFleet,
    LabServerConfig,
    running_lab,
)
from mtls_doctor.rules.probe import ClientAuth
from tests.cli import run_cli, run_process

pytestmark = pytest.mark.skipif(
    shutil.which("certutil") is None, reason="needs libnss3-tools (certutil, pk12util)"
)

ROOT = "CN=Lab Root CA,O=mtls-doctor lab"


@pytest.fixture(scope="module")
def fleet(live_lab: LabPKI) -> Iterator[LabFleet]:
    configs = (
        LabServerConfig(name="strict"),
        LabServerConfig(name="no-client-auth", client_auth=ClientAuth.NOT_REQUESTED),
        LabServerConfig(name="no-ca-names", advertise=Advertise.NONE),
    )
    with running_lab(live_lab, configs) as running:
        yield running


@pytest.fixture(scope="module")
def store(live_lab: LabPKI, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One database with a good, an expired and a missing-intermediate identity."""
    home = tmp_path_factory.mktemp("nss-home")
    for name in ("good-ecdsa", "expired", "missing-intermediate"):
        p12 = live_lab.identities[name].p12
        assert p12 is not None
        database = nss_database_with(home, p12, None)
    return database


@pytest.fixture(scope="module")
def expired_only(live_lab: LabPKI, tmp_path_factory: pytest.TempPathFactory) -> Path:
    p12 = live_lab.identities["expired"].p12
    assert p12 is not None
    return nss_database_with(tmp_path_factory.mktemp("expired-home"), p12, None)


def test_offered_and_not_offered_with_reasons(
    capsys: pytest.CaptureFixture[str], fleet: LabFleet, store: Path
) -> None:
    target = fleet.servers["strict"].target
    run = run_cli(capsys, "identities", "--for", target, "--store", f"nss:{store}", "--json")
    assert run.code == 0, run.err
    doc = run.json
    assert doc["client_auth"] == "required"
    assert doc["acceptable_ca_names"] == [ROOT]
    # The intermediate came in with good-ecdsa's bundle, so missing-intermediate now
    # reaches the root through the store: the browser offers it too.
    offered = [o["source"].rpartition("#")[2] for o in doc["offered"]]
    assert sorted(offered) == ["good-ecdsa", "missing-intermediate"]
    (left_out,) = doc["not_offered"]
    assert left_out["source"] == f"nss:{store}#expired"
    assert left_out["reasons"] == ["expired"]
    assert doc["selected"] == doc["offered"][0]["source"]
    assert doc["prompt_appears"] is True
    (rule,) = doc["policy"]["AutoSelectCertificateForUrls"]
    assert json.loads(rule)["filter"]["SUBJECT"] == {"CN": f"{offered[0]}@lab.test"}
    assert json.loads(rule)["pattern"] == f"https://{target}"
    assert doc["handshakes"] == 1
    # Identity objects carry the contract's fields.
    offered = doc["offered"][0]
    for field in ("subject", "issuer", "serial", "not_after", "days_left", "has_private_key"):
        assert field in offered


def test_nothing_offered_is_the_missing_prompt(
    capsys: pytest.CaptureFixture[str], fleet: LabFleet, expired_only: Path
) -> None:
    target = fleet.servers["strict"].target
    run = run_cli(capsys, "identities", "--for", target, "--store", f"nss:{expired_only}")
    assert run.code == 1
    assert "Offered: none" in run.out
    assert "No certificate-selection prompt appears" in run.out
    assert "renewed" in run.out
    assert "AutoSelectCertificateForUrls" not in run.out  # nothing to pick


def test_files_too_and_a_server_that_lists_no_names(
    capsys: pytest.CaptureFixture[str], fleet: LabFleet, live_lab: LabPKI
) -> None:
    target = fleet.servers["no-ca-names"].target
    missing = live_lab.identities["missing-intermediate"].pem
    untrusted = live_lab.identities["untrusted"].pem
    run = run_cli(
        capsys, "identities", "--for", target, "--cert", str(missing), "--cert",
        str(untrusted), "--json",
    )  # fmt: skip
    assert run.code == 0, run.err
    assert run.json["acceptable_ca_names"] == []
    assert len(run.json["offered"]) == 2  # no names listed: no issuer filter


def test_server_that_does_not_ask(
    capsys: pytest.CaptureFixture[str], fleet: LabFleet, store: Path
) -> None:
    target = fleet.servers["no-client-auth"].target
    run = run_cli(capsys, "identities", "--for", target, "--store", f"nss:{store}")
    assert run.code == 0
    assert "does not ask for a client certificate" in run.out
    assert "AutoSelectCertificateForUrls" not in run.out


def test_check_store_sends_what_chromium_would(
    capsys: pytest.CaptureFixture[str], fleet: LabFleet, store: Path
) -> None:
    target = fleet.servers["strict"].target
    run = run_cli(capsys, "check", target, "--store", f"nss:{store}", "--offline", "--json")
    assert run.code == 0, run.out
    assert run.json["verdict"]["cause"] == "accepted"
    assert run.json["identity"]["source"].rpartition("#")[2] in {
        "good-ecdsa",
        "missing-intermediate",
    }
    assert run.json["handshakes"] == 2
    assert any(f["code"] == "browser_sends" for f in run.json["findings"])


def test_check_store_expired_says_the_browser_would_send_nothing(
    capsys: pytest.CaptureFixture[str], fleet: LabFleet, expired_only: Path
) -> None:
    target = fleet.servers["strict"].target
    run = run_cli(capsys, "check", target, "--store", f"nss:{expired_only}", "--offline")
    assert run.code == 1
    assert "certificate_expired" in run.out
    assert "would not even offer" in run.out
    assert "Chromium would offer no identity" in run.out


def test_password_protected_store_in_a_subprocess(
    fleet: LabFleet, live_lab: LabPKI, tmp_path: Path
) -> None:
    """The database password comes from --password-file and appears nowhere."""
    from tests.adapters.test_nss_store import DB_PASSWORD, protected_database

    p12 = live_lab.identities["good-rsa"].p12
    assert p12 is not None
    database = protected_database(tmp_path / "db", p12)
    secret = tmp_path / "secret"
    secret.write_bytes(DB_PASSWORD + b"\n")
    target = fleet.servers["strict"].target
    run = run_process(
        "check", target, "--store", f"nss:{database}", "--password-file", str(secret),
        "--offline", "--json",
    )  # fmt: skip
    assert run.code == 0, run.err
    assert run.json["verdict"]["cause"] == "accepted"
    assert DB_PASSWORD.decode() not in run.out + run.err
    wrong = tmp_path / "wrong"
    wrong.write_text("nope\n")
    run = run_process(
        "check", target, "--store", f"nss:{database}", "--password-file", str(wrong), "--json"
    )
    assert run.code == 2
    assert run.json["error"]["code"] == "wrong_password"
    assert "Traceback" not in run.err
    missing = run_process("check", target, "--store", f"nss:{database}", "--json")
    assert missing.code == 2
    assert missing.json["error"]["code"] == "password_needed"


def test_inspect_store(capsys: pytest.CaptureFixture[str], store: Path) -> None:
    run = run_cli(capsys, "inspect", "--store", f"nss:{store}", "--json")
    sources = sorted(i["source"] for i in run.json["identities"])
    assert sources == sorted(
        f"nss:{store}#{n}" for n in ("good-ecdsa", "expired", "missing-intermediate")
    )
    assert run.code == 1  # the expired one is a problem


def test_bad_store_is_one_line_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    run = run_cli(
        capsys, "identities", "--for", "127.0.0.1:1", "--store", f"nss:{tmp_path}", "--json"
    )
    assert run.code == 2
    assert "no NSS database here" in run.json["error"]["message"]
    assert run.err.count("\n") == 1


def test_check_store_with_an_empty_database(
    capsys: pytest.CaptureFixture[str], fleet: LabFleet, tmp_path: Path
) -> None:
    """A browser with an empty store sends nothing: no_certificate_sent, not an input error."""
    database = tmp_path / "empty"
    database.mkdir()
    subprocess.run(
        ["certutil", "-N", "-d", f"sql:{database}", "--empty-password"],
        check=True,
        capture_output=True,
    )
    target = fleet.servers["strict"].target
    run = run_cli(capsys, "check", target, "--store", f"nss:{database}", "--json")
    assert run.code == 1, run.err
    assert run.json["verdict"]["cause"] == "no_certificate_sent"
    assert any(f["code"] == "store_empty" for f in run.json["findings"])
    run = run_cli(capsys, "identities", "--for", target, "--store", f"nss:{database}")
    assert run.code == 1
    assert "No client identity was found" in run.out


@pytest.mark.parametrize(
    ("target", "check_form"),
    [("rediss://127.0.0.1:1", "rediss://"), ("127.0.0.1:1 --protocol postgres", "postgres://")],
)
def test_a_target_no_browser_speaks_is_refused_with_the_check_that_applies(
    capsys: pytest.CaptureFixture[str], lab: LabPKI, target: str, check_form: str
) -> None:
    """A browser's picker for a Redis or PostgreSQL server is no question: check is."""
    from tests.cli import assert_one_clean_error_line

    cert = str(lab.identities["good-ecdsa"].pem)
    result = run_cli(capsys, "identities", "--for", *target.split(), "--cert", cert)
    assert_one_clean_error_line(result, 2)
    assert "browsers speak HTTPS" in result.err
    assert f"mtls-doctor check {check_form}127.0.0.1:1 --cert FILE" in result.err
