"""Which conversation a connection has, and the dispatch to its module.

``plan`` turns a target and the server's ALPN choice into what is spoken:
``http1``, ``h2``, ``tls`` (nothing), or a protocol name. Kept apart from
the TLS adapter so the rule "a bare host:port gets HTTP only when its port
or the server's ALPN choice says HTTP" is one small pure function.
"""

from __future__ import annotations

import importlib
from typing import Any

from mtls_doctor.model import AppAnswer, HttpAnswer
from mtls_doctor.protocols import PROTOCOLS
from mtls_doctor.protocols.base import Stream
from mtls_doctor.tls.target import Target

_HTTP_ALPN = {"h2": "h2", "http/1.1": "http1"}


def plan(target: Target, alpn: str) -> str:
    """What to speak after the handshake: ``http1``, ``h2``, ``tls`` or a protocol name."""
    if target.protocol == "https":
        return "h2" if alpn == "h2" else "http1"
    if target.protocol == "tls":
        if target.protocol_source == "default" and alpn in _HTTP_ALPN:
            return _HTTP_ALPN[alpn]
        return "tls"
    return target.protocol


def _module(name: str) -> Any:
    return importlib.import_module(f"mtls_doctor.protocols.{PROTOCOLS[name].module}")


def before_tls(stream: Stream, target: Target) -> None:
    """The plain-text exchange that makes a STARTTLS service start TLS."""
    _module(target.protocol).before_tls(stream, target)


def converse(
    kind: str, stream: Stream, target: Target, common_name: str | None
) -> tuple[HttpAnswer | None, AppAnswer | None, str | None]:
    """Speak ``kind`` over the TLS stream: (HTTP answer, application answer, failure)."""
    if kind in ("http1", "h2"):
        from mtls_doctor.protocols import http, http2

        answer = (http2 if kind == "h2" else http).exchange(stream, target)
        if answer is None:
            return None, None, "the server closed the connection without answering"
        if isinstance(answer, AppAnswer):
            return None, answer, None
        return answer, None, None
    return None, _module(kind).after_tls(stream, target, common_name), None


def tls_only(target: Target, tls13: bool, grace: float, settle: float) -> AppAnswer:
    """The answer of a connection where no application data was exchanged."""
    waited = (
        f"the TLS handshake completed and no alert came within {grace:g} s after it"
        if tls13
        else "the TLS handshake completed (in TLS 1.2 the server judges the certificate "
        f"before its Finished) and the server kept the connection open {settle:g} s after it"
    )
    if target.protocol_source == "default":
        hint = (
            f"port {target.port} is not a well-known port, so no application data was sent; "
            "a scheme (rediss://, mqtts://, postgres://, mysql://, smtp://, imap://, ldap://, "
            "https://) or "
            "--protocol NAME gives an application-level answer"
        )
    else:
        hint = "tls:// sends no application data; the protocol's own scheme gives an "
        hint += "application-level answer"
    return AppAnswer(
        protocol="tls",
        accepted=None,
        said="(no application data)",
        meaning=f"{waited}; {hint}",
    )
