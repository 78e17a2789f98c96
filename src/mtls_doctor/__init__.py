"""mtls-doctor: why a server rejects your client certificate, and how to fix it.

The public API is small and imported lazily (so ``mtls-doctor --help`` does
not load ``cryptography``)::

    from mtls_doctor import CheckRequest, check, parse_target

    diagnosis = check(CheckRequest(target=parse_target("intranet.example:443"),
                                   cert_paths=("alice.p12",),
                                   password=lambda path: b"..."))
    print(diagnosis.verdict.cause, diagnosis.verdict.summary)

Nouns: ``Target``, identities (``IdentityFacts``), ``Diagnosis`` with its
``Verdict`` and ``Finding`` list, ``Cause``. Verbs: ``inspect_identities``,
``probe``, ``check``, ``explain``, ``build_lab_pki``.

Everything listed in ``__all__`` is guarded by ``tests/unit/test_public_api.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # What type checkers see: the real types (``name as name``: an explicit re-export).
    # At run time ``__getattr__`` imports them on first use.
    from mtls_doctor.bundle import load_identities as load_identities
    from mtls_doctor.causes import CATALOGUE as CATALOGUE
    from mtls_doctor.causes import Cause as Cause
    from mtls_doctor.diagnosis import CheckRequest as CheckRequest
    from mtls_doctor.diagnosis import check as check
    from mtls_doctor.errors import MtlsDoctorError as MtlsDoctorError
    from mtls_doctor.inspection import inspect_identities as inspect_identities
    from mtls_doctor.knowledge import explain as explain
    from mtls_doctor.lab.pki import build_lab_pki as build_lab_pki
    from mtls_doctor.model import CertFacts as CertFacts
    from mtls_doctor.model import Diagnosis as Diagnosis
    from mtls_doctor.model import Finding as Finding
    from mtls_doctor.model import IdentityFacts as IdentityFacts
    from mtls_doctor.model import InspectReport as InspectReport
    from mtls_doctor.model import Severity as Severity
    from mtls_doctor.model import Verdict as Verdict
    from mtls_doctor.probing import ProbeReport as ProbeReport
    from mtls_doctor.probing import probe as probe
    from mtls_doctor.tls.target import Target as Target
    from mtls_doctor.tls.target import parse_target as parse_target

__version__ = "0.1.0"

_EXPORTS = {
    "inspect_identities": "mtls_doctor.inspection",
    "load_identities": "mtls_doctor.bundle",
    "probe": "mtls_doctor.probing",
    "ProbeReport": "mtls_doctor.probing",
    "check": "mtls_doctor.diagnosis",
    "CheckRequest": "mtls_doctor.diagnosis",
    "Diagnosis": "mtls_doctor.model",
    "parse_target": "mtls_doctor.tls.target",
    "Target": "mtls_doctor.tls.target",
    "explain": "mtls_doctor.knowledge",
    "Cause": "mtls_doctor.causes",
    "CATALOGUE": "mtls_doctor.causes",
    "Finding": "mtls_doctor.model",
    "Severity": "mtls_doctor.model",
    "Verdict": "mtls_doctor.model",
    "CertFacts": "mtls_doctor.model",
    "IdentityFacts": "mtls_doctor.model",
    "InspectReport": "mtls_doctor.model",
    "MtlsDoctorError": "mtls_doctor.errors",
    "build_lab_pki": "mtls_doctor.lab.pki",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'mtls_doctor' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module_name), name)
