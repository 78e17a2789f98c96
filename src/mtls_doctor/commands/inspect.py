"""Inspect local client identities: PEM, DER, PKCS#12 (.p12/.pfx) and directories.

With --store nss[:DIR], the identities of NSS databases (Chromium/Chrome's
~/.pki/nssdb, Firefox profiles) too. For each identity: subject, issuer,
validity, key (present, matching), usage for client authentication, the
chain in the bundle, and findings.
Exit 0 when nothing is wrong, 1 when a problem is found, 2 when a file
cannot be read.
"""

from __future__ import annotations

import argparse

from mtls_doctor.commands._options import (
    add_password_arguments,
    add_store_argument,
    add_time_argument,
    add_verbose_argument,
    local_path,
    password_source,
)
from mtls_doctor.defaults import DEFAULT_WARN_DAYS
from mtls_doctor.ui import UI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``inspect``."""
    parser.add_argument(
        "paths", nargs="*", type=local_path, metavar="PATH", help="file or directory"
    )
    add_store_argument(parser)
    parser.add_argument(
        "--key", type=local_path, metavar="FILE", help="private key in a separate file"
    )
    parser.add_argument(
        "--warn-days",
        type=int,
        default=DEFAULT_WARN_DAYS,
        metavar="N",
        help=f"warn when a certificate expires within N days (default {DEFAULT_WARN_DAYS})",
    )
    add_time_argument(parser)
    add_verbose_argument(parser)
    add_password_arguments(parser)


def run(args: argparse.Namespace, ui: UI) -> int:
    """Load, apply the rules, render, and map to an exit code."""
    from mtls_doctor.errors import InputError, UsageError
    from mtls_doctor.inspection import inspect_identities
    from mtls_doctor.model import Severity
    from mtls_doctor.render import json as render_json

    if not args.paths and not args.store:
        raise UsageError("give a PATH to inspect, or --store nss[:DIR]")
    report = inspect_identities(
        args.paths,
        stores=args.store,
        key_path=args.key,
        password=password_source(args),
        warn_days=args.warn_days,
        now=args.at,
    )
    if report.problems:
        first = report.problems[0]
        document = render_json.inspect_report(report)
        if ui.json_mode:
            ui.attach_to_error(identities=document["identities"], problems=document["problems"])
        elif report.identities:
            from mtls_doctor.render import text

            text.inspect_report(ui.console, report, verbose=args.verbose)
        more = len(report.problems) - 1
        suffix = f" (and {more} more unreadable file{'s' if more > 1 else ''})" if more else ""
        raise InputError(first.message + suffix, code=first.code)
    if ui.json_mode:
        ui.emit_json(render_json.inspect_report(report))
    else:
        from mtls_doctor.render import text

        text.inspect_report(ui.console, report, verbose=args.verbose)
    blocking = any(
        f.severity in (Severity.ERROR, Severity.WARNING)
        for item in report.identities
        for f in item.findings
    )
    return 1 if blocking or not report.identities else 0
