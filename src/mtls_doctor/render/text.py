"""Text rendering for people, with ``rich`` (colour only on a terminal)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from mtls_doctor.model import (
    CertFacts,
    Diagnosis,
    Finding,
    FindingCode,
    HandshakeFacts,
    IdentityReport,
    InspectReport,
    Severity,
    Verdict,
)
from mtls_doctor.rules.answer import answer
from mtls_doctor.rules.identity import allows_client_auth, days_left
from mtls_doctor.terminal import hanging, headline
from mtls_doctor.terminal import untrusted as escape

if TYPE_CHECKING:
    from rich.console import Console

    from mtls_doctor.probing import ProbeReport

_MARK = {
    Severity.ERROR: "[bold red]✗[/]",
    Severity.WARNING: "[yellow]![/]",
    Severity.INFO: "[blue]i[/]",
}


def finding_row(console: Console, item: Finding, indent: str = "  ") -> None:
    """One finding, its text wrapped under itself (not under its mark)."""
    where = f"{escape(item.file)}:{item.line}: " if item.file else ""
    hanging(console, f"{indent}{_MARK[item.severity]} ", f"{where}{escape(item.message)}")


def finding_line(item: Finding) -> str:
    """One finding as a marked line."""
    where = f"{escape(item.file)}:{item.line}: " if item.file else ""
    return f"{_MARK[item.severity]} {where}{escape(item.message)}"


def _key(cert: CertFacts) -> str:
    if cert.key_type == "EC" and cert.curve:
        return f"EC {cert.curve}"
    if cert.key_bits:
        return f"{cert.key_type} {cert.key_bits}"
    return cert.key_type


def validity(cert: CertFacts, now: datetime) -> str:
    """``from → to (N days left)`` with the count coloured by urgency."""
    left = days_left(cert, now)
    if now > cert.not_after:
        ago = (now - cert.not_after).days
        state = f"[bold red]expired {ago} day{'s' if ago != 1 else ''} ago[/]"
    elif now < cert.not_before:
        state = "[bold red]not valid yet[/]"
    elif left <= 30:
        state = f"[yellow]{left} days left[/]"
    else:
        state = f"[green]{left} days left[/]"
    return f"{cert.not_before:%Y-%m-%d} → {cert.not_after:%Y-%m-%d}  ({state})"


def identity_block(
    console: Console, report: IdentityReport, now: datetime, *, verbose: bool = False
) -> None:
    """One identity: the facts a person checks, then the findings (``verbose``: every fact)."""
    facts = report.identity
    cert = facts.certificate
    if facts.key_matches is True:
        key_state = "[green]private key present and matching[/]"
    elif facts.key_matches is False:
        key_state = "[bold red]private key does NOT match[/]"
    else:
        key_state = "[bold red]no private key[/]"
    eku = ", ".join(cert.extended_key_usage) if cert.extended_key_usage is not None else "any"
    usable = (
        "[green]client auth ok[/]" if allows_client_auth(cert) else "[red]not for client auth[/]"
    )
    console.print(f"[bold]{escape(facts.source)}[/]  [dim]({facts.format})[/]")
    rows = [
        ("Subject", escape(cert.subject)),
        ("Issuer", escape(cert.issuer)),
        ("Valid", validity(cert, now)),
        ("Key", f"{_key(cert)} · {key_state}"),
        ("Usage", f"{escape(eku)} · {usable}"),
    ]
    chain = " → ".join(escape(c.subject) for c in facts.issuing_path) or "(none in the bundle)"
    rows.append(("Chain", chain))
    if verbose:  # the identifiers: for --select, for comparing with another tool
        rows.insert(2, ("Serial", cert.serial))
        if cert.san:
            rows.append(("SAN", escape(", ".join(cert.san))))
        rows.append(("SHA-256", cert.fingerprint_sha256))
    for label, value in rows:
        hanging(console, f"  [dim]{label:<8}[/] ", value)
    for item in report.findings:
        finding_row(console, item)
    if not any(f.severity is not Severity.INFO for f in report.findings):
        console.print("  [green]✓ no problem found[/]")


def inspect_report(console: Console, report: InspectReport, *, verbose: bool = False) -> None:
    """The ``inspect`` output."""
    for number, item in enumerate(report.identities):
        if number:
            console.print()
        identity_block(console, item, report.checked_at, verbose=verbose)
    for problem in report.problems:
        console.print(f"[bold red]✗[/] {escape(problem.message)}", highlight=False)
    if not report.identities and not report.problems:
        console.print("No identity found.")


def probe_report(console: Console, report: ProbeReport, *, verbose: bool = False) -> None:
    """The ``probe`` output: the answer first, then the evidence (long lists with ``verbose``)."""
    facts = report.facts
    colour = {"required": "bold yellow", "optional": "cyan", "not_requested": "dim"}[
        str(report.client_auth)
    ]
    console.print(
        f"[bold]{escape(str(report.target))}[/]  client certificate: "
        f"[{colour}]{report.client_auth}[/]"
    )
    hanging(console, "  [dim]because[/]  ", escape(report.reason))
    version = facts.tls_version or "?"
    cipher = f" · {facts.cipher}" if facts.cipher else ""
    console.print(f"  [dim]TLS[/]      {version}{cipher}")
    if facts.certificate_requested:
        if facts.acceptable_ca_names:
            console.print(
                "  [dim]accepted CA names[/] (a browser offers only certificates from these):"
            )
            for name in facts.acceptable_ca_names:
                console.print(f"    • {escape(name)}")
            if facts.ca_names_dropped:
                console.print(f"    … and {facts.ca_names_dropped} more (list capped)")
        else:
            console.print(
                "  [dim]accepted CA names[/] none listed: the server did not say which CAs it "
                "trusts (this means any CA it trusts, not none)"
            )
        algorithms = facts.signature_algorithms
        if algorithms and verbose:
            hanging(console, "  [dim]signature algorithms[/] ", ", ".join(algorithms))
        elif algorithms:
            console.print(
                f"  [dim]signature algorithms[/] {len(algorithms)} accepted (-v lists them)"
            )
        if facts.certificate_types:
            console.print(f"  [dim]certificate types[/] {', '.join(facts.certificate_types)}")
    for cert in facts.server_chain[: 3 if verbose else 1]:
        hanging(
            console,
            "  [dim]server cert[/] ",
            f"{escape(cert.subject)}  [dim]issuer[/] {escape(cert.issuer)}"
            f"  [dim]until[/] {cert.not_after:%Y-%m-%d}",
        )
        for problem in cert.unreadable:
            console.print(f"    [yellow]![/] cannot be read: {escape(problem)}")
    if facts.http is not None:
        line = f" — {escape(facts.http.first_line)}" if facts.http.first_line else ""
        console.print(f"  [dim]HTTP[/]     {facts.http.status} {escape(facts.http.reason)}{line}")
    if facts.app is not None:
        console.print(f"  [dim]{escape(facts.app.protocol)}[/]  {escape(_app_text(facts))}")


def _app_text(facts: HandshakeFacts) -> str:
    app = facts.app
    assert app is not None
    return app.meaning if app.accepted is None else f"{app.said}: {app.meaning}"


def fix_sections(verdict: Verdict) -> list[tuple[str, tuple[str, ...]]]:
    """The fixes under who acts: "You" and "The server's owner" (the model keeps them apart)."""
    if not (verdict.user_fixes or verdict.server_fixes):
        return [("Fix", verdict.fixes)] if verdict.fixes else []
    sections = [("You", verdict.user_fixes), ("The server's owner", verdict.server_fixes)]
    return [(heading, fixes) for heading, fixes in sections if fixes]


_VERDICT_STYLE = {"accepted": "bold green", "rejected_by_application": "bold yellow"}


def diagnosis(console: Console, item: Diagnosis, target: str) -> None:
    """The ``check`` output: verdict, evidence, other findings, the fix."""
    cause = str(item.verdict.cause)
    style = _VERDICT_STYLE.get(cause, "bold red")
    mark = "✓" if cause == "accepted" else "✗"
    # The one sentence a person needs first (cause and its plain title), then the detail.
    first, rest = headline(item.verdict.summary)
    hanging(console, f"[{style}]{mark} {cause}[/]  ", escape(first))
    if rest:
        hanging(console, "  ", escape(rest))
    console.print()
    console.print("[bold]What happened[/]")
    for line in _evidence_lines(item, target):
        hanging(console, "  • ", line)
    shown = [
        f
        for f in item.findings
        if f.severity is not Severity.INFO or f.code != FindingCode.CHAIN_INCOMPLETE
    ]
    if shown:
        console.print()
        console.print("[bold]Findings[/]")
        for finding in shown:
            finding_row(console, finding)
    for heading, fixes in fix_sections(item.verdict):
        console.print()
        console.print(f"[bold]{heading}[/]")
        for number, fix in enumerate(fixes, start=1):
            hanging(console, f"  {number}. ", escape(fix))
    console.print(f"\n[dim]{item.handshakes} TLS handshake{'s' if item.handshakes != 1 else ''}[/]")


def _evidence_lines(item: Diagnosis, target: str) -> list[str]:
    facts = item.facts
    lines: list[str] = []
    seen = facts.attempt or facts.without_certificate
    if seen is None:
        return [f"no TLS connection to {escape(target)} could be completed"]
    if seen.certificate_requested:
        names = "; ".join(seen.acceptable_ca_names)
        accepted = (
            f"accepts CAs: {escape(names)}" if names else "lists no CA names (any CA it trusts)"
        )
        lines.append(
            f"{escape(target)} asked for a client certificate ({seen.tls_version}); it {accepted}"
        )
    else:
        lines.append(f"{escape(target)} did not ask for a client certificate ({seen.tls_version})")
    if facts.identity is not None:
        cert = facts.identity.certificate
        chain = ", ".join(
            escape(link.certificate.subject)
            for link in (facts.chain.path if facts.chain else ())
            if link.sent
        )
        sent_chain = f" with {chain}" if chain else " without intermediates"
        if facts.attempt is not None:
            lines.append(
                f"presented {escape(cert.subject)} (issuer {escape(cert.issuer)}){sent_chain}"
            )
        else:
            lines.append(f"could not present {escape(cert.subject)}: see the findings")
    if facts.attempt is not None:
        lines.append(f"with it: {escape(answer(facts.attempt, detailed=True))}")
    if facts.without_certificate is not None:
        lines.append(
            f"without a certificate: {escape(answer(facts.without_certificate, detailed=True))}"
        )
    return lines
