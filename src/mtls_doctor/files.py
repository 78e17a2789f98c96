"""The one way mtls-doctor reads a file: regular files only, never more than a bound.

Every path the tool opens comes from someone else: a flag, a directory scan,
a directive inside a server configuration (``ssl_client_certificate``,
``Include``, HAProxy ``ca-file``). A path can name ``/dev/zero`` (endless),
``/dev/urandom``, a FIFO (``open`` blocks until a writer appears, for ever)
or a terminal. So a file is opened with ``O_NONBLOCK`` (opening a FIFO
returns at once instead of waiting for a writer), checked with ``fstat`` on
the open descriptor (no race between the check and the read), refused unless
it is a regular file, and read to at most ``limit`` bytes: a file that grows
while it is read is refused too, never held whole.

:func:`read_regular_file` is for files read at once; :func:`open_regular_file`
gives a binary stream for readers that stream (the caller bounds what it
reads). Both raise :class:`FileReadError` (an :class:`InputError`, exit 2),
whose ``reason`` is one line a caller can put into its own error type.
"""

from __future__ import annotations

import os
import stat
from enum import StrEnum
from typing import BinaryIO

from mtls_doctor.errors import InputError

__all__ = [
    "FileFault",
    "FileReadError",
    "open_regular_file",
    "read_regular_file",
    "read_regular_text",
]

#: O_NONBLOCK: a FIFO opens without waiting for a writer; O_NOCTTY: a terminal never
#: becomes ours. Neither changes how a regular file is read.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
_OPEN_FLAGS |= getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)


class FileFault(StrEnum):
    """Why a file could not be read."""

    MISSING = "missing"
    UNREADABLE = "unreadable"  # permission, I/O error
    NOT_REGULAR = "not_regular"  # directory, device, FIFO, socket
    TOO_LARGE = "too_large"


class FileReadError(InputError):
    """A file that cannot be read: missing, not a regular file, too large, no permission."""

    code = "file_read"

    def __init__(self, path: str, reason: str, *, kind: FileFault) -> None:
        self.path = path
        self.reason = reason
        #: What went wrong, for callers that report it as a fact rather than an error.
        self.kind = kind
        super().__init__(f"{path}: {reason}")


def _size(count: int) -> str:
    if count >= 1024 * 1024 and count % (1024 * 1024) == 0:
        return f"{count // (1024 * 1024)} MiB"
    if count >= 1024 and count % 1024 == 0:
        return f"{count // 1024} KiB"
    return f"{count} bytes"


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "is a directory, not a file"
    if stat.S_ISFIFO(mode):
        return "is a FIFO (named pipe), not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a regular file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a regular file"
    return "is not a regular file"


def _open(path: str | os.PathLike[str], what: str) -> tuple[int, os.stat_result]:
    name = os.fspath(path)
    try:
        fd = os.open(name, _OPEN_FLAGS)
    except FileNotFoundError:
        raise FileReadError(name, f"no such file (the {what})", kind=FileFault.MISSING) from None
    except PermissionError:
        raise FileReadError(
            name, f"permission denied: cannot read the {what}", kind=FileFault.UNREADABLE
        ) from None
    except IsADirectoryError:
        raise FileReadError(
            name, "is a directory, not a file", kind=FileFault.NOT_REGULAR
        ) from None
    except OSError as exc:
        raise FileReadError(
            name, f"cannot open the {what}: {exc.strerror or exc}", kind=FileFault.UNREADABLE
        ) from None
    try:
        info = os.fstat(fd)
    except OSError as exc:  # pragma: no cover - fstat of a descriptor just opened
        os.close(fd)
        raise FileReadError(name, f"cannot read: {exc}", kind=FileFault.UNREADABLE) from None
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise FileReadError(
            name,
            f"{_kind(info.st_mode)}; give the path of the {what}",
            kind=FileFault.NOT_REGULAR,
        )
    return fd, info


def _too_large(what: str, limit: int) -> str:
    return f"larger than the {_size(limit)} a {what} can be; is this the right file?"


def read_regular_file(path: str | os.PathLike[str], *, limit: int, what: str = "file") -> bytes:
    """The bytes of the regular file ``path``, refused beyond ``limit`` bytes.

    ``what`` names the file in messages ("CA bundle", "CRL file"). Raises
    :class:`FileReadError` for a missing, unreadable or oversized file, and
    for anything that is not a regular file (device, FIFO, socket, directory).
    """
    fd, info = _open(path, what)
    name = os.fspath(path)
    try:
        if info.st_size > limit:
            raise FileReadError(name, _too_large(what, limit), kind=FileFault.TOO_LARGE)
        chunks: list[bytes] = []
        total = 0
        while total <= limit:
            chunk = os.read(fd, min(1024 * 1024, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise FileReadError(
            name, f"cannot read the {what}: {exc.strerror or exc}", kind=FileFault.UNREADABLE
        ) from None
    finally:
        os.close(fd)
    if total > limit:
        raise FileReadError(name, _too_large(what, limit), kind=FileFault.TOO_LARGE)
    return b"".join(chunks)


def read_regular_text(path: str | os.PathLike[str], *, limit: int, what: str = "file") -> str:
    """:func:`read_regular_file` decoded as UTF-8; undecodable bytes become U+FFFD."""
    return read_regular_file(path, limit=limit, what=what).decode("utf-8", errors="replace")


def open_regular_file(path: str | os.PathLike[str], *, what: str = "file") -> BinaryIO:
    """A binary stream on the regular file ``path``, for a caller that streams it.

    The same refusals as :func:`read_regular_file`, without the size bound:
    the caller reads in bounded pieces. Close it (``with``) when done.
    """
    fd, _info = _open(path, what)
    try:
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except OSError as exc:  # pragma: no cover - fdopen of a fresh descriptor
        os.close(fd)
        raise FileReadError(
            os.fspath(path), f"cannot read the {what}: {exc}", kind=FileFault.UNREADABLE
        ) from None
