"""MySQL/MariaDB packets: the greeting, SSLRequest, the login and what its answers mean."""

from __future__ import annotations

import struct

import pytest

from mtls_doctor.causes import Cause
from mtls_doctor.errors import ConnectTimeout
from mtls_doctor.model import DiagnosisFacts
from mtls_doctor.protocols import mysql
from mtls_doctor.protocols.base import MAX_ANSWER, StartTLSRefusedError
from mtls_doctor.rules.verdict import diagnose
from mtls_doctor.tls.target import parse_target
from tests.factories import NOW, ScriptedServer, chain_facts, handshake, identity

MARIADB = "5.5.5-10.11.19-MariaDB-0+deb12u1"
DENIED = "Access denied for user 'x509'@'127.0.0.1' (using password: NO)"


def greeting(version: str = MARIADB, caps: int = 0xF7FE | 0x800, upper: int = 0x81BF) -> bytes:
    """An Initial Handshake Packet laid out as protocol 10 says (payload only)."""
    body = b"\x0a" + version.encode() + b"\x00" + struct.pack("<I", 7) + b"12345678\x00"
    body += struct.pack("<HBHHB", caps, 45, 2, upper, 21) + b"\x00" * 10
    return body + b"abcdefghijkl\x00" + b"mysql_native_password\x00"


def error(code: int, message: str, state: str = "28000") -> bytes:
    return (
        b"\xff"
        + struct.pack("<H", code)
        + (b"#" + state.encode() if state else b"")
        + (message.encode())
    )


def test_greeting_fields() -> None:
    parsed = mysql.parse_greeting(greeting())
    assert isinstance(parsed, mysql.Greeting)
    assert parsed.product == "MariaDB" and parsed.shown_version.startswith("10.11.19")
    assert parsed.capabilities & mysql.CLIENT_SSL
    assert parsed.plugin == "mysql_native_password"
    assert mysql.parse_greeting(greeting("8.0.36")).product == "MySQL"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "payload",
    [b"", b"\x0a", b"\x0a8.0", b"\x0a8.0.36\x00\x01\x02", b"\x09abc\x00" + b"\x00" * 40,
     b"\x16\x03\x01\x02\x00", b"\xff", b"\x0a" + b"9" * 100],
)  # fmt: skip
def test_truncated_or_foreign_greetings_are_not_read_as_one(payload: bytes) -> None:
    assert mysql.parse_greeting(payload) is None


def test_short_greeting_of_an_old_server_has_no_plugin() -> None:
    # protocol, "8.0.36\0", then connection id, auth data, filler, lower capabilities only
    parsed = mysql.parse_greeting(greeting("8.0.36")[: 1 + 7 + 15])
    assert isinstance(parsed, mysql.Greeting) and parsed.plugin == ""


def test_errors_with_and_without_sqlstate() -> None:
    assert str(mysql.parse_error(error(1045, DENIED))) == f"ERROR 1045 (28000): {DENIED}"
    bare = mysql.parse_error(error(1130, "Host '10.0.0.9' is not allowed to connect", state=""))
    assert bare is not None and (bare.code, bare.state) == (1130, "")
    assert mysql.parse_error(b"\xff\x15") is None and mysql.parse_error(b"\x00\x00") is None
    noisy = mysql.parse_error(error(1045, "bad\x1b[31mred"))
    assert noisy is not None and "\x1b" not in noisy.message


def test_ssl_request_is_32_bytes_with_sequence_1_and_ssl_flags() -> None:
    request = mysql.ssl_request()
    assert request[:4] == b"\x20\x00\x00\x01" and len(request) == 36
    flags = struct.unpack("<I", request[4:8])[0]
    for flag in (mysql.CLIENT_SSL, mysql.CLIENT_PROTOCOL_41, mysql.CLIENT_SECURE_CONNECTION):
        assert flags & flag
    assert request[13:] == b"\x00" * 23


def test_login_packet_names_user_database_and_an_empty_native_password() -> None:
    packet = mysql.handshake_response("alice", "sales")
    assert packet[3] == 2 and struct.unpack("<I", packet[:3] + b"\x00")[0] == len(packet) - 4
    assert struct.unpack("<I", packet[4:8])[0] & mysql.CLIENT_CONNECT_WITH_DB
    assert packet[36:] == b"alice\x00\x00sales\x00mysql_native_password\x00"
    assert b"sales" not in mysql.handshake_response("alice", None)


def test_before_tls_sends_the_ssl_request_after_a_greeting_that_offers_tls() -> None:
    server = ScriptedServer(mysql.packet(greeting(), 0))
    mysql.before_tls(server, parse_target("mysql://db.test"))
    assert server.sent == [mysql.ssl_request()]


@pytest.mark.parametrize(
    ("chunks", "words"),
    [
        ((mysql.packet(greeting(caps=0xF7FE & ~0x800), 0),), "does not offer TLS"),
        ((mysql.packet(error(1130, "Host '10.0.0.9' is not allowed", ""), 0),), "ERROR 1130"),
        ((b"\x05\x00\x00\x00hello",), "no MySQL/MariaDB greeting"),
        ((), "connection closed"),
    ],
)
def test_before_tls_refusals_are_one_clear_sentence(chunks: tuple[bytes, ...], words: str) -> None:
    server = ScriptedServer(*chunks)
    with pytest.raises(StartTLSRefusedError, match=words) as caught:
        mysql.before_tls(server, parse_target("mysql://db.test"))
    assert server.sent == [] and "\n" not in str(caught.value)


def test_reads_are_bounded_whatever_length_the_server_claims() -> None:
    server = ScriptedServer(b"\xff\xff\xff\x00", *([b"x" * 4096] * 40))
    read = mysql.read_packet(server)
    assert read is not None and len(read[1]) <= MAX_ANSWER


def _verdict(app: object, with_cert: bool = True) -> Cause:
    attempt = handshake(http=None, app=app, certificate_sent=with_cert)
    if with_cert:
        facts = DiagnosisFacts(identity=identity(), attempt=attempt, chain=chain_facts())
    else:
        facts = DiagnosisFacts(identity=None, without_certificate=attempt)
    return diagnose(facts, NOW)[1].cause


def test_ok_means_the_account_let_the_certificate_in() -> None:
    server = ScriptedServer(mysql.packet(b"\x00\x00\x00\x02\x00\x00\x00", 4))
    answer = mysql.after_tls(server, parse_target("mysql://db.test"), "alice")
    assert answer.accepted is True and "'alice'" in answer.meaning  # the CN is the default user
    assert server.sent[-1] == b"\x01\x00\x00\x00\x01"  # COM_QUIT
    assert _verdict(answer) is Cause.ACCEPTED


def test_access_denied_names_the_certificate_rule_and_the_password_alike() -> None:
    answer = mysql.interpret(error(1045, DENIED), "x509")
    assert (answer.accepted, answer.cause) == (False, "rejected_by_application")
    assert answer.said == f"ERROR 1045 (28000): {DENIED}"
    assert "certificate rule" in answer.meaning and "password" in answer.meaning
    assert answer.fix is not None and "X509 subject mismatch" in answer.fix
    assert "SHOW GRANTS FOR 'x509'@'HOST'" in answer.fix
    assert _verdict(answer) is Cause.REJECTED_BY_APPLICATION
    assert _verdict(answer, with_cert=False) is Cause.NO_CERTIFICATE_SENT


def test_auth_switch_to_native_password_is_answered_empty() -> None:
    switch = mysql.packet(b"\xfemysql_native_password\x00" + b"s" * 20 + b"\x00", 2)
    server = ScriptedServer(switch, mysql.packet(error(1045, DENIED), 4))
    answer = mysql.after_tls(server, parse_target("mysql://x509@db.test"), None)
    assert server.sent[-1] == b"\x00\x00\x00\x03" and answer.cause == "rejected_by_application"


def test_auth_switch_to_another_plugin_is_not_a_verdict() -> None:
    switch = mysql.packet(b"\xfeclient_ed25519\x00" + b"s" * 32, 2)
    server = ScriptedServer(switch)
    answer = mysql.after_tls(server, parse_target("mysql://bob@db.test/app"), None)
    assert answer.accepted is None and "client_ed25519" in answer.said
    assert len(server.sent) == 1


@pytest.mark.parametrize("payload", [b"", b"\x42garbage", b"\xff\x01"])
def test_closed_or_garbled_answers_are_refusals_without_a_named_cause(payload: bytes) -> None:
    answer = mysql.interpret(payload, "x")
    assert (answer.accepted, answer.cause) == (False, None)


def test_other_errors_are_the_application_refusing() -> None:
    answer = mysql.interpret(error(4151, "Access denied, this account is locked", "HY000"), "x")
    assert answer.cause == "rejected_by_application" and answer.fix is None


def test_mysql_urls_carry_user_database_and_the_mariadb_alias() -> None:
    target = parse_target("mariadb://app%40corp@db.test/sales")
    assert (target.protocol, target.port, target.user, target.database) == (
        "mysql",
        3306,
        "app@corp",
        "sales",
    )
    assert parse_target("db.test:3306").protocol == "mysql"


def test_a_silent_port_is_probably_not_mysql() -> None:
    class Silent(ScriptedServer):
        def recv(self) -> bytes:
            raise ConnectTimeout("the server did not answer within 2 s")

    with pytest.raises(ConnectTimeout, match=r"not one .*try tls://db\.test:3306"):
        mysql.before_tls(Silent(), parse_target("mysql://db.test"))


def test_no_account_named_and_no_certificate_means_no_login_attempt() -> None:
    """Guessing an account (root) would be a failed login on someone else's account."""
    server = ScriptedServer()
    answer = mysql.after_tls(server, parse_target("mysql://db.test"), None)
    assert server.sent == [] and answer.accepted is None
    assert "mysql://USER@host" in answer.meaning


def test_a_banner_that_is_no_greeting_is_named_at_once() -> None:
    """An SSH banner read as a packet header claims megabytes: say what it is, do not wait."""
    server = ScriptedServer(b"SSH-2.0-OpenSSH_9.2\r\n", then_silent=True)
    with pytest.raises(StartTLSRefusedError, match="SSH"):
        mysql.before_tls(server, parse_target("mysql://u@db.test"))
    assert server.sent == []
