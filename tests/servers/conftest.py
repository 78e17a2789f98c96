"""Fixtures for tests that start real servers (see real.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mtls_doctor.lab.pki import LabPKI
from tests.servers.real import ServerRunner, write_bundle


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[ServerRunner]:
    """``servers(start_nginx, cert=..., ...)``: every server started is stopped at teardown."""
    runner = ServerRunner(tmp_path / "servers")
    try:
        yield runner
    finally:
        runner.stop_all()


@pytest.fixture(scope="session")
def live_lab_haproxy_pem(live_lab: LabPKI) -> Path:
    """The lab server's chain and key in one PEM file, as HAProxy's ``crt`` wants."""
    return write_bundle(
        live_lab.directory / "server" / "server-with-key.pem",
        live_lab.server_pem,
        live_lab.server_key_file,
    )


@pytest.fixture(scope="session")
def live_lab_all_crls(live_lab: LabPKI) -> Path:
    """The CRLs of the root and of the intermediate in one file (nginx checks every CA)."""
    return write_bundle(
        live_lab.directory / "ca" / "all-crls.pem",
        live_lab.directory / "ca" / "root.crl.pem",
        live_lab.crl_file,
    )
