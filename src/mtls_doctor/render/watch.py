"""Rendering of ``watch``: the JSON document (CONTRACT.md: ``identities``, ``drift``) and text."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mtls_doctor.model import Severity
from mtls_doctor.render.json import finding, identity, iso, problem
from mtls_doctor.terminal import untrusted as escape
from mtls_doctor.watch.facts import Acceptance, DriftFinding, WatchReport, short_key_id

if TYPE_CHECKING:
    from rich.console import Console

JSON = dict[str, Any]


def _drift(item: DriftFinding) -> JSON:
    out = finding(item.finding)
    if item.server is not None:
        out["server"] = item.server
    if item.ca is not None:
        out["issuing_ca"] = {"subject": item.ca.subject, "key_id": item.ca.key_id}
    if item.acceptance is not None:
        out["acceptance"] = str(item.acceptance)
    out["identities"] = list(item.identities)
    if item.trusted_key_id is not None:
        out["trusted_key_id"] = item.trusted_key_id
    return out


def document(report: WatchReport) -> JSON:
    """The ``watch`` JSON document."""
    facts = report.facts
    now = facts.now
    identities = []
    for status in report.identities:
        item = identity(status.identity, status.findings, now)
        item["usage"] = str(status.usage)
        item["state"] = status.state
        identities.append(item)
    servers = []
    for j, server in enumerate(facts.servers):
        servers.append(
            {
                "name": server.name,
                "source": server.source,
                "client_auth": server.client_auth,
                "acceptable_ca_names": (
                    list(server.advertised) if server.advertised is not None else None
                ),
                "trusted": (
                    [{"subject": c.subject, "key_id": c.subject_key_id} for c in server.trusted]
                    if server.trusted is not None
                    else None
                ),
                "error": server.error,
                "probe_seconds": round(server.duration, 4) if server.duration else None,
                "handshakes": [
                    {
                        "issuing_ca": facts.issuing_cas[h.ca].subject,
                        "identity": h.identity,
                        "accepted": h.accepted,
                        "evidence": h.evidence,
                    }
                    for h in server.handshakes
                ],
                "issuing_cas": [
                    {
                        "subject": ca.subject,
                        "key_id": ca.key_id,
                        "acceptance": str(report.matrix[(i, j)]),
                    }
                    for i, ca in enumerate(facts.issuing_cas)
                ],
            }
        )
    return {
        "checked_at": iso(now),
        "identities": identities,
        "issuing_cas": [
            {
                "subject": ca.subject,
                "key_id": ca.key_id,
                "not_after": iso(ca.certificate.not_after) if ca.certificate else None,
                "explicit": ca.explicit,
                "source": ca.source,
            }
            for ca in facts.issuing_cas
        ],
        "servers": servers,
        "drift": [_drift(d) for d in report.drift],
        "problems": [problem(p) for p in facts.problems],
    }


_MARK = {Severity.ERROR: "[bold red]x[/]", Severity.WARNING: "[yellow]![/]", Severity.INFO: "i"}
_STATE = {
    "ok": "[green]ok[/]",
    "warning": "[yellow]warning[/]",
    "critical": "[bold red]critical[/]",
    "expired": "[bold red]expired[/]",
    "not_yet_valid": "[bold red]not yet valid[/]",
}
_ACCEPT = {
    Acceptance.BY_KEY: "[green]yes (name and key)[/]",
    Acceptance.BY_HANDSHAKE: "[green]yes (handshake)[/]",
    Acceptance.BY_NAME: "[yellow]by name only[/]",
    Acceptance.ROTATED: "[bold red]no: stale key[/]",
    Acceptance.REJECTED: "[bold red]no[/]",
    Acceptance.NOT_ADVERTISED: "[yellow]not advertised[/]",
    Acceptance.UNKNOWN: "unknown (no CA names)",
    Acceptance.NOT_REQUESTED: "no client auth",
    Acceptance.UNREACHABLE: "[yellow]unreachable[/]",
}


#: Below this width, tables become one line per row (a narrow window stays readable).
TABLE_WIDTH = 110


def _key_ids(subject_key_id: str | None, authority_key_id: str | None) -> str:
    return f"{short_key_id(subject_key_id, 4)} / {short_key_id(authority_key_id, 4)}"


def _identities(console: Console, report: WatchReport) -> None:
    from rich import box
    from rich.table import Table

    ordered = sorted(report.identities, key=lambda s: s.days_left)
    if console.width < TABLE_WIDTH:
        console.print("[bold]Client identities[/] (key id / issuer key id)")
        for status in ordered:
            cert = status.identity.certificate
            console.print(
                f"  {_STATE[status.state]} {status.days_left} days  {escape(cert.subject)}\n"
                f"    {escape(status.identity.source)}\n"
                f"    {status.usage}; issuer {escape(cert.issuer)}; "
                f"{_key_ids(cert.subject_key_id, cert.authority_key_id)}; "
                f"expires {cert.not_after:%Y-%m-%d}"
            )
        return
    table = Table(title="Client identities", title_justify="left", box=box.ASCII)
    for column in ("Source", "Subject", "Usage", "Issuer", "Key id / issuer key id"):
        table.add_column(column, overflow="fold")
    table.add_column("Expires")
    table.add_column("Days", justify="right")
    table.add_column("State")
    for status in ordered:
        cert = status.identity.certificate
        table.add_row(
            escape(status.identity.source),
            escape(cert.subject),
            str(status.usage),
            escape(cert.issuer),
            _key_ids(cert.subject_key_id, cert.authority_key_id),
            f"{cert.not_after:%Y-%m-%d}",
            str(status.days_left),
            _STATE[status.state],
        )
    console.print(table)


def _matrix(console: Console, report: WatchReport) -> None:
    from rich import box
    from rich.table import Table

    facts = report.facts
    if console.width < TABLE_WIDTH:
        console.print("[bold]Issuing CAs x servers[/]")
        for j, server in enumerate(facts.servers):
            console.print(f"  {escape(server.name)} (client auth: {server.client_auth or '-'})")
            for i, ca in enumerate(facts.issuing_cas):
                console.print(f"    {escape(ca.label)}: {_ACCEPT[report.matrix[(i, j)]]}")
        return
    table = Table(title="Issuing CAs x servers", title_justify="left", box=box.ASCII)
    table.add_column("Server", overflow="fold")
    table.add_column("Client auth")
    table.add_column("Issuing CA", overflow="fold")
    table.add_column("Accepted")
    for j, server in enumerate(facts.servers):
        for i, ca in enumerate(facts.issuing_cas):
            table.add_row(
                escape(server.name) if i == 0 else "",
                (server.client_auth or "-") if i == 0 else "",
                escape(ca.label),
                _ACCEPT[report.matrix[(i, j)]],
            )
    console.print(table)


def text(console: Console, report: WatchReport) -> None:
    """Identities by days left, CA x server, then the drift (ASCII; lines when narrow)."""
    facts = report.facts
    if report.identities:
        _identities(console, report)
    if facts.servers and facts.issuing_cas:
        _matrix(console, report)
    if report.drift:
        console.print("[bold]Drift[/]")
        for item in report.drift:
            console.print(f"  {_MARK[item.finding.severity]} {escape(item.finding.message)}")
    for unreadable in facts.problems:
        console.print(f"  [bold red]x[/] {escape(unreadable.message)}")
    counts = {state: sum(1 for s in report.identities if s.state == state) for state in _STATE}
    errors = sum(1 for d in report.drift if d.finding.severity is Severity.ERROR)
    console.print(
        f"{len(report.identities)} identities ({counts['ok']} ok, {counts['warning']} warning, "
        f"{counts['critical']} critical, {counts['expired']} expired), "
        f"{len(facts.servers)} servers, {len(facts.issuing_cas)} issuing CAs, "
        f"{errors} drift error{'s' if errors != 1 else ''}."
    )
