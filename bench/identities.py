"""Benchmark: ``mtls-doctor identities --for`` vs ``certutil -L`` and a real Chromium page load.

Whole-process wall time, median of several runs, same machine, same run.
One NSS database holding every lab identity that can live in one. The
peers: ``certutil -L`` (listing the same database, no server, no picker)
and, when installed, one headless Chromium load of the same server (what
the prediction saves a person from doing by hand).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from _common import BIN, RUNS, lab, median_seconds, report

from mtls_doctor.lab.browser import (
    autoselect_everything,
    browser_available,
    nss_database_with,
    run_chromium,
)


def main() -> None:
    if shutil.which("certutil") is None:
        print("certutil is not installed (apt-get install libnss3-tools)")
        return
    with lab() as (pki, fleet), tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch)
        count = 0
        for identity in pki.identities.values():
            if identity.p12 is not None:
                nss_database_with(home, identity.p12, None)
                count += 1
        database = home / ".pki" / "nssdb"
        server = fleet.servers["strict"]
        ours = [str(BIN / "mtls-doctor"), "identities", "--json", "--for", server.target]
        ours += ["--store", f"nss:{database}"]
        document = json.loads(subprocess.run(ours, capture_output=True, text=True).stdout)
        print(f"identities --for {server.target}: {count} identities in one NSS database, "
              f"{len(document['offered'])} offered, {len(document['not_offered'])} not, "
              f"runs={RUNS}")  # fmt: skip
        rows = [
            ("mtls-doctor identities --for", median_seconds(ours)),
            ("certutil -L", median_seconds(["certutil", "-L", "-d", f"sql:{database}"])),
        ]
        if browser_available() and os.geteuid() == 0:
            with autoselect_everything([server.url.rstrip("/")]):
                times = []
                for _ in range(3):
                    started = time.perf_counter()
                    run_chromium(server.url, home)
                    times.append(time.perf_counter() - started)
            rows.append(("chromium --headless (1 page)", sorted(times)[1]))
        report(rows, "certutil -L")


if __name__ == "__main__":
    main()
