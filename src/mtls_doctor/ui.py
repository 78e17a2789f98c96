"""Where output goes: JSON or text on stdout, errors and progress on stderr.

stdout goes through :class:`mtls_doctor.terminal.OutputStream` (any
encoding, a closed pipe); text is wrapped to the terminal's width.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from mtls_doctor.errors import MtlsDoctorError
from mtls_doctor.terminal import OutputStream, json_safe, to_encoding, visible, width

#: Version of the JSON documents' shape (docs/CONTRACT.md); every document carries it.
#: Raised only when a field of the contract changes meaning or goes away.
SCHEMA_VERSION = 1
#: Exit code of an unexpected failure (a bug): not one of the contract's 0-3 (EX_SOFTWARE).
EXIT_INTERNAL = 70
#: Where to report a bug.
REPORT_URL = "https://github.com/mtls-doctor/mtls-doctor/issues"

if TYPE_CHECKING:
    from rich.console import Console


class UI:
    """Output for one command run: one JSON document, or text for people."""

    def __init__(self, *, json_mode: bool) -> None:
        self.json_mode = json_mode
        self._console: Console | None = None
        self._error_extra: dict[str, Any] = {}
        self.out = OutputStream(sys.stdout)

    @property
    def console(self) -> Console:
        """A rich console on stdout (created on first use: rich costs import time)."""
        if self._console is None:
            from rich.console import Console

            columns = width(self.out)
            self._console = Console(
                file=self.out,  # type: ignore[arg-type]  # a text stream in all but name
                highlight=False,
                width=columns,
                soft_wrap=columns is None,
            )
        return self._console

    def emit_json(self, document: dict[str, Any]) -> None:
        """Write the one JSON document of this run (with its ``schema_version`` first)."""
        document = {"schema_version": SCHEMA_VERSION, **document}
        text = json.dumps(document, indent=2, ensure_ascii=False)
        if not _encodes(text, self.out.encoding):
            # The stream would degrade what it cannot carry to ``\xfc``, which is not
            # JSON: spell every non-ASCII character as ``\uXXXX`` instead (same value).
            text = json.dumps(document, indent=2, ensure_ascii=True)
        self.out.write(json_safe(text) + "\n")
        self.out.flush()

    def progress(self, message: str) -> None:
        """A progress line on stderr (never on stdout)."""
        _stderr(message)

    def attach_to_error(self, **known: Any) -> None:
        """What is already known, to print beside an error in JSON mode."""
        self._error_extra.update(known)

    def error(self, exc: MtlsDoctorError) -> None:
        """One line on stderr; in JSON mode also the contract's error object on stdout."""
        message = str(exc)
        if self.json_mode:
            self.emit_json({"error": {"code": exc.code, "message": message}, **self._error_extra})
        # File names, URLs and server text end up in messages: no terminal control in them.
        _stderr(f"mtls-doctor: error: {visible(message)}")

    def internal_error(self, exc: BaseException) -> None:
        """An unexpected failure: one line, no traceback (MTLS_DOCTOR_DEBUG=1 shows it).

        Only the exception's type is shown: its text may quote input (a password).
        """
        message = (
            f"internal error ({type(exc).__name__}), a bug in mtls-doctor, not a verdict; "
            f"please report it at {REPORT_URL} (MTLS_DOCTOR_DEBUG=1 shows the traceback)"
        )
        if self.json_mode:
            self.emit_json({"error": {"code": "internal", "message": message}})
        _stderr(f"mtls-doctor: {message}")


def _stderr(line: str) -> None:
    """One line on stderr, in whatever encoding it takes."""
    stream = sys.stderr
    print(to_encoding(line, getattr(stream, "encoding", None) or "utf-8"), file=stream, flush=True)


def _encodes(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    except LookupError:
        return True
    return True
