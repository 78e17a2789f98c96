"""``explain`` on gnutls-serv's own log lines, captured live.

gnutls-serv listens on every interface and has no option to listen on
loopback only, so it runs in a network namespace of its own (``unshare
--net``, which needs root, as CI has): inside it only a loopback exists, and
gnutls-cli presents each lab identity to it there. Every "Error in handshake"
line gnutls-serv prints must be explained with the identity's cause.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mtls_doctor.causes import Cause
from mtls_doctor.knowledge import explain
from mtls_doctor.lab.pki import LabPKI
from tests.servers.real import require_binary, write_bundle

pytestmark = pytest.mark.realserver

#: gnutls-serv does not check the extended key usage: no-client-auth is accepted.
IDENTITIES = ["expired", "not-yet-valid", "revoked", "untrusted", "rotated",
              "missing-intermediate", "none"]  # fmt: skip

#: Runs inside the namespace: loopback up, gnutls-serv on a free port, one
#: gnutls-cli per identity, the server's new output lines after each.
HELPER = r"""
import json, socket, subprocess, sys, time
serv, cli, cert, key, ca, crl, plan = sys.argv[1:8]
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
with socket.socket() as sock:
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
log = open("serv.log", "wb")
server = subprocess.Popen(
    [serv, "--http", "-p", str(port), "--x509certfile", cert, "--x509keyfile", key,
     "--x509cafile", ca, "--x509crlfile", crl, "--require-client-cert", "--verify-client-cert"],
    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
try:
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    time.sleep(0.2)
    out = {}
    for name, files in json.loads(plan).items():
        before = len(open("serv.log", "rb").read())
        argv = [cli, "--x509cafile", ca, "-p", str(port), "127.0.0.1"]
        if files:
            argv += ["--x509certfile", files[0], "--x509keyfile", files[1]]
        subprocess.run(argv, input=b"GET / HTTP/1.0\r\n\r\n", capture_output=True, timeout=20)
        time.sleep(0.3)
        text = open("serv.log", "rb").read()[before:].decode(errors="replace")
        out[name] = [ln for ln in text.splitlines() if ln.startswith("Error in handshake")]
    print(json.dumps(out))
finally:
    server.terminate()
    server.wait(timeout=10)
"""


def _namespaces_available() -> bool:
    if os.geteuid() != 0 or not (shutil.which("unshare") and shutil.which("ip")):
        return False
    done = subprocess.run(
        ["unshare", "--net", "--fork", "true"], capture_output=True, timeout=10, check=False
    )
    return done.returncode == 0


def test_gnutls_serv_rejections_are_explained(live_lab: LabPKI, tmp_path: Path) -> None:
    serv, cli = require_binary("gnutls-serv"), require_binary("gnutls-cli")
    if not _namespaces_available():
        if os.environ.get("CI"):
            pytest.fail("CI runs as root: unshare --net must work")
        pytest.skip("needs root and unshare --net (gnutls-serv listens on every interface)")
    lab = live_lab
    crls = write_bundle(tmp_path / "crls.pem", lab.directory / "ca" / "root.crl.pem", lab.crl_file)
    plan = {
        name: None if name == "none" else [str(lab.identities[name].crt),
                                           str(lab.identities[name].key)]
        for name in IDENTITIES
    }  # fmt: skip
    script = tmp_path / "helper.py"
    script.write_text(HELPER)
    done = subprocess.run(
        ["unshare", "--net", "--fork", sys.executable, str(script), serv, cli,
         str(lab.server_pem), str(lab.server_key_file), str(lab.client_ca_bundle), str(crls),
         json.dumps(plan)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    captured: dict[str, list[str]] = json.loads(done.stdout)
    for name in IDENTITIES:
        cause = Cause.NO_CERTIFICATE_SENT if name == "none" else lab.identities[name].expected
        lines = captured[name]
        assert lines, f"gnutls-serv / {name}: nothing captured"
        for line in lines:
            result = explain(line)
            assert result.known, f"gnutls-serv / {name}: not explained: {line!r}"
            causes = [c for m in result.matches for c in m.causes]
            assert cause in causes, f"gnutls-serv / {name}: {cause} not in {causes}: {line!r}"
