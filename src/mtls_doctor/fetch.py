"""Adapter: bounded HTTP downloads for AIA caIssuers, CRLs and OCSP.

The stdlib's ``urllib`` rather than an HTTP library: these are single small
GET/POST requests, and ``httpx`` alone would cost more import time than the
whole ``check`` budget. What is added here is the safety a diagnostic tool
owes its user, because the URLs come from certificates anyone can make:

- http and https only (also after redirects: never ``file://`` or ``ftp://``);
- a size cap, read in pieces as they arrive;
- one :class:`~mtls_doctor.deadline.Deadline` for the whole download, not a
  per-operation timeout (which restarts on every byte: a server dripping one
  byte a second would never time out). A watchdog shuts the socket down when
  the deadline passes, which ends any read in progress, and the download runs
  in a daemon thread the caller stops waiting for at the deadline (a DNS
  lookup cannot be interrupted any other way);
- an answer that is not HTTP (bad status line, broken chunking, more than
  100 headers, an over-long line) is a :class:`FetchError` that says so,
  never an internal error;
- one error type, which carries the HTTP status when there was one.
"""

from __future__ import annotations

import http.client
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from mtls_doctor.deadline import Deadline, run_before
from mtls_doctor.errors import FetchError

ALLOWED_SCHEMES = frozenset({"http", "https"})
DEFAULT_MAX_BYTES = 1024 * 1024
USER_AGENT = "mtls-doctor"
_PIECE = 65536


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


class _Watchdog:
    """Shuts down every socket of one download when its deadline passes."""

    def __init__(self, deadline: Deadline) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self.fired = False
        self._timer = threading.Timer(deadline.remaining(), self.fire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.fired:
                _shut(sock)

    def fire(self) -> None:
        with self._lock:
            self.fired = True
            for sock in self._sockets:
                _shut(sock)

    def cancel(self) -> None:
        self._timer.cancel()


def _shut(sock: socket.socket) -> None:
    # The plain socket's shutdown, also for an SSLSocket (whose own shutdown
    # unwraps it under a reader's feet): the descriptor is what must stop.
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


class _WatchedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, watchdog: _Watchdog, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._watchdog = watchdog

    def connect(self) -> None:
        super().connect()
        self._watchdog.watch(self.sock)


class _WatchedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, watchdog: _Watchdog, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._watchdog = watchdog
        create: Callable[..., socket.socket] = self._create_connection  # type: ignore[has-type]

        def watched_create(*a: Any, **k: Any) -> socket.socket:
            sock = create(*a, **k)
            watchdog.watch(sock)  # a TLS handshake that drips is cut off too
            return sock

        self._create_connection = watched_create

    def connect(self) -> None:
        super().connect()
        self._watchdog.watch(self.sock)


class _WatchedHTTP(urllib.request.HTTPHandler):
    def __init__(self, watchdog: _Watchdog) -> None:
        super().__init__()
        self._watchdog = watchdog

    def http_open(self, req: Any) -> Any:
        return self.do_open(partial(_WatchedHTTPConnection, watchdog=self._watchdog), req)


class _WatchedHTTPS(urllib.request.HTTPSHandler):
    def __init__(self, watchdog: _Watchdog) -> None:
        super().__init__()
        self._watchdog = watchdog

    def https_open(self, req: Any) -> Any:
        return self.do_open(partial(_WatchedHTTPSConnection, watchdog=self._watchdog), req)


def check_url(url: str) -> None:
    """Raise FetchError unless ``url`` is an http(s) URL with a host."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ALLOWED_SCHEMES or not parts.hostname:
        raise FetchError(url, "only http:// and https:// URLs are fetched")


def fetch(
    url: str,
    *,
    timeout: float | None = None,
    deadline: Deadline | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    data: bytes | None = None,
    content_type: str | None = None,
) -> bytes:
    """GET (or POST ``data``) ``url``; the body, at most ``max_bytes`` long.

    Finished by ``deadline`` (or ``timeout`` seconds from now), whatever the
    server does; raises :class:`FetchError` with the reason otherwise.
    """
    check_url(url)
    if deadline is None:
        deadline = Deadline(timeout if timeout is not None else 10.0)
    if deadline.expired():
        raise FetchError(url, _late(deadline))
    (outcome,) = run_before(
        deadline,
        [partial(_download, url, deadline, max_bytes, data, content_type)],
        workers=1,
    )
    if not outcome.finished:
        raise FetchError(url, _late(deadline))
    return outcome.result()


def _late(deadline: Deadline) -> str:
    return f"no complete answer {deadline.ran_out()}"


def _download(
    url: str, deadline: Deadline, max_bytes: int, data: bytes | None, content_type: str | None
) -> bytes:
    headers = {"User-Agent": USER_AGENT}
    if content_type:
        headers["Content-Type"] = content_type
    request = urllib.request.Request(url, data=data, headers=headers)
    watchdog = _Watchdog(deadline)
    opener = urllib.request.build_opener(
        _SafeRedirects, _WatchedHTTP(watchdog), _WatchedHTTPS(watchdog)
    )
    try:
        with opener.open(request, timeout=max(deadline.remaining(), 0.001)) as response:
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(
                    url, f"response is {int(declared)} bytes, over the {max_bytes} cap"
                )
            body = bytearray()
            # read1: one receive at a time, so the deadline is checked as bytes arrive.
            while chunk := response.read1(_PIECE):
                body += chunk
                if len(body) > max_bytes:
                    raise FetchError(url, f"response is larger than the {max_bytes}-byte cap")
                if deadline.expired():
                    raise FetchError(url, _late(deadline))
            if watchdog.fired:  # the watchdog's shutdown looks like the end of the body
                raise FetchError(url, _late(deadline))
            return bytes(body)
    except FetchError:
        raise
    except urllib.error.HTTPError as exc:
        exc.close()  # it holds the connection
        raise FetchError(url, f"HTTP {exc.code} {exc.reason}", status=exc.code) from None
    except Exception as exc:
        if watchdog.fired or deadline.expired():
            raise FetchError(url, _late(deadline)) from None
        raise FetchError(url, _failure(exc)) from None
    finally:
        watchdog.cancel()


#: What a malformed answer was, in words (http.client's exception names are jargon).
_GARBAGE: tuple[tuple[type[BaseException], str], ...] = (
    (http.client.RemoteDisconnected, "the server closed the connection without answering"),
    (http.client.IncompleteRead, "the answer is cut short or its chunked encoding is broken"),
    (http.client.LineTooLong, "a line of the answer is too long"),
    (http.client.BadStatusLine, "the status line is not HTTP"),
    (http.client.HTTPException, "not valid HTTP"),
    (ValueError, "not valid HTTP (broken length or chunked encoding)"),
)


def _failure(exc: BaseException) -> str:
    """A download failure in one line."""
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        exc = exc.reason
    for kind, words in _GARBAGE:
        if isinstance(exc, kind):
            return f"the server answered garbage: {words}"
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, urllib.error.URLError):
        return f"cannot connect: {exc.reason}"
    if isinstance(exc, OSError):
        return f"cannot connect: {exc.strerror or exc}"
    return f"download failed ({type(exc).__name__})"
