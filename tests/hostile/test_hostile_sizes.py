"""Inputs sized to make quadratic code crawl: each must be handled in linear work.

No durations are asserted (bench/hostile_sizes.py measures them): the tests
count the expensive operations, or run the CLI with a subprocess timeout as
the safety net and assert the outcome.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import mtls_doctor.bundle as bundle
import mtls_doctor.serverconf.nginx as nginx
from mtls_doctor.pem import scan_pem
from tests.cli import assert_one_clean_error_line, run_process
from tests.hostile.tls import self_signed

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _self_signed(cn: str) -> bytes:
    cert, _key = self_signed(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
    return cert.public_bytes(serialization.Encoding.PEM)


def count_calls(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> list[int]:
    """Wrap ``module.name`` to count its calls; the count is the list's one item."""
    calls = [0]
    real = getattr(module, name)

    def counting(*args: object) -> object:
        calls[0] += 1
        return real(*args)

    monkeypatch.setattr(module, name, counting)
    return calls


def test_a_megabyte_of_begin_lines_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "begins.pem"
    path.write_bytes(b"-----BEGIN CERTIFICATE-----\n" * (1024 * 1024 // 28))
    result = run_process("inspect", str(path), timeout=60)
    assert_one_clean_error_line(result, 2)
    assert "truncated PEM" in result.err


def test_pem_scan_rules() -> None:
    one = _self_signed("a")
    assert [b.label for b in scan_pem(one + b"junk\n" + one).blocks] == [b"CERTIFICATE"] * 2
    assert scan_pem(one + b"-----BEGIN CERTIFICATE-----\nAAAA\n").unterminated == 1
    assert scan_pem(b"-----BEGIN CERTIFICATE-----\n" + one).unterminated == 1
    broken = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END PRIVATE KEY-----\n"
    assert scan_pem(broken + one).unterminated == 1
    assert len(scan_pem(broken + one).blocks) == 1
    assert scan_pem(b"-----BEGIN lowercase-----\n").blocks == ()
    assert scan_pem(one).blocks[0].text == one.rstrip(b"\n")


def test_same_name_certificates_cost_a_bounded_number_of_signature_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = 120
    path = tmp_path / "same.pem"
    path.write_bytes(b"".join(_self_signed("Same Name") for _ in range(count)))
    calls = count_calls(monkeypatch, bundle, "is_issued_by")
    result = bundle.load_identities([path])
    assert len(result.identities) == count  # none signed another: all leaves
    # Comparing each with each was count**2 (14,400) checks.
    assert calls[0] <= count * (bundle.MAX_SIGNATURE_CHECKS + 2)


def test_many_leaves_of_one_ca_look_each_issuer_up_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "CA")])

    def issue(cn: str, key: ec.EllipticCurvePrivateKey, ca: bool) -> x509.Certificate:
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - timedelta(days=1))
            .not_valid_after(NOW + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256())
        )

    ca = issue("CA", ca_key, True)
    leaves = [issue(f"user{i}", ec.generate_private_key(ec.SECP256R1()), False) for i in range(150)]
    path = tmp_path / "many.pem"
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in [ca, *leaves]))
    calls = count_calls(monkeypatch, bundle, "is_issued_by")
    result = bundle.load_identities([path])
    assert len(result.identities) == 150
    assert all(item.facts.path_length == 1 for item in result.identities)
    assert calls[0] <= 4 * 151  # linear: a few checks per certificate, not one per pair


def test_nginx_http_block_is_indexed_once_not_per_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    servers = "".join(
        f"  server {{\n    listen {1000 + n} ssl;\n    ssl_verify_client on;\n  }}\n"
        for n in range(300)
    )
    conf = tmp_path / "nginx.conf"
    conf.write_text("events {}\nhttp {\n  ssl_client_certificate /ca.pem;\n" + servers + "}\n")
    calls = count_calls(monkeypatch, nginx, "_map_targets")
    facts = nginx.parse_nginx(conf)
    assert len(facts.blocks) == 300
    assert all(b.files and b.files[0].path == "/ca.pem" for b in facts.blocks)  # inherited
    assert calls == [1]


def test_a_ca_bundle_of_same_name_cas_costs_a_bounded_number_of_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import mtls_doctor.graphbuild as graphbuild
    from mtls_doctor.graph import Source

    count = 120
    certs = [x509.load_pem_x509_certificate(_self_signed("Same CA")) for _ in range(count)]
    calls = count_calls(monkeypatch, graphbuild, "is_issued_by")
    builder = graphbuild.GraphBuilder()
    builder.add(certs, Source.CA_BUNDLE)
    builder.graph()
    assert calls[0] <= count * graphbuild.MAX_SIGNATURE_CHECKS  # pairwise was count**2


@pytest.mark.parametrize(
    "text",
    ['$SERVER["socket"] == ":1" {\n' * 5000, "x = " + "(" * 5000 + "\n"],
    ids=["blocks", "arrays"],
)
def test_lighttpd_nesting_is_bounded(tmp_path: Path, text: str) -> None:
    """A recursive reader with no bound dies of RecursionError: one line, exit 2 instead."""
    config = tmp_path / "lighttpd.conf"
    config.write_text(text)
    result = run_process("lint-server", "--type", "lighttpd", str(config))
    assert_one_clean_error_line(result, 2)
    assert "nested more than" in result.err


def test_deeply_nested_nginx_blocks_are_said_plainly(tmp_path: Path) -> None:
    config = tmp_path / "nginx.conf"
    config.write_text("http {\n" + "location / {\n" * 3000)
    result = run_process("lint-server", "--type", "nginx", str(config))
    assert_one_clean_error_line(result, 2)
    assert "nested too deep" in result.err and "recursion" not in result.err
