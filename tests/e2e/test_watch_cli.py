"""``mtls-doctor watch`` as a user runs it: inventory, drift on real servers, exit codes."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.x509 import SubjectKeyIdentifier

from mtls_doctor.lab.pki import LabPKI
from tests.cli import assert_one_clean_error_line, run_cli, run_process
from tests.conftest import LAB_NOW
from tests.servers.real import (
    RunningServer,
    ServerRunner,
    free_port,
    start_nginx,
    start_s_server,
    write_bundle,
)

AT = LAB_NOW.isoformat()


def by_name(document: dict[str, object], key: str = "identities") -> dict[str, dict[str, object]]:
    items = document[key]
    assert isinstance(items, list)
    return {Path(str(item["source"])).stem.split(".")[0]: item for item in items}


def test_inventory_over_lab_identities_with_known_days_left(
    lab: LabPKI, lab_password: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = lab.identities
    result = run_cli(
        capsys,
        "watch",
        "--json",
        "--at",
        AT,
        "--password-file",
        str(lab.password_file),
        "--cert",
        str(ids["good-rsa"].p12_protected),
        "--cert",
        str(ids["expiring-soon"].pem),
        "--cert",
        str(ids["expired"].pem),
        "--cert",
        str(ids["not-yet-valid"].pem),
        "--cert",
        str(ids["no-client-auth"].pem),
        "--warn-days",
        "30",
        "--crit-days",
        "5",
    )
    assert result.code == 1, result.err
    got = by_name(result.json)
    assert {name: item["days_left"] for name, item in got.items()} == {
        "good-rsa": 365,
        "expiring-soon": 10,
        "expired": -1,
        "not-yet-valid": 365,
        "no-client-auth": 365,
    }
    assert {name: item["state"] for name, item in got.items()} == {
        "good-rsa": "ok",
        "expiring-soon": "warning",
        "expired": "expired",
        "not-yet-valid": "not_yet_valid",
        "no-client-auth": "ok",
    }
    assert got["no-client-auth"]["usage"] == "server"
    assert got["good-rsa"]["usage"] == "client"
    rsa = got["good-rsa"]
    cert = ids["good-rsa"].certificate
    assert rsa["issuer"] == cert.issuer.rfc4514_string()
    assert rsa["not_after"] == cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert rsa["authority_key_id"] and rsa["subject_key_id"]
    assert rsa["has_private_key"] is True
    assert result.json["drift"] == []
    # the issuer of every identity is in the issuing-CA list, once
    assert [ca["subject"] for ca in result.json["issuing_cas"]] == [
        "CN=Lab Issuing CA,O=mtls-doctor lab"
    ]
    assert lab_password.decode() not in result.out + result.err


def test_healthy_inventory_exits_0_and_text_is_a_table(
    lab: LabPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    good = [str(lab.identities[n].pem) for n in ("good-rsa", "good-ecdsa")]
    result = run_cli(capsys, "watch", "--at", AT, "--cert", good[0], "--cert", good[1])
    assert result.code == 0, result.out + result.err
    assert "good-rsa@lab.test" in result.out and "365" in result.out
    assert "2 identities (2 ok" in result.out


def test_config_file_is_the_same_as_flags(
    lab: LabPKI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    identities = lab.directory / "identities"
    config = tmp_path / "watch.toml"
    config.write_text(
        "warn_days = 20\ncrit_days = 3\n"
        f'issuing_ca = ["{lab.directory / "ca" / "intermediate.pem"}"]\n'
        "[[cert]]\n"
        f'path = "{identities / "expiring-soon.protected.p12"}"\n'
        f'password_file = "{lab.password_file}"\n'
    )
    from_file = run_cli(capsys, "watch", "--json", "--at", AT, "--config", str(config))
    from_flags = run_cli(
        capsys,
        "watch",
        "--json",
        "--at",
        AT,
        "--warn-days",
        "20",
        "--crit-days",
        "3",
        "--issuing-ca",
        str(lab.directory / "ca" / "intermediate.pem"),
        "--password-file",
        str(lab.password_file),
        "--cert",
        str(identities / "expiring-soon.protected.p12"),
    )
    assert from_file.code == from_flags.code == 1, from_file.err + from_flags.err
    assert from_file.json == from_flags.json
    assert by_name(from_file.json)["expiring-soon"]["state"] == "warning"


def test_relative_paths_in_the_config_are_relative_to_it(
    lab: LabPKI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "a.pem").write_bytes(lab.identities["good-ecdsa"].pem.read_bytes())
    config = tmp_path / "watch.toml"
    config.write_text('cert = ["certs"]\n')
    result = run_cli(capsys, "watch", "--json", "--at", AT, "--config", str(config))
    assert result.code == 0, result.err
    assert [i["source"] for i in result.json["identities"]] == [str(tmp_path / "certs" / "a.pem")]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("cert = [", "not valid TOML"),
        ("certs = ['a']", "unknown key 'certs'"),
        ("[[server]]\nhost = 'x'", "unknown key 'host' in `server`"),
        ("warn_days = 'soon'", "`warn_days` must be a number"),
        ("warn_days = 3\ncrit_days = 9", "crit_days (9) is larger than warn_days (3)"),
    ],
)
def test_bad_configuration_is_one_line_and_exit_2(
    tmp_path: Path, content: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "watch.toml"
    config.write_text(content)
    result = run_cli(capsys, "watch", "--config", str(config))
    assert_one_clean_error_line(result, 2)
    assert expected in result.err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ((), "nothing to watch"),
        (("--config", "/nonexistent/watch.toml"), "no such file"),
        (("--server", "ftp://example.test"), "ftp"),
        (("--issuing-ca", "/nonexistent/ca.pem"), "no such file"),
        (("--cert", "/nonexistent/dir"), "no such file"),
        (("--cert", "/nonexistent/x.pem", "--warn-days", "-3"), "must be 0 or more"),
    ],
)
def test_bad_input_is_exit_2(
    argv: tuple[str, ...], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(capsys, "watch", *argv)
    assert result.code == 2, result.out + result.err
    assert "Traceback" not in result.err
    assert expected in result.err
    json_result = run_cli(capsys, "watch", "--json", *argv)
    assert json_result.code == 2
    assert expected in json_result.json["error"]["message"]


def test_only_unreachable_servers_is_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()  # nothing listens there
    result = run_cli(capsys, "watch", "--json", "--timeout", "2", "--server", f"127.0.0.1:{port}")
    assert result.code == 3, result.out + result.err
    assert result.json["error"]["code"]
    [server] = result.json["servers"]
    assert server["error"] and server["client_auth"] is None


def test_subprocess_closed_pipe_and_c_locale(lab: LabPKI) -> None:
    result = run_process("watch", "--at", AT, "--cert", str(lab.identities["good-rsa"].pem))
    assert result.code == 0, result.err
    assert result.err == ""


# --------------------------------------------------------------------------- rotation


@dataclass
class Rotation:
    """Old root and rotated root (same name, new key); one server of each kind updated, one not."""

    lab: LabPKI
    updated_conf: Path
    stale_conf: Path
    updated: RunningServer
    stale: RunningServer


@pytest.fixture(scope="module")
def rotation(
    live_lab: LabPKI, module_servers: ServerRunner, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Rotation]:
    lab = live_lab
    both = write_bundle(
        tmp_path_factory.mktemp("rotation") / "both.pem",
        lab.directory / "ca" / "root.pem",
        lab.directory / "ca" / "rotated-root.pem",
    )
    old = lab.directory / "ca" / "root.pem"
    common = {"cert": lab.server_pem, "key": lab.server_key_file}
    updated_nginx = module_servers(start_nginx, client_certificate=both, **common)
    stale_nginx = module_servers(start_nginx, client_certificate=old, **common)
    updated = module_servers(start_s_server, ca_file=both, **common)
    stale = module_servers(start_s_server, ca_file=old, **common)
    yield Rotation(
        lab=lab,
        updated_conf=updated_nginx.directory / "nginx.conf",
        stale_conf=stale_nginx.directory / "nginx.conf",
        updated=updated,
        stale=stale,
    )


@pytest.mark.realserver
def test_rotation_drift_names_the_stale_server_config_by_name_and_key_id(
    rotation: Rotation, capsys: pytest.CaptureFixture[str]
) -> None:
    lab = rotation.lab
    new_root = lab.rotated.certificate
    old_root = lab.root.certificate
    result = run_cli(
        capsys,
        "watch",
        "--json",
        "--server-config",
        str(rotation.updated_conf),
        "--server-config",
        str(rotation.stale_conf),
        "--issuing-ca",
        str(lab.directory / "ca" / "rotated-root.pem"),
        "--cert",
        str(lab.identities["rotated"].pem),
    )
    assert result.code == 1, result.out + result.err
    [drift] = [d for d in result.json["drift"] if d["severity"] != "info"]
    assert drift["code"] == "issuer_rotated"
    assert drift["cause"] == "issuer_rotated"
    assert drift["server"].startswith(str(rotation.stale_conf))
    new_ski = new_root.extensions.get_extension_for_class(SubjectKeyIdentifier).value.digest.hex()
    old_ski = old_root.extensions.get_extension_for_class(SubjectKeyIdentifier).value.digest.hex()
    assert drift["issuing_ca"] == {"subject": "CN=Lab Root CA,O=mtls-doctor lab", "key_id": new_ski}
    assert drift["trusted_key_id"] == old_ski
    assert drift["identities"] == [str(lab.identities["rotated"].pem)]
    accepts = {
        s["name"].split(" ")[0]: s["issuing_cas"][0]["acceptance"] for s in result.json["servers"]
    }
    assert accepts == {
        f"{rotation.updated_conf}:{_server_line(rotation.updated_conf)}": "accepted_by_key",
        f"{rotation.stale_conf}:{_server_line(rotation.stale_conf)}": "rotated",
    }


def _server_line(conf: Path) -> int:
    return next(n for n, line in enumerate(conf.read_text().splitlines(), 1) if "server {" in line)


@pytest.mark.realserver
def test_rotation_settled_by_one_real_handshake_when_only_names_are_known(
    rotation: Rotation, capsys: pytest.CaptureFixture[str]
) -> None:
    lab = rotation.lab
    result = run_cli(
        capsys,
        "watch",
        "--json",
        "--server",
        rotation.updated.target,
        "--server",
        rotation.stale.target,
        "--issuing-ca",
        str(lab.directory / "ca" / "rotated-root.pem"),
        "--cert",
        str(lab.identities["rotated"].pem),
    )
    assert result.code == 1, result.out + result.err
    updated, stale = result.json["servers"]
    # both advertise the same name: only the handshake tells them apart
    assert updated["acceptable_ca_names"] == stale["acceptable_ca_names"]
    assert updated["issuing_cas"][0]["acceptance"] == "accepted_by_handshake"
    assert stale["issuing_cas"][0]["acceptance"] == "rotated"
    assert [h["accepted"] for h in stale["handshakes"]] == [False]
    [drift] = result.json["drift"]
    assert drift["code"] == "issuer_rotated"
    assert drift["server"] == rotation.stale.target
    assert "unknown_ca" in drift["message"]


@pytest.mark.realserver
def test_new_issuing_ca_not_accepted_yet_without_any_identity(
    rotation: Rotation, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before the first certificate is issued: the stale bundle is named from the config alone."""
    lab = rotation.lab
    result = run_cli(
        capsys,
        "watch",
        "--server-config",
        str(rotation.stale_conf),
        "--issuing-ca",
        str(lab.directory / "ca" / "rotated-root.pem"),
    )
    assert result.code == 1, result.out + result.err
    assert "new issuing CA" in " ".join(result.out.split())


def test_the_readme_configuration_example_loads(tmp_path: Path) -> None:
    """The TOML shown in README.md is a valid watch configuration."""
    import re

    from mtls_doctor.watch.sources import load_config

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    [example] = re.findall(r"```toml\n(.*?)```", readme, re.DOTALL)
    config = tmp_path / "watch.toml"
    config.write_text(example)
    sources = load_config(str(config))
    assert sources.issuing_cas == (
        str(tmp_path / "ca" / "issuing-2026.pem"),
        str(tmp_path / "ca" / "issuing-2024.pem"),
    )
    assert sources.certs[0].password_env == "P12_PASSWORD"
    assert sources.servers[0].connect_to == "10.0.0.5"
    assert sources.server_configs[0].kind == "nginx"
    assert (sources.warn_days, sources.crit_days, sources.interval) == (30, 7, 300)


@pytest.mark.realserver
def test_any_target_form_of_check_is_a_server(
    rotation: Rotation, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(capsys, "watch", "--json", "--server", f"tls://{rotation.updated.target}")
    assert result.code == 0, result.out + result.err
    [server] = result.json["servers"]
    assert server["client_auth"] == "required"
    assert server["acceptable_ca_names"] == ["CN=Lab Root CA,O=mtls-doctor lab"]


@pytest.mark.skipif(
    shutil.which("certutil") is None or shutil.which("pk12util") is None,
    reason="needs libnss3-tools (certutil, pk12util)",
)
def test_nss_store_identities_are_in_the_inventory(
    lab: LabPKI, lab_password: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mtls_doctor.lab.browser import nss_database_with

    soon = lab.identities["expiring-soon"]
    assert soon.p12_protected is not None
    database = nss_database_with(tmp_path, soon.p12_protected, lab_password)
    result = run_cli(capsys, "watch", "--json", "--at", AT, "--store", f"nss:{database}")
    assert result.code == 1, result.err
    [item] = result.json["identities"]
    assert item["subject"] == soon.certificate.subject.rfc4514_string()
    assert (item["days_left"], item["state"]) == (10, "warning")
    assert lab_password.decode() not in result.out + result.err
