"""The Prometheus exporter: a cache refreshed on an interval, served over HTTP.

A scrape never waits on the network: it renders the last refresh. A
background thread refreshes (files, configurations, concurrent probes) every
``interval`` seconds; a failing target is a metric of that refresh, and a
refresh that fails as a whole keeps the previous data and counts the
failure. The HTTP server answers ``GET /metrics`` and nothing else.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric

from mtls_doctor.bundle import PasswordSource, no_password
from mtls_doctor.errors import MtlsDoctorError
from mtls_doctor.watch.sources import Sources

METRICS_PATH = "/metrics"
#: The classic text format that ``generate_latest`` writes for our (classic) metric
#: names; every Prometheus reads it (newer prometheus_client versions announce 1.0.0).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Exporter:
    """The cache of the last watch report, and the collector that renders it."""

    def __init__(
        self,
        sources: Sources,
        *,
        password: PasswordSource = no_password,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
    ) -> None:
        self.sources = sources
        self._password = password
        self._clock = clock
        self._log = log
        self._lock = threading.Lock()
        #: The last refresh, rendered once: scrapes only copy it out.
        self._families: tuple[Metric, ...] = ()
        self._refreshed_at = 0.0
        self._took = 0.0
        self._errors = 0
        self.stopping = threading.Event()
        #: Set after every refresh attempt (tests and the first-scrape log wait on it).
        self.refreshed = threading.Event()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def collect(self) -> Iterator[Metric]:
        """The metrics of the last refresh (no I/O here: a scrape never waits)."""
        from mtls_doctor.render.prometheus import exporter_families

        with self._lock:
            families, at, took, errors = (
                self._families,
                self._refreshed_at,
                self._took,
                self._errors,
            )
        yield from families
        yield from exporter_families(at, took, errors)

    def refresh(self) -> None:
        """Gather and judge everything once; keep the previous data if that fails."""
        from mtls_doctor.render.prometheus import certificate_families, server_families
        from mtls_doctor.watch.drift import watch_report
        from mtls_doctor.watch.gather import gather

        started = time.monotonic()
        try:
            facts = gather(self.sources, now=self._clock(), password=self._password)
            report = watch_report(
                facts, warn_days=self.sources.warn_days, crit_days=self.sources.crit_days
            )
            families = (*certificate_families(report), *server_families(report))
        except MtlsDoctorError as exc:
            with self._lock:
                self._errors += 1
            self._log(f"mtls-doctor exporter: refresh failed, keeping the previous data: {exc}")
        else:
            with self._lock:
                self._families = families
                self._refreshed_at = time.time()
                self._took = time.monotonic() - started
        finally:
            self.refreshed.set()

    def run(self) -> None:
        """Refresh now and then every ``interval`` seconds, until :meth:`stop`."""
        while not self.stopping.is_set():
            self.refresh()
            self.stopping.wait(self.sources.interval)

    def stop(self) -> None:
        """Ask the refresh loop to end (a refresh in progress finishes on its own)."""
        self.stopping.set()


class _Handler(BaseHTTPRequestHandler):
    server: MetricsServer
    server_version = "mtls-doctor-exporter"

    def _answer(self, body: bool) -> None:
        if self.path.split("?", 1)[0] != METRICS_PATH:
            data = b"mtls-doctor exporter: only /metrics is served\n"
            self.send_response(404)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
        else:
            data = generate_latest(self.server.registry)
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not logged."""


class MetricsServer(ThreadingHTTPServer):
    """Serves ``registry`` at ``/metrics`` on one address."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], registry: CollectorRegistry) -> None:
        self.registry = registry
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    @property
    def url(self) -> str:
        """``http://host:port/metrics`` as bound (the real port when 0 was asked)."""
        host, port = self.server_address[:2]
        shown = f"[{host!s}]" if ":" in str(host) else str(host)
        return f"http://{shown}:{port}{METRICS_PATH}"


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[V6]:PORT`` or ``PORT`` (then 127.0.0.1)."""
    from mtls_doctor.errors import UsageError

    raw = text.strip()
    host, _, port_text = raw.rpartition(":")
    if not _:
        host, port_text = "127.0.0.1", raw
    host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port_text)
    except ValueError:
        raise UsageError(f"--listen {text!r}: use HOST:PORT, e.g. 127.0.0.1:9793") from None
    if not 0 <= port <= 65535:
        raise UsageError(f"--listen {text!r}: the port must be between 0 and 65535")
    return host, port
