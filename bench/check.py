"""Benchmark: ``mtls-doctor check`` vs ``openssl s_client`` and sslyze.

Whole-process wall time, median of several runs, on the built-in lab:
- ``check`` with an accepted and with a rejected identity (and its handshakes);
- ``openssl s_client`` presenting the same identity (it only shows the raw result);
- ``mtls-doctor --help`` alone (start-up: target <= 0.1 s; ``check`` accepted <= 0.15 s);
- the same ``check`` with text output (it loads ``rich`` too);
- as an installed package runs: with bytecode (see ``_common.INSTALLED_ENV``);
- sslyze's connectivity test, which answers only "is client auth required"
  (installed in the bench's own environment, .bench-venv, to keep its pinned
  dependencies away from ours).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import venv
from pathlib import Path

from _common import BIN, RUNS, lab, median_seconds, report

BENCH_VENV = Path(__file__).resolve().parent.parent / ".bench-venv"
SSLYZE_SCRIPT = """
import sys
from sslyze import ServerNetworkLocation
from sslyze.server_connectivity import check_connectivity_to_server
from sslyze.server_setting import ServerNetworkConfiguration
host, port = sys.argv[1], int(sys.argv[2])
location = ServerNetworkLocation(hostname=host, port=port, ip_address=host)
result = check_connectivity_to_server(location, ServerNetworkConfiguration(host))
print(result.client_auth_requirement.name)
"""


def sslyze_python() -> Path | None:
    """The bench venv's python with sslyze, created on first use (None if impossible)."""
    python = BENCH_VENV / "bin" / "python"
    if not python.exists():
        venv.create(BENCH_VENV, with_pip=True)
    ok = subprocess.run([str(python), "-c", "import sslyze"], capture_output=True).returncode == 0
    if not ok:
        done = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "sslyze"], capture_output=True
        )
        if done.returncode != 0:
            print("  (sslyze could not be installed: skipped)", file=sys.stderr)
            return None
    return python


def main() -> None:
    openssl = shutil.which("openssl")
    start_up = [str(BIN / "mtls-doctor"), "--help"]
    print(f"start-up: mtls-doctor --help {median_seconds(start_up) * 1000:.1f} ms (target 100)")
    with lab() as (pki, fleet):
        server = fleet.servers["strict"]
        target = server.target
        for label, name in (("accepted", "good-ecdsa"), ("rejected", "expired")):
            ident = pki.identities[name]
            ours = [str(BIN / "mtls-doctor"), "check", "--json", "--offline", target,
                    "--cert", str(ident.pem)]  # fmt: skip
            document = json.loads(subprocess.run(ours, capture_output=True, text=True).stdout)
            print(f"check {label} ({name}): verdict={document['verdict']['cause']}, "
                  f"handshakes={document['handshakes']}, runs={RUNS}")  # fmt: skip
            rows = [(f"mtls-doctor check ({label})", median_seconds(ours))]
            as_text = [word for word in ours if word != "--json"]
            rows.append((f"  the same, text output ({label})", median_seconds(as_text)))
            if openssl:
                peer = [openssl, "s_client", "-connect", target, "-cert", str(ident.crt),
                        "-key", str(ident.key)]  # fmt: skip
                rows.append(("openssl s_client", median_seconds(peer)))
            python = sslyze_python()
            if python is not None:
                sslyze = [str(python), "-c", SSLYZE_SCRIPT, "127.0.0.1", str(server.port)]
                answer = subprocess.run(sslyze, capture_output=True, text=True).stdout.strip()
                rows.append((f"sslyze client-auth detection ({answer})", median_seconds(sslyze)))
            report(rows, rows[0][0])
            print()


if __name__ == "__main__":
    main()
