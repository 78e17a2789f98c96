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
import itertools
import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

from mtls_doctor.commands._options import local_path
from mtls_doctor.errors import UsageError
from mtls_doctor.ui import UI

if TYPE_CHECKING:
    from mtls_doctor.knowledge import Explanation, Match

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
        help="read the text from a file (a log of any size, a saved page)",
    )
    parser.add_argument(
        "--tail",
        metavar="N",
        type=_count,
        help="explain only the last N lines",
    )
    parser.add_argument(
        "--since",
        metavar="TIME",
        help="skip the lines logged before TIME (2026-06-01, 2026-06-01T12:00, or 30m/2h/7d "
        "ago), read from the log's own timestamps",
    )


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of lines, 1 or more")
    return value


def _events(args: argparse.Namespace, handle: BinaryIO | None) -> Iterator[tuple[int, bytes]]:
    """(lines left out, block of whole lines) from the argument, the file or stdin."""
    from mtls_doctor import logread

    events: Iterator[tuple[int, bytes]]
    if handle is not None and args.file and args.tail:
        before, _ = logread.tail_offset(handle, args.tail)  # a regular file: seek
        events = itertools.chain([(before, b"")], ((0, c) for c in logread.blocks(handle)))
    else:
        chunks: Iterable[bytes] = (
            logread.blocks(handle)
            if handle is not None
            else [" ".join(args.text).encode("utf-8", "replace")]
        )
        if args.tail:
            events = logread.tail_of_stream(chunks, args.tail)
        else:
            events = ((0, c) for c in chunks)
    if args.since:
        events = logread.since(events, logread.parse_since(args.since))
    return events


def _open(args: argparse.Namespace) -> BinaryIO | None:
    """The file or standard input to read; None when the text is an argument."""
    from mtls_doctor import logread

    if args.file and args.text:
        raise UsageError("give the text either as an argument or with --file, not both")
    if args.file:
        from mtls_doctor.files import open_regular_file

        return open_regular_file(args.file, what="log")
    if args.text and args.text != ["-"]:
        return None
    if sys.stdin is None or sys.stdin.isatty():
        raise UsageError(
            "nothing to explain: give the message as an argument, with --file, "
            "or pipe it on standard input"
        )
    try:
        fd = sys.stdin.fileno()
    except (OSError, ValueError, AttributeError):
        fd = -1  # a replaced stdin (tests, embedding): nothing to check
    if fd >= 0:
        logread.check_stdin(fd)
    return sys.stdin.buffer


def explain_input(args: argparse.Namespace) -> Explanation:
    """Stream the input through the explainer; refuse what is not text to read."""
    from mtls_doctor.knowledge import Explainer

    try:
        handle = _open(args)
        if args.since:
            from mtls_doctor.logread import parse_since

            parse_since(args.since)
        explainer = Explainer()
        blank = True
        try:
            for skipped, block in _events(args, handle):
                explainer.skip(skipped)
                if blank and block.strip():
                    blank = False
                explainer.feed(block)
        finally:
            if handle is not None and args.file:
                handle.close()
    except OSError as exc:
        raise UsageError(f"cannot read the input ({exc.strerror or 'error'})") from None
    if blank and not explainer.lines_skipped:
        raise UsageError("nothing to explain: the input is empty")
    return explainer.result()


def run(args: argparse.Namespace, ui: UI) -> int:
    """Read, explain, render; exit 1 (a diagnosis, or nothing recognised)."""
    result = explain_input(args)
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
        "lines_skipped": result.lines_skipped,
        "url": result.url,
    }
    if not result.known:
        out["message"] = UNKNOWN_MESSAGE
        out["next_step"] = generic_next_step(result)
    return out
