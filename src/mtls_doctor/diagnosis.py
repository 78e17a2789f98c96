"""Orchestrator for ``check``: gather facts with the fewest handshakes, then the rules.

Handshake budget: 1 when the certificate is accepted, at most 2 otherwise.

* One identity: handshake with it (the CertificateRequest's CA names arrive
  in the same handshake). Accepted → done. Refused → one more handshake
  without a certificate, to show whether the server requires one.
* An identity that cannot be presented (no key, wrong key): one handshake
  without a certificate, to learn whether it matters here.
* Several identities: try the locally best one; if refused, try the one
  that fits the server's CA names (or, without a better one, no certificate).
* No identity: one handshake without a certificate.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from mtls_doctor.bundle import LoadedIdentity, PasswordSource, load_identities, no_password
from mtls_doctor.causes import Cause
from mtls_doctor.errors import (
    BundleLoadError,
    ConnectError,
    ConnectTimeout,
    InputError,
    NetworkError,
    NotTLSError,
    UsageError,
)
from mtls_doctor.model import (
    Alternative,
    ChainFacts,
    Diagnosis,
    DiagnosisFacts,
    HandshakeFacts,
    RevocationFacts,
    Severity,
    Verdict,
)
from mtls_doctor.rules.chain import Reach, analyze_chain
from mtls_doctor.rules.identity import DEFAULT_WARN_DAYS, check_identity
from mtls_doctor.rules.verdict import Outcome, diagnose, make_verdict, outcome
from mtls_doctor.tls.target import Target

#: The network failures that become a verdict (CONTRACT.md: exit 3).
NETWORK_VERDICTS: dict[type[NetworkError], Cause] = {
    ConnectError: Cause.UNREACHABLE,
    ConnectTimeout: Cause.TIMEOUT,
    NotTLSError: Cause.NOT_TLS,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckRequest:
    """What the user asked ``check`` to do."""

    target: Target
    cert_paths: tuple[str | os.PathLike[str], ...] = ()
    key_path: str | os.PathLike[str] | None = None
    password: PasswordSource = no_password
    #: Pick this identity among several: a subject substring, serial or fingerprint prefix.
    select: str | None = None
    #: The server's client-CA bundle, when the user has it.
    ca_bundle: str | os.PathLike[str] | None = None
    timeout: float = 10.0
    tls_version: str | None = None
    revocation: bool = True
    offline: bool = False
    crl_files: tuple[Path, ...] = ()
    ocsp_url: str | None = None
    warn_days: int = DEFAULT_WARN_DAYS
    now: datetime | None = None


@dataclass
class _Session:
    """Counts handshakes and keeps the last connection made without a certificate."""

    request: CheckRequest
    handshakes: int = 0
    without_certificate: HandshakeFacts | None = None
    attempts: dict[int, HandshakeFacts] = field(default_factory=dict)

    def connect(self, identity: LoadedIdentity | None) -> HandshakeFacts:
        from mtls_doctor.tls.client import ClientIdentity, handshake

        client = None
        if identity is not None:
            client = ClientIdentity(
                certificate=identity.certificate,
                chain=identity.issuing_path or identity.chain,
                private_key=identity.private_key,
            )
        self.handshakes += 1
        facts = handshake(
            self.request.target,
            identity=client,
            timeout=self.request.timeout,
            tls_version=self.request.tls_version,
        )
        if identity is None:
            self.without_certificate = facts
        else:
            self.attempts[id(identity)] = facts
        return facts


def _presentable(item: LoadedIdentity) -> bool:
    return item.private_key is not None and item.facts.key_matches is True


def _local_rank(item: LoadedIdentity, now: datetime) -> tuple[int, int]:
    """Fewer local errors first; then the longest-lived."""
    errors = sum(1 for f in check_identity(item.facts, now) if f.severity is Severity.ERROR)
    return (
        errors + (0 if _presentable(item) else 10),
        -int(item.certificate.not_valid_after_utc.timestamp()),
    )


def _matches(item: LoadedIdentity, needle: str) -> bool:
    facts = item.facts
    lowered = needle.lower().replace(":", "")
    return (
        needle in facts.certificate.subject
        or needle == facts.source
        or lowered == facts.certificate.serial
        or (len(lowered) >= 8 and facts.certificate.fingerprint_sha256.startswith(lowered))
    )


def _read_ca_bundle(path: str | os.PathLike[str]) -> list[object]:
    from cryptography import x509

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise BundleLoadError(str(path), f"cannot read ({exc.strerror or exc})") from exc
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        try:
            certs = [x509.load_der_x509_certificate(data)]
        except ValueError as exc:
            raise BundleLoadError(str(path), "not a PEM or DER CA bundle") from exc
    return list(certs)


def _fetcher(request: CheckRequest) -> Callable[[str], bytes] | None:
    if request.offline:
        return None
    from mtls_doctor.fetch import fetch

    timeout = min(request.timeout, 5.0)
    return lambda url: fetch(url, timeout=timeout, max_bytes=256 * 1024)


def _chain(
    item: LoadedIdentity,
    directory_cas: Sequence[object],
    ca_bundle: Sequence[object],
    request: CheckRequest,
    now: datetime,
) -> ChainFacts:
    from mtls_doctor.chainbuild import build_chain

    return build_chain(
        item,
        directory_cas=directory_cas,  # type: ignore[arg-type]
        ca_bundle=ca_bundle,  # type: ignore[arg-type]
        fetcher=_fetcher(request),
        now=now,
    )


def _revocation(
    item: LoadedIdentity, chain: ChainFacts, request: CheckRequest, now: datetime
) -> tuple[RevocationFacts, ...]:
    """CRL / OCSP status, when the revocation adapter is available and wanted."""
    if not request.revocation:
        return ()
    import importlib

    try:  # the revocation adapter lands separately (issue 5)
        check_revocation = importlib.import_module("mtls_doctor.revocation").check_revocation
    except (ImportError, AttributeError):
        return ()
    issuers = list(item.issuing_path)
    result: tuple[RevocationFacts, ...] = check_revocation(
        item.certificate,
        issuers,
        timeout=request.timeout,
        offline=request.offline,
        crl_files=request.crl_files,
        ocsp_url=request.ocsp_url,
        now=now,
    )
    return result


def network_diagnosis(exc: NetworkError, now: datetime, handshakes: int) -> Diagnosis | None:
    """A network failure as a verdict (unreachable / timeout / not_tls), or None."""
    cause = next((c for kind, c in NETWORK_VERDICTS.items() if isinstance(exc, kind)), None)
    if cause is None:
        return None
    verdict = make_verdict(cause, str(exc))
    return Diagnosis(
        verdict=verdict,
        findings=(),
        facts=DiagnosisFacts(identity=None),
        checked_at=now,
        handshakes=handshakes,
    )


def check(request: CheckRequest) -> Diagnosis:
    """Diagnose ``request.target`` with the identities of ``request.cert_paths``.

    Raises InputError for unusable input and NetworkError when the server
    cannot be reached; ``check`` in the CLI turns the latter into a verdict.
    """
    now = request.now or datetime.now(UTC)
    identities: list[LoadedIdentity] = []
    directory_cas: list[object] = []
    if request.cert_paths:
        loaded = load_identities(
            request.cert_paths, key_path=request.key_path, password=request.password
        )
        if loaded.problems and not loaded.identities:
            problem = loaded.problems[0]
            error = InputError(problem.message)
            error.code = problem.code
            raise error
        if not loaded.identities:
            raise InputError(
                "no client certificate found in " + ", ".join(map(str, request.cert_paths))
            )
        identities = loaded.identities
        directory_cas = list(loaded.ca_certificates)
    ca_bundle = _read_ca_bundle(request.ca_bundle) if request.ca_bundle else []
    session = _Session(request)

    if not identities:
        gathered = DiagnosisFacts(identity=None, without_certificate=session.connect(None))
        findings, verdict = diagnose(gathered, now)
        return Diagnosis(verdict=verdict, findings=findings, facts=gathered, checked_at=now,
                         handshakes=session.handshakes)  # fmt: skip

    if request.select:
        chosen = [item for item in identities if _matches(item, request.select)]
        if not chosen:
            available = "; ".join(
                f"{i.facts.source} ({i.facts.certificate.subject})" for i in identities
            )
            raise UsageError(
                f"--select {request.select!r} matches no identity; available: {available}"
            )
        primary = chosen[0]
    else:
        primary = min(identities, key=lambda item: _local_rank(item, now))

    if not _presentable(primary):
        gathered = DiagnosisFacts(identity=primary.facts, without_certificate=session.connect(None))
        findings, verdict = diagnose(gathered, now, request.warn_days)
        return Diagnosis(verdict=verdict, findings=findings, facts=gathered, checked_at=now,
                         handshakes=session.handshakes)  # fmt: skip

    attempt = session.connect(primary)
    result = outcome(attempt)
    chain = _chain(primary, directory_cas, ca_bundle, request, now)
    alternatives: list[Alternative] = []
    others = [item for item in identities if item is not primary]
    if result in (Outcome.REFUSED, Outcome.APP_REFUSED) and attempt.certificate_requested:
        alternatives = [
            Alternative(
                identity=item.facts,
                fits=_fits(item, attempt, directory_cas, ca_bundle, request, now),
            )
            for item in others
        ]
        better = next(
            (
                item
                for item, alt in zip(others, alternatives, strict=True)
                if alt.fits and _presentable(item)
            ),
            None,
        )
        if better is not None:
            second = session.connect(better)
            accepted = outcome(second) is Outcome.SERVED
            alternatives = [
                Alternative(
                    identity=a.identity,
                    fits=a.fits,
                    accepted=accepted if a.identity is better.facts else None,
                )
                for a in alternatives
            ]
            if accepted and not request.select:
                # The tool picked wrong, the other one works: report the working one.
                return _finish(better, second, session, directory_cas, ca_bundle, request, now,
                               alternatives=(), note_rejected=primary)  # fmt: skip
        else:
            session.connect(None)
    revocation = _revocation(primary, chain, request, now)
    gathered = DiagnosisFacts(
        identity=primary.facts,
        attempt=attempt,
        without_certificate=session.without_certificate,
        chain=chain,
        revocation=revocation,
        selected_by_user=bool(request.select) and len(identities) > 1,
        alternatives=tuple(alternatives),
    )
    findings, verdict = diagnose(gathered, now, request.warn_days)
    return Diagnosis(verdict=verdict, findings=findings, facts=gathered, checked_at=now,
                     handshakes=session.handshakes)  # fmt: skip


def _fits(
    item: LoadedIdentity,
    attempt: HandshakeFacts,
    directory_cas: Sequence[object],
    ca_bundle: Sequence[object],
    request: CheckRequest,
    now: datetime,
) -> bool:
    """Would this identity suit the server, judged locally against its CA names?"""
    if not _presentable(item):
        return False
    if any(f.severity is Severity.ERROR for f in check_identity(item.facts, now)):
        return False
    if not attempt.acceptable_ca_names:
        return False
    chain = _chain(item, directory_cas, ca_bundle, request, now)
    return analyze_chain(item.facts, chain, attempt.acceptable_ca_names).reach is Reach.REACHES


def _finish(
    item: LoadedIdentity,
    attempt: HandshakeFacts,
    session: _Session,
    directory_cas: Sequence[object],
    ca_bundle: Sequence[object],
    request: CheckRequest,
    now: datetime,
    *,
    alternatives: tuple[Alternative, ...],
    note_rejected: LoadedIdentity,
) -> Diagnosis:
    chain = _chain(item, directory_cas, ca_bundle, request, now)
    facts = DiagnosisFacts(
        identity=item.facts, attempt=attempt, without_certificate=session.without_certificate,
        chain=chain, alternatives=alternatives,
    )  # fmt: skip
    findings, verdict = diagnose(facts, now, request.warn_days)
    from mtls_doctor.model import Finding

    rejected = session.attempts.get(id(note_rejected))
    why = f" ({_describe(rejected)})" if rejected is not None else ""
    note = Finding(
        code="identity_chosen",
        severity=Severity.INFO,
        message=f"{note_rejected.facts.source} was refused{why}; {item.facts.source} "
        f"({item.facts.certificate.subject}) is the identity to use for this server.",
    )
    verdict = Verdict(
        cause=verdict.cause,
        summary=f"{verdict.summary} Use {item.facts.source}, not {note_rejected.facts.source}.",
        fixes=verdict.fixes,
    )
    return Diagnosis(verdict=verdict, findings=(note, *findings), facts=facts, checked_at=now,
                     handshakes=session.handshakes)  # fmt: skip


def _describe(facts: HandshakeFacts) -> str:
    if facts.alert_received is not None:
        return f"TLS alert {facts.alert_received.code} {facts.alert_received.name}"
    if facts.http is not None:
        return f"HTTP {facts.http.status}"
    return "connection closed"
