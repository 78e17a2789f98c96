"""The built-in mTLS lab.

lab pki DIR     generate the lab PKI (CAs, a server identity, one client
                identity for every failure cause) and a manifest.json
"""

from __future__ import annotations

import argparse

from mtls_doctor.ui import UI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``lab``."""
    sub = parser.add_subparsers(dest="lab_command", metavar="ACTION", required=True)
    pki = sub.add_parser("pki", help="generate the lab PKI into DIR")
    pki.add_argument("directory", metavar="DIR")
    pki.add_argument(
        "--base-url",
        metavar="URL",
        help="put OCSP, caIssuers and CRL URLs under this base into the certificates",
    )
    pki.add_argument("--json", action="store_true", help=argparse.SUPPRESS)


def run(args: argparse.Namespace, ui: UI) -> int:
    """Dispatch the lab action."""
    if args.lab_command == "pki":
        return _pki(args, ui)
    raise AssertionError(args.lab_command)  # argparse restricts the choices


def _pki(args: argparse.Namespace, ui: UI) -> int:
    from pathlib import Path

    from mtls_doctor.errors import UsageError
    from mtls_doctor.lab.pki import build_lab_pki, manifest

    target = Path(args.directory)
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target}: exists and is not a directory")
    try:
        pki = build_lab_pki(target, base_url=args.base_url)
    except OSError as exc:
        raise UsageError(f"{target}: cannot write the lab ({exc.strerror or exc})") from None
    document = manifest(pki)
    if ui.json_mode:
        ui.emit_json({"directory": str(target), **document})
        return 0
    console = ui.console
    console.print(f"Lab PKI written to [bold]{target}[/]")
    console.print(f"  servers trust   {document['client_ca_bundle']}")
    console.print(f"  p12 password in {document['password_file']}")
    for item in document["identities"]:
        console.print(f"  {item['name']:<22} → {item['expected_cause']:<28} {item['pem']}")
    console.print(f"Try: mtls-doctor inspect {target / 'identities'}")
    return 0
