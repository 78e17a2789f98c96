"""The revocation adapter against the lab's CA web server (CRLs, OCSP) on 127.0.0.1.

Every way a CA's answer can be wrong is served for real over HTTP, and each
one must end as "unknown" with the reason: never "good" on an answer that did
not verify. The good and revoked answers are checked for the leaf and for
the intermediate above it, by OCSP and by CRL.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from mtls_doctor.errors import InputError
from mtls_doctor.lab.pki import LabPKI, build_lab_pki
from mtls_doctor.lab.responder import Mode, Responder, start_responder
from mtls_doctor.model import RevocationFacts
from mtls_doctor.revocation import CrlCache, check_revocation
from tests.conftest import LAB_NOW

REVOKED_AT = "2026-06-01 11:00 UTC"  # the lab revokes one hour before LAB_NOW


@pytest.fixture(scope="module")
def ca_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Responder]:
    """A lab PKI whose certificates point at a running responder (clock: LAB_NOW)."""
    responder = start_responder(tmp_path_factory.mktemp("ca-server") / "lab", now=LAB_NOW)
    try:
        yield responder
    finally:
        responder.stop()


@pytest.fixture
def ca(ca_server: Responder) -> Iterator[Responder]:
    """The responder, answering normally and with an empty request log; reset afterwards."""
    ca_server.reset()
    yield ca_server
    ca_server.reset()


def pki_of(responder: Responder) -> LabPKI:
    assert responder.pki is not None
    return responder.pki


def issuers_of(pki: LabPKI, name: str) -> list[x509.Certificate]:
    """The issuing path above a lab identity: its issuer, then the root when there is one."""
    ident = pki.identities[name]
    if ident.certificate.issuer == pki.intermediate.certificate.subject:
        return [pki.intermediate.certificate, pki.root.certificate]
    return list(ident.chain)


def lookup(
    responder: Responder, name: str, tmp_path: Path, **options: Any
) -> tuple[RevocationFacts, ...]:
    """check_revocation for a lab identity, at LAB_NOW, with a private cache."""
    pki = pki_of(responder)
    options.setdefault("cache_dir", tmp_path / "cache")
    options.setdefault("timeout", 5.0)
    options.setdefault("now", LAB_NOW)
    return check_revocation(pki.identities[name].certificate, issuers_of(pki, name), **options)


def closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --------------------------------------------------------------------------- good and revoked


def test_good_leaf_and_intermediate_by_ocsp(ca: Responder, tmp_path: Path) -> None:
    leaf, inter = lookup(ca, "good-ecdsa", tmp_path)
    pki = pki_of(ca)
    assert (leaf.status, leaf.method) == ("good", "ocsp")
    assert leaf.subject == pki.identities["good-ecdsa"].certificate.subject.rfc4514_string()
    assert (inter.status, inter.method) == ("good", "ocsp")
    assert inter.subject == pki.intermediate.certificate.subject.rfc4514_string()
    assert sorted(ca.requests) == ["POST /ocsp/intermediate", "POST /ocsp/root"]  # concurrent


def test_revoked_leaf_by_ocsp_says_reason_and_date(ca: Responder, tmp_path: Path) -> None:
    leaf, inter = lookup(ca, "revoked", tmp_path)
    assert (leaf.status, leaf.method) == ("revoked", "ocsp")
    assert "keyCompromise" in leaf.detail
    assert REVOKED_AT in leaf.detail
    assert inter.status == "good"


def test_revoked_crl_only_identity_is_found_by_crl(ca: Responder, tmp_path: Path) -> None:
    leaf, _inter = lookup(ca, "revoked-crl-only", tmp_path)
    assert (leaf.status, leaf.method) == ("revoked", "crl")
    assert "keyCompromise" in leaf.detail and REVOKED_AT in leaf.detail
    assert "GET /crl/intermediate.crl" in ca.requests
    assert "POST /ocsp/intermediate" not in ca.requests  # it names no responder


def test_revoked_ocsp_only_identity_is_found_by_ocsp(ca: Responder, tmp_path: Path) -> None:
    leaf, _inter = lookup(ca, "revoked-ocsp-only", tmp_path)
    assert (leaf.status, leaf.method) == ("revoked", "ocsp")
    assert not any("/crl/" in r for r in ca.requests)


def test_ocsp_only_identity_without_its_responder_is_unknown(ca: Responder, tmp_path: Path) -> None:
    ca.set_mode(ocsp=Mode.NOT_FOUND, ca="intermediate")
    leaf, _inter = lookup(ca, "revoked-ocsp-only", tmp_path)
    assert leaf.status == "unknown"
    assert "HTTP 404" in leaf.detail


@pytest.mark.parametrize("via", ["ocsp", "crl"])
def test_revoked_intermediate_is_reported(via: str, ca: Responder, tmp_path: Path) -> None:
    pki = pki_of(ca)
    ca.revoke("root", pki.intermediate.certificate.serial_number)
    if via == "crl":
        ca.set_mode(ocsp=Mode.NOT_FOUND)
    leaf, inter = lookup(ca, "good-ecdsa", tmp_path)
    assert leaf.status == "good"
    assert (inter.status, inter.method) == ("revoked", via)
    assert inter.subject == pki.intermediate.certificate.subject.rfc4514_string()


def test_delegated_responder_is_accepted(ca: Responder, tmp_path: Path) -> None:
    ca.set_mode(ocsp=Mode.DELEGATED, crl=Mode.NOT_FOUND)
    assert lookup(ca, "good-ecdsa", tmp_path)[0].status == "good"
    assert lookup(ca, "revoked", tmp_path)[0].status == "revoked"


def test_get_when_post_is_refused(ca: Responder, tmp_path: Path) -> None:
    ca.set_mode(ocsp=Mode.POST_REFUSED, crl=Mode.NOT_FOUND, ca="intermediate")
    leaf, _inter = lookup(ca, "revoked", tmp_path)
    assert (leaf.status, leaf.method) == ("revoked", "ocsp")
    methods = [r.split()[0] for r in ca.requests if "/ocsp/intermediate" in r]
    assert methods == ["POST", "GET"]


def test_get_only(ca: Responder, tmp_path: Path) -> None:
    leaf, _inter = lookup(ca, "good-rsa", tmp_path, ocsp_method="get")
    assert leaf.status == "good"
    assert all(r.startswith("GET /ocsp/") for r in ca.requests)


# --------------------------------------------------------------------------- bad OCSP answers

OCSP_FAILURES = {
    Mode.STALE: "stale: the response's nextUpdate was",
    Mode.BAD_SIGNATURE: "bad signature",
    Mode.WRONG_RESPONDER: "which the certificate's issuer did not certify",
    Mode.RESPONDER_WITHOUT_EKU: "lacks the OCSPSigning extended key usage",
    Mode.ZERO_RESPONSES: "zero single responses",
    Mode.OTHER_CERTIFICATE: "about another certificate",
    Mode.UNKNOWN: "does not know this certificate",
    Mode.TRY_LATER: "answered tryLater",
    Mode.OVERSIZED: "larger than the 64 KiB cap",
    Mode.REDIRECT_FILE: "file:",
    Mode.NOT_FOUND: "HTTP 404",
}


@pytest.mark.parametrize(
    ("mode", "name"),
    [(mode, "good-ecdsa") for mode in OCSP_FAILURES]
    # A stale answer that revokes still revokes: test_stale_ocsp_answer_that_revokes.
    + [(mode, "revoked") for mode in OCSP_FAILURES if mode is not Mode.STALE],
    ids=str,
)
def test_bad_ocsp_answer_is_unknown_never_good(
    mode: Mode, name: str, ca: Responder, tmp_path: Path
) -> None:
    # The CRL is out of the way, so the OCSP answer alone decides.
    ca.set_mode(ocsp=mode, crl=Mode.NOT_FOUND, ca="intermediate")
    leaf, _inter = lookup(ca, name, tmp_path)
    assert leaf.status == "unknown", leaf
    assert leaf.method == ""
    assert f"OCSP {ca.base_url}/ocsp/intermediate: " in leaf.detail
    assert OCSP_FAILURES[mode] in leaf.detail
    assert f"CRL {ca.base_url}/crl/intermediate.crl: HTTP 404" in leaf.detail


def test_stale_ocsp_answer_that_revokes_still_revokes(ca: Responder, tmp_path: Path) -> None:
    # RFC 5280 3.3: revocation is permanent (certificateHold aside). A stale
    # answer cannot show good standing, but a verified "revoked" stands.
    ca.set_mode(ocsp=Mode.STALE, crl=Mode.NOT_FOUND, ca="intermediate")
    leaf, _inter = lookup(ca, "revoked", tmp_path)
    assert (leaf.status, leaf.method) == ("revoked", "ocsp")
    assert "note: stale" in leaf.detail


def test_bad_ocsp_answer_falls_back_to_the_crl(ca: Responder, tmp_path: Path) -> None:
    ca.set_mode(ocsp=Mode.BAD_SIGNATURE)
    leaf, inter = lookup(ca, "revoked", tmp_path)
    assert (leaf.status, leaf.method) == ("revoked", "crl")
    assert (inter.status, inter.method) == ("good", "crl")


# --------------------------------------------------------------------------- bad CRLs

CRL_FAILURES = {
    Mode.STALE: "stale: the CRL's nextUpdate was",
    Mode.BAD_SIGNATURE: "bad signature: the CRL is not signed by the issuer's key",
    Mode.WRONG_RESPONDER: "the CRL was issued by CN=Unrelated Root CA",
    Mode.IDP_MISMATCH: "issuing distribution point",
    Mode.OVERSIZED: "the CRL is larger than the 10 MiB cap; download stopped",
    Mode.REDIRECT_FILE: "file:",
    Mode.NOT_FOUND: "HTTP 404",
}


@pytest.mark.parametrize("mode", list(CRL_FAILURES), ids=str)
def test_bad_crl_is_unknown_never_good(mode: Mode, ca: Responder, tmp_path: Path) -> None:
    ca.set_mode(ocsp=Mode.NOT_FOUND, crl=mode, ca="intermediate")
    leaf, _inter = lookup(ca, "good-ecdsa", tmp_path)
    assert leaf.status == "unknown", leaf
    assert f"CRL {ca.base_url}/crl/intermediate.crl: " in leaf.detail
    assert CRL_FAILURES[mode] in leaf.detail


def test_oversized_crl_is_capped_by_the_given_cap(ca: Responder, tmp_path: Path) -> None:
    ca.set_mode(ocsp=Mode.NOT_FOUND, crl=Mode.OVERSIZED, ca="intermediate")
    leaf, _inter = lookup(ca, "good-ecdsa", tmp_path, crl_max_bytes=256 * 1024)
    assert "the CRL is larger than the 256 KiB cap" in leaf.detail


def test_bad_crl_that_revokes_is_still_not_trusted(ca: Responder, tmp_path: Path) -> None:
    ca.set_mode(ocsp=Mode.NOT_FOUND, crl=Mode.BAD_SIGNATURE, ca="intermediate")
    leaf, _inter = lookup(ca, "revoked", tmp_path)
    assert leaf.status == "unknown"


def test_stale_crl_that_revokes_still_revokes(ca: Responder, tmp_path: Path) -> None:
    # RFC 5280 3.3: revocation is permanent (certificateHold aside); a stale CRL
    # cannot show good standing, but a verified entry on it is still a revocation.
    ca.set_mode(ocsp=Mode.NOT_FOUND, crl=Mode.STALE, ca="intermediate")
    leaf, _inter = lookup(ca, "revoked", tmp_path)
    assert (leaf.status, leaf.method) == ("revoked", "crl")
    assert "note: stale" in leaf.detail


# --------------------------------------------------------------------------- network safety


def test_unreachable_urls_are_unknown(tmp_path: Path) -> None:
    port = closed_port()
    pki = build_lab_pki(tmp_path / "lab", now=LAB_NOW, base_url=f"http://127.0.0.1:{port}")
    facts = check_revocation(
        pki.identities["good-ecdsa"].certificate,
        [pki.intermediate.certificate, pki.root.certificate],
        timeout=5.0,
        now=LAB_NOW,
        cache_dir=tmp_path / "cache",
    )
    assert [f.status for f in facts] == ["unknown", "unknown"]
    assert facts[0].detail.count("cannot connect") == 2  # OCSP and CRL


def test_silent_responder_times_out(ca: Responder, tmp_path: Path) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # accepts in the kernel, never answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/ocsp"
        ca.set_mode(crl=Mode.NOT_FOUND, ca="intermediate")
        leaf, _inter = lookup(ca, "good-ecdsa", tmp_path, ocsp_url=url, timeout=0.5)
    assert leaf.status == "unknown"
    assert f"OCSP {url}: " in leaf.detail
    assert "0.5 s" in leaf.detail


def test_ocsp_url_override_is_asked_for_the_leaf_only(ca: Responder, tmp_path: Path) -> None:
    # revoked-crl-only names no responder; --ocsp-url supplies one.
    ca.set_mode(crl=Mode.NOT_FOUND)
    leaf, inter = lookup(
        ca, "revoked-crl-only", tmp_path, ocsp_url=f"{ca.base_url}/ocsp/intermediate"
    )
    assert (leaf.status, leaf.method) == ("revoked", "ocsp")
    assert (inter.status, inter.method) == ("good", "ocsp")
    assert sorted(ca.requests) == ["POST /ocsp/intermediate", "POST /ocsp/root"]  # concurrent


def test_url_credentials_never_appear(tmp_path: Path, ca: Responder) -> None:
    ca.set_mode(crl=Mode.NOT_FOUND, ca="intermediate")
    url = f"http://user:s3cret-word@127.0.0.1:{closed_port()}/ocsp"
    leaf, _inter = lookup(ca, "good-ecdsa", tmp_path, ocsp_url=url)
    assert leaf.status == "unknown"
    assert "s3cret-word" not in leaf.detail
    assert "user" not in leaf.detail


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection attempt fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network request while offline: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr("mtls_doctor.fetch.fetch", refuse)


def test_offline_makes_no_request(ca: Responder, tmp_path: Path, no_network: None) -> None:
    facts = lookup(ca, "revoked", tmp_path, offline=True)
    assert [(f.status, f.detail) for f in facts] == [("skipped", "offline")] * 2
    assert ca.requests == []
    assert not (tmp_path / "cache").exists()


def test_offline_with_crl_files_reads_them_only(
    ca: Responder, tmp_path: Path, no_network: None
) -> None:
    pki = pki_of(ca)
    crls = [pki.crl_file, pki.directory / "ca" / "root.crl"]  # PEM and DER
    leaf, inter = lookup(ca, "revoked-ocsp-only", tmp_path, offline=True, crl_files=crls)
    assert (leaf.status, leaf.method) == ("revoked", "crl")
    assert str(pki.crl_file) in leaf.detail
    assert (inter.status, inter.method) == ("good", "crl")
    assert ca.requests == []


def test_offline_crl_file_without_the_issuers_crl(
    ca: Responder, tmp_path: Path, no_network: None
) -> None:
    pki = pki_of(ca)
    leaf, inter = lookup(ca, "good-ecdsa", tmp_path, offline=True, crl_files=[pki.crl_file])
    assert leaf.status == "good"
    assert inter.status == "unknown"
    assert "no CRL issued by CN=Lab Root CA" in inter.detail
    assert "offline" in inter.detail


def test_crl_files_come_before_the_network(ca: Responder, tmp_path: Path) -> None:
    pki = pki_of(ca)
    leaf, _inter = lookup(ca, "revoked", tmp_path, crl_files=[pki.crl_file])
    assert (leaf.status, leaf.method) == ("revoked", "crl")
    assert "POST /ocsp/intermediate" not in ca.requests


def test_unreadable_crl_file_is_an_input_error(ca: Responder, tmp_path: Path) -> None:
    junk = tmp_path / "junk.crl"
    junk.write_bytes(b"not a crl")
    with pytest.raises(InputError, match="not a CRL"):
        lookup(ca, "good-ecdsa", tmp_path, crl_files=[junk])
    with pytest.raises(InputError, match="no such file"):
        lookup(ca, "good-ecdsa", tmp_path, crl_files=[tmp_path / "missing.crl"])


# --------------------------------------------------------------------------- cache


def test_crl_is_fetched_once_until_its_next_update(ca: Responder, tmp_path: Path) -> None:
    ca.set_mode(ocsp=Mode.NOT_FOUND)
    cache = tmp_path / "cache"
    first = lookup(ca, "revoked", tmp_path, cache_dir=cache)
    second = lookup(ca, "revoked-crl-only", tmp_path, cache_dir=cache)
    assert [f.status for f in first] == [f.status for f in second] == ["revoked", "good"]
    assert ca.requests.count("GET /crl/intermediate.crl") == 1
    assert "(cached)" in second[0].detail
    url = f"{ca.base_url}/crl/intermediate.crl"
    cached = CrlCache(cache).path_for(url)
    assert cached.read_bytes() == (pki_of(ca).directory / "ca" / "intermediate.crl").read_bytes()
    # After nextUpdate (the lab's CRLs live 7 days) the cache is not trusted: fetched again.
    later = lookup(ca, "good-ecdsa", tmp_path, cache_dir=cache, now=LAB_NOW + timedelta(days=8))
    assert ca.requests.count("GET /crl/intermediate.crl") == 2
    assert later[0].status == "unknown"
    assert "stale" in later[0].detail


def test_no_cache_when_disabled(ca: Responder, tmp_path: Path) -> None:
    ca.set_mode(ocsp=Mode.NOT_FOUND)
    for _ in range(2):
        lookup(ca, "good-ecdsa", tmp_path, use_cache=False)
    assert ca.requests.count("GET /crl/intermediate.crl") == 2
    assert not (tmp_path / "cache").exists()


def test_bad_crl_is_not_cached(ca: Responder, tmp_path: Path) -> None:
    ca.set_mode(ocsp=Mode.NOT_FOUND, crl=Mode.BAD_SIGNATURE, ca="intermediate")
    lookup(ca, "good-ecdsa", tmp_path)
    url = f"{ca.base_url}/crl/intermediate.crl"
    assert not CrlCache(tmp_path / "cache").path_for(url).exists()


# --------------------------------------------------------------------------- what is checked


def test_self_signed_root_is_not_checked(ca: Responder) -> None:
    root = pki_of(ca).root.certificate
    assert check_revocation(root, [], timeout=1.0, now=LAB_NOW, use_cache=False) == ()


def test_unknown_issuer_is_unknown(ca: Responder, tmp_path: Path) -> None:
    leaf = pki_of(ca).identities["good-ecdsa"].certificate
    [fact] = check_revocation(leaf, [], timeout=1.0, now=LAB_NOW, cache_dir=tmp_path)
    assert fact.status == "unknown"
    assert "issuer's certificate is not available" in fact.detail
    assert ca.requests == []


def test_certificate_without_urls_is_not_checked(lab: LabPKI, tmp_path: Path) -> None:
    leaf = lab.identities["good-ecdsa"].certificate
    facts = check_revocation(
        leaf,
        [lab.intermediate.certificate, lab.root.certificate],
        timeout=1.0,
        now=LAB_NOW,
        cache_dir=tmp_path,
    )
    assert [(f.status, f.detail) for f in facts] == [
        ("skipped", "no OCSP or CRL URL in the certificate")
    ] * 2


def test_responder_serves_ca_certificates(ca: Responder) -> None:
    from mtls_doctor.fetch import fetch

    body = fetch(f"{ca.base_url}/ca/intermediate.der", timeout=5.0)
    assert x509.load_der_x509_certificate(body) == pki_of(ca).intermediate.certificate
