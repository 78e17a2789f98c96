"""Configuration formats ``lint-server`` does not read yet, recognised so it can say so.

A Caddyfile or a redis.conf handed to the nginx/Apache/HAProxy/lighttpd detector
would be scored as the closest known format and fail with a parse error of
that format, which reads as "your file is broken". Each format here has a
few lines only it writes; two distinct ones (or its usual file name and
one) are enough to name it.
"""

from __future__ import annotations

import re
from pathlib import PurePath

_M = re.MULTILINE | re.IGNORECASE

#: name -> (file names it usually has, patterns of lines only it writes)
FORMATS: dict[str, tuple[tuple[str, ...], tuple[re.Pattern[str], ...]]] = {
    "Caddy (Caddyfile)": (
        ("caddyfile",),
        (
            re.compile(r"^\s*(?:reverse_proxy|file_server|respond|encode|php_fastcgi)\b", _M),
            re.compile(r"^\s*(?:client_auth|trusted_ca_cert_file|trust_pool)\b", _M),
            re.compile(
                r"^\s*mode\s+(?:require_and_verify|verify_if_given|require|request)\s*$", _M
            ),
            # A site address opening a block: "host.example {", ":8443 {", "https://h:443 {".
            re.compile(
                r"^(?:https?://)?(?:(?:[\w*-]+\.)+[\w-]+(?::\d+)?|[\w.*-]*:\d+)"
                r"(?:\s*,\s*\S+)*\s*\{\s*$",
                _M,
            ),
            re.compile(r"^\s*tls\s+(?:internal|\S+\.(?:pem|crt))", _M),
        ),
    ),
    "stunnel": (
        ("stunnel.conf",),
        (
            re.compile(r"^\s*\[[^\]\n]+\]\s*$", _M),
            re.compile(r"^\s*(?:accept|connect)\s*=\s*\S+", _M),
            re.compile(r"^\s*(?:verifyChain|verifyPeer|CAfile|CApath|checkHost)\s*=", _M),
            re.compile(r"^\s*(?:foreground|pid|setuid|setgid|client)\s*=", _M),
        ),
    ),
    "Mosquitto": (
        ("mosquitto.conf",),
        (
            re.compile(r"^\s*listener\s+\d+", _M),
            re.compile(
                r"^\s*(?:require_certificate|use_identity_as_username|use_subject_as_username)\s",
                _M,
            ),
            re.compile(r"^\s*(?:allow_anonymous|persistence|password_file|acl_file)\s", _M),
            re.compile(r"^\s*(?:cafile|certfile|keyfile|crlfile)\s+\S", _M),
        ),
    ),
    "Redis": (
        ("redis.conf",),
        (
            re.compile(r"^\s*tls-(?:port|cert-file|key-file|ca-cert-file|auth-clients)\s", _M),
            re.compile(r"^\s*(?:requirepass|appendonly|maxmemory|save|databases)\s", _M),
            re.compile(r"^\s*(?:protected-mode|daemonize|supervised)\s", _M),
        ),
    ),
    "PostgreSQL (postgresql.conf)": (
        ("postgresql.conf", "postgresql.auto.conf"),
        (
            re.compile(r"^\s*ssl\s*=\s*'?(?:on|off|true|false)'?", _M),
            re.compile(r"^\s*ssl_(?:cert|key|ca|crl)_file\s*=\s*'", _M),
            re.compile(r"^\s*(?:listen_addresses|max_connections|shared_buffers)\s*=", _M),
        ),
    ),
    "MySQL/MariaDB (my.cnf)": (
        ("my.cnf", "mysqld.cnf", "mariadb.cnf", "50-server.cnf", "server.cnf"),
        (
            re.compile(r"^\s*\[(?:mysqld|mariadb|mariadbd|server|mysqld_safe)(?:-[\w.]+)?\]", _M),
            re.compile(r"^\s*ssl[-_](?:ca|capath|cert|key|cipher|crl)\s*=", _M),
            re.compile(
                r"^\s*(?:datadir|bind[-_]address|require[-_]secure[-_]transport|innodb[-_]\w+|"
                r"skip[-_]name[-_]resolve)\b",
                _M,
            ),
        ),
    ),
    "PostgreSQL (pg_hba.conf)": (
        ("pg_hba.conf",),
        (
            re.compile(r"^\s*hostssl\s+\S+\s+\S+", _M),
            re.compile(r"^\s*(?:local|host|hostnossl)\s+\S+\s+\S+", _M),
            re.compile(r"\b(?:clientcert=verify-(?:ca|full)|scram-sha-256|md5|trust|peer)\s*$", _M),
        ),
    ),
}


def recognise(path: str, text: str) -> str | None:
    """The name of an unsupported format ``text`` is written in, or None."""
    file_name = PurePath(path).name.lower()
    best: tuple[int, str] | None = None
    for name, (file_names, patterns) in FORMATS.items():
        score = sum(1 for pattern in patterns if pattern.search(text))
        if file_name in file_names:
            score += 1
        if score >= 2 and (best is None or score > best[0]):
            best = (score, name)
    return best[1] if best else None
