"""Real TLS servers for the tests: nginx, Apache httpd, HAProxy and openssl s_server.

The product's knowledge about what servers *do* (nginx answers 400 instead of
alerting, Apache logs AH02276, ...) must be proved against the real programs,
not against our own imitation of them. Every server here:

- runs from a fresh directory under the caller's ``tmp`` (config, logs, pid
  file, temp paths), in the foreground, as a child process of the tests;
- listens on 127.0.0.1 only, on a free port (the start is retried when the
  port was taken between choosing it and binding it);
- is checked (``nginx -t``, ``apache2 -t``, ``haproxy -c``) before it starts,
  is waited for until it accepts connections, and fails loudly with its own
  log in the message;
- is stopped by :meth:`RunningServer.stop` (terminate, then kill), which the
  ``servers`` fixture and the context manager call even when a test fails.

One launcher (:func:`_launch`) does all of that; each ``start_*`` function only
writes its configuration. The ``start_*_config`` variants take a raw block
with a ``{port}`` placeholder, for proofs about hand-written configurations.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Concatenate, ParamSpec, Self

import pytest

LOOPBACK = "127.0.0.1"
#: How often a start is tried when the chosen port was taken meanwhile.
START_ATTEMPTS = 3
#: How long a server may take to accept connections (s).
READY_TIMEOUT = 10.0
#: How long a server may take to exit after SIGTERM before it is killed (s).
STOP_TIMEOUT = 5.0

APACHE_MODULES = Path("/usr/lib/apache2/modules")
#: Where root's PATH may not reach from a virtualenv (Debian puts daemons in sbin).
_EXTRA_PATH = ("/usr/sbin", "/usr/bin", "/sbin", "/bin")

P = ParamSpec("P")


class ServerStartError(RuntimeError):
    """A server failed its config check or did not come up; the message has its log."""


@dataclass
class RunningServer:
    """A started server: where it listens, where it writes, and how to stop it."""

    kind: str
    port: int
    directory: Path
    #: nginx, Apache: DIR/error.log; HAProxy, s_server: the console (they log there).
    error_log: Path | None
    process: subprocess.Popen[bytes] = field(repr=False)
    #: The process's stdout and stderr (s_server and HAProxy log there).
    console: Path = field(repr=False)

    def url(self, path: str = "/") -> str:
        """``https://127.0.0.1:PORT/path``."""
        return f"https://{self.target}/{path.lstrip('/')}"

    @property
    def target(self) -> str:
        """``127.0.0.1:PORT``, the form the CLI takes."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the server process is still alive (checked without reaping it)."""
        return self.process.returncode is None and not _exited(self.process.pid)

    def error_log_text(self) -> str:
        """The server's error log so far ("" when it has none yet)."""
        return _read(self.error_log)

    def console_text(self) -> str:
        """What the process printed so far."""
        return _read(self.console)

    def describe_logs(self) -> str:
        """Console and error log, labelled, for failure messages."""
        parts = [f"--- {self.kind} console ({self.console}) ---\n{self.console_text()}"]
        if self.error_log is not None and self.error_log != self.console:
            parts.append(
                f"--- {self.kind} error log ({self.error_log}) ---\n{self.error_log_text()}"
            )
        return "\n".join(parts)

    def stop(self) -> None:
        """Terminate the server (kill it after STOP_TIMEOUT) and its workers; idempotent."""
        if self.process.returncode is not None:
            return
        pid = self.process.pid
        if not _exited(pid):
            self.process.terminate()
            deadline = time.monotonic() + STOP_TIMEOUT
            while not _exited(pid) and time.monotonic() < deadline:
                time.sleep(0.01)
        # Until it is reaped, the leader's pid (also the id of the group that
        # start_new_session gave it) cannot be reused: killing the group now
        # reaches only this server's own processes, e.g. leftover workers.
        _kill_group(pid)
        self.process.wait()
        _RUNNING.pop(pid, None)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


#: Started and not yet stopped, by pid: stopped at interpreter exit if a caller forgot.
_RUNNING: dict[int, RunningServer] = {}


@atexit.register
def _stop_leftovers() -> None:
    for server in list(_RUNNING.values()):
        server.stop()


class ServerRunner:
    """Starts servers under one directory and stops them all at the end (the fixture)."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.started: list[RunningServer] = []

    def __call__(
        self,
        start: Callable[Concatenate[Path, P], RunningServer],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> RunningServer:
        """``start(tmp, *args, **kwargs)``, remembered for :meth:`stop_all`."""
        server = start(self.tmp, *args, **kwargs)
        self.started.append(server)
        return server

    def stop_all(self) -> None:
        """Stop every server started so far, newest first."""
        while self.started:
            self.started.pop().stop()


def require_binary(name: str) -> str:
    """The path of ``name``; skip the test when it is missing (fail on CI, where it must exist)."""
    search = os.pathsep.join([os.environ.get("PATH", ""), *_EXTRA_PATH])
    path = shutil.which(name, path=search)
    if path is None:
        message = f"{name} is not installed (needed for a real-server test)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago (the kernel's choice for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def write_bundle(dest: Path, *parts: Path) -> Path:
    """Concatenate PEM files into ``dest`` (mode 0600: it may hold a key).

    HAProxy wants certificate and key in one file; CRL checking of a whole
    chain (nginx, Apache "chain") wants every CA's CRL in one file.
    """
    data = b"".join(_with_newline(part.read_bytes()) for part in parts)
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return dest


# --------------------------------------------------------------------------- launcher


@dataclass(frozen=True)
class _Plan:
    """How to run one server from its directory (its config files are written already)."""

    argv: list[str]
    #: Run first; a non-zero exit is a configuration error.
    check: list[str] | None = None
    error_log: Path | None = None
    #: Also connect once before calling it ready (s_server would log the empty connection).
    probe_connect: bool = True
    #: How long it may take to accept connections (a Python process on a loaded machine: more).
    ready_timeout: float = READY_TIMEOUT
    #: Environment variables set for the server (on top of the tests' own).
    env: dict[str, str] = field(default_factory=dict)
    #: Run as this user (servers that refuse to run as root, e.g. PostgreSQL).
    user: str | None = None
    #: Ready only once its logs say this too (PostgreSQL listens before it accepts logins).
    ready_text: str | None = None


def _launch(kind: str, tmp: Path, prepare: Callable[[Path, int], _Plan]) -> RunningServer:
    """Write the config for a free port, check it, start the server and wait until it is up."""
    tmp.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, START_ATTEMPTS + 1):
        directory = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=tmp))
        port = free_port()
        plan = prepare(directory, port)
        if plan.check is not None:
            checked = subprocess.run(
                plan.check,
                cwd=directory,
                capture_output=True,
                text=True,
                check=False,
                env={**os.environ, **plan.env} if plan.env else None,
                user=plan.user,
            )
            if checked.returncode != 0:
                raise ServerStartError(
                    f"{kind} configuration check failed: {' '.join(plan.check)}\n"
                    f"{checked.stdout}{checked.stderr}"
                )
        console = directory / "console.log"
        with console.open("wb") as out:
            process = subprocess.Popen(
                plan.argv,
                cwd=directory,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **plan.env} if plan.env else None,
                user=plan.user,
            )
        server = RunningServer(kind, port, directory, plan.error_log or console, process, console)
        _RUNNING[process.pid] = server
        try:
            _wait_ready(
                server,
                probe_connect=plan.probe_connect,
                timeout=plan.ready_timeout,
                ready_text=plan.ready_text,
            )
        except _PortTakenError:
            server.stop()
            if attempt == START_ATTEMPTS:
                raise ServerStartError(
                    f"{kind}: port taken {START_ATTEMPTS} times in a row\n{server.describe_logs()}"
                ) from None
            continue
        except BaseException:
            server.stop()
            raise
        return server
    raise AssertionError("unreachable")  # pragma: no cover


class _PortTakenError(Exception):
    """The server exited because another process bound its port first."""


def _wait_ready(
    server: RunningServer,
    *,
    probe_connect: bool,
    timeout: float = READY_TIMEOUT,
    ready_text: str | None = None,
) -> None:
    """Until the server process itself listens on its port (and accepts a connection, and
    its logs say ``ready_text``)."""
    deadline = time.monotonic() + timeout
    while True:
        logs = server.describe_logs()
        if "address already in use" in logs.lower():
            # nginx retries bind() for 2.5 s before it gives up: do not wait for that.
            raise _PortTakenError
        if not server.running:
            server.stop()  # reap it, for the exit code
            raise ServerStartError(
                f"{server.kind} exited with code {server.process.returncode} "
                f"before accepting connections\n{server.describe_logs()}"
            )
        if (
            _owns_listener(server.process.pid, server.port)
            and (not probe_connect or _accepts(server.port))
            and (ready_text is None or ready_text in logs)
        ):
            return
        if time.monotonic() > deadline:
            raise ServerStartError(
                f"{server.kind} did not accept connections on {server.target} "
                f"within {timeout:.0f} s\n{server.describe_logs()}"
            )
        time.sleep(0.02)


def _owns_listener(pid: int, port: int) -> bool:
    """Whether ``pid`` holds the socket listening on 127.0.0.1:port.

    A bare connect could reach another process that took the port meanwhile;
    the inode of the LISTEN socket in /proc/net/tcp settles whose it is.
    Without /proc (not Linux), trust the connect.
    """
    try:
        table = Path("/proc/net/tcp").read_text().splitlines()[1:]
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return True
    try:
        # gRPC listens on an IPv6 socket bound to the v4-mapped ::ffff:127.0.0.1.
        table += Path("/proc/net/tcp6").read_text().splitlines()[1:]
    except OSError:
        pass
    # The kernel prints an address as raw 32-bit words, so each in host byte order.
    mapped = socket.inet_pton(socket.AF_INET6, f"::ffff:{LOOPBACK}")
    locals_ = {
        "".join(
            f"{int.from_bytes(packed[i : i + 4], sys.byteorder):08X}"
            for i in range(0, len(packed), 4)
        )
        + f":{port:04X}"
        for packed in (socket.inet_aton(LOOPBACK), mapped)
    }
    inodes = {
        f"socket:[{cols[9]}]"
        for cols in (line.split() for line in table)
        if cols[1] in locals_ and cols[3] == "0A"  # 0A: TCP_LISTEN
    }
    for fd in fds:
        try:
            if os.readlink(fd) in inodes:
                return True
        except OSError:
            continue
    return False


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5):
            return True
    except OSError:
        return False


def _exited(pid: int) -> bool:
    """Whether the child ``pid`` has exited, leaving it unreaped (a zombie keeps its ids)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:  # already reaped
        return True


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _read(path: Path | None) -> str:
    if path is None or not path.exists():
        return ""
    return path.read_text(errors="replace")


def _with_newline(data: bytes) -> bytes:
    return data if data.endswith(b"\n") else data + b"\n"


def _q(path: Path | str) -> str:
    """A path quoted for nginx, Apache and HAProxy configs."""
    return f'"{path}"'


_LISTEN = {
    "nginx": re.compile(r"(?:^|[{;])\s*listen\s+([^\s;]+)", re.MULTILINE),
    "apache": re.compile(r"^\s*(?:Listen|<VirtualHost)\s+([^\s>]+)", re.MULTILINE | re.IGNORECASE),
    "haproxy": re.compile(r"^\s*bind\s+(\S+)", re.MULTILINE),
}


def _loopback_only(kind: str, block: str) -> str:
    """Refuse a raw block that would listen anywhere but 127.0.0.1."""
    addresses = _LISTEN[kind].findall(block)
    if not addresses:
        raise ValueError(f"{kind} block listens nowhere; use {LOOPBACK}:{{port}}")
    wrong = [a for a in addresses if not a.startswith(f"{LOOPBACK}:")]
    if wrong:
        raise ValueError(f"{kind} block must listen on {LOOPBACK}:{{port}} only, not {wrong}")
    return block


def _directive(name: str, value: object | None, end: str = "") -> str:
    """``name value`` (a path quoted), or "" when value is None."""
    if value is None:
        return ""
    return f"{name} {_q(value) if isinstance(value, Path) else value}{end}"


def _indented(lines: list[str], indent: str = "    ") -> str:
    return "\n".join(indent + line for line in lines if line)


# --------------------------------------------------------------------------- nginx


def start_nginx(
    tmp: Path,
    *,
    cert: Path,
    key: Path,
    verify_client: str | None = "on",
    client_certificate: Path | None = None,
    trusted_certificate: Path | None = None,
    verify_depth: int | None = None,
    crl: Path | None = None,
    protocols: str = "TLSv1.2 TLSv1.3",
    extra_server: str = "",
    location: str | None = None,
    stream: bool = False,
) -> RunningServer:
    """nginx with one TLS server block.

    ``verify_client``: "on" | "optional" | "optional_no_ca" | None (no client
    auth). ``client_certificate`` is trusted *and* advertised as acceptable CA
    names; ``trusted_certificate`` is trusted only. ``crl`` must hold a CRL
    for every CA of the chain (nginx checks them all). ``location`` is the
    body of ``location /`` (default: ``return 200 "ok\\n";``). ``stream``:
    the same ``server`` in nginx's ``stream`` module (a TCP proxy), whose
    ``return`` writes a canned HTTP 200 answer once a client is let in.
    """
    directives = [
        f"listen {LOOPBACK}:{{port}} ssl;",
        _directive("ssl_certificate", cert, ";"),
        _directive("ssl_certificate_key", key, ";"),
        _directive("ssl_protocols", protocols, ";"),
        _directive("ssl_verify_client", verify_client, ";"),
        _directive("ssl_client_certificate", client_certificate, ";"),
        _directive("ssl_trusted_certificate", trusted_certificate, ";"),
        _directive("ssl_verify_depth", verify_depth, ";"),
        _directive("ssl_crl", crl, ";"),
        extra_server,
    ]
    if stream:
        directives.append(_STREAM_ANSWER)
    else:
        directives += [
            "location / {",
            "    " + (location if location is not None else 'return 200 "ok\\n";'),
            "}",
        ]
    block = "server {\n" + _indented(directives) + "\n}"
    return start_nginx_config(tmp, block, context="stream" if stream else "http")


#: What a ``stream`` server answers a client it lets in (whatever it sends): HTTP 200.
_STREAM_ANSWER = (
    'return "HTTP/1.1 200 OK\\r\\nContent-Length: 3\\r\\nConnection: close\\r\\n\\r\\nok\\n";'
)
#: Debian builds nginx's stream module as a dynamic module (package libnginx-mod-stream).
_STREAM_MODULE = Path("/usr/lib/nginx/modules/ngx_stream_module.so")


def start_nginx_config(tmp: Path, server_block: str, context: str = "http") -> RunningServer:
    """nginx with a raw ``server { ... }`` block; ``{port}`` is replaced by the port.

    The block must ``listen 127.0.0.1:{port} ssl;``. The error log is at
    level info, where nginx reports client-certificate verify failures.
    ``context``: "http", or "stream" (the TCP proxy module, loaded for it).
    """
    binary = require_binary("nginx")
    _loopback_only("nginx", server_block)
    if context == "stream" and not _STREAM_MODULE.exists():
        raise ServerStartError(f"nginx's stream module is not installed ({_STREAM_MODULE})")

    def prepare(directory: Path, port: int) -> _Plan:
        d = directory
        conf = d / "nginx.conf"
        block = server_block.replace("{port}", str(port))
        if context == "stream":
            body = f"stream {{\n{block}\n}}\n"
        else:
            body = f"""http {{
    default_type text/plain;
    access_log {_q(d / "access.log")};
    client_body_temp_path {_q(d / "client_body")};
    proxy_temp_path {_q(d / "proxy")};
    fastcgi_temp_path {_q(d / "fastcgi")};
    uwsgi_temp_path {_q(d / "uwsgi")};
    scgi_temp_path {_q(d / "scgi")};

{block}
}}
"""
        module = f"load_module {_q(_STREAM_MODULE)};\n" if context == "stream" else ""
        conf.write_text(
            f"""# written by tests/servers/real.py
{module}user root;
worker_processes 1;
pid {_q(d / "nginx.pid")};
error_log {_q(d / "error.log")} info;
events {{
    worker_connections 64;
}}
{body}"""
        )
        base = [binary, "-p", f"{d}/", "-c", str(conf), "-e", str(d / "error.log")]
        return _Plan(
            argv=[*base, "-g", "daemon off;"],
            check=[*base, "-t", "-q"],
            error_log=d / "error.log",
        )

    return _launch("nginx", tmp, prepare)


# --------------------------------------------------------------------------- Apache httpd


def start_apache(
    tmp: Path,
    *,
    cert: Path,
    key: Path,
    verify_client: str | None = "require",
    ca_file: Path | None = None,
    ca_dn_file: Path | None = None,
    verify_depth: int | None = None,
    crl: Path | None = None,
    protocols: str = "all -SSLv3 -TLSv1 -TLSv1.1",
    extra_vhost: str = "",
) -> RunningServer:
    """Apache httpd (mod_ssl) with one TLS virtual host.

    ``verify_client``: "require" | "optional" | "optional_no_ca" | None
    (``SSLVerifyClient none``). ``ca_dn_file`` overrides the advertised CA
    names. ``crl`` turns on ``SSLCARevocationCheck chain``: it must hold a CRL
    for every CA of the chain. ``verify_depth`` None keeps Apache's default
    of 1, which rejects a leaf issued by an intermediate under the trusted
    root (AH02040 "Certificate Chain too long", alert internal_error): pass 2
    for the lab.
    """
    directives = [
        "SSLEngine on",
        _directive("SSLCertificateFile", cert),
        _directive("SSLCertificateKeyFile", key),
        _directive("SSLProtocol", protocols),
        _directive("SSLVerifyClient", verify_client or "none"),
        _directive("SSLCACertificateFile", ca_file),
        _directive("SSLCADNRequestFile", ca_dn_file),
        _directive("SSLVerifyDepth", verify_depth),
        _directive("SSLCARevocationFile", crl),
        _directive("SSLCARevocationCheck", crl and "chain"),
        extra_vhost,
    ]
    block = f"<VirtualHost {LOOPBACK}:{{port}}>\n{_indented(directives)}\n</VirtualHost>"
    return start_apache_config(tmp, block)


def start_apache_config(tmp: Path, vhost_block: str) -> RunningServer:
    """Apache httpd with a raw ``<VirtualHost 127.0.0.1:{port}>`` block.

    Every URL answers 200 "ok" unless the vhost says otherwise: the main
    config maps all URLs to /dev/null and a ``<Location />`` rewrite returns
    200 with ``ErrorDocument 200 "ok"``. This runs after the access hooks, so
    a per-``<Location>`` ``SSLVerifyClient`` (renegotiation / post-handshake
    auth) still applies; and the workers (www-data) never need to read the
    0700 pytest directory.
    """
    binary = require_binary("apache2")
    _loopback_only("apache", vhost_block)
    modules = ("mpm_event", "authz_core", "alias", "rewrite", "socache_shmcb", "ssl")

    def prepare(directory: Path, port: int) -> _Plan:
        d = directory
        conf = d / "httpd.conf"
        loads = "\n".join(
            f"LoadModule {name}_module {_q(APACHE_MODULES / f'mod_{name}.so')}" for name in modules
        )
        conf.write_text(
            f"""# written by tests/servers/real.py
ServerRoot {_q(d)}
ServerName {LOOPBACK}
{loads}
PidFile {_q(d / "httpd.pid")}
DefaultRuntimeDir {_q(d)}
Mutex file:{d} default
ErrorLog {_q(d / "error.log")}
LogLevel info ssl:info
User www-data
Group www-data
Listen {LOOPBACK}:{port}
SSLSessionCache "shmcb:{d}/ssl_scache(512000)"
StartServers 1
AliasMatch "^" "/dev/null"
<Location />
    RewriteEngine on
    RewriteRule ^ - [R=200,L]
    ErrorDocument 200 "ok"
</Location>

{vhost_block.replace("{port}", str(port))}
"""
        )
        base = [binary, "-f", str(conf)]
        return _Plan(
            argv=[*base, "-DFOREGROUND"],
            check=[*base, "-t"],
            error_log=d / "error.log",
        )

    return _launch("apache", tmp, prepare)


# --------------------------------------------------------------------------- HAProxy


def start_haproxy(
    tmp: Path,
    *,
    cert_and_key_pem: Path,
    verify: str | None = "required",
    ca_file: Path | None = None,
    ca_verify_file: Path | None = None,
    crl_file: Path | None = None,
    extra_bind: str = "",
) -> RunningServer:
    """HAProxy with one TLS frontend answering 200 "ok\\n" itself (no backend).

    ``verify``: "required" | "optional" | "none" | None (no ``verify``
    keyword: HAProxy's default, none). ``ca_file`` is trusted and advertised;
    ``ca_verify_file`` is trusted only. ``cert_and_key_pem``: see
    :func:`write_bundle`.
    """
    keywords = [
        f"bind {LOOPBACK}:{{port}} ssl",
        _directive("crt", cert_and_key_pem),
        _directive("verify", verify),
        _directive("ca-file", ca_file),
        _directive("ca-verify-file", ca_verify_file),
        _directive("crl-file", crl_file),
        extra_bind,
    ]
    response = 'http-request return status 200 content-type text/plain string "ok\\n"'
    block = _indented(["frontend mtls", " ".join(k for k in keywords if k), response])
    return start_haproxy_config(tmp, block)


def start_haproxy_config(tmp: Path, frontend_block: str) -> RunningServer:
    """HAProxy with a raw ``frontend`` section; ``{port}`` is replaced by the port.

    HAProxy has no error log file: it logs (``option httplog``, including
    TLS handshake failures) to stderr, so ``error_log`` is the console.
    """
    binary = require_binary("haproxy")
    _loopback_only("haproxy", frontend_block)

    def prepare(directory: Path, port: int) -> _Plan:
        d = directory
        conf = d / "haproxy.cfg"
        conf.write_text(
            f"""# written by tests/servers/real.py
global
    log stderr format short local0 info
    pidfile {_q(d / "haproxy.pid")}

defaults
    mode http
    log global
    option httplog
    timeout connect 5s
    timeout client 10s
    timeout server 10s

{frontend_block.replace("{port}", str(port))}
"""
        )
        return _Plan(argv=[binary, "-f", str(conf), "-db"], check=[binary, "-c", "-f", str(conf)])

    return _launch("haproxy", tmp, prepare)


# --------------------------------------------------------------------------- openssl s_server


def start_s_server(
    tmp: Path,
    *,
    cert: Path,
    key: Path,
    ca_file: Path | None = None,
    verify: str | None = "require",
    tls: str | None = None,
    no_ca_names: bool = False,
    crl: Path | None = None,
) -> RunningServer:
    """``openssl s_server -www``: the reference OpenSSL behaviour, alerts and all.

    ``verify``: "require" (``-Verify 5``: no certificate is fatal) | "request"
    (``-verify 5``) | None. Both add ``-verify_return_error`` (without it
    s_server only logs verify errors and accepts anyway). ``tls``: "1.2" |
    "1.3" | None (both). ``ca_file`` is trusted and advertised unless
    ``no_ca_names``. ``crl``: leaf-only CRL check (``-crl_check``; s_server
    reads the first CRL of the file). A ``cert`` file holding a chain is
    split so the chain is sent. Verify results are on the console.
    """
    binary = require_binary("openssl")
    if verify not in ("require", "request", None):
        raise ValueError(f"verify must be 'require', 'request' or None, not {verify!r}")
    if tls not in ("1.2", "1.3", None):
        raise ValueError(f"tls must be '1.2', '1.3' or None, not {tls!r}")

    def prepare(directory: Path, port: int) -> _Plan:
        argv = [binary, "s_server", "-accept", f"{LOOPBACK}:{port}", "-www"]
        argv += ["-cert", str(cert), "-key", str(key)]
        chain = _pem_blocks(cert.read_text())[1:]
        if chain:
            chain_file = directory / "chain.pem"
            chain_file.write_text("".join(chain))
            argv += ["-cert_chain", str(chain_file)]
        if ca_file is not None:
            argv += ["-CAfile", str(ca_file)]
        if verify is not None:
            argv += ["-Verify" if verify == "require" else "-verify", "5", "-verify_return_error"]
        if tls is not None:
            argv.append("-tls1_3" if tls == "1.3" else "-tls1_2")
        if no_ca_names:
            argv.append("-no_ca_names")
        if crl is not None:
            argv += ["-crl_check", "-CRL", str(crl)]
        return _Plan(argv=argv, probe_connect=False)

    return _launch("s_server", tmp, prepare)


_PEM_CERT = re.compile(
    r"-----BEGIN CERTIFICATE-----\r?\n.*?-----END CERTIFICATE-----\r?\n?", re.DOTALL
)


def _pem_blocks(text: str) -> list[str]:
    return [_with_newline(m.encode()).decode() for m in _PEM_CERT.findall(text)]


# --------------------------------------------------------------------------- exporter, Prometheus


def start_exporter(tmp: Path, *args: str) -> RunningServer:
    """``mtls-doctor exporter ARGS --listen 127.0.0.1:PORT`` as a separate process."""

    def prepare(directory: Path, port: int) -> _Plan:
        argv = [sys.executable, "-m", "mtls_doctor", "exporter", *args]
        return _Plan(argv=[*argv, "--listen", f"{LOOPBACK}:{port}"], ready_timeout=60)

    return _launch("exporter", tmp, prepare)


def start_prometheus(
    tmp: Path, *, scrape: list[str], rules: Path | None = None, interval: str = "1s"
) -> RunningServer:
    """Debian's ``prometheus`` scraping ``scrape`` (``host:port`` targets) every ``interval``.

    Its configuration and TSDB are in its own directory; it listens on
    127.0.0.1 only. ``promtool check config`` runs first.
    """
    binary = require_binary("prometheus")
    promtool = require_binary("promtool")

    def prepare(directory: Path, port: int) -> _Plan:
        config = directory / "prometheus.yml"
        lines = [
            "global:",
            f"  scrape_interval: {interval}",
            f"  evaluation_interval: {interval}",
        ]
        if rules is not None:
            lines += ["rule_files:", f"  - {_q(rules)}"]
        lines += [
            "scrape_configs:",
            "  - job_name: mtls-doctor",
            "    static_configs:",
            "      - targets: [" + ", ".join(f'"{t}"' for t in scrape) + "]",
        ]
        config.write_text("\n".join(lines) + "\n")
        argv = [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address={LOOPBACK}:{port}",
            "--log.level=warn",
        ]
        return _Plan(argv=argv, check=[promtool, "check", "config", str(config)], ready_timeout=60)

    return _launch("prometheus", tmp, prepare)
