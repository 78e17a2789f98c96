"""The built-in mTLS lab: a PKI that fails in every way, and servers to try it on.

lab pki DIR      generate the lab PKI (CAs, a server identity, one client
                 identity for every failure cause) and manifest.json; an
                 existing lab PKI is kept unless --force, and a directory
                 holding anything else is refused
lab up [DIR]     start the lab servers on 127.0.0.1 in the background and
                 print how to try them with curl or a browser (with the
                 lab PKI already in DIR, if there is one)
lab down [DIR]   stop them
lab serve DIR    run the lab servers in the foreground (what `up` starts)
"""

from __future__ import annotations

import argparse
from pathlib import Path

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
    pki.add_argument(
        "--force",
        action="store_true",
        help="replace a lab PKI already in DIR (a root you imported stops working)",
    )
    for name, text in (
        ("up", "start the lab servers in the background"),
        ("down", "stop the lab servers"),
        ("serve", "run the lab servers in the foreground"),
    ):
        action = sub.add_parser(name, help=text)
        action.add_argument(
            "directory",
            metavar="DIR",
            nargs="?",
            help="lab directory (default: $XDG_STATE_HOME/mtls-doctor/lab)",
        )
    for action in sub.choices.values():
        action.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace, ui: UI) -> int:
    """Dispatch the lab action."""
    from mtls_doctor.lab import control

    directory = Path(args.directory) if args.directory else control.default_directory()
    match args.lab_command:
        case "pki":
            return _pki(directory, args.base_url, args.force, ui)
        case "up":
            state = control.start_background(directory)
            _print_state(ui, state)
            return 0
        case "down":
            stopped = control.stop_background(directory)
            if ui.json_mode:
                ui.emit_json({"stopped": stopped, "directory": str(directory)})
            else:
                ui.console.print("lab stopped" if stopped else f"no lab running in {directory}")
            return 0
        case "serve":
            control.serve_forever(directory)
            return 0
    raise AssertionError(args.lab_command)  # argparse restricts the choices


def _print_state(ui: UI, state: dict[str, object]) -> None:
    if ui.json_mode:
        ui.emit_json(state)
        return
    directory = Path(str(state["directory"]))
    servers = state["servers"]
    assert isinstance(servers, dict)
    console = ui.console
    console.print(f"Lab running (pid {state['pid']}); files in [bold]{directory}[/]")
    if state.get("pki") == "kept":
        console.print("  (the lab PKI already in this directory was kept)")
    for name, info in servers.items():
        console.print(f"  {info['url']:<28} {name:<15} {info['description']}")
    ca_server = state.get("ca_server")
    if isinstance(ca_server, dict):
        console.print(f"  {ca_server['url']:<28} {'CA server':<15} {ca_server['description']}")
    ids = directory / "identities"
    strict = servers["strict"]["url"]
    console.print("\nTry it:")
    console.print(f"  mtls-doctor probe {strict}")
    console.print(f"  mtls-doctor check {strict} --cert {ids / 'expired.pem'}")
    console.print(
        f"  curl --cacert {directory / 'ca' / 'root.pem'} --cert {ids / 'good-ecdsa.crt'} "
        f"--key {ids / 'good-ecdsa.key'} {strict}"
    )
    console.print(
        f"  browser: import {ids / 'good-rsa.protected.p12'} (password in "
        f"{directory / 'p12-password.txt'})"
        f" and open {servers['nginx-like']['url']}"
    )
    console.print("Stop with: mtls-doctor lab down" + (f" {directory}" if directory else ""))


def _pki(directory: Path, base_url: str | None, force: bool, ui: UI) -> int:
    from mtls_doctor.causes import CATALOGUE, Cause
    from mtls_doctor.errors import UsageError
    from mtls_doctor.lab.pki import build_lab_pki, manifest
    from mtls_doctor.lab.store import classify, read_manifest, refuse_foreign
    from mtls_doctor.terminal import hanging
    from mtls_doctor.terminal import untrusted as escape

    refuse_foreign(directory)
    if classify(directory) == "lab" and not force:
        kept = read_manifest(directory) or {}
        if ui.json_mode:
            ui.emit_json({"directory": str(directory), "pki": "kept", **kept})
        else:
            ui.console.print(
                f"Kept the lab PKI already in {escape(str(directory))} (generated for "
                f"{kept.get('generated_for', '?')}); `--force` replaces it, and a root you "
                "imported stops working"
            )
        return 0
    try:
        pki = build_lab_pki(directory, base_url=base_url, overwrite=force)
    except OSError as exc:
        raise UsageError(f"{directory}: cannot write the lab ({exc.strerror or exc})") from None
    document = manifest(pki)
    if ui.json_mode:
        ui.emit_json({"directory": str(directory), "pki": "generated", **document})
        return 0
    console = ui.console
    console.print(f"Lab PKI written to [bold]{escape(str(directory))}[/]")
    console.print(f"  servers trust   {document['client_ca_bundle']}")
    console.print(f"  p12 password in {document['password_file']}")
    for item in document["identities"]:
        title = CATALOGUE[Cause(item["expected_cause"])].title.rstrip(".")
        hanging(
            console,
            f"  {item['name']:<22} {item['pem']:<34} ",
            f"→ {item['expected_cause']} ({title})",
        )
    console.print(f"Try: mtls-doctor inspect {escape(str(directory / 'identities'))}")
    return 0
