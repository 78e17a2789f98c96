"""What a server asks of a client, with no client certificate presented.

Says whether the server requests a client certificate and whether it is
required or optional, which CA names it accepts (what a browser filters its
certificate picker by), the signature algorithms it asks for, the TLS
version, and what it answered. One handshake.
"""

from __future__ import annotations

import argparse

from mtls_doctor.commands._options import (
    add_network_arguments,
    add_tls_argument,
    add_verbose_argument,
    target_of,
)
from mtls_doctor.ui import UI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``probe``."""
    parser.add_argument(
        "target",
        metavar="TARGET",
        help="https://host[:port][/path], host:port, or rediss://, mqtts://, postgres://, "
        "mysql://, smtp://, imap://, ldap://, tls:// ...",
    )
    add_network_arguments(parser)
    add_tls_argument(parser, "only this TLS version (default: the best)")
    add_verbose_argument(parser)


def run(args: argparse.Namespace, ui: UI) -> int:
    """Probe, render; exit 0 (a network error raises and exits 3)."""
    from mtls_doctor.probing import probe
    from mtls_doctor.render import json as render_json

    target = target_of(args)
    report = probe(target, timeout=args.timeout, tls_version=args.tls)
    if ui.json_mode:
        ui.emit_json(render_json.probe_report(report))
    else:
        from mtls_doctor.render import text

        text.probe_report(ui.console, report, verbose=args.verbose)
    return 0
