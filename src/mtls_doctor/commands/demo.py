"""Run every scenario of the built-in lab through `check` and show the verdicts.

Builds a throwaway lab (a PKI with every failure, and mTLS servers on free
loopback ports), diagnoses each identity and each server-side case, and
prints scenario -> verdict -> the first fix. Exit 0 only when every verdict
is the one the lab was built to show. Offline: nothing leaves 127.0.0.1.

When Chromium and libnss3-tools are installed (and the Chromium policy
directory is writable: root), it also shows the browser's view: a few
identities, each in its own NSS database, loaded by headless Chromium from
an alert-style and an nginx-style server, beside what `identities --for`
predicted and what `check --store` says (--no-browser skips it).
"""

from __future__ import annotations

import argparse
from typing import Any

from mtls_doctor.ui import UI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``demo``."""
    parser.add_argument(
        "--keep", metavar="DIR", help="write the lab into DIR and keep it (default: temporary)"
    )
    parser.add_argument(
        "--no-browser", action="store_true", help="skip the browser's view (real Chromium)"
    )


def _browser_cases(args: argparse.Namespace, ui: UI) -> tuple[list[Any], Any]:
    """A ``then`` hook for run_demo that fills the browser cases, when Chromium can run."""
    from mtls_doctor.lab.browser import browser_available

    cases: list[Any] = []
    if args.no_browser or not browser_available():
        return cases, None

    def then(_pki: Any, fleet: Any) -> None:
        import tempfile
        from pathlib import Path

        from mtls_doctor.lab.browser import compare_with_chromium

        ui.progress("loading the lab servers in headless Chromium...")
        urls = {name: fleet.servers[name].url for name in ("strict", "nginx-like")}
        with tempfile.TemporaryDirectory(prefix="mtls-doctor-browser-") as scratch:
            cases.extend(compare_with_chromium(_pki, urls, Path(scratch)))

    return cases, then


def run(args: argparse.Namespace, ui: UI) -> int:
    """Run the demo, render the table, exit 0 when every verdict matches."""
    from pathlib import Path

    from mtls_doctor.lab.demo import run_demo
    from mtls_doctor.render import json as render_json

    directory = Path(args.keep) if args.keep else None
    browser, then = _browser_cases(args, ui)
    if ui.json_mode:
        results = run_demo(directory, then=then)
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
                "browser": [
                    {
                        "identity": c.identity,
                        "server": c.server,
                        "chromium_sent_certificate": c.run.certificate_sent,
                        "chromium_showed": c.showed,
                        "predicted_sent": c.predicted_sent,
                        "not_offered_reasons": list(c.reasons),
                        "check_cause": c.cause,
                        "agrees": c.agrees,
                    }
                    for c in browser
                ],
                "passed": all(r.passed for r in results) and all(c.agrees for c in browser),
            }
        )
        return 0 if all(r.passed for r in results) and all(c.agrees for c in browser) else 1

    from mtls_doctor.causes import CATALOGUE
    from mtls_doctor.terminal import hanging
    from mtls_doctor.terminal import untrusted as escape

    console = ui.console
    console.print("[bold]mtls-doctor demo[/]: every lab scenario through `check`\n")
    ui.progress("building the lab and running the scenarios…")
    results = run_demo(directory, then=then)
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
            f" ({CATALOGUE[verdict.cause].title.rstrip('.')}){expected}",
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
    if browser:
        _print_browser(console, browser)
    disagree = [c for c in browser if not c.agrees]
    if directory is not None:
        console.print(f"Lab kept in {directory}; try `mtls-doctor lab up {directory}`.")
    else:
        console.print(
            "The lab was temporary and is deleted (the paths shown are relative to it): "
            "`mtls-doctor demo --keep DIR` keeps its files."
        )
        console.print("Next: `mtls-doctor lab up` to try the lab with curl or a browser.")
    return 0 if not failed and not disagree else 1


def _print_browser(console: Any, cases: list[Any]) -> None:
    """The browser's view: what Chromium did next to what we predicted."""
    from mtls_doctor.terminal import untrusted as escape

    console.print(
        "\n[bold]The browser's view[/]: each identity alone in an NSS database, "
        "loaded by headless Chromium"
    )
    width = max(len(c.identity) for c in cases)
    for case in cases:
        mark = "[green]=[/]" if case.agrees else "[bold red]![/]"
        sent = "sent it" if case.run.certificate_sent else "sent NO certificate"
        predicted = (
            "offered"
            if case.predicted_sent
            else f"not offered ({', '.join(case.reasons) or 'nothing to offer'})"
        )
        console.print(
            f"{mark} {escape(case.identity):<{width}}  {case.server:<10}  Chromium {sent}, "
            f"showed {escape(case.showed)}"
        )
        console.print(
            f"  {'':<{width}}  {'':<10}  identities --for: {predicted}; "
            f"check --store: [bold]{case.cause}[/]"
        )
