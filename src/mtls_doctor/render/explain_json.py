"""The ``explain`` JSON document: CONTRACT.md's ``matches`` and ``known``, plus details."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mtls_doctor.knowledge import Explanation, Match

UNKNOWN_MESSAGE = "not a client-certificate error I know"
GENERIC_NEXT_STEP = (
    "Run `mtls-doctor check {url} --cert YOUR_CERT.pem --key YOUR_KEY.pem` (or --cert YOUR.p12) "
    "against the server; it finds the cause itself. To explain a message, paste the complete "
    "line with its error codes (the browser's error page code, curl's full line, the server's "
    "error log line)."
)


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
