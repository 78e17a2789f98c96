"""Orchestrator for ``inspect``: load identities, apply the identity rules."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime

from mtls_doctor.bundle import PasswordSource, load_identities, no_password
from mtls_doctor.defaults import DEFAULT_WARN_DAYS
from mtls_doctor.model import IdentityReport, InspectReport
from mtls_doctor.rules.identity import check_identity


def inspect_identities(
    paths: Sequence[str | os.PathLike[str]],
    *,
    key_path: str | os.PathLike[str] | None = None,
    password: PasswordSource = no_password,
    warn_days: int = DEFAULT_WARN_DAYS,
    now: datetime | None = None,
    stores: Sequence[str] = (),
) -> InspectReport:
    """Load every identity in ``paths`` and report its facts and findings.

    Files that cannot be read are listed in ``problems``; the readable ones
    are still reported. ``now`` defaults to the current time (UTC).
    """
    checked_at = now or datetime.now(UTC)
    if stores:
        from mtls_doctor.browser import load_sources

        loaded = load_sources(stores, paths, key_path=key_path, password=password)
    else:
        loaded = load_identities(paths, key_path=key_path, password=password)
    return InspectReport(
        checked_at=checked_at,
        identities=tuple(
            IdentityReport(
                identity=item.facts,
                findings=check_identity(item.facts, checked_at, warn_days),
            )
            for item in loaded.identities
        ),
        problems=tuple(loaded.problems),
    )
