"""Offline acceptance: would this server block accept this client certificate?

No network: the block's own CA files, CRLs, verify depth and error policy,
applied the way OpenSSL applies them inside nginx, Apache httpd and HAProxy
(each behaviour below was measured on the real servers, see
``tests/realservers``):

1. Build the chain trusted-first (OpenSSL's default): from the client
   certificate up through the trusted CAs and the certificates the client
   sends, linking only where the issuer's key verifies the signature. It must
   end at a trusted *self-signed* CA: no server sets
   ``X509_V_FLAG_PARTIAL_CHAIN``.
2. Check each certificate's validity dates, the leaf's purpose (clientAuth,
   digitalSignature), key sizes and signature hashes at OpenSSL's security
   level 2 (Debian's default).
3. Count the intermediates against the verify depth (nginx/HAProxy: depth N
   allows N; Apache: N - 1).
4. With CRL checking on, find for every certificate checked a CRL signed by
   its issuer: missing (error 3), not yet valid (11) or expired (12) rejects
   as surely as a revocation (23).
5. Drop the errors the block's policy ignores (``optional_no_ca``, HAProxy
   ``crt-ignore-err`` at depth 0 and ``ca-ignore-err`` above).

Every error is kept with its OpenSSL number and depth; the verdict is the
cause that blocks first, in the order of :data:`mtls_doctor.rules.verdict.PRIORITY`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from mtls_doctor.bundle import LoadedIdentity
from mtls_doctor.causes import CATALOGUE, Cause
from mtls_doctor.model import Verdict
from mtls_doctor.rules.identity import MIN_RSA_BITS, allows_client_auth, check_identity
from mtls_doctor.rules.serverconf import (
    DEPTH_DIRECTIVE,
    X509_ERRORS,
    advertised_names,
    allowed_intermediates,
    depth_needed,
)
from mtls_doctor.rules.verdict import PRIORITY
from mtls_doctor.serverconf.facts import CrlCheck, ServerKind, TLSServerBlock, VerifyMode
from mtls_doctor.serverconf.material import LoadedBlock, crl_signer
from mtls_doctor.x509facts import cert_facts, is_issued_by

#: A chain longer than this is not built (OpenSSL's own limit is 100 by default).
MAX_CHAIN = 16

#: Errors nginx lets through with ``optional_no_ca`` (ngx_ssl_verify_error_optional).
NGINX_OPTIONAL_NO_CA = frozenset({2, 18, 19, 20, 21})
#: Errors Apache lets through with ``optional_no_ca`` (ssl_verify_error_is_optional).
APACHE_OPTIONAL_NO_CA = frozenset({18, 19, 20, 21, 27})

#: X509_V_ERR_* names HAProxy 2.8+ accepts in crt-ignore-err / ca-ignore-err.
X509_ERROR_NAMES = {
    "X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT": 2,
    "X509_V_ERR_UNABLE_TO_GET_CRL": 3,
    "X509_V_ERR_CERT_NOT_YET_VALID": 9,
    "X509_V_ERR_CERT_HAS_EXPIRED": 10,
    "X509_V_ERR_CRL_NOT_YET_VALID": 11,
    "X509_V_ERR_CRL_HAS_EXPIRED": 12,
    "X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT": 18,
    "X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN": 19,
    "X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY": 20,
    "X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE": 21,
    "X509_V_ERR_CERT_CHAIN_TOO_LONG": 22,
    "X509_V_ERR_CERT_REVOKED": 23,
    "X509_V_ERR_INVALID_CA": 24,
    "X509_V_ERR_INVALID_PURPOSE": 26,
    "X509_V_ERR_EE_KEY_TOO_SMALL": 66,
    "X509_V_ERR_CA_KEY_TOO_SMALL": 67,
    "X509_V_ERR_CA_MD_TOO_WEAK": 68,
}
_SHA256 = hashes.SHA256()
_WEAK_HASHES = ("sha1", "md5")


@dataclass(frozen=True, slots=True)
class VerifyError:
    """One verification error as OpenSSL would report it to the server."""

    #: OpenSSL's X509_V_ERR_* number.
    code: int
    #: 0 = the client certificate, 1 = its issuer, ...
    depth: int
    cause: Cause
    message: str
    #: A fix specific to this error (first in the verdict's list), "" when generic.
    fix: str = ""


#: OpenSSL's verification stages (x509_vfy.c verify_chain): building the chain, the
#: extensions, the security level, revocation, then signatures and dates top-down.
_STAGE = {
    **dict.fromkeys((2, 18, 19, 20, 22), 0),
    **dict.fromkeys((24, 26), 1),
    **dict.fromkeys((66, 67, 68), 2),
    **dict.fromkeys((3, 11, 12, 23, 33), 3),
    **dict.fromkeys((7, 9, 10, 21), 4),
}


def openssl_order(error: VerifyError) -> tuple[int, int, int]:
    """Sort key: the order in which OpenSSL reports errors to the server's callback
    (internal_verify: top-down, a certificate's signature (21) before its dates)."""
    stage = _STAGE.get(error.code, 4)
    if stage == 4:
        return stage, -error.depth, 0 if error.code == 21 else 1
    return stage, error.depth, 0


@dataclass(frozen=True, slots=True)
class Judgement:
    """The verdict, and the evidence it rests on."""

    verdict: Verdict
    #: Every error found, ignored ones included.
    errors: tuple[VerifyError, ...] = ()
    #: Errors the block's policy lets through.
    ignored: tuple[VerifyError, ...] = ()
    #: Subjects of the chain that was built, from the first certificate up.
    chain: tuple[str, ...] = ()
    #: Whether a name on the chain is advertised (browsers would offer it).
    advertised: bool = True


def _fp(cert: x509.Certificate) -> bytes:
    return cert.fingerprint(_SHA256)


def _self_signed(cert: x509.Certificate) -> bool:
    return cert.subject == cert.issuer and is_issued_by(cert, cert)


def _name(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()


@dataclass(slots=True)
class _Walk:
    """State of one verification."""

    block: TLSServerBlock
    loaded: LoadedBlock
    now: datetime
    #: 1 when the chain starts at an issuing CA (a hypothetical leaf below it).
    offset: int
    chain: list[x509.Certificate] = field(default_factory=list)
    anchored: bool = False
    errors: list[VerifyError] = field(default_factory=list)

    @property
    def trusted_fps(self) -> set[bytes]:
        return {_fp(c) for c in self.loaded.trusted}

    def error(self, code: int, index: int, cause: Cause, message: str, fix: str = "") -> None:
        self.errors.append(VerifyError(code, index + self.offset, cause, message, fix))

    def is_trusted(self, cert: x509.Certificate) -> bool:
        return _fp(cert) in self.trusted_fps


def _find_issuer(
    cert: x509.Certificate, pool: Sequence[x509.Certificate], exclude: list[x509.Certificate]
) -> x509.Certificate | None:
    taken = {_fp(c) for c in exclude}
    return next(
        (
            c
            for c in pool
            if _fp(c) not in taken and c.subject == cert.issuer and is_issued_by(cert, c)
        ),
        None,
    )


def _reaches_trust(
    cert: x509.Certificate,
    trusted: Sequence[x509.Certificate],
    pool: Sequence[x509.Certificate],
) -> bool:
    """Whether ``cert`` chains to a trusted self-signed CA through ``pool``."""
    current, seen = cert, [cert]
    for _ in range(MAX_CHAIN):
        parent = _find_issuer(current, trusted, []) or _find_issuer(current, pool, seen)
        if parent is None:
            return False
        if _fp(parent) in {_fp(t) for t in trusted} and _self_signed(parent):
            return True
        seen.append(parent)
        current = parent
    return False


def _build(
    walk: _Walk,
    start: x509.Certificate,
    presented: Sequence[x509.Certificate],
    candidates: Sequence[x509.Certificate],
) -> None:
    """Step 1: the chain, trusted-first; records why it cannot be completed."""
    trusted = walk.loaded.trusted
    walk.chain = [start]
    while len(walk.chain) < MAX_CHAIN:
        current = walk.chain[-1]
        index = len(walk.chain) - 1
        if _self_signed(current):
            if walk.is_trusted(current):
                walk.anchored = True
                return
            rotated = _rotated_name(walk)
            cause = Cause.ISSUER_ROTATED if rotated else Cause.UNTRUSTED_ISSUER
            what = (
                "client certificate is self-signed"
                if index + walk.offset == 0
                else (f"chain ends at {_name(current)}, a root the server does not trust")
            )
            message = f"The {what}" + (
                f"; the server trusts a different key under the name {rotated}" if rotated else ""
            )
            walk.error(18 if index + walk.offset == 0 else 19, index, cause, message + ".")
            return
        parent = _find_issuer(current, trusted, walk.chain) or _find_issuer(
            current, presented, walk.chain
        )
        if parent is not None:
            walk.chain.append(parent)
            continue
        issuer = current.issuer.rfc4514_string()
        if walk.is_trusted(current):
            walk.error(
                2,
                index,
                Cause.REJECTED_UNEXPLAINED,
                f"The server trusts {_name(current)} but not its issuer {issuer}: OpenSSL "
                "needs the chain to end at a trusted root (no partial chains).",
                f"Add the root {issuer} to the server's client-CA file.",
            )
            return
        rotated = _rotated_name(walk)
        if rotated:
            _unverifiable_leaf(walk, index, Cause.ISSUER_ROTATED)
            walk.error(
                20,
                index,
                Cause.ISSUER_ROTATED,
                f"{_name(current)} was issued under the name {rotated}, which the server "
                "trusts, but by a different key: the CA was re-keyed (rotated).",
            )
            return
        missing = next(
            (
                c
                for c in candidates
                if c.subject == current.issuer
                and is_issued_by(current, c)
                and _reaches_trust(c, trusted, candidates)
            ),
            None,
        )
        if missing is not None:
            _unverifiable_leaf(walk, index, Cause.MISSING_INTERMEDIATE)
            walk.error(
                20,
                index,
                Cause.MISSING_INTERMEDIATE,
                f"{_name(current)} reaches a trusted CA only through {_name(missing)}, which the "
                "client does not send.",
            )
            return
        _unverifiable_leaf(walk, index, Cause.UNTRUSTED_ISSUER)
        walk.error(
            20,
            index,
            Cause.UNTRUSTED_ISSUER,
            f"The issuer of {_name(current)}, {issuer}, is not among the CAs this block trusts "
            f"({'; '.join(_name(c) for c in trusted) or 'none'}), and the client does not send "
            "a certificate that links them.",
        )
        return


def _unverifiable_leaf(walk: _Walk, index: int, cause: Cause) -> None:
    """OpenSSL's internal_verify reports error 21 when the chain is the leaf alone."""
    if index + walk.offset == 0:
        walk.error(
            21,
            0,
            cause,
            "The client certificate's signature cannot be verified: its issuer is unknown "
            "(unable to verify the first certificate).",
        )


def _rotated_name(walk: _Walk) -> str | None:
    """A trusted CA's name that a chain certificate names as issuer without being linked."""
    names = {c.subject for c in walk.loaded.trusted}
    for cert in walk.chain:
        if cert.issuer in names and not any(
            is_issued_by(cert, t) for t in walk.loaded.trusted if t.subject == cert.issuer
        ):
            return cert.issuer.rfc4514_string()
    return None


def _check_certificates(walk: _Walk) -> None:
    """Step 2: validity, purpose, key strength, CA flags."""
    for index, cert in enumerate(walk.chain):
        facts = cert_facts(cert)
        depth = index + walk.offset
        trusted = walk.is_trusted(cert)
        is_leaf = depth == 0
        who = (
            "the client certificate"
            if is_leaf
            else f"the server's trusted CA {facts.subject}"
            if trusted
            else f"the CA certificate {facts.subject} sent by the client"
        )
        server_side = trusted and not is_leaf
        if walk.now > facts.not_after:
            walk.error(
                10,
                index,
                Cause.REJECTED_UNEXPLAINED if server_side else Cause.CERTIFICATE_EXPIRED,
                f"{who.capitalize()} expired on {facts.not_after:%Y-%m-%d %H:%M} UTC.",
                "Replace the expired CA in the server's client-CA file." if server_side else "",
            )
        elif walk.now < facts.not_before:
            walk.error(
                9,
                index,
                Cause.REJECTED_UNEXPLAINED if server_side else Cause.CERTIFICATE_NOT_YET_VALID,
                f"{who.capitalize()} is valid only from {facts.not_before:%Y-%m-%d %H:%M} UTC.",
            )
        if is_leaf and not allows_client_auth(facts):
            walk.error(
                26,
                index,
                Cause.WRONG_KEY_USAGE,
                "The client certificate's key usage / extended key usage does not allow TLS "
                "client authentication (OpenSSL: unsupported certificate purpose).",
            )
        if not is_leaf and facts.is_ca is not True and not facts.self_signed:
            walk.error(
                24,
                index,
                Cause.UNTRUSTED_ISSUER,
                f"{facts.subject} signs certificates but is not a CA certificate.",
            )
        if facts.key_type in ("RSA", "DSA") and (facts.key_bits or 0) < MIN_RSA_BITS:
            walk.error(
                66 if is_leaf else 67,
                index,
                Cause.UNSUPPORTED_KEY,
                f"{who.capitalize()} has a {facts.key_type} {facts.key_bits}-bit key: OpenSSL 3 "
                f"at security level 2 (Debian's default) refuses keys below {MIN_RSA_BITS} bits.",
            )
        if facts.signature_hash in _WEAK_HASHES and not facts.self_signed:
            walk.error(
                68,
                index,
                Cause.UNSUPPORTED_KEY,
                f"{who.capitalize()} is signed with {facts.signature_algorithm}: refused at "
                "OpenSSL's security level 2.",
            )


def _check_depth(walk: _Walk) -> None:
    """Step 3: intermediates between the client certificate and the root."""
    block = walk.block
    intermediates = len(walk.chain) + walk.offset - 2
    allowed = allowed_intermediates(block.kind, block.verify_depth)
    if intermediates <= allowed:
        return
    directive = DEPTH_DIRECTIVE[block.kind]
    needed = depth_needed(block.kind, intermediates)
    where = f" ({block.verify_depth_at})" if block.verify_depth_at else " (the default)"
    walk.error(
        22,
        len(walk.chain) - 1,
        Cause.REJECTED_UNEXPLAINED,
        f"The chain has {intermediates} intermediate CA(s) and the block's {directive}"
        f"{where} allows {allowed}: the server rejects it (certificate chain too long).",
        f"Set `{directive} {needed}` in this block.",
    )


def _check_crls(walk: _Walk) -> None:
    """Step 4: a valid CRL from the issuer of every certificate checked.

    OpenSSL checks revocation even on a chain it could not complete (the
    errors before were let through by the server's callback): the top
    certificate then needs a CRL from an issuer that is not there.
    """
    block = walk.block
    if block.crl_check is CrlCheck.NONE:
        return
    chain = walk.chain
    # (certificate or None for the hypothetical leaf, its issuer or None, chain index)
    checked: list[tuple[x509.Certificate | None, x509.Certificate | None, int]] = []
    if walk.offset:
        checked.append((None, chain[0], -1))
    checked += [(chain[i], chain[i + 1], i) for i in range(len(chain) - 1)]
    if not walk.anchored:
        top = chain[-1]
        checked.append((top, top if _self_signed(top) else None, len(chain) - 1))
    if block.crl_check is CrlCheck.LEAF:
        checked = checked[:1]
    for cert, issuer, index in checked:
        _check_one_crl(walk, cert, issuer, index)


def _check_one_crl(
    walk: _Walk, cert: x509.Certificate | None, issuer: x509.Certificate | None, index: int
) -> None:
    block = walk.block
    about = (
        "the client certificate"
        if index + walk.offset == 0
        else f"{_name(cert)}"
        if cert is not None
        else "certificates"
    )
    if issuer is None:
        assert cert is not None
        named = [c for c in walk.loaded.crls if c.issuer == cert.issuer]
        if not block.crl_missing_ok or named:
            walk.error(
                33 if named else 3,
                index,
                Cause.REJECTED_UNEXPLAINED,
                f"The CRL of {cert.issuer.rfc4514_string()} cannot be checked for {about}: "
                "that CA's certificate is not available.",
            )
        return
    crls = [c for c in walk.loaded.crls if c.issuer == issuer.subject]
    signed = [c for c in crls if crl_signer(c, [issuer]) is not None]
    if not signed:
        if not block.crl_missing_ok:
            walk.error(
                3,
                index,
                Cause.REJECTED_UNEXPLAINED,
                f"CRL checking is on and the server has no CRL from {_name(issuer)} to check "
                f"{about} (unable to get certificate CRL).",
                f"Add the CRL of {_name(issuer)} to the block's CRL file and reload.",
            )
        return
    crl = max(signed, key=lambda c: c.last_update_utc)
    next_update = crl.next_update_utc
    if next_update is not None and walk.now > next_update:
        walk.error(
            12,
            index,
            Cause.REJECTED_UNEXPLAINED,
            f"The server's CRL from {_name(issuer)} expired on {next_update:%Y-%m-%d %H:%M} "
            "UTC (CRL has expired): it rejects every certificate that CA issued.",
            f"Install a fresh CRL from {_name(issuer)} and reload the server.",
        )
    elif walk.now < crl.last_update_utc:
        walk.error(
            11,
            index,
            Cause.REJECTED_UNEXPLAINED,
            f"The server's CRL from {_name(issuer)} is valid only from "
            f"{crl.last_update_utc:%Y-%m-%d %H:%M} UTC (CRL is not yet valid).",
        )
    if cert is not None and crl.get_revoked_certificate_by_serial_number(cert.serial_number):
        walk.error(
            23,
            index,
            Cause.CERTIFICATE_REVOKED,
            f"The CRL from {_name(issuer)} lists {about} as revoked.",
        )


def ignored_by_policy(block: TLSServerBlock, ordered: list[VerifyError]) -> dict[VerifyError, str]:
    """The errors the block lets through, with why.

    nginx's callback accepts everything and judges only the *last* error
    OpenSSL recorded (``SSL_get_verify_result``); Apache's and HAProxy's
    callbacks judge each error as it comes and stop at the first they refuse.
    """
    if block.kind is ServerKind.NGINX:
        if (
            block.verify is VerifyMode.OPTIONAL_NO_CA
            and ordered
            and ordered[-1].code in NGINX_OPTIONAL_NO_CA
        ):
            last = ordered[-1]
            reason = f"optional_no_ca (nginx judges only the last error, {last.code})"
            return dict.fromkeys(ordered, reason)
        return {}
    ignored: dict[VerifyError, str] = {}
    for error in ordered:
        if block.verify is VerifyMode.OPTIONAL_NO_CA and error.code in APACHE_OPTIONAL_NO_CA:
            if block.kind is ServerKind.APACHE:
                ignored[error] = "optional_no_ca"
                continue
        for item in block.ignore_errors:
            if (item.option == "crt-ignore-err") != (error.depth == 0):
                continue
            for value in item.values:
                code = X509_ERROR_NAMES.get(value.upper()) if not value.isdigit() else int(value)
                if value.lower() == "all" or code == error.code:
                    ignored[error] = f"{item.option} {value}"
        if error not in ignored:
            break  # the callback refuses here: verification stops
    return ignored


def _verdict(cause: Cause, detail: str, fixes: tuple[str, ...] = ()) -> Verdict:
    info = CATALOGUE[cause]
    return Verdict(
        cause=cause,
        summary=f"{info.title} {detail}".strip(),
        fixes=(*fixes, *info.user_fixes, *info.server_fixes),
    )


def _decide(walk: _Walk, subject: str, advertised: tuple[str, ...]) -> Judgement:
    ordered = sorted(walk.errors, key=openssl_order)
    policy = ignored_by_policy(walk.block, ordered)
    ignored = [e for e in ordered if e in policy]
    remaining = [e for e in ordered if e not in policy]
    chain_names = tuple(_name(c) for c in walk.chain)
    on_list = not advertised or any(
        name in advertised for name in (*chain_names, walk.chain[-1].issuer.rfc4514_string())
    )
    if not remaining:
        detail = f"{subject}: the chain verifies against this block's CAs."
        if ignored:
            reasons = sorted(set(policy.values()))
            detail = (
                f"{subject} gets through only because {', '.join(reasons)} lets these "
                f"errors pass: {'; '.join(e.message for e in ignored)}"
            )
        return Judgement(
            _verdict(Cause.ACCEPTED, detail), tuple(ordered), tuple(ignored), chain_names,
            on_list,
        )  # fmt: skip
    order = {cause: rank for rank, cause in enumerate(PRIORITY)}
    first = min(remaining, key=lambda e: (order.get(e.cause, len(order)), e.depth))
    fixes = tuple(dict.fromkeys(e.fix for e in remaining if e.fix and e.cause is first.cause))
    x509_name = X509_ERRORS.get(first.code, f"error {first.code}")
    detail = f"{first.message} (OpenSSL error {first.code}: {x509_name}, depth {first.depth})"
    others = [e.message for e in remaining if e is not first]
    if others:
        detail += " Also: " + " ".join(others)
    return Judgement(
        _verdict(first.cause, detail, fixes), tuple(ordered), tuple(ignored), chain_names,
        on_list,
    )  # fmt: skip


def judge_identity(
    block: TLSServerBlock,
    loaded: LoadedBlock,
    identity: LoadedIdentity,
    now: datetime,
    *,
    candidates: Sequence[x509.Certificate] = (),
) -> Judgement:
    """Would ``block`` accept ``identity``? (``candidates``: CA certificates known to the
    user, e.g. the issuing CA, used only to tell a missing intermediate from an unknown CA.)"""
    facts = identity.facts
    subject = facts.certificate.subject
    if block.verify is VerifyMode.NONE:
        return Judgement(
            _verdict(
                Cause.CLIENT_AUTH_NOT_REQUESTED,
                "This block never asks for a client certificate, so it is neither needed nor "
                "checked here.",
            )
        )
    # The server judges the certificate; its private key is not needed (an admin holds
    # users' certificates, not their keys). A key that was given and does not match
    # still blocks first: the client could not prove it holds the certificate.
    for item in check_identity(facts, now):
        if item.cause is Cause.PRIVATE_KEY_MISMATCH:
            return Judgement(_verdict(item.cause, item.message))
    walk = _Walk(block, loaded, now, offset=0)
    _build(walk, identity.certificate, identity.chain, candidates)
    _check_certificates(walk)
    if walk.anchored:
        _check_depth(walk)
    _check_crls(walk)
    return _decide(walk, subject, advertised_names(block, loaded.material))


def judge_issuing_ca(
    block: TLSServerBlock,
    loaded: LoadedBlock,
    issuing: Sequence[x509.Certificate],
    now: datetime,
) -> Judgement:
    """Would ``block`` accept certificates issued by ``issuing[0]``?

    The rest of ``issuing`` is its chain: intermediates are assumed to be sent
    by clients, roots must be trusted by the server.
    """
    ca = issuing[0]
    presented = [c for c in issuing[1:] if not _self_signed(c)]
    subject = f"Certificates issued by {_name(ca)}"
    if block.verify is VerifyMode.NONE:
        return Judgement(
            _verdict(Cause.CLIENT_AUTH_NOT_REQUESTED, "This block never asks for one.")
        )
    walk = _Walk(block, loaded, now, offset=1)
    _build(walk, ca, presented, ())
    _check_certificates(walk)  # the hypothetical leaf has no dates of its own
    if walk.anchored:
        _check_depth(walk)
    _check_crls(walk)
    return _decide(walk, subject, advertised_names(block, loaded.material))
