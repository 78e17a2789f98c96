"""Serve watch results as Prometheus metrics (x509-certificate-exporter compatible).

Refreshes on an interval in the background (files, server configurations,
concurrent probes) and serves the last results at /metrics: a scrape never
waits on the network, and a failing target is a metric, not a failed scrape.
Listens on 127.0.0.1:9793 unless --listen says otherwise. Stops cleanly on
SIGTERM or SIGINT (exit 0). Exit 2: bad input or the address is in use.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from mtls_doctor.commands.watch import add_source_arguments, sources_from
from mtls_doctor.ui import UI

DEFAULT_LISTEN = "127.0.0.1:9793"


def _seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from exc


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``exporter``."""
    add_source_arguments(parser)
    parser.add_argument(
        "--listen",
        default=DEFAULT_LISTEN,
        metavar="HOST:PORT",
        help=f"where to serve /metrics (default {DEFAULT_LISTEN}; port 0: any free port)",
    )
    parser.add_argument(
        "--interval",
        type=_seconds,
        metavar="SECONDS",
        help="seconds between refreshes (default 300)",
    )


def run(args: argparse.Namespace, ui: UI) -> int:
    """Validate the sources, bind, refresh in the background, serve until a signal."""
    from mtls_doctor.bundle import no_password
    from mtls_doctor.commands._options import password_source
    from mtls_doctor.errors import UsageError
    from mtls_doctor.watch.exporter import Exporter, MetricsServer, parse_listen
    from mtls_doctor.watch.gather import targets

    sources = sources_from(args, interval=args.interval)
    targets(sources)  # a typo in a target is exit 2 now, not a refresh error later
    host, port = parse_listen(args.listen)
    # a daemon never prompts: a password comes from --password-file / --password-env
    password = password_source(args) if (args.password_file or args.password_env) else no_password
    exporter = Exporter(sources, password=password)
    try:
        server = MetricsServer((host, port), exporter.registry)
    except OSError as exc:
        raise UsageError(f"--listen {args.listen}: cannot listen ({exc.strerror or exc})") from None
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    refresher = threading.Thread(target=exporter.run, name="refresh", daemon=True)
    serving = threading.Thread(target=server.serve_forever, name="http", daemon=True)
    try:
        refresher.start()
        serving.start()
        print(f"mtls-doctor exporter: serving {server.url}", file=sys.stderr, flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        exporter.stop()
        server.shutdown()
        server.server_close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("mtls-doctor exporter: stopped", file=sys.stderr, flush=True)
    return 0
