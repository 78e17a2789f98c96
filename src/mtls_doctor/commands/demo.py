"""Run every scenario of the built-in lab through `check` and show the verdicts.

Builds a throwaway lab (a PKI with every failure, and mTLS servers on free
loopback ports), diagnoses each identity and each server-side case, and
prints scenario -> verdict -> the first fix. Exit 0 only when every verdict
is the one the lab was built to show. Offline: nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse

from mtls_doctor.ui import UI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``demo``."""
    parser.add_argument(
        "--keep", metavar="DIR", help="write the lab into DIR and keep it (default: temporary)"
    )


def run(args: argparse.Namespace, ui: UI) -> int:
    """Run the demo, render the table, exit 0 when every verdict matches."""
    from pathlib import Path

    from mtls_doctor.lab.demo import run_demo
    from mtls_doctor.render import json as render_json

    directory = Path(args.keep) if args.keep else None
    if ui.json_mode:
        results = run_demo(directory)
        ui.emit_json(
            {
                "scenarios": [
                    {
                        "name": r.scenario.name,
                        "server": r.scenario.server,
                        "expected": str(r.scenario.expected),
                        "verdict": render_json.verdict(r.diagnosis.verdict),
                        "handshakes": r.diagnosis.handshakes,
                        "passed": r.passed,
                    }
                    for r in results
                ],
                "passed": all(r.passed for r in results),
            }
        )
        return 0 if all(r.passed for r in results) else 1

    from rich.markup import escape

    from mtls_doctor.causes import CATALOGUE
    from mtls_doctor.terminal import hanging

    console = ui.console
    console.print("[bold]mtls-doctor demo[/]: every lab scenario through `check`\n")
    ui.progress("building the lab and running the scenarios…")
    results = run_demo(directory)
    width = max(len(r.scenario.name) for r in results)
    # A temporary lab is deleted by now: show its paths relative to it, and say so.
    lab = results[0].scenario.certs[0].parent.parent if directory is None else None
    for result in results:
        verdict = result.diagnosis.verdict
        mark = "[green]✓[/]" if result.passed else "[bold red]✗[/]"
        expected = "" if result.passed else f" [red](expected {result.scenario.expected})[/]"
        hanging(
            console,
            f"{mark} {escape(result.scenario.name):<{width}}  ",
            f"[dim]{result.scenario.server}:[/] [bold]{verdict.cause}[/]"
            f" ({CATALOGUE[verdict.cause].title.rstrip('.').lower()}){expected}",
        )
        if verdict.fixes:
            fix = verdict.fixes[0].replace(f"{lab}/", "") if lab else verdict.fixes[0]
            hanging(console, f"  [dim]{'':<{width}}  fix:[/] ", escape(fix))
    failed = [r for r in results if not r.passed]
    handshakes = sum(r.diagnosis.handshakes for r in results)
    console.print(
        f"\n{len(results) - len(failed)}/{len(results)} verdicts as expected, "
        f"{handshakes} handshakes in all."
    )
    if directory is not None:
        console.print(f"Lab kept in {directory}; try `mtls-doctor lab up {directory}`.")
    else:
        console.print(
            "The lab was temporary and is deleted (the paths shown are relative to it): "
            "`mtls-doctor demo --keep DIR` keeps its files."
        )
        console.print("Next: `mtls-doctor lab up` to try the lab with curl or a browser.")
    return 0 if not failed else 1
