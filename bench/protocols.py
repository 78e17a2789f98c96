"""Benchmark: ``check`` on non-HTTP services, and the cost of the TLS-only grace period.

Whole-process wall time, median of several runs, same machine, same run:
``check rediss://`` (PING) against ``redis-cli --tls PING``; ``check`` on the
same Redis as a bare host:port (TLS only: after a TLS 1.3 handshake it waits
up to 1 s for the server's alert or close, or 0.3 s after a session ticket,
which a server that judges after the handshake, like nginx's stream module,
sends before it closes); ``check postgres://`` (SSLRequest + StartupMessage) and
``check imap://`` (STARTTLS + AUTHENTICATE EXTERNAL) and ``check mysql://``
(greeting, SSLRequest, login of a REQUIRE X509 account, against the mariadb
client doing the same) on real servers.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from tempfile import TemporaryDirectory

from _common import BIN, RUNS, median_seconds, report

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.servers.real import ServerRunner
from tests.servers.services import start_dovecot, start_mariadb, start_postgres, start_redis

from mtls_doctor.lab.pki import build_lab_pki


def main() -> None:
    with TemporaryDirectory(prefix="mtls-bench-") as scratch:
        pki = build_lab_pki(Path(scratch) / "lab")
        runner = ServerRunner(Path(scratch) / "servers")
        served = {
            "cert": pki.server_pem,
            "key": pki.server_key_file,
            "ca_file": pki.client_ca_bundle,
        }
        try:
            redis = runner(start_redis, **served)
            postgres = runner(start_postgres, **served)
            imap = runner(start_dovecot, **served)
            mariadb = runner(start_mariadb, **served, init_sql="CREATE USER x509 REQUIRE X509;")
            ident = pki.identities["good-rsa"]
            cert = ["--cert", str(ident.pem), "--no-revocation"]
            check = [str(BIN / "mtls-doctor"), "check"]
            rows = [
                ("check rediss://", median_seconds([*check, f"rediss://{redis.target}", *cert])),
                ("check host:port (TLS only)", median_seconds([*check, redis.target, *cert])),
                (
                    "check postgres://",
                    median_seconds([*check, f"postgres://{postgres.target}", *cert]),
                ),
                ("check imap://", median_seconds([*check, f"imap://{imap.target}", *cert])),
                (
                    "check mysql://",
                    median_seconds([*check, f"mysql://x509@{mariadb.target}", *cert]),
                ),
            ]
            redis_cli = shutil.which("redis-cli")
            if redis_cli and ident.key is not None:
                host, port = redis.target.split(":")
                peer = [redis_cli, "-h", host, "-p", port, "--tls", "--insecure",
                        "--cert", str(ident.crt), "--key", str(ident.key), "PING"]  # fmt: skip
                rows.append(("redis-cli --tls PING", median_seconds(peer)))
            client = shutil.which("mariadb")
            if client and ident.key is not None:
                host, port = mariadb.target.split(":")
                mysql = [client, "-h", host, "-P", port, "-u", "x509", "-e", "DO 1",
                         "--ssl-cert", str(ident.crt), "--ssl-key", str(ident.key)]  # fmt: skip
                rows.append(("mariadb --ssl-cert (login)", median_seconds(mysql)))
            print(f"runs={RUNS}")
            report(rows, "check rediss://")
        finally:
            runner.stop_all()


if __name__ == "__main__":
    main()
