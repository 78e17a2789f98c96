"""The lab directory on disk: write it without following planted links, tell
a lab from foreign files, and read an existing lab back.

Why so careful: the directory is the user's, and anything in it may be a
symbolic link planted by someone else (into ``/etc``, onto a world-readable
file). So the PKI is written into a fresh private directory that only this
process created (``mkdtemp``: mode 0700, unpredictable name), every file with
``O_CREAT | O_EXCL | O_NOFOLLOW`` (keys 0600), and only then renamed into
place; ``rename`` replaces a planted link itself, it never writes through it.
Nothing outside the lab's own entries is ever overwritten.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mtls_doctor.errors import UsageError

if TYPE_CHECKING:
    from mtls_doctor.lab.pki import LabPKI

#: The entries a lab directory may hold (what ``lab pki``, ``lab up`` write).
LAB_ENTRIES = frozenset(
    {"ca", "server", "identities", "p12-password.txt", "manifest.json", "lab.log", "lab-state.json"}
)
MANIFEST = "manifest.json"
_STAGING_PREFIX = ".mtls-doctor-new-"


def write_new(path: Path, data: bytes, *, secret: bool = False) -> None:
    """Create ``path`` (never an existing file, never through a link); keys 0600."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, 0o600 if secret else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def replace_file(path: Path, data: bytes) -> None:
    """Write ``path`` atomically: a new file beside it, renamed over it (a link is replaced)."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def classify(directory: Path) -> str:
    """``"empty"`` (or absent), ``"lab"`` (a lab PKI is there) or ``"foreign"``."""
    try:
        names = {entry.name for entry in os.scandir(directory)}
    except FileNotFoundError:
        return "empty"
    except NotADirectoryError:
        return "foreign"
    names = {n for n in names if not n.startswith(_STAGING_PREFIX)}
    if not names - {"lab.log", "lab-state.json"}:
        return "empty"
    if names - LAB_ENTRIES or read_manifest(directory) is None:
        return "foreign"
    return "lab"


def read_manifest(directory: Path) -> dict[str, Any] | None:
    """The lab's manifest, or None when there is none (or it is not the lab's)."""
    path = directory / MANIFEST
    if path.is_symlink() or not path.is_file():
        return None
    try:
        document = json.loads(path.read_bytes()[: 1024 * 1024])
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or not isinstance(document.get("identities"), list):
        return None
    return document


def refuse_foreign(directory: Path) -> None:
    """A UsageError when ``directory`` holds anything the lab did not make."""
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory}: exists and is not a directory")
    if classify(directory) == "foreign":
        raise UsageError(
            f"{directory}: holds files the lab did not make; the lab never overwrites them "
            "(choose an empty or new directory)"
        )


class Staging:
    """A fresh private directory inside the lab directory; ``install`` renames it into place."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.target = directory
        self.root = Path(tempfile.mkdtemp(dir=directory, prefix=_STAGING_PREFIX))

    def write(self, path: Path, data: bytes, *, secret: bool = False) -> None:
        """Write the file that will be ``path`` (a path under the target directory)."""
        staged = self.root / path.relative_to(self.target)
        for parent in reversed(staged.relative_to(self.root).parents[:-1]):
            folder = self.root / parent
            if not folder.is_dir():
                folder.mkdir(mode=0o755)
        write_new(staged, data, secret=secret)

    def install(self) -> None:
        """Move every staged entry into the target, replacing (not following) what is there."""
        trash = Path(tempfile.mkdtemp(dir=self.target, prefix=_STAGING_PREFIX))
        try:
            for entry in sorted(os.listdir(self.root)):
                final = self.target / entry
                if os.path.lexists(final):
                    os.rename(final, trash / entry)
                os.rename(self.root / entry, final)
        finally:
            self.discard()
            shutil.rmtree(trash, ignore_errors=True)

    def discard(self) -> None:
        """Remove what is left of the staging directory."""
        shutil.rmtree(self.root, ignore_errors=True)


def load_lab_pki(directory: Path) -> LabPKI:
    """Read back the lab PKI ``lab pki`` wrote (so ``lab up`` keeps it instead of a new root)."""
    from datetime import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from mtls_doctor.causes import Cause
    from mtls_doctor.lab.pki import LabCA, LabIdentity, LabPKI

    document = read_manifest(directory)
    if document is None:
        raise UsageError(f"{directory}: holds no lab PKI (no manifest.json)")

    def data(relative: str) -> bytes:
        path = directory / relative
        if path.is_symlink() or not path.is_file():
            raise UsageError(f"{path}: missing from the lab; regenerate it with `lab pki --force`")
        return path.read_bytes()

    def certs(relative: str) -> list[x509.Certificate]:
        return x509.load_pem_x509_certificates(data(relative))

    def key(relative: str) -> Any:
        return load_pem_private_key(data(relative), password=None)

    def ca(stem: str, name: str) -> LabCA:
        return LabCA(name, certs(f"ca/{stem}.pem")[0], key(f"ca/{stem}.key"))

    try:
        identities = {}
        for item in document["identities"]:
            leaf, *chain = certs(item["crt"])
            identities[item["name"]] = LabIdentity(
                name=item["name"],
                expected=Cause(item["expected_cause"]),
                description=item["description"],
                certificate=leaf,
                chain=tuple(chain),
                bundle_key=key(item["key"]) if item["key"] else None,
                pem=directory / item["pem"],
                p12=directory / item["p12"] if item["p12"] else None,
                p12_protected=directory / item["p12_protected"] if item["p12_protected"] else None,
            )
        return LabPKI(
            directory=directory,
            now=datetime.fromisoformat(document["generated_for"].replace("Z", "+00:00")),
            root=ca("root", "root"),
            intermediate=ca("intermediate", "intermediate"),
            unrelated=ca("unrelated-ca", "unrelated"),
            rotated=ca("rotated-root", "rotated"),
            server_cert=certs(document["server"]["certificate"])[0],
            server_key=key(document["server"]["key"]),
            identities=identities,
            crl=x509.load_pem_x509_crl(data(document["crl"])),
            password_file=directory / document["password_file"],
            base_url=document.get("base_url"),
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise UsageError(
            f"{directory}: the lab PKI is incomplete or damaged ({type(exc).__name__}); "
            "regenerate it with `mtls-doctor lab pki DIR --force`"
        ) from None
