"""Adapter: bounded HTTP downloads for AIA caIssuers, CRLs and OCSP.

The stdlib's ``urllib`` rather than an HTTP library: these are single small
GET/POST requests, and ``httpx`` alone would cost more import time than the
whole ``check`` budget. What is added here is the safety a diagnostic tool
owes its user: http and https only (also after redirects: never ``file://``
or ``ftp://``), a size cap read in chunks, the caller's timeout, and one
error type.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from mtls_doctor.errors import FetchError

ALLOWED_SCHEMES = frozenset({"http", "https"})
DEFAULT_MAX_BYTES = 1024 * 1024
USER_AGENT = "mtls-doctor"


class _SafeRedirects(urllib.request.HTTPRedirectHandler):
    """Follow at most 3 redirects, and only to http(s)."""

    max_redirections = 3

    def redirect_request(
        self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> Any:
        scheme = urlsplit(newurl).scheme.lower()
        if scheme not in ALLOWED_SCHEMES:
            raise FetchError(req.full_url, f"refused a redirect to a {scheme}:// URL")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def check_url(url: str) -> None:
    """Raise FetchError unless ``url`` is an http(s) URL with a host."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ALLOWED_SCHEMES or not parts.hostname:
        raise FetchError(url, "only http:// and https:// URLs are fetched")


def fetch(
    url: str,
    *,
    timeout: float,
    max_bytes: int = DEFAULT_MAX_BYTES,
    data: bytes | None = None,
    content_type: str | None = None,
) -> bytes:
    """GET (or POST ``data``) ``url``; the body, at most ``max_bytes`` long."""
    check_url(url)
    headers = {"User-Agent": USER_AGENT}
    if content_type:
        headers["Content-Type"] = content_type
    request = urllib.request.Request(url, data=data, headers=headers)
    opener = urllib.request.build_opener(_SafeRedirects)
    deadline = time.monotonic() + timeout
    try:
        with opener.open(request, timeout=timeout) as response:
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(
                    url, f"response is {int(declared)} bytes, over the {max_bytes} cap"
                )
            body = bytearray()
            while chunk := response.read(65536):
                body += chunk
                if len(body) > max_bytes:
                    raise FetchError(url, f"response is larger than the {max_bytes}-byte cap")
                if time.monotonic() > deadline:
                    raise FetchError(url, f"download took longer than {timeout:g} s")
            return bytes(body)
    except FetchError:
        raise
    except urllib.error.HTTPError as exc:
        raise FetchError(url, f"HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        reason = exc.reason
        text = getattr(reason, "strerror", None) or str(reason)
        raise FetchError(url, f"cannot connect: {text}") from exc
    except TimeoutError as exc:
        raise FetchError(url, f"no answer within {timeout:g} s") from exc
    except OSError as exc:
        raise FetchError(url, f"download failed: {exc.strerror or exc}") from exc
