"""``check`` end to end with hostile download URLs inside the client's certificates.

The server is the built-in lab; the certificates are made at test time with
their OCSP, CRL and caIssuers URLs on a hostile endpoint. ``check`` runs as a
subprocess with a small ``--timeout``; the subprocess timeout is only the
safety net. The outcome is asserted, never a duration.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from mtls_doctor.lab.pki import LabPKI
from mtls_doctor.lab.server import LabFleet, running_lab
from tests.cli import run_process
from tests.hostile.pki import client_cert, write_identity
from tests.servers.hostile import ESCAPE_REASON, hostile_http

SAFETY_NET = 90


@pytest.fixture(scope="module")
def fleet(live_lab: LabPKI) -> Iterator[LabFleet]:
    with running_lab(live_lab) as running:
        yield running


@pytest.mark.parametrize("behaviour", ["drip", "silent", "bad_status"])
def test_revocation_urls_that_hang_or_lie(
    behaviour: str, fleet: LabFleet, live_lab: LabPKI, tmp_path: Path
) -> None:
    with hostile_http(behaviour) as base:
        cert, key = client_cert(
            live_lab.intermediate,
            now=live_lab.now,
            expired=True,  # refused, so check looks revocation up
            ocsp=[f"{base}/ocsp/{i}" for i in range(10)],
            crl=[f"{base}/crl/{i}.crl" for i in range(10)],
        )
        pem = write_identity(tmp_path / "id.pem", cert, key, live_lab.intermediate.certificate)
        result = run_process(
            "check",
            "--json",
            fleet.servers["strict"].target,
            "--cert",
            str(pem),
            "--timeout",
            "1",
            timeout=SAFETY_NET,
        )
    assert result.code == 1, result.err
    document = json.loads(result.out)
    assert document["verdict"]["cause"] == "certificate_expired"
    leaf = document["revocation"][0]
    assert leaf["status"] == "unknown"
    if behaviour == "bad_status":
        assert "the responder answered garbage" in leaf["detail"]
    else:
        assert "before the 1 s timeout ran out" in leaf["detail"]


def test_a_folder_of_identities_with_silent_ca_issuers(
    fleet: LabFleet, live_lab: LabPKI, tmp_path: Path
) -> None:
    folder = tmp_path / "ids"
    folder.mkdir()
    with hostile_http("silent") as base:
        for number in range(6):
            cert, key = client_cert(
                live_lab.intermediate,
                now=live_lab.now,
                cn=f"user{number}@lab.test",
                ca_issuers=[f"{base}/ca/{number}.der"],
            )
            write_identity(folder / f"user{number}.pem", cert, key)  # no intermediate sent
        result = run_process(
            "check",
            "--json",
            fleet.servers["strict"].target,
            "--cert",
            str(folder),
            "--no-revocation",
            "--timeout",
            "1",
            timeout=SAFETY_NET,
        )
    assert result.code == 1, result.err
    document = json.loads(result.out)
    assert document["verdict"]["cause"] in {"missing_intermediate", "untrusted_issuer"}
    failures = " ".join(document.get("chain_fetch_failures", [])) + result.out
    assert "no complete answer before the 1 s timeout ran out" in failures


def test_responder_reason_phrase_is_shown_escaped(
    fleet: LabFleet, live_lab: LabPKI, tmp_path: Path
) -> None:
    with hostile_http("escapes") as base:
        cert, key = client_cert(
            live_lab.intermediate, now=live_lab.now, expired=True, ocsp=[f"{base}/ocsp"]
        )
        pem = write_identity(tmp_path / "id.pem", cert, key, live_lab.intermediate.certificate)
        target = fleet.servers["strict"].target
        text = run_process("check", target, "--cert", str(pem), timeout=SAFETY_NET)
        as_json = run_process("check", "--json", target, "--cert", str(pem), timeout=SAFETY_NET)
    assert text.code == 1, text.err
    assert "\x1b" not in text.out + text.err
    assert "\\x1b[2J" in text.out  # the revocation finding quotes the reason, escaped
    (leaf, *_rest) = json.loads(as_json.out)["revocation"]
    assert ESCAPE_REASON in leaf["detail"]
