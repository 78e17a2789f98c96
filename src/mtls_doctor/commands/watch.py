"""Client-certificate expiry and issuing-CA drift, before the outage.

An inventory of client identities (files, directories, PKCS#12) with days
left, usage and key ids; and, for each issuing CA x server, whether the
server accepts it: by name and key id where its configuration is known
(--server-config), by the names it advertises where only a probe is possible
(--server), settled by one real handshake when an identity issued by that CA
is in the inventory. Reports a new issuing CA a server does not accept yet,
identities a server rejects or will stop accepting, and an old CA still
trusted after its identities are gone.

Exit 0: nothing to report; 1: warning or critical findings (for cron);
2: bad input (flag, file, configuration); 3: no server could be reached.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mtls_doctor.commands._options import (
    add_password_arguments,
    add_store_argument,
    add_time_argument,
    local_path,
    password_source,
)
from mtls_doctor.ui import UI

if TYPE_CHECKING:
    from mtls_doctor.watch.sources import Sources


def _days(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from exc
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _count(text: str) -> int:
    try:
        return int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from exc


def _seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from exc


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """The sources of ``watch`` and ``exporter`` (a TOML file and/or flags)."""
    group = parser.add_argument_group("what to watch (flags add to --config)")
    group.add_argument(
        "--config", type=local_path, metavar="FILE", help="TOML file of sources (see README)"
    )
    group.add_argument(
        "--cert",
        action="append",
        default=[],
        type=local_path,
        metavar="PATH",
        help="client identities: a file or a directory (recursive); repeatable",
    )
    group.add_argument(
        "--server",
        action="append",
        default=[],
        metavar="TARGET",
        help="a server to probe (any target form of `check`); repeatable",
    )
    group.add_argument(
        "--server-config",
        action="append",
        default=[],
        type=local_path,
        metavar="FILE",
        help="nginx / Apache / HAProxy configuration: the CA bundle each block trusts",
    )
    group.add_argument(
        "--issuing-ca",
        action="append",
        default=[],
        type=local_path,
        metavar="PATH",
        help="a CA certificate that issues client certificates (old and new); repeatable",
    )
    add_store_argument(group)  # type: ignore[arg-type]
    limits = parser.add_argument_group("limits")
    limits.add_argument(
        "--warn-days", type=_days, metavar="N", help="warn N days before expiry (default 30)"
    )
    limits.add_argument(
        "--crit-days", type=_days, metavar="N", help="critical N days before expiry (default 7)"
    )
    limits.add_argument(
        "--timeout",
        type=_seconds,
        metavar="SECONDS",
        help="bound every network step (default 10)",
    )
    limits.add_argument(
        "--concurrency", type=_count, metavar="N", help="probes at once (default 32)"
    )
    limits.add_argument("--sni", metavar="NAME", help="server name to send to every --server")
    limits.add_argument(
        "--connect-to",
        "--resolve",
        dest="connect_to",
        metavar="IP",
        help="connect every --server to this address",
    )
    add_password_arguments(parser)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``watch``."""
    add_source_arguments(parser)
    add_time_argument(parser)


def sources_from(args: argparse.Namespace, interval: float | None = None) -> Sources:
    """The configuration file (if any) merged with the flags."""
    from mtls_doctor.errors import UsageError
    from mtls_doctor.watch.sources import Sources, load_config, merged

    base = load_config(args.config) if args.config else Sources()
    sources = merged(
        base,
        certs=args.cert,
        servers=args.server,
        server_configs=args.server_config,
        issuing_cas=args.issuing_ca,
        stores=args.store,
        password_env=args.password_env,
        password_file=args.password_file,
        sni=args.sni,
        connect_to=args.connect_to,
        warn_days=args.warn_days,
        crit_days=args.crit_days,
        timeout=args.timeout,
        concurrency=args.concurrency,
        interval=interval,
    )
    if sources.empty:
        raise UsageError(
            "nothing to watch: give --config FILE, or --cert, --server, --server-config "
            "or --issuing-ca"
        )
    return sources


def run(args: argparse.Namespace, ui: UI) -> int:
    """Gather, apply the drift rules, render, and map to an exit code."""
    from mtls_doctor.errors import ConnectError, InputError
    from mtls_doctor.render import watch as render
    from mtls_doctor.watch.drift import watch_report
    from mtls_doctor.watch.gather import gather

    sources = sources_from(args)
    now = args.at or datetime.now(UTC)
    with _progress(ui, len(sources.servers)) as progress:
        facts = gather(sources, now=now, password=password_source(args), progress=progress)
    report = watch_report(facts, warn_days=sources.warn_days, crit_days=sources.crit_days)
    document = render.document(report)
    error: Exception | None = None
    if facts.problems:
        first = facts.problems[0]
        more = len(facts.problems) - 1
        suffix = f" (and {more} more unreadable file{'s' if more > 1 else ''})" if more else ""
        error = InputError(first.message + suffix, code=first.code)
    probed = [s for s in facts.servers if s.source == "probe"]
    if error is None and probed and all(s.error for s in probed) and not facts.identities:
        error = ConnectError(f"no server could be reached ({probed[0].error})")
    if error is not None:
        if ui.json_mode:
            ui.attach_to_error(**{k: v for k, v in document.items() if k != "error"})
        else:
            render.text(ui.console, report)
        raise error
    if ui.json_mode:
        ui.emit_json(document)
    else:
        render.text(ui.console, report)
    return 1 if report.has_findings else 0


class _progress:  # noqa: N801 (a context manager used like a function)
    """A progress bar on stderr, only on a terminal and only for text output."""

    def __init__(self, ui: UI, total: int) -> None:
        self.enabled = total > 1 and not ui.json_mode and sys.stderr.isatty()
        self.total = total
        self._bar: Any = None

    def __enter__(self) -> Callable[[int, int], None] | None:
        if not self.enabled:
            return None
        from rich.console import Console
        from rich.progress import Progress

        bar = Progress(console=Console(stderr=True), transient=True)
        bar.start()
        task = bar.add_task("probing servers", total=self.total)
        self._bar = bar

        def advance(done: int, _total: int) -> None:
            bar.update(task, completed=done)

        return advance

    def __exit__(self, *_exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
