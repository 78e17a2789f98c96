"""Where output goes: JSON or text on stdout, errors and progress on stderr."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from mtls_doctor.errors import MtlsDoctorError

if TYPE_CHECKING:
    from rich.console import Console


class UI:
    """Output for one command run: one JSON document, or text for people."""

    def __init__(self, *, json_mode: bool) -> None:
        self.json_mode = json_mode
        self._console: Console | None = None
        self._error_extra: dict[str, Any] = {}

    @property
    def console(self) -> Console:
        """A rich console on stdout (created on first use: rich costs import time)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(highlight=False, soft_wrap=True)
        return self._console

    def emit_json(self, document: dict[str, Any]) -> None:
        """Write the one JSON document of this run."""
        sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        sys.stdout.flush()

    def progress(self, message: str) -> None:
        """A progress line on stderr (never on stdout)."""
        print(message, file=sys.stderr, flush=True)

    def attach_to_error(self, **known: Any) -> None:
        """What is already known, to print beside an error in JSON mode."""
        self._error_extra.update(known)

    def error(self, exc: MtlsDoctorError) -> None:
        """One line on stderr; in JSON mode also the contract's error object on stdout."""
        message = str(exc)
        if self.json_mode:
            self.emit_json({"error": {"code": exc.code, "message": message}, **self._error_extra})
        print(f"mtls-doctor: error: {message}", file=sys.stderr)

    def internal_error(self, exc: BaseException) -> None:
        """An unexpected failure: one line, no traceback (MTLS_DOCTOR_DEBUG=1 shows it)."""
        message = (
            f"internal error ({type(exc).__name__}); please report it. "
            "Set MTLS_DOCTOR_DEBUG=1 for details."
        )
        if self.json_mode:
            self.emit_json({"error": {"code": "internal", "message": message}})
        print(f"mtls-doctor: {message}", file=sys.stderr)
