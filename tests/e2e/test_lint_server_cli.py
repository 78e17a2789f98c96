"""``mtls-doctor lint-server`` as a user runs it: text, --json, --format sarif, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from mtls_doctor.lab.pki import LabPKI
from tests.cli import assert_one_clean_error_line, run_cli, run_process
from tests.conftest import LAB_NOW

AT = LAB_NOW.isoformat()
SCHEMA = Path(__file__).parent.parent / "data" / "sarif-2.1.0.json"


def nginx_site(lab: LabPKI, directory: Path, *, crl: Path | None = None) -> Path:
    """An nginx.conf with the server block in an included site file."""
    (directory / "sites").mkdir(parents=True, exist_ok=True)
    site = directory / "sites" / "mtls.conf"
    site.write_text(
        "server {\n"
        "    listen 443 ssl;\n"
        "    server_name mtls.example;\n"
        f"    ssl_certificate {lab.server_pem};\n"
        f"    ssl_certificate_key {lab.server_key_file};\n"
        "    ssl_verify_client on;\n"
        f"    ssl_client_certificate {lab.client_ca_bundle};\n"
        + (f"    ssl_crl {crl};\n" if crl else "")
        + "}\n"
    )
    main = directory / "nginx.conf"
    main.write_text("events {}\nhttp {\n    include sites/*.conf;\n}\n")
    return main


@pytest.fixture
def clean(lab: LabPKI, tmp_path: Path) -> Path:
    return nginx_site(lab, tmp_path)


@pytest.fixture
def stale(lab: LabPKI, tmp_path: Path) -> Path:
    """CRL checking with the intermediate's CRL only: the root's is missing."""
    return nginx_site(lab, tmp_path, crl=lab.crl_file)


def test_json_has_the_contract_fields(clean: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "lint-server", "--json", "--at", AT, str(clean))

    assert result.code == 0, result.out + result.err
    (server,) = result.json["servers"]
    assert server["file"].endswith("sites/mtls.conf") and server["line"] == 1
    assert server["listen"] == ["443"]
    assert server["client_auth"] == "required"
    assert server["ca_files"] == [str(Path(server["files"][0]["path"]))]
    assert server["advertised_ca_names"] == ["CN=Lab Root CA,O=mtls-doctor lab"]
    assert server["findings"] == []
    assert "verdict" not in server


def test_problems_exit_1_with_file_and_line(
    stale: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(capsys, "lint-server", "--json", "--at", AT, str(stale))

    assert result.code == 1
    (server,) = result.json["servers"]
    (finding,) = server["findings"]
    assert finding["code"] == "crl_missing_for_ca"
    assert finding["severity"] == "error"
    assert finding["file"].endswith("sites/mtls.conf") and finding["line"] == 8


def test_text_output_says_where(stale: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "lint-server", "--at", AT, str(stale))

    assert result.code == 1
    assert "sites/mtls.conf:8" in result.out
    assert "no CRL from CN=Lab Root CA" in result.out
    assert "required" in result.out


def test_user_cert_verdicts(lab: LabPKI, stale: Path, capsys: pytest.CaptureFixture[str]) -> None:
    revoked = run_cli(
        capsys,
        "lint-server",
        "--json",
        "--at",
        AT,
        "--user-cert",
        str(lab.identities["good-ecdsa"].pem),
        str(stale),
    )

    (server,) = revoked.json["servers"]
    assert server["verdict"]["cause"] == "rejected_unexplained"
    assert "no CRL from CN=Lab Root CA" in server["verdict"]["summary"]
    assert any("CRL" in fix for fix in server["verdict"]["fixes"])


@pytest.mark.parametrize(
    ("name", "cause"),
    [
        ("good-rsa", "accepted"),
        ("expired", "certificate_expired"),
        ("untrusted", "untrusted_issuer"),
        ("rotated", "issuer_rotated"),
        ("no-client-auth", "wrong_key_usage"),
        # The server judges the certificate: a key is not needed, a wrong one still blocks.
        ("no-key", "accepted"),
        ("mismatched-key", "private_key_mismatch"),
    ],
)
def test_user_cert_causes(
    lab: LabPKI, clean: Path, name: str, cause: str, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(
        capsys,
        "lint-server",
        "--json",
        "--at",
        AT,
        "--user-cert",
        str(lab.identities[name].pem),
        str(clean),
    )

    assert result.json["servers"][0]["verdict"]["cause"] == cause
    assert result.code == (0 if cause == "accepted" else 1)


def test_user_cert_pkcs12_with_password_never_leaks_it(
    lab: LabPKI, clean: Path, lab_password: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    identity = lab.identities["good-ecdsa"]
    assert identity.p12_protected is not None
    result = run_cli(
        capsys,
        "lint-server",
        "--json",
        "--at",
        AT,
        "--user-cert",
        str(identity.p12_protected),
        "--password-file",
        str(lab.password_file),
        str(clean),
    )

    assert result.json["servers"][0]["verdict"]["cause"] == "accepted"
    assert lab_password.decode() not in result.out + result.err


def test_issuing_ca_after_a_rotation(
    lab: LabPKI, clean: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rotated = lab.directory / "ca" / "rotated-root.pem"
    current = lab.directory / "ca" / "intermediate.pem"
    result = run_cli(
        capsys,
        "lint-server",
        "--json",
        "--at",
        AT,
        "--issuing-ca",
        str(current),
        "--issuing-ca",
        str(rotated),
        str(clean),
    )

    assert result.code == 1
    ok, bad = result.json["servers"][0]["issuing_ca"]
    assert (ok["ca"], ok["verdict"]["cause"]) == ("CN=Lab Issuing CA,O=mtls-doctor lab", "accepted")
    assert bad["verdict"]["cause"] == "issuer_rotated"
    codes = [f["code"] for f in result.json["servers"][0]["findings"]]
    assert codes == ["issuing_ca_rejected"]


def test_sarif_validates_and_points_at_the_lines(
    stale: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(stale.parent)
    result = run_cli(capsys, "lint-server", "--format", "sarif", "--at", AT, str(stale))

    assert result.code == 1
    log = json.loads(result.out)
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker()).validate(log)
    (run,) = log["runs"]
    (item,) = run["results"]
    location = item["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "sites/mtls.conf", "uriBaseId": "%SRCROOT%"}
    assert location["region"] == {"startLine": 8}
    assert item["ruleId"] == "crl_missing_for_ca" and item["level"] == "error"
    assert run["tool"]["driver"]["rules"][item["ruleIndex"]]["id"] == "crl_missing_for_ca"


def test_sarif_outside_the_working_directory_uses_file_uris(
    stale: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    result = run_cli(capsys, "lint-server", "--format", "sarif", "--at", AT, str(stale))

    (item,) = json.loads(result.out)["runs"][0]["results"]
    uri = item["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri.startswith("file:///") and uri.endswith("sites/mtls.conf")


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("http {\n    server {\n", "nginx.conf:2"),
        ("http {\n    include missing.conf;\n}\n", "nginx.conf:2"),
    ],
)
def test_unparseable_config_is_one_clean_line(
    tmp_path: Path, text: str, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "nginx.conf"
    config.write_text(text)

    result = run_cli(capsys, "lint-server", str(config))
    as_json = run_cli(capsys, "lint-server", "--json", str(config))

    assert_one_clean_error_line(result, 2)
    assert where in result.err
    assert as_json.code == 2
    assert as_json.json["error"]["code"] == "config_parse"


def test_missing_or_unknown_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("nothing to see\n")

    missing = run_cli(capsys, "lint-server", str(tmp_path / "nope.conf"))
    unknown = run_cli(capsys, "lint-server", str(notes))
    forced = run_cli(capsys, "lint-server", "--type", "haproxy", "--json", str(notes))

    assert_one_clean_error_line(missing, 2)
    assert "no such file" in missing.err
    assert_one_clean_error_line(unknown, 2)
    assert "--type" in unknown.err
    assert forced.code == 2  # 'nothing' outside of any section


def test_usage_errors(clean: Path, capsys: pytest.CaptureFixture[str]) -> None:
    both = run_cli(capsys, "lint-server", "--json", "--format", "sarif", str(clean))
    key_alone = run_cli(capsys, "lint-server", "--key", "k.pem", str(clean))

    assert_one_clean_error_line(both, 2)
    assert_one_clean_error_line(key_alone, 2)


def test_as_a_subprocess(stale: Path) -> None:
    result = run_process("lint-server", "--json", "--at", AT, str(stale))

    assert result.code == 1, result.err
    assert result.json["servers"][0]["findings"][0]["code"] == "crl_missing_for_ca"
    assert result.err == ""


def test_user_cert_issuer_in_no_file_is_looked_up_through_aia(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A leaf alone (no key, no intermediate): its caIssuers URL tells a missing
    intermediate from an unknown CA; --offline fetches nothing."""
    from mtls_doctor.lab.responder import start_responder

    with start_responder(tmp_path / "lab") as responder:
        pki = responder.pki
        assert pki is not None
        config = str(nginx_site(pki, tmp_path / "conf"))

        def verdict(name: str, *extra: str) -> str:
            leaf = str(pki.identities[name].crt)
            result = run_cli(capsys, "lint-server", "--json", "--user-cert", leaf, config, *extra)
            cause: str = result.json["servers"][0]["verdict"]["cause"]
            return cause

        assert verdict("missing-intermediate") == "missing_intermediate"
        assert any("/ca/intermediate.der" in r for r in responder.requests)
        assert verdict("untrusted") == "untrusted_issuer"
        assert verdict("good-rsa") == "accepted"
        before = len(responder.requests)
        assert verdict("missing-intermediate", "--offline") == "untrusted_issuer"
        assert len(responder.requests) == before
