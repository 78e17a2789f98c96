"""Rendering of ``identities --for``: JSON (CONTRACT.md ``offered`` / ``not_offered``) and text."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mtls_doctor.render.json import identity, problem
from mtls_doctor.rules.identity import check_identity
from mtls_doctor.rules.picker import (
    FORGET_CHOICE,
    REASON_TEXT,
    Candidate,
    autoselect_policy,
    next_steps,
    origin_pattern,
)
from mtls_doctor.rules.probe import ClientAuth
from mtls_doctor.terminal import untrusted as escape

if TYPE_CHECKING:
    from rich.console import Console

    from mtls_doctor.browser import BrowserView

JSON = dict[str, Any]


def _policy(view: BrowserView) -> JSON | None:
    chosen = view.picker.chosen
    if chosen is None:
        return None
    pattern = origin_pattern(view.target.host, view.target.port)
    return autoselect_policy(pattern, chosen.identity.certificate)


def _candidate(item: Candidate, view: BrowserView) -> JSON:
    out = identity(item.identity, check_identity(item.identity, view.checked_at), view.checked_at)
    out["accepted_ca_name"] = item.accepted_name
    if item.reasons:
        out["reasons"] = [str(r) for r in item.reasons]
        out["explanations"] = [
            {"reason": str(r), "meaning": REASON_TEXT[r][0], "models": REASON_TEXT[r][1]}
            for r in item.reasons
        ]
    return out


def browser_view_json(view: BrowserView) -> JSON:
    """The ``identities --for`` document."""
    requested = view.probe.client_auth is not ClientAuth.NOT_REQUESTED
    chosen = view.picker.chosen
    return {
        "target": str(view.target),
        "browser": "chromium-linux",
        "client_auth": str(view.probe.client_auth),
        "acceptable_ca_names": list(view.picker.ca_names),
        "offered": [_candidate(c, view) for c in view.picker.offered],
        "not_offered": [_candidate(c, view) for c in view.picker.not_offered],
        "selected": chosen.identity.source if chosen is not None else None,
        "prompt_appears": requested and bool(view.picker.offered),
        "policy": _policy(view),
        "forget_choice": list(FORGET_CHOICE),
        "next_steps": list(next_steps(view.picker, requested, str(view.target))),
        "problems": [problem(p) for p in view.problems],
        "checked_at": view.checked_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "handshakes": view.handshakes,
    }


def browser_view_text(console: Console, view: BrowserView) -> None:
    """The picker for people: what is offered, what is not and why, what to do."""
    import json

    requested = view.probe.client_auth is not ClientAuth.NOT_REQUESTED
    console.print(f"[bold]What a browser offers for {escape(str(view.target))}[/]")
    console.print(f"  client certificate: {view.probe.client_auth} ({escape(view.probe.reason)})")
    names = view.picker.ca_names
    if requested:
        listed = "; ".join(names) if names else "none (no issuer filter: every identity fits)"
        console.print(f"  CA names the server lists: {escape(listed)}")
    console.print()
    if view.picker.offered:
        console.print("[bold]Offered[/] (in the order Chromium lists them; the first is sent)")
        for number, item in enumerate(view.picker.offered, start=1):
            cert = item.identity.certificate
            console.print(f"  {number}. {escape(item.identity.source)}")
            console.print(f"     {escape(cert.subject)}  (until {cert.not_after:%Y-%m-%d})")
    else:
        console.print("[bold red]Offered: none[/]")
    if view.picker.not_offered:
        console.print()
        console.print("[bold]Not offered[/]")
        for item in view.picker.not_offered:
            console.print(f"  - {escape(item.identity.source)}")
            console.print(f"    {escape(item.identity.certificate.subject)}")
            for reason in item.reasons:
                meaning, models = REASON_TEXT[reason]
                console.print(f"    {reason}: {escape(meaning)} [dim]({escape(models)})[/]")
    for unreadable in view.problems:
        console.print(f"  [yellow]![/] {escape(unreadable.message)}")
    console.print()
    console.print("[bold]Next[/]")
    for step in next_steps(view.picker, requested, str(view.target)):
        console.print(f"  {escape(step)}")
    policy = _policy(view)
    if policy is not None and requested:
        console.print()
        console.print(
            "[bold]Pick it without a prompt[/] (Chrome/Chromium policy, e.g. "
            "/etc/chromium/policies/managed/mtls.json or /etc/opt/chrome/policies/managed/):"
        )
        console.print(escape(json.dumps(policy, indent=2)), soft_wrap=True)
    if requested:
        console.print()
        console.print("[bold]A remembered choice[/]")
        for line in FORGET_CHOICE:
            console.print(f"  {escape(line)}")
