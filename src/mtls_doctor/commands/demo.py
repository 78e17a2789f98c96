"""Run every scenario of the built-in lab through `check` and show the verdicts.

Builds a throwaway lab (a PKI with every failure, and mTLS servers on free
loopback ports), diagnoses each identity and each server-side case, and
prints scenario → verdict → the first fix. Exit 0 only when every verdict
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

    from mtls_doctor.lab.demo import ScenarioResult, run_demo
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

    console = ui.console
    console.print("[bold]mtls-doctor demo[/]: every lab scenario through `check`\n")
    header = f"  {'scenario':<30} {'server':<15} {'verdict':<28} fix"
    console.print(f"[dim]{header}[/]")

    def show(result: ScenarioResult) -> None:
        verdict = result.diagnosis.verdict
        mark = "[green]✓[/]" if result.passed else "[bold red]✗[/]"
        fix = verdict.fixes[0] if verdict.fixes else "—"
        if len(fix) > 70:
            fix = fix[:69] + "…"
        expected = "" if result.passed else f" [red](expected {result.scenario.expected})[/]"
        console.print(
            f"{mark} {escape(result.scenario.name):<30} {result.scenario.server:<15} "
            f"{verdict.cause!s:<28} {escape(fix)}{expected}"
        )

    results = run_demo(directory, on_result=show)
    failed = [r for r in results if not r.passed]
    handshakes = sum(r.diagnosis.handshakes for r in results)
    console.print(
        f"\n{len(results) - len(failed)}/{len(results)} verdicts as expected, "
        f"{handshakes} handshakes in all."
    )
    if directory is not None:
        console.print(f"Lab kept in {directory}; try `mtls-doctor lab up {directory}`.")
    else:
        console.print("Next: `mtls-doctor lab up` to try the lab with curl or a browser.")
    return 0 if not failed else 1
