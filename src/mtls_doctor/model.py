"""Facts and findings: the pure core's nouns.

Facts record what was observed, nothing more; they are frozen and hold no
cryptography objects, so rules can be tested with hand-built values and a
fixed ``now``. Adapters build them (``x509facts``, ``bundle``, ``tls``).
``None`` means "not observed" (an absent extension, a key we never saw);
empty tuples mean "observed, and there was nothing".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from mtls_doctor.causes import NETWORK_CAUSES, Cause
from mtls_doctor.tlsversion import TLSVersion

if TYPE_CHECKING:
    from mtls_doctor.graph import IssuanceGraph


class RevocationStatus(StrEnum):
    """What CRL / OCSP established about a certificate."""

    GOOD = "good"
    REVOKED = "revoked"
    #: Asked, and no answer could be believed (says why in the detail).
    UNKNOWN = "unknown"
    #: Not asked (offline, no URL, --no-revocation).
    SKIPPED = "skipped"


class Severity(StrEnum):
    """How much a finding matters; serialized as in CONTRACT.md."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class FindingCode(StrEnum):
    """The stable codes of findings that are not a verdict cause (JSON ``findings[].code``).

    A finding that explains a rejection carries its :class:`Cause` as its code;
    lint-server's codes are its rule table's (``rules/serverconf/table.py``).
    """

    # The identity itself (inspect, check, watch).
    EXPIRING_SOON = "expiring_soon"
    EXPIRES_CRITICAL = "expires_critical"
    EKU_LACKS_CLIENT_AUTH = "eku_lacks_client_auth"
    KU_LACKS_DIGITAL_SIGNATURE = "ku_lacks_digital_signature"
    NOT_FOR_CLIENT_AUTH = "not_for_client_auth"
    WEAK_KEY = "weak_key"
    DSA_KEY = "dsa_key"
    WEAK_SIGNATURE = "weak_signature"
    CA_CERTIFICATE_AS_LEAF = "ca_certificate_as_leaf"
    # The chain the identity carries, and the path to a trusted CA.
    CHAIN_INCOMPLETE = "chain_incomplete"
    CHAIN_UNRELATED_CERTIFICATE = "chain_unrelated_certificate"
    CHAIN_OUT_OF_ORDER = "chain_out_of_order"
    CHAIN_CERTIFICATE_EXPIRED = "chain_certificate_expired"
    CHAIN_CERTIFICATE_NOT_YET_VALID = "chain_certificate_not_yet_valid"
    ISSUER_KEY_DIFFERS = "issuer_key_differs"
    ISSUER_UNAVAILABLE = "issuer_unavailable"
    AIA_FETCH_FAILED = "aia_fetch_failed"
    CA_BUNDLE_TRUSTS = "ca_bundle_trusts"
    NO_CA_NAMES_LISTED = "no_ca_names_listed"
    # Revocation.
    REVOCATION_UNKNOWN = "revocation_unknown"
    REVOCATION_NOT_CHECKED = "revocation_not_checked"
    # Choosing among several identities; what a browser would offer.
    BETTER_IDENTITY_AVAILABLE = "better_identity_available"
    IDENTITY_CHOSEN = "identity_chosen"
    STORE_EMPTY = "store_empty"
    BROWSER_SENDS = "browser_sends"
    BROWSER_OFFERS_NOTHING = "browser_offers_nothing"
    # watch: issuing CAs against the servers that must accept them.
    IDENTITIES_NOT_ACCEPTED = "identities_not_accepted"
    ISSUING_CA_NOT_ACCEPTED = "issuing_ca_not_accepted"
    ISSUING_CA_NOT_ADVERTISED = "issuing_ca_not_advertised"
    ISSUING_CA_UNCONFIRMED = "issuing_ca_unconfirmed"
    ISSUING_CA_KEY_UNCONFIRMED = "issuing_ca_key_unconfirmed"
    OLD_ISSUING_CA_STILL_TRUSTED = "old_issuing_ca_still_trusted"
    TRUST_ENDS_BEFORE_IDENTITIES = "trust_ends_before_identities"
    SERVER_UNREACHABLE = "server_unreachable"


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One thing a rule noticed, in words a person understands."""

    #: Stable machine code: a :class:`Cause`, a :class:`FindingCode`, or a lint rule's.
    code: str
    severity: Severity
    #: One or two sentences, specific to the facts (names, dates, numbers).
    message: str
    #: The verdict cause this finding would explain if the server rejects, or None.
    cause: Cause | None = None
    #: Where, for findings about files (lint-server); None elsewhere.
    file: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """The one cause that blocks first, with a summary and the fix."""

    cause: Cause
    #: One line in plain words, specific to this diagnosis.
    summary: str
    #: Concrete steps, most useful first: ``user_fixes`` then ``server_fixes`` (CONTRACT.md).
    fixes: tuple[str, ...] = ()
    #: The steps for the person holding the certificate.
    user_fixes: tuple[str, ...] = ()
    #: The steps for whoever runs the server.
    server_fixes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class CertFacts:
    """What one X.509 certificate says about itself."""

    #: RFC 4514 strings, as ``cryptography``'s ``Name.rfc4514_string()`` writes them.
    subject: str
    issuer: str
    #: Serial number, lower-case hex without separators.
    serial: str
    #: Validity, timezone-aware UTC.
    not_before: datetime
    not_after: datetime
    #: ``RSA``, ``EC``, ``Ed25519``, ``Ed448``, ``DSA`` or ``unknown``.
    key_type: str
    #: Key size in bits (RSA, DSA, EC); None where it does not apply.
    key_bits: int | None
    #: Named curve for EC keys, e.g. ``secp256r1``.
    curve: str | None
    #: Signature algorithm name, e.g. ``sha256WithRSAEncryption``.
    signature_algorithm: str
    #: Hash used by the signature, e.g. ``sha256``; None for Ed25519/Ed448.
    signature_hash: str | None
    #: Key usage names (``digital_signature``, ``key_cert_sign``...); None if absent.
    key_usage: tuple[str, ...] | None
    #: Extended key usage names (``clientAuth``, ``serverAuth``, dotted OIDs otherwise);
    #: None if the extension is absent (which allows any usage).
    extended_key_usage: tuple[str, ...] | None
    #: basicConstraints cA flag; None if the extension is absent.
    is_ca: bool | None
    path_length: int | None
    #: Subject alternative names, as ``DNS:...``, ``email:...``, ``IP:...``, ``URI:...``.
    san: tuple[str, ...]
    #: Subject and authority key identifiers (hex), None if absent.
    subject_key_id: str | None
    authority_key_id: str | None
    #: Authority information access and CRL distribution point URLs.
    ocsp_urls: tuple[str, ...]
    ca_issuer_urls: tuple[str, ...]
    crl_urls: tuple[str, ...]
    #: SHA-256 of the DER certificate, lower-case hex.
    fingerprint_sha256: str
    #: SHA-256 of the DER SubjectPublicKeyInfo: the key's identity across certificates.
    spki_sha256: str
    #: Subject equals issuer and the certificate's own key verifies its signature.
    self_signed: bool
    #: What could not be read from it (a duplicate extension, an unknown key or
    #: signature algorithm): the fields above that depend on it are None/empty.
    unreadable: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class IdentityFacts:
    """A client identity: a certificate, what came with it, and its key (never the key itself)."""

    #: Where it was loaded from: a path, ``path#N`` for the N-th identity of a file.
    source: str
    #: ``pem``, ``der``, ``pkcs12`` or a store name.
    format: str
    certificate: CertFacts
    #: The other certificates of the bundle: the issuing path first (the leaf's
    #: issuer, its issuer, ...), then any certificate that is not on the path.
    chain: tuple[CertFacts, ...] = ()
    #: How many leading entries of ``chain`` form the issuing path.
    path_length: int = 0
    #: The bundle listed its certificates leaf first, each followed by its issuer.
    #: None where order has no meaning (PKCS#12 bags).
    bundle_in_order: bool | None = None
    has_private_key: bool = False
    #: The private key's public half equals the certificate's; None without a key.
    key_matches: bool | None = None

    @property
    def issuing_path(self) -> tuple[CertFacts, ...]:
        """The chain certificates that link up from the leaf."""
        return self.chain[: self.path_length]

    @property
    def unrelated(self) -> tuple[CertFacts, ...]:
        """Certificates in the bundle that are not on the leaf's issuing path."""
        return self.chain[self.path_length :]


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """A TLS alert (RFC 8446 6)."""

    code: int
    #: IANA name, e.g. ``unknown_ca``; ``alert_<n>`` when unassigned.
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpAnswer:
    """What the server answered to our request after the handshake."""

    status: int
    reason: str
    #: The first non-empty line of the body, trimmed (nginx's error pages say why here).
    first_line: str
    server: str | None = None
    #: A TLS verify reason the answer carries in its body or headers, quoted
    #: (``CERT_HAS_EXPIRED``, "unable to get local issuer certificate").
    verify_reason: str | None = None
    #: The HTTP version spoken ("HTTP/1.1", "HTTP/2").
    version: str = "HTTP/1.1"


@dataclass(frozen=True, slots=True, kw_only=True)
class AppAnswer:
    """What a non-HTTP application answered after the handshake (Redis, MQTT, ...)."""

    #: The protocol spoken (``redis``, ``mqtt``, ``postgres``, ``tls`` for none).
    protocol: str
    #: True: the application served the client; False: it refused; None: nothing
    #: was asked of it (TLS only), so only the TLS layer's verdict is known.
    accepted: bool | None
    #: What the server said, short and quoted (``+PONG``, ``CONNACK 5``).
    said: str
    #: What that means, one sentence.
    meaning: str
    #: The cause the answer itself names (e.g. PostgreSQL's "requires a valid
    #: client certificate" is ``no_certificate_sent``), when it names one.
    cause: str | None = None
    #: A fix specific to this answer (the CN-versus-user rule of PostgreSQL).
    fix: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class HandshakeFacts:
    """What one TLS connection showed: the handshake, the alert, the HTTP answer."""

    #: Whether a client certificate was presented in this attempt.
    certificate_sent: bool
    #: The server sent a CertificateRequest.
    certificate_requested: bool
    #: The handshake reached Finished on our side.
    handshake_completed: bool
    tls_version: TLSVersion | None = None
    cipher: str | None = None
    #: Distinguished names from the CertificateRequest (RFC 4514).
    acceptable_ca_names: tuple[str, ...] = ()
    #: How many names beyond the cap were dropped from ``acceptable_ca_names``.
    ca_names_dropped: int = 0
    #: signature_algorithms of the CertificateRequest (IANA names); empty if not seen.
    signature_algorithms: tuple[str, ...] = ()
    #: certificate_types of a TLS 1.2 CertificateRequest (``rsa_sign``, ``ecdsa_sign``).
    certificate_types: tuple[str, ...] = ()
    #: The server's own chain as sent (not verified: we diagnose client auth).
    server_chain: tuple[CertFacts, ...] = ()
    #: The alert the server sent us, if any.
    alert_received: Alert | None = None
    #: The alert our TLS library sent (e.g. on a protocol error), if any.
    alert_sent: Alert | None = None
    #: The HTTP answer to our request, when the server answered one.
    http: HttpAnswer | None = None
    #: The application's answer, for protocols other than HTTP.
    app: AppAnswer | None = None
    #: The ALPN protocol the server chose, if any.
    alpn: str | None = None
    #: The connection ended (EOF or reset) with no alert and no HTTP answer.
    closed_without_answer: bool = False
    #: A short description of a local failure, for the evidence.
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadProblem:
    """A file that could not be used, reported beside the identities that could."""

    path: str
    #: Machine code of the error (``bundle_load``, ``password_needed``...).
    code: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class IdentityReport:
    """An identity with the findings the rules derived for it."""

    identity: IdentityFacts
    findings: tuple[Finding, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class InspectReport:
    """The result of ``inspect``: identities, findings, and files that could not be read."""

    #: When the rules were evaluated (``days_left`` is relative to it).
    checked_at: datetime
    identities: tuple[IdentityReport, ...]
    problems: tuple[LoadProblem, ...] = field(default=())


class Source(StrEnum):
    """Where a certificate came from (the value is what ``check --json`` shows)."""

    #: In the client's bundle: sent in the handshake.
    SENT = "bundle"
    #: Found beside the identity (a directory, another file on the command line).
    DIRECTORY = "directory"
    #: The server's client-CA bundle given with ``--ca-bundle``: what it trusts.
    CA_BUNDLE = "ca-bundle"
    #: Downloaded from a caIssuers URL.
    AIA = "aia"
    #: A server block's trusted CA file (lint-server): what it trusts.
    SERVER_CA = "server-ca"
    #: Known to the user, not trusted by anyone (``--issuing-ca``, files beside ``--user-cert``).
    CANDIDATE = "candidate"
    #: The issuing path of a store identity (NSS, a browser's profile), as the store gave it.
    STORE = "store"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainLink:
    """One certificate above the leaf on its issuing path, and where we found it."""

    certificate: CertFacts
    #: Where it was found first in ``check``'s order (its value is the JSON ``source``).
    source: Source
    #: Presented in the handshake (only ``bundle`` certificates are).
    sent: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainFacts:
    """The leaf's issuing path as far as every source we have could build it.

    Links are added only when the issuer's key verifies the signature, so a
    CA that merely has the right *name* (a rotated CA) ends the path.
    """

    path: tuple[ChainLink, ...] = ()
    #: Names of issuer certificates that carry the right name but did NOT sign the
    #: certificate above them: evidence of a rotated CA.
    same_name_other_key: tuple[str, ...] = ()
    #: AIA caIssuers URLs that could not be fetched, with why.
    fetch_failures: tuple[str, ...] = ()
    #: Every certificate known (bundle, directory, ``--ca-bundle``, AIA) and who signed whom;
    #: None when built by hand from ``path`` alone.
    graph: IssuanceGraph | None = None
    #: The leaf's fingerprint in ``graph``.
    leaf: str = ""
    #: The server's client-CA bundle was given (``--ca-bundle``): its trust is known.
    ca_bundle_given: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class RevocationFacts:
    """What CRL / OCSP said about the leaf (filled by the revocation adapter)."""

    status: RevocationStatus
    #: ``crl`` or ``ocsp`` (or ``""`` when unknown / skipped).
    method: str = ""
    #: Why: the reason code and date when revoked, what failed when unknown.
    detail: str = ""
    #: The subject of the certificate this is about (the leaf or an intermediate).
    subject: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class DiagnosisFacts:
    """Everything ``check`` gathered, for the pure verdict rules."""

    #: The identity presented (None: no certificate was given).
    identity: IdentityFacts | None
    #: The connection made with the identity (None when it could not be presented).
    attempt: HandshakeFacts | None = None
    #: A connection without a certificate (None when not needed).
    without_certificate: HandshakeFacts | None = None
    chain: ChainFacts | None = None
    #: Revocation status of the leaf and of each intermediate.
    revocation: tuple[RevocationFacts, ...] = ()
    #: The user chose this identity among several (``--select``).
    selected_by_user: bool = False
    #: Other identities that were available, with whether each fits this server.
    alternatives: tuple[Alternative, ...] = ()
    #: What was spoken after the handshake (a ``mtls_doctor.protocols.PROTOCOLS`` name).
    protocol: str = "https"


@dataclass(frozen=True, slots=True, kw_only=True)
class Alternative:
    """Another identity the user has, judged against this server."""

    identity: IdentityFacts
    #: Its chain reaches an accepted CA and nothing local blocks it.
    fits: bool
    #: Proven: a handshake with it was accepted (None: not tried).
    accepted: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Diagnosis:
    """The result of ``check``: the verdict, the findings, the evidence."""

    verdict: Verdict
    findings: tuple[Finding, ...]
    facts: DiagnosisFacts
    checked_at: datetime
    handshakes: int

    @property
    def exit_code(self) -> int:
        """CONTRACT.md: 0 accepted, 3 for the network verdicts, 1 for any other."""
        if self.verdict.cause is Cause.ACCEPTED:
            return 0
        return 3 if self.verdict.cause in NETWORK_CAUSES else 1
