"""A real Prometheus (Debian's package) scrapes the exporter and answers PromQL;
``promtool`` checks the shipped alert rules and the sharded example configuration."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from mtls_doctor.lab.pki import LabPKI
from tests.servers.real import (
    RunningServer,
    ServerRunner,
    require_binary,
    start_exporter,
    start_prometheus,
)

CONTRIB = Path(__file__).resolve().parents[2] / "contrib" / "prometheus"
RULES = CONTRIB / "mtls-doctor-alerts.yml"


def query(prometheus: RunningServer, promql: str) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{prometheus.port}/api/v1/query?" + urllib.parse.urlencode(
        {"query": promql}
    )
    with urllib.request.urlopen(url, timeout=5) as answer:
        document = json.load(answer)
    assert document["status"] == "success", document
    result: list[dict[str, Any]] = document["data"]["result"]
    return result


def wait_for(prometheus: RunningServer, promql: str, timeout: float = 180) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = query(prometheus, promql)
        except urllib.error.HTTPError as error:
            # Prometheus accepts connections before its storage is ready and
            # answers 503 until then (its /-/ready endpoint says the same).
            if error.code != 503:
                raise
            result = []
        if result:
            return result
        assert time.monotonic() < deadline, prometheus.describe_logs()
        time.sleep(0.5)


@pytest.mark.realserver
def test_prometheus_scrapes_the_exporter_and_answers_promql(
    live_lab: LabPKI, servers: ServerRunner
) -> None:
    ids = live_lab.identities
    exporter = servers(
        start_exporter,
        "--cert",
        str(ids["good-ecdsa"].pem),
        "--cert",
        str(ids["expiring-soon"].pem),
        "--interval",
        "3600",
    )
    prometheus = servers(start_prometheus, scrape=[exporter.target], rules=RULES)
    soonest = wait_for(prometheus, 'bottomk(1, x509_cert_not_after{usage="client"})')
    [series] = soonest
    assert series["metric"]["subject_CN"] == "expiring-soon@lab.test"
    expected = ids["expiring-soon"].certificate.not_valid_after_utc.timestamp()
    assert float(series["value"][1]) == expected
    days = wait_for(
        prometheus, '(x509_cert_not_after{subject_CN="good-ecdsa@lab.test"} - time()) / 86400'
    )
    assert 363 < float(days[0]["value"][1]) < 366
    # the shipped rules are loaded by this Prometheus, and healthy
    with urllib.request.urlopen(
        f"http://127.0.0.1:{prometheus.port}/api/v1/rules", timeout=5
    ) as answer:
        groups = json.load(answer)["data"]["groups"]
    assert [g["name"] for g in groups] == ["mtls-doctor"]
    assert all(rule["health"] != "err" for rule in groups[0]["rules"])


@pytest.mark.parametrize(
    ("command", "path"),
    [("rules", RULES), ("config", CONTRIB / "prometheus-sharded.yml")],
)
def test_promtool_accepts_the_shipped_files(command: str, path: Path) -> None:
    promtool = require_binary("promtool")
    done = subprocess.run(
        [promtool, "check", command, str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout + done.stderr
