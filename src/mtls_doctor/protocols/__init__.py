"""What to say after (or before) the handshake, per application protocol.

A certificate the TLS layer accepts can still be refused by the application
(PostgreSQL's ``clientcert``, an MQTT broker's ACL), and an HTTP request sent
to a Redis or MQTT port makes a working certificate look rejected. So each
target names its protocol (a URL scheme, ``--protocol``, or a well-known
port), and the conversation module for it speaks just enough to learn
whether the *application* accepted the client.

This module is data only (no I/O, no heavy imports): the registry of
protocols, their schemes and their well-known ports.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Protocol:
    """One application protocol over TLS."""

    #: The name ``--protocol`` takes and JSON reports (``redis``).
    name: str
    #: How people write it (``Redis``).
    title: str
    #: The URL scheme of a target that speaks it (``rediss``).
    scheme: str
    default_port: int
    #: TLS starts after a plain-text exchange (SSLRequest, STARTTLS).
    starttls: bool = False
    #: It is HTTP (an HTTP request is sent after the handshake).
    http: bool = False
    #: The module (under ``mtls_doctor.protocols``) that holds its conversation.
    module: str = ""
    #: How a common client of it presents a certificate (ends a sentence of a fix).
    client_options: str = "with `openssl s_client` pass `-cert` and `-key`"
    #: Where its usual servers keep the CAs they trust for client certificates (a whole
    #: sentence); None: the web servers' (nginx, Apache, HAProxy: causes.py).
    server_ca_setting: str | None = None
    #: Its login step says whether the server accepts the certificate (PostgreSQL's
    #: ``cert`` method); False: the TLS layer already said all (MySQL checks its REQUIRE
    #: rules after the password), so watch settles a CA without a login attempt.
    login_judges_certificate: bool = True


_LDAP_CLIENT = "with OpenLDAP's tools set `LDAPTLS_CERT` and `LDAPTLS_KEY`"
_LDAP_SERVER = (
    "OpenLDAP: the file of `olcTLSCACertificateFile` (slapd.conf: `TLSCACertificateFile`); "
    "restart slapd afterwards."
)
_MAIL_SERVER = (
    "Dovecot: the file of `ssl_ca` in dovecot.conf; Postfix: `smtpd_tls_CAfile`; reload "
    "the server afterwards."
)

PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        Protocol(
            name="https",
            title="HTTPS",
            scheme="https",
            default_port=443,
            http=True,
            client_options="with curl pass `--cert` and `--key`",
        ),
        Protocol(name="tls", title="TLS", scheme="tls", default_port=443),
        Protocol(
            name="redis",
            title="Redis",
            scheme="rediss",
            default_port=6379,
            module="redis",
            client_options="with redis-cli pass `--tls --cert` and `--key`",
            server_ca_setting="Redis: the file of `tls-ca-cert-file` (or the directory of "
            "`tls-ca-cert-dir`) in redis.conf; restart Redis afterwards.",
        ),
        Protocol(
            name="mqtt",
            title="MQTT",
            scheme="mqtts",
            default_port=8883,
            module="mqtt",
            client_options="with mosquitto_pub or mosquitto_sub pass `--cert` and `--key`",
            server_ca_setting="Mosquitto: the file of `cafile` (or the directory of `capath`) "
            "on the listener in mosquitto.conf; restart the broker afterwards.",
        ),
        Protocol(
            name="postgres",
            title="PostgreSQL",
            scheme="postgres",
            default_port=5432,
            starttls=True,
            module="postgres",
            client_options="with psql set `sslcert` and `sslkey` in the connection string",
            server_ca_setting="PostgreSQL: the file of `ssl_ca_file` in postgresql.conf; "
            "reload the server afterwards (`SELECT pg_reload_conf()`).",
        ),
        Protocol(
            name="mysql",
            title="MySQL",
            scheme="mysql",
            default_port=3306,
            starttls=True,
            module="mysql",
            client_options="with the mariadb or mysql client pass `--ssl-cert` and `--ssl-key`",
            login_judges_certificate=False,
            server_ca_setting="MySQL/MariaDB: the file of `ssl_ca` (or the directory of "
            "`ssl_capath`) in the server's configuration; restart the server afterwards.",
        ),
        *(
            Protocol(
                name=name,
                title=title,
                scheme=name,
                default_port=port,
                starttls=starttls,
                module="mail",
                server_ca_setting=_MAIL_SERVER,
            )
            for name, title, port, starttls in (
                ("smtp", "SMTP", 587, True),
                ("smtps", "SMTP", 465, False),
                ("imap", "IMAP", 143, True),
                ("imaps", "IMAP", 993, False),
                ("pop3s", "POP3", 995, False),
            )
        ),
        Protocol(
            name="ldap",
            title="LDAP",
            scheme="ldap",
            default_port=389,
            starttls=True,
            module="ldap",
            client_options=_LDAP_CLIENT,
            server_ca_setting=_LDAP_SERVER,
        ),
        Protocol(
            name="ldaps",
            title="LDAP",
            scheme="ldaps",
            default_port=636,
            module="ldap",
            client_options=_LDAP_CLIENT,
            server_ca_setting=_LDAP_SERVER,
        ),
    )
}

#: URL schemes, including the aliases people write.
SCHEMES: dict[str, str] = {
    **{p.scheme: p.name for p in PROTOCOLS.values()},
    "ssl": "tls",
    "postgresql": "postgres",
    "mariadb": "mysql",
}

#: Ports whose protocol is well known: a bare ``host:port`` speaks it.
WELL_KNOWN_PORTS: dict[int, str] = {
    443: "https",
    8443: "https",
    4443: "https",
    9443: "https",
    5432: "postgres",
    3306: "mysql",
    6379: "redis",
    6380: "redis",
    8883: "mqtt",
    465: "smtps",
    25: "smtp",
    587: "smtp",
    143: "imap",
    993: "imaps",
    995: "pop3s",
    389: "ldap",
    636: "ldaps",
}


def names() -> list[str]:
    """The values ``--protocol`` accepts."""
    return sorted(PROTOCOLS)


def example(name: str, host: str, port: int | None = None) -> str:
    """A working target form for ``name`` (what to suggest to the user)."""
    proto = PROTOCOLS[name]
    shown = f"[{host}]" if ":" in host else host
    tail = "" if port in (None, proto.default_port) else f":{port}"
    user = "USER@" if name in ("postgres", "mysql") else ""
    return f"{proto.scheme}://{user}{shown}{tail}"
