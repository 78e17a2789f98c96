"""Shared fixtures: one lab PKI per session, generated at a fixed time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mtls_doctor.lab.pki import LabPKI, build_lab_pki
from tests.servers.real import ServerRunner

#: Every test that depends on dates uses this "now".
LAB_NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> LabPKI:
    """The lab PKI generated for LAB_NOW (static files; do not modify)."""
    return build_lab_pki(tmp_path_factory.mktemp("lab"), now=LAB_NOW)


@pytest.fixture(scope="session")
def live_lab(tmp_path_factory: pytest.TempPathFactory) -> LabPKI:
    """A lab PKI generated for the real current time, for real servers."""
    return build_lab_pki(tmp_path_factory.mktemp("live-lab"))


@pytest.fixture
def lab_password(lab: LabPKI) -> bytes:
    """The lab's PKCS#12 password (a secret: tests assert it never leaks)."""
    return lab.password_file.read_bytes().strip()


@pytest.fixture
def chdir_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run a test inside its own temporary directory."""
    monkeypatch.chdir(tmp_path)
    yield tmp_path


@pytest.fixture(scope="module")
def module_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerRunner]:
    """Like ``servers``, but shared by a test module: start each real server once."""
    runner = ServerRunner(tmp_path_factory.mktemp("servers"))
    try:
        yield runner
    finally:
        runner.stop_all()


# The real-server fixtures (nginx, Apache, HAProxy, s_server) for every test folder.
from tests.servers.conftest import (  # noqa: E402
    live_lab_all_crls,
    live_lab_haproxy_pem,
    servers,
)

__all__ = ["live_lab_all_crls", "live_lab_haproxy_pem", "servers"]
