"""Adapter: NSS databases (Chromium/Chrome on Linux, Firefox) → client identities.

Route: Debian's ``libnss3-tools`` (``certutil``, ``pk12util``), not reading
``cert9.db`` / ``key4.db`` with sqlite3. Why:

* the tools are NSS itself: they read every database layout NSS writes
  (``sql:`` cert9/key4 and, where the library still can, legacy ``dbm:``
  cert8/key3), honour its locking while a browser has it open, and apply
  NSS's own pairing of keys with certificates (the ``u`` trust flag);
* the sqlite schema (``nssPublic`` / ``nssPrivate`` columns named after
  PKCS#11 attribute numbers) is an NSS-internal detail, and private keys in
  ``key4.db`` are wrapped with NSS-specific PBE metadata and integrity
  checks: reading them by hand would be a hand-written crypto parser for no
  gain in robustness.

Listing needs no password (certificates are public objects, and NSS marks a
certificate with a key as a user certificate without logging in). Only
``check`` needs a private key, and only for the identity it presents: it is
exported with ``pk12util`` into a *pipe* (never a file), under a random
one-time PKCS#12 password that also travels through a pipe, as does the
database password; the key then lives only in this process's memory.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import pkcs12

from mtls_doctor.bundle import (
    LoadedIdentity,
    LoadResult,
    PasswordSource,
    _is_ca,
    _Issuers,
    _issuing_path,
)
from mtls_doctor.errors import BundleLoadError, InputError, PasswordError
from mtls_doctor.model import IdentityFacts, LoadProblem
from mtls_doctor.x509facts import cert_facts, spki_sha256

#: A database with more certificates than this is not a person's browser store.
MAX_NICKNAMES = 500
TOOL_TIMEOUT = 30.0
PARALLEL_TOOLS = 4
#: Read-only system roots Firefox loads from libnssckbi: never client identities.
_BUILTIN_PREFIX = "Builtin Object Token:"
_CLIENT_EKUS = frozenset({"clientAuth", "anyExtendedKeyUsage"})
_LIST_LINE = re.compile(r"^(?P<nick>.*?)\s+(?P<trust>[A-Za-z]*,[A-Za-z]*,[A-Za-z]*)\s*$")


class NssToolsMissingError(InputError):
    """``certutil`` / ``pk12util`` are not installed."""

    code = "nss_tools_missing"


@dataclass(frozen=True, slots=True)
class NssStore:
    """One NSS database directory, and which program's it is."""

    directory: Path
    #: ``sql`` (cert9.db / key4.db) or ``dbm`` (legacy cert8.db / key3.db).
    prefix: str
    #: ``chromium`` (~/.pki/nssdb), ``firefox`` (a profile) or ``nss`` (given directory).
    kind: str

    @property
    def spec(self) -> str:
        """The ``-d`` argument of the NSS tools."""
        return f"{self.prefix}:{self.directory}"

    def __str__(self) -> str:
        return f"nss:{self.directory}"


@dataclass(frozen=True, slots=True)
class NssIdentity(LoadedIdentity):
    """An identity in an NSS database: the key stays there until ``with_private_key``."""

    store: NssStore | None = None
    nickname: str = ""


def _store_at(directory: Path, kind: str) -> NssStore | None:
    if (directory / "cert9.db").is_file():
        return NssStore(directory, "sql", kind)
    if (directory / "cert8.db").is_file():
        return NssStore(directory, "dbm", kind)
    return None


def default_nss_stores(home: Path | None = None) -> list[NssStore]:
    """Chromium/Chrome's ~/.pki/nssdb and every Firefox profile (also snap and flatpak)."""
    base = home if home is not None else Path(os.environ.get("HOME") or Path.home())
    found: list[NssStore] = []
    chromium = _store_at(base / ".pki" / "nssdb", "chromium")
    if chromium is not None:
        found.append(chromium)
    for root in (
        base / ".mozilla" / "firefox",
        base / "snap" / "firefox" / "common" / ".mozilla" / "firefox",
        base / ".var" / "app" / "org.mozilla.firefox" / ".mozilla" / "firefox",
    ):
        if root.is_dir():
            for profile in sorted(p for p in root.iterdir() if p.is_dir()):
                store = _store_at(profile, "firefox")
                if store is not None:
                    found.append(store)
    return found


def parse_store(spec: str, home: Path | None = None) -> list[NssStore]:
    """``nss`` (the default locations) or ``nss:DIR`` → the databases to read."""
    kind, _, where = spec.partition(":")
    if kind != "nss":
        raise InputError(f"--store {spec}: unknown store (use nss or nss:DIR)")
    if where:
        directory = Path(where.removeprefix("sql:").removeprefix("dbm:")).expanduser()
        if not directory.is_dir():
            raise BundleLoadError(str(directory), "no such directory (an NSS database folder)")
        store = _store_at(directory, "nss")
        if store is None:
            raise BundleLoadError(
                str(directory), "no NSS database here (neither cert9.db nor cert8.db)"
            )
        return [store]
    stores = default_nss_stores(home)
    if not stores:
        raise InputError(
            "no NSS database found (looked in ~/.pki/nssdb and the Firefox profiles); "
            "give one with --store nss:DIR"
        )
    return stores


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        error = NssToolsMissingError(
            f"reading an NSS database needs {name} (Debian/Ubuntu: apt-get install libnss3-tools)"
        )
        raise error
    return path


def _run(
    args: Sequence[str], *, pass_fds: Sequence[int] = ()
) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "LC_ALL": "C"}
    env.pop("NSS_DEFAULT_DB_TYPE", None)
    try:
        return subprocess.run(
            list(args),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=TOOL_TIMEOUT,
            env=env,
            pass_fds=tuple(pass_fds),
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise InputError(f"{args[0]} did not finish within {TOOL_TIMEOUT:.0f} s") from exc


def _nicknames(store: NssStore) -> list[tuple[str, str]]:
    """``certutil -L``: (nickname, trust flags) per certificate, in database order."""
    done = _run([_tool("certutil"), "-L", "-d", store.spec])
    if done.returncode != 0:
        raise BundleLoadError(str(store.directory), f"NSS cannot open this database: {_why(done)}")
    found: list[tuple[str, str]] = []
    for line in done.stdout.decode("utf-8", "replace").splitlines():
        match = _LIST_LINE.match(line)
        if match is None or match["nick"].startswith(("Certificate Nickname", _BUILTIN_PREFIX)):
            continue
        if match["nick"] and not line.startswith(" "):
            found.append((match["nick"], match["trust"]))
    return found


def _certificates(store: NssStore, nickname: str) -> list[x509.Certificate]:
    done = _run([_tool("certutil"), "-L", "-d", store.spec, "-n", nickname, "-a"])
    if done.returncode != 0:
        return []
    try:
        return list(x509.load_pem_x509_certificates(done.stdout))
    except ValueError:
        return []


def _why(done: subprocess.CompletedProcess[bytes]) -> str:
    """The NSS error name from a tool's stderr (e.g. SEC_ERROR_BAD_DATABASE)."""
    text = done.stderr.decode("utf-8", "replace")
    names = re.findall(r"\b(?:SEC|SSL|PR)_ERROR_[A-Z_]+", text)
    return names[-1] if names else f"exit status {done.returncode}"


def load_nss_store(store: NssStore) -> LoadResult:
    """Every certificate of ``store``: identities (user certificates and other leaves) and CAs.

    A certificate counts as an identity when NSS says it has a private key
    (trust flag ``u``), or when it is a leaf whose usage allows client
    authentication (a certificate imported without its key). Each identity's chain is the
    issuing path the database itself can build: what the browser would send.
    """
    entries = _nicknames(store)
    if len(entries) > MAX_NICKNAMES:
        raise BundleLoadError(
            str(store.directory), f"more than {MAX_NICKNAMES} certificates: not a browser store"
        )
    pool: list[tuple[x509.Certificate, str, bool]] = []
    seen: set[bytes] = set()
    unique = list(dict.fromkeys(entries))
    # One certutil per nickname (it prints one nickname's certificates at a time): run
    # a few at once, the time is spent starting processes and opening the database.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=PARALLEL_TOOLS) as pool_of_runs:
        found = list(pool_of_runs.map(lambda entry: _certificates(store, entry[0]), unique))
    for (nickname, trust), certificates in zip(unique, found, strict=True):
        for cert in certificates:
            fingerprint = cert.fingerprint(hashes.SHA256())
            if fingerprint in seen:
                continue
            seen.add(fingerprint)
            pool.append((cert, nickname, "u" in trust))
    keyed_spki = {spki_sha256(c.public_key()) for c, _, user in pool if user}
    result = LoadResult()
    issuers = _Issuers([c for c, _, _ in pool])
    for cert, nickname, _user in pool:
        has_key = spki_sha256(cert.public_key()) in keyed_spki
        if _is_ca(cert) and not has_key:
            result.ca_certificates.append(cert)
            continue
        leaf = cert_facts(cert)
        eku = leaf.extended_key_usage
        if not has_key and eku is not None and not _CLIENT_EKUS.intersection(eku):
            # Firefox keeps servers' certificates (exceptions) and other people's e-mail
            # certificates here: without a key and not for client auth, nobody's identity.
            continue
        path = _issuing_path(cert, issuers)
        facts = IdentityFacts(
            source=f"{store}#{nickname}",
            format="nss",
            certificate=leaf,
            chain=tuple(cert_facts(c) for c in path),
            path_length=len(path),
            has_private_key=has_key,
            # NSS pairs a key with its certificate by the public key's ID.
            key_matches=True if has_key else None,
        )
        result.identities.append(
            NssIdentity(
                facts=facts, certificate=cert, chain=tuple(path), store=store, nickname=nickname
            )
        )
    return result


def load_nss_identities(spec: str = "nss", home: Path | None = None) -> LoadResult:
    """Identities of every database ``spec`` names (``nss`` or ``nss:DIR``); for inventories.

    A database that cannot be read is a ``problem``; the others still load.
    """
    result = LoadResult()
    for store in parse_store(spec, home):
        try:
            loaded = load_nss_store(store)
        except NssToolsMissingError:
            raise
        except InputError as exc:
            result.problems.append(LoadProblem(path=str(store), code=exc.code, message=str(exc)))
            continue
        result.identities.extend(loaded.identities)
        result.ca_certificates.extend(loaded.ca_certificates)
    return result


def _pipe_with(data: bytes) -> int:
    """A pipe already holding ``data`` (and closed for writing): its read end."""
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, data)
    finally:
        os.close(write_end)
    return read_end


def with_private_key(item: NssIdentity, password: PasswordSource) -> NssIdentity:
    """``item`` with its private key, exported from NSS through a pipe into memory.

    The database password (when it has one) comes from ``password``; a
    random one-time password protects the PKCS#12 on its way through the
    pipe. Nothing is written to disk.
    """
    store = item.store
    if store is None or not item.facts.has_private_key:
        return item
    secret = password(str(store)) or b""
    transit = secrets.token_urlsafe(24).encode()
    out_read, out_write = os.pipe()
    db_pw = _pipe_with(secret + b"\n")
    p12_pw = _pipe_with(transit + b"\n")
    chunks: list[bytes] = []

    def drain() -> None:
        while chunk := os.read(out_read, 65536):
            chunks.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        args = [_tool("pk12util"), "-o", f"/dev/fd/{out_write}", "-n", item.nickname]
        args += ["-d", store.spec, "-k", f"/dev/fd/{db_pw}", "-w", f"/dev/fd/{p12_pw}"]
        done = _run(args, pass_fds=(out_write, db_pw, p12_pw))
    finally:
        for fd in (out_write, db_pw, p12_pw):
            os.close(fd)
        reader.join(timeout=TOOL_TIMEOUT)
        os.close(out_read)
    if done.returncode != 0:
        reason = _why(done)
        if b"SEC_ERROR_BAD_PASSWORD" in done.stderr:
            raise PasswordError(
                str(store),
                "wrong password for this NSS database"
                if secret
                else "this NSS database is protected by a password and none was given "
                "(use --password-file FILE or --password-env VAR, or run in a terminal "
                "to be prompted)",
                needed=not secret,
            )
        raise BundleLoadError(
            str(store), f"NSS could not export the key of {item.nickname!r}: {reason}"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pk12util writes BER; cryptography warns, then reads it
        try:
            key, cert, _extra = pkcs12.load_key_and_certificates(b"".join(chunks), transit)
        except ValueError as exc:
            raise BundleLoadError(str(store), "NSS exported an unreadable PKCS#12") from exc
    if key is None or spki_sha256(key.public_key()) != item.facts.certificate.spki_sha256:
        raise BundleLoadError(
            str(store),
            f"NSS exported another key for {item.nickname!r} (several certificates share "
            "this nickname; give each its own with certutil --rename)",
        )
    del cert
    return replace(item, private_key=key)
