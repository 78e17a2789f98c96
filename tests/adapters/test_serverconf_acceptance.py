"""Offline acceptance on the lab's real certificates and CRLs, at a fixed time."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from mtls_doctor.bundle import load_identities
from mtls_doctor.causes import Cause
from mtls_doctor.lab.pki import LabPKI, build_crl
from mtls_doctor.rules.verify_policy import VerifyError, ignored_by_policy, openssl_order
from mtls_doctor.serverconf.acceptance import judge_identity, judge_issuing_ca
from mtls_doctor.serverconf.facts import (
    ConfigFile,
    CrlCheck,
    FileRole,
    IgnoredErrors,
    ServerKind,
    TLSServerBlock,
    VerifyMode,
    Where,
)
from mtls_doctor.serverconf.material import LoadedBlock, MaterialLoader, load_certificates
from mtls_doctor.x509errors import X509Error
from tests.conftest import LAB_NOW

HERE = Where(file="/etc/x.conf", line=1)


def block(
    kind: ServerKind = ServerKind.NGINX,
    *,
    ca: Path,
    crl: Path | None = None,
    **overrides: Any,
) -> tuple[TLSServerBlock, LoadedBlock]:
    files = [
        ConfigFile(role=FileRole.CLIENT_CA, path=str(ca), written="", directive="ca", where=HERE)
    ]
    if crl is not None:
        files.append(
            ConfigFile(role=FileRole.CRL, path=str(crl), written="", directive="crl", where=HERE)
        )
    facts = TLSServerBlock(
        kind=kind,
        where=HERE,
        name="",
        listen=("443",),
        verify=overrides.pop("verify", VerifyMode.REQUIRED),
        files=tuple(files),
        crl_check=CrlCheck.CHAIN if crl is not None else CrlCheck.NONE,
        **overrides,
    )
    return facts, MaterialLoader().load(facts)


def judge(lab: LabPKI, name: str, facts: TLSServerBlock, loaded: LoadedBlock) -> Cause:
    identity = load_identities([lab.identities[name].pem]).identities[0]
    return judge_identity(facts, loaded, identity, LAB_NOW).verdict.cause


def crl_file(lab: LabPKI, tmp_path: Path, *, stale: bool) -> Path:
    revoked = [lab.identities["revoked"].certificate.serial_number]
    inter = build_crl(
        lab.intermediate,
        revoked,
        now=LAB_NOW,
        this_update=LAB_NOW - timedelta(days=10) if stale else None,
    )
    root = build_crl(lab.root, [], now=LAB_NOW)
    path = tmp_path / ("stale.pem" if stale else "fresh.pem")
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (inter, root)))
    return path


@pytest.mark.parametrize(
    ("kind", "depth", "cause"),
    [
        (ServerKind.NGINX, None, Cause.ACCEPTED),
        (ServerKind.NGINX, 0, Cause.REJECTED_UNEXPLAINED),
        (ServerKind.APACHE, None, Cause.REJECTED_UNEXPLAINED),
        (ServerKind.APACHE, 2, Cause.ACCEPTED),
        (ServerKind.HAPROXY, None, Cause.ACCEPTED),
    ],
)
def test_depth(lab: LabPKI, kind: ServerKind, depth: int | None, cause: Cause) -> None:
    facts, loaded = block(kind, ca=lab.client_ca_bundle, verify_depth=depth)

    assert judge(lab, "good-ecdsa", facts, loaded) is cause


def test_depth_verdict_says_which_setting(lab: LabPKI) -> None:
    facts, loaded = block(ServerKind.APACHE, ca=lab.client_ca_bundle)
    identity = load_identities([lab.identities["good-rsa"].pem]).identities[0]

    verdict = judge_identity(facts, loaded, identity, LAB_NOW).verdict

    assert "SSLVerifyDepth" in verdict.summary and "chain too long" in verdict.summary
    assert verdict.fixes[0] == "Set `SSLVerifyDepth 2` in this block."


def test_crls(lab: LabPKI, tmp_path: Path) -> None:
    fresh = block(ca=lab.client_ca_bundle, crl=crl_file(lab, tmp_path, stale=False))
    stale = block(ca=lab.client_ca_bundle, crl=crl_file(lab, tmp_path, stale=True))
    partial = block(ca=lab.client_ca_bundle, crl=lab.crl_file)

    assert judge(lab, "good-ecdsa", *fresh) is Cause.ACCEPTED
    assert judge(lab, "revoked", *fresh) is Cause.CERTIFICATE_REVOKED
    assert judge(lab, "good-ecdsa", *stale) is Cause.REJECTED_UNEXPLAINED
    assert judge(lab, "revoked", *stale) is Cause.CERTIFICATE_REVOKED  # the more useful cause
    assert judge(lab, "good-ecdsa", *partial) is Cause.REJECTED_UNEXPLAINED


def test_client_auth_off_and_key_problems(lab: LabPKI) -> None:
    off = block(ca=lab.client_ca_bundle, verify=VerifyMode.NONE)
    on = block(ca=lab.client_ca_bundle)

    assert judge(lab, "expired", *off) is Cause.CLIENT_AUTH_NOT_REQUESTED
    # The server judges the certificate: its key is not needed; a wrong one still blocks.
    assert judge(lab, "no-key", *on) is Cause.ACCEPTED
    assert judge(lab, "mismatched-key", *on) is Cause.PRIVATE_KEY_MISMATCH


def test_issuing_ca(lab: LabPKI, tmp_path: Path) -> None:
    ca = lab.directory / "ca"
    facts, loaded = block(ca=lab.client_ca_bundle)
    with_crl = block(ca=lab.client_ca_bundle, crl=lab.directory / "ca" / "root.crl.pem")

    def cause(path: Path, target: tuple[TLSServerBlock, LoadedBlock] = (facts, loaded)) -> Cause:
        return judge_issuing_ca(*target, load_certificates(path), LAB_NOW).verdict.cause

    assert cause(ca / "intermediate.pem") is Cause.ACCEPTED
    assert cause(ca / "root.pem") is Cause.ACCEPTED
    assert cause(ca / "rotated-root.pem") is Cause.ISSUER_ROTATED
    assert cause(ca / "unrelated-ca.pem") is Cause.UNTRUSTED_ISSUER
    # CRL checking on, and no CRL from the new issuing CA: its certificates are refused.
    assert cause(ca / "intermediate.pem", with_crl) is Cause.REJECTED_UNEXPLAINED


def error(code: int, depth: int) -> VerifyError:
    return VerifyError(X509Error(code), depth, Cause.UNTRUSTED_ISSUER, f"{code}@{depth}")


@pytest.mark.parametrize(
    ("kind", "overrides", "errors", "ignored"),
    [
        # nginx optional_no_ca judges only the last error OpenSSL recorded.
        (ServerKind.NGINX, {"verify": VerifyMode.OPTIONAL_NO_CA}, [(19, 1)], 1),
        (ServerKind.NGINX, {"verify": VerifyMode.OPTIONAL_NO_CA}, [(19, 1), (3, 0)], 0),
        (ServerKind.NGINX, {"verify": VerifyMode.OPTIONAL_NO_CA}, [(20, 0), (33, 0), (21, 0)], 3),
        (ServerKind.NGINX, {}, [(19, 1)], 0),
        # Apache judges each error and stops at the first it refuses.
        (ServerKind.APACHE, {"verify": VerifyMode.OPTIONAL_NO_CA}, [(20, 0), (3, 0)], 1),
        # HAProxy: crt-ignore-err covers depth 0, ca-ignore-err the chain above.
        (
            ServerKind.HAPROXY,
            {
                "ignore_errors": (
                    IgnoredErrors(option="crt-ignore-err", values=("all",), where=HERE),
                )
            },
            [(19, 1), (10, 0)],
            0,
        ),
        (
            ServerKind.HAPROXY,
            {
                "ignore_errors": (
                    IgnoredErrors(option="crt-ignore-err", values=("10",), where=HERE),
                )
            },
            [(10, 0)],
            1,
        ),
        (
            ServerKind.HAPROXY,
            {
                "ignore_errors": (
                    IgnoredErrors(
                        option="ca-ignore-err",
                        values=("X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN",),
                        where=HERE,
                    ),
                )
            },
            [(19, 1)],
            1,
        ),
    ],
)
def test_error_policies(
    lab: LabPKI,
    kind: ServerKind,
    overrides: dict[str, Any],
    errors: list[tuple[int, int]],
    ignored: int,
) -> None:
    facts, _ = block(kind, ca=lab.client_ca_bundle, **overrides)
    ordered = sorted((error(c, d) for c, d in errors), key=openssl_order)

    assert len(ignored_by_policy(facts, ordered)) == ignored


def test_openssl_order_puts_signature_and_dates_last_top_down() -> None:
    ordered = sorted(
        [error(10, 0), error(3, 0), error(21, 0), error(10, 1), error(20, 0)], key=openssl_order
    )

    assert [(e.code, e.depth) for e in ordered] == [(20, 0), (3, 0), (10, 1), (21, 0), (10, 0)]
