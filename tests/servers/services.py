"""Real non-HTTP TLS services for the tests: Redis, Mosquitto, PostgreSQL, MariaDB, Dovecot.

Same rules as :mod:`tests.servers.real` (whose launcher they use): a fresh
directory under the caller's ``tmp``, 127.0.0.1 only, a free port, stopped
by :meth:`RunningServer.stop`. Each one trusts ``ca_file`` for client
certificates and logs to a file the test can read.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.servers.real import (
    LOOPBACK,
    RunningServer,
    ServerStartError,
    _launch,
    _Plan,
    free_port,
    require_binary,
    write_bundle,
)


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
    plain: bool = False,
) -> RunningServer:
    """``redis-server`` with TLS only (``port 0``), ``tls-auth-clients`` yes/optional/no.

    ``plain``: no TLS at all on the port (a Redis someone points a TLS client at).
    """
    binary = require_binary("redis-server")

    def prepare(directory: Path, port: int) -> _Plan:
        lines = [
            f"port {port}" if plain else "port 0",
            "tls-port 0" if plain else f"tls-port {port}",
            f"bind {LOOPBACK}",
            f"dir {directory}",
            f"logfile {directory / 'redis.log'}",
            "loglevel verbose",  # logs each accepted connection
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
    crl: Path | None = None,
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
        if crl is not None:
            lines.append(f"crlfile {crl}")  # Mosquitto checks the leaf against it
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


def _server_home(
    directory: Path, user: str | None, cert: Path, key: Path, ca_file: Path
) -> tuple[Path, Path, Path, Path]:
    """Where a server that runs as ``user`` keeps its files: (home, cert, CA file, key).

    pytest's tmp is 0700 root, so a server running as another user gets a
    directory of its own (removed at exit), owned by it, with copies of its files.
    """
    home = Path(tempfile.mkdtemp(prefix="mtls-doctor-server-")) if user else directory
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    crt, ca = home / "server.crt", home / "client-ca.pem"
    shutil.copyfile(cert, crt)
    shutil.copyfile(ca_file, ca)
    server_key = _private_copy(home, key)
    if user is not None:
        for path in (home, crt, ca, server_key):
            shutil.chown(path, user)
    return home, crt, ca, server_key


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
        home, crt, ca, server_key = _server_home(directory, user, cert, key, ca_file)
        data = home / "data"
        done = subprocess.run(
            [initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
            capture_output=True,
            text=True,
            check=False,
            user=user,
        )
        if done.returncode != 0:
            raise ServerStartError(f"initdb failed:\n{done.stdout}{done.stderr}")
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nlisten_addresses = '{LOOPBACK}'\nport = {port}\n"
                f"unix_socket_directories = '{home}'\nssl = on\n"
                f"ssl_cert_file = '{crt}'\nssl_key_file = '{server_key}'\n"
                f"ssl_ca_file = '{ca}'\nlogging_collector = off\n"
                "log_connections = on\n"
            )
        (data / "pg_hba.conf").write_text(hba + "\n")
        return _Plan(
            argv=[postgres, "-D", str(data)],
            user=user,
            probe_connect=False,
            ready_text="database system is ready to accept connections",
        )

    return _launch("postgres", tmp, prepare)


def start_dovecot(
    tmp: Path,
    *,
    cert: Path,
    key: Path,
    ca_file: Path,
    implicit_tls: bool = False,
    crls: tuple[Path, ...] = (),
    service: str = "imap",
) -> RunningServer:
    """Dovecot IMAP, SMTP ``submission`` or POP3: STARTTLS on a plain listener, or implicit TLS.

    It asks for a client certificate (``ssl_verify_client_cert``) and
    requires a valid one to log in (``auth_ssl_require_client_cert``).
    ``crls``: added to ``ssl_ca`` with ``ssl_require_crl = yes`` (then
    Dovecot needs a CRL for every CA of the chain).
    """
    binary = require_binary("dovecot")

    def prepare(directory: Path, port: int) -> _Plan:
        d = directory
        for sub in ("run", "state", "mail"):
            (d / sub).mkdir()
        mail = d / "mail"
        if service != "imap":
            # Where the unprivileged post-login process can write (pytest's tmp is 0700 root).
            mail = Path(tempfile.mkdtemp(prefix="mtls-doctor-mail-"))
            atexit.register(shutil.rmtree, mail, ignore_errors=True)
            os.chmod(mail, 0o777)
        if service not in ("imap", "submission", "pop3"):
            raise ValueError(f"service must be 'imap', 'submission' or 'pop3', not {service!r}")
        listener, other = (service + "s", service) if implicit_tls else (service, service + "s")
        submission = (
            [
                "hostname = mail.test",
                f"submission_relay_host = {LOOPBACK}",
                # Only reached after a login; a port nobody was listening on a moment ago.
                f"submission_relay_port = {free_port()}",
            ]
            if service == "submission"
            else []
        )
        trusted = ca_file
        if crls:
            trusted = write_bundle(d / "ca-and-crls.pem", ca_file, *crls)
        conf = d / "dovecot.conf"
        conf.write_text(
            "\n".join(
                [
                    f"base_dir = {d / 'run'}",
                    f"state_dir = {d / 'state'}",
                    f"log_path = {d / 'dovecot.log'}",
                    f"protocols = {service}",
                    *submission,
                    f"listen = {LOOPBACK}",
                    "ssl = yes",
                    f"ssl_cert = <{cert}",
                    f"ssl_key = <{key}",
                    f"ssl_ca = <{trusted}",
                    "ssl_verify_client_cert = yes",
                    f"ssl_require_crl = {'yes' if crls else 'no'}",
                    "auth_ssl_require_client_cert = yes",
                    "auth_verbose = yes",
                    "ssl_cert_username_field = commonName",
                    "auth_ssl_username_from_cert = yes",
                    "auth_mechanisms = external",
                    "disable_plaintext_auth = no",
                    f"mail_location = maildir:{mail}/%u",
                    "passdb {\n  driver = static\n  args = nopassword=y\n}",
                    "userdb {\n  driver = static\n"
                    # submission and pop3 refuse uid 0 for their post-login processes.
                    f"  args = uid={'root' if service == 'imap' else 'nobody'} "
                    f"gid={'root' if service == 'imap' else 'nogroup'} "
                    f"home={mail}/%u\n}}",
                    f"service {service}-login {{",
                    f"  inet_listener {listener} {{\n    port = {port}\n"
                    + ("    ssl = yes\n" if implicit_tls else "")
                    + "  }",
                    f"  inet_listener {other} {{\n    port = 0\n  }}",
                    "  chroot =",
                    "}",
                    "service anvil {\n  chroot =\n}",
                    "first_valid_uid = 0",
                    "",
                ]
            )
        )
        return _Plan(
            argv=[binary, "-F", "-c", str(conf)],
            check=[binary, "-n", "-c", str(conf)],
            error_log=d / "dovecot.log",
            probe_connect=False,
        )

    return _launch("dovecot", tmp, prepare)


def start_slapd(
    tmp: Path,
    *,
    cert: Path,
    key: Path,
    ca_file: Path,
    implicit_tls: bool = False,
    verify_client: str = "demand",
) -> RunningServer:
    """OpenLDAP ``slapd``: StartTLS on ldap://, or ldaps://; ``TLSVerifyClient`` as given."""
    binary = require_binary("slapd")

    def prepare(directory: Path, port: int) -> _Plan:
        d = directory
        (d / "db").mkdir()
        conf = d / "slapd.conf"
        conf.write_text(
            "\n".join(
                [
                    "include /etc/ldap/schema/core.schema",
                    f"pidfile {d / 'slapd.pid'}",
                    f"argsfile {d / 'slapd.args'}",
                    "modulepath /usr/lib/ldap",
                    "moduleload back_mdb",
                    f"TLSCertificateFile {cert}",
                    f"TLSCertificateKeyFile {key}",
                    f"TLSCACertificateFile {ca_file}",
                    f"TLSVerifyClient {verify_client}",
                    "database mdb",
                    'suffix "dc=test"',
                    'rootdn "cn=admin,dc=test"',
                    f"directory {d / 'db'}",
                    "",
                ]
            )
        )
        scheme = "ldaps" if implicit_tls else "ldap"
        return _Plan(
            argv=[binary, "-d", "256", "-f", str(conf), "-h", f"{scheme}://{LOOPBACK}:{port}/"],
            check=[binary, "-T", "test", "-u", "-f", str(conf)],
            probe_connect=False,
        )

    return _launch("slapd", tmp, prepare)


def start_mariadb(
    tmp: Path,
    *,
    cert: Path,
    key: Path,
    ca_file: Path,
    init_sql: str = "",
    plain: bool = False,
) -> RunningServer:
    """MariaDB (``mariadbd``) with TLS on 127.0.0.1; ``init_sql`` runs at start (CREATE USER ...).

    ``plain``: no TLS at all (its greeting does not offer CLIENT_SSL).

    The client CA makes it ask for a certificate; whether one is needed is each
    account's ``REQUIRE``. It logs to its console (``--log-warnings=2``: every
    refused login, each "X509 ... mismatch", each connection that ended before
    a login) and to DIR/general.log (each login and its Quit). Runs as the
    ``mysql`` user when the tests run as root (mariadbd refuses root unless told).
    """
    install = require_binary("mariadb-install-db")
    binary = require_binary("mariadbd")
    user = "mysql" if os.geteuid() == 0 else None

    def prepare(directory: Path, port: int) -> _Plan:
        home, crt, ca, server_key = _server_home(directory, user, cert, key, ca_file)
        init, data = home / "init.sql", home / "data"
        init.write_text(init_sql)
        if user is not None:
            shutil.chown(init, user)
        done = subprocess.run(
            [install, "--no-defaults", f"--datadir={data}", "--skip-test-db"]
            + ([f"--user={user}"] if user else [])
            + ["--auth-root-authentication-method=normal"],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise ServerStartError(f"mariadb-install-db failed:\n{done.stdout}{done.stderr}")
        argv = [
            binary,
            "--no-defaults",
            f"--datadir={data}",
            f"--socket={home / 'mariadb.sock'}",
            f"--pid-file={home / 'mariadb.pid'}",
            f"--bind-address={LOOPBACK}",
            f"--port={port}",
            "--skip-name-resolve",
            "--log-warnings=2",
            "--general-log",
            f"--general-log-file={home / 'general.log'}",
            f"--init-file={init}",
            "--innodb-buffer-pool-size=8M",
        ]
        if not plain:
            argv += [f"--ssl-cert={crt}", f"--ssl-key={server_key}", f"--ssl-ca={ca}"]
        if home != directory:  # where the tests read logs (LogCursor: DIR/*.log)
            (directory / "general.log").symlink_to(home / "general.log")
        return _Plan(
            argv=argv,
            user=user,
            probe_connect=False,
            ready_timeout=30,
            ready_text="ready for connections",  # after --init-file ran: the users exist
        )

    return _launch("mariadb", tmp, prepare)
