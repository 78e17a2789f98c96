"""Benchmark: ``mtls-doctor explain --file`` on large generated logs: lines/s and peak RSS.

Two logs, written at bench time into a scratch folder:

- a typical nginx error log (default 1 GiB): mostly 404s, upstream timeouts,
  closed connections, about one line in six about TLS or client certificates;
- 64 MiB of nothing but TLS alert lines (every line is matched in full: the
  worst case, quadratic before).

Each run is one whole process; peak RSS is the child's ``ru_maxrss``. Lines
per CPU second are quoted too: on a shared machine wall time depends on load.
Usage: python bench/explain.py [--size-mib N] [--alerts-mib N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path
from tempfile import TemporaryDirectory

from _common import BIN

TYPICAL = [
    (30, '[error] 712#712: *{n} open() "/usr/share/nginx/html/favicon.ico" failed (2: No such '
         'file or directory), client: 10.0.{a}.{b}, server: api.example.com, request: "GET '
         '/favicon.ico HTTP/1.1", host: "api.example.com"'),
    (25, "[info] 712#712: *{n} client closed connection while waiting for request, client: "
         "10.0.{a}.{b}, server: 0.0.0.0:443"),
    (15, "[error] 712#712: *{n} upstream timed out (110: Connection timed out) while reading "
         'response header from upstream, client: 10.0.{a}.{b}, server: api.example.com, request: '
         '"GET /v1/items?page={n} HTTP/1.1", upstream: "http://127.0.0.1:8080/v1/items", host: '
         '"api.example.com"'),
    (8, "[warn] 712#712: *{n} an upstream response is buffered to a temporary file "
        "/var/cache/nginx/proxy_temp/1/00/000000{n} while reading upstream, client: 10.0.{a}.{b}"),
    (4, "[info] 712#712: *{n} client SSL certificate verify error: (10:certificate has expired) "
        "while reading client request headers, client: 10.0.{a}.{b}, server: api.example.com, "
        'request: "GET / HTTP/1.1", host: "api.example.com"'),
    (4, "[info] 712#712: *{n} client sent no required SSL certificate while reading client "
        "request headers, client: 10.0.{a}.{b}, server: api.example.com"),
    (4, "[info] 712#712: *{n} SSL_do_handshake() failed (SSL: error:0A000412:SSL routines::"
        "sslv3 alert bad certificate:SSL alert number 42) while SSL handshaking, client: "
        "10.0.{a}.{b}, server: 0.0.0.0:443"),
    (4, "[info] 712#712: *{n} peer closed connection in SSL handshake (104: Connection reset by "
        "peer) while SSL handshaking, client: 10.0.{a}.{b}, server: 0.0.0.0:443"),
    (4, "[info] 712#712: *{n} recv() failed (104: Connection reset by peer) while reading client "
        "request line, client: 10.0.{a}.{b}, server: 0.0.0.0:443"),
    (2, "[notice] 712#712: signal process started"),
]  # fmt: skip
ALERTS = [
    "[info] 9#9: *{n} SSL_do_handshake() failed (SSL: error:0A000418:SSL routines::tlsv1 alert "
    "unknown ca:SSL alert number 48) while SSL handshaking, client: 10.1.{a}.{b}, "
    "server: 0.0.0.0:443",
    "curl: (56) OpenSSL SSL_read: error:0A000415:SSL routines::sslv3 alert certificate expired, "
    "errno {a}",
    "remote error: tls: bad certificate (client 10.2.{a}.{b}:{n})",
]


def write_log(path: Path, size: int, templates: list[str]) -> int:
    """Write about ``size`` bytes of timestamped lines; return the number of lines."""
    block: list[str] = []
    for n in range(20_000):
        template = templates[(n * 7919) % len(templates)]
        stamp = f"2026/06/01 {n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d} "
        block.append(stamp + template.format(n=n, a=n % 250, b=n * 7 % 250) + "\n")
    data = "".join(block).encode()
    lines = 0
    with path.open("wb") as handle:
        while handle.tell() < size:
            handle.write(data)
            lines += len(block)
    return lines


def measure(path: Path, lines: int) -> str:
    """Run explain on the file in its own process: seconds, lines/s, peak RSS."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [str(BIN / "mtls-doctor"), "explain", "--json", "--file", str(path)],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    assert child.stdout is not None
    output = child.stdout.read()
    _, _, usage = os.wait4(child.pid, 0)
    child.returncode = 0  # reaped above
    seconds = time.perf_counter() - started
    cpu = usage.ru_utime + usage.ru_stime
    document = json.loads(output)
    assert document["lines_read"] == lines, (document["lines_read"], lines)
    counted = sum(m["count"] for m in document["matches"])
    return (
        f"{path.stat().st_size / 2**20:6.0f} MiB {lines:>10,} lines {seconds:6.1f} s "
        f"{lines / seconds:>9,.0f} lines/s ({lines / cpu:,.0f} per CPU second), "
        f"peak RSS {usage.ru_maxrss / 1024:.0f} MB "
        f"({len(document['matches'])} messages, {counted:,} lines matched)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="typical log size")
    parser.add_argument(
        "--alerts-mib", type=int, nargs="+", default=[16, 64], help="all-alert log sizes"
    )
    args = parser.parse_args()
    weighted = [text for weight, text in TYPICAL for _ in range(weight)]
    print(f"cpus available: {len(os.sched_getaffinity(0))}")
    with TemporaryDirectory(prefix="mtls-bench-explain-") as scratch:
        for size in args.alerts_mib:  # two sizes: the time must grow linearly
            alerts = Path(scratch) / "alerts.log"
            lines = write_log(alerts, size << 20, ALERTS)
            print("all alert lines:  ", measure(alerts, lines))
            alerts.unlink()
        typical = Path(scratch) / "error.log"
        lines = write_log(typical, args.size_mib << 20, weighted)
        print("typical nginx log:", measure(typical, lines))


if __name__ == "__main__":
    main()
