"""More real HTTPS servers for the tests: lighttpd, stunnel, Caddy (Debian's packages).

Same rules as :mod:`tests.servers.real` (whose launcher they use): a fresh
directory under the caller's ``tmp``, 127.0.0.1 only, a free port, the
configuration checked before the start where the server can check it, and
stopped by :meth:`RunningServer.stop`. Each one requires a client
certificate issued under ``ca_file`` and logs why it refused one.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tests.servers.real import LOOPBACK, RunningServer, _launch, _Plan, _q, require_binary


def start_lighttpd(
    tmp: Path,
    *,
    cert: Path,
    key: Path,
    ca_file: Path,
    tls_module: str = "openssl",
    ca_dn_file: Path | None = None,
    crl: Path | None = None,
    enforce: bool = True,
    verify_depth: int = 3,
) -> RunningServer:
    """lighttpd with ``ssl.verifyclient.enforce``, its TLS from ``mod_openssl`` or ``mod_gnutls``.

    ``ca_file`` is trusted (``ssl.ca-file``); lighttpd advertises the names
    of ``ca_dn_file`` (``ssl.ca-dn-file``) and, without one, mod_openssl
    advertises ``ca_file``'s while mod_gnutls advertises none. Every URL
    answers 200 "ok" (a static index page); each response's header is logged.
    ``enforce=False``: ``ssl.verifyclient.enforce = "disable"``. The file is
    ``lighttpd.conf`` in the server's directory (``lint-server`` reads it).
    """
    binary = require_binary("lighttpd")
    if tls_module not in ("openssl", "gnutls"):
        raise ValueError(f"tls_module must be 'openssl' or 'gnutls', not {tls_module!r}")

    def prepare(directory: Path, port: int) -> _Plan:
        d = directory
        (d / "www").mkdir()
        (d / "www" / "index.html").write_text("ok\n")
        extra = [f"ssl.ca-dn-file = {_q(ca_dn_file)}"] if ca_dn_file else []
        extra += [f"ssl.ca-crl-file = {_q(crl)}"] if crl else []
        conf = d / "lighttpd.conf"
        conf.write_text(
            "\n".join(
                [
                    "# written by tests/servers/web.py",
                    f'server.modules = ("mod_{tls_module}")',
                    # The error log is written at once (the access log is buffered).
                    'debug.log-response-header = "enable"',
                    f"server.document-root = {_q(d / 'www')}",
                    f'server.bind = "{LOOPBACK}"',
                    f"server.port = {port}",
                    f"server.errorlog = {_q(d / 'error.log')}",
                    f"server.upload-dirs = ({_q(d)})",
                    'index-file.names = ("index.html")',
                    'ssl.engine = "enable"',
                    f"ssl.pemfile = {_q(cert)}",
                    f"ssl.privkey = {_q(key)}",
                    f"ssl.ca-file = {_q(ca_file)}",
                    'ssl.verifyclient.activate = "enable"',
                    f'ssl.verifyclient.enforce = "{"enable" if enforce else "disable"}"',
                    f"ssl.verifyclient.depth = {verify_depth}",
                    'debug.log-ssl-noise = "enable"',
                    *extra,
                    "",
                ]
            )
        )
        base = [binary, "-f", str(conf), "-m", "/usr/lib/lighttpd"]
        return _Plan(argv=[*base, "-D"], check=[*base, "-tt"], error_log=d / "error.log")

    return _launch(f"lighttpd-{tls_module}", tmp, prepare)


def start_http_backend(tmp: Path) -> RunningServer:
    """A plain-HTTP server on 127.0.0.1 (Python's ``http.server``) answering "ok".

    The application behind a TLS terminator such as stunnel.
    """

    def prepare(directory: Path, port: int) -> _Plan:
        (directory / "www").mkdir()
        (directory / "www" / "index.html").write_text("ok\n")
        argv = [sys.executable, "-m", "http.server", "--bind", LOOPBACK]
        return _Plan(argv=[*argv, "--directory", str(directory / "www"), str(port)])

    return _launch("http-backend", tmp, prepare)


def start_stunnel(
    tmp: Path,
    *,
    cert: Path,
    key: Path,
    ca_file: Path,
    backend: int,
    crl: Path | None = None,
) -> RunningServer:
    """stunnel accepting TLS (``verifyChain``, ``requireCert``) in front of 127.0.0.1:``backend``.

    It logs each verify failure and each accepted connection (``debug = info``)
    to its console.
    """
    binary = require_binary("stunnel4")

    def prepare(directory: Path, port: int) -> _Plan:
        conf = directory / "stunnel.conf"
        lines = [
            "; written by tests/servers/web.py",
            "foreground = yes",
            "pid =",
            "debug = info",
            "[service]",
            f"accept = {LOOPBACK}:{port}",
            f"connect = {LOOPBACK}:{backend}",
            f"cert = {cert}",
            f"key = {key}",
            f"CAfile = {ca_file}",
            "verifyChain = yes",
            "requireCert = yes",
        ]
        if crl is not None:
            lines.append(f"CRLfile = {crl}")
        conf.write_text("\n".join(lines) + "\n")
        return _Plan(argv=[binary, str(conf)])

    return _launch("stunnel", tmp, prepare)


def start_caddy(
    tmp: Path, *, cert: Path, key: Path, ca_file: Path, names: tuple[str, ...]
) -> RunningServer:
    """Caddy with one site for ``names`` (host names or IPs) and ``client_auth require_and_verify``.

    The site answers 200 "ok" and logs requests to ``access.log``. Caddy
    logs TLS handshake errors at debug level (to its console, JSON lines).
    ``HOME`` and the XDG directories point into the server's directory so
    Caddy writes nothing elsewhere.
    """
    binary = require_binary("caddy")

    def prepare(directory: Path, port: int) -> _Plan:
        d = directory
        sites = ", ".join(f"https://{name}:{port}" for name in names)
        conf = d / "Caddyfile"
        conf.write_text(
            f"""# written by tests/servers/web.py
{{
    debug
    admin off
    auto_https disable_redirects
    skip_install_trust
    storage file_system {d / "data"}
}}
{sites} {{
    bind {LOOPBACK}
    tls {cert} {key} {{
        client_auth {{
            mode require_and_verify
            trusted_ca_cert_file {ca_file}
        }}
    }}
    log {{
        output file {d / "access.log"}
    }}
    respond "ok" 200
}}
"""
        )
        base = [binary, "run", "--config", str(conf), "--adapter", "caddyfile"]
        home = str(d / "home")
        env = {"HOME": home, "XDG_DATA_HOME": home, "XDG_CONFIG_HOME": home}
        return _Plan(argv=base, check=[binary, "validate", *base[2:]], env=env)

    return _launch("caddy", tmp, prepare)
