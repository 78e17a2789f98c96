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
from typing import TYPE_CHECKING, BinaryIO

from mtls_doctor.commands._options import local_path
from mtls_doctor.errors import UsageError
from mtls_doctor.ui import UI

if TYPE_CHECKING:
    from mtls_doctor.knowledge import Explanation


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
    from mtls_doctor.render.explain_json import document, generic_next_step

    if ui.json_mode:
        ui.emit_json(document(result))
    else:
        from mtls_doctor.render import explain_text

        explain_text.render(ui.console, result, generic_next_step=generic_next_step(result))
    return 1
