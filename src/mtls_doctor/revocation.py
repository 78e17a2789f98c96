"""Adapter: is the client certificate, or an intermediate above it, revoked?

The client side must find out by itself: nginx never tells a client that its
certificate was revoked (it answers 400 "The SSL certificate error"), and other
servers say so only when their own CRL is current. So ``check`` asks the CA:

1. ``--crl FILE`` first, when given (local, no network);
2. OCSP (RFC 6960) at the certificate's AIA OCSP URL, or ``--ocsp-url`` for
   the leaf: POST, then GET (RFC 6960 A.1) if the responder refuses the POST;
3. the CRL (RFC 5280) at its CRL distribution points.

An answer counts only when it is verified, and a certificate is never called
good on anything less:

- OCSP: a successful response, signed by the issuer or by a delegated
  responder whose certificate the issuer signed with the id-kp-OCSPSigning
  EKU (RFC 6960 4.2.2.2; ``cryptography`` checks none of this), a
  SingleResponse whose CertID is the one we asked about (RFC 6960 3.2 items
  1 and 2), thisUpdate not in the future, nextUpdate not past (3.2 items 4
  and 5), the nonce echoed if one comes back (RFC 8954). A successful
  response with zero SingleResponses is "unknown", not "good".
- CRL: issued under the issuer's name and signed by its key (RFC 5280
  6.3.3 (b)(1), (g)), the issuer allowed to sign CRLs (4.2.1.3), nextUpdate
  not past (6.3.3 (a)(2)), the issuing distribution point in scope (5.2.5,
  6.3.3 (b)(2)), not a delta CRL (5.2.4), no critical extension we do not
  understand (5.2, 5.3).

A verified revocation stays a revocation when the answer is past its
nextUpdate (revocation is permanent, RFC 5280 3.3), except certificateHold.

Every download goes through :func:`mtls_doctor.fetch.fetch`: http and https
only (also after redirects), a size cap read in chunks (CRLs can be large:
10 MiB), the caller's timeout. ``offline`` makes no request at all. CRLs are
cached on disk (``$XDG_CACHE_HOME/mtls-doctor/crl/``), keyed by a hash of the
URL and reused until their nextUpdate, so a fleet of checks fetches each CRL
once. The download code is imported on the first download only.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from mtls_doctor.deadline import Deadline, run_before
from mtls_doctor.errors import FetchError, InputError, RevocationFetchError
from mtls_doctor.files import read_regular_file
from mtls_doctor.model import RevocationFacts, RevocationStatus
from mtls_doctor.pem import scan_pem
from mtls_doctor.x509facts import extension, is_issued_by

__all__ = [
    "CRL_MAX_BYTES",
    "OCSP_MAX_BYTES",
    "CrlCache",
    "UntrustedAnswer",
    "VerifiedAnswer",
    "check_revocation",
    "crl_status",
    "default_cache_dir",
    "load_crl_files",
    "ocsp_status",
]

#: Cap on one CRL download. Large CAs publish CRLs of several MiB; beyond this
#: the download stops and the status is "unknown" (the detail says so).
CRL_MAX_BYTES = 10 * 1024 * 1024
#: Cap on a local ``--crl`` file (read from disk, so more generous than a download).
CRL_FILE_MAX_BYTES = 64 * 1024 * 1024
#: Cap on one OCSP response (a few KiB in practice, even with certificates).
OCSP_MAX_BYTES = 64 * 1024
#: How far a responder's or CA's clock may run ahead of ours.
CLOCK_SKEW = timedelta(minutes=5)
#: How old an OCSP answer without nextUpdate may be ("newer information is
#: always available", RFC 6960 4.2.2.1: such an answer is only good when recent).
OCSP_MAX_AGE = timedelta(days=1)

_OCSP_STATUS_NAMES = {
    ocsp.OCSPResponseStatus.MALFORMED_REQUEST: "malformedRequest",
    ocsp.OCSPResponseStatus.INTERNAL_ERROR: "internalError",
    ocsp.OCSPResponseStatus.TRY_LATER: "tryLater",
    ocsp.OCSPResponseStatus.SIG_REQUIRED: "sigRequired",
    ocsp.OCSPResponseStatus.UNAUTHORIZED: "unauthorized",
}
#: CRL extensions whose meaning is handled below (RFC 5280 5.2); any other
#: critical one makes the CRL unusable.
_HANDLED_CRL_EXTENSIONS = (
    x509.IssuingDistributionPoint,
    x509.CRLNumber,
    x509.AuthorityKeyIdentifier,
    x509.AuthorityInformationAccess,
)


class UntrustedAnswer(Exception):  # noqa: N818 (not an error of ours: a verdict on an answer)
    """A CRL or OCSP answer that cannot be believed, or does not settle the status; says why."""


@dataclass(frozen=True, slots=True)
class VerifiedAnswer:
    """A CRL or OCSP answer about one certificate that passed every check."""

    #: GOOD or REVOKED.
    status: RevocationStatus
    #: Reason and date when revoked, and where the answer came from.
    detail: str


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
                        cert, issuer, _parse_crl(cached), now=self.now, source=f"{source} (cached)"
                    )
                except UntrustedAnswer:
                    pass  # stale or not this issuer's: fetch it again
        body = _download(url, deadline=self.deadline, max_bytes=self.crl_max_bytes, what="CRL")
        crl = _parse_crl(body)
        answer = crl_status(cert, issuer, crl, now=self.now, source=source)
        if self.cache is not None and _fresh(crl, self.now):
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
            _parse_ocsp(body), request, cert, issuer, now=self.now, source=_redact(url), nonce=nonce
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
            _parse_ocsp(body), request, cert, issuer, now=self.now, source=_redact(url), nonce=None
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


# --------------------------------------------------------------------------- CRL checks


def load_crl_files(paths: Sequence[Path]) -> tuple[tuple[str, x509.CertificateRevocationList], ...]:
    """Every CRL in ``paths`` (PEM with one or more CRLs, or DER), with its path.

    Raises :class:`InputError` for a file that cannot be read or holds no CRL:
    a ``--crl`` the user named must not be silently ignored.
    """
    out: list[tuple[str, x509.CertificateRevocationList]] = []
    for path in paths:
        data = read_regular_file(path, limit=CRL_FILE_MAX_BYTES, what="CRL file")
        blocks = [b.text for b in scan_pem(data).blocks if b.label == b"X509 CRL"]
        try:
            if blocks:
                out.extend((str(path), x509.load_pem_x509_crl(block)) for block in blocks)
            else:
                out.append((str(path), x509.load_der_x509_crl(data)))
        except ValueError as exc:
            raise InputError(f"{path}: not a CRL (PEM or DER)") from exc
    return tuple(out)


def _parse_crl(body: bytes) -> x509.CertificateRevocationList:
    try:
        if body.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(body)
        return x509.load_der_x509_crl(body)
    except ValueError as exc:
        raise UntrustedAnswer("the answer is not a CRL") from exc


def _fresh(crl: x509.CertificateRevocationList, now: datetime) -> bool:
    next_update = crl.next_update_utc
    return (
        next_update is not None and now <= next_update and crl.last_update_utc <= now + CLOCK_SKEW
    )


def crl_status(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    crl: x509.CertificateRevocationList,
    *,
    now: datetime,
    source: str,
) -> VerifiedAnswer:
    """What a CRL says about ``cert``, after checking it may be believed (RFC 5280 6.3.3).

    Raises :class:`UntrustedAnswer` with the reason when the CRL is not the issuer's,
    not authentic, out of date (unless it revokes), out of scope or partial.
    """
    if crl.issuer != issuer.subject or cert.issuer != issuer.subject:
        raise UntrustedAnswer(
            f"the CRL was issued by {crl.issuer.rfc4514_string()}, not by the certificate's "
            f"issuer {cert.issuer.rfc4514_string()}"
        )
    usage = _extension(issuer, x509.KeyUsage)
    if usage is not None and not usage.crl_sign:
        raise UntrustedAnswer("the issuer's key usage does not allow it to sign CRLs")
    try:
        valid = crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
    except (TypeError, ValueError, UnsupportedAlgorithm):
        valid = False
    if not valid:
        raise UntrustedAnswer("bad signature: the CRL is not signed by the issuer's key")
    for ext in crl.extensions:
        if isinstance(ext.value, x509.DeltaCRLIndicator):
            raise UntrustedAnswer(
                "a delta CRL cannot establish the status on its own (RFC 5280 5.2.4)"
            )
        if ext.critical and not isinstance(ext.value, _HANDLED_CRL_EXTENSIONS):
            raise UntrustedAnswer(f"the CRL has a critical extension we cannot process ({ext.oid})")
    partial = _idp_scope(cert, crl)
    if crl.last_update_utc > now + CLOCK_SKEW:
        raise UntrustedAnswer(f"the CRL's thisUpdate {_when(crl.last_update_utc)} is in the future")
    next_update = crl.next_update_utc
    stale = None
    if next_update is None:
        stale = "the CRL has no nextUpdate, so its freshness cannot be judged"
    elif now > next_update:
        stale = f"stale: the CRL's nextUpdate was {_when(next_update)}"
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    if entry is not None:
        for ext in entry.extensions:
            if ext.critical and not isinstance(ext.value, (x509.CRLReason, x509.InvalidityDate)):
                raise UntrustedAnswer(
                    f"the CRL entry has a critical extension we cannot process ({ext.oid})"
                )
        reason = _extension_value(entry.extensions, x509.CRLReason)
        flag = reason.reason if reason is not None else x509.ReasonFlags.unspecified
        if flag is x509.ReasonFlags.remove_from_crl:
            entry = None  # only meaningful in delta CRLs, which are refused above
        elif stale is None or flag is not x509.ReasonFlags.certificate_hold:
            detail = _revoked_words(flag, entry.revocation_date_utc, f"CRL {source}")
            return VerifiedAnswer(
                RevocationStatus.REVOKED, detail + (f"; note: {stale}" if stale else "")
            )
    if stale is not None:
        raise UntrustedAnswer(stale)
    if partial:
        raise UntrustedAnswer(partial)
    return VerifiedAnswer(
        RevocationStatus.GOOD, f"not on the CRL {source} (valid until {_when(next_update)})"
    )


def _idp_scope(cert: x509.Certificate, crl: x509.CertificateRevocationList) -> str | None:
    """Raise when ``cert`` is outside the CRL's scope (RFC 5280 5.2.5, 6.3.3 (b)(2)).

    Returns a reason when the CRL can prove revocation but not good standing
    (it covers only some reasons), else None.
    """
    idp = _extension_value(crl.extensions, x509.IssuingDistributionPoint)
    if idp is None:
        return None
    basic = _extension(cert, x509.BasicConstraints)
    is_ca = basic is not None and basic.ca
    if idp.only_contains_user_certs and is_ca:
        raise UntrustedAnswer("the CRL covers only end-entity certificates, and this is a CA")
    if idp.only_contains_ca_certs and not is_ca:
        raise UntrustedAnswer("the CRL covers only CA certificates, and this is an end entity")
    if idp.only_contains_attribute_certs:
        raise UntrustedAnswer("the CRL covers only attribute certificates")
    if idp.indirect_crl:
        raise UntrustedAnswer("indirect CRLs are not supported")
    if idp.full_name:
        points = _extension(cert, x509.CRLDistributionPoints)
        if points is not None:
            ours = {str(name.value) for point in points for name in point.full_name or ()}
            theirs = {str(name.value) for name in idp.full_name}
            if not ours & theirs:
                raise UntrustedAnswer(
                    "the CRL's issuing distribution point "
                    f"({', '.join(sorted(theirs))}) is not the certificate's"
                )
    if idp.only_some_reasons:
        return "the CRL covers only some revocation reasons, so it cannot show good standing"
    return None


# --------------------------------------------------------------------------- OCSP checks


def _parse_ocsp(body: bytes) -> ocsp.OCSPResponse:
    try:
        return ocsp.load_der_ocsp_response(body)
    except ValueError as exc:
        raise UntrustedAnswer("the answer is not an OCSP response") from exc


def ocsp_status(
    response: ocsp.OCSPResponse,
    request: ocsp.OCSPRequest,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    *,
    now: datetime,
    source: str,
    nonce: bytes | None,
) -> VerifiedAnswer:
    """What an OCSP response says about ``cert``, after checking it may be believed.

    Raises :class:`UntrustedAnswer` with the reason otherwise (RFC 6960 3.2).
    """
    status = response.response_status
    if status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise UntrustedAnswer(
            f"the responder answered {_OCSP_STATUS_NAMES.get(status, status.name)}"
        )
    singles = list(response.responses)
    if not singles:
        raise UntrustedAnswer("the response holds no certificate status (zero single responses)")
    signer = _ocsp_signer(response, issuer, now)
    _verify_signature(signer, response)
    single = next((s for s in singles if _same_cert_id(s, request)), None)
    if single is None:
        raise UntrustedAnswer("the response is about another certificate (its CertID differs)")
    if nonce is not None:
        echoed = _extension_value(response.extensions, x509.OCSPNonce)
        if echoed is not None and echoed.nonce != nonce:
            raise UntrustedAnswer("the response's nonce is not ours (a replayed answer?)")
    if single.this_update_utc > now + CLOCK_SKEW:
        raise UntrustedAnswer(
            f"the response's thisUpdate {_when(single.this_update_utc)} is in the future"
        )
    next_update = single.next_update_utc
    stale = None
    if next_update is not None and now > next_update + CLOCK_SKEW:
        stale = f"stale: the response's nextUpdate was {_when(next_update)}"
    elif next_update is None and now > single.this_update_utc + OCSP_MAX_AGE:
        stale = (
            f"stale: the response (thisUpdate {_when(single.this_update_utc)}, no nextUpdate) "
            "is older than a day"
        )
    match single.certificate_status:
        case ocsp.OCSPCertStatus.REVOKED:
            flag = single.revocation_reason or x509.ReasonFlags.unspecified
            if stale is None or flag is not x509.ReasonFlags.certificate_hold:
                assert single.revocation_time_utc is not None
                detail = _revoked_words(flag, single.revocation_time_utc, f"OCSP {source}")
                return VerifiedAnswer(
                    RevocationStatus.REVOKED, detail + (f"; note: {stale}" if stale else "")
                )
            raise UntrustedAnswer(stale)
        case ocsp.OCSPCertStatus.UNKNOWN:
            raise UntrustedAnswer("the responder does not know this certificate (status unknown)")
        case ocsp.OCSPCertStatus.GOOD:
            if stale is not None:
                raise UntrustedAnswer(stale)
            until = f", valid until {_when(next_update)}" if next_update else ""
            return VerifiedAnswer(RevocationStatus.GOOD, f"OCSP {source} says good{until}")
    raise UntrustedAnswer("the response has a status we do not know")  # pragma: no cover


def _same_cert_id(single: ocsp.OCSPSingleResponse, request: ocsp.OCSPRequest) -> bool:
    return (
        single.serial_number == request.serial_number
        and single.issuer_key_hash == request.issuer_key_hash
        and single.issuer_name_hash == request.issuer_name_hash
        and single.hash_algorithm.name == request.hash_algorithm.name
    )


def _is_responder(response: ocsp.OCSPResponse, cert: x509.Certificate) -> bool:
    """Whether ``cert`` is the one the ResponderID names (RFC 6960 4.2.2.3)."""
    if response.responder_name is not None:
        return response.responder_name == cert.subject
    digest = x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest
    return response.responder_key_hash == digest


def _ocsp_signer(
    response: ocsp.OCSPResponse, issuer: x509.Certificate, now: datetime
) -> x509.Certificate:
    """The certificate whose key must have signed the response (RFC 6960 4.2.2.2).

    The issuer itself, or a responder certificate included in the response
    that the issuer signed, with id-kp-OCSPSigning, valid now.
    """
    if _is_responder(response, issuer):
        return issuer
    for candidate in response.certificates:
        if not _is_responder(response, candidate):
            continue
        who = candidate.subject.rfc4514_string()
        if not is_issued_by(candidate, issuer):
            raise UntrustedAnswer(
                f"wrong responder: signed by {who}, which the certificate's issuer did not certify"
            )
        usage = _extension(candidate, x509.ExtendedKeyUsage)
        if usage is None or ExtendedKeyUsageOID.OCSP_SIGNING not in usage:
            raise UntrustedAnswer(
                f"wrong responder: {who} lacks the OCSPSigning extended key usage"
            )
        if not candidate.not_valid_before_utc <= now <= candidate.not_valid_after_utc:
            raise UntrustedAnswer(f"wrong responder: {who}'s certificate is not valid now")
        return candidate
    raise UntrustedAnswer(
        "wrong responder: signed by neither the issuer nor a responder certificate it issued"
    )


def _verify_signature(signer: x509.Certificate, response: ocsp.OCSPResponse) -> None:
    """Check the BasicOCSPResponse signature with ``signer``'s key."""
    key = signer.public_key()
    data, signature = response.tbs_response_bytes, response.signature
    try:
        algorithm = response.signature_hash_algorithm
        if isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
            key.verify(signature, data, ec.ECDSA(algorithm))
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(signature, data)
        elif isinstance(key, dsa.DSAPublicKey) and algorithm is not None:
            key.verify(signature, data, algorithm)
        else:
            raise UntrustedAnswer("the response's signature algorithm is not supported")
    except InvalidSignature as exc:
        who = signer.subject.rfc4514_string()
        raise UntrustedAnswer(
            f"bad signature: the response does not verify with {who}'s key"
        ) from exc
    except (UnsupportedAlgorithm, ValueError, TypeError) as exc:
        raise UntrustedAnswer("the response's signature algorithm is not supported") from exc


# --------------------------------------------------------------------------- shared


def _revoked_words(flag: x509.ReasonFlags, when: datetime, source: str) -> str:
    return f"reason {flag.value}, revoked {_when(when)} (according to {source})"


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "(none)"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _extension(cert: x509.Certificate, kind: type[Any]) -> Any:
    return extension(cert, kind)


def _extension_value(extensions: x509.Extensions, kind: type[Any]) -> Any:
    try:
        return extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


# --------------------------------------------------------------------------- cache


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/mtls-doctor`` (``~/.cache/mtls-doctor`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mtls-doctor"


class CrlCache:
    """Downloaded CRLs on disk, keyed by a hash of their URL.

    Only CRLs that verified and were fresh are stored, and a cached CRL is
    checked again on every use: it is reused until its nextUpdate, then
    fetched anew. Failing to write is not an error (a read-only home still
    gets answers, only slower).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory) / "crl"

    def path_for(self, url: str) -> Path:
        """Where the CRL from ``url`` is kept."""
        return self.directory / f"{hashlib.sha256(url.encode()).hexdigest()}.crl"

    def load(self, url: str) -> bytes | None:
        """The cached bytes for ``url``, or None."""
        try:
            return read_regular_file(self.path_for(url), limit=CRL_MAX_BYTES, what="cached CRL")
        except InputError:
            return None

    def store(self, url: str, data: bytes) -> None:
        """Keep ``data`` for ``url`` (written atomically: readers never see half a CRL)."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, temp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        except OSError:
            return
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(temp, self.path_for(url))
        except OSError:
            Path(temp).unlink(missing_ok=True)
