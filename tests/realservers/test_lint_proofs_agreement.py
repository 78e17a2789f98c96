"""``lint-server --user-cert`` agrees with the real server for every lab identity.

For each server (nginx, also as a ``stream`` TCP proxy; Apache httpd,
HAProxy, lighttpd with mod_openssl) and several configurations (a sound one, one whose CRL has
expired, and the permissive modes), every
lab identity is judged offline by ``lint-server --user-cert`` and then
presented to the real server with the project's TLS client: the verdict is
``accepted`` exactly when the real server serves the request. On the sound
configuration the cause is also the one the lab identity was made to show.
``no-key`` and ``mismatched-key`` cannot be presented; their verdicts are
checked on their own. The same identities as certificates alone (no private
key: what an admin holds) get the same verdicts, except that a key that does
not match is only found when the key is given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from mtls_doctor.causes import Cause
from mtls_doctor.lab.pki import LabPKI
from tests.realservers.conftest import Material, lint_block, present, served
from tests.servers.real import (
    RunningServer,
    ServerRunner,
    start_apache,
    start_haproxy,
    start_nginx,
)
from tests.servers.web import start_lighttpd

pytestmark = pytest.mark.realserver

#: Identities a TLS client cannot present (no key, or a key that is not the certificate's).
UNPRESENTABLE = ("no-key", "mismatched-key")

Starter = Callable[[ServerRunner, LabPKI, Material, Path], RunningServer]


def _nginx(crls: str, **extra: object) -> Starter:
    def start(run: ServerRunner, lab: LabPKI, m: Material, _pem: Path) -> RunningServer:
        return run(
            start_nginx,
            cert=lab.server_pem,
            key=lab.server_key_file,
            client_certificate=m.root,
            crl=getattr(m, crls),
            **extra,  # type: ignore[arg-type]
        )

    return start


def _apache(crls: str, **extra: object) -> Starter:
    def start(run: ServerRunner, lab: LabPKI, m: Material, _pem: Path) -> RunningServer:
        return run(
            start_apache,
            cert=lab.server_pem,
            key=lab.server_key_file,
            ca_file=m.root,
            verify_depth=2,
            crl=getattr(m, crls),
            **extra,  # type: ignore[arg-type]
        )

    return start


def _haproxy(crls: str, **extra: object) -> Starter:
    def start(run: ServerRunner, _lab: LabPKI, m: Material, pem: Path) -> RunningServer:
        return run(
            start_haproxy,
            cert_and_key_pem=pem,
            ca_file=m.root,
            crl_file=getattr(m, crls),
            **extra,  # type: ignore[arg-type]
        )

    return start


def _lighttpd(
    crls: str, ca_dn_file: str | None = None, another_root_first: bool = False, **extra: object
) -> Starter:
    def start(run: ServerRunner, lab: LabPKI, m: Material, _pem: Path) -> RunningServer:
        if ca_dn_file is not None:
            extra["ca_dn_file"] = getattr(m, ca_dn_file)
        ca_file = m.root
        if another_root_first:
            # The "untrusted" identity's root, then the lab's: two CAs in ssl.ca-file.
            other = lab.identities["untrusted"].chain[-1].public_bytes(Encoding.PEM)
            ca_file = lab.directory / "another-root-first.pem"
            ca_file.write_bytes(other + m.root.read_bytes())
        return run(
            start_lighttpd,
            cert=lab.server_pem,
            key=lab.server_key_file,
            ca_file=ca_file,
            crl=getattr(m, crls),
            **extra,  # type: ignore[arg-type]
        )

    return start


CONFIGS: dict[str, Starter] = {
    "nginx": _nginx("all_crls"),
    "nginx-stale-crl": _nginx("intermediate_crl_expired"),
    "nginx-optional_no_ca": _nginx("all_crls", verify_client="optional_no_ca"),
    # The stream module (a TCP proxy): the same directives, refusals close the connection.
    "nginx-stream": _nginx("all_crls", stream=True),
    # optional_no_ca, then the common test of the result: failures get 403.
    "nginx-optional_no_ca-tested": _nginx(
        "all_crls",
        verify_client="optional_no_ca",
        location='if ($ssl_client_verify != SUCCESS) { return 403; } return 200 "ok\\n";',
    ),
    "apache": _apache("all_crls"),
    "apache-stale-crl": _apache("intermediate_crl_expired"),
    "apache-optional_no_ca": _apache("all_crls", verify_client="optional_no_ca"),
    "haproxy": _haproxy("all_crls"),
    "haproxy-stale-crl": _haproxy("intermediate_crl_expired"),
    "haproxy-ignore-all": _haproxy("all_crls", extra_bind="crt-ignore-err all ca-ignore-err all"),
    "lighttpd": _lighttpd("all_crls"),
    "lighttpd-stale-crl": _lighttpd("intermediate_crl_expired"),
    # ssl.verifyclient.enforce = "disable": every verification error is let through.
    "lighttpd-no-enforce": _lighttpd("all_crls", enforce=False),
    # lighttpd's own check counts the root: depth 1 refuses a chain with an intermediate.
    "lighttpd-depth-1": _lighttpd("all_crls", verify_depth=1),
    # mod_gnutls: the CRLs are not applied, extended key usage and RSA 1024 not checked.
    "lighttpd-gnutls": _lighttpd("all_crls", tls_module="gnutls"),
    # mod_gnutls trusts the first CA of ssl.ca-file (and its issuers there), not the others.
    "lighttpd-gnutls-two-roots": _lighttpd(
        "all_crls", another_root_first=True, tls_module="gnutls"
    ),
    "lighttpd-two-roots": _lighttpd("all_crls", another_root_first=True),
    # ssl.ca-dn-file names only the root: lighttpd refuses certificates the
    # intermediate issued (their issuer is not named), though the chain verifies.
    "lighttpd-ca-dn-root": _lighttpd("all_crls", ca_dn_file="root"),
    "lighttpd-ca-dn-intermediate": _lighttpd("all_crls", ca_dn_file="intermediate"),
}
#: The configurations where every lab identity must get the cause it was made for.
SOUND = ("nginx", "nginx-stream", "apache", "haproxy", "lighttpd")


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def configured(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    live_lab: LabPKI,
    material: Material,
    live_lab_haproxy_pem: Path,
) -> Iterator[tuple[str, RunningServer]]:
    """One real server per configuration, shared by the identities."""
    runner = ServerRunner(tmp_path_factory.mktemp("agreement"))
    try:
        yield (
            request.param,
            CONFIGS[request.param](runner, live_lab, material, live_lab_haproxy_pem),
        )
    finally:
        runner.stop_all()


def test_user_cert_verdict_agrees_with_the_real_server(
    configured: tuple[str, RunningServer], live_lab: LabPKI, material: Material
) -> None:
    name, server = configured
    disagreements = []
    for identity in live_lab.identities.values():
        report = lint_block(
            server, user_cert=str(identity.pem), issuing_ca=[str(material.intermediate)]
        )
        assert report.verdict is not None
        cause = report.verdict.cause
        if identity.name == "no-key":
            # Judged from the server's side: its certificate is sound, no key is needed.
            assert cause is not Cause.PRIVATE_KEY_MISSING, report.verdict
            if name in SOUND:
                assert cause is Cause.ACCEPTED, report.verdict
            continue
        if identity.name in UNPRESENTABLE:
            assert cause is identity.expected, (identity.name, report.verdict)
            continue
        real = served(present(server, live_lab, identity.name))
        if (cause is Cause.ACCEPTED) != real:
            disagreements.append((identity.name, cause, real, report.verdict.summary))
        if name in SOUND and cause is not identity.expected:
            disagreements.append((identity.name, cause, "expected", identity.expected))
    assert disagreements == [], "\n".join(str(d)[:300] for d in disagreements)


def test_a_certificate_alone_gets_the_same_verdict(
    configured: tuple[str, RunningServer],
    live_lab: LabPKI,
    material: Material,
) -> None:
    _, server = configured
    differences = []
    issuing = [str(material.intermediate)]
    for identity in live_lab.identities.values():
        assert "PRIVATE KEY" not in identity.crt.read_text()
        alone = lint_block(server, user_cert=str(identity.crt), issuing_ca=issuing).verdict
        bundled = lint_block(server, user_cert=str(identity.pem), issuing_ca=issuing).verdict
        assert alone is not None and bundled is not None
        separate = None
        if identity.key is not None:
            separate = lint_block(
                server, user_cert=str(identity.crt), key_path=str(identity.key), issuing_ca=issuing
            ).verdict
            assert separate is not None
        if identity.name == "mismatched-key":
            # Only a key that is given can be found not to match; then it blocks first.
            assert bundled.cause is Cause.PRIVATE_KEY_MISMATCH
            assert separate is not None and separate.cause is Cause.PRIVATE_KEY_MISMATCH
            continue
        with_key = (bundled.cause, *([separate.cause] if separate else []))
        differences.extend(
            (identity.name, alone.cause, c) for c in with_key if c is not alone.cause
        )
    assert differences == []
