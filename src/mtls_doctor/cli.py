"""The command line: arguments → library call → render → exit code.

No diagnosis logic lives here. Each command is a small module in
``mtls_doctor.commands`` with ``add_arguments(parser)`` and
``run(args, ui) -> int``; those modules import the heavy libraries
(``cryptography``, ``OpenSSL``) inside ``run`` so that ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from mtls_doctor import __version__
from mtls_doctor.errors import MtlsDoctorError, UsageError

#: command name → (module, one-line help). Order is the order of ``--help``.
COMMANDS: dict[str, tuple[str, str]] = {
    "check": ("check", "diagnose why a server rejects (or accepts) a client certificate"),
    "probe": ("probe", "what a server asks of a client: client auth, accepted CA names"),
    "inspect": ("inspect", "inspect local identities: PEM, DER, PKCS#12, directories"),
    "explain": ("explain", "explain a pasted error message (browser, curl, OpenSSL, ...)"),
    "lint-server": ("lint_server", "audit nginx / Apache / HAProxy client-auth settings"),
    "watch": ("watch", "client-certificate expiry and issuing-CA drift"),
    "exporter": ("exporter", "serve watch results as Prometheus metrics"),
    "identities": ("identities", "which identities a browser would offer for a server"),
    "lab": ("lab", "the built-in mTLS lab: PKI and local servers"),
    "demo": ("demo", "run every lab scenario through check and show the verdicts"),
}


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so errors follow the contract."""

    def error(self, message: str) -> NoReturn:
        prefix = "unrecognized arguments: "
        if message.startswith(prefix):
            # The values may be secrets (`--pw hunter2`): name the options only.
            words = message[len(prefix) :].split()
            options = [w.split("=", 1)[0] for w in words if w.startswith("-")]
            shown = " ".join(options) if options else f"{len(words)} extra value(s)"
            message = f"{prefix}{shown} (values not shown)"
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _available_commands() -> dict[str, tuple[str, str]]:
    """Commands whose module exists in this build."""
    from importlib.util import find_spec

    return {
        name: entry
        for name, entry in COMMANDS.items()
        if find_spec(f"mtls_doctor.commands.{entry[0]}") is not None
    }


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; each command adds its own arguments.

    With ``command`` (the one named on the command line), only that command's
    module is imported and its arguments built; the others are listed by name
    and help line only, which is all ``--help`` shows of them. Without it,
    every command is built in full.
    """
    common = _Parser(add_help=False)
    common.add_argument(
        "--json", action="store_true", help="machine-readable JSON on stdout, nothing else"
    )
    parser = _Parser(
        prog="mtls-doctor",
        description="Tells you why a server rejects your client certificate, how to fix "
        "it, and how to keep it from happening again.",
    )
    parser.add_argument("--version", action="version", version=f"mtls-doctor {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (module_name, help_text) in _available_commands().items():
        if command is not None and name != command:
            sub.add_parser(name, help=help_text)
            continue
        module = importlib.import_module(f"mtls_doctor.commands.{module_name}")
        parsed = sub.add_parser(
            name,
            parents=[common],
            help=help_text,
            description=(module.__doc__ or help_text).strip(),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(parsed)
        parsed.set_defaults(run=module.run)
    return parser


def _command_named(argv: Sequence[str]) -> str:
    """The command on the command line (its first word that is not an option), or ``""``."""
    return next((word for word in argv if not word.startswith("-")), "")


def _wants_json(argv: Sequence[str]) -> bool:
    return "--json" in argv


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mtls-doctor`` console script."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    for stream in (sys.stdout, sys.stderr):
        # argparse's help and error text bypass ui.out: never crash on an ASCII console.
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    from mtls_doctor import ui as ui_module

    ui = ui_module.UI(json_mode=_wants_json(args_list))
    try:
        parser = build_parser(_command_named(args_list))
        args = parser.parse_args(args_list)
        if getattr(args, "run", None) is None:
            parser.print_help(sys.stderr)
            return 2
        ui = ui_module.UI(json_mode=bool(args.json))
        code: int = args.run(args, ui)
        return code
    except MtlsDoctorError as exc:
        ui.error(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        print("mtls-doctor: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # stdout closed early and something wrote around ui.out (argparse's --help).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:  # the last line of defence: never a traceback
        if os.environ.get("MTLS_DOCTOR_DEBUG"):
            raise
        ui.internal_error(exc)
        return ui_module.EXIT_INTERNAL
    except BaseException as exc:
        # A Rust library's panic (pyo3's PanicException) is a BaseException: the same
        # one line (and JSON error object), never its text, which may quote input.
        if isinstance(exc, SystemExit | GeneratorExit) or os.environ.get("MTLS_DOCTOR_DEBUG"):
            raise
        ui.internal_error(exc)
        return ui_module.EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
