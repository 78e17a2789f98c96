"""Server-configuration facts: what nginx, Apache httpd, HAProxy and lighttpd were told to do
about client certificates, each setting with the file and line that set it.

Pure frozen dataclasses, built by the parsers (``nginx.py``, ``apache.py``,
``haproxy.py``) and the loader (``material.py``), read by the pure rules in
``mtls_doctor.rules.serverconf``. Paths are resolved the way the server
resolves them; ``None`` means "not set" (the server's default applies).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from mtls_doctor.causes import Cause
from mtls_doctor.model import CertFacts, Finding, Severity, Verdict
from mtls_doctor.rules.probe import ClientAuth

if TYPE_CHECKING:
    from mtls_doctor.graph import IssuanceGraph


class ServerKind(StrEnum):
    """Which server the configuration is for."""

    NGINX = "nginx"
    APACHE = "apache"
    HAPROXY = "haproxy"
    LIGHTTPD = "lighttpd"


class VerifyMode(StrEnum):
    """Client-certificate verification as configured (the servers' own vocabulary)."""

    REQUIRED = "required"
    #: Asks, serves clients without a certificate; a bad certificate is still refused.
    OPTIONAL = "optional"
    #: Asks, and lets certificates from unknown CAs through (nginx, Apache).
    OPTIONAL_NO_CA = "optional_no_ca"
    NONE = "none"

    @property
    def client_auth(self) -> ClientAuth:
        """The contract's ``client_auth`` value."""
        if self is VerifyMode.REQUIRED:
            return ClientAuth.REQUIRED
        return ClientAuth.NOT_REQUESTED if self is VerifyMode.NONE else ClientAuth.OPTIONAL


class FileRole(StrEnum):
    """What the server does with a file named in the configuration."""

    #: Trusted for verification AND its subjects are sent as acceptable CA names
    #: (nginx ``ssl_client_certificate``, Apache ``SSLCACertificateFile``, HAProxy ``ca-file``).
    CLIENT_CA = "client_ca"
    #: Trusted, never advertised (nginx ``ssl_trusted_certificate``, HAProxy ``ca-verify-file``).
    TRUSTED_ONLY = "trusted_only"
    #: Apache ``SSLCACertificatePath``: a hashed directory, trusted and advertised.
    CA_PATH = "ca_path"
    #: Advertised only (Apache ``SSLCADNRequestFile``): replaces the advertised list.
    CA_NAMES = "ca_names"
    CA_NAMES_PATH = "ca_names_path"
    #: Certificate revocation lists (nginx ``ssl_crl``, Apache ``SSLCARevocationFile``,
    #: HAProxy ``crl-file``).
    CRL = "crl"
    CRL_PATH = "crl_path"

    @property
    def trusted(self) -> bool:
        """Its certificates are trust anchors / intermediates for client verification."""
        return self in (FileRole.CLIENT_CA, FileRole.TRUSTED_ONLY, FileRole.CA_PATH)

    @property
    def is_directory(self) -> bool:
        """The setting names a directory, not a file."""
        return self in (FileRole.CA_PATH, FileRole.CA_NAMES_PATH, FileRole.CRL_PATH)

    @property
    def is_crl(self) -> bool:
        """The setting names CRLs."""
        return self in (FileRole.CRL, FileRole.CRL_PATH)


class CrlCheck(StrEnum):
    """Which certificates of the client's chain are checked against CRLs."""

    NONE = "none"
    #: Only the client certificate (Apache ``SSLCARevocationCheck leaf``).
    LEAF = "leaf"
    #: Every certificate of the chain: a CRL is needed from every CA (nginx ``ssl_crl``,
    #: HAProxy ``crl-file``, Apache ``SSLCARevocationCheck chain``).
    CHAIN = "chain"


@dataclass(frozen=True, slots=True, kw_only=True)
class Where:
    """A place in a configuration file."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigFile:
    """A CA, CA-name or CRL file (or directory) named by a directive."""

    role: FileRole
    #: Absolute, resolved the way the server resolves it.
    path: str
    #: As written in the configuration.
    written: str
    #: The directive or keyword that names it (``ssl_client_certificate``, ``ca-file``...).
    directive: str
    where: Where


@dataclass(frozen=True, slots=True, kw_only=True)
class ScopedVerify:
    """``SSLVerifyClient`` inside ``<Location>``/``<Directory>``: a second handshake step."""

    #: ``<Location /secure>`` as written.
    scope: str
    mode: VerifyMode
    where: Where
    #: The directive's value as written (``require``, ``optional_no_ca``): what messages quote.
    written: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifyCheck:
    """A place that reads the verification result (``$ssl_client_verify``,
    ``SSL_CLIENT_VERIFY``, ``ssl_c_verify``/``ssl_c_used``)."""

    where: Where
    #: True when the result is only passed on (a header, an environment variable):
    #: the application may or may not check it.
    forwarded: bool
    #: The directive, shortened, for the message.
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class IgnoredErrors:
    """HAProxy ``crt-ignore-err`` (errors about the client certificate itself, depth 0)
    or ``ca-ignore-err`` (errors about its CA chain, depth > 0)."""

    option: str
    #: ``all`` or OpenSSL X509_V_ERR numbers / names as written.
    values: tuple[str, ...]
    where: Where


@dataclass(frozen=True, slots=True, kw_only=True)
class TLSServerBlock:
    """One nginx ``server`` block, Apache ``VirtualHost`` or HAProxy ``bind`` that does TLS."""

    kind: ServerKind
    #: The block's opening line (``server {``, ``<VirtualHost ...>``, ``bind ...``).
    where: Where
    #: server_name / ServerName / frontend name ("" when none).
    name: str
    listen: tuple[str, ...]
    verify: VerifyMode
    #: The directive that set ``verify``; None: the server's default (no client auth).
    verify_at: Where | None = None
    files: tuple[ConfigFile, ...] = ()
    #: ``ssl_verify_depth`` / ``SSLVerifyDepth``; None: the server's default.
    verify_depth: int | None = None
    verify_depth_at: Where | None = None
    crl_check: CrlCheck = CrlCheck.NONE
    crl_check_at: Where | None = None
    #: Apache ``SSLCARevocationCheck ... no_crl_for_cert_ok``: a missing CRL is not fatal.
    crl_missing_ok: bool = False
    verify_checks: tuple[VerifyCheck, ...] = ()
    scoped_verify: tuple[ScopedVerify, ...] = ()
    ignore_errors: tuple[IgnoredErrors, ...] = ()
    #: HAProxy ``no-ca-names``: no acceptable CA names are sent.
    no_ca_names_at: Where | None = None
    #: ``SSLProtocol`` / ``ssl_protocols`` as written; None: the default.
    protocols: str | None = None
    #: Things the parser could not follow (a ``crt-list``, a variable), said plainly.
    notes: tuple[str, ...] = ()
    #: An nginx ``stream`` server (a TCP proxy): refusals close the connection.
    stream: bool = False
    #: Only the first certificate of each trusted file (and its issuers there) is
    #: trusted: lighttpd's mod_gnutls, measured on the real server.
    trusts_first_ca_only: bool = False

    def files_with(self, *roles: FileRole) -> tuple[ConfigFile, ...]:
        """The named files of the given roles, in configuration order."""
        return tuple(f for f in self.files if f.role in roles)

    @property
    def label(self) -> str:
        """A short name for people: ``server_name example.org`` / ``bind :443``."""
        what = {
            ServerKind.NGINX: "stream server" if self.stream else "server",
            ServerKind.APACHE: "VirtualHost",
            ServerKind.HAPROXY: "bind",
            ServerKind.LIGHTTPD: "socket",
        }[self.kind]
        listen = " ".join(self.listen)
        return f"{what} {listen}" + (f" ({self.name})" if self.name else "")


@dataclass(frozen=True, slots=True, kw_only=True)
class IgnoredSetting:
    """A client-auth directive the server silently ignores where it stands."""

    directive: str
    where: Where
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerConfigFacts:
    """A parsed configuration: its TLS blocks and where everything came from."""

    kind: ServerKind
    #: The file given on the command line.
    path: str
    #: Every file read (the main one and its includes), in reading order.
    files: tuple[str, ...]
    #: Where relative paths resolve, and why there.
    root: str
    root_reason: str
    blocks: tuple[TLSServerBlock, ...]
    ignored: tuple[IgnoredSetting, ...] = ()


class FileProblem(StrEnum):
    """Why a named file cannot be used."""

    MISSING = "missing"
    UNREADABLE = "unreadable"
    EMPTY = "empty"
    #: Holds no certificate (or, for a CRL file, no CRL) that parses.
    NO_CONTENT = "no_content"
    WRONG_TYPE = "wrong_type"  # a directory where a file is expected, or the reverse


@dataclass(frozen=True, slots=True, kw_only=True)
class CRLFacts:
    """One certificate revocation list."""

    issuer: str
    this_update: datetime
    #: None: the CRL has no nextUpdate (it never goes stale; unusual).
    next_update: datetime | None
    #: Revoked serial numbers, lower-case hex.
    revoked_serials: tuple[str, ...]
    authority_key_id: str | None
    fingerprint_sha256: str
    #: Fingerprint of the block's trusted CA certificate whose key verifies the CRL's
    #: signature; None when no trusted CA does (forged, or from a re-keyed CA).
    verified_by: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FileFacts:
    """What one named file (or directory) holds."""

    config: ConfigFile
    problem: FileProblem | None = None
    #: The reason in words (OS error, parse error), "" when fine.
    detail: str = ""
    certificates: tuple[CertFacts, ...] = ()
    crls: tuple[CRLFacts, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockMaterial:
    """The contents of every file a block names."""

    files: tuple[FileFacts, ...] = ()
    #: The trusted certificates and who signed whom (signatures checked by the loader).
    graph: IssuanceGraph | None = None

    def of(self, *roles: FileRole) -> tuple[FileFacts, ...]:
        """Files of the given roles."""
        return tuple(f for f in self.files if f.config.role in roles)

    @property
    def trusted(self) -> tuple[CertFacts, ...]:
        """Every certificate the block trusts for client verification, deduplicated."""
        seen: set[str] = set()
        out: list[CertFacts] = []
        for item in self.files:
            if not item.config.role.trusted:
                continue
            for cert in item.certificates:
                if cert.fingerprint_sha256 not in seen:
                    seen.add(cert.fingerprint_sha256)
                    out.append(cert)
        return tuple(out)

    @property
    def crls(self) -> tuple[CRLFacts, ...]:
        """Every CRL the block holds."""
        return tuple(crl for item in self.files if item.config.role.is_crl for crl in item.crls)


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockReport:
    """A block with what its files hold, the findings, and the optional verdicts."""

    block: TLSServerBlock
    material: BlockMaterial
    #: The CA names the server sends in its CertificateRequest (RFC 4514), in order.
    advertised: tuple[str, ...]
    findings: tuple[Finding, ...]
    #: ``--user-cert``: would this block accept it?
    verdict: Verdict | None = None
    #: ``--issuing-ca``: one verdict per issuing CA given, as (CA subject, verdict).
    issuing_ca: tuple[tuple[str, Verdict], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class LintReport:
    """The result of ``lint-server`` for one configuration file."""

    config: ServerConfigFacts
    checked_at: datetime
    blocks: tuple[BlockReport, ...]
    #: Findings about the configuration as a whole (ignored directives, ...).
    findings: tuple[Finding, ...] = field(default=())
    #: ``--user-cert``: the identity judged (its source and subject).
    user_cert: str | None = None

    @property
    def exit_code(self) -> int:
        """1 when a finding is an error or a warning, or a block would reject the
        certificate judged; else 0."""
        problems = any(
            f.severity in (Severity.ERROR, Severity.WARNING)
            for f in (*self.findings, *(f for b in self.blocks for f in b.findings))
        )
        rejected = any(
            verdict.cause not in (Cause.ACCEPTED, Cause.CLIENT_AUTH_NOT_REQUESTED)
            for block in self.blocks
            for verdict in (
                *([block.verdict] if block.verdict else []),
                *(v for _, v in block.issuing_ca),
            )
        )
        return 1 if problems or rejected else 0
