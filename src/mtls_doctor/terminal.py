"""Text that reaches a terminal or a pipe, whatever that terminal can take.

Three things every line of stdout goes through, in one place:

* ``untrusted(text)``: a string from outside (certificate subjects, server
  answers, file names, configuration text) made inert: control characters
  shown as visible escapes (``\\x1b``), rich markup escaped. This is the one
  function where untrusted text is escaped for a terminal (``visible`` is its
  plain-text half, for stderr lines; ``json_safe`` keeps JSON exact but inert).
* :class:`OutputStream`: degrades what the stream cannot encode (``LC_ALL=C``
  with ``PYTHONIOENCODING=ascii``, a cp1252 console) to ASCII look-alikes
  instead of crashing, and treats a closed pipe (``| head``) as "nobody is
  reading" rather than an error: the command still finishes and exits with
  its verdict's code.
* :func:`width`: how wide to wrap (the terminal's width, or ``COLUMNS``).
"""

from __future__ import annotations

import os
import re
import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.console import Console

#: The non-ASCII characters our own output uses, and what to print instead.
ASCII_FALLBACK = str.maketrans(
    {
        "✓": "+",
        "✗": "x",
        "→": "->",
        "←": "<-",
        "…": "...",
        "•": "*",
        "●": "*",
        "§": "section ",
        "·": "-",
        "—": "--",
        "\u2013": "-",
        "≥": ">=",
        "≤": "<=",
        "\u201c": '"',
        "\u201d": '"',
        "\u2018": "'",
        "\u2019": "'",
        "\u00d7": "x",
        "⚠": "!",
        "│": "|",
        "─": "-",
        "└": "`",
        "├": "|",
    }
)


#: C0 controls except TAB, DEL, C1 controls, and the bidi marks/overrides/isolates.
#: Printed raw, an ESC sequence clears the screen, retitles the window or fakes a
#: line; a C1 CSI (U+009B) does the same on some terminals; bidi overrides reorder
#: what is read.
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
#: What ``json.dumps(ensure_ascii=False)`` leaves raw but a terminal may obey.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _shown(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def visible(text: str) -> str:
    """``text`` with every control character written out as a visible escape."""
    return _UNSAFE.sub(_shown, text)


def untrusted(text: str) -> str:
    """A string from outside, inert: :func:`visible`, then escaped for rich markup."""
    from rich.markup import escape  # only when rendering: rich costs import time

    return escape(visible(text))


def json_safe(document: str) -> str:
    """A JSON text with C1 controls and bidi marks as ``\\uXXXX`` escapes.

    The decoded value is the same (JSON stays exact); only its spelling changes,
    so a JSON document printed to a terminal cannot drive it either. These
    characters can only occur inside JSON strings, where ``\\uXXXX`` is valid.
    """
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", document)


def to_encoding(text: str, encoding: str) -> str:
    """``text`` as ``encoding`` can carry it: our glyphs in ASCII, anything else escaped."""
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        text = text.translate(ASCII_FALLBACK)
        return text.encode(encoding, "backslashreplace").decode(encoding)
    except LookupError:
        return text
    return text


class OutputStream:
    """A text stream wrapper: encodes what it can, survives a reader that went away."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        #: True once the reader closed the pipe: later output is dropped.
        self.closed_by_reader = False

    @property
    def encoding(self) -> str:
        """The encoding to write in (rich reads it to choose box characters).

        Under the C locale Python writes UTF-8 anyway (PEP 540), but the
        terminal behind a C locale is taken to be ASCII, as C programs do.
        """
        encoding: str = getattr(self._stream, "encoding", None) or "utf-8"
        if not os.environ.get("PYTHONIOENCODING") and _c_locale():
            return "ascii"
        return encoding

    def write(self, text: str) -> int:
        """Write ``text``, degraded to the stream's encoding; nothing once the pipe is closed."""
        if self.closed_by_reader:
            return len(text)
        try:
            self._stream.write(to_encoding(text, self.encoding))
        except BrokenPipeError:
            self._reader_gone()
        return len(text)

    def flush(self) -> None:
        """Flush; a closed pipe is not an error."""
        if self.closed_by_reader:
            return
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._reader_gone()

    def isatty(self) -> bool:
        """Whether the wrapped stream is a terminal (rich decides on colour with it)."""
        try:
            return self._stream.isatty()
        except (AttributeError, ValueError):
            return False

    def fileno(self) -> int:
        """The wrapped stream's descriptor."""
        return self._stream.fileno()

    def _reader_gone(self) -> None:
        # Point fd 1 at /dev/null so the interpreter's final flush cannot fail again.
        self.closed_by_reader = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass


def _c_locale() -> bool:
    """The locale that applies to characters is C / POSIX (no character set beyond ASCII)."""
    for name in ("LC_ALL", "LC_CTYPE", "LANG"):
        value = os.environ.get(name)
        if value:
            return value in ("C", "POSIX")
    return False


def width(stream: OutputStream | None = None) -> int | None:
    """Columns to wrap at: ``COLUMNS`` or the terminal's width; None for a pipe (no wrapping)."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) >= 20:
        return int(columns)
    target = stream if stream is not None else sys.stdout
    if target.isatty():
        try:
            return max(20, os.get_terminal_size(target.fileno()).columns)
        except (OSError, ValueError):
            return 80
    return None


#: Below this many columns beside the prefix, the body goes on the lines below it.
HANGING_MIN_ROOM = 12


def hanging(console: Console, prefix: str, body: str) -> None:
    """``prefix`` then ``body`` (rich markup), wrapped under the body's first column.

    On a pipe (no width: soft wrap) it is one line, as before: grep sees it whole.
    """
    if console.soft_wrap:
        console.print(f"{prefix}{body}", highlight=False)
        return
    from rich.text import Text

    head = Text.from_markup(prefix)
    room = console.width - head.cell_len
    if room < HANGING_MIN_ROOM:
        # The prefix leaves too little room (a narrow window): it gets its own line and
        # the body goes below, slightly indented, so no line is wider than the window.
        head.rstrip()
        for line in head.wrap(console, max(1, console.width)):
            console.print(line, highlight=False)
        head = indent = Text(" " * min(2, max(0, console.width - HANGING_MIN_ROOM)))
        room = console.width - head.cell_len
    else:
        indent = Text(" " * head.cell_len)
    for number, line in enumerate(Text.from_markup(body).wrap(console, max(1, room))):
        line.rstrip()
        console.print(Text.assemble(head if number == 0 else indent, line), highlight=False)


def headline(summary: str) -> tuple[str, str]:
    """The sentence a person needs first, and the rest (split at the first sentence end)."""
    first, sep, rest = summary.partition(". ")
    return (first + "." if sep else first), rest.strip()
