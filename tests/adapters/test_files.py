"""The one bounded, regular-files-only reader (mtls_doctor.files)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mtls_doctor.errors import InputError
from mtls_doctor.files import FileFault, FileReadError, open_regular_file, read_regular_file


def test_reads_a_regular_file(tmp_path: Path) -> None:
    path = tmp_path / "a.pem"
    path.write_bytes(b"x" * 100)
    assert read_regular_file(path, limit=100) == b"x" * 100


def test_refuses_a_file_over_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "big"
    path.write_bytes(b"x" * 101)
    with pytest.raises(FileReadError) as caught:
        read_regular_file(path, limit=100, what="CA bundle")
    assert caught.value.kind is FileFault.TOO_LARGE
    assert "larger than the 100 bytes a CA bundle can be" in str(caught.value)
    assert isinstance(caught.value, InputError)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_refuses_devices(device: str) -> None:
    if not os.path.exists(device):
        pytest.skip(f"{device} is absent on this system")
    with pytest.raises(FileReadError) as caught:
        read_regular_file(device, limit=1024, what="CRL file")
    assert caught.value.kind is FileFault.NOT_REGULAR
    assert (
        str(caught.value)
        == f"{device}: is a device, not a regular file; give the path of the CRL file"
    )


def test_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    # No writer ever opens it: a plain open() would wait for ever.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(FileReadError) as caught:
        read_regular_file(fifo, limit=1024)
    assert "FIFO" in caught.value.reason
    with pytest.raises(FileReadError):
        open_regular_file(fifo)


def test_refuses_a_directory_and_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileReadError) as directory:
        read_regular_file(tmp_path, limit=10)
    assert directory.value.kind is FileFault.NOT_REGULAR
    with pytest.raises(FileReadError) as missing:
        read_regular_file(tmp_path / "absent", limit=10)
    assert missing.value.kind is FileFault.MISSING


def test_follows_a_symlink_to_a_regular_file(tmp_path: Path) -> None:
    target = tmp_path / "real.pem"
    target.write_bytes(b"data")
    link = tmp_path / "link.pem"
    link.symlink_to(target)
    assert read_regular_file(link, limit=10) == b"data"
    (tmp_path / "dev").symlink_to("/dev/zero")
    with pytest.raises(FileReadError):
        read_regular_file(tmp_path / "dev", limit=10)


def test_stream_reads_in_blocking_mode(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes(b"line\n" * 3)
    with open_regular_file(path) as handle:
        assert handle.read() == b"line\n" * 3
