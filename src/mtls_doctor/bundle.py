"""Adapter: files and directories → client identities.

What is written here is what no library does: pairing keys with
certificates by public key (across all the given files, so ``client.crt``
finds ``client.key`` beside it), picking the leaf, ordering the chain and
saying what is missing. Reading each file, whatever its format, is
``identityfile.py``'s job.

Nothing here ever puts a password or key material into a message.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from cryptography import x509

from mtls_doctor.errors import BundleLoadError, InputError
from mtls_doctor.identityfile import (
    Material,
    PasswordSource,
    PrivateKey,
    load_material,
    no_password,
)
from mtls_doctor.model import CertFacts, IdentityFacts, LoadProblem
from mtls_doctor.x509facts import cert_facts, extension, is_issued_by, key_ids_disagree, spki_sha256

__all__ = [
    "MAX_DIRECTORY_FILES",
    "MAX_SIGNATURE_CHECKS",
    "LoadResult",
    "LoadedIdentity",
    "PasswordSource",
    "load_identities",
    "load_material",
    "no_password",
]

#: Signatures checked to find one certificate's issuer among same-name candidates.
MAX_SIGNATURE_CHECKS = 8
#: A directory scan stops after this many files (a home directory by mistake).
MAX_DIRECTORY_FILES = 2000


@dataclass(frozen=True, slots=True)
class LoadedIdentity:
    """An identity with the live objects a handshake needs, beside its facts.

    The private key is held only in memory; it is excluded from ``repr`` so it
    cannot leak into a log or a traceback.
    """

    facts: IdentityFacts
    certificate: x509.Certificate
    #: Same order as ``facts.chain``.
    chain: tuple[x509.Certificate, ...]
    private_key: PrivateKey | None = field(default=None, repr=False)

    @property
    def issuing_path(self) -> tuple[x509.Certificate, ...]:
        """The chain certificates that link up from the leaf, in order."""
        return self.chain[: self.facts.path_length]


@dataclass(slots=True)
class LoadResult:
    """What a set of paths yielded: identities, CA certificates, and files that failed."""

    identities: list[LoadedIdentity] = field(default_factory=list)
    #: CA certificates found beside the identities (CA-only files in a directory):
    #: candidates for missing intermediates.
    ca_certificates: list[x509.Certificate] = field(default_factory=list)
    problems: list[LoadProblem] = field(default_factory=list)


@dataclass(slots=True)
class _KeyPool:
    """Private keys by SPKI hash, so a certificate finds its key in any file."""

    keys: dict[str, tuple[PrivateKey, str]] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)

    def add(self, key: PrivateKey, path: str) -> str:
        digest = spki_sha256(key.public_key())
        self.keys.setdefault(digest, (key, path))
        return digest

    def take(self, digest: str) -> PrivateKey | None:
        entry = self.keys.get(digest)
        if entry is None:
            return None
        self.used.add(digest)
        return entry[0]


class _Issuers:
    """Who signed whom among one file's certificates, found through an index by name.

    Comparing every certificate with every other was quadratic (10,000
    certificates in one PEM took a minute). Candidates are looked up by the
    child's issuer name; a declared key identifier that differs (RFC 5280
    4.2.1.1) rules a candidate out without a signature check; and at most
    ``MAX_SIGNATURE_CHECKS`` signatures are checked per certificate, so a file of
    a thousand same-name CAs with other keys cannot demand a million.
    """

    def __init__(self, certs: Sequence[x509.Certificate]) -> None:
        self._by_subject: dict[x509.Name, list[x509.Certificate]] = {}
        for cert in certs:
            self._by_subject.setdefault(cert.subject, []).append(cert)
        self._found: dict[int, list[x509.Certificate]] = {}
        self._self_signed: dict[int, bool] = {}

    def self_signed(self, cert: x509.Certificate) -> bool:
        """Its own name and key signed it (checked once per certificate)."""
        if id(cert) not in self._self_signed:
            self._self_signed[id(cert)] = cert.subject == cert.issuer and is_issued_by(cert, cert)
        return self._self_signed[id(cert)]

    def of(self, cert: x509.Certificate) -> list[x509.Certificate]:
        """The other certificates of the file whose key signed ``cert``."""
        found = self._found.get(id(cert))
        if found is None:
            found = []
            checks = 0
            for candidate in self._by_subject.get(cert.issuer, ()):
                if candidate is cert or key_ids_disagree(cert, candidate):
                    continue
                checks += 1
                if checks > MAX_SIGNATURE_CHECKS:
                    break
                if is_issued_by(cert, candidate):
                    found.append(candidate)
            self._found[id(cert)] = found
        return found


def _leaves(material: Material, issuers: _Issuers) -> list[x509.Certificate]:
    """Certificates that issue no other certificate of the same file."""
    if material.leaf_hint is not None:
        return [material.leaf_hint]
    signers = {id(parent) for cert in material.certs for parent in issuers.of(cert)}
    return [cert for cert in material.certs if id(cert) not in signers]


def _is_ca(cert: x509.Certificate) -> bool:
    basic = extension(cert, x509.BasicConstraints)
    return bool(basic is not None and basic.ca)


def _issuing_path(leaf: x509.Certificate, issuers: _Issuers) -> list[x509.Certificate]:
    path: list[x509.Certificate] = []
    used = {id(leaf)}
    current = leaf
    while not issuers.self_signed(current):
        parent = next((c for c in issuers.of(current) if id(c) not in used), None)
        if parent is None:
            break
        path.append(parent)
        used.add(id(parent))
        current = parent
    return path


@dataclass(slots=True)
class _FileView:
    """What every identity of one file shares: computed once, not once per identity."""

    material: Material
    issuers: _Issuers
    leaves: list[x509.Certificate]
    position: dict[int, int] = field(default_factory=dict)
    facts: dict[int, CertFacts] = field(default_factory=dict)
    #: The certificates that are no identity's leaf, in file order.
    others: list[x509.Certificate] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.position = {id(c): i for i, c in enumerate(self.material.certs)}
        leaf_ids = {id(c) for c in self.leaves}
        self.others = [c for c in self.material.certs if id(c) not in leaf_ids]

    def cert_facts(self, cert: x509.Certificate) -> CertFacts:
        if id(cert) not in self.facts:
            self.facts[id(cert)] = cert_facts(cert)
        return self.facts[id(cert)]


def _build_identity(
    view: _FileView,
    leaf: x509.Certificate,
    source: str,
    key: PrivateKey | None,
    key_matches: bool | None,
) -> LoadedIdentity:
    material = view.material
    path = _issuing_path(leaf, view.issuers)
    on_path = {id(leaf), *(id(c) for c in path)}
    unrelated = [c for c in view.others if id(c) not in on_path]
    in_order: bool | None = None
    if material.format == "pem":
        positions = [view.position[id(x)] for x in [leaf, *path]]
        in_order = positions == sorted(positions)
    chain = (*path, *unrelated)
    facts = IdentityFacts(
        source=source,
        format=material.format,
        certificate=view.cert_facts(leaf),
        chain=tuple(view.cert_facts(c) for c in chain),
        path_length=len(path),
        bundle_in_order=in_order,
        has_private_key=key is not None,
        key_matches=key_matches,
    )
    return LoadedIdentity(facts=facts, certificate=leaf, chain=chain, private_key=key)


def _assemble(
    materials: Sequence[Material], pool: _KeyPool, *, in_directory: bool, result: LoadResult
) -> None:
    for material in materials:
        issuers = _Issuers(material.certs)
        leaves = _leaves(material, issuers) if material.certs else []
        if in_directory:
            # A CA certificate without its key, in a directory, is chain material.
            keyed = {id(c) for c in leaves if spki_sha256(c.public_key()) in pool.keys}
            ca_only = [c for c in leaves if _is_ca(c) and id(c) not in keyed]
            ca_ids = {id(c) for c in ca_only}
            result.ca_certificates.extend(ca_only)
            if len(ca_only) == len(leaves):
                result.ca_certificates.extend(c for c in material.certs if id(c) not in ca_ids)
                continue
            leaves = [c for c in leaves if id(c) not in ca_ids]
        view = _FileView(material=material, issuers=issuers, leaves=leaves)
        own_keys = [spki_sha256(k.public_key()) for k in material.keys]
        for number, leaf in enumerate(leaves, start=1):
            digest = spki_sha256(leaf.public_key())
            key = pool.take(digest)
            matches: bool | None = True if key is not None else None
            if key is None:
                # The file's own key that belongs to no certificate: a mismatch.
                stray = next((d for d in own_keys if d not in pool.used), None)
                if stray is None and len(leaves) == 1:
                    stray = next(
                        (
                            d
                            for d, (_, p) in pool.keys.items()
                            if p == "--key" and d not in pool.used
                        ),
                        None,
                    )
                if stray is not None:
                    key, matches = pool.take(stray), False
            source = material.path if len(leaves) == 1 else f"{material.path}#{number}"
            result.identities.append(_build_identity(view, leaf, source, key, matches))


def _set_aside_ca_files(result: LoadResult) -> None:
    """A keyless CA certificate given beside real identities is chain material.

    ``--cert client.pem --cert intermediate.pem`` means "here is my chain",
    not "I have two identities".
    """
    keyless_cas = [
        item
        for item in result.identities
        if item.private_key is None and item.facts.certificate.is_ca
    ]
    if not keyless_cas or len(keyless_cas) == len(result.identities):
        return
    for item in keyless_cas:
        result.identities.remove(item)
        result.ca_certificates.extend([item.certificate, *item.chain])


def _visible_files(directory: Path) -> Iterator[Path]:
    """Files under ``directory``, lazily: the caller stops after its bound."""
    return (p for p in directory.rglob("*") if not p.name.startswith(".") and p.is_file())


def _expand(
    paths: Iterable[str | os.PathLike[str]], max_files: int = MAX_DIRECTORY_FILES
) -> list[tuple[Path, bool]]:
    """Files to read, each with whether it came from a directory scan."""
    files: list[tuple[Path, bool]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(islice(_visible_files(path), max_files + 1))
            if len(found) > max_files:
                raise BundleLoadError(
                    str(path),
                    f"directory holds more than {max_files} files; point at the "
                    "folder of your certificates",
                )
            files.extend((p, True) for p in found)
            if not found:
                raise BundleLoadError(str(path), "directory is empty")
        else:
            files.append((path, False))
    return files


def load_identities(
    paths: Sequence[str | os.PathLike[str]],
    *,
    key_path: str | os.PathLike[str] | None = None,
    password: PasswordSource = no_password,
    max_files: int = MAX_DIRECTORY_FILES,
) -> LoadResult:
    """Load every identity found in ``paths`` (files or directories).

    Files that cannot be used are reported in ``problems``; the others are
    still loaded. Keys are paired with certificates by public key across all
    the given files, so ``client.crt`` finds ``client.key`` beside it.
    ``max_files`` bounds a directory scan (``watch`` reads whole fleets).
    """
    from mtls_doctor.kdfcost import one_budget

    with one_budget():
        return _load_identities(paths, key_path=key_path, password=password, max_files=max_files)


def _load_identities(
    paths: Sequence[str | os.PathLike[str]],
    *,
    key_path: str | os.PathLike[str] | None,
    password: PasswordSource,
    max_files: int,
) -> LoadResult:
    result = LoadResult()
    pool = _KeyPool()
    materials: list[tuple[Material, bool]] = []
    if key_path is not None:
        key_material = load_material(Path(key_path), password)  # explicit: errors are fatal
        if not key_material.keys:
            raise BundleLoadError(str(key_path), "holds no private key")
        for key in key_material.keys:
            pool.add(key, "--key")
    for path, in_directory in _expand(paths, max_files):
        try:
            material = load_material(path, password)
        except InputError as exc:
            code = exc.code
            result.problems.append(LoadProblem(path=str(path), code=code, message=str(exc)))
            continue
        for key in material.keys:
            pool.add(key, material.path)
        materials.append((material, in_directory))
    for material, in_directory in materials:
        _assemble([material], pool, in_directory=in_directory, result=result)
    _set_aside_ca_files(result)
    result.problems.extend(
        LoadProblem(
            path=origin,
            code="orphan_key",
            message=f"{origin}: a private key that belongs to none of the certificates found",
        )
        for digest, (_, origin) in pool.keys.items()
        if digest not in pool.used and origin != "--key"
    )
    return result
