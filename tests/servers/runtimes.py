"""HTTPS servers written against a language's own TLS stack: Node.js, Go, Java, gRPC.

Servers people write themselves verify client certificates with their
runtime's library (Node's OpenSSL binding, Go's crypto/tls, Java's JSSE),
each with its own alerts and words. Each program here is a few lines, written
into the server's directory at test time (Go's is built there, Java's runs
from source), started through :mod:`tests.servers.real`'s launcher, and
prints one line per refused handshake to its console. The sources are in
``programs/``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.servers.real import RunningServer, ServerStartError, _launch, _Plan, require_binary

#: The programs' sources.
PROGRAMS = Path(__file__).parent / "programs"


def start_node(
    tmp: Path, *, cert: Path, key: Path, ca_file: Path, mode: str = "tls"
) -> RunningServer:
    """Node.js ``https.createServer`` with ``requestCert``.

    ``mode`` "tls": ``rejectUnauthorized: true`` (the TLS layer refuses);
    "app": ``rejectUnauthorized: false`` and the application answers 403
    with ``authorizationError`` in the body, as the common recipe does.
    """
    binary = require_binary("node")
    if mode not in ("tls", "app"):
        raise ValueError(f"mode must be 'tls' or 'app', not {mode!r}")

    def prepare(directory: Path, port: int) -> _Plan:
        app = directory / "server.js"
        app.write_text((PROGRAMS / "server.js").read_text())
        return _Plan(argv=[binary, str(app), str(port), str(cert), str(key), str(ca_file), mode])

    return _launch(f"node-{mode}", tmp, prepare)


def build_go_server(directory: Path) -> Path:
    """Build the Go server into ``directory`` (once per test module); returns the binary."""
    go = require_binary("go")
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROGRAMS / "main.go", directory / "main.go")
    (directory / "go.mod").write_text("module mtlsserver\n\ngo 1.19\n")
    env = {
        "HOME": str(directory),
        "GOCACHE": str(directory / "cache"),
        "GOPATH": str(directory / "gopath"),
        "GOFLAGS": "-mod=mod",
        "GOPROXY": "off",
        "CGO_ENABLED": "0",
        "PATH": "/usr/bin:/bin",
    }
    built = subprocess.run(
        [go, "build", "-o", "server", "."],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if built.returncode != 0:
        raise ServerStartError(f"go build failed:\n{built.stdout}{built.stderr}")
    return directory / "server"


def start_go(tmp: Path, *, binary: Path, cert: Path, key: Path, ca_file: Path) -> RunningServer:
    """The Go server from :func:`build_go_server`: ``tls.RequireAndVerifyClientCert``.

    net/http logs each refused handshake ("http: TLS handshake error from ...").
    """

    def prepare(directory: Path, port: int) -> _Plan:
        return _Plan(argv=[str(binary), str(port), str(cert), str(key), str(ca_file)])

    return _launch("go", tmp, prepare)


def start_java(tmp: Path, *, cert: Path, key: Path, ca_file: Path) -> RunningServer:
    """A JSSE ``SSLServerSocket`` with ``setNeedClientAuth(true)`` answering HTTP 200 "ok".

    Run from source (``java Server.java``); the server key must be EC PKCS#8
    (as the lab's). Each refused handshake is printed with its exception chain.
    """
    binary = require_binary("java")

    def prepare(directory: Path, port: int) -> _Plan:
        source = directory / "Server.java"
        shutil.copy(PROGRAMS / "Server.java", source)
        argv = [binary, "-Djava.net.preferIPv4Stack=true", "-XX:TieredStopAtLevel=1", str(source)]
        return _Plan(argv=[*argv, str(port), str(cert), str(key), str(ca_file)])

    return _launch("java", tmp, prepare)


def start_grpc(tmp: Path, *, cert: Path, key: Path, ca_file: Path) -> RunningServer:
    """A gRPC server (grpcio: gRPC's C core, BoringSSL) with ``require_client_auth=True``.

    It lists no CA names; a refused handshake is logged with BoringSSL's reason
    (GRPC_VERBOSITY=INFO), a served call as ``served: SUBJECT``.
    """

    def prepare(directory: Path, port: int) -> _Plan:
        app = directory / "grpc_server.py"
        app.write_text((PROGRAMS / "grpc_server.py").read_text())
        return _Plan(
            argv=[sys.executable, str(app), str(port), str(cert), str(key), str(ca_file)],
            env={"GRPC_VERBOSITY": "INFO", "PYTHONUNBUFFERED": "1"},
            ready_timeout=30.0,
        )

    return _launch("grpc", tmp, prepare)
