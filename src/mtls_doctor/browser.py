"""Orchestrator for ``identities --for``: the browser's picker for one server.

One handshake without a certificate gives the CA names the server lists
(what the picker filters by); the identities come from NSS stores
(``--store``) and/or files (``--cert``); the pure rules in
``rules.picker`` decide what is offered.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mtls_doctor.bundle import LoadedIdentity, LoadResult, PasswordSource, no_password
from mtls_doctor.errors import InputError
from mtls_doctor.model import Finding, FindingCode, HandshakeFacts, LoadProblem, Severity
from mtls_doctor.probing import ProbeReport, report_from
from mtls_doctor.rules.picker import PickerView, browser_picker
from mtls_doctor.tls.target import Target
from mtls_doctor.tlsversion import TLSVersion


def load_sources(
    stores: Sequence[str],
    cert_paths: Sequence[str | os.PathLike[str]],
    *,
    key_path: str | os.PathLike[str] | None = None,
    password: PasswordSource = no_password,
    home: Path | None = None,
) -> LoadResult:
    """Identities from NSS stores and files, together (a store's problem does not stop the rest).

    Raises InputError when nothing at all could be read.
    """
    from mtls_doctor.bundle import load_identities

    result = LoadResult()
    if stores:
        from mtls_doctor.stores.nss import load_nss_identities

        for spec in stores:
            loaded = load_nss_identities(spec, home)
            result.identities.extend(loaded.identities)
            result.ca_certificates.extend(loaded.ca_certificates)
            result.problems.extend(loaded.problems)
    if cert_paths:
        loaded = load_identities(cert_paths, key_path=key_path, password=password)
        result.identities.extend(loaded.identities)
        result.ca_certificates.extend(loaded.ca_certificates)
        result.problems.extend(loaded.problems)
    if result.problems and not result.identities:
        first = result.problems[0]
        raise InputError(first.message, code=first.code)
    return result


@dataclass(frozen=True, slots=True, kw_only=True)
class BrowserView:
    """``identities --for``: what the server asks, and what the picker shows."""

    target: Target
    probe: ProbeReport
    picker: PickerView
    #: The identities behind ``picker`` (same objects, with their certificates).
    identities: tuple[LoadedIdentity, ...]
    problems: tuple[LoadProblem, ...]
    checked_at: datetime
    handshakes: int = 1


def picker_for(
    identities: Sequence[LoadedIdentity], facts: HandshakeFacts, now: datetime
) -> PickerView:
    """The picker for identities against a handshake's CertificateRequest."""
    return browser_picker([item.facts for item in identities], facts.acceptable_ca_names, now)


def browser_view(
    target: Target,
    loaded: LoadResult,
    *,
    timeout: float = 10.0,
    tls_version: TLSVersion | None = None,
    now: datetime | None = None,
) -> BrowserView:
    """Probe ``target`` once without a certificate and run the picker over ``loaded``."""
    from mtls_doctor.tls.client import handshake

    checked_at = now or datetime.now(UTC)
    facts = handshake(target, timeout=timeout, tls_version=tls_version)
    return BrowserView(
        target=target,
        probe=report_from(target, facts),
        picker=picker_for(loaded.identities, facts, checked_at),
        identities=tuple(loaded.identities),
        problems=tuple(loaded.problems),
        checked_at=checked_at,
    )


def with_key(item: LoadedIdentity, password: PasswordSource) -> LoadedIdentity:
    """The identity with its private key in memory (exported from NSS when it lives there)."""
    from mtls_doctor.stores.nss import NssIdentity, with_private_key

    if isinstance(item, NssIdentity) and item.private_key is None:
        return with_private_key(item, password)
    return item


def picker_findings(
    identities: Sequence[LoadedIdentity], view: PickerView, probe: HandshakeFacts
) -> tuple[LoadedIdentity | None, tuple[Finding, ...]]:
    """The identity ``check --store`` presents, and what the browser would do, as findings."""
    from mtls_doctor.rules.picker import REASON_TEXT, best_candidate

    candidate = best_candidate(view)
    if candidate is None:
        note = Finding(
            code=FindingCode.STORE_EMPTY,
            severity=Severity.INFO,
            message="The store holds no client identity: a browser using it sends no certificate.",
        )
        return None, (note,)
    item = next(i for i in identities if i.facts is candidate.identity)
    source = candidate.identity.source
    if not probe.certificate_requested:
        return item, ()
    if view.chosen is not None:
        others = [c.identity.source for c in view.offered[1:]]
        more = f"; it also offers {', '.join(others)}" if others else ""
        note = Finding(
            code=FindingCode.BROWSER_SENDS,
            severity=Severity.INFO,
            message=f"Chromium would send {source} for this server (first of "
            f"{len(view.offered)} offered{more}).",
        )
        return item, (note,)
    why = "; ".join(REASON_TEXT[r][0] for r in candidate.reasons)
    note = Finding(
        code=FindingCode.BROWSER_OFFERS_NOTHING,
        severity=Severity.ERROR,
        message="Chromium would offer no identity for this server: no certificate-selection "
        "prompt appears, no certificate is sent, and the server answers as if none were "
        f"installed. The closest candidate, {source}, is left out because {why} "
        f"({', '.join(str(r) for r in candidate.reasons)}); it is diagnosed below as if it "
        "were sent.",
    )
    return item, (note,)
