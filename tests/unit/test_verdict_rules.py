"""The verdict rules with hand-built facts and a fixed now: every cause both ways."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from mtls_doctor.causes import Cause
from mtls_doctor.model import (
    Alternative,
    ChainFacts,
    ChainLink,
    DiagnosisFacts,
    HttpAnswer,
    RevocationFacts,
    RevocationStatus,
    Source,
)
from mtls_doctor.rules.verdict import diagnose
from tests.factories import (
    ISSUING,
    NOW,
    ROOT,
    ca,
    cert,
    chain_facts,
    handshake,
    identity,
    nginx_page,
    refused,
)

GOOD = identity()
OTHER_ROOT = "CN=Other Root,O=Elsewhere"


def verdict_of(facts: DiagnosisFacts) -> Cause:
    return diagnose(facts, NOW)[1].cause


def with_cert(attempt=None, **overrides):  # type: ignore[no-untyped-def]
    base = DiagnosisFacts(
        identity=overrides.pop("identity", GOOD),
        attempt=attempt if attempt is not None else handshake(),
        chain=overrides.pop("chain", chain_facts()),
    )
    return replace(base, **overrides)


EXPIRED = identity(certificate=cert(not_after=NOW - timedelta(days=2)))
NOT_YET = identity(certificate=cert(not_before=NOW + timedelta(days=2)))
SERVER_EKU = identity(certificate=cert(extended_key_usage=("serverAuth",)))
WEAK = identity(certificate=cert(key_type="RSA", key_bits=1024, curve=None))
NO_KEY = identity(has_private_key=False, key_matches=None)
BAD_KEY = identity(key_matches=False)
UNTRUSTED = identity(certificate=cert(issuer=OTHER_ROOT), chain=(), path_length=0)

#: (name, facts, expected cause). Each cause appears; the "both ways" test below
#: checks that each is absent from the healthy case.
CASES = [
    ("accepted", with_cert(), Cause.ACCEPTED),
    (
        "application 403",
        with_cert(handshake(http=HttpAnswer(status=403, reason="Forbidden", first_line="no"))),
        Cause.REJECTED_BY_APPLICATION,
    ),
    (
        "not requested",
        with_cert(handshake(certificate_requested=False, acceptable_ca_names=())),
        Cause.CLIENT_AUTH_NOT_REQUESTED,
    ),
    (
        "no certificate, alert 116",
        DiagnosisFacts(identity=None, without_certificate=refused(116, certificate_sent=False)),
        Cause.NO_CERTIFICATE_SENT,
    ),
    (
        "no certificate, nginx page",
        DiagnosisFacts(
            identity=None,
            without_certificate=handshake(
                certificate_sent=False, http=nginx_page("No required SSL certificate was sent")
            ),
        ),
        Cause.NO_CERTIFICATE_SENT,
    ),
    ("expired (alert 45)", with_cert(refused(45), identity=EXPIRED), Cause.CERTIFICATE_EXPIRED),
    (
        "expired (nginx page, no alert)",
        with_cert(handshake(http=nginx_page()), identity=EXPIRED),
        Cause.CERTIFICATE_EXPIRED,
    ),
    ("not yet valid", with_cert(refused(42), identity=NOT_YET), Cause.CERTIFICATE_NOT_YET_VALID),
    ("revoked by alert", with_cert(refused(44)), Cause.CERTIFICATE_REVOKED),
    (
        "revoked by CRL, nginx page",
        with_cert(
            handshake(http=nginx_page()),
            revocation=(
                RevocationFacts(
                    status=RevocationStatus.REVOKED, method="crl", detail="keyCompromise"
                ),
            ),
        ),
        Cause.CERTIFICATE_REVOKED,
    ),
    (
        "untrusted issuer",
        with_cert(refused(48), identity=UNTRUSTED, chain=ChainFacts()),
        Cause.UNTRUSTED_ISSUER,
    ),
    (
        "rotated: alert 48 with an accepted issuer name",
        with_cert(refused(48)),
        Cause.ISSUER_ROTATED,
    ),
    (
        "rotated: same-name CA with another key in the server's bundle",
        with_cert(handshake(http=nginx_page()), chain=chain_facts(same_name_other_key=(ROOT,))),
        Cause.ISSUER_ROTATED,
    ),
    (
        "missing intermediate",
        with_cert(
            refused(48),
            identity=identity(chain=(), path_length=0),
            chain=chain_facts(
                ChainLink(certificate=ca(ISSUING, ROOT), source=Source.DIRECTORY, sent=False)
            ),
        ),
        Cause.MISSING_INTERMEDIATE,
    ),
    (
        "private key missing",
        DiagnosisFacts(identity=NO_KEY, without_certificate=refused(116)),
        Cause.PRIVATE_KEY_MISSING,
    ),
    (
        "private key mismatch",
        DiagnosisFacts(identity=BAD_KEY, without_certificate=refused(116)),
        Cause.PRIVATE_KEY_MISMATCH,
    ),
    ("wrong key usage", with_cert(refused(43), identity=SERVER_EKU), Cause.WRONG_KEY_USAGE),
    ("unsupported key", with_cert(refused(42), identity=WEAK), Cause.UNSUPPORTED_KEY),
    (
        "certificate not sent: no common signature algorithm",
        with_cert(refused(116, certificate_sent=False)),
        Cause.UNSUPPORTED_KEY,
    ),
    (
        "wrong certificate selected",
        with_cert(
            refused(48),
            identity=UNTRUSTED,
            chain=ChainFacts(),
            selected_by_user=True,
            alternatives=(Alternative(identity=GOOD, fits=True, accepted=True),),
        ),
        Cause.WRONG_CERTIFICATE_SELECTED,
    ),
    ("rejected, nothing explains it", with_cert(refused(45)), Cause.REJECTED_UNEXPLAINED),
    (
        "nginx page, nothing local, revocation unknown",
        with_cert(handshake(http=nginx_page())),
        Cause.REJECTED_UNEXPLAINED,
    ),
]


@pytest.mark.parametrize(("name", "facts", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_cause_is_reached(name: str, facts: DiagnosisFacts, expected: Cause) -> None:
    assert verdict_of(facts) is expected


def test_every_non_network_cause_is_covered() -> None:
    covered = {expected for _, _, expected in CASES}
    network = {Cause.UNREACHABLE, Cause.TIMEOUT, Cause.NOT_TLS}
    assert covered == set(Cause) - network


@pytest.mark.parametrize(
    "cause", sorted({c for _, _, c in CASES} - {Cause.ACCEPTED, Cause.NO_CERTIFICATE_SENT})
)
def test_the_healthy_case_names_no_other_cause(cause: Cause) -> None:
    findings, verdict = diagnose(with_cert(), NOW)
    assert verdict.cause is Cause.ACCEPTED
    assert all(f.cause is not cause for f in findings if f.severity == "error")


def test_server_accepting_a_locally_expired_cert_is_still_accepted() -> None:
    findings, verdict = diagnose(with_cert(identity=EXPIRED), NOW)
    assert verdict.cause is Cause.ACCEPTED
    assert "certificate_expired" in {f.code for f in findings}


def test_the_servers_alert_breaks_ties_between_local_problems() -> None:
    both = identity(certificate=cert(not_after=NOW - timedelta(days=1), issuer=OTHER_ROOT))
    facts = with_cert(refused(45), identity=both, chain=ChainFacts())
    assert verdict_of(facts) is Cause.CERTIFICATE_EXPIRED
    # Without a specific alert, the chain comes first: renewing from that CA would not help.
    assert verdict_of(replace(facts, attempt=handshake(http=nginx_page()))) is (
        Cause.UNTRUSTED_ISSUER
    )


def test_generic_refusal_is_not_blamed_on_rotation_without_evidence() -> None:
    facts = with_cert(handshake(http=nginx_page()))
    assert verdict_of(facts) is Cause.REJECTED_UNEXPLAINED
    revocation_good = (RevocationFacts(status=RevocationStatus.GOOD, method="ocsp"),)
    holding_root = chain_facts(
        ChainLink(certificate=ca(ISSUING, ROOT), source=Source.SENT, sent=True),
        ChainLink(certificate=ca(ROOT), source=Source.SENT, sent=True),
    )
    proven = replace(facts, revocation=revocation_good, chain=holding_root)
    assert verdict_of(proven) is Cause.ISSUER_ROTATED


def test_key_problem_does_not_matter_where_no_certificate_is_asked() -> None:
    facts = DiagnosisFacts(
        identity=NO_KEY,
        without_certificate=handshake(certificate_requested=False, certificate_sent=False),
    )
    assert verdict_of(facts) is Cause.CLIENT_AUTH_NOT_REQUESTED


def test_optional_server_serves_without_a_certificate() -> None:
    facts = DiagnosisFacts(identity=None, without_certificate=handshake(certificate_sent=False))
    assert verdict_of(facts) is Cause.ACCEPTED


def test_verdict_carries_fixes_and_specific_summary() -> None:
    _, verdict = diagnose(with_cert(refused(45), identity=EXPIRED), NOW)
    assert "2 days ago" in verdict.summary
    assert "alert 45" in verdict.summary
    assert any("Renew" in fix for fix in verdict.fixes)


def test_certificate_not_sent_blames_the_algorithms_only_when_none_fits() -> None:
    """An RSA-PSS key went unsent while rsa_pss_pss_* was offered: 'none fits' was false."""
    offered = ("ecdsa_secp256r1_sha256", "rsa_pss_pss_sha256", "rsa_pss_rsae_sha256")
    rsa = identity(certificate=cert(key_type="RSA", key_bits=2048, curve=None))
    attempt = refused(116, certificate_sent=False, signature_algorithms=offered)
    verdict = diagnose(with_cert(attempt, identity=rsa), NOW)[1]
    assert verdict.cause is Cause.UNSUPPORTED_KEY
    assert "none of the signature algorithms" not in verdict.summary
    assert "rsa_pss_pss_sha256" in verdict.summary
    only_ecdsa = with_cert(
        refused(116, certificate_sent=False, signature_algorithms=("ecdsa_secp256r1_sha256",)),
        identity=rsa,
    )
    assert "none of the signature algorithms" in diagnose(only_ecdsa, NOW)[1].summary


@pytest.mark.parametrize(
    ("protocol", "browser_advice"),
    [("https", True), ("tls", True), ("redis", False), ("postgres", False), ("ldaps", False)],
)
def test_browser_advice_only_where_a_browser_could_be_the_client(
    protocol: str, browser_advice: bool
) -> None:
    """No browser speaks Redis or LDAP: its picker and cache are no fix there."""
    no_cert = DiagnosisFacts(
        identity=None,
        without_certificate=refused(116, certificate_sent=False),
        protocol=protocol,
    )
    expired = replace(with_cert(refused(45), identity=EXPIRED), protocol=protocol)
    for facts, cause in (
        (no_cert, Cause.NO_CERTIFICATE_SENT),
        (expired, Cause.CERTIFICATE_EXPIRED),
    ):
        verdict = diagnose(facts, NOW)[1]
        assert verdict.cause is cause
        text = " ".join(verdict.fixes).lower()
        assert ("browser" in text) is browser_advice, verdict.fixes
        assert all(fix.strip() for fix in verdict.fixes)
        assert len(set(verdict.fixes)) == len(verdict.fixes), verdict.fixes
    assert ("identities --for" in " ".join(diagnose(no_cert, NOW)[1].fixes)) is browser_advice


@pytest.mark.parametrize(("name", "facts", "cause"), CASES, ids=[c[0] for c in CASES])
def test_no_fix_is_given_twice(name: str, facts: DiagnosisFacts, cause: Cause) -> None:
    for protocol in ("https", "redis"):
        fixes = diagnose(replace(facts, protocol=protocol), NOW)[1].fixes
        assert len(set(fixes)) == len(fixes), (name, protocol, fixes)


@pytest.mark.parametrize(
    ("protocol", "client"),
    [("https", "curl"), ("redis", "redis-cli"), ("postgres", "sslcert"), ("ldaps", "LDAPTLS_CERT")],
)
def test_the_fix_names_the_protocols_own_client(protocol: str, client: str) -> None:
    facts = DiagnosisFacts(
        identity=None, without_certificate=refused(116, certificate_sent=False), protocol=protocol
    )
    fixes = " ".join(diagnose(facts, NOW)[1].user_fixes)
    assert client in fixes
    assert ("curl" in fixes) is (protocol == "https")


@pytest.mark.parametrize(
    ("protocol", "setting"),
    [
        ("https", "ssl_client_certificate"),
        ("redis", "tls-ca-cert-file"),
        ("postgres", "ssl_ca_file"),
        ("mysql", "ssl_ca"),
        ("mqtt", "cafile"),
        ("imaps", "ssl_ca"),
        ("ldaps", "olcTLSCACertificateFile"),
    ],
)
def test_the_server_fix_names_that_servers_own_setting(protocol: str, setting: str) -> None:
    """A rotated CA on a Redis or LDAP server is not fixed in nginx's configuration."""
    facts = replace(with_cert(refused(48)), protocol=protocol)
    verdict = diagnose(facts, NOW)[1]
    assert verdict.cause is Cause.ISSUER_ROTATED
    server = " ".join(verdict.server_fixes)
    assert setting in server
    web = protocol == "https"
    assert ("nginx" in server) is web and ("lint-server" in server) is web
    assert "mtls-doctor watch --issuing-ca" in server
