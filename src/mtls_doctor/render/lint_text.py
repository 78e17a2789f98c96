"""Text rendering of ``lint-server`` for people: each TLS block with what its
settings mean, its findings at file:line, and the verdicts asked for."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from mtls_doctor.causes import Cause
from mtls_doctor.model import Severity, Verdict
from mtls_doctor.render.text import finding_line
from mtls_doctor.rules.serverconf import (
    DEFAULT_VERIFY_DEPTH,
    DEPTH_DIRECTIVE,
    allowed_intermediates,
)
from mtls_doctor.serverconf.facts import (
    BlockReport,
    FileFacts,
    LintReport,
    ServerKind,
    VerifyMode,
    Where,
)
from mtls_doctor.terminal import untrusted as escape

if TYPE_CHECKING:
    from rich.console import Console

#: Findings that repeat a verdict line (shown once, as the verdict).
_SHOWN_AS_VERDICT = frozenset({"user_cert_rejected", "issuing_ca_rejected"})
_AUTH_COLOUR = {"required": "bold yellow", "optional": "cyan", "not_requested": "dim"}


def _where(where: Where | None) -> str:
    if where is None:
        return "default"
    return f"{escape(_short(where.file))}:{where.line}"


def _short(path: str) -> str:
    """A path relative to the current directory when that is shorter."""
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return path
    return relative if len(relative) < len(path) else path


def _file_lines(item: FileFacts, trusted_names: set[str]) -> list[str]:
    config = item.config
    head = f"{escape(config.directive)} {escape(config.path)}  [dim]({_where(config.where)})[/]"
    lines = [head]
    if item.problem is not None:
        lines.append(f"    [bold red]{escape(str(item.problem))}[/]: {escape(item.detail)}")
        return lines
    for cert in item.certificates:
        kind = "root" if cert.self_signed else "CA" if cert.is_ca else "not a CA"
        lines.append(
            f"    • {escape(cert.subject)}  [dim]{kind}, until {cert.not_after:%Y-%m-%d}[/]"
        )
    for crl in item.crls:
        until = f"next update {crl.next_update:%Y-%m-%d %H:%M}" if crl.next_update else "no end"
        signed = ""
        if crl.verified_by is None and crl.issuer in trusted_names:
            signed = " [bold red](not signed by the trusted CA of that name)[/]"
        elif crl.verified_by is None:
            signed = " [dim](for an intermediate the client sends)[/]"
        lines.append(
            f"    • CRL from {escape(crl.issuer)}  [dim]{until}, "
            f"{len(crl.revoked_serials)} revoked[/]{signed}"
        )
    return lines


def _verdict_line(label: str, verdict: Verdict) -> str:
    colour = "green" if verdict.cause is Cause.ACCEPTED else "bold red"
    return f"  [dim]{label}[/] [{colour}]{verdict.cause}[/]  {escape(verdict.summary)}"


def block_report(console: Console, report: BlockReport) -> None:
    """One server block / vhost / bind."""
    block = report.block
    auth = block.verify.client_auth
    console.print(
        f"[bold]{block.kind}[/] {escape(block.label)}  [dim]{_where(block.where)}[/]",
        highlight=False,
    )
    mode = f" ({block.verify})" if block.verify is VerifyMode.OPTIONAL_NO_CA else ""
    console.print(
        f"  [dim]client auth [/] [{_AUTH_COLOUR[auth]}]{auth}[/]{mode}  "
        f"[dim]({_where(block.verify_at)})[/]",
        highlight=False,
    )
    trusted_names = {c.subject for c in report.material.trusted}
    for item in report.material.files:
        for number, line in enumerate(_file_lines(item, trusted_names)):
            label = "files       " if number == 0 and item is report.material.files[0] else ""
            console.print(f"  [dim]{label:<12}[/] {line}", highlight=False)
    if block.verify.client_auth != "not_requested":
        names = "; ".join(escape(n) for n in report.advertised) or "none (browsers offer any)"
        console.print(f"  [dim]advertised  [/] {names}", highlight=False)
        if block.kind is not ServerKind.HAPROXY:
            value = block.verify_depth
            shown = value if value is not None else DEFAULT_VERIFY_DEPTH[block.kind]
            allowed = allowed_intermediates(block.kind, value)
            console.print(
                f"  [dim]verify depth[/] {DEPTH_DIRECTIVE[block.kind]} {shown}"
                f"{' (default)' if value is None else ''}: up to {allowed} intermediate CA(s)",
                highlight=False,
            )
        console.print(f"  [dim]CRL check   [/] {block.crl_check}", highlight=False)
    for note in block.notes:
        console.print(f"  [dim]note[/] {escape(note)}", highlight=False)
    for found in report.findings:
        if found.code in _SHOWN_AS_VERDICT:
            continue
        console.print(f"  {finding_line(found)}", highlight=False)
    if report.verdict is not None:
        console.print(_verdict_line("user cert   ", report.verdict), highlight=False)
    for subject, verdict in report.issuing_ca:
        console.print(_verdict_line(f"issuing CA {escape(subject)}:", verdict), highlight=False)
    if not any(f.severity is not Severity.INFO for f in report.findings):
        console.print("  [green]✓ no problem found[/]")


def lint_reports(console: Console, reports: tuple[LintReport, ...]) -> None:
    """The whole ``lint-server`` output."""
    for report in reports:
        config = report.config
        console.print(
            f"[bold]{escape(config.path)}[/]  [dim]{config.kind}, {len(config.files)} file(s) "
            f"read; relative paths from {escape(config.root)} ({escape(config.root_reason)})[/]",
            highlight=False,
        )
        if report.user_cert:
            console.print(f"  [dim]user cert: {escape(report.user_cert)}[/]", highlight=False)
        for item in report.findings:
            console.print(f"  {finding_line(item)}", highlight=False)
        if not report.blocks:
            console.print("  No TLS server block / VirtualHost / bind found.")
        for block in report.blocks:
            console.print()
            block_report(console, block)
        console.print()
