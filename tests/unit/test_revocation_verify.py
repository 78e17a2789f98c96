"""When may a CRL or an OCSP response be believed? (no network: answers built here)

The rules of RFC 5280 6.3.3 and RFC 6960 3.2, each both ways, on CRLs and
responses signed with the lab's CA keys at a fixed ``now``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from mtls_doctor.errors import InputError
from mtls_doctor.lab.pki import LabCA, LabPKI
from mtls_doctor.revocation import (
    CrlCache,
    UntrustedAnswer,
    VerifiedAnswer,
    crl_status,
    default_cache_dir,
    load_crl_files,
    ocsp_status,
)
from tests.conftest import LAB_NOW

NOW = LAB_NOW
KEY_COMPROMISE = x509.ReasonFlags.key_compromise
HOLD = x509.ReasonFlags.certificate_hold


def name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def issue(
    ca: LabCA,
    subject: str = "leaf",
    *,
    extensions: list[tuple[x509.ExtensionType, bool]] | None = None,
    not_after: datetime | None = None,
) -> tuple[x509.Certificate, Any]:
    """A certificate signed by ``ca`` (a leaf unless the extensions say otherwise)."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(name(subject))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(not_after or NOW + timedelta(days=30))
    )
    for ext, critical in extensions or [(x509.BasicConstraints(ca=False, path_length=None), True)]:
        builder = builder.add_extension(ext, critical=critical)
    return builder.sign(ca.key, hashes.SHA256()), key


def crl(
    ca: LabCA,
    revoked: dict[int, x509.ReasonFlags] | None = None,
    *,
    this_update: datetime = NOW - timedelta(hours=1),
    next_update: datetime = NOW + timedelta(days=1),
    extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
    key: Any = None,
) -> x509.CertificateRevocationList:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(this_update)
        .next_update(next_update)
    )
    for ext, critical in extensions:
        builder = builder.add_extension(ext, critical=critical)
    for serial, reason in (revoked or {}).items():
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(NOW - timedelta(days=2))
            .add_extension(x509.CRLReason(reason), critical=False)
            .build()
        )
    return builder.sign(key or ca.key, hashes.SHA256())


def idp(**flags: Any) -> x509.IssuingDistributionPoint:
    values: dict[str, Any] = {
        "full_name": None,
        "relative_name": None,
        "only_contains_user_certs": False,
        "only_contains_ca_certs": False,
        "only_some_reasons": None,
        "indirect_crl": False,
        "only_contains_attribute_certs": False,
    }
    values.update(flags)
    return x509.IssuingDistributionPoint(**values)


def cdp(url: str) -> x509.CRLDistributionPoints:
    uri = x509.UniformResourceIdentifier(url)
    return x509.CRLDistributionPoints([x509.DistributionPoint([uri], None, None, None)])


def status_of(
    cert: x509.Certificate, ca: LabCA, the_crl: x509.CertificateRevocationList
) -> VerifiedAnswer:
    return crl_status(cert, ca.certificate, the_crl, now=NOW, source="test.crl")


# --------------------------------------------------------------------------- CRL


def test_crl_good_and_revoked(lab: LabPKI) -> None:
    leaf, _ = issue(lab.intermediate)
    assert status_of(leaf, lab.intermediate, crl(lab.intermediate)).status == "good"
    revoking = crl(lab.intermediate, {leaf.serial_number: KEY_COMPROMISE})
    answer = status_of(leaf, lab.intermediate, revoking)
    assert answer.status == "revoked"
    assert "reason keyCompromise, revoked 2026-05-30 12:00 UTC" in answer.detail


def test_crl_signed_by_a_rotated_key_is_refused(lab: LabPKI) -> None:
    # Same issuer name (the rotated root is also "Lab Root CA"), another key.
    forged = crl(lab.root, {lab.intermediate.certificate.serial_number: KEY_COMPROMISE})
    assert status_of(lab.intermediate.certificate, lab.root, forged).status == "revoked"
    forged = crl(lab.root, key=lab.rotated.key)
    with pytest.raises(UntrustedAnswer, match="bad signature"):
        status_of(lab.intermediate.certificate, lab.root, forged)


def test_crl_of_another_issuer_is_refused(lab: LabPKI) -> None:
    leaf, _ = issue(lab.intermediate)
    with pytest.raises(UntrustedAnswer, match="issued by CN=Unrelated Root CA"):
        crl_status(leaf, lab.intermediate.certificate, crl(lab.unrelated), now=NOW, source="x")


def test_issuer_without_crl_sign_cannot_sign_crls(lab: LabPKI) -> None:
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    ca_cert, ca_key = issue(
        lab.root,
        "no-crl-sign CA",
        extensions=[(x509.BasicConstraints(ca=True, path_length=0), True), (usage, True)],
    )
    ca = LabCA("no-crl-sign", ca_cert, ca_key)
    leaf, _ = issue(ca)
    with pytest.raises(UntrustedAnswer, match="does not allow it to sign CRLs"):
        status_of(leaf, ca, crl(ca))


def test_crl_freshness(lab: LabPKI) -> None:
    leaf, _ = issue(lab.intermediate)
    future = crl(lab.intermediate, this_update=NOW + timedelta(hours=1))
    with pytest.raises(UntrustedAnswer, match=r"thisUpdate .* is in the future"):
        status_of(leaf, lab.intermediate, future)
    stale = crl(
        lab.intermediate,
        this_update=NOW - timedelta(days=9),
        next_update=NOW - timedelta(days=2),
    )
    with pytest.raises(UntrustedAnswer, match="stale: the CRL's nextUpdate was 2026-05-30"):
        status_of(leaf, lab.intermediate, stale)


@pytest.mark.parametrize(("reason", "revokes"), [(KEY_COMPROMISE, True), (HOLD, False)])
def test_stale_crl_entry_counts_unless_on_hold(
    reason: x509.ReasonFlags, revokes: bool, lab: LabPKI
) -> None:
    # RFC 5280 3.3: revocation is permanent; a hold may have been released since.
    leaf, _ = issue(lab.intermediate)
    stale = crl(
        lab.intermediate,
        {leaf.serial_number: reason},
        this_update=NOW - timedelta(days=9),
        next_update=NOW - timedelta(days=2),
    )
    if revokes:
        answer = status_of(leaf, lab.intermediate, stale)
        assert answer.status == "revoked"
        assert "note: stale" in answer.detail
    else:
        with pytest.raises(UntrustedAnswer, match="stale"):
            status_of(leaf, lab.intermediate, stale)


def test_delta_crl_is_refused(lab: LabPKI) -> None:
    leaf, _ = issue(lab.intermediate)
    delta = crl(lab.intermediate, extensions=[(x509.DeltaCRLIndicator(1), True)])
    with pytest.raises(UntrustedAnswer, match="delta CRL"):
        status_of(leaf, lab.intermediate, delta)


def test_unknown_critical_extension_is_refused(lab: LabPKI) -> None:
    leaf, _ = issue(lab.intermediate)
    strange = x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00")
    odd = crl(lab.intermediate, extensions=[(strange, True)])
    with pytest.raises(UntrustedAnswer, match="critical extension"):
        status_of(leaf, lab.intermediate, odd)
    fine = crl(lab.intermediate, extensions=[(strange, False)])
    assert status_of(leaf, lab.intermediate, fine).status == "good"


def test_idp_user_certs_only_does_not_cover_a_ca(lab: LabPKI) -> None:
    scoped = crl(lab.root, extensions=[(idp(only_contains_user_certs=True), True)])
    with pytest.raises(UntrustedAnswer, match="only end-entity"):
        status_of(lab.intermediate.certificate, lab.root, scoped)
    leaf, _ = issue(lab.root)
    assert status_of(leaf, lab.root, scoped).status == "good"


def test_idp_ca_certs_only_does_not_cover_a_leaf(lab: LabPKI) -> None:
    scoped = crl(lab.root, extensions=[(idp(only_contains_ca_certs=True), True)])
    leaf, _ = issue(lab.root)
    with pytest.raises(UntrustedAnswer, match="only CA certificates"):
        status_of(leaf, lab.root, scoped)
    assert status_of(lab.intermediate.certificate, lab.root, scoped).status == "good"


def test_idp_some_reasons_can_revoke_but_not_clear(lab: LabPKI) -> None:
    leaf, _ = issue(lab.intermediate)
    other, _ = issue(lab.intermediate)
    partial = crl(
        lab.intermediate,
        {leaf.serial_number: KEY_COMPROMISE},
        extensions=[(idp(only_some_reasons=frozenset({KEY_COMPROMISE})), True)],
    )
    assert status_of(leaf, lab.intermediate, partial).status == "revoked"
    with pytest.raises(UntrustedAnswer, match="only some revocation reasons"):
        status_of(other, lab.intermediate, partial)


def test_idp_indirect_is_refused(lab: LabPKI) -> None:
    leaf, _ = issue(lab.intermediate)
    indirect = crl(lab.intermediate, extensions=[(idp(indirect_crl=True), True)])
    with pytest.raises(UntrustedAnswer, match="indirect"):
        status_of(leaf, lab.intermediate, indirect)


def test_idp_name_must_match_the_certificates_distribution_point(lab: LabPKI) -> None:
    here, there = "http://ca.test/a.crl", "http://ca.test/b.crl"
    leaf, _ = issue(
        lab.intermediate,
        extensions=[(x509.BasicConstraints(ca=False, path_length=None), True), (cdp(here), False)],
    )

    def partition(url: str) -> x509.CertificateRevocationList:
        named = idp(full_name=[x509.UniformResourceIdentifier(url)])
        return crl(lab.intermediate, extensions=[(named, True)])

    assert status_of(leaf, lab.intermediate, partition(here)).status == "good"
    with pytest.raises(UntrustedAnswer, match="issuing distribution point"):
        status_of(leaf, lab.intermediate, partition(there))
    # RFC 5280 6.3.3 (b)(2)(i) compares names only when the certificate has a CDP.
    plain, _ = issue(lab.intermediate)
    assert status_of(plain, lab.intermediate, partition(there)).status == "good"


# --------------------------------------------------------------------------- OCSP


def request_for(
    cert: x509.Certificate, issuer: x509.Certificate, nonce: bytes | None = None
) -> ocsp.OCSPRequest:
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build()


def respond(
    cert: x509.Certificate,
    issuer: LabCA,
    *,
    status: ocsp.OCSPCertStatus = ocsp.OCSPCertStatus.GOOD,
    reason: x509.ReasonFlags | None = None,
    this_update: datetime = NOW - timedelta(minutes=1),
    next_update: datetime | None = NOW + timedelta(hours=1),
    signer: tuple[x509.Certificate, Any] | None = None,
    by_name: bool = False,
    include: list[x509.Certificate] | None = None,
    nonce: bytes | None = None,
) -> ocsp.OCSPResponse:
    revoked = status is ocsp.OCSPCertStatus.REVOKED
    builder = ocsp.OCSPResponseBuilder().add_response(
        cert=cert,
        issuer=issuer.certificate,
        algorithm=hashes.SHA1(),
        cert_status=status,
        this_update=this_update,
        next_update=next_update,
        revocation_time=NOW - timedelta(days=1) if revoked else None,
        revocation_reason=reason if revoked else None,
    )
    signer_cert, signer_key = signer or (issuer.certificate, issuer.key)
    encoding = ocsp.OCSPResponderEncoding.NAME if by_name else ocsp.OCSPResponderEncoding.HASH
    builder = builder.responder_id(encoding, signer_cert)
    if include:
        builder = builder.certificates(include)
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.sign(signer_key, hashes.SHA256())


def judge(
    response: ocsp.OCSPResponse,
    cert: x509.Certificate,
    issuer: LabCA,
    *,
    nonce: bytes | None = None,
    now: datetime = NOW,
) -> VerifiedAnswer:
    request = request_for(cert, issuer.certificate, nonce)
    return ocsp_status(
        response, request, cert, issuer.certificate, now=now, source="t", nonce=nonce
    )


def delegate(
    issuer: LabCA, *, eku: bool = True, not_after: datetime | None = None
) -> tuple[x509.Certificate, Any]:
    usage = ExtendedKeyUsageOID.OCSP_SIGNING if eku else ExtendedKeyUsageOID.CLIENT_AUTH
    return issue(
        issuer,
        "responder",
        extensions=[
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (x509.ExtendedKeyUsage([usage]), False),
        ],
        not_after=not_after,
    )


def test_ocsp_good_and_revoked(lab: LabPKI) -> None:
    leaf, _ = issue(lab.intermediate)
    assert judge(respond(leaf, lab.intermediate), leaf, lab.intermediate).status == "good"
    revoked = respond(
        leaf, lab.intermediate, status=ocsp.OCSPCertStatus.REVOKED, reason=KEY_COMPROMISE
    )
    answer = judge(revoked, leaf, lab.intermediate)
    assert answer.status == "revoked"
    assert "reason keyCompromise, revoked 2026-05-31 12:00 UTC" in answer.detail
    no_reason = respond(leaf, lab.intermediate, status=ocsp.OCSPCertStatus.REVOKED)
    assert "reason unspecified" in judge(no_reason, leaf, lab.intermediate).detail


def test_ocsp_responder_by_name(lab: LabPKI) -> None:
    leaf, _ = issue(lab.intermediate)
    response = respond(leaf, lab.intermediate, by_name=True)
    assert judge(response, leaf, lab.intermediate).status == "good"


def test_ocsp_signed_by_a_rotated_key_is_refused(lab: LabPKI) -> None:
    # The rotated root has the root's name and another key.
    inter = lab.intermediate.certificate
    by_name = respond(
        inter, lab.root, signer=(lab.rotated.certificate, lab.rotated.key), by_name=True
    )
    with pytest.raises(UntrustedAnswer, match="bad signature"):
        judge(by_name, inter, lab.root)
    by_key = respond(inter, lab.root, signer=(lab.rotated.certificate, lab.rotated.key))
    with pytest.raises(UntrustedAnswer, match="wrong responder: signed by neither"):
        judge(by_key, inter, lab.root)


def test_ocsp_delegated_responder_rules(lab: LabPKI) -> None:
    leaf, _ = issue(lab.intermediate)
    good = delegate(lab.intermediate)
    response = respond(leaf, lab.intermediate, signer=good, include=[good[0]])
    assert judge(response, leaf, lab.intermediate).status == "good"

    not_included = respond(leaf, lab.intermediate, signer=good)
    with pytest.raises(UntrustedAnswer, match="wrong responder"):
        judge(not_included, leaf, lab.intermediate)

    no_eku = delegate(lab.intermediate, eku=False)
    response = respond(leaf, lab.intermediate, signer=no_eku, include=[no_eku[0]])
    with pytest.raises(UntrustedAnswer, match="lacks the OCSPSigning"):
        judge(response, leaf, lab.intermediate)

    foreign = delegate(lab.unrelated)
    response = respond(leaf, lab.intermediate, signer=foreign, include=[foreign[0]])
    with pytest.raises(UntrustedAnswer, match="did not certify"):
        judge(response, leaf, lab.intermediate)

    expired = delegate(lab.intermediate, not_after=NOW - timedelta(hours=1))
    response = respond(leaf, lab.intermediate, signer=expired, include=[expired[0]])
    with pytest.raises(UntrustedAnswer, match="not valid now"):
        judge(response, leaf, lab.intermediate)


def test_ocsp_freshness(lab: LabPKI) -> None:
    leaf, _ = issue(lab.intermediate)
    future = respond(leaf, lab.intermediate, this_update=NOW + timedelta(hours=1))
    with pytest.raises(UntrustedAnswer, match="in the future"):
        judge(future, leaf, lab.intermediate)
    past = respond(
        leaf,
        lab.intermediate,
        this_update=NOW - timedelta(days=2),
        next_update=NOW - timedelta(days=1),
    )
    with pytest.raises(UntrustedAnswer, match="stale: the response's nextUpdate"):
        judge(past, leaf, lab.intermediate)
    # Without nextUpdate (RFC 6960 4.2.2.1) only a recent answer is good.
    recent = respond(leaf, lab.intermediate, this_update=NOW - timedelta(hours=1), next_update=None)
    assert judge(recent, leaf, lab.intermediate).status == "good"
    old = respond(leaf, lab.intermediate, this_update=NOW - timedelta(days=2), next_update=None)
    with pytest.raises(UntrustedAnswer, match="no nextUpdate"):
        judge(old, leaf, lab.intermediate)


@pytest.mark.parametrize(("reason", "revokes"), [(KEY_COMPROMISE, True), (HOLD, False)])
def test_stale_ocsp_revocation_counts_unless_on_hold(
    reason: x509.ReasonFlags, revokes: bool, lab: LabPKI
) -> None:
    leaf, _ = issue(lab.intermediate)
    stale = respond(
        leaf,
        lab.intermediate,
        status=ocsp.OCSPCertStatus.REVOKED,
        reason=reason,
        this_update=NOW - timedelta(days=2),
        next_update=NOW - timedelta(days=1),
    )
    if revokes:
        assert judge(stale, leaf, lab.intermediate).status == "revoked"
    else:
        with pytest.raises(UntrustedAnswer, match="stale"):
            judge(stale, leaf, lab.intermediate)


def test_ocsp_nonce(lab: LabPKI) -> None:
    leaf, _ = issue(lab.intermediate)
    ours = b"0123456789abcdef"
    echoed = respond(leaf, lab.intermediate, nonce=ours)
    assert judge(echoed, leaf, lab.intermediate, nonce=ours).status == "good"
    # RFC 8954: responders may leave the nonce out (freshness then rests on thisUpdate).
    assert judge(respond(leaf, lab.intermediate), leaf, lab.intermediate, nonce=ours)
    replayed = respond(leaf, lab.intermediate, nonce=b"fedcba9876543210")
    with pytest.raises(UntrustedAnswer, match="nonce"):
        judge(replayed, leaf, lab.intermediate, nonce=ours)


def test_ocsp_about_another_certificate(lab: LabPKI) -> None:
    leaf, _ = issue(lab.intermediate)
    other, _ = issue(lab.intermediate)
    with pytest.raises(UntrustedAnswer, match="another certificate"):
        judge(respond(other, lab.intermediate), leaf, lab.intermediate)


def test_ocsp_unknown_status(lab: LabPKI) -> None:
    leaf, _ = issue(lab.intermediate)
    unknown = respond(leaf, lab.intermediate, status=ocsp.OCSPCertStatus.UNKNOWN)
    with pytest.raises(UntrustedAnswer, match="does not know"):
        judge(unknown, leaf, lab.intermediate)


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (ocsp.OCSPResponseStatus.MALFORMED_REQUEST, "malformedRequest"),
        (ocsp.OCSPResponseStatus.INTERNAL_ERROR, "internalError"),
        (ocsp.OCSPResponseStatus.TRY_LATER, "tryLater"),
        (ocsp.OCSPResponseStatus.SIG_REQUIRED, "sigRequired"),
        (ocsp.OCSPResponseStatus.UNAUTHORIZED, "unauthorized"),
    ],
)
def test_ocsp_unsuccessful(status: ocsp.OCSPResponseStatus, words: str, lab: LabPKI) -> None:
    leaf, _ = issue(lab.intermediate)
    response = ocsp.OCSPResponseBuilder.build_unsuccessful(status)
    with pytest.raises(UntrustedAnswer, match=f"answered {words}"):
        judge(response, leaf, lab.intermediate)


# --------------------------------------------------------------------------- files and cache


def test_load_crl_files(lab: LabPKI, tmp_path: Path) -> None:
    both = tmp_path / "both.pem"
    root_pem = (lab.directory / "ca" / "root.crl.pem").read_bytes()
    both.write_bytes(root_pem + lab.crl_file.read_bytes())
    der = lab.directory / "ca" / "intermediate.crl"
    loaded = load_crl_files([both, der])
    assert [path for path, _ in loaded] == [str(both), str(both), str(der)]
    assert [c.issuer for _, c in loaded] == [
        lab.root.certificate.subject,
        lab.intermediate.certificate.subject,
        lab.intermediate.certificate.subject,
    ]
    cert_not_crl = lab.directory / "ca" / "root.pem"
    with pytest.raises(InputError, match="not a CRL"):
        load_crl_files([cert_not_crl])


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "mtls-doctor"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "mtls-doctor"


def test_cache_round_trip_and_unwritable(tmp_path: Path, lab: LabPKI) -> None:
    data = lab.crl.public_bytes(serialization.Encoding.DER)
    cache = CrlCache(tmp_path / "cache")
    assert cache.load("http://ca.test/a.crl") is None
    cache.store("http://ca.test/a.crl", data)
    assert cache.load("http://ca.test/a.crl") == data
    assert cache.load("http://ca.test/b.crl") is None
    blocked = tmp_path / "file"
    blocked.write_text("a file where the directory should be")
    CrlCache(blocked).store("http://ca.test/a.crl", data)  # no error: the cache is optional
    assert CrlCache(blocked).load("http://ca.test/a.crl") is None
