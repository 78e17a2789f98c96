"""Real non-HTTP TLS services for the tests: Redis, Mosquitto, PostgreSQL, Dovecot.

Same rules as :mod:`tests.servers.real` (whose launcher they use): a fresh
directory under the caller's ``tmp``, 127.0.0.1 only, a free port, stopped
by :meth:`RunningServer.stop`. Each one trusts ``ca_file`` for client
certificates and logs to a file the test can read.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.servers.real import LOOPBACK, RunningServer, _launch, _Plan, require_binary


def _private_copy(directory: Path, key: Path, name: str = "server.key") -> Path:
    """The key copied with mode 0600 (PostgreSQL refuses a key others can read)."""
    dest = directory / name
    shutil.copyfile(key, dest)
    os.chmod(dest, 0o600)
    return dest


def start_redis(
    tmp: Path,
    *,
    cert: Path,
    key: Path,
    ca_file: Path,
    auth_clients: str = "yes",
    password: str | None = None,
) -> RunningServer:
    """``redis-server`` with TLS only (``port 0``), ``tls-auth-clients`` yes/optional/no."""
    binary = require_binary("redis-server")

    def prepare(directory: Path, port: int) -> _Plan:
        lines = [
            "port 0",
            f"tls-port {port}",
            f"bind {LOOPBACK}",
            f"dir {directory}",
            f"logfile {directory / 'redis.log'}",
            'save ""',
            "appendonly no",
            "daemonize no",
            f"tls-cert-file {cert}",
            f"tls-key-file {key}",
            f"tls-ca-cert-file {ca_file}",
            f"tls-auth-clients {auth_clients}",
        ]
        if password is not None:
            lines.append(f"requirepass {password}")
        (directory / "redis.conf").write_text("\n".join(lines) + "\n")
        return _Plan(
            argv=[binary, str(directory / "redis.conf")],
            error_log=directory / "redis.log",
            probe_connect=False,
        )

    return _launch("redis", tmp, prepare)


def start_mosquitto(
    tmp: Path,
    *,
    cert: Path,
    key: Path,
    ca_file: Path,
    require_certificate: bool = True,
    identity_as_username: bool = True,
    acl_denies_all: bool = False,
) -> RunningServer:
    """Mosquitto with a TLS listener; the certificate's CN is the user name when asked."""
    binary = require_binary("mosquitto")

    def prepare(directory: Path, port: int) -> _Plan:
        lines = [
            "per_listener_settings true",
            f"listener {port} {LOOPBACK}",
            f"cafile {ca_file}",
            f"certfile {cert}",
            f"keyfile {key}",
            f"require_certificate {'true' if require_certificate else 'false'}",
            f"use_identity_as_username {'true' if identity_as_username else 'false'}",
            "allow_anonymous false",
            "persistence false",
            "log_dest file " + str(directory / "mosquitto.log"),
            "log_type all",
            "user root",
        ]
        if acl_denies_all:
            # A password file no certificate name is in: every client is "not authorized".
            (directory / "passwords").write_text("")
            lines.append(f"password_file {directory / 'passwords'}")
            lines[lines.index("use_identity_as_username true")] = "use_identity_as_username false"
        (directory / "mosquitto.conf").write_text("\n".join(lines) + "\n")
        return _Plan(
            argv=[binary, "-c", str(directory / "mosquitto.conf")],
            error_log=directory / "mosquitto.log",
            probe_connect=False,
        )

    return _launch("mosquitto", tmp, prepare)


_PG_BIN = Path("/usr/lib/postgresql")


def _pg_binary(name: str) -> str:
    versions = sorted(_PG_BIN.glob(f"*/bin/{name}"), reverse=True)
    return str(versions[0]) if versions else require_binary(name)


def start_postgres(
    tmp: Path,
    *,
    cert: Path,
    key: Path,
    ca_file: Path,
    hba: str = "hostssl all all 127.0.0.1/32 cert",
) -> RunningServer:
    """PostgreSQL with TLS; ``hba`` is the pg_hba.conf line (default: ``cert`` authentication).

    Runs as the ``postgres`` user when the tests run as root (PostgreSQL refuses root).
    """
    initdb = _pg_binary("initdb")
    postgres = _pg_binary("postgres")
    user = "postgres" if os.geteuid() == 0 else None

    def prepare(directory: Path, port: int) -> _Plan:
        data = directory / "data"
        if user is not None:
            shutil.chown(directory, user)
            for path in (cert, ca_file):
                shutil.copyfile(path, directory / path.name)
                shutil.chown(directory / path.name, user)
        server_key = _private_copy(directory, key)
        if user is not None:
            shutil.chown(server_key, user)
        subprocess.run(
            [initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
            check=True,
            capture_output=True,
            user=user,
        )
        crt = directory / cert.name if user else cert
        ca = directory / ca_file.name if user else ca_file
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nlisten_addresses = '{LOOPBACK}'\nport = {port}\n"
                f"unix_socket_directories = '{directory}'\nssl = on\n"
                f"ssl_cert_file = '{crt}'\nssl_key_file = '{server_key}'\n"
                f"ssl_ca_file = '{ca}'\nlogging_collector = off\n"
                "log_connections = on\n"
            )
        (data / "pg_hba.conf").write_text(hba + "\n")
        return _Plan(argv=[postgres, "-D", str(data)], user=user, probe_connect=False)

    return _launch("postgres", tmp, prepare)
