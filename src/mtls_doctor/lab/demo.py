"""The demo: every lab scenario through ``check``, verdict against the manifest.

Builds a throwaway lab (PKI + built-in servers on free loopback ports), runs
the real diagnosis for each identity and for the server-side scenarios, and
reports whether every verdict is the one the lab was built to show.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mtls_doctor.causes import Cause
from mtls_doctor.diagnosis import CheckRequest, check
from mtls_doctor.lab.pki import LabPKI
from mtls_doctor.lab.server import LabFleet, running_lab
from mtls_doctor.model import Diagnosis
from mtls_doctor.tls.target import parse_target


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """One demo case: which server, which identity files, which verdict to expect."""

    name: str
    server: str
    expected: Cause
    certs: tuple[Path, ...] = ()
    select: str | None = None
    password_file: Path | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ScenarioResult:
    """What ``check`` said for a scenario."""

    scenario: Scenario
    diagnosis: Diagnosis

    @property
    def passed(self) -> bool:
        """The verdict is the one the lab was built to show."""
        return self.diagnosis.verdict.cause is self.scenario.expected


def scenarios(pki: LabPKI) -> list[Scenario]:
    """Every identity against the strict server, then the server-side cases."""
    ids = pki.identities
    cases = []
    for name, ident in ids.items():
        # missing-intermediate: its caIssuers URL (the lab's CA server) supplies the
        # intermediate that the bundle does not send.
        cases.append(
            Scenario(name=name, server="strict", expected=ident.expected, certs=(ident.pem,))
        )
    protected = ids["good-rsa"].p12_protected
    assert protected is not None
    cases += [
        Scenario(
            name="good-rsa (.p12 with password)",
            server="strict",
            expected=Cause.ACCEPTED,
            certs=(protected,),
            password_file=pki.password_file,
        ),
        Scenario(name="no certificate", server="strict", expected=Cause.NO_CERTIFICATE_SENT),
        Scenario(
            name="expired, nginx-style server",
            server="nginx-like",
            expected=Cause.CERTIFICATE_EXPIRED,
            certs=(ids["expired"].pem,),
        ),
        Scenario(
            name="revoked, nginx-style server (OCSP)",
            server="nginx-like",
            expected=Cause.CERTIFICATE_REVOKED,
            certs=(ids["revoked"].pem,),
        ),
        Scenario(
            name="rotated CA, nginx-style server",
            server="nginx-like",
            expected=Cause.ISSUER_ROTATED,
            certs=(ids["rotated"].pem,),
        ),
        Scenario(
            name="intermediate at hand, not sent",
            server="nginx-like",
            expected=Cause.MISSING_INTERMEDIATE,
            certs=(ids["missing-intermediate"].pem, pki.directory / "ca" / "intermediate.pem"),
        ),
        Scenario(
            name="server does not ask",
            server="no-client-auth",
            expected=Cause.CLIENT_AUTH_NOT_REQUESTED,
            certs=(ids["good-ecdsa"].pem,),
        ),
        Scenario(
            name="authorization rule",
            server="authz",
            expected=Cause.REJECTED_BY_APPLICATION,
            certs=(ids["good-ecdsa"].pem,),
        ),
        Scenario(
            name="server's own CRL expired",
            server="stale-crl",
            expected=Cause.REJECTED_UNEXPLAINED,
            certs=(ids["good-ecdsa"].pem,),
        ),
        Scenario(
            name="wrong certificate picked",
            server="strict",
            expected=Cause.WRONG_CERTIFICATE_SELECTED,
            certs=(ids["untrusted"].pem, ids["good-ecdsa"].pem),
            select="untrusted@lab.test",
        ),
    ]
    return cases


def _password_from(path: Path | None) -> Callable[[str], bytes | None]:
    if path is None:
        return lambda _path: None
    secret = path.read_bytes().strip()
    return lambda _path: secret


def run_scenario(fleet: LabFleet, scenario: Scenario, timeout: float = 10.0) -> ScenarioResult:
    """Run ``check`` for one scenario against the running lab."""
    target = parse_target(fleet.servers[scenario.server].target)
    request = CheckRequest(
        target=target,
        cert_paths=scenario.certs,
        password=_password_from(scenario.password_file),
        select=scenario.select,
        timeout=timeout,
    )
    return ScenarioResult(scenario=scenario, diagnosis=check(request))


@contextmanager
def demo_lab(directory: Path | None = None) -> Iterator[tuple[LabPKI, LabFleet]]:
    """A lab in ``directory`` (default: a temporary one): its CA web server (CRLs, CA
    certificates, OCSP) and its mTLS servers, all on 127.0.0.1."""
    from mtls_doctor.lab.control import lab_responder

    with tempfile.TemporaryDirectory(prefix="mtls-doctor-demo-") as scratch:
        # A kept lab directory that already holds a lab is reused, never regenerated.
        responder, _ = lab_responder(directory or Path(scratch))
        pki = responder.pki
        assert pki is not None
        with responder, running_lab(pki) as fleet:
            yield pki, fleet


def run_demo(
    directory: Path | None = None,
    on_result: Callable[[ScenarioResult], None] | None = None,
    then: Callable[[LabPKI, LabFleet], None] | None = None,
) -> list[ScenarioResult]:
    """Build the lab, run every scenario, return the results.

    ``then`` runs with the lab still up (the browser's view uses it).
    """
    results = []
    with demo_lab(directory) as (pki, fleet):
        for scenario in scenarios(pki):
            result = run_scenario(fleet, scenario)
            results.append(result)
            if on_result is not None:
                on_result(result)
        if then is not None:
            then(pki, fleet)
    return results
