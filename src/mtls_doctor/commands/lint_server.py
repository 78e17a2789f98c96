"""Audit the client-certificate (mutual TLS) settings of nginx, Apache httpd and
HAProxy configurations.

For each server block / VirtualHost / bind that does TLS: whether client
certificates are required, the CA files and what they hold, the CA names sent
to clients (what browsers filter their certificate picker by), the verify
depth, the CRLs, and findings at file:line. With --user-cert: would each
block accept that certificate (from its own CA files and CRLs; no private key
needed; a caIssuers URL is followed only when the certificate's issuer is in
none of the files, never with --offline)?
With --issuing-ca: would each block accept certificates from that CA?

Exit 0 when nothing is wrong, 1 when a problem is found, 2 when a
configuration or file cannot be read.
"""

from __future__ import annotations

import argparse
from enum import StrEnum
from typing import assert_never

from mtls_doctor.commands._options import (
    add_password_arguments,
    add_time_argument,
    local_path,
    password_source,
)
from mtls_doctor.defaults import DEFAULT_WARN_DAYS
from mtls_doctor.ui import UI


class OutputFormat(StrEnum):
    """What ``lint-server`` writes on stdout (``--format``; ``--json`` is ``json``)."""

    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"


FORMATS = tuple(f.value for f in OutputFormat)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``lint-server``."""
    parser.add_argument(
        "configs",
        nargs="+",
        type=local_path,
        metavar="CONFIG",
        help="nginx.conf, apache2.conf, haproxy.cfg...",
    )
    parser.add_argument(
        "--type",
        choices=("nginx", "apache", "haproxy", "lighttpd"),
        help="the server type (default: detected from the content)",
    )
    parser.add_argument(
        "--root",
        metavar="DIR",
        help="where relative paths resolve (nginx conf prefix, Apache ServerRoot, HAProxy "
        "working directory; default: the configuration's own directory or its ServerRoot)",
    )
    parser.add_argument(
        "--user-cert",
        type=local_path,
        metavar="PATH",
        help="would each block accept this client certificate? (PEM, DER or PKCS#12; "
        "its private key is not needed)",
    )
    parser.add_argument(
        "--key",
        type=local_path,
        metavar="FILE",
        help="private key of --user-cert, if separate (optional: only checked against it)",
    )
    parser.add_argument(
        "--offline",
        action="store_true",
        help="make no network request (by default, when the issuer of --user-cert is in none "
        "of the files, its caIssuers URL is fetched to tell a missing intermediate from an "
        "unknown CA)",
    )
    parser.add_argument(
        "--issuing-ca",
        type=local_path,
        metavar="PATH",
        action="append",
        default=[],
        help="would each block accept certificates from this CA (e.g. after a rotation)? "
        "The file may hold its chain after it. Repeatable.",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="text (default), json (same as --json) or sarif (SARIF 2.1.0 for code scanning)",
    )
    parser.add_argument(
        "--warn-days",
        type=int,
        default=DEFAULT_WARN_DAYS,
        metavar="N",
        help=f"warn when a client CA certificate expires within N days "
        f"(default {DEFAULT_WARN_DAYS})",
    )
    parser.add_argument(
        "--crl-warn-hours",
        type=int,
        default=72,
        metavar="N",
        help="warn when a CRL reaches its nextUpdate within N hours (default 72)",
    )
    add_time_argument(parser)
    add_password_arguments(parser)


def run(args: argparse.Namespace, ui: UI) -> int:
    """Parse, load, apply the rules, render, and map to an exit code."""
    import json
    from datetime import timedelta

    from mtls_doctor.errors import UsageError
    from mtls_doctor.serverconf.facts import ServerKind
    from mtls_doctor.serverconf.lint import lint_server

    chosen = OutputFormat(args.format or ("json" if args.json else "text"))
    if args.json and chosen is not OutputFormat.JSON:
        raise UsageError("--json and --format sarif do not go together")
    if args.key and not args.user_cert:
        raise UsageError("--key goes with --user-cert")
    reports = lint_server(
        args.configs,
        kind=ServerKind(args.type) if args.type else None,
        root=args.root,
        user_cert=args.user_cert,
        key_path=args.key,
        password=password_source(args),
        issuing_ca=args.issuing_ca,
        now=args.at,
        warn_days=args.warn_days,
        crl_warn=timedelta(hours=args.crl_warn_hours),
        offline=args.offline,
    )
    match chosen:
        case OutputFormat.JSON:
            from mtls_doctor.render.lint_json import lint_document

            ui.emit_json(lint_document(reports))
        case OutputFormat.SARIF:
            from mtls_doctor.render.sarif import sarif_log

            ui.out.write(json.dumps(sarif_log(reports), indent=2) + "\n")
            ui.out.flush()
        case OutputFormat.TEXT:
            from mtls_doctor.render.lint_text import lint_reports

            lint_reports(ui.console, reports)
        case _:
            assert_never(chosen)
    return max((report.exit_code for report in reports), default=0)
