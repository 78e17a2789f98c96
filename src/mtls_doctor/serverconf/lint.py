"""``lint-server`` as a library call: parse → load → rules → (optional) acceptance.

Gathers (the parsers, the CA/CRL loader, the identity loader), derives (the
pure rules of :mod:`mtls_doctor.rules.serverconf`, the offline acceptance of
:mod:`mtls_doctor.serverconf.acceptance`) and returns :class:`LintReport`
objects; rendering is elsewhere.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509

from mtls_doctor.bundle import LoadedIdentity, PasswordSource, load_identities, no_password
from mtls_doctor.causes import Cause
from mtls_doctor.errors import ConfigParseError, InputError, UsageError
from mtls_doctor.files import FileReadError, open_regular_file
from mtls_doctor.model import Finding, Severity, Source
from mtls_doctor.rules.serverconf import (
    DEFAULT_CRL_WARN,
    DEFAULT_WARN_DAYS,
    advertised_names,
    check_block,
    check_config,
    finding,
)
from mtls_doctor.serverconf.acceptance import judge_identity, judge_issuing_ca
from mtls_doctor.serverconf.facts import (
    BlockReport,
    LintReport,
    ServerConfigFacts,
    ServerKind,
    TLSServerBlock,
)
from mtls_doctor.serverconf.material import LoadedBlock, MaterialLoader, load_certificates

#: How much of a file is read to tell nginx, Apache, HAProxy and lighttpd apart.
SNIFF_BYTES = 256 * 1024

_SIGNS: dict[ServerKind, tuple[re.Pattern[str], ...]] = {
    ServerKind.NGINX: (
        re.compile(r"^\s*(?:http|server|events|stream|location\s+[^{]*)\s*\{", re.MULTILINE),
        re.compile(r"^\s*(?:ssl_\w+|listen|server_name|include|worker_processes)\s[^;{]*;", re.M),
    ),
    ServerKind.APACHE: (
        re.compile(r"^\s*</?(?:VirtualHost|IfModule|Directory|Location|Files)\b", re.M | re.I),
        re.compile(
            r"^\s*(?:SSLEngine|SSLVerifyClient|SSLCACertificateFile|ServerRoot|LoadModule|"
            r"IncludeOptional|DocumentRoot|ServerName|Listen\s+\S+\s*$)",
            re.M | re.I,
        ),
    ),
    ServerKind.LIGHTTPD: (
        re.compile(r"^\s*(?:server|ssl)\.[\w.-]+\s*[+:]?=", re.MULTILINE),
        re.compile(r'^\s*\$(?:SERVER|HTTP)\["\w+"\]', re.MULTILINE),
    ),
    ServerKind.HAPROXY: (
        re.compile(r"^(?:frontend|backend|listen|global|defaults)\b", re.MULTILINE),
        re.compile(r"^\s+(?:bind|mode|default_backend|use_backend|server)\s", re.MULTILINE),
    ),
}


def detect_kind(path: str | os.PathLike[str]) -> ServerKind:
    """nginx, Apache, HAProxy or lighttpd, from the file's content (not its name)."""
    name = str(path)
    try:
        with open_regular_file(path, what="configuration file") as handle:
            text = handle.read(SNIFF_BYTES).decode("utf-8", errors="replace")
    except FileReadError as exc:
        raise ConfigParseError(name, None, exc.reason) from None
    except OSError as exc:
        raise ConfigParseError(name, None, f"cannot read: {exc.strerror or exc}") from None
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    from mtls_doctor.serverconf.unsupported import recognise

    other = recognise(name, text)
    if other is not None:
        raise ConfigParseError(
            name,
            None,
            f"this is a {other} configuration: not supported yet (lint-server reads nginx, "
            "Apache, HAProxy and lighttpd configurations)",
            code="unsupported_config",
        )
    scores = {
        kind: sum(len(pattern.findall(text)) * (3 if i == 0 else 1) for i, pattern in enumerate(p))
        for kind, p in _SIGNS.items()
    }
    best = max(scores, key=lambda kind: scores[kind])
    if scores[best] == 0:
        raise ConfigParseError(
            name,
            None,
            "cannot tell whether this is an nginx, Apache, HAProxy or lighttpd configuration; "
            "pass --type nginx|apache|haproxy|lighttpd",
        )
    return best


def _refuse_non_configuration(path: str | os.PathLike[str]) -> None:
    """An empty file or a binary one (a picture) is bad input, whatever ``--type`` says."""
    name = str(path)
    try:
        with open_regular_file(path, what="configuration file") as handle:
            head = handle.read(SNIFF_BYTES + 1)
    except FileReadError as exc:
        raise ConfigParseError(name, None, exc.reason) from None
    except OSError as exc:
        raise ConfigParseError(name, None, f"cannot read: {exc.strerror or exc}") from None
    if b"\0" in head[:SNIFF_BYTES]:
        raise ConfigParseError(
            name,
            None,
            "not a text configuration file (it holds binary data); give the "
            "server's configuration file",
        )
    lines = head.decode("utf-8", errors="replace").splitlines()
    if len(head) <= SNIFF_BYTES and all(
        not line.strip() or line.lstrip().startswith("#") for line in lines
    ):
        raise ConfigParseError(
            name, None, "the file holds no configuration (it is empty or only comments)"
        )


def parse_config(
    path: str | os.PathLike[str],
    *,
    kind: ServerKind | None = None,
    root: str | os.PathLike[str] | None = None,
) -> ServerConfigFacts:
    """Parse one configuration file (and its includes) of the given or detected kind."""
    from mtls_doctor.serverconf.apache import parse_apache
    from mtls_doctor.serverconf.haproxy import parse_haproxy
    from mtls_doctor.serverconf.lighttpd import parse_lighttpd
    from mtls_doctor.serverconf.nginx import parse_nginx

    if not Path(path).is_file():
        what = "is a directory" if Path(path).is_dir() else "no such file"
        raise ConfigParseError(str(path), None, what)
    _refuse_non_configuration(path)
    chosen = kind or detect_kind(path)
    parsers = {
        ServerKind.NGINX: parse_nginx,
        ServerKind.APACHE: parse_apache,
        ServerKind.HAPROXY: parse_haproxy,
        ServerKind.LIGHTTPD: parse_lighttpd,
    }
    return parsers[chosen](Path(path), root=Path(root) if root is not None else None)


def _judge_blocks(
    block: TLSServerBlock,
    loaded: LoadedBlock,
    now: datetime,
    identity: LoadedIdentity | None,
    issuing: Sequence[Sequence[x509.Certificate]],
    candidates: Sequence[x509.Certificate],
    signatures: dict[tuple[str, str], bool],
) -> tuple[list[Finding], BlockReport]:
    findings: list[Finding] = []
    verdict = None
    where = block.where
    if identity is not None:
        verdict = judge_identity(
            block, loaded, identity, now, candidates=candidates, checked=signatures
        ).verdict
        if verdict.cause not in (Cause.ACCEPTED, Cause.CLIENT_AUTH_NOT_REQUESTED):
            findings.append(
                Finding(
                    code="user_cert_rejected",
                    severity=Severity.ERROR,
                    cause=verdict.cause,
                    message=f"{identity.facts.source}: {verdict.summary}",
                    file=where.file,
                    line=where.line,
                )
            )
    issuing_verdicts = []
    for chain in issuing:
        judgement = judge_issuing_ca(block, loaded, chain, now, checked=signatures)
        subject = chain[0].subject.rfc4514_string()
        issuing_verdicts.append((subject, judgement.verdict))
        cause = judgement.verdict.cause
        if cause not in (Cause.ACCEPTED, Cause.CLIENT_AUTH_NOT_REQUESTED):
            findings.append(
                finding("issuing_ca_rejected", where, f"{subject}: {judgement.verdict.summary}")
            )
        elif cause is Cause.ACCEPTED and not judgement.advertised:
            findings.append(
                finding(
                    "issuing_ca_not_advertised",
                    where,
                    f"Certificates issued by {subject} are accepted, but neither it nor its "
                    "issuers are among the CA names this block sends: browsers will not offer "
                    "them. Add the CA to the advertised client-CA file.",
                )
            )
    report = BlockReport(
        block=block,
        material=loaded.material,
        advertised=advertised_names(block, loaded.material),
        findings=(),
        verdict=verdict,
        issuing_ca=tuple(issuing_verdicts),
    )
    return findings, report


def lint_config(
    config: ServerConfigFacts,
    *,
    now: datetime,
    warn_days: int = DEFAULT_WARN_DAYS,
    crl_warn: timedelta = DEFAULT_CRL_WARN,
    identity: LoadedIdentity | None = None,
    issuing: Sequence[Sequence[x509.Certificate]] = (),
    candidates: Sequence[x509.Certificate] = (),
    loader: MaterialLoader | None = None,
) -> LintReport:
    """Apply every rule (and the optional acceptance checks) to a parsed configuration."""
    loader = loader or MaterialLoader()
    blocks = []
    for block in config.blocks:
        loaded = loader.load(block)
        findings = list(
            check_block(block, loaded.material, now, warn_days=warn_days, crl_warn=crl_warn)
        )
        extra, report = _judge_blocks(
            block, loaded, now, identity, issuing, candidates, loader.signatures
        )
        blocks.append(replace(report, findings=(*findings, *extra)))
    return LintReport(
        config=config,
        checked_at=now,
        blocks=tuple(blocks),
        findings=check_config(config.ignored),
        user_cert=(
            f"{identity.facts.source} ({identity.facts.certificate.subject})" if identity else None
        ),
    )


def load_user_cert(
    path: str, *, key_path: str | None = None, password: PasswordSource = no_password
) -> tuple[LoadedIdentity, list[x509.Certificate]]:
    """The identity of ``--user-cert`` and the CA certificates found beside it."""
    result = load_identities([path], key_path=key_path, password=password)
    if not result.identities:
        if result.problems:
            problem = result.problems[0]
            raise InputError(problem.message, code=problem.code)
        raise InputError(f"{path}: holds no client certificate")
    return result.identities[0], list(result.ca_certificates)


def load_issuing_ca(path: str) -> list[x509.Certificate]:
    """The certificates of ``--issuing-ca``: the issuing CA first, then its chain."""
    if not Path(path).is_file():
        raise UsageError(f"--issuing-ca {path}: no such file")
    certs = load_certificates(Path(path))
    if not certs:
        raise InputError(f"--issuing-ca {path}: holds no certificate (PEM or DER)")
    return certs


def _trusted_certificates(
    configs: Sequence[ServerConfigFacts], loader: MaterialLoader
) -> list[x509.Certificate]:
    # Blocks share their files (and so the very same objects): each certificate once.
    every = (c for config in configs for block in config.blocks for c in loader.load(block).trusted)
    return list({id(c): c for c in every}.values())


def issuers_from_aia(
    identity: LoadedIdentity, known: Sequence[x509.Certificate]
) -> list[x509.Certificate]:
    """CA certificates downloaded from caIssuers URLs where the known ones end the chain."""
    from mtls_doctor.chainbuild import AIA_MAX_BYTES, AIA_TIMEOUT, build_chain
    from mtls_doctor.fetch import fetch

    built = build_chain(
        identity,
        directory_cas=known,
        fetcher=lambda url: fetch(url, timeout=AIA_TIMEOUT, max_bytes=AIA_MAX_BYTES),
    )
    return [
        cert
        for link, cert in zip(built.facts.path, built.certificates, strict=True)
        if link.source is Source.AIA
    ]


def lint_server(
    paths: Sequence[str],
    *,
    kind: ServerKind | None = None,
    root: str | None = None,
    user_cert: str | None = None,
    key_path: str | None = None,
    password: PasswordSource = no_password,
    issuing_ca: Sequence[str] = (),
    now: datetime | None = None,
    warn_days: int = DEFAULT_WARN_DAYS,
    crl_warn: timedelta = DEFAULT_CRL_WARN,
    offline: bool = False,
) -> tuple[LintReport, ...]:
    """Audit each configuration in ``paths``; see :func:`lint_config`.

    With ``user_cert`` and not ``offline``: when the certificate's issuer is in
    none of the files known (the blocks' CA files, ``issuing_ca``, the files
    beside it), its caIssuers URLs are followed (bounded, as ``check`` does) so
    that a missing intermediate is told apart from an unknown CA.
    """
    moment = now or datetime.now(UTC)
    configs = [parse_config(path, kind=kind, root=root) for path in paths]
    issuing = [load_issuing_ca(path) for path in issuing_ca]
    identity, candidates = None, [c for chain in issuing for c in chain]
    loader = MaterialLoader()
    if user_cert is not None:
        identity, beside = load_user_cert(user_cert, key_path=key_path, password=password)
        candidates.extend(beside)
        if not offline:
            known = [*candidates, *_trusted_certificates(configs, loader)]
            candidates.extend(issuers_from_aia(identity, known))
    return tuple(
        lint_config(
            config,
            now=moment,
            warn_days=warn_days,
            crl_warn=crl_warn,
            identity=identity,
            issuing=issuing,
            candidates=candidates,
            loader=loader,
        )
        for config in configs
    )
