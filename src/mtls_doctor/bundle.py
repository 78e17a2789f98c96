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

import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12

from mtls_doctor.errors import BundleLoadError, InputError, PasswordError
from mtls_doctor.files import FileReadError, read_regular_file
from mtls_doctor.model import IdentityFacts, LoadProblem
from mtls_doctor.x509facts import cert_facts, is_issued_by, spki_sha256

#: No client identity file is anywhere near this; larger input is refused unread.
MAX_FILE_BYTES = 10 * 1024 * 1024
#: A directory scan stops after this many files (a home directory by mistake).
MAX_DIRECTORY_FILES = 2000

#: ``path -> password``; returns None when no password is available.
PasswordSource = Callable[[str], bytes | None]

PrivateKey = Any  # cryptography's PrivateKeyTypes; kept opaque on purpose

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL)
_PEM_BEGIN = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----")
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
    material = _Material(path=path, format="pkcs12", leaf_hint=cert)
    if cert is not None:
        material.certs.append(cert)
    material.certs.extend(extra)
    if key is not None:
        material.keys.append(key)
    return material


def _load_pem(path: str, data: bytes, password: PasswordSource) -> _Material:
    material = _Material(path=path, format="pem")
    blocks = list(_PEM_BLOCK.finditer(data))
    begins = len(_PEM_BEGIN.findall(data))
    if begins > len(blocks):
        raise BundleLoadError(
            path, "truncated PEM: a -----BEGIN line has no matching -----END line"
        )
    for number, match in enumerate(blocks, start=1):
        label, text = match.group(1), match.group(0)
        name = label.decode()
        try:
            if label in _CERT_LABELS:
                material.certs.append(x509.load_pem_x509_certificate(text))
            elif label in _KEY_LABELS:
                material.keys.append(_load_key(path, text, True, password))
            elif label in _PKCS7_LABELS:
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
        return _Material(path=path, format="der", certs=[x509.load_der_x509_certificate(data)])
    except ValueError:
        pass
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


def _leaves(material: _Material) -> list[x509.Certificate]:
    """Certificates that issue no other certificate of the same file."""
    if material.leaf_hint is not None:
        return [material.leaf_hint]
    certs = material.certs
    return [
        cert
        for cert in certs
        if not any(
            other is not cert and other.issuer == cert.subject and is_issued_by(other, cert)
            for other in certs
        )
    ]


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except (x509.ExtensionNotFound, ValueError):
        return False


def _issuing_path(
    leaf: x509.Certificate, pool: Sequence[x509.Certificate]
) -> list[x509.Certificate]:
    path: list[x509.Certificate] = []
    current = leaf
    remaining = [cert for cert in pool if cert is not leaf]
    while current.subject != current.issuer or not is_issued_by(current, current):
        parent = next(
            (c for c in remaining if c.subject == current.issuer and is_issued_by(current, c)),
            None,
        )
        if parent is None:
            break
        path.append(parent)
        remaining.remove(parent)
        current = parent
    return path


def _build_identity(
    material: _Material,
    leaf: x509.Certificate,
    source: str,
    other_leaves: Sequence[x509.Certificate],
    key: PrivateKey | None,
    key_matches: bool | None,
) -> LoadedIdentity:
    path = _issuing_path(leaf, material.certs)
    on_path = {id(leaf), *(id(c) for c in path)}
    others = {id(c) for c in other_leaves}
    unrelated = [c for c in material.certs if id(c) not in on_path and id(c) not in others]
    in_order: bool | None = None
    if material.format == "pem":
        positions = [next(i for i, c in enumerate(material.certs) if c is x) for x in [leaf, *path]]
        in_order = positions == sorted(positions)
    chain = (*path, *unrelated)
    facts = IdentityFacts(
        source=source,
        format=material.format,
        certificate=cert_facts(leaf),
        chain=tuple(cert_facts(c) for c in chain),
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
        leaves = _leaves(material) if material.certs else []
        if in_directory:
            # A CA certificate without its key, in a directory, is chain material.
            keyed = {id(c) for c in leaves if spki_sha256(c.public_key()) in pool.keys}
            ca_only = [c for c in leaves if _is_ca(c) and id(c) not in keyed]
            result.ca_certificates.extend(ca_only)
            if len(ca_only) == len(leaves):
                result.ca_certificates.extend(
                    c for c in material.certs if not any(c is x for x in ca_only)
                )
                continue
            leaves = [c for c in leaves if not any(c is x for x in ca_only)]
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
            others = [c for c in leaves if c is not leaf]
            result.identities.append(_build_identity(material, leaf, source, others, key, matches))


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
