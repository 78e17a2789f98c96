"""Offline acceptance (lint-server --user-cert) on hand-built issuance graphs (no crypto)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from mtls_doctor.causes import Cause
from mtls_doctor.graph import CrlNode, IssuanceGraph, Node, Source
from mtls_doctor.model import CertFacts
from mtls_doctor.rules.acceptance import Judgement, judge
from mtls_doctor.serverconf.facts import (
    CrlCheck,
    IgnoredErrors,
    ServerKind,
    TLSServerBlock,
    VerifyMode,
    Where,
)
from mtls_doctor.x509errors import X509Error
from tests.factories import ISSUING, NOW, ROOT, ca, cert

HERE = Where(file="/etc/x.conf", line=1)


def fp(name: str) -> str:
    return f"{name:0>64}"[-64:]


LEAF = cert(fingerprint_sha256=fp("leaf"), serial="2a")
INTER = ca(ISSUING, ROOT, fingerprint_sha256=fp("inter"))
ROOT_CA = ca(ROOT, fingerprint_sha256=fp("root"))
NEW_ROOT = ca(ROOT, fingerprint_sha256=fp("newroot"))
SIGNED = [(INTER, LEAF), (ROOT_CA, INTER), (ROOT_CA, ROOT_CA), (NEW_ROOT, NEW_ROOT)]


def block(kind: ServerKind = ServerKind.NGINX, **overrides: Any) -> TLSServerBlock:
    return TLSServerBlock(
        kind=kind,
        where=HERE,
        name="",
        listen=("443",),
        verify=overrides.pop("verify", VerifyMode.REQUIRED),
        verify_depth=overrides.pop("verify_depth", 2),
        **overrides,
    )


def graph(
    *nodes: tuple[CertFacts, Source], signed: list[tuple[CertFacts, CertFacts]] = SIGNED, **kw: Any
) -> IssuanceGraph:
    known = {c.fingerprint_sha256 for c, _ in nodes}
    edges = [
        (i.fingerprint_sha256, s.fingerprint_sha256)
        for i, s in signed
        if i.fingerprint_sha256 in known and s.fingerprint_sha256 in known
    ]
    return IssuanceGraph.of((Node(c, frozenset({s})) for c, s in nodes), edges, kw.get("crls", ()))


def verdict(b: TLSServerBlock, g: IssuanceGraph, start: CertFacts = LEAF) -> Judgement:
    return judge(
        b, g, start.fingerprint_sha256, now=NOW, offset=0, subject="alice", advertised=(ROOT,)
    )


SENT, TRUSTED, CANDIDATE = Source.SENT, Source.SERVER_CA, Source.CANDIDATE


@pytest.mark.parametrize(
    ("nodes", "expected", "code"),
    [
        ([(LEAF, SENT), (INTER, SENT), (ROOT_CA, TRUSTED)], Cause.ACCEPTED, None),
        # The server holds the intermediate itself: nothing needs sending.
        ([(LEAF, SENT), (INTER, TRUSTED), (ROOT_CA, TRUSTED)], Cause.ACCEPTED, None),
        ([(LEAF, SENT), (INTER, CANDIDATE), (ROOT_CA, TRUSTED)], Cause.MISSING_INTERMEDIATE, 21),
        ([(LEAF, SENT), (INTER, Source.AIA), (ROOT_CA, TRUSTED)], Cause.MISSING_INTERMEDIATE, 21),
        ([(LEAF, SENT), (ROOT_CA, TRUSTED)], Cause.UNTRUSTED_ISSUER, 21),
        ([(LEAF, SENT), (INTER, SENT), (NEW_ROOT, TRUSTED)], Cause.ISSUER_ROTATED, 20),
        # A trusted intermediate without its root trusts nothing (no partial chains).
        ([(LEAF, SENT), (INTER, TRUSTED)], Cause.REJECTED_UNEXPLAINED, 2),
    ],
)
def test_chain(nodes: list[tuple[CertFacts, Source]], expected: Cause, code: int | None) -> None:
    judgement = verdict(block(), graph(*nodes))
    assert judgement.verdict.cause is expected, judgement.verdict
    if code is not None:
        assert code in {int(e.code) for e in judgement.errors}


def test_verify_depth_counts_intermediates() -> None:
    g = graph((LEAF, SENT), (INTER, SENT), (ROOT_CA, TRUSTED))
    too_shallow = verdict(block(ServerKind.APACHE, verify_depth=1), g)
    assert too_shallow.verdict.cause is Cause.REJECTED_UNEXPLAINED
    assert too_shallow.errors[0].code is X509Error.CERT_CHAIN_TOO_LONG
    assert "SSLVerifyDepth 2" in too_shallow.verdict.fixes[0]
    assert verdict(block(ServerKind.NGINX, verify_depth=1), g).verdict.cause is Cause.ACCEPTED


def crl(issuer: CertFacts, *, days_left: int = 5, revoked: tuple[str, ...] = ()) -> CrlNode:
    return CrlNode(
        fp=fp(f"crl-{issuer.fingerprint_sha256[-6:]}"),
        issuer=issuer.subject,
        signed_by=(issuer.fingerprint_sha256,),
        this_update=NOW - timedelta(days=1),
        next_update=NOW + timedelta(days=days_left),
        revoked=frozenset(revoked),
    )


@pytest.mark.parametrize(
    ("crls", "expected", "code"),
    [
        ((crl(INTER), crl(ROOT_CA)), Cause.ACCEPTED, None),
        ((crl(INTER, revoked=("2a",)), crl(ROOT_CA)), Cause.CERTIFICATE_REVOKED, 23),
        ((crl(INTER, days_left=-1), crl(ROOT_CA)), Cause.REJECTED_UNEXPLAINED, 12),
        ((crl(INTER),), Cause.REJECTED_UNEXPLAINED, 3),
    ],
)
def test_crls(crls: tuple[CrlNode, ...], expected: Cause, code: int | None) -> None:
    g = graph((LEAF, SENT), (INTER, SENT), (ROOT_CA, TRUSTED), crls=crls)
    judgement = verdict(block(crl_check=CrlCheck.CHAIN), g)
    assert judgement.verdict.cause is expected, judgement.verdict
    if code is not None:
        assert code in {int(e.code) for e in judgement.errors}


def test_a_crl_signed_by_another_key_does_not_count() -> None:
    forged = CrlNode(fp=fp("forged"), issuer=ISSUING, signed_by=(), this_update=NOW)
    g = graph((LEAF, SENT), (INTER, SENT), (ROOT_CA, TRUSTED), crls=(forged, crl(ROOT_CA)))
    judgement = verdict(block(crl_check=CrlCheck.CHAIN), g)
    assert {int(e.code) for e in judgement.errors} == {3}


def test_policies_let_errors_through() -> None:
    g = graph((LEAF, SENT), (ROOT_CA, TRUSTED))
    nginx = verdict(block(verify=VerifyMode.OPTIONAL_NO_CA), g)
    assert nginx.verdict.cause is Cause.ACCEPTED
    assert nginx.ignored
    ignore = IgnoredErrors(option="crt-ignore-err", values=("20", "21"), where=HERE)
    haproxy = verdict(block(ServerKind.HAPROXY, ignore_errors=(ignore,)), g)
    assert haproxy.verdict.cause is Cause.ACCEPTED
    named = IgnoredErrors(option="crt-ignore-err", values=("X509_V_ERR_CERT_REVOKED",), where=HERE)
    assert verdict(block(ServerKind.HAPROXY, ignore_errors=(named,)), g).verdict.cause is (
        Cause.UNTRUSTED_ISSUER
    )


def test_client_auth_off_judges_nothing() -> None:
    judgement = verdict(block(verify=VerifyMode.NONE), graph((LEAF, SENT)))
    assert judgement.verdict.cause is Cause.CLIENT_AUTH_NOT_REQUESTED


def test_x509_error_vocabulary() -> None:
    assert X509Error.parse("20") is X509Error.UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    assert X509Error.parse("x509_v_err_cert_revoked") is X509Error.CERT_REVOKED
    assert X509Error.parse("CERT_REVOKED") is None  # HAProxy wants the full name
    assert X509Error.parse("999") is None
    assert X509Error.CERT_HAS_EXPIRED.text == "certificate has expired"
    assert X509Error.CERT_HAS_EXPIRED.openssl_name == "X509_V_ERR_CERT_HAS_EXPIRED"
