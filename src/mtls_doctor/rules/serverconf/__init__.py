"""Rules about a server's client-authentication settings (``lint-server``).

Pure: a parsed block (:class:`TLSServerBlock`), what its files hold
(:class:`BlockMaterial`) and ``now`` → findings with file and line. Every rule
is a row of :data:`RULES` (its code, default severity, title and the
behaviour it predicts); the SARIF renderer publishes that table as the
tool's rule metadata. Each predicted behaviour is proven against the real
server in ``tests/realservers/test_lint_proofs.py``.

Facts measured on nginx 1.22, Apache 2.4 and HAProxy 2.6 with OpenSSL 3.0
that these rules encode:

- Verify depth: nginx and HAProxy pass it to OpenSSL, where depth N allows N
  intermediate CAs between the client certificate and the trusted root.
  Apache checks ``error depth > N`` itself, so N allows N - 1 intermediates
  (depth 0 rejects everything). nginx and Apache default to 1; HAProxy has no
  setting (OpenSSL's 100).
- None of the three sets ``X509_V_FLAG_PARTIAL_CHAIN``: a trusted
  intermediate without its root trusts nothing.
- CRL checking (nginx ``ssl_crl``, HAProxy ``crl-file``, Apache
  ``SSLCARevocationCheck chain``) needs a valid CRL from every CA of the
  chain; a missing, expired or not-yet-valid one rejects every client.
  Apache's default ``SSLCARevocationCheck`` is ``none``: a CRL file alone is
  never consulted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from mtls_doctor.defaults import DEFAULT_WARN_DAYS
from mtls_doctor.model import Finding
from mtls_doctor.rules.serverconf.cas import (
    check_ca_certificates,
    check_ca_dn_file,
    check_ca_names,
    check_chain_completeness,
    check_files,
    check_verify_depth,
    check_verify_mode,
)
from mtls_doctor.rules.serverconf.context import (
    Context,
    advertised_names,
    allowed_intermediates,
    chain_up,
    depth_needed,
)
from mtls_doctor.rules.serverconf.crls import check_crls
from mtls_doctor.rules.serverconf.policy import (
    allows_tls13,
    check_ignored_errors,
    check_optional,
    check_scoped_verify,
)
from mtls_doctor.rules.serverconf.table import (
    DEFAULT_CRL_WARN,
    DEFAULT_VERIFY_DEPTH,
    DEPTH_DIRECTIVE,
    RULES,
    Rule,
    finding,
)
from mtls_doctor.serverconf.facts import BlockMaterial, IgnoredSetting, TLSServerBlock

__all__ = [
    "BLOCK_RULES",
    "DEFAULT_CRL_WARN",
    "DEFAULT_VERIFY_DEPTH",
    "DEFAULT_WARN_DAYS",
    "DEPTH_DIRECTIVE",
    "RULES",
    "Context",
    "Rule",
    "advertised_names",
    "allowed_intermediates",
    "allows_tls13",
    "chain_up",
    "check_block",
    "check_config",
    "depth_needed",
    "finding",
]

#: Every block rule, in the order findings are listed.
BLOCK_RULES: tuple[Callable[[Context], list[Finding]], ...] = (
    check_verify_mode,
    check_files,
    check_ca_certificates,
    check_chain_completeness,
    check_ca_names,
    check_ca_dn_file,
    check_verify_depth,
    check_crls,
    check_optional,
    check_scoped_verify,
    check_ignored_errors,
)


def check_block(
    block: TLSServerBlock,
    material: BlockMaterial,
    now: datetime,
    *,
    warn_days: int = DEFAULT_WARN_DAYS,
    crl_warn: timedelta = DEFAULT_CRL_WARN,
) -> tuple[Finding, ...]:
    """Every finding about one TLS block, with file and line."""
    ctx = Context(block, material, now, warn_days, crl_warn)
    return tuple(f for rule in BLOCK_RULES for f in rule(ctx))


def check_config(ignored: Iterable[IgnoredSetting]) -> tuple[Finding, ...]:
    """Findings about the configuration as a whole: directives the server ignores."""
    return tuple(
        finding("setting_ignored", item.where, f"{item.directive}: {item.reason}")
        for item in ignored
    )
