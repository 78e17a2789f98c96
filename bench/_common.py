"""Shared pieces of the benchmarks: a lab on loopback and a whole-process timer."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from tempfile import TemporaryDirectory

from mtls_doctor.lab.pki import LabPKI, build_lab_pki
from mtls_doctor.lab.server import LabFleet, running_lab

RUNS = 15
BIN = Path(sys.executable).parent


@contextmanager
def lab() -> Iterator[tuple[LabPKI, LabFleet]]:
    """A fresh lab PKI with its servers on free loopback ports."""
    with TemporaryDirectory(prefix="mtls-bench-") as scratch:
        pki = build_lab_pki(Path(scratch))
        with running_lab(pki) as fleet:
            yield pki, fleet


#: As an installed package runs: pip writes bytecode at install time, so the
#: warm-up run may write it too (a PYTHONDONTWRITEBYTECODE=1 environment would
#: otherwise compile every module from source on every run).
INSTALLED_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def median_seconds(argv: Sequence[str], runs: int = RUNS) -> float:
    """Median wall time of running ``argv`` as a whole process (one warm-up run first)."""
    run = partial(
        subprocess.run,
        argv,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
        env=INSTALLED_ENV,
    )
    run()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def report(rows: list[tuple[str, float]], baseline: str) -> None:
    """Print each command's median and its ratio to ``baseline``."""
    base = dict(rows)[baseline]
    width = max(len(name) for name, _ in rows)
    for name, seconds in rows:
        print(f"  {name:<{width}}  {seconds * 1000:7.1f} ms   x{seconds / base:5.2f} vs {baseline}")
