"""Explain an error message: which program said it, what it means, the likely causes.

Paste one message, a terminal session or a whole log (as TEXT, with --file,
or on standard input): every line mtls-doctor knows is explained (repeats
are grouped), with who sent what (for example "the server sent TLS alert
48 unknown_ca"), the cause codes it can mean, what it cannot tell apart,
and the next command to run. Text it does not know is said to be unknown.

Exit 1 when messages were explained (a problem was diagnosed) and when
nothing was recognised; 2 when there is nothing to read.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from mtls_doctor.commands._options import local_path
from mtls_doctor.errors import UsageError
from mtls_doctor.ui import UI

if TYPE_CHECKING:
    from mtls_doctor.knowledge import Explanation, Match

#: Refuse inputs larger than this (a log that size is not a paste).
MAX_INPUT = 64 * 1024 * 1024

UNKNOWN_MESSAGE = "not a client-certificate error I know"
GENERIC_NEXT_STEP = (
    "Run `mtls-doctor check {url} --cert YOUR_CERT.pem --key YOUR_KEY.pem` (or --cert YOUR.p12) "
    "against the server; it finds the cause itself. To explain a message, paste the complete "
    "line with its error codes (the browser's error page code, curl's full line, the server's "
    "error log line)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``explain``."""
    parser.add_argument(
        "text",
        nargs="*",
        metavar="TEXT",
        help="the message (quote it); omit it, or give '-', to read standard input",
    )
    parser.add_argument(
        "--file",
        "-f",
        type=local_path,
        metavar="PATH",
        help="read the text from a file (a log, a saved page)",
    )


def _read_input(args: argparse.Namespace) -> str:
    if args.file and args.text:
        raise UsageError("give the text either as an argument or with --file, not both")
    if args.file:
        try:
            with open(args.file, "rb") as handle:
                data = handle.read(MAX_INPUT + 1)
        except OSError as exc:
            raise UsageError(f"{args.file}: cannot read ({exc.strerror or 'error'})") from None
    elif args.text and args.text != ["-"]:
        return " ".join(args.text)
    else:
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError(
                "nothing to explain: give the message as an argument, with --file, "
                "or pipe it on standard input"
            )
        data = sys.stdin.buffer.read(MAX_INPUT + 1)
    if len(data) > MAX_INPUT:
        raise UsageError(f"input larger than {MAX_INPUT // (1024 * 1024)} MiB")
    return data.decode("utf-8", errors="replace")


def run(args: argparse.Namespace, ui: UI) -> int:
    """Read, explain, render; exit 1 (a diagnosis, or nothing recognised)."""
    from mtls_doctor.knowledge import explain

    text = _read_input(args)
    if not text.strip():
        raise UsageError("nothing to explain: the input is empty")
    result = explain(text)
    if ui.json_mode:
        ui.emit_json(document(result))
    else:
        from mtls_doctor.render import explain_text

        explain_text.render(ui.console, result, generic_next_step=generic_next_step(result))
    return 1


def generic_next_step(result: Explanation) -> str:
    """The next step when nothing specific is known."""
    return GENERIC_NEXT_STEP.replace("{url}", result.url or "https://HOST[:PORT]")


def match_document(match: Match) -> dict[str, Any]:
    """One recognised message: the contract's fields first, then the details."""
    entry = match.entry
    out: dict[str, Any] = {
        "text": match.text,
        "source": entry.source,
        "causes": [str(c) for c in match.causes],
        "next_step": match.next_step,
        "program": entry.program,
        "layer": entry.layer,
        "said": match.said,
        "meaning": entry.meaning,
        "scope": match.scope,
        "alert": ({"code": match.alert.code, "name": match.alert.name} if match.alert else None),
        "verify_error": (
            {"code": match.verify_error.code, "text": match.verify_error.text}
            if match.verify_error
            else None
        ),
        "cannot_distinguish": list(match.cannot_distinguish),
        "reference": entry.reference,
        "count": match.count,
        "lines": list(match.lines),
        "id": entry.id,
    }
    return out


def document(result: Explanation) -> dict[str, Any]:
    """The ``explain`` JSON document (CONTRACT.md: ``matches``, ``known``)."""
    out: dict[str, Any] = {
        "known": result.known,
        "matches": [match_document(m) for m in result.matches],
        "likely_causes": [str(c) for c in result.likely_causes],
        "lines_read": result.lines_read,
        "url": result.url,
    }
    if not result.known:
        out["message"] = UNKNOWN_MESSAGE
        out["next_step"] = generic_next_step(result)
    return out
