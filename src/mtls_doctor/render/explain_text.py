"""Text rendering of ``explain`` for people, with ``rich``."""

from __future__ import annotations

from typing import TYPE_CHECKING, assert_never

from rich.markup import escape

from mtls_doctor.causes import CATALOGUE
from mtls_doctor.knowledge.vocabulary import Scope
from mtls_doctor.terminal import untrusted

if TYPE_CHECKING:
    from rich.console import Console

    from mtls_doctor.knowledge import Explanation, Match


def _scope_note(scope: Scope, if_server_wrote: Scope | None) -> str | None:
    """What to say about whose certificate the message is about (nothing: yours)."""
    match scope:
        case Scope.CLIENT_CERTIFICATE:
            return None
        case Scope.SERVER_CERTIFICATE:
            return "[yellow]This is about the server's certificate, not yours.[/]"
        case Scope.PROTOCOL:
            return "[yellow]This is not about a certificate.[/]"
        case Scope.EITHER:
            # The causes are about your certificate: the side that says so wrote the line.
            writer = "a server" if if_server_wrote is Scope.CLIENT_CERTIFICATE else "a client"
            return (
                "[dim]The same words are printed on both sides of a connection; "
                f"the causes assume {writer} printed it, about your certificate.[/]"
            )
        case _:
            assert_never(scope)


_MAX_TEXT = 300


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


def _where(match: Match) -> str:
    lines = match.lines
    if match.count == 1:
        return f"line {lines[0]}"
    shown = ", ".join(str(n) for n in lines[:5]) + (", …" if len(lines) > 5 else "")
    return f"{match.count} times (lines {shown})"


def match_block(console: Console, match: Match) -> None:
    """One recognised message."""
    entry = match.entry
    console.print(
        f"[bold]● {escape(entry.program)}[/] [dim]({escape(entry.layer)}, {_where(match)})[/]"
    )
    console.print(f"  [dim]“{untrusted(_shorten(match.text))}”[/]")
    console.print(f"  [bold]Said[/]       {escape(match.said)}")
    console.print(f"  [bold]Meaning[/]    {escape(entry.meaning)}")
    note = _scope_note(match.scope, match.entry.if_server_wrote)
    if note is not None:
        console.print(f"             {note}")
    if match.causes:
        first, *rest = match.causes
        console.print(f"  [bold]Causes[/]     [red]{first}[/] — {escape(CATALOGUE[first].title)}")
        for cause in rest:
            console.print(f"             {cause} — {escape(CATALOGUE[cause].title)}")
    for note in match.cannot_distinguish:
        console.print(f"  [bold]Can't tell[/] {escape(note)}")
    console.print(f"  [bold]Next[/]       [green]{escape(match.next_step)}[/]")
    console.print(f"  [dim]Source     {escape(entry.reference)}[/]")


def render(console: Console, result: Explanation, *, generic_next_step: str) -> None:
    """The ``explain`` output."""
    if result.lines_skipped:
        console.print(
            f"[dim]Read {result.lines_read:,} lines after skipping {result.lines_skipped:,} "
            "(--since / --tail).[/]"
        )
    if not result.known:
        console.print("[yellow]?[/] Not a client-certificate error I know.")
        console.print(f"  [bold]Next[/]  {escape(generic_next_step)}")
        return
    for number, match in enumerate(result.matches):
        if number:
            console.print()
        match_block(console, match)
    if len(result.matches) > 1 and result.likely_causes:
        console.print()
        causes = ", ".join(str(c) for c in result.likely_causes[:4])
        console.print(
            f"[bold]{len(result.matches)} messages recognised[/]; "
            f"the causes they agree on: [red]{causes}[/]"
        )
