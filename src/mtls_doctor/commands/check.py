"""Diagnose why a server rejects (or accepts) a client certificate.

Makes the real handshake with the certificate (one handshake when it is
accepted, at most two otherwise), validates it locally (dates, key, usage,
chain against the CA names the server lists, revocation) and names the one
cause that blocks first, with the evidence and the fix. Without --cert it
says whether the server requires a certificate at all. With --store nss[:DIR]
it presents the identity Chromium would send from that NSS database (or,
when the browser would offer none, says so and diagnoses the closest one).

Exit 0 accepted, 1 any other verdict, 2 bad input, 3 unreachable / timeout /
not TLS.
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
    warn_days,
)
from mtls_doctor.defaults import DEFAULT_WARN_DAYS
from mtls_doctor.ui import UI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``check``."""
    parser.add_argument(
        "target",
        metavar="TARGET",
        help="https://host[:port][/path], host:port, or rediss://, mqtts://, postgres://, "
        "mysql://, smtp://, imap://, ldap://, tls:// ...",
    )
    parser.add_argument(
        "--cert",
        action="append",
        type=local_path,
        default=[],
        metavar="PATH",
        help="client identity: PEM, DER, PKCS#12 or a directory (repeatable)",
    )
    parser.add_argument(
        "--key", type=local_path, metavar="FILE", help="private key in a separate file"
    )
    add_store_argument(parser)
    parser.add_argument(
        "--select",
        metavar="WHICH",
        help="use this identity among several: subject text, serial, fingerprint or file",
    )
    parser.add_argument(
        "--ca-bundle",
        type=local_path,
        metavar="FILE",
        help="the server's client-CA bundle, if you have it",
    )
    add_tls_argument(parser, "only this TLS version")
    revocation = parser.add_argument_group("revocation")
    revocation.add_argument(
        "--no-revocation", action="store_true", help="skip CRL and OCSP lookups"
    )
    revocation.add_argument(
        "--offline",
        action="store_true",
        help="no network request except the handshake with the target",
    )
    revocation.add_argument(
        "--crl", action="append", type=local_path, default=[], metavar="FILE", help="use this CRL"
    )
    revocation.add_argument("--ocsp-url", metavar="URL", help="ask this OCSP responder")
    parser.add_argument(
        "--warn-days",
        type=warn_days,
        default=DEFAULT_WARN_DAYS,
        metavar="N",
        help=argparse.SUPPRESS,
    )
    add_network_arguments(parser)
    add_time_argument(parser)
    add_password_arguments(parser)


def run(args: argparse.Namespace, ui: UI) -> int:
    """Check, render, map the verdict to the exit code."""
    from datetime import UTC, datetime
    from pathlib import Path

    from mtls_doctor.commands._options import password_source, target_of
    from mtls_doctor.diagnosis import CheckRequest, check, network_diagnosis
    from mtls_doctor.errors import NetworkError
    from mtls_doctor.render import json as render_json

    target = target_of(args)
    if args.crl:
        # A --crl the user named is bad input when missing or not a CRL, before any
        # handshake: otherwise it is read only when revocation is looked at.
        from mtls_doctor.revocation import load_crl_files

        load_crl_files([Path(p) for p in args.crl])
    request = CheckRequest(
        target=target,
        cert_paths=tuple(args.cert),
        key_path=args.key,
        password=password_source(args),
        select=args.select,
        ca_bundle=args.ca_bundle,
        timeout=args.timeout,
        tls_version=args.tls,
        revocation=not args.no_revocation,
        offline=args.offline,
        crl_files=tuple(Path(p) for p in args.crl),
        ocsp_url=args.ocsp_url,
        warn_days=args.warn_days,
        now=args.at,
        stores=tuple(args.store),
    )
    try:
        result = check(request)
    except NetworkError as exc:
        verdict_only = network_diagnosis(exc, args.at or datetime.now(UTC), 1)
        if verdict_only is None:
            raise
        if ui.json_mode:
            ui.attach_to_error(verdict=render_json.verdict(verdict_only.verdict), handshakes=1)
        raise
    if ui.json_mode:
        ui.emit_json(render_json.diagnosis(result, target))
    else:
        from mtls_doctor.render import text

        text.diagnosis(ui.console, result, str(target))
    return result.exit_code
