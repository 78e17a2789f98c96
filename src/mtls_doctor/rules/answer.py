"""What the server answered to one connection, in a few words: one phrasing for every output.

``check``'s evidence, its note when another identity was used, the text
renderer and ``watch`` all say it the same way.
"""

from __future__ import annotations

from mtls_doctor.model import HandshakeFacts


def answer(facts: HandshakeFacts, *, detailed: bool = False) -> str:
    """``TLS alert 48 unknown_ca``, ``HTTP 400``, ... (``detailed``: the HTTP reason and
    first line of the page, or what the application protocol said)."""
    if facts.alert_received is not None:
        return f"TLS alert {facts.alert_received.code} {facts.alert_received.name}"
    if facts.http is not None:
        if not detailed:
            return f"HTTP {facts.http.status}"
        first = f" — {facts.http.first_line}" if facts.http.first_line else ""
        return f"HTTP {facts.http.status} {facts.http.reason}{first}"
    if facts.app is not None:
        app = facts.app
        if not detailed or app.accepted is None:
            return app.meaning
        return f"{app.said}: {app.meaning}"
    if facts.closed_without_answer:
        return "the server closed the connection without an answer"
    return facts.error or "handshake completed"


def evidence_clause(facts: HandshakeFacts) -> str:
    """The same, as the clause of a sentence: ``the server sent TLS alert 48 (unknown_ca)``."""
    if facts.alert_received is not None:
        a = facts.alert_received
        return f"the server sent TLS alert {a.code} ({a.name})"
    if facts.http is not None:
        if facts.http.verify_reason:
            return (
                f"the server answered HTTP {facts.http.status} carrying the TLS verify reason "
                f'"{facts.http.verify_reason}"'
            )
        line = f": {facts.http.first_line}" if facts.http.first_line else ""
        return f"the server answered HTTP {facts.http.status}{line}"
    if facts.app is not None:
        return f"{facts.app.meaning} ({facts.app.said})"
    if facts.closed_without_answer:
        return "the server closed the connection without an answer"
    return f"the handshake failed: {facts.error}" if facts.error else "the server answered"


def sentence(text: str) -> str:
    """``text`` starting with a capital (``str.capitalize`` would lower-case "TLS")."""
    return text[:1].upper() + text[1:]
