"""Helpers shared by the service tests: run check as JSON, the lab's arguments, start a server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mtls_doctor.lab.pki import LabPKI
from tests.cli import run_cli
from tests.servers.real import RunningServer, ServerRunner


def check_json(capsys: pytest.CaptureFixture[str], target: str, *args: str) -> tuple[int, Any]:
    """``check --json`` (no revocation lookups): the exit code and the document."""
    result = run_cli(capsys, "check", "--json", "--no-revocation", "--timeout", "8", target, *args)
    return result.code, json.loads(result.out)


def cert_args(lab: LabPKI, name: str) -> tuple[str, ...]:
    """``--cert`` for a lab identity (leaf, chain and key in one PEM)."""
    return ("--cert", str(lab.identities[name].pem))


def serve(runner: ServerRunner, lab: LabPKI, start: Any, **options: Any) -> RunningServer:
    """``start`` with the lab's server identity, trusting the lab's client CA."""
    return runner(
        start, cert=lab.server_pem, key=lab.server_key_file, ca_file=lab.client_ca_bundle, **options
    )
