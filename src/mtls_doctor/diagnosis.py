"""Orchestrator for ``check``: gather facts with the fewest handshakes, then the rules.

Handshake budget: 1 when the certificate is accepted, at most 2 otherwise.

* One identity: handshake with it (the CertificateRequest's CA names arrive
  in the same handshake). Accepted → done. Refused → one more handshake
  without a certificate, to show whether the server requires one.
* An identity that cannot be presented (no key, wrong key): one handshake
  without a certificate, to learn whether it matters here.
* Several identities: try the locally best one (or the ``--select``-ed one);
  if refused, try another that fits the server's CA names, else connect
  without a certificate.
* No identity: one handshake without a certificate.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from mtls_doctor.bundle import LoadedIdentity, PasswordSource, load_identities, no_password
from mtls_doctor.causes import Cause
from mtls_doctor.deadline import Deadline
from mtls_doctor.defaults import DEFAULT_WARN_DAYS
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
    Diagnosis,
    DiagnosisFacts,
    Finding,
    FindingCode,
    HandshakeFacts,
    RevocationFacts,
    Severity,
    Verdict,
)
from mtls_doctor.rules.answer import answer
from mtls_doctor.rules.chain import Reach, analyze_chain
from mtls_doctor.rules.fixes import make_verdict
from mtls_doctor.rules.identity import check_identity
from mtls_doctor.rules.outcome import Outcome, outcome
from mtls_doctor.rules.verdict import diagnose
from mtls_doctor.tls.target import Target
from mtls_doctor.tlsversion import TLSVersion

if TYPE_CHECKING:
    from cryptography import x509

    from mtls_doctor.chainbuild import BuiltChain, CaIssuers

#: The network failures that become a verdict (CONTRACT.md: exit 3).
NETWORK_VERDICTS: dict[type[NetworkError], Cause] = {
    ConnectError: Cause.UNREACHABLE,
    ConnectTimeout: Cause.TIMEOUT,
    NotTLSError: Cause.NOT_TLS,
}
#: A server's client-CA bundle: even a whole public trust store is well under this.
CA_BUNDLE_MAX_BYTES = 16 * 1024 * 1024


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
    tls_version: TLSVersion | None = None
    revocation: bool = True
    offline: bool = False
    crl_files: tuple[Path, ...] = ()
    ocsp_url: str | None = None
    warn_days: int = DEFAULT_WARN_DAYS
    now: datetime | None = None
    #: NSS stores (``nss`` / ``nss:DIR``): present what the browser would send.
    stores: tuple[str, ...] = ()


def network_diagnosis(exc: NetworkError, now: datetime, handshakes: int) -> Diagnosis | None:
    """A network failure as a verdict (unreachable / timeout / not_tls), or None."""
    cause = next((c for kind, c in NETWORK_VERDICTS.items() if isinstance(exc, kind)), None)
    if cause is None:
        return None
    return Diagnosis(
        verdict=make_verdict(cause, str(exc)),
        findings=(),
        facts=DiagnosisFacts(identity=None),
        checked_at=now,
        handshakes=handshakes,
    )


def check(request: CheckRequest) -> Diagnosis:
    """Diagnose ``request.target`` with the identities of ``request.cert_paths``.

    Raises InputError for unusable input and NetworkError when the server
    cannot be reached (the CLI turns the latter into a verdict).
    """
    return _Checker(request).run()


@dataclass
class _Checker:
    """One ``check`` run: the loaded material, the clock, the handshake count."""

    request: CheckRequest
    now: datetime = field(init=False)
    identities: list[LoadedIdentity] = field(default_factory=list)
    directory_cas: list[x509.Certificate] = field(default_factory=list)
    ca_bundle: list[x509.Certificate] = field(default_factory=list)
    handshakes: int = 0
    without_certificate: HandshakeFacts | None = None
    #: The run's one clock: every network step ends by it (--timeout means the whole run).
    deadline: Deadline = field(init=False)
    #: This run's caIssuers downloads (None: offline).
    ca_issuers: CaIssuers | None = field(init=False)

    def __post_init__(self) -> None:
        from mtls_doctor.chainbuild import CaIssuers

        self.now = self.request.now or datetime.now(UTC)
        self.deadline = Deadline(self.request.timeout)
        self.ca_issuers = None if self.request.offline else CaIssuers(self.deadline)

    # ------------------------------------------------------------------ gather

    def load(self) -> None:
        request = self.request
        for flag, value in (("--key", request.key_path), ("--select", request.select)):
            if value is not None and not request.cert_paths:
                raise UsageError(
                    f"{flag} goes with --cert: give the certificate too (--cert FILE {flag} ...)"
                )
        if request.stores:
            from mtls_doctor.browser import load_sources

            loaded = load_sources(
                request.stores,
                request.cert_paths,
                key_path=request.key_path,
                password=request.password,
            )
            # An empty store is a browser with nothing to send: diagnosed, not an error.
            self.identities = loaded.identities
            self.directory_cas = loaded.ca_certificates
        elif request.cert_paths:
            loaded = load_identities(
                request.cert_paths, key_path=request.key_path, password=request.password
            )
            if loaded.problems and not loaded.identities:
                problem = loaded.problems[0]
                raise InputError(problem.message, code=problem.code)
            if not loaded.identities:
                paths = ", ".join(map(str, request.cert_paths))
                raise InputError(f"no client certificate found in {paths}")
            self.identities = loaded.identities
            self.directory_cas = loaded.ca_certificates
        if request.ca_bundle:
            self.ca_bundle = _read_ca_bundle(request.ca_bundle)

    def connect(self, identity: LoadedIdentity | None) -> HandshakeFacts:
        from mtls_doctor.tls.client import ClientIdentity, handshake

        client = None
        if identity is not None:
            client = ClientIdentity(
                certificate=identity.certificate,
                chain=identity.issuing_path or identity.chain,
                private_key=identity.private_key,
            )
        remaining = self.deadline.remaining()
        if remaining <= 0:
            raise ConnectTimeout(
                f"{self.request.target}: the {self.request.timeout:g} s timeout passed "
                "before the next handshake"
            )
        self.handshakes += 1
        facts = handshake(
            self.request.target,
            identity=client,
            timeout=remaining,
            tls_version=self.request.tls_version,
            timeout_shown=self.request.timeout,
        )
        if identity is None:
            self.without_certificate = facts
        return facts

    def chain(self, item: LoadedIdentity, *, download: bool = True) -> BuiltChain:
        """The issuing path; ``download``: fill gaps from caIssuers URLs (only worth a
        download when the server refused: an accepted chain needs no missing link)."""
        from mtls_doctor.chainbuild import build_chain

        return build_chain(
            item,
            directory_cas=self.directory_cas,
            ca_bundle=self.ca_bundle,
            fetcher=self.ca_issuers.fetch if download and self.ca_issuers else None,
        )

    def revocation(self, item: LoadedIdentity, chain: BuiltChain) -> tuple[RevocationFacts, ...]:
        """CRL / OCSP status of the leaf and its intermediates, when wanted."""
        request = self.request
        if not request.revocation:
            return ()
        from mtls_doctor.revocation import check_revocation

        return check_revocation(
            item.certificate,
            list(chain.certificates),
            timeout=request.timeout,
            offline=request.offline,
            crl_files=request.crl_files,
            ocsp_url=request.ocsp_url,
            now=self.now,
            deadline=self.deadline,
        )

    def fits(self, item: LoadedIdentity, attempt: HandshakeFacts) -> bool:
        """Would this identity suit the server, judged locally against its CA names?"""
        if not _presentable(item) or not attempt.acceptable_ca_names:
            return False
        if any(f.severity is Severity.ERROR for f in check_identity(item.facts, self.now)):
            return False
        reach = analyze_chain(item.facts, self.chain(item).facts, attempt.acceptable_ca_names)
        return reach.reach is Reach.REACHES

    # ------------------------------------------------------------------ decide

    def diagnosis(self, facts: DiagnosisFacts) -> Diagnosis:
        facts = replace(facts, protocol=self.request.target.protocol)
        findings, verdict = diagnose(facts, self.now, self.request.warn_days)
        return Diagnosis(
            verdict=verdict,
            findings=findings,
            facts=facts,
            checked_at=self.now,
            handshakes=self.handshakes,
        )

    def primary(self) -> LoadedIdentity:
        """The identity to present first: the selected one, else the locally best."""
        select = self.request.select
        if select is None:
            return min(self.identities, key=self._local_rank)
        chosen = [item for item in self.identities if _matches(item, select)]
        if not chosen:
            raise UsageError(
                f"--select {select!r} matches no identity; the candidates: "
                + candidates(self.identities)
            )
        distinct = {item.facts.certificate.fingerprint_sha256 for item in chosen}
        if len(distinct) > 1:
            raise UsageError(
                f"--select {select!r} matches {len(distinct)} different certificates; "
                f"name one by file, full serial or 8+ hex digits of its SHA-256 fingerprint: "
                f"{candidates(chosen)}"
            )
        # The same certificate in several files (.pem, .p12): the best-placed copy.
        return min(chosen, key=self._local_rank)

    def _local_rank(self, item: LoadedIdentity) -> tuple[int, float]:
        """Presentable first, then fewer local errors, then the longest-lived."""
        errors = sum(
            1 for f in check_identity(item.facts, self.now) if f.severity is Severity.ERROR
        )
        return (
            errors + (0 if _presentable(item) else 100),
            -item.facts.certificate.not_after.timestamp(),
        )

    def run(self) -> Diagnosis:
        self.load()
        if self.request.stores:
            return self.run_as_browser()
        if not self.identities:
            return self.diagnosis(
                DiagnosisFacts(identity=None, without_certificate=self.connect(None))
            )
        primary = self.primary()
        if not _presentable(primary):
            probe = self.connect(None)
            return self.diagnosis(DiagnosisFacts(identity=primary.facts, without_certificate=probe))
        attempt = self.connect(primary)
        alternatives: tuple[Alternative, ...] = ()
        refused = outcome(attempt) in (Outcome.REFUSED, Outcome.APP_REFUSED)
        if refused and attempt.certificate_requested:
            others = [item for item in self.identities if item is not primary]
            if self.ca_issuers is not None:
                self.ca_issuers.prefetch([item.certificate for item in others])
            fitting = [item for item in others if self.fits(item, attempt)]
            if fitting:
                better = fitting[0]
                second = self.connect(better)
                accepted = outcome(second) is Outcome.SERVED
                if accepted and self.request.select is None:
                    # The locally best guess was refused; the one that fits works.
                    return self._switched(better, second, rejected=primary, first=attempt)
                alternatives = tuple(
                    Alternative(
                        identity=item.facts,
                        fits=item in fitting,
                        accepted=accepted if item is better else None,
                    )
                    for item in others
                )
            else:
                self.connect(None)
                alternatives = tuple(Alternative(identity=i.facts, fits=False) for i in others)
        chain = self.chain(primary, download=refused)
        return self.diagnosis(
            DiagnosisFacts(
                identity=primary.facts,
                attempt=attempt,
                without_certificate=self.without_certificate,
                chain=chain.facts,
                revocation=self.revocation(primary, chain) if refused else (),
                selected_by_user=self.request.select is not None and len(self.identities) > 1,
                alternatives=alternatives,
            )
        )

    def run_as_browser(self) -> Diagnosis:
        """``--store``: present what Chromium would send; if nothing, the best candidate.

        Two handshakes: one without a certificate (the CA names the picker
        filters by, and how the server treats a browser that sends none), one
        with the identity.
        """
        from mtls_doctor.browser import picker_findings, picker_for, with_key

        probe = self.connect(None)
        view = picker_for(self.identities, probe, self.now)
        item, notes = picker_findings(self.identities, view, probe)
        if item is None:
            result = self.diagnosis(DiagnosisFacts(identity=None, without_certificate=probe))
            return replace(result, findings=(*notes, *result.findings))
        item = with_key(item, self.request.password)
        if not _presentable(item):
            facts = DiagnosisFacts(identity=item.facts, without_certificate=probe)
        else:
            attempt = self.connect(item)
            refused = outcome(attempt) in (Outcome.REFUSED, Outcome.APP_REFUSED)
            chain = self.chain(item, download=refused)
            facts = DiagnosisFacts(
                identity=item.facts,
                attempt=attempt,
                without_certificate=probe,
                chain=chain.facts,
                revocation=self.revocation(item, chain) if refused else (),
            )
        result = self.diagnosis(facts)
        verdict = result.verdict
        if view.chosen is None and verdict.cause is not Cause.NO_CERTIFICATE_SENT:
            verdict = Verdict(
                cause=verdict.cause,
                summary="The browser would not even offer this certificate (it sends none, "
                f"so the server says no certificate was sent). {verdict.summary}",
                fixes=verdict.fixes,
            )
        return Diagnosis(
            verdict=verdict,
            findings=(*notes, *result.findings),
            facts=result.facts,
            checked_at=self.now,
            handshakes=self.handshakes,
        )

    def _switched(
        self,
        chosen: LoadedIdentity,
        attempt: HandshakeFacts,
        *,
        rejected: LoadedIdentity,
        first: HandshakeFacts,
    ) -> Diagnosis:
        """Accepted with another identity than the first one tried: say which to use."""
        result = self.diagnosis(
            DiagnosisFacts(
                identity=chosen.facts,
                attempt=attempt,
                chain=self.chain(chosen).facts,
            )
        )
        note = Finding(
            code=FindingCode.IDENTITY_CHOSEN,
            severity=Severity.INFO,
            message=f"{rejected.facts.source} was refused ({answer(first)}); "
            f"{chosen.facts.source} ({chosen.facts.certificate.subject}) is the identity to use "
            "for this server.",
        )
        verdict = Verdict(
            cause=result.verdict.cause,
            summary=f"{result.verdict.summary} Use {chosen.facts.source}, not "
            f"{rejected.facts.source}.",
            fixes=result.verdict.fixes,
            user_fixes=result.verdict.user_fixes,
            server_fixes=result.verdict.server_fixes,
        )
        return Diagnosis(
            verdict=verdict,
            findings=(note, *result.findings),
            facts=result.facts,
            checked_at=self.now,
            handshakes=self.handshakes,
        )


def candidates(items: list[LoadedIdentity], limit: int = 5) -> str:
    """A short list of the certificates to choose from: subject, serial, source.

    The serial is whole: sequential serials share long prefixes, and ``--select``
    takes a full serial.

    One entry per certificate (the same one in .pem and .p12 is one choice).
    """

    def short(text: str, size: int) -> str:
        return text if len(text) <= size else text[: size - 3] + "..."

    by_certificate: dict[str, list[LoadedIdentity]] = {}
    for item in items:
        by_certificate.setdefault(item.facts.certificate.fingerprint_sha256, []).append(item)
    shown = []
    for copies in list(by_certificate.values())[:limit]:
        cert = copies[0].facts.certificate
        also = f" +{len(copies) - 1} more file(s)" if len(copies) > 1 else ""
        shown.append(
            f"{short(cert.subject, 48)} (serial {cert.serial}, "
            f"{short(copies[0].facts.source, 60)}{also})"
        )
    more = len(by_certificate) - limit
    return "; ".join(shown) + (f"; and {more} more certificates" if more > 0 else "")


def _presentable(item: LoadedIdentity) -> bool:
    """A TLS library will present it: it has its own private key."""
    return item.private_key is not None and item.facts.key_matches is True


def _matches(item: LoadedIdentity, needle: str) -> bool:
    """``--select``: subject text, file, serial, or a fingerprint prefix (8+ hex digits)."""
    facts = item.facts
    compact = needle.lower().replace(":", "")
    return (
        needle in facts.certificate.subject
        or needle == facts.source
        or compact == facts.certificate.serial
        or (len(compact) >= 8 and facts.certificate.fingerprint_sha256.startswith(compact))
    )


def _read_ca_bundle(path: str | os.PathLike[str]) -> list[x509.Certificate]:
    from cryptography import x509

    from mtls_doctor.files import FileReadError, read_regular_file

    try:
        data = read_regular_file(path, limit=CA_BUNDLE_MAX_BYTES, what="CA bundle")
    except FileReadError as exc:
        raise BundleLoadError(exc.path, exc.reason) from exc
    try:
        return list(x509.load_pem_x509_certificates(data))
    except ValueError:
        try:
            return [x509.load_der_x509_certificate(data)]
        except ValueError as exc:
            raise BundleLoadError(str(path), "not a PEM or DER CA bundle") from exc
