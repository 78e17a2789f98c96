"""check and probe on real Redis and Mosquitto: the application's answer, not an HTTP request.

Each server is started once per module; the verdict must be what the server
really does (its log is read where it says why).
"""

from __future__ import annotations

import json

import pytest

from mtls_doctor.lab.pki import LabPKI
from tests.cli import run_cli
from tests.servers.real import RunningServer, ServerRunner
from tests.servers.services import start_mosquitto, start_redis
from tests.services.common import cert_args, check_json, serve

pytestmark = pytest.mark.realserver


@pytest.fixture(scope="module")
def redis(module_servers: ServerRunner, live_lab: LabPKI) -> RunningServer:
    return serve(module_servers, live_lab, start_redis)


@pytest.fixture(scope="module")
def redis_password(module_servers: ServerRunner, live_lab: LabPKI) -> RunningServer:
    return serve(module_servers, live_lab, start_redis, password="not-a-real-secret")


@pytest.fixture(scope="module")
def mosquitto(module_servers: ServerRunner, live_lab: LabPKI) -> RunningServer:
    return serve(module_servers, live_lab, start_mosquitto)


@pytest.fixture(scope="module")
def mosquitto_denying(module_servers: ServerRunner, live_lab: LabPKI) -> RunningServer:
    return serve(module_servers, live_lab, start_mosquitto, acl_denies_all=True)


def test_redis_accepts_a_good_certificate_and_answers_pong(
    capsys: pytest.CaptureFixture[str], redis: RunningServer, live_lab: LabPKI
) -> None:
    code, doc = check_json(capsys, f"rediss://{redis.target}", *cert_args(live_lab, "good-rsa"))
    assert (code, doc["verdict"]["cause"]) == (0, "accepted"), doc["verdict"]
    assert doc["handshake"]["application"]["said"] == "+PONG"
    assert doc["handshake"]["http_status"] is None
    assert doc["handshakes"] == 1
    assert "SECURITY ATTACK" not in redis.error_log_text()


def test_redis_noauth_is_tls_accepted_and_says_a_password_is_wanted(
    capsys: pytest.CaptureFixture[str], redis_password: RunningServer, live_lab: LabPKI
) -> None:
    code, doc = check_json(
        capsys, f"rediss://{redis_password.target}", *cert_args(live_lab, "good-ecdsa")
    )
    assert (code, doc["verdict"]["cause"]) == (0, "accepted")
    assert doc["handshake"]["application"]["said"].startswith("-NOAUTH")
    assert "password" in doc["verdict"]["summary"]


@pytest.mark.parametrize(
    ("identity", "cause"),
    [
        ("expired", "certificate_expired"),
        ("untrusted", "untrusted_issuer"),
        ("revoked", "accepted"),  # Redis checks no CRL: it accepts a revoked certificate
    ],
)
def test_redis_verdicts_follow_what_redis_does(
    capsys: pytest.CaptureFixture[str],
    redis: RunningServer,
    live_lab: LabPKI,
    identity: str,
    cause: str,
) -> None:
    code, doc = check_json(capsys, f"rediss://{redis.target}", *cert_args(live_lab, identity))
    assert doc["verdict"]["cause"] == cause, doc["verdict"]
    assert code == (0 if cause == "accepted" else 1)


def test_redis_without_a_certificate_is_no_certificate_sent(
    capsys: pytest.CaptureFixture[str], redis: RunningServer
) -> None:
    code, doc = check_json(capsys, f"rediss://{redis.target}")
    assert (code, doc["verdict"]["cause"]) == (1, "no_certificate_sent")
    # No browser speaks Redis: no browser picker, no "quit the browser".
    assert "browser" not in " ".join(doc["verdict"]["fixes"]).lower(), doc["verdict"]["fixes"]
    probe = run_cli(capsys, "probe", "--json", "--protocol", "redis", redis.target)
    assert json.loads(probe.out)["client_auth"] == "required"


def test_redis_on_a_bare_port_gets_no_http_request_and_a_tls_level_verdict(
    capsys: pytest.CaptureFixture[str], redis: RunningServer, live_lab: LabPKI
) -> None:
    code, doc = check_json(capsys, redis.target, *cert_args(live_lab, "good-rsa"))
    assert (code, doc["verdict"]["cause"]) == (0, "accepted"), doc["verdict"]
    assert doc["handshake"]["application"]["protocol"] == "tls"
    assert "rediss://" in doc["verdict"]["summary"]
    # Redis logs any HTTP request it sees as an attack: none was sent.
    assert "SECURITY ATTACK" not in redis.error_log_text()


def test_mosquitto_accepts_with_connack_0(
    capsys: pytest.CaptureFixture[str], mosquitto: RunningServer, live_lab: LabPKI
) -> None:
    code, doc = check_json(capsys, f"mqtts://{mosquitto.target}", *cert_args(live_lab, "good-rsa"))
    assert (code, doc["verdict"]["cause"]) == (0, "accepted"), doc["verdict"]
    assert doc["handshake"]["application"]["said"].startswith("CONNACK 0")
    assert "protocol error" not in mosquitto.error_log_text().lower()


def test_mosquitto_refuses_an_expired_certificate_at_tls(
    capsys: pytest.CaptureFixture[str], mosquitto: RunningServer, live_lab: LabPKI
) -> None:
    code, doc = check_json(capsys, f"mqtts://{mosquitto.target}", *cert_args(live_lab, "expired"))
    assert (code, doc["verdict"]["cause"]) == (1, "certificate_expired"), doc["verdict"]


def test_mosquitto_not_authorized_is_rejected_by_application(
    capsys: pytest.CaptureFixture[str], mosquitto_denying: RunningServer, live_lab: LabPKI
) -> None:
    code, doc = check_json(
        capsys, f"mqtts://{mosquitto_denying.target}", *cert_args(live_lab, "good-rsa")
    )
    assert (code, doc["verdict"]["cause"]) == (1, "rejected_by_application"), doc["verdict"]
    assert doc["handshake"]["application"]["said"].startswith("CONNACK 5")


def test_probe_on_mosquitto_without_certificate_says_required(
    capsys: pytest.CaptureFixture[str], mosquitto: RunningServer
) -> None:
    result = run_cli(capsys, "probe", "--json", f"mqtts://{mosquitto.target}")
    doc = json.loads(result.out)
    assert doc["client_auth"] == "required", doc
    assert doc["handshakes"] == 1
