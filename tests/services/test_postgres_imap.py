"""check and probe on real PostgreSQL and Dovecot (IMAP STARTTLS and IMAPS).

The verdicts follow what each server really does (its log says why), and a
plain-text service on a TLS target is named with a target form that works.
"""

from __future__ import annotations

import json
import re

import pytest

from mtls_doctor.lab.pki import LabPKI
from tests.cli import run_cli
from tests.servers.real import RunningServer, ServerRunner
from tests.servers.services import start_dovecot, start_postgres
from tests.services.common import cert_args, check_json, serve

pytestmark = pytest.mark.realserver


@pytest.fixture(scope="module")
def postgres(module_servers: ServerRunner, live_lab: LabPKI) -> RunningServer:
    return serve(module_servers, live_lab, start_postgres)


@pytest.fixture(scope="module")
def imap(module_servers: ServerRunner, live_lab: LabPKI) -> RunningServer:
    return serve(module_servers, live_lab, start_dovecot)


@pytest.fixture(scope="module")
def imaps(module_servers: ServerRunner, live_lab: LabPKI) -> RunningServer:
    return serve(module_servers, live_lab, start_dovecot, implicit_tls=True)


def test_postgres_cert_auth_lets_the_cn_user_in(
    capsys: pytest.CaptureFixture[str], postgres: RunningServer, live_lab: LabPKI
) -> None:
    code, doc = check_json(
        capsys, f"postgres://{postgres.target}", *cert_args(live_lab, "good-rsa")
    )
    assert (code, doc["verdict"]["cause"]) == (0, "accepted"), doc["verdict"]
    assert doc["handshake"]["application"]["said"].startswith("AuthenticationRequest")
    assert 'identity="CN=good-rsa@lab.test' in postgres.console_text()


def test_postgres_another_user_is_rejected_by_application_with_the_cn_rule(
    capsys: pytest.CaptureFixture[str], postgres: RunningServer, live_lab: LabPKI
) -> None:
    code, doc = check_json(
        capsys, f"postgres://bob@{postgres.target}/app", *cert_args(live_lab, "good-rsa")
    )
    assert (code, doc["verdict"]["cause"]) == (1, "rejected_by_application"), doc["verdict"]
    assert "good-rsa@lab.test" in doc["verdict"]["fixes"][0]
    assert "pg_ident.conf" in doc["verdict"]["fixes"][0]
    assert 'certificate authentication failed for user "bob"' in postgres.console_text()


@pytest.mark.parametrize(
    ("identity", "cause"), [("expired", "certificate_expired"), ("untrusted", "untrusted_issuer")]
)
def test_postgres_refuses_bad_certificates_at_tls(
    capsys: pytest.CaptureFixture[str],
    postgres: RunningServer,
    live_lab: LabPKI,
    identity: str,
    cause: str,
) -> None:
    code, doc = check_json(
        capsys, f"postgresql://{postgres.target}", *cert_args(live_lab, identity)
    )
    assert (code, doc["verdict"]["cause"]) == (1, cause), doc["verdict"]


def test_postgres_without_certificate_and_probe(
    capsys: pytest.CaptureFixture[str], postgres: RunningServer
) -> None:
    code, doc = check_json(capsys, f"postgres://{postgres.target}")
    assert (code, doc["verdict"]["cause"]) == (1, "no_certificate_sent"), doc["verdict"]
    probe = run_cli(capsys, "probe", "--json", f"postgres://{postgres.target}")
    assert json.loads(probe.out)["client_auth"] == "required"
    assert "connection requires a valid client certificate" in postgres.console_text()


def _suggestion(message: str) -> str:
    found = re.search(r"try (\S+://\S+)", message)
    assert found, message
    return found.group(1)


def test_postgres_on_a_tls_target_is_named_with_a_working_suggestion(
    capsys: pytest.CaptureFixture[str], postgres: RunningServer, live_lab: LabPKI
) -> None:
    result = run_cli(capsys, "check", "--json", postgres.target, *cert_args(live_lab, "good-rsa"))
    doc = json.loads(result.out)
    assert (result.code, doc["verdict"]["cause"]) == (3, "not_tls"), doc
    assert "PostgreSQL" in doc["error"]["message"]
    suggested = _suggestion(doc["error"]["message"]).replace("USER@", "")
    code, again = check_json(capsys, suggested, *cert_args(live_lab, "good-rsa"))
    assert (code, again["verdict"]["cause"]) == (0, "accepted"), again["verdict"]


def test_imap_starttls_certificate_login(
    capsys: pytest.CaptureFixture[str], imap: RunningServer, live_lab: LabPKI
) -> None:
    code, doc = check_json(capsys, f"imap://{imap.target}", *cert_args(live_lab, "good-ecdsa"))
    assert (code, doc["verdict"]["cause"]) == (0, "accepted"), doc["verdict"]
    assert doc["handshake"]["application"]["said"].startswith("a3 OK")


def test_imap_refused_certificate_is_named_from_local_checks(
    capsys: pytest.CaptureFixture[str], imap: RunningServer, live_lab: LabPKI
) -> None:
    code, doc = check_json(capsys, f"imap://{imap.target}", *cert_args(live_lab, "untrusted"))
    assert (code, doc["verdict"]["cause"]) == (1, "untrusted_issuer"), doc["verdict"]
    assert "client sent an invalid cert" in imap.error_log_text()


def test_imaps_expired_and_none(
    capsys: pytest.CaptureFixture[str], imaps: RunningServer, live_lab: LabPKI
) -> None:
    code, doc = check_json(capsys, f"imaps://{imaps.target}", *cert_args(live_lab, "expired"))
    assert (code, doc["verdict"]["cause"]) == (1, "certificate_expired"), doc["verdict"]
    code, doc = check_json(capsys, f"imaps://{imaps.target}")
    assert (code, doc["verdict"]["cause"]) == (1, "no_certificate_sent"), doc["verdict"]


def test_plain_imap_on_a_tls_target_is_named_with_a_working_suggestion(
    capsys: pytest.CaptureFixture[str], imap: RunningServer, live_lab: LabPKI
) -> None:
    result = run_cli(capsys, "probe", "--json", imap.target)
    doc = json.loads(result.out)
    assert result.code == 3 and doc["error"]["code"] == "not_tls"
    assert "IMAP" in doc["error"]["message"]
    probe = run_cli(capsys, "probe", "--json", _suggestion(doc["error"]["message"]))
    assert json.loads(probe.out)["client_auth"] == "required"
