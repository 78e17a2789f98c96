"""HTTP/1.1 after the handshake: one GET, the status, the first words of the body.

Also reads an answer for what it is: a 400/403/495/496 whose body or headers
carry the TLS library's verify reason (``CERT_HAS_EXPIRED``, "unable to get
local issuer certificate") is a certificate refusal, not an authorization
rule; :func:`verify_reason` finds and quotes it.

``http.client`` (with ``email.parser`` and ``email.message``) is imported only
when an answer is parsed: a check that never speaks HTTP does not pay ~9 ms for it.
"""

from __future__ import annotations

import io
import re
from typing import Any

from mtls_doctor.errors import ConnectTimeout
from mtls_doctor.model import HttpAnswer
from mtls_doctor.protocols.base import MAX_ANSWER, ConnectionEnded, Stream
from mtls_doctor.tls.target import Target
from mtls_doctor.x509errors import X509Error

#: OpenSSL's X509_V_ERR_* names as Node.js and others print them (with or without the
#: prefix). Longest first: UNABLE_TO_GET_ISSUER_CERT_LOCALLY before ..._CERT.
_CODE_NAME = re.compile(
    r"\b(?:X509_V_ERR_)?("
    + "|".join(sorted((e.name for e in X509Error), key=len, reverse=True))
    + r")\b"
)
#: Statuses whose body may say why a certificate was refused.
VERIFY_STATUSES = frozenset({400, 403, 495, 496})


def exchange(stream: Stream, target: Target) -> HttpAnswer | None:
    """Send one GET, read the answer (None when the server sent nothing)."""
    request = (
        f"GET {target.path} HTTP/1.1\r\nHost: {target.host_header}\r\n"
        "User-Agent: mtls-doctor\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    ).encode()
    stream.send(request)
    raw = b""
    while len(raw) < MAX_ANSWER:
        try:
            chunk = stream.recv()
        except (ConnectTimeout, ConnectionEnded):
            if raw:
                break
            raise
        if not chunk:
            break
        raw += chunk
        if b"\r\n\r\n" in raw and _complete_enough(raw):
            break
    return parse(raw) if raw else None


def _complete_enough(raw: bytes) -> bool:
    """Headers and at least one body line (or a declared empty body) have arrived."""
    head, _, body = raw.partition(b"\r\n\r\n")
    if b"content-length: 0" in head.lower():
        return True
    return b"\n" in body.strip(b"\r\n") or len(body) > 512


def parse(raw: bytes) -> HttpAnswer | None:
    """Parse what we read with the stdlib's HTTP parser (it wants a socket: give it one)."""
    import http.client

    class _Bytes:
        def makefile(self, *_args: Any, **_kwargs: Any) -> io.BytesIO:
            return io.BytesIO(raw)

    response = http.client.HTTPResponse(_Bytes())  # type: ignore[arg-type]
    try:
        response.begin()
        body = response.read(8192) if response.length != 0 else b""
    except (http.client.HTTPException, ValueError, OSError):
        head, _, body = raw.partition(b"\r\n\r\n")
        if not raw.startswith(b"HTTP/"):
            return None
        try:
            status = int(raw.split(b" ", 2)[1])
        except (IndexError, ValueError):
            return None
        return answer(status, "", head.decode("latin-1"), body[:8192])
    headers = "\n".join(f"{k}: {v}" for k, v in response.getheaders())
    return answer(response.status, response.reason, headers, body, response.getheader("Server"))


def answer(
    status: int,
    reason: str,
    headers: str,
    body: bytes,
    server: str | None = None,
    version: str = "HTTP/1.1",
) -> HttpAnswer:
    """An HttpAnswer with its first body line and any verify reason it carries."""
    text = body.decode("utf-8", "replace")
    return HttpAnswer(
        status=status,
        reason=reason,
        first_line=first_words(text),
        server=server,
        verify_reason=verify_reason(f"{headers}\n{text}") if status in VERIFY_STATUSES else None,
        version=version,
    )


def first_words(text: str) -> str:
    """The first line with words after removing tags (nginx and Apache error pages)."""
    for line in text.splitlines():
        words = re.sub(r"<[^>]*>", " ", line).strip()
        words = re.sub(r"\s+", " ", words)
        if words:
            return words[:200]
    return ""


def verify_reason(text: str) -> str | None:
    """The TLS verify reason quoted from ``text`` (a code name or OpenSSL's wording)."""
    found = _CODE_NAME.search(text)
    if found:
        return found.group(0)
    from mtls_doctor.knowledge.matcher import find_verify_error, load_knowledge

    error = find_verify_error(load_knowledge(), text[:8192])
    if error is None or error.code == 1:
        return None
    return error.text


def reason_causes(reason: str) -> tuple[str, ...]:
    """The cause codes a quoted verify reason points to, most likely first."""
    from mtls_doctor.knowledge.matcher import find_verify_error, load_knowledge

    kb = load_knowledge()
    named = X509Error.parse(reason if reason.startswith("X509_V_ERR_") else f"X509_V_ERR_{reason}")
    if named is not None:
        error = next((e for e in kb.verify_errors if e.code == named), None)
    else:
        error = find_verify_error(kb, reason)
    return tuple(str(c) for c in error.causes) if error is not None else ()
