"""The pure rules of ``watch``: usage, expiry states, trust by name and key, drift."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from mtls_doctor.model import CertFacts, Severity
from mtls_doctor.rules.probe import ClientAuth
from mtls_doctor.watch.drift import identity_status, usage_of, watch_report
from mtls_doctor.watch.facts import (
    Acceptance,
    Handshake,
    IssuingCA,
    ServerView,
    Usage,
    WatchFacts,
)
from mtls_doctor.watch.trust import issuing_cas, trust_in_bundle
from tests.factories import ISSUING, NOW, ROOT, cert, identity
from tests.factories import ca as plain_ca


def ca(subject: str, issuer: str | None = None, **overrides: Any) -> CertFacts:
    """A CA certificate with any fact overridden (its key too)."""
    return replace(plain_ca(subject, issuer), **overrides)


OLD_ROOT = ca(ROOT, subject_key_id="01", spki_sha256="a1" * 32)
NEW_ROOT = ca(ROOT, subject_key_id="02", spki_sha256="a2" * 32)


def issuing(root: CertFacts = OLD_ROOT, key: str = "bb") -> IssuingCA:
    """The issuing CA (key id ``key``) under ``root``."""
    cert_ = ca(ISSUING, ROOT, subject_key_id=key, authority_key_id=root.subject_key_id)
    return IssuingCA(subject=ISSUING, key_id=key, certificate=cert_, explicit=True, source="x")


def config_server(name: str, *trusted: CertFacts) -> ServerView:
    return ServerView(
        name=name,
        source="config",
        client_auth=ClientAuth.REQUIRED,
        advertised=tuple(c.subject for c in trusted),
        trusted=trusted,
    )


@pytest.mark.parametrize(
    ("eku", "usage"),
    [
        (("clientAuth",), Usage.CLIENT),
        (("serverAuth",), Usage.SERVER),
        (("clientAuth", "serverAuth"), Usage.BOTH),
        (None, Usage.BOTH),
        (("anyExtendedKeyUsage",), Usage.BOTH),
        (("emailProtection",), Usage.OTHER),
    ],
)
def test_usage_from_extended_key_usage(eku: tuple[str, ...] | None, usage: Usage) -> None:
    assert usage_of(cert(extended_key_usage=eku)) is usage


@pytest.mark.parametrize(
    ("days", "state", "severity"),
    [
        (100, "ok", None),
        (30, "warning", Severity.WARNING),
        (8, "warning", Severity.WARNING),
        (7, "critical", Severity.ERROR),
        (0, "critical", Severity.ERROR),
        (-1, "expired", Severity.ERROR),
    ],
)
def test_expiry_states(days: int, state: str, severity: Severity | None) -> None:
    item = identity(certificate=cert(not_after=NOW + timedelta(days=days, hours=1)))
    status = identity_status(item, NOW, warn_days=30, crit_days=7)
    assert status.state == state
    assert [f.severity for f in status.findings] == ([severity] if severity else [])


def test_not_yet_valid_is_an_error() -> None:
    item = identity(certificate=cert(not_before=NOW + timedelta(days=2)))
    status = identity_status(item, NOW, warn_days=30, crit_days=7)
    assert status.state == "not_yet_valid"
    assert status.findings[0].severity is Severity.ERROR


def test_bundle_trusts_by_name_and_key() -> None:
    assert trust_in_bundle(issuing(), [OLD_ROOT]).acceptance is Acceptance.BY_KEY
    # same name, other key: the signature of a stale bundle, with both key ids
    trust = trust_in_bundle(issuing(NEW_ROOT), [OLD_ROOT])
    assert trust.acceptance is Acceptance.ROTATED
    assert trust.stale is OLD_ROOT
    assert trust.expected_key_id == "02"
    assert trust_in_bundle(issuing(), [ca("CN=Other")]).acceptance is Acceptance.REJECTED
    # the CA itself in the bundle, compared by SPKI
    ca_itself = issuing().certificate
    assert trust_in_bundle(issuing(), [ca_itself]).acceptance is Acceptance.BY_KEY


def test_rotation_names_the_stale_server_and_both_key_ids() -> None:
    new = issuing(NEW_ROOT, key="cc")
    alice = identity(
        certificate=cert(authority_key_id="cc"), chain=(new.certificate,), path_length=1
    )
    facts = WatchFacts(
        now=NOW,
        identities=(alice,),
        issuing_cas=(new,),
        servers=(
            config_server("updated.conf:3", OLD_ROOT, NEW_ROOT),
            config_server("stale.conf:7", OLD_ROOT),
        ),
    )
    report = watch_report(facts, warn_days=30, crit_days=7)
    assert report.matrix[(0, 0)] is Acceptance.BY_KEY
    assert report.matrix[(0, 1)] is Acceptance.ROTATED
    [finding] = report.drift
    assert finding.finding.code == "issuer_rotated"
    assert finding.server == "stale.conf:7"
    assert finding.trusted_key_id == "01"
    assert "key id 01" in finding.finding.message and "key id 02" in finding.finding.message
    assert finding.identities == ("alice.p12",)
    assert report.has_findings


def test_new_issuing_ca_not_accepted_yet_and_old_ca_still_trusted() -> None:
    old = issuing(OLD_ROOT, key="bb")
    new = IssuingCA(
        subject=ISSUING,
        key_id="cc",
        certificate=ca(ISSUING, "CN=New Root", subject_key_id="cc", spki_sha256="c" * 64),
        explicit=True,
    )
    expired = identity(certificate=cert(not_after=NOW - timedelta(days=3)))
    facts = WatchFacts(
        now=NOW,
        identities=(expired,),
        issuing_cas=(old, new),
        servers=(config_server("web.conf:1", OLD_ROOT),),
    )
    report = watch_report(facts, warn_days=30, crit_days=7)
    codes = {(d.finding.code, d.ca.key_id if d.ca else None) for d in report.drift}
    assert ("issuing_ca_not_accepted", "cc") in codes
    assert ("old_issuing_ca_still_trusted", "bb") in codes
    message = next(d for d in report.drift if d.finding.code == "issuing_ca_not_accepted")
    assert "new issuing CA" in message.finding.message


def test_probe_names_only_is_unconfirmed_and_a_handshake_settles_it() -> None:
    ca_ = issuing()
    named = ServerView(
        name="a:443", source="probe", client_auth=ClientAuth.REQUIRED, advertised=(ROOT,)
    )
    refused = ServerView(
        name="b:443",
        source="probe",
        client_auth=ClientAuth.REQUIRED,
        advertised=(ROOT,),
        handshakes=(
            Handshake(ca=0, identity="alice.p12", accepted=False, evidence="TLS alert 48"),
        ),
    )
    accepted = ServerView(
        name="c:443",
        source="probe",
        client_auth=ClientAuth.OPTIONAL,
        advertised=(),
        handshakes=(Handshake(ca=0, identity="alice.p12", accepted=True, evidence="HTTP 200"),),
    )
    elsewhere = ServerView(
        name="d:443", source="probe", client_auth=ClientAuth.REQUIRED, advertised=("CN=Other",)
    )
    down = ServerView(name="e:443", source="probe", client_auth=None, error="connection refused")
    facts = WatchFacts(
        now=NOW,
        identities=(identity(),),
        issuing_cas=(ca_,),
        servers=(named, refused, accepted, elsewhere, down),
    )
    report = watch_report(facts, warn_days=30, crit_days=7)
    assert [report.matrix[(0, j)] for j in range(5)] == [
        Acceptance.BY_NAME,
        Acceptance.ROTATED,
        Acceptance.BY_HANDSHAKE,
        Acceptance.NOT_ADVERTISED,
        Acceptance.UNREACHABLE,
    ]
    by_server = {d.server: d.finding for d in report.drift}
    assert by_server["a:443"].severity is Severity.INFO
    assert by_server["b:443"].code == "issuer_rotated"
    assert "c:443" not in by_server
    assert by_server["d:443"].code == "issuing_ca_not_advertised"
    assert by_server["e:443"].code == "server_unreachable"


def test_trust_anchor_expiring_before_identities() -> None:
    short_root = ca(
        ROOT, subject_key_id="01", spki_sha256="a1" * 32, not_after=NOW + timedelta(days=20)
    )
    facts = WatchFacts(
        now=NOW,
        identities=(identity(),),
        issuing_cas=(issuing(),),
        servers=(config_server("web.conf:1", short_root),),
    )
    [finding] = watch_report(facts, warn_days=30, crit_days=7).drift
    assert finding.finding.code == "trust_ends_before_identities"
    assert "alice.p12" in finding.finding.message


def test_issuers_inferred_from_identities_once() -> None:
    a = identity(source="a.p12")
    b = identity(source="b.p12")
    bare = identity(
        source="c.pem",
        chain=(),
        path_length=0,
        certificate=cert(issuer="CN=X", authority_key_id="09"),
    )
    cas = issuing_cas([a, b, bare], [])
    assert [(c.subject, c.key_id) for c in cas] == [(ISSUING, "aa"), ("CN=X", "09")]


def test_healthy_fleet_has_no_findings() -> None:
    facts = WatchFacts(
        now=NOW,
        identities=(identity(),),
        issuing_cas=(issuing(),),
        servers=(config_server("web.conf:1", OLD_ROOT),),
    )
    report = watch_report(facts, warn_days=30, crit_days=7)
    assert report.drift == ()
    assert not report.has_findings


def test_on_the_issuance_graph_signatures_decide_not_key_ids() -> None:
    """A same-name root whose key id was copied still is another key: the graph says so."""
    from mtls_doctor.graph import IssuanceGraph, Node, Source

    new_root = ca(ROOT, subject_key_id="02", fingerprint_sha256="n" * 64)
    # a stale root whose SKI claims the new key: key ids alone would call it the same key
    old_root = ca(ROOT, subject_key_id="02", fingerprint_sha256="o" * 64)
    issuing_cert = ca(ISSUING, ROOT, authority_key_id="02", fingerprint_sha256="i" * 64)
    new = IssuingCA(subject=ISSUING, key_id="aa", certificate=issuing_cert, explicit=True)
    signed = {("n" * 64, "n" * 64), ("o" * 64, "o" * 64), ("n" * 64, "i" * 64)}

    def graph(*trusted: CertFacts) -> IssuanceGraph:
        nodes = [
            Node(new_root, frozenset({Source.CANDIDATE})),
            Node(issuing_cert, frozenset({Source.CANDIDATE})),
            *(Node(c, frozenset({Source.SERVER_CA})) for c in trusted),
        ]
        return IssuanceGraph.of(nodes, signed)

    assert trust_in_bundle(new, [old_root]).acceptance is Acceptance.BY_KEY  # fooled
    stale = trust_in_bundle(new, [old_root], graph(old_root))
    assert stale.acceptance is Acceptance.ROTATED
    assert stale.stale is old_root
    updated = trust_in_bundle(new, [old_root, new_root], graph(old_root, new_root))
    assert updated.acceptance is Acceptance.BY_KEY
    assert updated.via is new_root
    other = trust_in_bundle(
        new, [ca("CN=Other")], graph(ca("CN=Other", fingerprint_sha256="x" * 64))
    )
    assert other.acceptance is Acceptance.REJECTED
