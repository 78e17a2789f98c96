"""The on-disk CRL cache, so that a fleet of checks fetches each CRL once.

``$XDG_CACHE_HOME/mtls-doctor/crl/``, one file per URL (named by a hash of
it). Only the lookup writes here, and only CRLs that verified and were
fresh; every use checks the cached CRL again.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from mtls_doctor.errors import InputError
from mtls_doctor.files import read_regular_file
from mtls_doctor.revocation.crl import CRL_MAX_BYTES

__all__ = ["CrlCache", "default_cache_dir"]


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/mtls-doctor`` (``~/.cache/mtls-doctor`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mtls-doctor"


class CrlCache:
    """Downloaded CRLs on disk, keyed by a hash of their URL.

    Only CRLs that verified and were fresh are stored, and a cached CRL is
    checked again on every use: it is reused until its nextUpdate, then
    fetched anew. Failing to write is not an error (a read-only home still
    gets answers, only slower).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory) / "crl"

    def path_for(self, url: str) -> Path:
        """Where the CRL from ``url`` is kept."""
        return self.directory / f"{hashlib.sha256(url.encode()).hexdigest()}.crl"

    def load(self, url: str) -> bytes | None:
        """The cached bytes for ``url``, or None."""
        try:
            return read_regular_file(self.path_for(url), limit=CRL_MAX_BYTES, what="cached CRL")
        except InputError:
            return None

    def store(self, url: str, data: bytes) -> None:
        """Keep ``data`` for ``url`` (written atomically: readers never see half a CRL)."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, temp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        except OSError:
            return
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(temp, self.path_for(url))
        except OSError:
            Path(temp).unlink(missing_ok=True)
