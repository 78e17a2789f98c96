"""Which identities a browser would offer for a server (its certificate picker).

Reads the identities from NSS databases (--store nss: Chromium/Chrome's
~/.pki/nssdb and every Firefox profile; --store nss:DIR for one database)
and/or files (--cert), asks the server once which CA names it accepts, and
lists what Chromium on Linux would offer, in its order, and every other
identity with the reasons it is left out (expired, not yet valid, no
clientAuth usage, issuer not listed, intermediate not in the store, no
private key). An empty list is why "no certificate-selection prompt
appeared". Prints the AutoSelectCertificateForUrls policy that picks the
right identity, and how to clear a remembered choice.

Exit 0 when the server does not ask for a certificate or something is
offered, 1 when the server asks and nothing would be offered, 2 bad input,
3 unreachable.
"""

from __future__ import annotations

import argparse

from mtls_doctor.commands._options import (
    add_network_arguments,
    add_password_arguments,
    add_store_argument,
    add_time_argument,
    add_tls_argument,
    local_path,
)
from mtls_doctor.ui import UI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``identities``."""
    parser.add_argument(
        "--for",
        dest="target",
        required=True,
        metavar="TARGET",
        help="the server: https://host[:port][/path], host:port",
    )
    add_store_argument(parser)
    parser.add_argument(
        "--cert",
        action="append",
        default=[],
        type=local_path,
        metavar="PATH",
        help="identities in files: PEM, DER, PKCS#12 or a directory (repeatable)",
    )
    parser.add_argument(
        "--key", type=local_path, metavar="FILE", help="private key in a separate file"
    )
    add_tls_argument(parser, "only this TLS version")
    add_network_arguments(parser)
    add_time_argument(parser)
    add_password_arguments(parser)


def run(args: argparse.Namespace, ui: UI) -> int:
    """Load, probe once, run the picker, render."""
    from mtls_doctor.browser import browser_view, load_sources
    from mtls_doctor.commands._options import password_source, target_of
    from mtls_doctor.errors import UsageError
    from mtls_doctor.render.picker import browser_view_json, browser_view_text
    from mtls_doctor.rules.fixes import BROWSER_PROTOCOLS
    from mtls_doctor.rules.probe import ClientAuth

    target = target_of(args)
    if target.protocol not in BROWSER_PROTOCOLS:
        raise UsageError(
            f"--for {target}: this shows what a browser would offer, and browsers speak "
            f"HTTPS, not {target.spec.title}; for this server, `mtls-doctor check "
            f"{target.url} --cert FILE` tells whether it accepts a certificate"
        )
    stores = list(args.store) or ([] if args.cert else ["nss"])
    loaded = load_sources(stores, args.cert, key_path=args.key, password=password_source(args))
    view = browser_view(target, loaded, timeout=args.timeout, tls_version=args.tls, now=args.at)
    if ui.json_mode:
        ui.emit_json(browser_view_json(view))
    else:
        browser_view_text(ui.console, view)
    requested = view.probe.client_auth is not ClientAuth.NOT_REQUESTED
    return 1 if requested and not view.picker.offered else 0
