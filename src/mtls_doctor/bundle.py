"""Adapter: files and directories → client identities.

Reads PEM (any mix of certificates and keys, PKCS#8 or traditional, encrypted
or not), DER certificates and keys, PKCS#7 certificate bags and PKCS#12
(``.p12``/``.pfx``, legacy RC2/3DES included). The format is sniffed from
the content, never from the extension. Parsing is ``cryptography``'s; what
is written here is what no library does: pairing keys with certificates by
public key, picking the leaf, ordering the chain and saying what is missing.

Nothing here ever puts a password or key material into a message.
"""

from __future__ import annotations

import binascii
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from mtls_doctor.errors import BundleLoadError, InputError, PasswordError
from mtls_doctor.files import FileReadError, read_regular_file
from mtls_doctor.model import CertFacts, IdentityFacts, LoadProblem
from mtls_doctor.pem import scan_pem
from mtls_doctor.x509facts import (
    cert_facts,
    extension,
    is_issued_by,
    key_ids_disagree,
    spki_sha256,
    unreadable,
)

#: No client identity file is anywhere near this; larger input is refused unread.
MAX_FILE_BYTES = 10 * 1024 * 1024
#: Signatures checked to find one certificate's issuer among same-name candidates.
MAX_SIGNATURE_CHECKS = 8
#: A directory scan stops after this many files (a home directory by mistake).
MAX_DIRECTORY_FILES = 2000

#: ``path -> password``; returns None when no password is available.
PasswordSource = Callable[[str], bytes | None]

PrivateKey = Any  # cryptography's PrivateKeyTypes; kept opaque on purpose

_CERT_LABELS = {b"CERTIFICATE", b"X509 CERTIFICATE"}
_KEY_LABELS = {
    b"PRIVATE KEY",
    b"ENCRYPTED PRIVATE KEY",
    b"RSA PRIVATE KEY",
    b"EC PRIVATE KEY",
    b"DSA PRIVATE KEY",
}
_PKCS7_LABELS = {b"PKCS7", b"CMS"}


def no_password(_path: str) -> bytes | None:
    """The password source used when none was configured."""
    return None


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
class _Material:
    """What one file holds, in file order."""

    path: str
    format: str
    certs: list[x509.Certificate] = field(default_factory=list)
    keys: list[PrivateKey] = field(default_factory=list)
    #: PKCS#12 says which certificate goes with its key.
    leaf_hint: x509.Certificate | None = None


#: ``-`` as a path: the identity comes on standard input (``cat client.pem | inspect -``).
STDIN = "-"
#: The first four bytes of a Java keystore: JKS, JCEKS (PKCS#12 keystores are DER, read as such).
_JAVA_KEYSTORES = {b"\xfe\xed\xfe\xed": "JKS", b"\xce\xce\xce\xce": "JCEKS"}


def _read_stdin() -> bytes:
    import sys

    stream = sys.stdin
    if stream is None or stream.isatty():
        raise BundleLoadError(
            STDIN, "standard input is a terminal: pipe the file in (`cat client.pem | ... -`)"
        )
    data = stream.buffer.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise BundleLoadError(
            STDIN, f"more than {MAX_FILE_BYTES // (1024 * 1024)} MiB on standard input"
        )
    return data


def _java_keystore(name: str, data: bytes) -> BundleLoadError | None:
    """A JKS/JCEKS keystore: one line saying how to convert it (cryptography cannot read it)."""
    kind = _JAVA_KEYSTORES.get(data[:4])
    if kind is None:
        return None
    stem = Path(name).stem if name != STDIN else "keystore"
    return BundleLoadError(
        name,
        f"a Java keystore ({kind}): convert it with `keytool -importkeystore -srckeystore "
        f"{name} -destkeystore {stem}.p12 -deststoretype PKCS12`, then use {stem}.p12",
    )


def _read(path: Path) -> bytes:
    if str(path) == STDIN:
        return _read_stdin()
    try:
        return read_regular_file(path, limit=MAX_FILE_BYTES, what="identity file")
    except FileReadError as exc:
        raise BundleLoadError(exc.path, exc.reason) from exc


def _usable(path: str, cert: x509.Certificate, where: str) -> x509.Certificate:
    """``cert``, or a load error that says what cannot be read from it."""
    problems = unreadable(cert)
    if problems:
        raise BundleLoadError(path, f"{where} cannot be used: {'; '.join(problems)}")
    return cert


def _looks_like_pkcs12(data: bytes) -> bool:
    """PFX ::= SEQUENCE { version INTEGER (3), authSafe ContentInfo, ... } (RFC 7292 4)."""
    if len(data) < 8 or data[0] != 0x30:
        return False
    length_byte = data[1]
    offset = 2 if length_byte < 0x80 else 2 + (length_byte & 0x7F)
    return data[offset : offset + 4] == b"\x02\x01\x03\x30"


def _usable_password(path: str, secret: bytes) -> bytes:
    """Refuse a password no bundle can have before it reaches the library.

    A NUL byte makes cryptography's PKCS#12 loader panic (and its panic text
    spells the password out byte by byte), so it is stopped here.
    """
    if b"\x00" in secret:
        raise PasswordError(
            path,
            "the password contains a NUL byte, which no password can; "
            "is the password file the right one (a text file with the password on its first line)?",
            needed=False,
        )
    return secret


def _der_of(pem_block: bytes) -> bytes:
    """The DER inside one PEM block (its header lines skipped); b"" if it is not base64."""
    lines = [line for line in pem_block.splitlines() if line and b":" not in line]
    try:
        return binascii.a2b_base64(b"".join(lines[1:-1]))
    except binascii.Error:
        return b""


def _refuse_excessive_work(path: str, der: bytes, what: str) -> None:
    """Refuse a file whose password-based crypto would run for minutes (see ``kdfcost``)."""
    from mtls_doctor.kdfcost import excessive_work

    why = excessive_work(der)
    if why is not None:
        raise BundleLoadError(
            path,
            f"refusing this {what}: {why}; a hostile or damaged file? "
            "Export it again with the exporting tool's default settings",
        )


def _load_key(path: str, block: bytes, pem: bool, password: PasswordSource) -> PrivateKey:
    """Load one private key, asking for a password only when it is encrypted."""
    load = serialization.load_pem_private_key if pem else serialization.load_der_private_key
    try:
        return load(block, None)
    except TypeError:
        pass  # encrypted: needs a password
    except ValueError as exc:
        key = _through_openssl(block, pem, None)
        if key is None:
            raise BundleLoadError(path, "private key is corrupt or of an unsupported type") from exc
        return key
    except Exception as exc:  # UnsupportedAlgorithm
        raise BundleLoadError(path, "private key uses an unsupported algorithm") from exc
    secret = password(path)
    if secret is None:
        raise PasswordError(
            path,
            "the private key is encrypted and no password was given "
            "(use --password-file FILE or --password-env VAR)",
            needed=True,
        )
    _refuse_excessive_work(path, _der_of(block) if pem else block, "encrypted private key")
    usable = _usable_password(path, secret)
    try:
        return load(block, usable)
    except (ValueError, TypeError) as exc:
        key = _through_openssl(block, pem, usable)
        if key is None:
            raise PasswordError(
                path, "wrong password for the encrypted private key", needed=False
            ) from exc
        return key


def _through_openssl(block: bytes, pem: bool, secret: bytes | None) -> PrivateKey | None:
    """The key as OpenSSL's own decoder reads it, re-encoded canonically; None if it cannot.

    cryptography's parser is stricter than OpenSSL's: it refuses an EC private
    key whose scalar carries a leading zero byte (33 bytes for P-256), which
    GnuTLS ``certtool`` writes for about half of its keys and which OpenSSL,
    curl and Go use without complaint. OpenSSL reads it and writes it back in
    the canonical form cryptography loads.
    """
    from OpenSSL import crypto

    kind = crypto.FILETYPE_PEM if pem else crypto.FILETYPE_ASN1
    try:
        loaded = crypto.load_privatekey(kind, block, secret if secret is not None else b"")
        return loaded.to_cryptography_key()
    except (crypto.Error, ValueError, TypeError):
        return None


def _load_pkcs12(path: str, data: bytes, password: PasswordSource) -> _Material:
    def attempt(secret: bytes | None) -> Any:
        try:
            return pkcs12.load_key_and_certificates(data, secret)
        except ValueError:
            return None
        except Exception as exc:  # UnsupportedAlgorithm: an exotic PBE scheme
            raise BundleLoadError(
                path, "PKCS#12 bundle uses an encryption algorithm that cannot be read"
            ) from exc

    _refuse_excessive_work(path, data, "PKCS#12 bundle")
    loaded = attempt(None) or attempt(b"")
    if loaded is None:
        secret = password(path)
        if secret is None:
            raise PasswordError(
                path,
                "this PKCS#12 bundle is protected by a password and none was given "
                "(use --password-file FILE or --password-env VAR, or run in a terminal "
                "to be prompted)",
                needed=True,
            )
        loaded = attempt(_usable_password(path, secret))
        if loaded is None:
            raise PasswordError(
                path,
                "wrong password for this PKCS#12 bundle (or the file is damaged)",
                needed=False,
            )
    key, cert, extra = loaded
    for number, item in enumerate([cert, *extra] if cert is not None else extra, start=1):
        _usable(path, item, f"certificate {number} of the bundle")
    material = _Material(path=path, format="pkcs12", leaf_hint=cert)
    if cert is not None:
        material.certs.append(cert)
    material.certs.extend(extra)
    if key is not None:
        material.keys.append(key)
    return material


def _load_pem(path: str, data: bytes, password: PasswordSource) -> _Material:
    material = _Material(path=path, format="pem")
    scan = scan_pem(data)
    if scan.unterminated:
        raise BundleLoadError(
            path, "truncated PEM: a -----BEGIN line has no matching -----END line"
        )
    for number, block in enumerate(scan.blocks, start=1):
        label, text = block.label, block.text
        name = label.decode()
        try:
            if label in _CERT_LABELS:
                material.certs.append(
                    _usable(path, x509.load_pem_x509_certificate(text), f"PEM block {number}")
                )
            elif label in _KEY_LABELS:
                material.keys.append(_load_key(path, text, True, password))
            elif label in _PKCS7_LABELS:
                # Imported for a .p7b only: PKCS#7 brings email.policy (~5 ms).
                from cryptography.hazmat.primitives.serialization import pkcs7

                material.certs.extend(pkcs7.load_pem_pkcs7_certificates(text))
        except InputError:
            raise
        except ValueError as exc:
            raise BundleLoadError(
                path, f"PEM block {number} ({name}) is corrupt: its base64 or DER is broken"
            ) from exc
    if not material.certs and not material.keys:
        raise BundleLoadError(path, "PEM file holds no certificate and no private key")
    return material


def _load_der(path: str, data: bytes, password: PasswordSource) -> _Material:
    if _looks_like_pkcs12(data):
        return _load_pkcs12(path, data, password)
    try:
        certificate = x509.load_der_x509_certificate(data)
    except ValueError:
        pass
    else:
        return _Material(
            path=path, format="der", certs=[_usable(path, certificate, "the certificate")]
        )
    from cryptography.hazmat.primitives.serialization import pkcs7

    try:
        return _Material(path=path, format="pkcs7", certs=pkcs7.load_der_pkcs7_certificates(data))
    except ValueError:
        pass
    except Exception:  # an unsupported PKCS#7 content type
        pass
    try:
        return _Material(path=path, format="der", keys=[_load_key(path, data, False, password)])
    except PasswordError:
        raise
    except InputError:
        pass
    raise BundleLoadError(
        path, "DER data that is not a certificate, a private key, PKCS#7 or PKCS#12"
    )


def load_material(path: Path, password: PasswordSource) -> _Material:
    """Read one file, whatever its format."""
    name = str(path)
    data = _read(path)
    if not data.strip():
        if name == STDIN:
            raise BundleLoadError("standard input", "it is empty (nothing was piped in)")
        raise BundleLoadError(name, "file is empty")
    if b"-----BEGIN " in data:
        return _load_pem(name, data, password)
    if data[:1] == b"\x30":
        return _load_der(name, data, password)
    keystore = _java_keystore(name, data)
    if keystore is not None:
        raise keystore
    raise BundleLoadError(
        name, "unknown format: not PEM, DER or PKCS#12 (is this a certificate file?)"
    )


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


def _leaves(material: _Material, issuers: _Issuers) -> list[x509.Certificate]:
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

    material: _Material
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
    materials: Sequence[_Material], pool: _KeyPool, *, in_directory: bool, result: LoadResult
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
    materials: list[tuple[_Material, bool]] = []
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
