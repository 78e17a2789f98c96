"""Asking for revocation status: which sources, in what order, by when.

For each certificate not self-signed: the ``--crl`` files first (local, no
network), then OCSP at the AIA URL (or ``--ocsp-url`` for the leaf; POST,
then GET per RFC 6960 A.1 if the responder refuses the POST), then the CRL
distribution points. The certificates are looked up concurrently, each one's
URLs in order, all within the run's one deadline. The judging of what comes
back is in ``crl.py`` and ``ocsp.py``; this module only fetches and schedules.
"""

from __future__ import annotations

import base64
import os
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from mtls_doctor.deadline import Deadline, run_before
from mtls_doctor.errors import FetchError, RevocationFetchError
from mtls_doctor.model import RevocationFacts, RevocationStatus
from mtls_doctor.revocation.answer import UntrustedAnswer, VerifiedAnswer
from mtls_doctor.revocation.cache import CrlCache, default_cache_dir
from mtls_doctor.revocation.crl import (
    CRL_MAX_BYTES,
    crl_is_fresh,
    crl_status,
    load_crl_files,
    parse_crl,
)
from mtls_doctor.revocation.ocsp import OCSP_MAX_BYTES, ocsp_status, parse_ocsp
from mtls_doctor.x509facts import is_issued_by

__all__ = ["check_revocation"]


# --------------------------------------------------------------------------- entry point


def check_revocation(
    leaf: x509.Certificate,
    issuers: Sequence[x509.Certificate],
    *,
    timeout: float,
    offline: bool = False,
    crl_files: Sequence[Path] = (),
    ocsp_url: str | None = None,
    now: datetime | None = None,
    cache_dir: Path | None = None,
    use_cache: bool = True,
    ocsp_method: str = "post",
    crl_max_bytes: int = CRL_MAX_BYTES,
    ocsp_max_bytes: int = OCSP_MAX_BYTES,
    deadline: Deadline | None = None,
) -> tuple[RevocationFacts, ...]:
    """The revocation status of ``leaf`` and of each intermediate in ``issuers``.

    ``issuers`` is the issuing path above the leaf as far as known, the
    leaf's issuer first. One :class:`RevocationFacts` per certificate that is
    not self-signed (a trust anchor is not subject to revocation checking,
    RFC 5280 6.1): ``good`` and ``revoked`` only from a verified answer,
    ``unknown`` with the reasons otherwise, ``skipped`` (detail ``offline``)
    when ``offline`` is set and no ``crl_files`` are given. ``offline`` never
    makes a network request; ``crl_files`` are read in either case.

    ``ocsp_url`` replaces the leaf's AIA OCSP URL. ``ocsp_method`` ``post``
    (the default; falls back to GET when the responder refuses) or ``get``.
    ``cache_dir`` defaults to :func:`default_cache_dir`. Raises
    :class:`InputError` for an unreadable or corrupt ``crl_files`` entry;
    network failures become ``unknown`` facts, never exceptions.

    Every lookup is finished by ``deadline`` (default: ``timeout`` seconds from
    now), the run's one clock: the certificates are looked up concurrently, each
    one's URLs in order (OCSP, then CRL), and what has not answered when the
    deadline passes is ``unknown`` with that reason.
    """
    if ocsp_method not in ("post", "get"):
        raise ValueError(f"ocsp_method must be 'post' or 'get', not {ocsp_method!r}")
    when = (now or datetime.now(UTC)).astimezone(UTC)
    local = load_crl_files(crl_files)
    cache = None
    if use_cache and not offline:
        cache = CrlCache(cache_dir if cache_dir is not None else default_cache_dir())
    lookup = _Lookup(
        now=when,
        deadline=deadline if deadline is not None else Deadline(timeout),
        offline=offline,
        local=local,
        cache=cache,
        ocsp_method=ocsp_method,
        crl_max_bytes=crl_max_bytes,
        ocsp_max_bytes=ocsp_max_bytes,
    )
    chain = [leaf, *issuers]
    pending: list[_Pending] = []
    for index, cert in enumerate(chain):
        if _self_signed(cert):
            break
        issuer = chain[index + 1] if index + 1 < len(chain) else None
        override = ocsp_url if index == 0 else None
        pending.append(lookup.start(cert, issuer, ocsp_override=override))
    lookup.settle(pending)
    return tuple(item.facts() for item in pending)


def _self_signed(cert: x509.Certificate) -> bool:
    return cert.subject == cert.issuer and is_issued_by(cert, cert)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Lookup:
    """One run's settings; ``check`` settles one certificate."""

    now: datetime
    deadline: Deadline
    offline: bool
    local: tuple[tuple[str, x509.CertificateRevocationList], ...]
    cache: CrlCache | None
    ocsp_method: str
    crl_max_bytes: int
    ocsp_max_bytes: int

    def start(
        self, cert: x509.Certificate, issuer: x509.Certificate | None, *, ocsp_override: str | None
    ) -> _Pending:
        """What there is to do for ``cert``; settled at once when there is nothing to ask."""
        subject = cert.subject.rfc4514_string()
        item = _Pending(subject=subject, offline=self.offline)
        if self.offline and not self.local:
            item.settled = RevocationFacts(
                status=RevocationStatus.SKIPPED, detail="offline", subject=subject
            )
        elif issuer is None:
            item.settled = RevocationFacts(
                status=RevocationStatus.UNKNOWN,
                detail="the issuer's certificate is not available, so no CRL or OCSP answer "
                "about it can be verified",
                subject=subject,
            )
        else:
            item.attempts = self._attempts(cert, issuer, ocsp_override)
            if not item.attempts:
                # Nothing to ask (common in private PKIs): not checked, rather than unknown.
                item.settled = RevocationFacts(
                    status=RevocationStatus.SKIPPED,
                    detail="no OCSP or CRL URL in the certificate",
                    subject=subject,
                )
        return item

    def settle(self, pending: Sequence[_Pending]) -> None:
        """Try each certificate's sources in order, the certificates concurrently.

        Local CRL files are read whatever the clock says; network attempts run
        in rounds (every certificate's first URL at once, then the second for
        those still open, ...) until answered or the deadline passes.
        """
        for item in pending:
            while item.open and item.attempts[item.next][0] == "files":
                item.record(_attempt_inline(item.attempts[item.next]))
        while open_items := [item for item in pending if item.open]:
            if self.deadline.expired():
                for item in open_items:
                    item.give_up(f"not tried {self.deadline.ran_out()}")
                break
            tasks = [item.attempts[item.next][2] for item in open_items]
            for item, outcome in zip(open_items, run_before(self.deadline, tasks), strict=True):
                if not outcome.finished:
                    item.record(_late(self.deadline))
                elif outcome.error is None:
                    item.record(outcome.result())
                elif isinstance(outcome.error, UntrustedAnswer | RevocationFetchError):
                    item.record(_reason(outcome.error))
                else:
                    # A lookup that failed in a way we did not foresee is still a fact.
                    item.record(f"the lookup failed ({type(outcome.error).__name__})")

    def _attempts(
        self, cert: x509.Certificate, issuer: x509.Certificate, ocsp_override: str | None
    ) -> list[tuple[str, str, Callable[[], VerifiedAnswer]]]:
        """What to try, in order: local CRLs, then (online) OCSP, then CDP CRLs."""
        out: list[tuple[str, str, Callable[[], VerifiedAnswer]]] = []
        if self.local:
            out.append(("files", "files", partial(self._local_crl, cert, issuer)))
        if self.offline:
            return out
        ocsp_urls, crl_urls = _urls(cert)
        if ocsp_override:
            ocsp_urls = (ocsp_override,)
        out.extend(
            ("ocsp", _redact(url), partial(self._ocsp, cert, issuer, url)) for url in ocsp_urls
        )
        out.extend(
            ("crl", _redact(url), partial(self._remote_crl, cert, issuer, url)) for url in crl_urls
        )
        return out

    # ----------------------------------------------------------------------- CRL

    def _local_crl(self, cert: x509.Certificate, issuer: x509.Certificate) -> VerifiedAnswer:
        problems = []
        for path, crl in self.local:
            if crl.issuer != issuer.subject:
                continue
            try:
                return crl_status(cert, issuer, crl, now=self.now, source=path)
            except UntrustedAnswer as exc:
                problems.append(f"{path}: {exc}")
        if problems:
            raise UntrustedAnswer("; ".join(problems))
        raise UntrustedAnswer(
            f"no CRL issued by {issuer.subject.rfc4514_string()} in the given files"
        )

    def _remote_crl(
        self, cert: x509.Certificate, issuer: x509.Certificate, url: str
    ) -> VerifiedAnswer:
        source = _redact(url)
        if self.cache is not None:
            cached = self.cache.load(url)
            if cached is not None:
                try:
                    return crl_status(
                        cert, issuer, parse_crl(cached), now=self.now, source=f"{source} (cached)"
                    )
                except UntrustedAnswer:
                    pass  # stale or not this issuer's: fetch it again
        body = _download(url, deadline=self.deadline, max_bytes=self.crl_max_bytes, what="CRL")
        crl = parse_crl(body)
        answer = crl_status(cert, issuer, crl, now=self.now, source=source)
        if self.cache is not None and crl_is_fresh(crl, self.now):
            self.cache.store(url, body)
        return answer

    # ----------------------------------------------------------------------- OCSP

    def _ocsp(self, cert: x509.Certificate, issuer: x509.Certificate, url: str) -> VerifiedAnswer:
        builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())
        if self.ocsp_method == "get":
            return self._ocsp_get(builder.build(), cert, issuer, url)
        nonce = os.urandom(16)
        request = builder.add_extension(x509.OCSPNonce(nonce), critical=False).build()
        try:
            body = _download(
                url,
                deadline=self.deadline,
                max_bytes=self.ocsp_max_bytes,
                what="OCSP response",
                data=request.public_bytes(serialization.Encoding.DER),
                content_type="application/ocsp-request",
            )
        except RevocationFetchError as exc:
            if exc.status is None:
                raise
            # Some responders answer GET only (RFC 5019 2.1); that form carries no nonce.
            return self._ocsp_get(builder.build(), cert, issuer, url)
        return ocsp_status(
            parse_ocsp(body), request, cert, issuer, now=self.now, source=_redact(url), nonce=nonce
        )

    def _ocsp_get(
        self,
        request: ocsp.OCSPRequest,
        cert: x509.Certificate,
        issuer: x509.Certificate,
        url: str,
    ) -> VerifiedAnswer:
        """RFC 6960 A.1: GET {url}/{url-encoded base64 of the DER request}."""
        encoded = base64.b64encode(request.public_bytes(serialization.Encoding.DER)).decode()
        get_url = f"{url.rstrip('/')}/{urllib.parse.quote(encoded, safe='')}"
        try:
            body = _download(
                get_url, deadline=self.deadline, max_bytes=self.ocsp_max_bytes, what="OCSP response"
            )
        except RevocationFetchError as exc:
            raise RevocationFetchError(_redact(url), exc.reason) from exc
        return ocsp_status(
            parse_ocsp(body), request, cert, issuer, now=self.now, source=_redact(url), nonce=None
        )


def _download(
    url: str,
    *,
    deadline: Deadline,
    max_bytes: int,
    what: str,
    data: bytes | None = None,
    content_type: str | None = None,
) -> bytes:
    """``fetch`` with the failure as a :class:`RevocationFetchError` in our words."""
    # Imported here: urllib.request brings http.client and email.parser (~9 ms),
    # which an offline run or one with nothing to download never needs.
    from mtls_doctor.fetch import fetch

    try:
        return fetch(
            url, deadline=deadline, max_bytes=max_bytes, data=data, content_type=content_type
        )
    except FetchError as exc:
        reason = exc.reason
        if "cap" in reason:
            reason = f"the {what} is larger than the {_size(max_bytes)} cap; download stopped"
        elif "answered garbage" in reason:
            reason = reason.replace("the server answered garbage", "the responder answered garbage")
        raise RevocationFetchError(_redact(url), reason, status=exc.status) from exc


def _late(deadline: Deadline) -> str:
    return f"no answer {deadline.ran_out()}"


_Attempt = tuple[str, str, Callable[[], "VerifiedAnswer"]]


def _attempt_inline(attempt: _Attempt) -> VerifiedAnswer | str:
    try:
        return attempt[2]()
    except UntrustedAnswer as exc:
        return str(exc)


@dataclass(slots=True)
class _Pending:
    """One certificate's lookups: the attempts left, the reasons gathered, the answer."""

    subject: str
    offline: bool
    attempts: list[_Attempt] = field(default_factory=list)
    next: int = 0
    reasons: list[str] = field(default_factory=list)
    settled: RevocationFacts | None = None

    @property
    def open(self) -> bool:
        return self.settled is None and self.next < len(self.attempts)

    def record(self, result: VerifiedAnswer | str) -> None:
        """The answer of the current attempt, or why it gave none."""
        method, source, _run = self.attempts[self.next]
        method = "crl" if method == "files" else method
        self.next += 1
        if isinstance(result, VerifiedAnswer):
            self.settled = RevocationFacts(
                status=result.status, method=method, detail=result.detail, subject=self.subject
            )
        else:
            self.reasons.append(f"{method.upper()} {source}: {result}")

    def give_up(self, why: str) -> None:
        """Record the attempts left as not made, in one reason."""
        left = [source for _method, source, _run in self.attempts[self.next :]]
        self.next = len(self.attempts)
        shown = ", ".join(left[:3]) + (", ..." if len(left) > 3 else "")
        self.reasons.append(f"{len(left)} more URL(s) {why}: {shown}")

    def facts(self) -> RevocationFacts:
        """The settled facts, or ``unknown`` with every reason."""
        if self.settled is not None:
            return self.settled
        reasons = list(self.reasons)
        if self.offline:
            reasons.append("offline, so no OCSP or CRL URL was tried")
        return RevocationFacts(
            status=RevocationStatus.UNKNOWN, detail="; ".join(reasons), subject=self.subject
        )


def _size(count: int) -> str:
    if count % (1024 * 1024) == 0:
        return f"{count // (1024 * 1024)} MiB"
    if count % 1024 == 0:
        return f"{count // 1024} KiB"
    return f"{count}-byte"


def _reason(exc: Exception) -> str:
    if isinstance(exc, FetchError):
        return exc.reason
    return str(exc)


def _redact(url: str) -> str:
    """The URL without any user:password@ part (it may end up in output)."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _urls(cert: x509.Certificate) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(AIA OCSP URLs, CRL distribution point URLs); ``x509facts`` reads them the same way."""
    from mtls_doctor.x509facts import cert_facts

    facts = cert_facts(cert)
    return facts.ocsp_urls, facts.crl_urls
