"""Every command's text output on any terminal: an ASCII-only console
(``LC_ALL=C``, ``PYTHONIOENCODING=ascii``), a cp1252 console, and a reader
that closed the pipe (``| head``): no crash, and the verdict's exit code."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mtls_doctor.lab.pki import LabPKI
from mtls_doctor.lab.server import LabFleet, running_lab


@pytest.fixture(scope="module")
def fleet(live_lab: LabPKI) -> Iterator[LabFleet]:
    with running_lab(live_lab) as running:
        yield running


@pytest.fixture(scope="module")
def commands(
    fleet: LabFleet, live_lab: LabPKI, tmp_path_factory: pytest.TempPathFactory
) -> list[tuple[list[str], int]]:
    """(argv, the exit code it must give) for every command's text output."""
    scratch = tmp_path_factory.mktemp("terminal")
    config = scratch / "nginx.conf"
    config.write_text(
        "events {}\nhttp {\n  server {\n    listen 443 ssl;\n"
        f"    ssl_certificate {live_lab.server_pem};\n"
        f"    ssl_certificate_key {live_lab.server_key_file};\n"
        f"    ssl_client_certificate {live_lab.client_ca_bundle};\n"
        "    ssl_verify_client on;\n  }\n}\n"
    )
    strict = fleet.servers["strict"].target
    ids = live_lab.identities
    return [
        (["check", strict, "--cert", str(ids["good-rsa"].pem)], 0),
        (["check", strict, "--cert", str(ids["expired"].pem)], 1),
        (["check", strict], 1),
        (["probe", strict], 0),
        (["inspect", str(ids["good-ecdsa"].pem)], 0),
        (
            [
                "inspect",
                str(live_lab.directory / "identities"),
                "--password-file",
                str(live_lab.password_file),
            ],
            1,
        ),
        (["explain", "SSL alert number 48 unknown ca"], 1),
        (["explain", "nothing I know of"], 1),
        (["lint-server", str(config), "--user-cert", str(ids["expired"].pem)], 1),
        (["watch", "--cert", str(ids["expired"].pem)], 1),
        (["identities", "--for", strict, "--cert", str(ids["good-ecdsa"].pem)], 0),
        (["lab", "pki", str(scratch / "lab")], 0),
        (["demo", "--no-browser"], 0),  # the browser's view: tests/browser
    ]


def _run(argv: list[str], env: dict[str, str], stdout: int) -> subprocess.CompletedProcess[bytes]:
    full_env = {k: v for k, v in os.environ.items() if k not in ("MTLS_DOCTOR_DEBUG", "COLUMNS")}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "mtls_doctor", *argv],
        stdout=stdout,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=full_env,
        timeout=120,
    )


@pytest.mark.parametrize(
    "env",
    [
        {"LC_ALL": "C", "PYTHONIOENCODING": "ascii"},
        {"LC_ALL": "C", "LANG": "C"},
        {"PYTHONIOENCODING": "cp1252"},
    ],
    ids=["ascii", "c-locale", "cp1252"],
)
def test_text_output_on_a_limited_console(
    commands: list[tuple[list[str], int]], env: dict[str, str]
) -> None:
    encoding = env.get("PYTHONIOENCODING", "ascii")
    every = env.get("PYTHONIOENCODING") == "ascii"  # the others: a sample, to save time
    for argv, expected in commands:
        if argv[0] == "lab" or (not every and argv[0] not in ("check", "inspect")):
            continue  # lab writes once; its output is checked by the closed-pipe test
        done = _run(argv, env, subprocess.PIPE)
        err = done.stderr.decode(errors="replace")
        assert done.returncode == expected, (argv, err)
        assert b"Traceback" not in done.stderr and "internal error" not in err, (argv, err)
        text = done.stdout.decode(encoding)  # it is valid in the console's encoding
        if encoding == "ascii":
            assert done.stdout.isascii(), argv
        assert text.strip(), argv
        if argv[0] == "check" and expected == 0:
            assert text.startswith("+ accepted"), text[:80]


def test_a_closed_pipe_keeps_the_verdicts_exit_code(
    commands: list[tuple[list[str], int]],
) -> None:
    for argv, expected in commands:
        read_end, write_end = os.pipe()
        os.close(read_end)  # the reader is gone before the first byte (`| head -0`)
        try:
            done = _run(argv, {}, write_end)
        finally:
            os.close(write_end)
        err = done.stderr.decode(errors="replace")
        assert done.returncode == expected, (argv, err)
        assert "Traceback" not in err and "rror" not in err, (argv, err)


def test_json_output_to_a_closed_pipe(fleet: LabFleet, live_lab: LabPKI, tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    argv = ["check", fleet.servers["strict"].target, "--json"]
    try:
        done = _run([*argv, "--cert", str(live_lab.identities["expired"].pem)], {}, write_end)
    finally:
        os.close(write_end)
    assert done.returncode == 1
    assert done.stderr == b""


@pytest.mark.parametrize(
    "env",
    [{"LC_ALL": "C", "PYTHONIOENCODING": "ascii"}, {"LC_ALL": "C"}, {"PYTHONIOENCODING": "cp1252"}],
    ids=["ascii", "c-locale", "cp1252"],
)
def test_json_with_non_ascii_text_stays_json_on_a_limited_console(
    env: dict[str, str], tmp_path: Path
) -> None:
    """A UTF-8 subject came out as ``B\\xfccher`` on an ASCII console: not JSON at all."""
    import datetime as dt
    import json

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    subject = "Zoë Łukasz Ñandú 日本"
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(now).not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    path = tmp_path / "utf8.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    done = _run(["inspect", str(path), "--json"], env, subprocess.PIPE)
    assert b"Traceback" not in done.stderr, done.stderr
    document = json.loads(done.stdout.decode(env.get("PYTHONIOENCODING", "ascii")))
    assert document["identities"][0]["subject"] == f"CN={subject}"
    # SARIF from lint-server, with the same certificate under a non-ASCII file name.
    (tmp_path / "Bücher.pem").write_bytes(path.read_bytes())
    config = tmp_path / "nginx.conf"
    config.write_text(
        "events {}\nhttp {\n  server {\n    listen 443 ssl;\n"
        f"    ssl_client_certificate {tmp_path / 'Bücher.pem'};\n"
        "    ssl_verify_client on;\n  }\n}\n",
        encoding="utf-8",
    )
    done = _run(["lint-server", str(config), "--format", "sarif"], env, subprocess.PIPE)
    assert b"Traceback" not in done.stderr, done.stderr
    sarif = json.loads(done.stdout.decode(env.get("PYTHONIOENCODING", "ascii")))
    assert subject in json.dumps(sarif, ensure_ascii=False)
