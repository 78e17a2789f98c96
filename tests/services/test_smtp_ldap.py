"""check and probe on real SMTP (Dovecot submission: STARTTLS and implicit TLS), POP3S and LDAP
(OpenLDAP slapd: StartTLS and ldaps), proved by the servers' logs."""

from __future__ import annotations

import json
import re

import pytest

from mtls_doctor.lab.pki import LabPKI
from tests.cli import run_cli
from tests.servers.real import RunningServer, ServerRunner
from tests.servers.services import start_dovecot, start_slapd
from tests.services.common import cert_args, check_json, serve

pytestmark = pytest.mark.realserver


@pytest.fixture(scope="module")
def smtp(module_servers: ServerRunner, live_lab: LabPKI) -> RunningServer:
    return serve(module_servers, live_lab, start_dovecot, service="submission")


@pytest.fixture(scope="module")
def smtps(module_servers: ServerRunner, live_lab: LabPKI) -> RunningServer:
    return serve(module_servers, live_lab, start_dovecot, service="submission", implicit_tls=True)


@pytest.fixture(scope="module")
def ldap(module_servers: ServerRunner, live_lab: LabPKI) -> RunningServer:
    return serve(module_servers, live_lab, start_slapd)


@pytest.fixture(scope="module")
def ldaps(module_servers: ServerRunner, live_lab: LabPKI) -> RunningServer:
    return serve(module_servers, live_lab, start_slapd, implicit_tls=True)


def test_smtp_starttls_certificate_login(
    capsys: pytest.CaptureFixture[str], smtp: RunningServer, live_lab: LabPKI
) -> None:
    code, doc = check_json(capsys, f"smtp://{smtp.target}", *cert_args(live_lab, "good-rsa"))
    assert (code, doc["verdict"]["cause"]) == (0, "accepted"), doc["verdict"]
    assert doc["handshake"]["application"]["said"].startswith("235")
    assert doc["handshakes"] == 1


def test_smtp_refusal_at_login_is_named_from_local_checks(
    capsys: pytest.CaptureFixture[str], smtp: RunningServer, live_lab: LabPKI
) -> None:
    code, doc = check_json(capsys, f"smtp://{smtp.target}", *cert_args(live_lab, "untrusted"))
    assert (code, doc["verdict"]["cause"]) == (1, "untrusted_issuer"), doc["verdict"]
    assert "client sent an invalid cert" in smtp.error_log_text()
    code, doc = check_json(capsys, f"smtp://{smtp.target}")
    assert (code, doc["verdict"]["cause"]) == (1, "no_certificate_sent"), doc["verdict"]


def test_smtps_and_probe(
    capsys: pytest.CaptureFixture[str], smtps: RunningServer, live_lab: LabPKI
) -> None:
    code, doc = check_json(capsys, f"smtps://{smtps.target}", *cert_args(live_lab, "good-ecdsa"))
    assert (code, doc["verdict"]["cause"]) == (0, "accepted"), doc["verdict"]
    probe = run_cli(capsys, "probe", "--json", f"smtps://{smtps.target}")
    assert json.loads(probe.out)["client_auth"] == "required"


def test_plain_smtp_on_a_tls_target_is_named_with_a_working_form(
    capsys: pytest.CaptureFixture[str], smtp: RunningServer
) -> None:
    result = run_cli(capsys, "probe", "--json", smtp.target)
    message = json.loads(result.out)["error"]["message"]
    assert result.code == 3 and "SMTP" in message
    suggested = re.search(r"try (\S+://\S+)", message)
    assert suggested
    probe = run_cli(capsys, "probe", "--json", suggested.group(1))
    assert json.loads(probe.out)["client_auth"] == "required"


@pytest.mark.parametrize(
    ("identity", "cause"),
    [("good-rsa", "accepted"), ("expired", "certificate_expired"), (None, "no_certificate_sent")],
)
def test_ldap_starttls_verdicts_follow_slapd(
    capsys: pytest.CaptureFixture[str],
    ldap: RunningServer,
    live_lab: LabPKI,
    identity: str | None,
    cause: str,
) -> None:
    args = cert_args(live_lab, identity) if identity else ()
    code, doc = check_json(capsys, f"ldap://{ldap.target}", *args)
    assert doc["verdict"]["cause"] == cause, doc["verdict"]
    assert code == (0 if cause == "accepted" else 1)
    assert "STARTTLS" in ldap.console_text()


def test_ldaps_accepts_and_probe_says_required(
    capsys: pytest.CaptureFixture[str], ldaps: RunningServer, live_lab: LabPKI
) -> None:
    code, doc = check_json(capsys, f"ldaps://{ldaps.target}", *cert_args(live_lab, "good-ecdsa"))
    assert (code, doc["verdict"]["cause"]) == (0, "accepted"), doc["verdict"]
    assert doc["handshake"]["application"]["said"].startswith("BindResponse 0")
    probe = run_cli(capsys, "probe", "--json", f"ldaps://{ldaps.target}")
    assert json.loads(probe.out)["client_auth"] == "required"


def test_plain_ldap_on_a_tls_target_is_named(
    capsys: pytest.CaptureFixture[str], ldap: RunningServer
) -> None:
    result = run_cli(capsys, "check", "--json", ldap.target)
    doc = json.loads(result.out)
    assert (result.code, doc["verdict"]["cause"]) == (3, "not_tls")
    assert f"ldap://{ldap.target}" in doc["error"]["message"]


@pytest.fixture(scope="module")
def pop3s(module_servers: ServerRunner, live_lab: LabPKI) -> RunningServer:
    return serve(module_servers, live_lab, start_dovecot, service="pop3", implicit_tls=True)


@pytest.mark.parametrize(
    ("identity", "cause"),
    [("good-rsa", "accepted"), ("expired", "certificate_expired"), (None, "no_certificate_sent")],
)
def test_pop3s_certificate_login(
    capsys: pytest.CaptureFixture[str],
    pop3s: RunningServer,
    live_lab: LabPKI,
    identity: str | None,
    cause: str,
) -> None:
    args = cert_args(live_lab, identity) if identity else ()
    code, doc = check_json(capsys, f"pop3s://{pop3s.target}", *args)
    assert doc["verdict"]["cause"] == cause, doc["verdict"]
    assert code == (0 if cause == "accepted" else 1)
    assert doc["handshake" if identity else "probe"]["application"]["protocol"] == "pop3"
