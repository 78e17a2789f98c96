"""Adapter: one identity file (or standard input) → the certificates and keys it holds.

Reads PEM (any mix of certificates and keys, PKCS#8 or traditional, encrypted
or not), DER certificates and keys, PKCS#7 certificate bags and PKCS#12
(``.p12``/``.pfx``, legacy RC2/3DES included). The format is sniffed from
the content, never from the extension. Parsing is ``cryptography``'s; this
module only decides which parser a file needs, asks for a password when a
key or bundle is encrypted, and turns every refusal into one line. Making
identities out of what the files hold is ``bundle.py``'s job.

Nothing here ever puts a password or key material into a message.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from mtls_doctor.errors import BundleLoadError, InputError, PasswordError
from mtls_doctor.files import FileReadError, read_regular_file
from mtls_doctor.pem import scan_pem
from mtls_doctor.x509facts import unreadable

__all__ = [
    "MAX_FILE_BYTES",
    "STDIN",
    "Material",
    "PasswordSource",
    "PrivateKey",
    "load_material",
    "no_password",
]

#: No client identity file is anywhere near this; larger input is refused unread.
MAX_FILE_BYTES = 10 * 1024 * 1024

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


@dataclass(slots=True)
class Material:
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


def _load_pkcs12(path: str, data: bytes, password: PasswordSource) -> Material:
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
    material = Material(path=path, format="pkcs12", leaf_hint=cert)
    if cert is not None:
        material.certs.append(cert)
    material.certs.extend(extra)
    if key is not None:
        material.keys.append(key)
    return material


def _load_pem(path: str, data: bytes, password: PasswordSource) -> Material:
    material = Material(path=path, format="pem")
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


def _load_der(path: str, data: bytes, password: PasswordSource) -> Material:
    if _looks_like_pkcs12(data):
        return _load_pkcs12(path, data, password)
    try:
        certificate = x509.load_der_x509_certificate(data)
    except ValueError:
        pass
    else:
        return Material(
            path=path, format="der", certs=[_usable(path, certificate, "the certificate")]
        )
    from cryptography.hazmat.primitives.serialization import pkcs7

    try:
        return Material(path=path, format="pkcs7", certs=pkcs7.load_der_pkcs7_certificates(data))
    except ValueError:
        pass
    except Exception:  # an unsupported PKCS#7 content type
        pass
    try:
        return Material(path=path, format="der", keys=[_load_key(path, data, False, password)])
    except PasswordError:
        raise
    except InputError:
        pass
    raise BundleLoadError(
        path, "DER data that is not a certificate, a private key, PKCS#7 or PKCS#12"
    )


def load_material(path: Path, password: PasswordSource) -> Material:
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
