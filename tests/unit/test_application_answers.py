"""What applications answer, read for what it is: pure parsers and the verdicts they lead to."""

from __future__ import annotations

import struct
from dataclasses import replace
from datetime import timedelta

import pytest

from mtls_doctor.causes import Cause
from mtls_doctor.model import DiagnosisFacts
from mtls_doctor.protocols import http, mqtt, postgres, redis
from mtls_doctor.rules.probe import ClientAuth, classify_client_auth
from mtls_doctor.rules.verdict import diagnose
from tests.factories import NOW, ScriptedServer, cert, chain_facts, handshake, identity


def _verdict(attempt, who=None):  # type: ignore[no-untyped-def]
    facts = DiagnosisFacts(identity=who or identity(), attempt=attempt, chain=chain_facts())
    return diagnose(facts, NOW)[1]


@pytest.mark.parametrize(
    ("reply", "accepted", "cause"),
    [
        (b"+PONG\r\n", True, None),
        (b"-NOAUTH Authentication required.\r\n", True, None),
        (b"-WRONGPASS invalid username-password pair\r\n", False, "rejected_by_application"),
        (b"", False, None),
    ],
)
def test_redis_replies(reply: bytes, accepted: bool, cause: str | None) -> None:
    answer = redis.interpret(reply)
    assert (answer.accepted, answer.cause) == (accepted, cause)


@pytest.mark.parametrize(
    ("code", "accepted", "cause"),
    [(0, True, None), (4, True, None), (5, False, "rejected_by_application")],
)
def test_mqtt_connack_codes(code: int, accepted: bool, cause: str | None) -> None:
    answer = mqtt.interpret(bytes([0x20, 2, 0, code]))
    assert (answer.accepted, answer.cause) == (accepted, cause)
    assert answer.said.startswith(f"CONNACK {code}")


def test_mqtt_connect_packet_is_well_formed() -> None:
    packet = mqtt.connect_packet("mtls-doctor-1")
    assert packet[0] == 0x10 and packet[1] == len(packet) - 2
    assert packet[2:8] == b"\x00\x04MQTT" and packet[8] == 4


def _error(message: str, code: str = "28000") -> bytes:
    return b"SFATAL\x00C" + code.encode() + b"\x00M" + message.encode() + b"\x00\x00"


def test_postgres_auth_request_means_accepted_at_tls() -> None:
    answer = postgres.interpret(b"R", struct.pack(">I", 10), "alice", "alice")
    assert answer.accepted is True and "SCRAM" in answer.said


def test_postgres_cn_versus_user_is_explained() -> None:
    body = _error('certificate authentication failed for user "bob"')
    answer = postgres.interpret(b"E", body, "bob", "alice")
    assert (answer.accepted, answer.cause) == (False, "rejected_by_application")
    assert answer.fix is not None and "CN='alice'" in answer.fix and "pg_ident.conf" in answer.fix
    verdict = _verdict(handshake(http=None, app=answer))
    assert verdict.cause is Cause.REJECTED_BY_APPLICATION
    assert verdict.fixes[0] == answer.fix


def test_postgres_requires_a_certificate() -> None:
    answer = postgres.interpret(
        b"E", _error("connection requires a valid client certificate"), "x", None
    )
    assert answer.cause == "no_certificate_sent"
    attempt = handshake(http=None, app=answer, certificate_sent=False)
    assert classify_client_auth(attempt)[0] is ClientAuth.REQUIRED
    facts = DiagnosisFacts(identity=None, without_certificate=attempt)
    assert diagnose(facts, NOW)[1].cause is Cause.NO_CERTIFICATE_SENT


def test_postgres_startup_message_layout() -> None:
    message = postgres.startup_message("alice", "sales")
    assert struct.unpack(">I", message[:4])[0] == len(message)
    assert struct.unpack(">I", message[4:8])[0] == 196608
    assert b"user\x00alice\x00" in message and b"database\x00sales\x00" in message


@pytest.mark.parametrize(
    ("text", "reason", "cause"),
    [
        (
            '{"error":"UNABLE_TO_VERIFY_LEAF_SIGNATURE"}',
            "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
            "missing_intermediate",
        ),
        ("client cert error: CERT_HAS_EXPIRED", "CERT_HAS_EXPIRED", "certificate_expired"),
        ("<p>certificate has expired</p>", "certificate has expired", "certificate_expired"),
        ("X509_V_ERR_CERT_REVOKED", "X509_V_ERR_CERT_REVOKED", "certificate_revoked"),
        ("Forbidden: you may not see this", None, None),
    ],
)
def test_verify_reasons_in_pages(text: str, reason: str | None, cause: str | None) -> None:
    assert http.verify_reason(text) == reason
    if reason is not None:
        assert http.reason_causes(reason)[0] == cause


def test_a_403_carrying_cert_has_expired_is_expired_not_an_authorization_rule() -> None:
    page = http.answer(403, "Forbidden", "", b"CERT_HAS_EXPIRED\n")
    expired = identity(certificate=cert(not_after=NOW - timedelta(days=1)))
    verdict = _verdict(handshake(http=page), expired)
    assert verdict.cause is Cause.CERTIFICATE_EXPIRED
    assert "CERT_HAS_EXPIRED" in verdict.summary


def test_a_plain_403_stays_rejected_by_application() -> None:
    page = http.answer(403, "Forbidden", "", b"Access denied to /admin\n")
    assert page.verify_reason is None
    assert _verdict(handshake(http=page)).cause is Cause.REJECTED_BY_APPLICATION


def test_a_verify_reason_in_a_header_counts_too() -> None:
    page = http.answer(
        400, "Bad Request", "X-Client-Verify: FAILED:unable to get local issuer certificate", b""
    )
    assert page.verify_reason == "unable to get local issuer certificate"
    verdict = _verdict(handshake(http=page, acceptable_ca_names=()))
    assert verdict.cause is Cause.UNTRUSTED_ISSUER


def test_421_is_not_served_and_says_what_to_pass() -> None:
    page = http.answer(421, "Misdirected Request", "", b"Misdirected Request\n")
    verdict = _verdict(handshake(http=page))
    assert verdict.cause is Cause.CLIENT_AUTH_NOT_REQUESTED
    assert "--sni" in " ".join(verdict.fixes)
    without = DiagnosisFacts(
        identity=None, without_certificate=handshake(http=page, certificate_sent=False)
    )
    assert diagnose(without, NOW)[1].cause is not Cause.ACCEPTED


def test_tls_only_answer_is_accepted_at_the_tls_level() -> None:
    from mtls_doctor.protocols.session import tls_only
    from mtls_doctor.tls.target import parse_target

    answer = tls_only(parse_target("x.test:9999"), True, 1.0, 0.3)
    verdict = _verdict(handshake(http=None, app=answer))
    assert verdict.cause is Cause.ACCEPTED
    assert "--protocol" in verdict.summary
    assert replace(answer, accepted=None).accepted is None


@pytest.mark.parametrize(
    ("first", "words", "suggested"),
    [
        (b"220 mail.test ESMTP Postfix\r\n", "SMTP", "smtp://db.test:7000"),
        (b"* OK [CAPABILITY IMAP4rev1] ready\r\n", "IMAP", "imap://db.test:7000"),
        (b"+OK POP3 ready\r\n", "POP3", "pop3s://db.test"),
        (b"-ERR wrong number of arguments\r\n", "Redis", "rediss://db.test"),
        (b"J\x00\x00\x00\x0a8.0.36\x00\x08\x00\x00\x00", "MySQL", "mysql://USER@db.test:7000"),
        (b"220 ProFTPD Server ready\r\n", "FTP", None),
        (b"\x01\x02\x03", "not TLS", None),
    ],
)
def test_plain_services_are_named_with_a_working_form(
    first: bytes, words: str, suggested: str | None
) -> None:
    from mtls_doctor.protocols.sniff import describe
    from mtls_doctor.tls.target import parse_target

    said = describe(first, parse_target("db.test:7000"))
    assert words in said
    if suggested is not None:
        assert suggested in said
        parse_target(suggested)


@pytest.mark.parametrize(
    ("reply", "cause", "verdict"),
    [
        (b"a3 NO [AUTHENTICATIONFAILED] Authentication failed.", "rejected_by_application",
         Cause.REJECTED_BY_APPLICATION),
        (b"535 5.7.8 Client didn't present valid SSL certificate", None,
         Cause.REJECTED_UNEXPLAINED),
        (b"-ERR [SYS/TEMP] Internal error occurred.", None, Cause.REJECTED_UNEXPLAINED),
        (b"454 4.7.0 Temporary authentication failure", None, Cause.REJECTED_UNEXPLAINED),
    ],
)  # fmt: skip
def test_certificate_login_answers(reply: bytes, cause: str | None, verdict: Cause) -> None:
    from mtls_doctor.protocols.mail import _external

    answer = _external("imap", reply.decode(), False, reply)
    assert (answer.accepted, answer.cause) == (False, cause)
    assert _verdict(handshake(http=None, app=answer)).cause is verdict


def test_smtp_login_reply_is_the_first_reply_not_what_followed_it() -> None:
    """Dovecot may send 235 and, in the same read, 421 when its relay is down."""
    from mtls_doctor.protocols.mail import after_tls
    from mtls_doctor.tls.target import parse_target

    server = ScriptedServer(
        b"250-mail.test\r\n250-AUTH EXTERNAL\r\n250 8BITMIME\r\n",
        b"235 2.7.0 Logged in.\r\n421 4.4.0 mail.test Failed to connect to relay server\r\n",
    )
    answer = after_tls(server, parse_target("smtp://mail.test:587"), "alice")
    assert (answer.accepted, answer.said) == (True, "235 2.7.0 Logged in.")
    assert server.sent[1] == b"AUTH EXTERNAL =\r\n"


@pytest.mark.parametrize("scheme", ["smtp", "imap"])
def test_a_starttls_greeting_that_is_another_service_is_named_at_once(scheme: str) -> None:
    """An SSH banner is no SMTP or IMAP greeting: say so now, not when the timeout ends."""
    from mtls_doctor.protocols.base import StartTLSRefusedError
    from mtls_doctor.protocols.mail import before_tls
    from mtls_doctor.tls.target import parse_target

    server = ScriptedServer(b"SSH-2.0-OpenSSH_9.2\r\n", then_silent=True)
    with pytest.raises(StartTLSRefusedError, match="SSH"):
        before_tls(server, parse_target(f"{scheme}://mail.test"))
    assert server.sent == []


def test_a_multi_line_smtp_banner_still_starts_tls() -> None:
    from mtls_doctor.protocols.mail import before_tls
    from mtls_doctor.tls.target import parse_target

    server = ScriptedServer(
        b"220-mail.test ESMTP\r\n",
        b"220 ready\r\n",
        b"250-mail.test\r\n250 STARTTLS\r\n",
        b"220 2.0.0 go ahead\r\n",
    )
    before_tls(server, parse_target("smtp://mail.test"))
    assert server.sent[-1] == b"STARTTLS\r\n"


def test_an_ldap_port_that_answers_starttls_with_another_service_is_named() -> None:
    from mtls_doctor.protocols.base import StartTLSRefusedError
    from mtls_doctor.protocols.ldap import before_tls
    from mtls_doctor.tls.target import parse_target

    server = ScriptedServer(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    with pytest.raises(
        StartTLSRefusedError, match=r"no LDAP answer to StartTLS: .*plain HTTP, not LDAP"
    ):
        before_tls(server, parse_target("ldap://dir.test"))
