"""MariaDB with accounts that ``REQUIRE X509`` or ``SUBJECT``, checked as ``mysql://USER@host``.

MariaDB speaks first (its greeting offers CLIENT_SSL), then TLS after an
SSLRequest. With ``ssl_ca`` it asks for a certificate without requiring one
and lists no CA names; a certificate it cannot verify ends the handshake with
OpenSSL's alert (its log only says the connection "closed normally without
authentication"). The account's rule is checked after the login: without a
certificate, or with one whose subject is not the required one, the answer
is ERR 1045 "Access denied" - the same as for a wrong password, which only
the server's log tells apart ("X509 subject mismatch"). No CRL is configured.
"""

from __future__ import annotations

import re
import secrets

import pytest

from mtls_doctor.causes import Cause
from mtls_doctor.lab.pki import LabPKI
from tests.cli import run_cli
from tests.matrix.conftest import (
    CHAIN_TRIPLE,
    LogCursor,
    Truth,
    assert_agrees,
    assert_probe,
    cases,
    nameless,
)
from tests.servers.real import RunningServer, ServerRunner
from tests.servers.services import start_mariadb

pytestmark = pytest.mark.realserver

C = Cause
#: A TLS refusal: MariaDB logs no reason, only that no login followed.
ENDED = r"Aborted connection \d+ .*\(This connection closed normally without authentication\)"
DENIED = r"\[Warning\] Access denied for user '{user}'@'127\.0\.0\.1' \(using password: NO\)"
#: The general log's login and its Quit (after our COM_QUIT).
SERVED = r"Connect\t{user}@127\.0\.0\.1 on  using SSL/TLS\n\s+(\d+) Quit"
PASSWORD = secrets.token_hex(8)


def _served(user: str = "x509") -> Truth:
    return Truth(C.ACCEPTED, SERVED.format(user=re.escape(user)), absent="Access denied")


TRUTH = {
    "good-ecdsa": _served(),
    "expired": Truth(C.CERTIFICATE_EXPIRED, ENDED),
    "not-yet-valid": Truth(C.CERTIFICATE_NOT_YET_VALID, ENDED),
    "revoked": _served(),
    **{name: nameless(cause, ENDED) for name, cause in zip(CHAIN_TRIPLE, (
        C.UNTRUSTED_ISSUER, C.ISSUER_ROTATED, C.MISSING_INTERMEDIATE), strict=True)},
    "no-client-auth": Truth(C.WRONG_KEY_USAGE, ENDED),
    "mismatched-key": Truth(C.PRIVATE_KEY_MISMATCH, None),
    "rsa-1024": Truth(C.UNSUPPORTED_KEY, ENDED),
    None: Truth(C.NO_CERTIFICATE_SENT, DENIED.format(user="x509")),
}  # fmt: skip


def oneline(lab: LabPKI, identity: str) -> str:
    """The certificate's subject as OpenSSL's X509_NAME_oneline writes it (REQUIRE SUBJECT)."""
    subject = lab.identities[identity].certificate.subject
    return "".join(f"/{a.rfc4514_attribute_name}={a.value}" for r in subject.rdns for a in r)


@pytest.fixture(scope="module")
def mariadb(module_servers: ServerRunner, matrix_lab: LabPKI) -> RunningServer:
    """MariaDB with four accounts, shared by the module."""
    good = oneline(matrix_lab, "good-ecdsa")
    other = good.replace("good-ecdsa@", "someone-else@")
    sql = (
        "CREATE USER 'x509'@'%' REQUIRE X509;\n"
        f"CREATE USER 'good-ecdsa@lab.test'@'%' REQUIRE SUBJECT '{good}';\n"
        f"CREATE USER 'subject'@'%' REQUIRE SUBJECT '{other}';\n"
        f"CREATE USER 'secret'@'%' IDENTIFIED BY '{PASSWORD}' REQUIRE X509;\n"
    )
    return module_servers(
        start_mariadb,
        cert=matrix_lab.server_pem,
        key=matrix_lab.server_key_file,
        ca_file=matrix_lab.client_ca_bundle,
        init_sql=sql,
    )


@pytest.mark.parametrize(("identity", "truth"), cases(TRUTH))
def test_check_agrees_with_mariadb(
    identity: str | None,
    truth: Truth,
    mariadb: RunningServer,
    matrix_lab: LabPKI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert_agrees(capsys, mariadb, matrix_lab, identity, truth, f"mysql://x509@{mariadb.target}")


def test_without_a_user_the_certificate_cn_logs_in(
    mariadb: RunningServer, matrix_lab: LabPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    """REQUIRE SUBJECT met, as the user named like the certificate's CN (the default)."""
    truth = _served("good-ecdsa@lab.test")
    assert_agrees(capsys, mariadb, matrix_lab, "good-ecdsa", truth, f"mariadb://{mariadb.target}")


def test_a_subject_mismatch_is_the_application_refusing_and_not_claimed_certain(
    mariadb: RunningServer, matrix_lab: LabPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    good = re.escape(oneline(matrix_lab, "good-ecdsa"))
    truth = Truth(
        C.REJECTED_BY_APPLICATION, rf"X509 subject mismatch: should be '.*' but is '{good}'"
    )
    result = assert_agrees(
        capsys, mariadb, matrix_lab, "good-ecdsa", truth, f"mysql://subject@{mariadb.target}"
    )
    verdict = result.json["verdict"]
    assert "certificate rule" in verdict["summary"] and "password" in verdict["summary"]
    assert any("X509 subject mismatch" in fix for fix in verdict["fixes"]), verdict


def test_a_password_refusal_is_not_blamed_on_the_certificate(
    mariadb: RunningServer, matrix_lab: LabPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    truth = Truth(C.REJECTED_BY_APPLICATION, DENIED.format(user="secret"), absent="X509")
    result = assert_agrees(
        capsys, mariadb, matrix_lab, "good-ecdsa", truth, f"mysql://secret@{mariadb.target}"
    )
    assert "password" in result.json["verdict"]["summary"]
    assert PASSWORD not in result.out + result.err


def test_a_bare_port_is_named_with_the_mysql_form(
    mariadb: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    logs = LogCursor(mariadb)
    result = run_cli(capsys, "check", mariadb.target, "--json", "--timeout", "5")
    assert result.code == 3 and result.json["error"]["code"] == "not_tls", result
    message = result.json["error"]["message"]
    assert f"mysql://USER@{mariadb.target}" in message, message
    logs.wait_for(ENDED)


def test_probe_mariadb(
    mariadb: RunningServer, matrix_lab: LabPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    assert_probe(capsys, f"mysql://x509@{mariadb.target}", [])


def test_a_mariadb_without_tls_is_one_clear_sentence(
    servers: ServerRunner, matrix_lab: LabPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = servers(
        start_mariadb,
        cert=matrix_lab.server_pem,
        key=matrix_lab.server_key_file,
        ca_file=matrix_lab.client_ca_bundle,
        plain=True,
    )
    result = run_cli(capsys, "check", f"mysql://x509@{plain.target}", "--json", "--timeout", "5")
    assert result.code == 3, result
    message = result.json["error"]["message"]
    assert "MariaDB 10." in message and "does not offer TLS" in message, message
    assert "\n" not in message and "Traceback" not in result.err


def test_without_a_user_or_a_certificate_no_login_is_tried(
    mariadb: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """No account to ask about: no login on a guessed one (root), and no verdict claimed."""
    logs = LogCursor(mariadb)
    result = run_cli(capsys, "check", "--json", f"mysql://{mariadb.target}")
    document = result.json
    verdict, application = document["verdict"], document["probe"]["application"]
    assert (result.code, verdict["cause"]) == (0, "accepted"), verdict
    assert verdict["summary"].startswith("The server let the client in without a certificate.")
    assert application["said"] == "(no login tried)" and "REQUIRE X509" in verdict["summary"]
    assert "Access denied" not in logs.text() and "root" not in logs.text()


def test_watch_settles_the_issuing_ca_without_a_login(
    mariadb: RunningServer, matrix_lab: LabPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    """MySQL checks REQUIRE rules after the password: a login says nothing of the CA, and
    a password-less one at every refresh would be a failed login in the server's log."""
    logs = LogCursor(mariadb)
    cert = str(matrix_lab.identities["good-ecdsa"].pem)
    result = run_cli(
        capsys, "watch", "--json", "--server", f"mysql://{mariadb.target}", "--cert", cert
    )
    (server,) = result.json["servers"]
    assert [h["accepted"] for h in server["handshakes"]] == [True], server
    assert server["issuing_cas"][0]["acceptance"] == "accepted_by_handshake", server
    assert "good-ecdsa@lab.test" not in logs.text(), logs.text()
