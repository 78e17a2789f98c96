"""Benchmark: ``mtls-doctor probe`` vs ``openssl s_client`` on the same lab server.

Whole-process wall time, median of several runs, same machine, same run.
Both answer "does the server request a client certificate, and which CA
names does it list"; s_client prints them for a person to read.
"""

from __future__ import annotations

import json
import shutil
import subprocess

from _common import BIN, RUNS, lab, median_seconds, report


def main() -> None:
    openssl = shutil.which("openssl")
    with lab() as (_pki, fleet):
        target = fleet.servers["strict"].target
        ours = [str(BIN / "mtls-doctor"), "probe", "--json", target]
        document = json.loads(subprocess.run(ours, capture_output=True, text=True).stdout)
        print(f"probe {target}: client_auth={document['client_auth']}, "
              f"handshakes={document['handshakes']}, runs={RUNS}")  # fmt: skip
        rows = [("mtls-doctor probe", median_seconds(ours))]
        if openssl:
            peer = [openssl, "s_client", "-connect", target, "-servername", "localhost"]
            rows.append(("openssl s_client", median_seconds(peer)))
        report(rows, "openssl s_client" if openssl else "mtls-doctor probe")


if __name__ == "__main__":
    main()
