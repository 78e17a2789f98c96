"""The lint-server rules with hand-built facts and a fixed ``now``: every rule both ways."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import pytest

from mtls_doctor.graph import IssuanceGraph, Node, Source
from mtls_doctor.model import CertFacts, Severity
from mtls_doctor.rules.serverconf import (
    RULES,
    advertised_names,
    allowed_intermediates,
    allows_tls13,
    check_block,
    check_config,
    depth_needed,
)
from mtls_doctor.serverconf.facts import (
    BlockMaterial,
    ConfigFile,
    CrlCheck,
    CRLFacts,
    FileFacts,
    FileProblem,
    FileRole,
    IgnoredErrors,
    IgnoredSetting,
    ScopedVerify,
    ServerKind,
    TLSServerBlock,
    VerifyCheck,
    VerifyMode,
    Where,
)
from tests.factories import NOW, ca

F = "/etc/server/site.conf"
ROOT = ca("CN=Root", fingerprint_sha256="r" * 64, subject_key_id="r1")
INTER = ca(
    "CN=Inter",
    "CN=Root",
    fingerprint_sha256="i" * 64,
    subject_key_id="i1",
    authority_key_id="r1",
)
UNRELATED = ca("CN=Other", fingerprint_sha256="o" * 64, subject_key_id="o1")
LEAF = replace(
    ca("CN=leaf", "CN=Inter", fingerprint_sha256="l" * 64), is_ca=False, authority_key_id="i1"
)


def signed_graph(trusted: tuple[CertFacts, ...]) -> IssuanceGraph:
    """The verified graph, with "signed" standing for: the name and the key ids match."""
    edges = [
        (issuer.fingerprint_sha256, cert.fingerprint_sha256)
        for cert in trusted
        for issuer in trusted
        if issuer.subject == cert.issuer
        and (issuer is cert) == cert.self_signed
        and cert.authority_key_id in (None, issuer.subject_key_id)
    ]
    return IssuanceGraph.of((Node(c, frozenset({Source.SERVER_CA})) for c in trusted), edges)


def at(line: int) -> Where:
    return Where(file=F, line=line)


def crl(issuer: CertFacts, *, signed: bool = True, **overrides: Any) -> CRLFacts:
    base = CRLFacts(
        issuer=issuer.subject,
        this_update=NOW - timedelta(hours=1),
        next_update=NOW + timedelta(days=7),
        revoked_serials=(),
        authority_key_id=issuer.subject_key_id,
        fingerprint_sha256="c" * 64,
        verified_by=issuer.fingerprint_sha256 if signed else None,
    )
    return replace(base, **overrides)


@dataclass
class Case:
    """A block, what its files hold, and the codes expected (and not expected)."""

    kind: ServerKind = ServerKind.NGINX
    verify: VerifyMode = VerifyMode.REQUIRED
    files: list[tuple[FileRole, tuple[CertFacts, ...], tuple[CRLFacts, ...]]] = field(
        default_factory=lambda: [(FileRole.CLIENT_CA, (ROOT,), ())]
    )
    problems: dict[int, FileProblem] = field(default_factory=dict)
    block: dict[str, Any] = field(default_factory=dict)
    present: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()

    def build(self) -> tuple[TLSServerBlock, BlockMaterial]:
        configs = [
            ConfigFile(
                role=role,
                path=f"/etc/ca/{number}.pem",
                written=f"{number}.pem",
                directive=f"directive{number}",
                where=at(10 + number),
            )
            for number, (role, _, _) in enumerate(self.files)
        ]
        block = TLSServerBlock(
            kind=self.kind,
            where=at(1),
            name="example",
            listen=("443",),
            verify=self.verify,
            verify_at=at(5) if self.verify is not VerifyMode.NONE else None,
            files=tuple(configs),
            **self.block,
        )
        material = BlockMaterial(
            files=tuple(
                FileFacts(
                    config=config,
                    problem=self.problems.get(number),
                    detail="boom" if number in self.problems else "",
                    certificates=certs,
                    crls=crls,
                )
                for number, (config, (_, certs, crls)) in enumerate(
                    zip(configs, self.files, strict=True)
                )
            )
        )
        return block, replace(material, graph=signed_graph(material.trusted))


CRL = FileRole.CRL
CA = FileRole.CLIENT_CA
TRUSTED = FileRole.TRUSTED_ONLY

CASES: dict[str, Case] = {
    "sound block: nothing to say": Case(absent=tuple(RULES)),
    "no client auth, no CA: info only": Case(
        verify=VerifyMode.NONE, files=[], present=("client_auth_not_requested",)
    ),
    "CA file but verification off": Case(verify=VerifyMode.NONE, present=("client_auth_off",)),
    "verification without any CA": Case(files=[], present=("no_client_ca",)),
    "missing file": Case(problems={0: FileProblem.MISSING}, present=("file_missing",)),
    "empty file": Case(problems={0: FileProblem.EMPTY}, present=("file_empty",)),
    "not PEM": Case(problems={0: FileProblem.NO_CONTENT}, present=("file_no_content",)),
    "expired CA": Case(
        files=[(CA, (replace(ROOT, not_after=NOW - timedelta(days=1)),), ())],
        present=("ca_expired",),
    ),
    "CA expiring within warn days": Case(
        files=[(CA, (replace(ROOT, not_after=NOW + timedelta(days=5)),), ())],
        present=("ca_expiring",),
        absent=("ca_expired",),
    ),
    "CA not valid yet": Case(
        files=[(CA, (replace(ROOT, not_before=NOW + timedelta(days=1)),), ())],
        present=("ca_not_yet_valid",),
    ),
    "leaf in the CA file": Case(files=[(CA, (ROOT, LEAF), ())], present=("ca_not_ca",)),
    "same CA twice": Case(
        files=[(CA, (ROOT,), ()), (TRUSTED, (ROOT,), ())], present=("ca_duplicate",)
    ),
    "rotation overlap": Case(
        files=[(CA, (ROOT, replace(ROOT, fingerprint_sha256="x" * 64, spki_sha256="y" * 64)), ())],
        present=("ca_same_name_other_key",),
    ),
    "intermediate-only bundle": Case(files=[(CA, (INTER,), ())], present=("ca_chain_incomplete",)),
    "intermediate with its root": Case(
        files=[(CA, (INTER, ROOT), ())], absent=("ca_chain_incomplete",)
    ),
    "nginx: trusted-only root hidden from the picker": Case(
        files=[(CA, (UNRELATED,), ()), (TRUSTED, (ROOT,), ())], present=("ca_names_hide_trusted",)
    ),
    "haproxy: root above an advertised intermediate is fine": Case(
        kind=ServerKind.HAPROXY,
        files=[(CA, (INTER,), ()), (TRUSTED, (ROOT,), ())],
        absent=("ca_names_hide_trusted", "ca_chain_incomplete"),
    ),
    "haproxy no-ca-names": Case(
        kind=ServerKind.HAPROXY, block={"no_ca_names_at": at(3)}, present=("ca_names_empty",)
    ),
    "apache DN file with an untrusted name": Case(
        kind=ServerKind.APACHE,
        files=[(CA, (ROOT,), ()), (FileRole.CA_NAMES, (UNRELATED,), ())],
        block={"verify_depth": 2},
        present=("ca_names_untrusted", "ca_names_hide_trusted"),
    ),
    "nginx depth 0 with an intermediate in the bundle": Case(
        files=[(CA, (ROOT, INTER), ())],
        block={"verify_depth": 0, "verify_depth_at": at(7)},
        present=("verify_depth_too_small",),
    ),
    "nginx default depth 1 with one intermediate": Case(
        files=[(CA, (ROOT, INTER), ())], absent=("verify_depth_too_small",)
    ),
    "apache default depth 1 with one intermediate": Case(
        kind=ServerKind.APACHE, files=[(CA, (ROOT, INTER), ())], present=("verify_depth_too_small",)
    ),
    "apache default depth with a root only": Case(
        kind=ServerKind.APACHE, present=("verify_depth_default",)
    ),
    "apache depth 2": Case(
        kind=ServerKind.APACHE,
        files=[(CA, (ROOT, INTER), ())],
        block={"verify_depth": 2},
        absent=("verify_depth_too_small", "verify_depth_default"),
    ),
    "chain CRL check without the root's CRL": Case(
        files=[(CA, (ROOT,), ()), (CRL, (), (crl(INTER),))],
        block={"crl_check": CrlCheck.CHAIN},
        present=("crl_missing_for_ca",),
    ),
    "chain CRL check with every CRL": Case(
        files=[(CA, (ROOT,), ()), (CRL, (), (crl(INTER), crl(ROOT)))],
        block={"crl_check": CrlCheck.CHAIN},
        absent=("crl_missing_for_ca", "crl_expired", "crl_expiring"),
    ),
    "expired CRL of an intermediate the client sends": Case(
        files=[
            (CA, (ROOT,), ()),
            (CRL, (), (crl(INTER, next_update=NOW - timedelta(hours=2)), crl(ROOT))),
        ],
        block={"crl_check": CrlCheck.CHAIN},
        present=("crl_expired",),
    ),
    "CRL expiring within the CRL window": Case(
        files=[(CA, (ROOT,), ()), (CRL, (), (crl(ROOT, next_update=NOW + timedelta(hours=5)),))],
        block={"crl_check": CrlCheck.CHAIN},
        present=("crl_expiring",),
    ),
    "CRL not valid yet": Case(
        files=[(CA, (ROOT,), ()), (CRL, (), (crl(ROOT, this_update=NOW + timedelta(days=1)),))],
        block={"crl_check": CrlCheck.CHAIN},
        present=("crl_not_yet_valid",),
    ),
    "CRL in the root's name signed by another key": Case(
        files=[(CA, (ROOT,), ()), (CRL, (), (crl(ROOT, signed=False), crl(INTER)))],
        block={"crl_check": CrlCheck.CHAIN},
        present=("crl_bad_signature",),
        absent=("crl_missing_for_ca",),
    ),
    "apache CRL file without SSLCARevocationCheck": Case(
        kind=ServerKind.APACHE,
        files=[(CA, (ROOT,), ()), (CRL, (), (crl(ROOT),))],
        block={"verify_depth": 2},
        present=("crl_not_checked",),
    ),
    "apache leaf check with the intermediate's CRL only": Case(
        kind=ServerKind.APACHE,
        files=[(CA, (ROOT,), ()), (CRL, (), (crl(INTER),))],
        block={"verify_depth": 2, "crl_check": CrlCheck.LEAF},
        present=("crl_leaf_only",),
        absent=("crl_missing_for_ca",),
    ),
    "no_crl_for_cert_ok makes a missing CRL informational": Case(
        kind=ServerKind.APACHE,
        files=[(CA, (ROOT,), ()), (CRL, (), (crl(INTER),))],
        block={"verify_depth": 2, "crl_check": CrlCheck.CHAIN, "crl_missing_ok": True},
        present=("crl_missing_for_ca",),
    ),
    "optional without a check": Case(verify=VerifyMode.OPTIONAL, present=("optional_unchecked",)),
    "optional with a check": Case(
        verify=VerifyMode.OPTIONAL,
        block={"verify_checks": (VerifyCheck(where=at(9), forwarded=False, text="if"),)},
        absent=("optional_unchecked", "verify_result_forwarded"),
    ),
    "optional, result only forwarded": Case(
        verify=VerifyMode.OPTIONAL,
        block={"verify_checks": (VerifyCheck(where=at(9), forwarded=True, text="hdr"),)},
        present=("verify_result_forwarded",),
        absent=("optional_unchecked",),
    ),
    "optional_no_ca without a check": Case(
        verify=VerifyMode.OPTIONAL_NO_CA, present=("optional_no_ca_unchecked",)
    ),
    "apache per-location verify": Case(
        kind=ServerKind.APACHE,
        verify=VerifyMode.NONE,
        files=[],
        block={
            "scoped_verify": (
                ScopedVerify(scope="<Location /x>", mode=VerifyMode.REQUIRED, where=at(20)),
            )
        },
        present=("scoped_verify_client",),
    ),
    "haproxy crt-ignore-err all": Case(
        kind=ServerKind.HAPROXY,
        block={
            "ignore_errors": (IgnoredErrors(option="crt-ignore-err", values=("all",), where=at(2)),)
        },
        present=("verify_errors_ignored",),
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_rules(name: str) -> None:
    case = CASES[name]
    block, material = case.build()

    findings = check_block(block, material, NOW)

    found = {f.code for f in findings}
    assert set(case.present) <= found, (name, found)
    assert not set(case.absent) & (found - set(case.present)), (name, found)
    for item in findings:
        assert item.file == F and item.line is not None and item.line >= 1
        assert item.code in RULES


def test_severity_follows_the_rule_table() -> None:
    block, material = CASES["intermediate-only bundle"].build()

    (finding,) = [f for f in check_block(block, material, NOW) if f.code == "ca_chain_incomplete"]

    assert finding.severity is Severity.ERROR
    assert finding.line == 10  # the directive that names the bundle
    assert "CN=Inter" in finding.message and "CN=Root" in finding.message


def test_depth_finding_points_at_the_depth_directive_and_says_the_fix() -> None:
    block, material = CASES["nginx depth 0 with an intermediate in the bundle"].build()

    (finding,) = [f for f in check_block(block, material, NOW) if f.code.startswith("verify_depth")]

    assert finding.line == 7
    assert "`ssl_verify_depth 1`" in finding.message


@pytest.mark.parametrize(
    ("protocols", "tls13"),
    [
        (None, True),
        ("all -SSLv3", True),
        ("TLSv1.2", False),
        ("all -TLSv1.3", False),
        ("TLSv1.2 TLSv1.3", True),
        ("-all +TLSv1.2", False),
    ],
)
def test_tls13_detection(protocols: str | None, tls13: bool) -> None:
    assert allows_tls13(protocols) is tls13


def test_scoped_verify_is_a_warning_on_tls12_only() -> None:
    case = CASES["apache per-location verify"]
    block, material = case.build()
    block = replace(block, protocols="TLSv1.2")

    (finding,) = [f for f in check_block(block, material, NOW) if f.code == "scoped_verify_client"]

    assert finding.severity is Severity.WARNING


@pytest.mark.parametrize(
    ("kind", "depth", "allowed"),
    [
        (ServerKind.NGINX, None, 1),
        (ServerKind.NGINX, 0, 0),
        (ServerKind.NGINX, 2, 2),
        (ServerKind.APACHE, None, 0),
        (ServerKind.APACHE, 2, 1),
        (ServerKind.APACHE, 0, -1),
        (ServerKind.HAPROXY, None, 100),
        # lighttpd's own check counts the root (proven in test_lint_proofs_agreement.py).
        (ServerKind.LIGHTTPD, None, 8),
        (ServerKind.LIGHTTPD, 1, 0),
    ],
)
def test_depth_semantics_measured_on_the_servers(
    kind: ServerKind, depth: int | None, allowed: int
) -> None:
    assert allowed_intermediates(kind, depth) == allowed
    if allowed >= 0:
        assert allowed_intermediates(kind, depth_needed(kind, allowed)) == allowed


def test_advertised_names_per_server() -> None:
    nginx, material = Case(files=[(CA, (UNRELATED,), ()), (TRUSTED, (ROOT,), ())]).build()
    apache, apache_material = Case(
        kind=ServerKind.APACHE, files=[(CA, (ROOT,), ()), (FileRole.CA_NAMES, (UNRELATED,), ())]
    ).build()
    quiet, quiet_material = Case(kind=ServerKind.HAPROXY, block={"no_ca_names_at": at(2)}).build()

    assert advertised_names(nginx, material) == ("CN=Other",)
    assert advertised_names(apache, apache_material) == ("CN=Other",)
    assert advertised_names(quiet, quiet_material) == ()


def test_ignored_settings_become_config_findings() -> None:
    (finding,) = check_config(
        [IgnoredSetting(directive="ssl_verify_client", where=at(4), reason="no TLS here.")]
    )

    assert (finding.code, finding.line, finding.severity) == (
        "setting_ignored",
        4,
        Severity.WARNING,
    )
