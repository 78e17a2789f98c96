"""The public surface: every name in ``__all__`` resolves, and nothing else is promised."""

from __future__ import annotations

import subprocess
import sys

import mtls_doctor

EXPECTED = {
    "__version__", "CATALOGUE", "Cause", "CertFacts", "CheckRequest", "Diagnosis", "Finding",
    "IdentityFacts", "InspectReport", "MtlsDoctorError", "ProbeReport", "Severity", "Target",
    "Verdict", "build_lab_pki", "check", "explain", "inspect_identities", "load_identities",
    "parse_target", "probe",
}  # fmt: skip


def test_all_is_the_documented_surface() -> None:
    assert set(mtls_doctor.__all__) == EXPECTED


def test_every_export_resolves() -> None:
    for name in mtls_doctor.__all__:
        assert getattr(mtls_doctor, name) is not None, name


def test_importing_the_package_is_light() -> None:
    code = "import sys, mtls_doctor; print('cryptography' in sys.modules, 'OpenSSL' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]
