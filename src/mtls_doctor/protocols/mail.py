"""SMTP, IMAP and POP3: STARTTLS before the handshake, a greeting or command after it.

SMTP (RFC 5321, RFC 3207): a ``220`` banner, ``EHLO``, ``STARTTLS`` → ``220``;
after TLS, ``EHLO`` again. IMAP (RFC 9051): ``* OK`` greeting, ``STARTTLS`` →
tagged OK; after TLS, ``CAPABILITY``. POP3 over TLS (RFC 8314): the ``+OK``
greeting and ``CAPA``. Mail servers often complete TLS with any certificate
and judge it at login, so when the server offers certificate login (SASL
EXTERNAL) it is tried: success is served; a refusal that names the
certificate is a certificate refusal (the local checks say which); any other
refusal is an authorization rule (the name maps to no account); trouble on
the server's side is neither. Without EXTERNAL only the TLS layer's answer
is known, and the verdict says so. Hand-written: a few text lines
(``smtplib``/``imaplib`` own their sockets and cannot run over our stream).
"""

from __future__ import annotations

import re

from mtls_doctor.errors import ConnectTimeout
from mtls_doctor.model import AppAnswer
from mtls_doctor.protocols.base import StartTLSRefusedError, Stream, first_line, read_until
from mtls_doctor.tls.target import Target

_SMTP_LAST = re.compile(rb"(?m)^\d{3}(?: [^\r\n]*)?\r?\n")
#: What the first line of a greeting starts with (SMTP: a reply code; IMAP: untagged).
_SMTP_LINE = re.compile(rb"\d{3}[ \r\n-]")
_IMAP_LINE = re.compile(rb"\* ")
_EHLO = b"EHLO mtls-doctor.invalid\r\n"
#: Answers that report trouble on the server's side, not a judgement of the client
#: (RFC 3206 [SYS/TEMP], RFC 5530 [UNAVAILABLE] / [SERVERBUG], Dovecot's wording).
_SERVER_TROUBLE = (
    b"[SYS/TEMP]",
    b"[SYS/PERM]",
    b"[UNAVAILABLE]",
    b"[SERVERBUG]",
    b"INTERNAL ERROR",
)


def _smtp_reply(stream: Stream) -> bytes:
    """One whole (multi-line) SMTP reply: lines ``250-...`` up to ``250 ...``.

    What came after it in the same read is dropped: a server may send its next
    reply at once (Dovecot: ``235`` then ``421`` when its relay is down), and
    that reply answers nothing we asked.
    """
    return _smtp_reply_from(stream, b"")


def _smtp_reply_from(stream: Stream, start: bytes) -> bytes:
    """:func:`_smtp_reply`, continuing from what was read already."""
    buffer = read_until(stream, lambda buf: bool(_SMTP_LAST.search(buf)), start)
    end = _SMTP_LAST.search(buffer)
    return buffer[: end.end()] if end else buffer


def _imap_line(stream: Stream, tag: bytes, start: bytes = b"") -> bytes:
    """IMAP lines up to the one that starts with ``tag`` (``*`` for the greeting)."""

    def done(buf: bytes) -> bool:
        return any(line.startswith(tag + b" ") for line in buf.split(b"\r\n")[:-1])

    return read_until(stream, done, start)


def _tagged(reply: bytes, tag: bytes) -> str:
    """The tagged completion line of an IMAP reply (the last line when there is none)."""
    line = next((x for x in reply.split(b"\r\n") if x.startswith(tag + b" ")), None)
    return first_line(line) if line is not None else _last(reply)


def _last(reply: bytes) -> str:
    lines = [line for line in reply.split(b"\r\n") if line]
    return first_line(lines[-1]) if lines else "(connection closed)"


def _greeting(stream: Stream, target: Target, looks_right: re.Pattern[bytes]) -> bytes:
    """The server's first line; it greets at once, so silence or another first line
    (an SSH banner, binary) ends the wait instead of running out the timeout."""
    title = target.spec.title
    try:
        first = read_until(stream, lambda buf: b"\n" in buf or len(buf) >= 512)
    except ConnectTimeout as exc:
        raise ConnectTimeout(
            f"{target}: {exc}, and an {title} server greets at once: this port is probably "
            f"not one (if it speaks TLS from the start, try tls://{target.host}:{target.port})"
        ) from None
    if not looks_right.match(first):
        from mtls_doctor.protocols.sniff import describe

        raise StartTLSRefusedError(
            f"{target}: no {title} greeting: {describe(first, target, title)}"
        )
    return first


def before_tls(stream: Stream, target: Target) -> None:
    """STARTTLS for SMTP or IMAP."""
    if target.protocol == "smtp":
        banner = _smtp_reply_from(stream, _greeting(stream, target, _SMTP_LINE))
        if not banner.startswith(b"220"):
            raise StartTLSRefusedError(f"{target}: no SMTP greeting ({_last(banner)})")
        stream.send(_EHLO)
        capabilities = _smtp_reply(stream)
        if b"STARTTLS" not in capabilities.upper():
            raise StartTLSRefusedError(f"{target}: the SMTP server does not offer STARTTLS")
        stream.send(b"STARTTLS\r\n")
        reply = _smtp_reply(stream)
        if not reply.startswith(b"220"):
            raise StartTLSRefusedError(f"{target}: STARTTLS refused ({_last(reply)})")
        return
    greeting = _imap_line(stream, b"*", _greeting(stream, target, _IMAP_LINE))
    if not greeting.startswith(b"* OK") and not greeting.startswith(b"* PREAUTH"):
        raise StartTLSRefusedError(f"{target}: no IMAP greeting ({_last(greeting)})")
    stream.send(b"a1 STARTTLS\r\n")
    reply = _imap_line(stream, b"a1")
    if b"a1 OK" not in reply:
        raise StartTLSRefusedError(f"{target}: STARTTLS refused ({_last(reply)})")


def after_tls(stream: Stream, target: Target, common_name: str | None) -> AppAnswer:
    """Greeting (implicit TLS) and one command, and what the answer says."""
    name = target.protocol
    if name.startswith("smtp"):
        return _smtp(stream, name)
    if name.startswith("imap"):
        return _imap(stream, name)
    return _pop3(stream)


def _pop3_line(stream: Stream) -> bytes:
    """One POP3 status line (what followed it in the same read answers nothing we asked)."""
    line = read_until(stream, lambda buf: b"\r\n" in buf)
    return line.split(b"\r\n", 1)[0] + b"\r\n" if b"\r\n" in line else line


def _pop3(stream: Stream) -> AppAnswer:
    """The greeting, CAPA, then certificate login (AUTH EXTERNAL, RFC 5034) when offered."""
    greeting = _pop3_line(stream)
    if not greeting.startswith(b"+OK"):
        return _judge("POP3", greeting, False)
    stream.send(b"CAPA\r\n")
    capabilities = read_until(stream, lambda buf: buf.startswith(b"-") or b"\r\n.\r\n" in buf)
    if not re.search(rb"(?im)^SASL\b.*\bEXTERNAL\b", capabilities):
        stream.send(b"QUIT\r\n")
        return _no_certificate_login("pop3", _last(greeting), "greeted", "SASL EXTERNAL")
    stream.send(b"AUTH EXTERNAL =\r\n")
    reply = _pop3_line(stream)
    stream.send(b"QUIT\r\n")
    return _external("pop3", _last(reply), reply.startswith(b"+OK"), reply)


def _smtp(stream: Stream, name: str) -> AppAnswer:
    """EHLO, then certificate login (AUTH EXTERNAL) when the server offers it."""
    reply = b"220" if name == "smtp" else _smtp_reply(stream)
    if reply.startswith(b"220"):
        stream.send(_EHLO)
        reply = _smtp_reply(stream)
    if not reply.startswith(b"250"):
        return _judge("SMTP", reply, False)
    if not re.search(rb"(?im)^250[ -]AUTH\b.*\bEXTERNAL\b", reply):
        stream.send(b"QUIT\r\n")
        return AppAnswer(
            protocol="smtp",
            accepted=None,
            said=_last(reply),
            meaning="the SMTP server answered EHLO after TLS and offers no certificate login "
            "(AUTH EXTERNAL); what a certificate allows in SMTP (relaying) is decided later, "
            "per message, so only the TLS layer's answer is known",
        )
    stream.send(b"AUTH EXTERNAL =\r\n")
    reply = _smtp_reply(stream)
    stream.send(b"QUIT\r\n")
    return _external("smtp", _last(reply), reply.startswith(b"235"), reply)


def _no_certificate_login(protocol: str, said: str, verb: str, mechanism: str) -> AppAnswer:
    """TLS done, but the server offers no certificate login: the login step is not judged."""
    return AppAnswer(
        protocol=protocol,
        accepted=None,
        said=said,
        meaning=f"the {protocol.upper()} server {verb} after TLS; it offers no certificate login "
        f"({mechanism}), so whether it accepts this certificate at login is not tested",
    )


def _external(protocol: str, said: str, ok: bool, reply: bytes) -> AppAnswer:
    """What a certificate login (SASL EXTERNAL) answer says about the certificate."""
    title = protocol.upper()
    if ok:
        return AppAnswer(
            protocol=protocol, accepted=True, said=said, meaning="certificate login succeeded"
        )
    upper = reply.upper()
    if any(sign in upper for sign in _SERVER_TROUBLE) or re.match(rb"4\d\d[ -]", reply):
        return AppAnswer(
            protocol=protocol,
            accepted=False,
            said=said,
            meaning=f"the {title} server failed on its side during the certificate login (a "
            "temporary or internal error; its log says why), so it neither accepted nor "
            "refused the certificate as such",
        )
    if b"CERTIFICATE" in upper:
        return AppAnswer(
            protocol=protocol,
            accepted=False,
            said=said,
            meaning=f"the {title} server refused the certificate at login (SASL EXTERNAL)",
        )
    return AppAnswer(
        protocol=protocol,
        accepted=False,
        said=said,
        meaning=f"the {title} server took the certificate as valid but mapped it to no user "
        "it lets in (SASL EXTERNAL failed)",
        cause="rejected_by_application",
        fix="Ask the mail administrator to map this certificate's name to your account "
        "(Dovecot: ssl_cert_username_field and the passdb).",
    )


def _imap(stream: Stream, name: str) -> AppAnswer:
    """CAPABILITY, then certificate login (AUTHENTICATE EXTERNAL) when the server offers it."""
    greeting = b"" if name == "imap" else _imap_line(stream, b"*")
    if name == "imaps" and not greeting.startswith((b"* OK", b"* PREAUTH")):
        return _judge("IMAP", greeting, False)
    stream.send(b"a2 CAPABILITY\r\n")
    reply = _imap_line(stream, b"a2")
    if b"a2 OK" not in reply:
        return _judge("IMAP", reply, False)
    if b"AUTH=EXTERNAL" not in (greeting + reply).upper():
        stream.send(b"a4 LOGOUT\r\n")
        return _no_certificate_login("imap", _last(reply), "answered", "AUTH=EXTERNAL")
    stream.send(b"a3 AUTHENTICATE EXTERNAL =\r\n")
    reply = _imap_line(stream, b"a3")
    said = _tagged(reply, b"a3")
    stream.send(b"a4 LOGOUT\r\n")
    return _external("imap", said, b"a3 OK" in reply, reply)


def _judge(title: str, reply: bytes, ok: bool) -> AppAnswer:
    said = _last(reply) if reply else "(connection closed)"
    if ok:
        return AppAnswer(
            protocol=title.lower(), accepted=True, said=said, meaning=f"the {title} server answered"
        )
    return AppAnswer(
        protocol=title.lower(),
        accepted=False,
        said=said,
        meaning=f"the {title} server refused the client after TLS"
        if reply
        else f"the {title} server closed the connection after TLS without answering",
    )
