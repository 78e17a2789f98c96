"""Target syntax (CONTRACT.md): schemes, well-known ports, --protocol, postgres user/db."""

from __future__ import annotations

import pytest

from mtls_doctor.errors import UsageError
from mtls_doctor.protocols import PROTOCOLS, example
from mtls_doctor.protocols.session import plan
from mtls_doctor.tls.target import parse_target


@pytest.mark.parametrize(
    ("text", "protocol", "port", "source"),
    [
        ("https://example.test/x", "https", 443, "scheme"),
        ("example.test", "https", 443, "port"),
        ("example.test:8443", "https", 8443, "port"),
        ("example.test:5432", "postgres", 5432, "port"),
        ("example.test:6379", "redis", 6379, "port"),
        ("example.test:6380", "redis", 6380, "port"),
        ("example.test:8883", "mqtt", 8883, "port"),
        ("example.test:636", "ldaps", 636, "port"),
        ("example.test:465", "smtps", 465, "port"),
        ("example.test:993", "imaps", 993, "port"),
        ("example.test:995", "pop3s", 995, "port"),
        ("example.test:9999", "tls", 9999, "default"),
        ("tls://example.test:9999", "tls", 9999, "scheme"),
        ("rediss://example.test", "redis", 6379, "scheme"),
        ("mqtts://example.test", "mqtt", 8883, "scheme"),
        ("postgresql://example.test", "postgres", 5432, "scheme"),
        ("smtp://example.test", "smtp", 587, "scheme"),
        ("smtps://example.test", "smtps", 465, "scheme"),
        ("imap://example.test", "imap", 143, "scheme"),
        ("imaps://example.test", "imaps", 993, "scheme"),
        ("ldap://example.test", "ldap", 389, "scheme"),
        ("ldaps://example.test", "ldaps", 636, "scheme"),
    ],
)
def test_scheme_or_port_chooses_the_protocol(
    text: str, protocol: str, port: int, source: str
) -> None:
    target = parse_target(text)
    assert (target.protocol, target.port, target.protocol_source) == (protocol, port, source)


def test_postgres_user_and_database() -> None:
    target = parse_target("postgres://alice@db.test:6543/sales")
    assert (target.user, target.database, target.port) == ("alice", "sales", 6543)
    assert target.url == "postgres://alice@db.test:6543/sales"


def test_protocol_option_overrides_the_port() -> None:
    target = parse_target("db.test:7000", protocol="postgres")
    assert (target.protocol, target.protocol_source) == ("postgres", "option")


@pytest.mark.parametrize(
    ("text", "protocol", "message"),
    [
        ("ftp://x.test", None, "not a TLS target"),
        ("x.test:7000", "gopher", "not known"),
        ("rediss://x.test", "mqtt", "give only one"),
        ("https://", None, "no host"),
        ("", None, "empty target"),
    ],
)
def test_bad_targets_are_usage_errors(text: str, protocol: str | None, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_target(text, protocol=protocol)


@pytest.mark.parametrize(
    ("text", "alpn", "spoken"),
    [
        ("https://x.test", "", "http1"),
        ("https://x.test", "h2", "h2"),
        ("x.test:9999", "", "tls"),
        ("x.test:9999", "http/1.1", "http1"),
        ("x.test:9999", "h2", "h2"),
        ("tls://x.test:9999", "http/1.1", "tls"),
        ("rediss://x.test", "", "redis"),
    ],
)
def test_http_only_when_the_port_scheme_or_alpn_says_so(text: str, alpn: str, spoken: str) -> None:
    assert plan(parse_target(text), alpn) == spoken


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_every_suggested_form_parses_back_to_its_protocol(name: str) -> None:
    target = parse_target(example(name, "host.test", 7001))
    assert (target.protocol, target.port) == (name, 7001)
